// Planning and central evaluation entry points: JSON in, JSON out, so the JavaScript side needs
// no knowledge of PromQL beyond what these return.
package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
)

// QueryRequest is one /api/v1/query (Step == 0) or /api/v1/query_range, times in milliseconds.
type QueryRequest struct {
	Query   string   `json:"query"`
	Start   int64    `json:"start"`
	End     int64    `json:"end"`
	Step    int64    `json:"step"`
	Members []Member `json:"members"`
	// LegacyNames: some member runs Prometheus 2, whose parser and functions take only legacy
	// metric and label names; a central query must not take more (legacy.go).
	LegacyNames bool `json:"legacyNames,omitempty"`
	// Plan is the central plan of the query, given back to evaluate it.
	Plan *Plan `json:"plan,omitempty"`
}

// MemberQuery is what one member is asked: an instant or a range query like the request. Stamp,
// when not null, is what the hub sets on every series of the answer (the topology labels the
// union's answer keeps, with the member's values; any other topology label is removed); when
// null, the member's query stamps its series itself.
type MemberQuery struct {
	Member string            `json:"member"`
	Query  string            `json:"query"`
	Stamp  map[string]string `json:"stamp"`
}

// Fetch is a member's raw samples for one selector and window: Read is the remote-read request
// that returns them with their staleness markers; Query, an instant query of a range selector
// at Time, returns them without (for a member that serves no remote read).
type Fetch struct {
	Member string `json:"member"`
	Query  string `json:"query"`
	Time   int64  `json:"time"`
	Read   []byte `json:"read,omitempty"`
}

// SubQuery is a pushed-down part of a centrally evaluated query, run on the members like the
// query itself (instant or range), each member's answer stamped as its MemberQuery says.
type SubQuery struct {
	ID      int           `json:"id"`
	Members []MemberQuery `json:"members"`
	// Workload: the answers keep app and revision, which the hub resolves from their namespace
	// and pod; otherwise it removes them.
	Workload bool `json:"workload,omitempty"`
}

// Plan says how to answer a query.
type Plan struct {
	Mode       string        `json:"mode"` // "pushdown" | "central"
	Reason     string        `json:"reason,omitempty"`
	ResultType string        `json:"resultType"`
	Members    []MemberQuery `json:"members,omitempty"`
	// Workload (pushdown): the answer keeps app and revision, which the hub resolves from each
	// series' namespace and pod; otherwise it removes them.
	Workload bool `json:"workload,omitempty"`
	// Rewritten (central) is the query the hub evaluates: its pushed-down parts replaced by
	// placeholders for the Subs' answers.
	Rewritten string     `json:"rewritten,omitempty"`
	Subs      []SubQuery `json:"subs,omitempty"`
	Fetches   []Fetch    `json:"fetches,omitempty"`
}

// The engine is configured like a stock Prometheus server (@ and negative offsets are on by
// default since 2.33), so central answers match what one server holding the union would say.
var engine = promql.NewEngine(promql.EngineOpts{
	MaxSamples:           50_000_000,
	Timeout:              2 * time.Minute,
	LookbackDelta:        5 * time.Minute,
	EnableAtModifier:     true,
	EnableNegativeOffset: true,
	Parser:               promqlParser,
})

func newQuery(q storage.Queryable, req QueryRequest) (promql.Query, error) {
	ctx := context.Background()
	if req.Step == 0 {
		return engine.NewInstantQuery(ctx, q, nil, req.Query, time.UnixMilli(req.End))
	}
	return engine.NewRangeQuery(ctx, q, nil, req.Query, time.UnixMilli(req.Start), time.UnixMilli(req.End),
		time.Duration(req.Step)*time.Millisecond)
}

