// An in-memory storage.Queryable over the raw samples fetched from the members for one central
// evaluation, and a recording one that tells which samples an evaluation will read.
package main

import (
	"context"
	"slices"
	"sort"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/util/annotations"
)

// series is one stamped series with its float samples in time order.
type series struct {
	lset labels.Labels
	ts   []int64
	vs   []float64
}

func (s *series) Labels() labels.Labels { return s.lset }

func (s *series) Iterator(it chunkenc.Iterator) chunkenc.Iterator {
	if si, ok := it.(*sampleIterator); ok {
		si.reset(s)
		return si
	}
	si := &sampleIterator{}
	si.reset(s)
	return si
}

// sampleIterator walks a series' slices without allocating per sample.
type sampleIterator struct {
	s *series
	i int
}

func (it *sampleIterator) reset(s *series) { it.s, it.i = s, -1 }

func (it *sampleIterator) Next() chunkenc.ValueType {
	it.i++
	if it.i >= len(it.s.ts) {
		return chunkenc.ValNone
	}
	return chunkenc.ValFloat
}

func (it *sampleIterator) Seek(t int64) chunkenc.ValueType {
	if it.i < 0 {
		it.i = 0
	}
	if it.i >= len(it.s.ts) {
		return chunkenc.ValNone
	}
	if it.s.ts[it.i] >= t {
		return chunkenc.ValFloat
	}
	it.i += sort.Search(len(it.s.ts)-it.i, func(k int) bool { return it.s.ts[it.i+k] >= t })
	if it.i >= len(it.s.ts) {
		return chunkenc.ValNone
	}
	return chunkenc.ValFloat
}

func (it *sampleIterator) At() (int64, float64) { return it.s.ts[it.i], it.s.vs[it.i] }
func (it *sampleIterator) AtHistogram(*histogram.Histogram) (int64, *histogram.Histogram) {
	panic("meridian store holds no native histograms")
}
func (it *sampleIterator) AtFloatHistogram(*histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	panic("meridian store holds no native histograms")
}
func (it *sampleIterator) AtT() int64  { return it.s.ts[it.i] }
func (it *sampleIterator) AtST() int64 { return 0 }
func (it *sampleIterator) Err() error  { return nil }

// memStore holds every fetched series, sorted by labels as a TSDB would return them, and the
// results of the pushed-down parts, which answer their placeholder selectors.
type memStore struct {
	all  []*series
	subs map[int][]*series
}

func sortByLabels(ss []*series) {
	sort.Slice(ss, func(i, j int) bool { return labels.Compare(ss[i].lset, ss[j].lset) < 0 })
}

func newMemStore(all []*series, subs map[int][]*series) *memStore {
	sortByLabels(all)
	for _, ss := range subs {
		sortByLabels(ss)
	}
	return &memStore{all: all, subs: subs}
}

func (s *memStore) Querier(_, _ int64) (storage.Querier, error) { return s, nil }

func (s *memStore) Select(_ context.Context, _ bool, _ *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	var out []storage.Series
	if id, ok := subID(ms); ok {
		for _, se := range s.subs[id] {
			out = append(out, se)
		}
		return &sliceSet{items: out, i: -1}
	}
	for _, se := range s.all {
		if matchesAll(se.lset, ms) {
			out = append(out, se)
		}
	}
	return &sliceSet{items: out, i: -1}
}

func matchesAll(l labels.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(l.Get(m.Name)) {
			return false
		}
	}
	return true
}

func (s *memStore) LabelValues(context.Context, string, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (s *memStore) LabelNames(context.Context, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (s *memStore) Close() error { return nil }

type sliceSet struct {
	items []storage.Series
	i     int
}

func (s *sliceSet) Next() bool                        { s.i++; return s.i < len(s.items) }
func (s *sliceSet) At() storage.Series                { return s.items[s.i] }
func (s *sliceSet) Err() error                        { return nil }
func (s *sliceSet) Warnings() annotations.Annotations { return nil }

// selection is what the engine asked storage for: these matchers, samples in [Start, End].
type selection struct {
	Matchers []*labels.Matcher
	Start    int64
	End      int64
}

// recorder answers every Select with nothing and remembers what was asked. The engine computes
// each selector's window itself (range, offset, @, lookback, subqueries) before evaluating, so
// a dry run tells exactly which samples the real run reads.
type recorder struct{ asked []selection }

func (r *recorder) Querier(_, _ int64) (storage.Querier, error) { return r, nil }

func (r *recorder) Select(_ context.Context, _ bool, h *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	sel := selection{Matchers: slices.Clone(ms)}
	if h != nil {
		sel.Start, sel.End = h.Start, h.End
	}
	r.asked = append(r.asked, sel)
	return storage.EmptySeriesSet()
}

func (r *recorder) LabelValues(context.Context, string, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (r *recorder) LabelNames(context.Context, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (r *recorder) Close() error { return nil }
