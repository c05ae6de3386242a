// The workload labels, `app` and `revision`: Meridian sets them on a series from the pod it
// describes (its cluster, `namespace` and `pod` labels), as resolved by the hub from the members'
// workloads, and removes any a member's own series carry. Unlike cluster and region they vary
// inside one member, so a query is pushed down only where the labels it keeps can be resolved
// again from each answer's namespace and pod, and nothing in it groups or matches by them
// without those; anything else is evaluated in the hub over enriched raw samples.
package main

import (
	"slices"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

const (
	appLabel       = "app"
	revisionLabel  = "revision"
	namespaceLabel = "namespace"
	podLabel       = "pod"
)

func isWorkloadLabel(name string) bool { return name == appLabel || name == revisionLabel }

// workload is what an expression's output series carry: app says they keep the workload labels
// their input series had in the union (wherever resolved), pod that they keep their input
// series' namespace and pod labels unchanged, so those labels can be resolved again from them.
type workload struct{ app, pod bool }

// readsWorkload names how a query reads app or revision ("" when it does not): a matcher, a
// grouping, a vector matching or any string naming one (label_replace, count_values, …).
func readsWorkload(expr parser.Expr) string {
	why := ""
	named := func(ls []string) bool { return slices.ContainsFunc(ls, isWorkloadLabel) }
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		if why != "" {
			return nil
		}
		switch n := node.(type) {
		case *parser.VectorSelector:
			for _, m := range n.LabelMatchers {
				if isWorkloadLabel(m.Name) {
					why = "the query selects by the " + m.Name + " label"
				}
			}
		case *parser.AggregateExpr:
			if named(n.Grouping) {
				why = n.Op.String() + " groups by the app or revision label"
			}
		case *parser.BinaryExpr:
			if vm := n.VectorMatching; vm != nil && (named(vm.MatchingLabels) || named(vm.Include)) {
				why = "vector matching names the app or revision label"
			}
		case *parser.StringLiteral:
			if isWorkloadLabel(n.Val) {
				why = "the query names the " + n.Val + " label"
			}
		}
		return nil
	})
	return why
}

// keepsPodKey reports whether a grouping or matching list keeps namespace and pod: by / on
// lists must name both, without / ignoring lists neither.
func keepsPodKey(ls []string, listed bool) bool {
	has := slices.Contains(ls, namespaceLabel) && slices.Contains(ls, podLabel)
	none := !slices.Contains(ls, namespaceLabel) && !slices.Contains(ls, podLabel)
	if listed {
		return has
	}
	return none
}

const mergesApps = "merges series of different apps (they carry app and revision but not namespace and pod)"

// workloadOf says what e's output carries, or why members cannot compute it without the workload
// labels (then it is evaluated in the hub over enriched series). Only called on queries that do
// not read app or revision.
func workloadOf(e parser.Expr) (workload, string) {
	w, why := workloadOf1(e)
	if why == "" && w.app && !w.pod {
		why = "the answer keeps app and revision but not the namespace and pod they are resolved from"
	}
	return w, why
}