func plan(req QueryRequest) (Plan, error) {
	expr, err := parseQuery(req.Query)
	if err != nil {
		return Plan{}, err
	}
	resultType := string(expr.Type())
	if req.Step != 0 && resultType != string(parser.ValueTypeVector) && resultType != string(parser.ValueTypeScalar) {
		return Plan{}, badData{fmt.Sprintf("invalid expression type %q for range query, must be Scalar or instant Vector", parser.DocumentedType(expr.Type()))}
	}
	if req.Step != 0 {
		resultType = string(parser.ValueTypeMatrix)
	}
	// Checked for pushdown too: members are asked the printed rewrite, which quotes no name
	// Prometheus 2 could read unquoted, so they could not refuse it themselves.
	if req.LegacyNames {
		if err := legacyNames(req.Query, expr); err != nil {
			return Plan{}, err
		}
	}
	if reason := whyCentral(expr); reason != "" {
		rewritten, parts := split(expr)
		p := Plan{Mode: "central", Reason: reason, ResultType: resultType, Rewritten: rewritten.String()}
		for id, part := range parts {
			qs, err := memberQueries(part.query, req.Members)
			if err != nil {
				return Plan{}, err
			}
			p.Subs = append(p.Subs, SubQuery{ID: id, Members: qs, Workload: part.workload})
		}
		fetches, err := fetchesFor(req, rewritten)
		if err != nil {
			return Plan{}, err
		}
		p.Fetches = fetches
		return p, nil
	}
	qs, err := memberQueries(req.Query, req.Members)
	if err != nil {
		return Plan{}, err
	}
	w, _ := workloadOf(expr)
	return Plan{Mode: "pushdown", ResultType: resultType, Members: qs, Workload: w.app}, nil
}

// fetchesFor dry-runs the query to learn every selector's window, then asks each member whose
// topology the selector accepts for that window's raw samples. Selectors with the same matchers
// share one fetch over the union of their windows.
func fetchesFor(req QueryRequest, rewritten parser.Expr) ([]Fetch, error) {
	raw := false
	parser.Inspect(rewritten, func(node parser.Node, _ []parser.Node) error {
		if vs, ok := node.(*parser.VectorSelector); ok {
			if _, sub := subID(vs.LabelMatchers); !sub {
				raw = true
			}
		}
		return nil
	})
	if !raw {
		return nil, nil // every selector is in a pushed-down part: no dry run needed
	}
	rec := &recorder{}
	dry := req
	dry.Query = rewritten.String()
	qry, err := newQuery(rec, dry)
	if err != nil {
		return nil, badData{fmt.Sprintf("invalid parameter \"query\": %s", err)}
	}
	// Storage is asked for every selector before evaluation starts, so the recording is complete
	// even when evaluating over no data fails (a topk whose k comes from an empty scalar()).
	qry.Exec(context.Background())
	qry.Close()
	// Per member and member-side selector: the windows to fetch, overlapping ones merged, so
	// `x{cluster="a"} - x offset 1m` costs one fetch but `x - x offset 7d` does not fetch a week.
	type window struct{ start, end int64 }
	type target struct{ member, selector string }
	windows := map[target][]window{}
	external := map[string][]string{}
	var order []target
	for _, s := range rec.asked {
		if _, ok := subID(s.Matchers); ok {
			continue
		}
		for _, m := range req.Members {
			sel := selectorFor(s.Matchers, m)
			if sel == "" {
				continue
			}
			t := target{m.Name, sel}
			if _, ok := windows[t]; !ok {
				order = append(order, t)
			}
			windows[t] = append(windows[t], window{s.Start, s.End})
			external[m.Name] = m.External
		}
	}
	var out []Fetch
	for _, t := range order {
		ws := windows[t]
		sort.Slice(ws, func(i, j int) bool { return ws[i].start < ws[j].start })
		merged := []window{ws[0]}
		for _, w := range ws[1:] {
			last := &merged[len(merged)-1]
			if w.start <= last.end {
				last.end = max(last.end, w.end)
			} else {
				merged = append(merged, w)
			}
		}
		for _, w := range merged {
			out = append(out, Fetch{
				Member: t.member,
				Query:  t.selector + rangeSuffix(w.start, w.end),
				Time:   w.end,
				Read:   readRequest(t.selector, w.start, w.end, external[t.member]),
			})
		}
	}
	return out, nil
}

// timeRange is an evaluation's times in milliseconds (step 0: an instant query at end).
type timeRange struct{ start, end, step int64 }

