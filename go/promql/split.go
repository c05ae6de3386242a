// Partial pushdown for centrally evaluated queries: every largest part of the query that is
// itself partitionable by cluster (say `rate(x[5m])` in `sum(rate(x[5m]))`) runs on the members,
// and the hub's engine evaluates the rest over those results instead of over raw samples. The
// members then send one point per series and step instead of every raw sample in the windows,
// and they apply their own staleness markers.
package main

import (
	"slices"
	"strconv"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// subLabel marks the placeholder selector that stands for a pushed-down part in the rewritten
// query; storage answers it with that part's results (the label itself never reaches a series).
const subLabel = "__meridian_sub__"

// part is a pushed-down part of a query: what the members run, and whether the hub stamps their
// answers (with the topology labels kept) or the members stamp where series enter.
type part struct {
	query    string
	hub      bool
	kept     topo
	workload bool // the answers keep app and revision: the hub resolves them from namespace and pod
}

type splitter struct{ subs []part }

// split returns the query with its pushed-down parts replaced by placeholders, and those parts.
// Parts are taken only where they are evaluated at the query's own steps: never inside a
// subquery (evaluated at the subquery's steps), and never as the argument of absent() or
// absent_over_time(), whose result is built from their argument's matchers.
func split(expr parser.Expr) (parser.Expr, []part) {
	s := &splitter{}
	return s.rewrite(expr, false), s.subs
}

func (s *splitter) placeholder(e parser.Expr) parser.Expr {
	id := len(s.subs)
	kept, hub := hubStamps(e)
	w, _ := workloadOf(e)
	s.subs = append(s.subs, part{query: e.String(), hub: hub, kept: kept, workload: w.app})
	return &parser.VectorSelector{LabelMatchers: []*labels.Matcher{
		labels.MustNewMatcher(labels.MatchEqual, subLabel, strconv.Itoa(id)),
	}}
}

// twoStage is how an aggregation over clusters combines per-cluster aggregates of the same
// kind: sums of sums, sums of counts, minima of minima, maxima of maxima, groups of groups, the
// top k of each cluster's top k (every series of the union's top k is in its own cluster's).
var twoStage = map[parser.ItemType]parser.ItemType{
	parser.SUM:     parser.SUM,
	parser.COUNT:   parser.SUM,
	parser.MIN:     parser.MIN,
	parser.MAX:     parser.MAX,
	parser.GROUP:   parser.GROUP,
	parser.TOPK:    parser.TOPK,
	parser.BOTTOMK: parser.BOTTOMK,
}

// perCluster is the aggregation n computed per cluster: its grouping plus cluster and region.
func perCluster(n *parser.AggregateExpr, op parser.ItemType) *parser.AggregateExpr {
	inner := &parser.AggregateExpr{Op: op, Expr: n.Expr, Param: n.Param, Without: n.Without}
	if n.Without {
		for _, l := range n.Grouping {
			if !isTopologyLabel(l) {
				inner.Grouping = append(inner.Grouping, l)
			}
		}
	} else {
		inner.Grouping = append([]string{}, n.Grouping...)
		for _, l := range []string{clusterLabel, regionLabel} {
			if !slices.Contains(inner.Grouping, l) {
				inner.Grouping = append(inner.Grouping, l)
			}
		}
	}
	return inner
}

// perClusterWorkloadSafe reports whether members can compute n per cluster: it must not group by
// app or revision, nor merge series of different apps (see workloadOf).
func perClusterWorkloadSafe(n *parser.AggregateExpr) bool {
	if readsWorkload(n) != "" {
		return false
	}
	_, why := workloadOf(n)
	return why == ""
}

func (s *splitter) rewrite(e parser.Expr, keep bool) parser.Expr {
	if keep {
		return s.descend(e, keep)
	}
	if e.Type() == parser.ValueTypeVector && whyCentral(e) == "" {
		return s.placeholder(e)
	}
	n, ok := e.(*parser.AggregateExpr)
	if !ok || whyCentral(n.Expr) != "" || (n.Param != nil && hasSelectorIn(n.Param)) || !perClusterWorkloadSafe(n) {
		return s.descend(e, keep)
	}
	// sum(rate(x[5m])) runs as sum by (cluster, region) (rate(x[5m])) on the members and a sum of
	// those in the hub, so each member sends one series per group instead of one per series.
	// Only the last bits of a float sum can differ from one server's sum: the order of additions.
	if outer, ok := twoStage[n.Op]; ok {
		n.Expr = s.placeholder(perCluster(n, n.Op))
		n.Op = outer
		return n
	}
	// avg is the sum of the per-cluster sums over the sum of the per-cluster counts.
	if n.Op == parser.AVG {
		sum := func(inner parser.ItemType) parser.Expr {
			return &parser.AggregateExpr{
				Op: parser.SUM, Grouping: n.Grouping, Without: n.Without,
				Expr: s.placeholder(perCluster(n, inner)),
			}
		}
		return &parser.ParenExpr{Expr: &parser.BinaryExpr{
			Op: parser.DIV, LHS: sum(parser.SUM), RHS: sum(parser.COUNT),
			VectorMatching: &parser.VectorMatching{Card: parser.CardOneToOne},
		}}
	}
	return s.descend(e, keep)
}

func (s *splitter) descend(e parser.Expr, keep bool) parser.Expr {
	switch n := e.(type) {
	case *parser.ParenExpr:
		n.Expr = s.rewrite(n.Expr, keep)
	case *parser.UnaryExpr:
		n.Expr = s.rewrite(n.Expr, keep)
	case *parser.BinaryExpr:
		n.LHS = s.rewrite(n.LHS, keep)
		n.RHS = s.rewrite(n.RHS, keep)
	case *parser.AggregateExpr:
		n.Expr = s.rewrite(n.Expr, keep)
		if n.Param != nil {
			n.Param = s.rewrite(n.Param, keep)
		}
	case *parser.Call:
		absent := n.Func.Name == "absent" || n.Func.Name == "absent_over_time"
		for i, a := range n.Args {
			n.Args[i] = s.rewrite(a, keep || absent)
		}
	case *parser.SubqueryExpr:
		n.Expr = s.rewrite(n.Expr, true)
	}
	return e
}

// subID returns which pushed-down part a selector stands for, if it is a placeholder.
func subID(ms []*labels.Matcher) (int, bool) {
	for _, m := range ms {
		if m.Name == subLabel && m.Type == labels.MatchEqual {
			id, err := strconv.Atoi(m.Value)
			return id, err == nil
		}
	}
	return 0, false
}
