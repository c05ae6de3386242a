// Series selectors of the metadata endpoints (series, labels, label values), resolved per member.
package main

import "fmt"

// SelectorsRequest holds the match[] parameters of a metadata request.
type SelectorsRequest struct {
	Matchers []string `json:"matchers"`
	Members  []Member `json:"members"`
}

// MemberSelectors is what one member is asked; a member none of the selectors can match is left out.
type MemberSelectors struct {
	Member   string   `json:"member"`
	Matchers []string `json:"matchers"`
}

func memberSelectors(req SelectorsRequest) ([]MemberSelectors, error) {
	parsed, err := promqlParser.ParseMetricSelectors(req.Matchers)
	if err != nil {
		return nil, badData{fmt.Sprintf("invalid parameter \"match[]\": %s", err)}
	}
	out := []MemberSelectors{}
	for _, m := range req.Members {
		var sels []string
		for _, ms := range parsed {
			if s := selectorFor(ms, m); s != "" {
				sels = append(sels, s)
			}
		}
		if len(sels) > 0 {
			out = append(out, MemberSelectors{Member: m.Name, Matchers: sels})
		}
	}
	return out, nil
}
