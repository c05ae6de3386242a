package main

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

// Queries with every node kind copyExpr knows, and the ones the engine changes in place:
// selectors with @ start()/end() (their timestamps are set per evaluation), subqueries, offsets,
// step-invariant parts, vector matching lists.
var reuseCorpus = []string{
	`x`,
	`x @ end()`,
	`x @ start() offset 1m`,
	`rate(x[5m] @ end())`,
	`max_over_time(sum by (region) (x)[10m:5m] @ end())`,
	`max_over_time(x[10m:1m] offset -1m)`,
	`topk(2, x) + on (job) group_left (i) -(y * 2)`,
	`sum without (i) (x) / ignoring (cluster) count(x)`,
	`label_replace(x, "a", "$1", "job", "(.*)") or vector(1)`,
	`(x > bool 1) unless y`,
	`absent(nope{a=~"b.*"})`,
	`quantile(0.5, x)`,
	`1 + 2`,
	`"s"`,
}

func nodesOf(e parser.Expr) map[parser.Node]bool {
	out := map[parser.Node]bool{}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n.(type) {
		case nil, parser.Expressions:
		default:
			out[n] = true
		}
		return nil
	})
	return out
}

func TestCopyExprSharesNoNode(t *testing.T) {
	p := parser.NewParser(parser.Options{})
	for _, q := range reuseCorpus {
		e, err := p.ParseExpr(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if !copyable(e) {
			t.Fatalf("%s: not copyable", q)
		}
		c := copyExpr(e)
		if c.String() != e.String() {
			t.Errorf("%s: copy reads %s", q, c)
		}
		orig := nodesOf(e)
		for n := range nodesOf(c) {
			if orig[n] {
				t.Errorf("%s: the copy shares node %s", q, n)
			}
		}
	}
}

// x{job="a",i="1"} with a sample every minute whose value is its minute, and y{job="a"} = 1.

func minuteSeries() []*series {
	x := &series{lset: labels.FromStrings("__name__", "x", "job", "a", "i", "1")}
	y := &series{lset: labels.FromStrings("__name__", "y", "job", "a")}
	for m := int64(0); m <= 120; m++ {
		x.ts, x.vs = append(x.ts, m*60_000), append(x.vs, float64(m))
		y.ts, y.vs = append(y.ts, m*60_000), append(y.vs, 1)
	}
	return []*series{x, y}
}

func run(t *testing.T, ng *promql.Engine, q string, at int64) string {
	t.Helper()
	qry, err := ng.NewInstantQuery(context.Background(), newMemStore(minuteSeries(), nil), nil, q, time.UnixMilli(at))
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer qry.Close()
	res := qry.Exec(context.Background())
	if res.Err != nil {
		t.Fatalf("%s: %v", q, res.Err)
	}
	return res.Value.String()
}

// A query evaluated again at another time through the reusing parser answers as if parsed
// afresh: the engine's changes to one evaluation's tree (timestamps of @ end(), offsets,
// step-invariant wrappers) must not reach the next. Handing out the kept tree instead of a copy
// fails here: the subquery @ end() answers 20 at minute 30, and a tree already wrapped panics.
func TestReusedParsesEvaluateLikeFreshOnes(t *testing.T) {
	opts := promql.EngineOpts{MaxSamples: 1e6, Timeout: time.Minute, LookbackDelta: 5 * time.Minute, EnableAtModifier: true, EnableNegativeOffset: true}
	fresh := promql.NewEngine(opts)
	opts.Parser = reusingParser{parser.NewParser(parser.Options{}), newLRU[parser.Expr](8)}
	reusing := promql.NewEngine(opts)
	for _, q := range reuseCorpus {
		for _, minute := range []int64{10, 20, 30} {
			at := minute * 60_000
			if got, want := run(t, reusing, q, at), run(t, fresh, q, at); got != want {
				t.Errorf("%s at minute %d: %s, parsed afresh %s", q, minute, got, want)
			}
		}
	}
}

func TestLRUKeepsTheMostRecentlyUsed(t *testing.T) {
	c := newLRU[int](2)
	c.put("a", 1)
	c.put("b", 2)
	if _, ok := c.get("a"); !ok {
		t.Fatal("a missing")
	}
	c.put("c", 3) // evicts b, the least recently used
	if _, ok := c.get("b"); ok {
		t.Error("b kept")
	}
	for k, want := range map[string]int{"a": 1, "c": 3} {
		if v, ok := c.get(k); !ok || v != want {
			t.Errorf("%s: %d %v", k, v, ok)
		}
	}
}
