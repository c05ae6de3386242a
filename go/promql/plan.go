// Query planning for the fleet: parse with the real PromQL parser, decide whether a query can be
// answered by running it on every member and concatenating the answers (pushdown), and if so
// write the query each member runs. Everything here is pure and runs in the hub as WebAssembly.
package main

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// The labels Meridian adds to every series: a member's own series do not carry them.
const (
	clusterLabel = "cluster"
	regionLabel  = "region"
)

// Member is one cluster as the planner sees it.
type Member struct {
	Name   string `json:"name"`
	Region string `json:"region"`
	// External is the member's external labels as name, value pairs, where known: its remote
	// read adds them to every series.
	External []string `json:"external,omitempty"`
}

func (m Member) labelValue(name string) string {
	if name == clusterLabel {
		return m.Name
	}
	return m.Region
}

// promqlParser accepts what a stock Prometheus accepts: no experimental functions or modifiers.
// It parses each text once (up to the kept number) and hands out copies of the tree.
var promqlParser = reusingParser{parser.NewParser(parser.Options{}), newLRU[parser.Expr](256)}

// isTopologyLabel reports whether a matcher is on a label only Meridian knows.
func isTopologyLabel(name string) bool { return name == clusterLabel || name == regionLabel }

// memberMatches reports whether every cluster/region matcher of a selector accepts the member.
func memberMatches(ms []*labels.Matcher, m Member) bool {
	for _, lm := range ms {
		if isTopologyLabel(lm.Name) && !lm.Matches(m.labelValue(lm.Name)) {
			return false
		}
	}
	return true
}

// memberMatchers are the matchers to send to a member whose topology labels the selector accepts:
// the topology matchers go (they hold for every series there), so do app and revision matchers
// (the hub applies them after enrichment; one that needs a value needs a pod), and when nothing
// else would select anything, a match-all on the name keeps the selector valid.
func memberMatchers(ms []*labels.Matcher) []*labels.Matcher {
	out := make([]*labels.Matcher, 0, len(ms)+1)
	selective, needsPod, hasPod := false, false, false
	for _, lm := range ms {
		// Members know neither their topology nor Meridian's workload labels: the hub applies those.
		if isTopologyLabel(lm.Name) || isWorkloadLabel(lm.Name) {
			// Only series of a pod can carry app or revision: one of them must be there.
			needsPod = needsPod || (isWorkloadLabel(lm.Name) && !lm.Matches(""))
			continue
		}
		out = append(out, lm)
		hasPod = hasPod || (lm.Name == podLabel && lm.Type == labels.MatchNotEqual && lm.Value == "")
		if !lm.Matches("") {
			selective = true
		}
	}
	if needsPod && !hasPod {
		out = append(out, labels.MustNewMatcher(labels.MatchNotEqual, podLabel, ""))
		selective = true
	}
	if !selective {
		out = append(out, labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".+"))
	}
	return out
}

// excludedMatchers select nothing on a member: its series never carry this label.
func excludedMatchers() []*labels.Matcher {
	return []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "__meridian_excluded__", "true")}
}

// whyCentral returns why the query cannot be partitioned by cluster, or "" when it can: each
// member's answer is then exactly the union's answer restricted to that member's series.
func whyCentral(expr parser.Expr) string {
	switch expr.Type() {
	case parser.ValueTypeVector, parser.ValueTypeMatrix:
	default:
		return "the result is a " + string(expr.Type()) + ", not series"
	}
	reason := ""
	hasSelector := false
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		if reason != "" {
			return nil
		}
		switch n := node.(type) {
		case *parser.VectorSelector:
			hasSelector = true
		case *parser.AggregateExpr:
			keeps := slices.Contains(n.Grouping, clusterLabel) != n.Without
			if !keeps {
				reason = n.Op.String() + " merges series of different clusters"
			} else if n.Param != nil && hasSelectorIn(n.Param) {
				reason = n.Op.String() + " has a parameter computed from series"
			} else if s, ok := unparen(n.Param).(*parser.StringLiteral); ok && isTopologyLabel(s.Val) {
				reason = n.Op.String() + " writes the " + s.Val + " label"
			}
		case *parser.BinaryExpr:
			lv := n.LHS.Type() == parser.ValueTypeVector
			rv := n.RHS.Type() == parser.ValueTypeVector
			if lv && rv {
				vm := n.VectorMatching
				if vm != nil && slices.Contains(vm.MatchingLabels, clusterLabel) != vm.On {
					reason = "vector matching ignores the cluster label"
				}
			}
		case *parser.Call:
			switch n.Func.Name {
			case "absent", "absent_over_time", "scalar", "vector", "sort", "sort_desc",
				"sort_by_label", "sort_by_label_desc", "info":
				reason = n.Func.Name + "() depends on every cluster's series"
			case "label_replace", "label_join":
				if len(n.Args) > 1 {
					if s, ok := unparen(n.Args[1]).(*parser.StringLiteral); ok && isTopologyLabel(s.Val) {
						reason = n.Func.Name + "() writes the " + s.Val + " label"
					}
				}
			}
		}
		return nil
	})
	if reason == "" && !hasSelector {
		return "the query selects no series"
	}
	if reason == "" {
		reason = readsWorkload(expr)
	}
	if reason == "" {
		_, reason = workloadOf(expr)
	}
	return reason
}

