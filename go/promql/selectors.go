// Series selectors of the metadata endpoints (series, labels, label values), resolved per member.
package main

import (
	"fmt"

	"github.com/prometheus/prometheus/model/labels"
)

// SelectorsRequest holds the match[] parameters of a metadata request. PodOnly narrows every
// selector to series with a pod label (those the workload labels can be resolved for).
type SelectorsRequest struct {
	Matchers []string `json:"matchers"`
	Members  []Member `json:"members"`
	PodOnly  bool     `json:"podOnly,omitempty"`
}

// MemberSelectors is what one member is asked; a member none of the selectors can match is left
// out. Filter says the selectors read app or revision, which members do not hold: the hub must
// keep only the enriched series that match them (matchSeries).
type MemberSelectors struct {
	Member   string   `json:"member"`
	Matchers []string `json:"matchers"`
	Filter   bool     `json:"filter,omitempty"`
}

func parseSelectors(ss []string) ([][]*labels.Matcher, error) {
	parsed, err := promqlParser.ParseMetricSelectors(ss)
	if err != nil {
		return nil, badData{fmt.Sprintf("invalid parameter \"match[]\": %s", err)}
	}
	return parsed, nil
}

func memberSelectors(req SelectorsRequest) ([]MemberSelectors, error) {
	parsed, err := parseSelectors(req.Matchers)
	if err != nil {
		return nil, err
	}
	filter := false
	for _, ms := range parsed {
		for _, m := range ms {
			filter = filter || isWorkloadLabel(m.Name)
		}
	}
	out := []MemberSelectors{}
	for _, m := range req.Members {
		var sels []string
		for _, ms := range parsed {
			if req.PodOnly {
				ms = append(ms[:len(ms):len(ms)], labels.MustNewMatcher(labels.MatchNotEqual, podLabel, ""))
			}
			if s := selectorFor(ms, m); s != "" {
				sels = append(sels, s)
			}
		}
		if len(sels) > 0 {
			out = append(out, MemberSelectors{Member: m.Name, Matchers: sels, Filter: filter})
		}
	}
	return out, nil
}

// MatchRequest asks which of some series (with every Meridian label set) match any selector.
type MatchRequest struct {
	Matchers []string            `json:"matchers"`
	Series   []map[string]string `json:"series"`
}

func matchSeries(req MatchRequest) ([]bool, error) {
	parsed, err := parseSelectors(req.Matchers)
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(req.Series))
	for i, s := range req.Series {
		l := labels.FromMap(s)
		for _, ms := range parsed {
			if matchesAll(l, ms) {
				out[i] = true
				break
			}
		}
	}
	return out, nil
}
