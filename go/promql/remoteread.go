// Raw samples through Prometheus' remote-read API: unlike a range selector's answer (which drops
// them), its samples keep the staleness markers a member wrote when a series ended, so the hub's
// engine ends a series where one Prometheus would (absent(), *_over_time, subqueries).
package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
)

// Sub of an Input that answers a Fetch through remote read (Sub -1: the fetch's instant query).
const remoteReadSub = -2

// readRequest is the snappy-compressed remote-read request for a member-side selector's samples
// in [start, end] (closed, as the storage selects them; the engine applies its own window), or
// nil when the selector cannot be one (the hub then asks the fetch's instant query).
//
// Remote read adds the member's external labels (name, value pairs in `external`) to every
// series that lacks them, so a series' own label with an external label's name and value looks
// like an added one. Per external label, a second query selects the series that hold it
// themselves (a regex matcher: the member drops only equality matchers on external labels), so
// the hub removes the label from the others only.
func readRequest(selector string, start, end int64, external []string) []byte {
	ms, err := promqlParser.ParseMetricSelector(selector)
	if err != nil {
		return nil
	}
	var matchers []*prompb.LabelMatcher
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
		matchers = append(matchers, &prompb.LabelMatcher{Type: t, Name: m.Name, Value: m.Value})
	}
	queries := []*prompb.Query{{StartTimestampMs: start, EndTimestampMs: end, Matchers: matchers}}
	for i := 0; i+1 < len(external); i += 2 {
		own := &prompb.LabelMatcher{Type: prompb.LabelMatcher_RE, Name: external[i], Value: regexp.QuoteMeta(external[i+1])}
		queries = append(queries, &prompb.Query{
			StartTimestampMs: start,
			EndTimestampMs:   end,
			Matchers:         append(slices.Clone(matchers), own),
		})
	}
	req := prompb.ReadRequest{
		Queries:               queries,
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
// them with the external value, unless the answer's query for that label (readRequest) says the
// series holds it itself: `external` holds name, value pairs.
func decodeReadResponse(body []byte, external []string, b *labels.ScratchBuilder) ([]*series, error) {
	raw, err := snappy.Decode(nil, body)
	if err != nil {
		return nil, fmt.Errorf("remote read answer: %w", err)
	}
	var resp prompb.ReadResponse
	if err := resp.Unmarshal(raw); err != nil {
		return nil, fmt.Errorf("remote read answer: %w", err)
	}
	if len(resp.Results) == 0 {
		return nil, nil
	}
	ext := map[string]string{}
	// own[name]: the series (as answered) that hold the external label `name` themselves.
	own := map[string]map[string]bool{}
	for i := 0; i+1 < len(external); i += 2 {
		ext[external[i]] = external[i+1]
		set := map[string]bool{}
		if q := 1 + i/2; q < len(resp.Results) {
			for _, ts := range resp.Results[q].Timeseries {
				set[protoKey(ts.Labels)] = true
			}
		}
		own[external[i]] = set
	}
	var out []*series
	for _, ts := range resp.Results[0].Timeseries {
		if len(ts.Histograms) > 0 {
			return nil, errNativeHistograms
		}
		if len(ts.Samples) == 0 {
			continue
		}
		key := ""
		b.Reset()
		for _, l := range ts.Labels {
			if v, ok := ext[l.Name]; ok && v == l.Value {
				if key == "" {
					key = protoKey(ts.Labels)
				}
				if !own[l.Name][key] {
					continue
				}
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
	return out, nil
}

// protoKey identifies a series of a remote-read answer by its labels.
func protoKey(ls []prompb.Label) string {
	var sb strings.Builder
	for _, l := range ls {
		sb.WriteString(l.Name)
		sb.WriteByte(0xff)
		sb.WriteString(l.Value)
		sb.WriteByte(0xff)
	}
	return sb.String()
}
