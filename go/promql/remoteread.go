// Raw samples through Prometheus' remote-read API: unlike a range selector's answer (which drops
// them), its samples keep the staleness markers a member wrote when a series ended, so the hub's
// engine ends a series where one Prometheus would (absent(), *_over_time, subqueries).
package main

import (
	"fmt"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
)

// Sub of an Input that answers a Fetch through remote read (Sub -1: the fetch's instant query).
const remoteReadSub = -2

// readRequest is the snappy-compressed remote-read request for a member-side selector's samples
// in [start, end] (closed, as the storage selects them; the engine applies its own window), or
// nil when the selector cannot be one (the hub then asks the fetch's instant query).
func readRequest(selector string, start, end int64) []byte {
	ms, err := promqlParser.ParseMetricSelector(selector)
	if err != nil {
		return nil
	}
	q := &prompb.Query{StartTimestampMs: start, EndTimestampMs: end}
	for _, m := range ms {
		var t prompb.LabelMatcher_Type
		switch m.Type {
		case labels.MatchEqual:
			t = prompb.LabelMatcher_EQ
		case labels.MatchNotEqual:
			t = prompb.LabelMatcher_NEQ
		case labels.MatchRegexp:
			t = prompb.LabelMatcher_RE
		case labels.MatchNotRegexp:
			t = prompb.LabelMatcher_NRE
		default:
			return nil
		}
		q.Matchers = append(q.Matchers, &prompb.LabelMatcher{Type: t, Name: m.Name, Value: m.Value})
	}
	req := prompb.ReadRequest{
		Queries:               []*prompb.Query{q},
		AcceptedResponseTypes: []prompb.ReadRequest_ResponseType{prompb.ReadRequest_SAMPLES},
	}
	b, err := req.Marshal()
	if err != nil {
		return nil
	}
	return snappy.Encode(nil, b)
}

// decodeReadResponse reads a remote-read answer's series. A member's external labels, which
// remote read adds to every series (its query API does not), are removed where a series carries
// them with the external value: `external` holds name, value pairs.
func decodeReadResponse(body []byte, external []string, b *labels.ScratchBuilder) ([]*series, error) {
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		return nil, fmt.Errorf("remote read answer: %w", err)
	}
	var resp prompb.ReadResponse
	if err := resp.Unmarshal(raw); err != nil {
		return nil, fmt.Errorf("remote read answer: %w", err)
	}
	ext := map[string]string{}
	for i := 0; i+1 < len(external); i += 2 {
		ext[external[i]] = external[i+1]
	}
	var out []*series
	for _, r := range resp.Results {
		for _, ts := range r.Timeseries {
			if len(ts.Histograms) > 0 {
				return nil, errNativeHistograms
			}
			if len(ts.Samples) == 0 {
				continue
			}
			b.Reset()
			for _, l := range ts.Labels {
				if v, ok := ext[l.Name]; ok && v == l.Value {
					continue
				}
				b.Add(l.Name, l.Value)
			}
			b.Sort()
			s := &series{lset: b.Labels(), ts: make([]int64, len(ts.Samples)), vs: make([]float64, len(ts.Samples))}
			for i, p := range ts.Samples {
				s.ts[i], s.vs[i] = p.Timestamp, p.Value
			}
			out = append(out, s)
		}
	}
	return out, nil
}