func workloadOf1(e parser.Expr) (workload, string) {
	switch n := e.(type) {
	case *parser.VectorSelector, *parser.MatrixSelector:
		return workload{true, true}, ""
	case *parser.NumberLiteral, *parser.StringLiteral:
		return workload{}, ""
	case *parser.ParenExpr:
		return workloadOf(n.Expr)
	case *parser.UnaryExpr:
		return workloadOf(n.Expr)
	case *parser.SubqueryExpr:
		return workloadOf(n.Expr)
	case *parser.Call:
		var series []parser.Expr
		for _, a := range n.Args {
			if isSeries(a) {
				series = append(series, a)
			}
		}
		if len(series) == 0 {
			return workload{}, ""
		}
		if !labelKeeping[n.Func.Name] || len(series) != 1 {
			return workload{}, n.Func.Name + "() is not known to keep the app and revision labels"
		}
		in, why := workloadOf(series[0])
		if why != "" {
			return in, why
		}
		if n.Func.Name == "label_replace" || n.Func.Name == "label_join" {
			if s, ok := unparen(n.Args[1]).(*parser.StringLiteral); ok && (s.Val == namespaceLabel || s.Val == podLabel) {
				in.pod = false
			}
		}
		return in, ""
	case *parser.AggregateExpr:
		in, why := workloadOf(n.Expr)
		if why != "" {
			return in, why
		}
		// The union's groups include app and revision unless grouped by a list (which never
		// names them here): they must be resolvable from the group's namespace and pod.
		if n.Without && in.app && (!in.pod || !keepsPodKey(n.Grouping, false)) {
			return in, n.Op.String() + " " + mergesApps
		}
		switch n.Op {
		case parser.TOPK, parser.BOTTOMK, parser.LIMITK, parser.LIMIT_RATIO:
			return in, "" // they keep their input series' labels
		}
		if n.Without {
			return workload{in.app, in.pod && keepsPodKey(n.Grouping, false)}, ""
		}
		return workload{false, in.pod && keepsPodKey(n.Grouping, true)}, ""
	case *parser.BinaryExpr:
		lv, rv := isSeries(n.LHS), isSeries(n.RHS)
		l, why := workloadOf(n.LHS)
		if why != "" {
			return l, why
		}
		r, why := workloadOf(n.RHS)
		if why != "" {
			return r, why
		}
		switch {
		case lv && !rv:
			return l, ""
		case rv && !lv:
			return r, ""
		case !lv && !rv:
			return workload{}, ""
		}
		vm := n.VectorMatching
		if vm == nil {
			return workload{}, "binary operation without vector matching"
		}
		// ignoring() (or no modifier) matches on every other label, app and revision included.
		if !vm.On && (l.app || r.app) && (l != r || !l.pod || !keepsPodKey(vm.MatchingLabels, false)) {
			return l, "vector matching " + mergesApps
		}
		switch n.Op {
		case parser.LAND, parser.LUNLESS:
			return l, ""
		case parser.LOR:
			if l != r {
				return l, "or() of series with and without the app and revision labels"
			}
			return l, ""
		}
		switch vm.Card {
		case parser.CardOneToOne:
			if vm.On {
				return workload{false, l.pod && keepsPodKey(vm.MatchingLabels, true)}, ""
			}
			return workload{l.app, l.pod && keepsPodKey(vm.MatchingLabels, false)}, ""
		case parser.CardManyToOne, parser.CardOneToMany:
			many := l
			if vm.Card == parser.CardOneToMany {
				many = r
			}
			return workload{many.app, many.pod && keepsPodKey(vm.Include, false)}, ""
		}
		return workload{}, "unknown vector matching"
	default:
		return workload{}, "unknown expression"
	}
}

// stripWorkload makes a member leave its series' own app and revision labels out of every
// without() grouping and ignoring() matching: the union's are Meridian's, resolved from the
// namespace and pod the answer keeps, which the hub sets afterwards.
func stripWorkload(expr parser.Expr) {
	add := func(ls []string) []string {
		out := slices.DeleteFunc(slices.Clone(ls), isWorkloadLabel)
		return append(out, appLabel, revisionLabel)
	}
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.AggregateExpr:
			if n.Without {
				n.Grouping = add(n.Grouping)
			}
		case *parser.BinaryExpr:
			if vm := n.VectorMatching; vm != nil && !vm.On && isSeries(n.LHS) && isSeries(n.RHS) {
				vm.MatchingLabels = add(vm.MatchingLabels)
			}
		}
		return nil
	})
}

// resolveFunc returns the app and revision of a pod ("" when Meridian did not deploy it), and
// false when the hub knows no workload of that pod.
type resolveFunc func(cluster, namespace, pod string) (string, string, bool)

// enricher sets the workload labels on series of one evaluation, asking the hub once per pod.
type enricher struct {
	resolve resolveFunc
	seen    map[[3]string][2]string
}

func newEnricher(r resolveFunc) *enricher {
	return &enricher{resolve: r, seen: map[[3]string][2]string{}}
}

// enrich sets app and revision from l's namespace and pod in cluster when keep is true and the
// pod is known, and removes any other app and revision label.
func (e *enricher) enrich(l labels.Labels, cluster string, keep bool) labels.Labels {
	var app, rev string
	if keep && e.resolve != nil {
		ns, pod := l.Get(namespaceLabel), l.Get(podLabel)
		if pod != "" {
			k := [3]string{cluster, ns, pod}
			v, ok := e.seen[k]
			if !ok {
				if a, r, found := e.resolve(cluster, ns, pod); found {
					v = [2]string{a, r}
				}
				e.seen[k] = v
			}
			app, rev = v[0], v[1]
		}
	}
	if app == "" && rev == "" && !l.Has(appLabel) && !l.Has(revisionLabel) {
		return l
	}
	b := labels.NewBuilder(l)
	b.Set(appLabel, app) // an empty value deletes
	b.Set(revisionLabel, rev)
	return b.Labels()
}