// Input is one member's answer to one Fetch (Sub -1: its query; remoteReadSub: its remote read)
// or to one SubQuery (its ID). External: the member's external labels (name, value pairs),
// which remote read adds to series.
type Input struct {
	Member   string
	Sub      int
	Body     []byte
	External []string
}

// Evaluated is the result of a central evaluation.
type Evaluated struct {
	Data     []byte // the Prometheus API "data" object
	Warnings []string
	Infos    []string
	Samples  int
	// Unreadable: members whose answers could not be read, with why; the evaluation left them
	// out (the hub counts them as members that could not answer).
	Unreadable map[string]string
}

// execError is a query that parsed but could not be evaluated (HTTP 422 in the Prometheus API).
type execError struct{ msg string }

func (e execError) Error() string { return e.msg }

// evaluate runs a central plan (prep's request, at these times) over the members' answers to
// its subs and fetches; the request carries everything planning decided, and a prepared
// request is only read, so concurrent queries share nothing they change.
func evaluate(prep *prepared, times timeRange, inputs []Input, maxSamples int, resolve resolveFunc) (Evaluated, error) {
	req := prep.req
	req.Start, req.End, req.Step = times.start, times.end, times.step
	p := req.Plan
	if p == nil || p.Mode != "central" {
		return Evaluated{}, errors.New("evaluate needs the query's central plan")
	}
	subStamps, regions := prep.subStamps, prep.regions
	wl := newEnricher(resolve)
	// Scratch space for labels, reused from series to series (each result is a copy).
	scratch := labels.NewScratchBuilder(8)
	lb := labels.NewBuilder(labels.EmptyLabels())
	byLabels := map[string]*series{}
	subs := map[int][]*series{}
	total := 0
	// The members' own warnings and infos, named like the pushed-down path names them, each once.
	var memberWarnings, memberInfos []string
	noted := map[string]bool{}
	note := func(list *[]string, member string, ss []string) {
		for _, w := range ss {
			w = fmt.Sprintf("cluster %q: %s", member, w)
			if !noted[w] {
				noted[w] = true
				*list = append(*list, w)
			}
		}
	}
	// Decoded first, so a member whose answer cannot be read (a remote read answering garbage)
	// is left out whole, as a member that could not answer, not failing the query.
	type decoded struct {
		in    Input
		got   []*series
		notes memberNotes
	}
	var all []decoded
	unreadable := map[string]string{}
	for _, in := range inputs {
		var got []*series
		var notes memberNotes
		var err error
		if in.Sub == remoteReadSub {
			got, err = decodeReadResponse(in.Body, in.External, &scratch)
		} else {
			got, notes, err = decodeSeriesList(in.Body, &scratch)
		}
		// An answer the engine cannot evaluate (native histograms) refuses the query.
		var refusal execError
		if errors.As(err, &refusal) {
			return Evaluated{}, fmt.Errorf("cluster %q: %w", in.Member, err)
		}
		if err != nil {
			if _, seen := unreadable[in.Member]; !seen {
				unreadable[in.Member] = err.Error()
			}
			continue
		}
		all = append(all, decoded{in, got, notes})
	}
	for _, d := range all {
		in, got := d.in, d.got
		if _, bad := unreadable[in.Member]; bad {
			continue
		}
		note(&memberWarnings, in.Member, d.notes.warnings)
		note(&memberInfos, in.Member, d.notes.infos)
		for _, s := range got {
			total += len(s.ts)
			if total > maxSamples {
				return Evaluated{}, execError{fmt.Sprintf("the query needs more than %d samples from the members to be evaluated centrally; narrow its time range or selectors, or keep every aggregation by cluster so it can run on the members", maxSamples)}
			}
			if in.Sub >= 0 {
				st, ok := subStamps[in.Sub]
				if !ok {
					return Evaluated{}, fmt.Errorf("cluster %q: an answer to sub-query %d, which the plan does not have", in.Member, in.Sub)
				}
				if stamp := st.stamps[in.Member]; stamp != nil {
					s.lset = stamped(lb, s.lset, stamp)
				}
				s.lset = wl.enrich(s.lset, in.Member, st.workload)
				// A range answer omits the steps where a series had no value, which must read
				// as "no value", not as the step before.
				if req.Step != 0 {
					markGaps(s, req.Start, req.End, req.Step)
				}
				subs[in.Sub] = append(subs[in.Sub], s)
				continue
			}
			lb.Reset(s.lset)
			lb.Set(clusterLabel, in.Member)
			lb.Set(regionLabel, regions[in.Member])
			s.lset = wl.enrich(lb.Labels(), in.Member, true)
			key := string(s.lset.Bytes(nil))
			if prev, ok := byLabels[key]; ok {
				mergeSamples(prev, s)
			} else {
				byLabels[key] = s
			}
		}
	}
	raw := make([]*series, 0, len(byLabels))
	for _, s := range byLabels {
		raw = append(raw, s)
	}
	evalReq := req
	evalReq.Query = p.Rewritten
	qry, err := newQuery(newMemStore(raw, subs), evalReq)
	if err != nil {
		return Evaluated{}, badData{fmt.Sprintf("invalid parameter \"query\": %s", err)}
	}
	defer qry.Close()
	res := qry.Exec(context.Background())
	if res.Err != nil {
		var pe promql.ErrQueryCanceled
		if errors.As(res.Err, &pe) {
			return Evaluated{}, res.Err
		}
		msg := res.Err.Error()
		if req.LegacyNames {
			msg = legacyDuplicateOrder(msg)
		}
		return Evaluated{}, execError{msg}
	}
	warnings, infos := res.Warnings.AsStrings(req.Query, 10, 10)
	data, err := encodeResult(res.Value)
	if err != nil {
		return Evaluated{}, err
	}
	return Evaluated{
		Data:       data,
		Warnings:   append(memberWarnings, warnings...),
		Infos:      append(memberInfos, infos...),
		Samples:    total,
		Unreadable: unreadable,
	}, nil
}