func unparen(e parser.Expr) parser.Expr {
	for {
		p, ok := e.(*parser.ParenExpr)
		if !ok {
			return e
		}
		e = p.Expr
	}
}

func hasSelectorIn(e parser.Expr) bool {
	found := false
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		if _, ok := node.(*parser.VectorSelector); ok {
			found = true
		}
		return nil
	})
	return found
}

// memberQueries rewrites a partitionable query for each member, with its topology matchers
// resolved against the member. Where the hub can tell which topology labels every series of the
// union's answer carries (hubStamps), the member runs the query as if it had none (grouping and
// matching on them dropped: inside one cluster they are constant) and the returned stamp says
// what the hub sets on each series of the answer; otherwise every series is stamped with the
// member's cluster and region where it enters the query (stamp is nil). Either way the result is
// exactly what one server holding every cluster computes for this member's series. A member no
// selector of the query can match is left out: a partitionable query has nothing there. The
// query is parsed once when the hub stamps (only the selectors' matchers differ per member).
func memberQueries(query string, members []Member) ([]MemberQuery, error) {
	expr, err := promqlParser.ParseExpr(query)
	if err != nil {
		return nil, err
	}
	kept, hub := hubStamps(expr)
	if hub {
		stripTopology(expr)
	}
	stripWorkload(expr)
	var selectors []*parser.VectorSelector
	var original [][]*labels.Matcher
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		if vs, ok := node.(*parser.VectorSelector); ok {
			selectors = append(selectors, vs)
			original = append(original, vs.LabelMatchers)
			vs.Name = ""
		}
		return nil
	})
	out := []MemberQuery{}
	for i, m := range members {
		if !hub && i > 0 {
			// stamp() rewrites the tree: start again from the text.
			if expr, err = promqlParser.ParseExpr(query); err != nil {
				return nil, err
			}
			stripWorkload(expr)
			selectors = selectors[:0]
			parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
				if vs, ok := node.(*parser.VectorSelector); ok {
					selectors = append(selectors, vs)
					vs.Name = ""
				}
				return nil
			})
		}
		asked := false
		for j, vs := range selectors {
			if memberMatches(original[j], m) {
				vs.LabelMatchers = memberMatchers(original[j])
				asked = true
			} else {
				vs.LabelMatchers = excludedMatchers()
			}
		}
		if !asked {
			continue
		}
		if hub {
			out = append(out, MemberQuery{Member: m.Name, Query: expr.String(), Stamp: stampFor(kept, m)})
		} else {
			out = append(out, MemberQuery{Member: m.Name, Query: stamp(expr, m).String()})
		}
	}
	return out, nil
}

// topo is a set of topology labels.
type topo uint8

const (
	topoCluster topo = 1 << iota
	topoRegion
	topoBoth = topoCluster | topoRegion
)

func topoOf(names []string) topo {
	var t topo
	if slices.Contains(names, clusterLabel) {
		t |= topoCluster
	}
	if slices.Contains(names, regionLabel) {
		t |= topoRegion
	}
	return t
}

// stampFor is what the hub sets on a member's series: the kept topology labels with the
// member's values (any other topology label a series carries is removed).
func stampFor(kept topo, m Member) map[string]string {
	out := map[string]string{}
	if kept&topoCluster != 0 {
		out[clusterLabel] = m.Name
	}
	if kept&topoRegion != 0 {
		out[regionLabel] = m.Region
	}
	return out
}

