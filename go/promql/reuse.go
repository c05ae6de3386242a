// What the hub's engine keeps between calls so a repeated query costs less: the prepared form
// of a central plan (decoded once, not on every evaluation) and parsed PromQL expressions (the
// rewritten query a dashboard refresh evaluates again). Both are keyed by the exact text they
// come from, so an entry can never be stale: different text, different entry. JavaScript calls
// into the engine one at a time, so these need no locks.
package main

import (
	"container/list"
	"slices"

	"github.com/prometheus/prometheus/promql/parser"
)

// lru is a bounded least-recently-used map from text to V.
type lru[V any] struct {
	max   int
	order *list.List // of *lruEntry[V], most recently used first
	byKey map[string]*list.Element
}

type lruEntry[V any] struct {
	key   string
	value V
}

func newLRU[V any](max int) *lru[V] {
	return &lru[V]{max: max, order: list.New(), byKey: map[string]*list.Element{}}
}

func (c *lru[V]) get(key string) (V, bool) {
	if e, ok := c.byKey[key]; ok {
		c.order.MoveToFront(e)
		return e.Value.(*lruEntry[V]).value, true
	}
	var zero V
	return zero, false
}

func (c *lru[V]) put(key string, v V) {
	if e, ok := c.byKey[key]; ok {
		e.Value.(*lruEntry[V]).value = v
		c.order.MoveToFront(e)
		return
	}
	c.byKey[key] = c.order.PushFront(&lruEntry[V]{key, v})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byKey, last.Value.(*lruEntry[V]).key)
	}
}

// Texts longer than this are not kept (a huge generated query would crowd out the rest).
const maxReusedText = 16 << 10

// The prepared evaluations of central plans, keyed by their request text (query, members and
// plan: everything but the times). Plans with raw-sample fetches change with the times, so only
// the others are kept.
var preparedPlans = newLRU[*prepared](256)

// subStamp is what the hub sets on one sub-query's answers: per member, the stamp its plan says.
type subStamp struct {
	stamps   map[string]map[string]string
	workload bool
}

// prepared is a central evaluation's request without its times, with what evaluation looks up
// per series worked out once.
type prepared struct {
	req       QueryRequest
	subStamps map[int]subStamp
	regions   map[string]string
}

func prepare(req QueryRequest) *prepared {
	p := &prepared{req: req, subStamps: map[int]subStamp{}, regions: map[string]string{}}
	if req.Plan != nil {
		for _, sq := range req.Plan.Subs {
			st := subStamp{stamps: map[string]map[string]string{}, workload: sq.Workload}
			for _, m := range sq.Members {
				st.stamps[m.Member] = m.Stamp
			}
			p.subStamps[sq.ID] = st
		}
	}
	for _, m := range req.Members {
		p.regions[m.Name] = m.Region
	}
	return p
}

// preparedFor decodes (or finds) the request text of an evaluation.
func preparedFor(text string) (*prepared, error) {
	if p, ok := preparedPlans.get(text); ok {
		return p, nil
	}
	var req QueryRequest
	if err := json.Unmarshal([]byte(text), &req); err != nil {
		return nil, err
	}
	p := prepare(req)
	if req.Plan != nil && len(req.Plan.Fetches) == 0 && len(text) <= maxReusedText {
		preparedPlans.put(text, p)
	}
	return p, nil
}

// reusingParser parses each text once and hands out copies: the engine and the planner change
// the trees they are given (the engine stores series and step-invariant wrappers in them), so
// the kept tree is never handed out itself.
type reusingParser struct {
	parser.Parser
	parsed *lru[parser.Expr]
}

func (p reusingParser) ParseExpr(input string) (parser.Expr, error) {
	if e, ok := p.parsed.get(input); ok {
		return copyExpr(e), nil
	}
	e, err := p.Parser.ParseExpr(input)
	if err != nil || len(input) > maxReusedText || !copyable(e) {
		return e, err
	}
	p.parsed.put(input, copyExpr(e))
	return e, nil
}

// copyable reports whether copyExpr knows every node of e (a parser upgrade could add kinds).
func copyable(e parser.Expr) bool {
	ok := true
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		// Duration expressions (an experimental feature this parser does not enable) are shared
		// pointers a copy would have to follow too.
		switch n := n.(type) {
		case nil: // Inspect's call after a node's children
		case *parser.AggregateExpr, *parser.BinaryExpr, *parser.Call, *parser.NumberLiteral,
			*parser.ParenExpr, *parser.StringLiteral, *parser.UnaryExpr, parser.Expressions:
		case *parser.MatrixSelector:
			ok = ok && n.RangeExpr == nil
		case *parser.SubqueryExpr:
			ok = ok && n.RangeExpr == nil && n.OriginalOffsetExpr == nil && n.StepExpr == nil
		case *parser.VectorSelector:
			ok = ok && n.OriginalOffsetExpr == nil
		default:
			ok = false
		}
		return nil
	})
	return ok
}

// copyExpr copies a freshly parsed tree: every node and every slice a user of the tree may
// change. Matchers are shared: nothing changes a matcher once made.
func copyExpr(e parser.Expr) parser.Expr {
	switch n := e.(type) {
	case nil:
		return nil
	case *parser.AggregateExpr:
		c := *n
		c.Expr = copyExpr(n.Expr)
		c.Param = copyExpr(n.Param)
		c.Grouping = slices.Clone(n.Grouping)
		return &c
	case *parser.BinaryExpr:
		c := *n
		c.LHS, c.RHS = copyExpr(n.LHS), copyExpr(n.RHS)
		if n.VectorMatching != nil {
			vm := *n.VectorMatching
			vm.MatchingLabels = slices.Clone(vm.MatchingLabels)
			vm.Include = slices.Clone(vm.Include)
			vm.FillValues.LHS = clonePtr(vm.FillValues.LHS)
			vm.FillValues.RHS = clonePtr(vm.FillValues.RHS)
			c.VectorMatching = &vm
		}
		return &c
	case *parser.Call:
		c := *n
		if n.Args != nil {
			c.Args = make(parser.Expressions, len(n.Args))
			for i, a := range n.Args {
				c.Args[i] = copyExpr(a)
			}
		}
		return &c
	case *parser.MatrixSelector:
		c := *n
		c.VectorSelector = copyExpr(n.VectorSelector)
		return &c
	case *parser.SubqueryExpr:
		c := *n
		c.Expr = copyExpr(n.Expr)
		c.Timestamp = clonePtr(n.Timestamp)
		return &c
	case *parser.NumberLiteral:
		c := *n
		return &c
	case *parser.ParenExpr:
		c := *n
		c.Expr = copyExpr(n.Expr)
		return &c
	case *parser.StringLiteral:
		c := *n
		return &c
	case *parser.UnaryExpr:
		c := *n
		c.Expr = copyExpr(n.Expr)
		return &c
	case *parser.VectorSelector:
		c := *n
		c.LabelMatchers = slices.Clone(n.LabelMatchers)
		c.Timestamp = clonePtr(n.Timestamp)
		c.Series = nil
		c.UnexpandedSeriesSet = nil
		return &c
	default:
		panic("copyExpr: a node it does not know (copyable should have said so)")
	}
}

// clonePtr copies the value p points to (nil stays nil).
func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
