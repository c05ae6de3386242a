package main

import (
	"math"
	"testing"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/prompb"
)

func TestReadRequestCarriesTheSelectorsMatchersAndWindow(t *testing.T) {
	b := readRequest(`x{job="a",code!="5",path=~"/a.*",pod!~""}`, 1000, 61000, nil)
	raw, err := snappy.Decode(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	var req prompb.ReadRequest
	if err := req.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	if len(req.Queries) != 1 || req.AcceptedResponseTypes[0] != prompb.ReadRequest_SAMPLES {
		t.Fatalf("request %v", req.String())
	}
	q := req.Queries[0]
	if q.StartTimestampMs != 1000 || q.EndTimestampMs != 61000 {
		t.Fatalf("window %d..%d", q.StartTimestampMs, q.EndTimestampMs)
	}
	want := map[string]prompb.LabelMatcher_Type{
		"__name__": prompb.LabelMatcher_EQ, "job": prompb.LabelMatcher_EQ, "code": prompb.LabelMatcher_NEQ,
		"path": prompb.LabelMatcher_RE, "pod": prompb.LabelMatcher_NRE,
	}
	if len(q.Matchers) != len(want) {
		t.Fatalf("matchers %v", q.Matchers)
	}
	for _, m := range q.Matchers {
		if want[m.Name] != m.Type {
			t.Errorf("%s: type %v", m.Name, m.Type)
		}
	}
	if readRequest(`x{`, 0, 1, nil) != nil {
		t.Error("an unparsable selector must give no request (the hub then asks the query API)")
	}
}

func TestReadResponseKeepsStalenessMarkersAndDropsExternalLabels(t *testing.T) {
	resp := prompb.ReadResponse{Results: []*prompb.QueryResult{{Timeseries: []*prompb.TimeSeries{
		{
			Labels:  []prompb.Label{{Name: "__name__", Value: "x"}, {Name: "replica", Value: "r1"}, {Name: "zone", Value: "own"}},
			Samples: []prompb.Sample{{Timestamp: 1, Value: 5}, {Timestamp: 2, Value: math.Float64frombits(value.StaleNaN)}},
		},
		{Labels: []prompb.Label{{Name: "__name__", Value: "empty"}}},
	}}}}
	raw, err := resp.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sb := labels.NewScratchBuilder(4)
	got, err := decodeReadResponse(snappy.Encode(nil, raw), []string{"replica", "r1", "zone", "other"}, &sb)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("%d series, want the one with samples", len(got))
	}
	if l := got[0].lset.String(); l != `{__name__="x", zone="own"}` {
		t.Errorf("labels %s: the external replica goes, the series' own zone stays", l)
	}
	if len(got[0].vs) != 2 || got[0].vs[0] != 5 || !value.IsStaleNaN(got[0].vs[1]) {
		t.Errorf("samples %v: the staleness marker must survive", got[0].vs)
	}
	if _, err := decodeReadResponse([]byte("not snappy"), nil, &sb); err == nil {
		t.Error("an unreadable answer must be an error")
	}
}

func TestASeriesOwnLabelNamedLikeAnExternalLabelSurvives(t *testing.T) {
	// The request asks, per external label, which series hold it themselves.
	raw, err := snappy.Decode(nil, readRequest(`x{job="a"}`, 0, 1, []string{"replica", "r.1"}))
	if err != nil {
		t.Fatal(err)
	}
	var req prompb.ReadRequest
	if err := req.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	if len(req.Queries) != 2 {
		t.Fatalf("%d queries, want the selector's and one for replica", len(req.Queries))
	}
	last := req.Queries[1].Matchers[len(req.Queries[1].Matchers)-1]
	if last.Name != "replica" || last.Type != prompb.LabelMatcher_RE || last.Value != `r\.1` {
		t.Errorf("own-label matcher %v", last)
	}
	// Two series answered with replica="r.1": one got it from the member, one holds it.
	added := []prompb.Label{{Name: "__name__", Value: "x"}, {Name: "instance", Value: "a"}, {Name: "replica", Value: "r.1"}}
	held := []prompb.Label{{Name: "__name__", Value: "x"}, {Name: "instance", Value: "b"}, {Name: "replica", Value: "r.1"}}
	sample := []prompb.Sample{{Timestamp: 1, Value: 1}}
	resp := prompb.ReadResponse{Results: []*prompb.QueryResult{
		{Timeseries: []*prompb.TimeSeries{{Labels: added, Samples: sample}, {Labels: held, Samples: sample}}},
		{Timeseries: []*prompb.TimeSeries{{Labels: held, Samples: sample}}},
	}}
	body, err := resp.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sb := labels.NewScratchBuilder(4)
	got, err := decodeReadResponse(snappy.Encode(nil, body), []string{"replica", "r.1"}, &sb)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].lset.String() != `{__name__="x", instance="a"}` ||
		got[1].lset.String() != `{__name__="x", instance="b", replica="r.1"}` {
		t.Errorf("series %v %v", got[0].lset, got[1].lset)
	}
}

func TestManyToManyRefusalsListTheSeriesInPrometheus2Order(t *testing.T) {
	p3 := `found duplicate series for the match group {job="a"} on the right hand-side of the operation: [{instance="0", job="a"}, {instance="1", job="a"}];many-to-many matching not allowed: matching labels must be unique on one side`
	want := `found duplicate series for the match group {job="a"} on the right hand-side of the operation: [{instance="1", job="a"}, {instance="0", job="a"}];many-to-many matching not allowed: matching labels must be unique on one side`
	if got := legacyDuplicateOrder(p3); got != want {
		t.Errorf("got %s", got)
	}
	if other := "vector cannot contain metrics with the same labelset"; legacyDuplicateOrder(other) != other {
		t.Error("other texts stay as they are")
	}
}

func TestLegacyNamesRefuseWhatPrometheus2Refuses(t *testing.T) {
	cases := map[string]string{
		`sum by ("job") (x)`:                  `invalid parameter "query": 1:9: parse error: unexpected string "\"job\"" in grouping opts, expected label`,
		`{"memory_bytes"}`:                    `invalid parameter "query": 1:2: parse error: unexpected string "\"memory_by"... in label matching, expected identifier or "}"`,
		`label_replace(x, "a.b", "", "", "")`: "invalid destination label name in label_replace(): a.b",
		`label_replace(x, "ab", "$1", "job", "(.*)") + on (job) group_left (instance) y{job="a,b"}`: "",
	}
	for q, want := range cases {
		expr, err := promqlParser.ParseExpr(q)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if err := legacyNames(q, expr); err != nil {
			got = err.Error()
		}
		if got != want {
			t.Errorf("%s: got %q, want %q", q, got, want)
		}
	}
}