// hubStamps says whether the hub can stamp the answer of a partitionable query instead of the
// member stamping every series where it enters the query, and which topology labels every output
// series carries on one server holding every cluster. It can when nothing in the query reads or
// writes a topology label (only label_replace / label_join / count_values / info could, and any
// string naming one is taken as doing so): inside one member those labels are constant, so
// grouping or matching on them, or not, selects and combines the same series, and only the
// labels they end up with differ. Stamping once per output series instead of on every input
// series at every step is what makes pushed-down queries cheap on the members.
func hubStamps(expr parser.Expr) (topo, bool) {
	safe := true
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		if s, ok := node.(*parser.StringLiteral); ok && isTopologyLabel(s.Val) {
			safe = false
		}
		return nil
	})
	if !safe {
		return 0, false
	}
	return outTopology(expr)
}

// labelKeeping are the functions whose output series carry their one series argument's labels
// (less the metric name, or le for histogram_quantile).
var labelKeeping = map[string]bool{}

func init() {
	for _, f := range []string{
		"abs", "acos", "acosh", "asin", "asinh", "atan", "atanh", "avg_over_time", "ceil", "changes",
		"clamp", "clamp_max", "clamp_min", "cos", "cosh", "count_over_time", "days_in_month",
		"day_of_month", "day_of_week", "day_of_year", "deg", "delta", "deriv", "exp",
		"first_over_time", "floor", "histogram_avg", "histogram_count", "histogram_sum",
		"histogram_stddev", "histogram_stdvar", "histogram_fraction", "histogram_quantile",
		"double_exponential_smoothing", "hour", "idelta", "increase", "irate", "label_replace",
		"label_join", "last_over_time", "ln", "log2", "log10", "mad_over_time", "max_over_time",
		"min_over_time", "minute", "month", "predict_linear", "present_over_time",
		"quantile_over_time", "rad", "rate", "resets", "round", "sgn", "sin", "sinh", "sqrt",
		"stddev_over_time", "stdvar_over_time", "sum_over_time", "tan", "tanh", "timestamp", "year",
	} {
		labelKeeping[f] = true
	}
}

func isSeries(e parser.Expr) bool {
	return e.Type() == parser.ValueTypeVector || e.Type() == parser.ValueTypeMatrix
}

// outTopology returns which topology labels every series e yields carries on one server holding
// every cluster (where every stored series has both), following Prometheus' rules for the labels
// of aggregations and binary operations; false when it cannot tell.
func outTopology(e parser.Expr) (topo, bool) {
	switch n := e.(type) {
	case *parser.VectorSelector, *parser.MatrixSelector:
		return topoBoth, true
	case *parser.NumberLiteral, *parser.StringLiteral:
		return 0, true
	case *parser.ParenExpr:
		return outTopology(n.Expr)
	case *parser.UnaryExpr:
		return outTopology(n.Expr)
	case *parser.SubqueryExpr:
		return outTopology(n.Expr)
	case *parser.Call:
		if !labelKeeping[n.Func.Name] {
			return 0, false
		}
		var series []parser.Expr
		for _, a := range n.Args {
			if isSeries(a) {
				series = append(series, a)
			}
		}
		if len(series) != 1 {
			return 0, false // hour() and friends without an argument read vector(time())
		}
		return outTopology(series[0])
	case *parser.AggregateExpr:
		if n.Param != nil && hasSelectorIn(n.Param) {
			return 0, false
		}
		in, ok := outTopology(n.Expr)
		if !ok {
			return 0, false
		}
		switch n.Op {
		case parser.TOPK, parser.BOTTOMK:
			return in, true // they keep their input series' labels
		case parser.LIMITK, parser.LIMIT_RATIO:
			return 0, false // they pick series by the hash of their labels
		}
		if n.Without {
			return in &^ topoOf(n.Grouping), true
		}
		return in & topoOf(n.Grouping), true
	case *parser.BinaryExpr:
		lv, rv := isSeries(n.LHS), isSeries(n.RHS)
		l, lok := outTopology(n.LHS)
		r, rok := outTopology(n.RHS)
		if !lok || !rok {
			return 0, false
		}
		switch {
		case lv && !rv:
			return l, true
		case rv && !lv:
			return r, true
		case !lv && !rv:
			return 0, true
		}
		vm := n.VectorMatching
		if vm == nil {
			return 0, false
		}
		switch n.Op {
		case parser.LAND, parser.LUNLESS:
			return l, true
		case parser.LOR:
			if l != r {
				return 0, false
			}
			return l, true
		}
		// Prometheus' resultMetric: one-to-one keeps the on() labels or drops the ignoring()
		// ones; group_x keeps the many side's labels and takes the included ones from the one side.
		switch vm.Card {
		case parser.CardOneToOne:
			if vm.On {
				return l & topoOf(vm.MatchingLabels), true
			}
			return l &^ topoOf(vm.MatchingLabels), true
		case parser.CardManyToOne, parser.CardOneToMany:
			many, one := l, r
			if vm.Card == parser.CardOneToMany {
				many, one = r, l
			}
			inc := topoOf(vm.Include)
			return many&^inc | one&inc, true
		}
		return 0, false
	default:
		return 0, false
	}
}

