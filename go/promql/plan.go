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
}

func (m Member) labelValue(name string) string {
	if name == clusterLabel {
		return m.Name
	}
	return m.Region
}

// promqlParser accepts what a stock Prometheus accepts: no experimental functions or modifiers.
var promqlParser = parser.NewParser(parser.Options{})

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
// the topology matchers go (they hold for every series there), and when nothing else would
// select anything, a match-all on the name keeps the selector valid.
func memberMatchers(ms []*labels.Matcher) []*labels.Matcher {
	out := make([]*labels.Matcher, 0, len(ms))
	selective := false
	for _, lm := range ms {
		if isTopologyLabel(lm.Name) {
			continue
		}
		out = append(out, lm)
		if !lm.Matches("") {
			selective = true
		}
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

// memberQuery rewrites a partitionable query for one member: topology matchers resolved against
// the member, and every series stamped with the member's cluster and region where it enters the
// query, so the member computes exactly what one server holding every cluster would for its
// series (labels kept or dropped by aggregations and vector matching included). Returns "" when
// no selector of the query can match the member: a partitionable query then has nothing there.
func memberQuery(query string, m Member) (string, error) {
	expr, err := promqlParser.ParseExpr(query)
	if err != nil {
		return "", err
	}
	asked := false
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		if vs, ok := node.(*parser.VectorSelector); ok {
			if memberMatches(vs.LabelMatchers, m) {
				vs.LabelMatchers = memberMatchers(vs.LabelMatchers)
				asked = true
			} else {
				vs.LabelMatchers = excludedMatchers()
			}
			vs.Name = ""
		}
		return nil
	})
	if !asked {
		return "", nil
	}
	if kept, ok := stampsAtTop(expr); ok {
		return stampLabels(expr, m, kept).String(), nil
	}
	return stamp(expr, m).String(), nil
}

// stampsAtTop says whether stamping the result of a top-level aggregation is the same as stamping
// every series where it enters the query, and which topology labels that aggregation keeps. It is
// when the top is an aggregation that drops every label it does not group by, and nothing inside
// reads or writes a topology label: inside one member those labels are constant, so grouping or
// matching on them changes nothing, and only the kept ones appear in the union's answer. Stamping
// once per output series instead of once per input series at every step is what makes range
// queries cheap on the members.
func stampsAtTop(expr parser.Expr) ([]string, bool) {
	top, ok := unparen(expr).(*parser.AggregateExpr)
	if !ok || top.Without {
		return nil, false
	}
	switch top.Op {
	case parser.SUM, parser.MIN, parser.MAX, parser.AVG, parser.COUNT, parser.GROUP,
		parser.STDDEV, parser.STDVAR, parser.QUANTILE:
	default:
		// topk, bottomk, limitk… keep their input series' labels; count_values writes one.
		return nil, false
	}
	safe := true
	parser.Inspect(top.Expr, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.StringLiteral:
			if isTopologyLabel(n.Val) {
				safe = false
			}
		case *parser.AggregateExpr:
			if n.Op == parser.COUNT_VALUES || n.Op == parser.TOPK || n.Op == parser.BOTTOMK || n.Op == parser.LIMITK || n.Op == parser.LIMIT_RATIO {
				safe = false
			}
		case *parser.BinaryExpr:
			if n.VectorMatching != nil && len(n.VectorMatching.Include) > 0 {
				safe = false
			}
		case *parser.Call:
			switch n.Func.Name {
			case "label_replace", "label_join", "info":
				safe = false
			}
		}
		return nil
	})
	if !safe {
		return nil, false
	}
	var kept []string
	for _, l := range []string{clusterLabel, regionLabel} {
		if slices.Contains(top.Grouping, l) {
			kept = append(kept, l)
		}
	}
	return kept, true
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

func stampCall(e parser.Expr, m Member) parser.Expr {
	return stampLabels(e, m, []string{clusterLabel, regionLabel})
}

// stampLabels wraps e in one label_replace per label, setting it to the member's value.
func stampLabels(e parser.Expr, m Member, names []string) parser.Expr {
	for _, l := range names {
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