// stamped sets the topology labels in st on l and removes the others, as label_replace would
// (an empty value removes the label); b is scratch space.
func stamped(b *labels.Builder, l labels.Labels, st map[string]string) labels.Labels {
	b.Reset(l)
	for _, name := range []string{clusterLabel, regionLabel} {
		if v := st[name]; v != "" {
			b.Set(name, v)
		} else {
			b.Del(name)
		}
	}
	return b.Labels()
}

// mergeSamples adds b's samples to a (same series fetched for two windows), keeping time order
// and one sample per timestamp.
func mergeSamples(a, b *series) {
	type pt struct {
		t int64
		v float64
	}
	pts := make([]pt, 0, len(a.ts)+len(b.ts))
	for i := range a.ts {
		pts = append(pts, pt{a.ts[i], a.vs[i]})
	}
	for i := range b.ts {
		pts = append(pts, pt{b.ts[i], b.vs[i]})
	}
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].t < pts[j].t })
	a.ts, a.vs = a.ts[:0], a.vs[:0]
	for i, p := range pts {
		if i > 0 && p.t == pts[i-1].t {
			continue
		}
		a.ts = append(a.ts, p.t)
		a.vs = append(a.vs, p.v)
	}
}

var staleNaN = math.Float64frombits(value.StaleNaN)

// markGaps adds a stale marker at every step of [start, end] where a range answer has no point.
func markGaps(s *series, start, end, step int64) {
	ts := make([]int64, 0, (end-start)/step+1)
	vs := make([]float64, 0, cap(ts))
	i := 0
	for t := start; t <= end; t += step {
		for i < len(s.ts) && s.ts[i] < t {
			i++
		}
		if i < len(s.ts) && s.ts[i] == t {
			ts, vs = append(ts, t), append(vs, s.vs[i])
		} else {
			ts, vs = append(ts, t), append(vs, staleNaN)
		}
	}
	s.ts, s.vs = ts, vs
}

// secondsToMillis converts an API timestamp (float seconds, millisecond precision) exactly.
func secondsToMillis(f float64) int64 { return int64(math.Round(f * 1000)) }