// stripTopology makes a member compute the union's answer for its series with no topology label
// involved: grouping and on() matching leave them out, without() and ignoring() add them (a
// member's own series might carry a cluster label, which the union's replaced), group_x does not
// copy them. The hub then stamps the labels the union's answer keeps.
func stripTopology(expr parser.Expr) {
	drop := func(ls []string) []string {
		return slices.DeleteFunc(slices.Clone(ls), isTopologyLabel)
	}
	add := func(ls []string) []string {
		out := drop(ls)
		return append(out, clusterLabel, regionLabel)
	}
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.AggregateExpr:
			if n.Without {
				n.Grouping = add(n.Grouping)
			} else {
				n.Grouping = drop(n.Grouping)
			}
		case *parser.BinaryExpr:
			vm := n.VectorMatching
			if vm == nil || !isSeries(n.LHS) || !isSeries(n.RHS) {
				return nil
			}
			if vm.On {
				vm.MatchingLabels = drop(vm.MatchingLabels)
			} else {
				vm.MatchingLabels = add(vm.MatchingLabels)
			}
			vm.Include = drop(vm.Include)
		}
		return nil
	})
}

// stamp wraps every instant-vector expression that reads series straight from storage (a
// selector, or a function over a range selector) in label_replace calls that add the member's
// cluster and region. A bare range selector at the top cannot be wrapped: the hub stamps those.
func stamp(e parser.Expr, m Member) parser.Expr {
	switch n := e.(type) {
	case *parser.VectorSelector:
		return stampCall(n, m)
	case *parser.MatrixSelector, *parser.NumberLiteral, *parser.StringLiteral:
		return e
	case *parser.ParenExpr:
		n.Expr = stamp(n.Expr, m)
		return n
	case *parser.UnaryExpr:
		n.Expr = stamp(n.Expr, m)
		return n
	case *parser.BinaryExpr:
		n.LHS = stamp(n.LHS, m)
		n.RHS = stamp(n.RHS, m)
		return n
	case *parser.AggregateExpr:
		n.Expr = stamp(n.Expr, m)
		return n
	case *parser.SubqueryExpr:
		n.Expr = stamp(n.Expr, m)
		return n
	case *parser.Call:
		readsRange := false
		for i, a := range n.Args {
			if _, ok := unparen(a).(*parser.MatrixSelector); ok {
				readsRange = true
				continue
			}
			n.Args[i] = stamp(a, m)
		}
		if readsRange && n.Type() == parser.ValueTypeVector {
			return stampCall(n, m)
		}
		return n
	default:
		return e
	}
}

var labelReplace = parser.Functions["label_replace"]

// stampCall wraps e in one label_replace per topology label, setting it to the member's value.
func stampCall(e parser.Expr, m Member) parser.Expr {
	for _, l := range []string{clusterLabel, regionLabel} {
		e = &parser.Call{Func: labelReplace, Args: parser.Expressions{
			e,
			&parser.StringLiteral{Val: l},
			&parser.StringLiteral{Val: m.labelValue(l)},
			&parser.StringLiteral{Val: ""},
			&parser.StringLiteral{Val: ""},
		}}
	}
	return e
}

// selectorFor writes the selector a member is asked for raw samples, or "" when the topology
// matchers exclude the member.
func selectorFor(ms []*labels.Matcher, m Member) string {
	if !memberMatches(ms, m) {
		return ""
	}
	return (&parser.VectorSelector{LabelMatchers: memberMatchers(ms)}).String()
}

// rangeSuffix is a PromQL range of at least 1 ms covering [start, end].
func rangeSuffix(start, end int64) string {
	d := max(end-start, 1)
	return "[" + strconv.FormatInt(d, 10) + "ms]"
}

// badData is a query the user must fix (HTTP 400 in the Prometheus API).
type badData struct{ msg string }

func (e badData) Error() string { return e.msg }

func parseQuery(q string) (parser.Expr, error) {
	expr, err := promqlParser.ParseExpr(q)
	if err != nil {
		return nil, badData{fmt.Sprintf("invalid parameter \"query\": %s", err)}
	}
	return expr, nil
}
