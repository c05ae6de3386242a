// Prometheus HTTP API JSON: reading a member's raw-sample answers and writing results exactly as
// Prometheus does (its own timestamp and float formatting).
package main

import (
	"errors"
	"fmt"
	"strconv"

	jsoniter "github.com/json-iterator/go"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/util/jsonutil"
)

// json is encoding/json's API through json-iterator, several times faster in WebAssembly on the
// small requests and plans of every query.
var json = jsoniter.ConfigCompatibleWithStandardLibrary

var errNativeHistograms = execError{"a member answered with native histograms, which central evaluation does not support yet; keep the query's aggregations by cluster so it runs on the members"}

// memberNotes are the warnings and infos of a member's answer.
type memberNotes struct{ warnings, infos []string }

// decodeSeriesList reads `{"status":"success","data":{"resultType":"matrix"|"vector","result":[...]},"warnings":[...],"infos":[...]}`.
// b is scratch space for the series' labels, reused from one series (and answer) to the next.
func decodeSeriesList(body []byte, b *labels.ScratchBuilder) ([]*series, memberNotes, error) {
	it := jsoniter.ConfigFastest.BorrowIterator(body)
	defer jsoniter.ConfigFastest.ReturnIterator(it)
	var out []*series
	var notes memberNotes
	readStrings := func(it *jsoniter.Iterator) []string {
		var ss []string
		it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
			ss = append(ss, it.ReadString())
			return true
		})
		return ss
	}
	status, errMsg := "", ""
	var failure error
	it.ReadObjectCB(func(it *jsoniter.Iterator, field string) bool {
		switch field {
		case "status":
			status = it.ReadString()
		case "error":
			errMsg = it.ReadString()
		case "warnings":
			notes.warnings = readStrings(it)
		case "infos":
			notes.infos = readStrings(it)
		case "data":
			it.ReadObjectCB(func(it *jsoniter.Iterator, field string) bool {
				switch field {
				case "resultType":
					if rt := it.ReadString(); rt != "matrix" && rt != "vector" {
						failure = fmt.Errorf("expected series, got a %s", rt)
					}
				case "result":
					it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
						s, err := decodeSeries(it, b)
						if err != nil {
							failure = err
							return false
						}
						out = append(out, s)
						return true
					})
				default:
					it.Skip()
				}
				return failure == nil
			})
		default:
			it.Skip()
		}
		return failure == nil
	})
	if failure != nil {
		return nil, notes, failure
	}
	if it.Error != nil {
		return nil, notes, fmt.Errorf("unreadable answer: %w", it.Error)
	}
	if status != "success" {
		return nil, notes, errors.New("query failed: " + errMsg)
	}
	return out, notes, nil
}

func decodeSeries(it *jsoniter.Iterator, b *labels.ScratchBuilder) (*series, error) {
	s := &series{}
	var failure error
	it.ReadObjectCB(func(it *jsoniter.Iterator, field string) bool {
		switch field {
		case "metric":
			b.Reset()
			it.ReadObjectCB(func(it *jsoniter.Iterator, name string) bool {
				b.Add(name, it.ReadString())
				return true
			})
			b.Sort()
			s.lset = b.Labels()
		case "values":
			it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
				failure = readPoint(it, s)
				return failure == nil
			})
		case "value":
			failure = readPoint(it, s)
		case "histograms", "histogram":
			failure = errNativeHistograms
			return false
		default:
			it.Skip()
		}
		return failure == nil
	})
	return s, failure
}

// readPoint reads one `[<unix seconds>, "<value>"]`.
func readPoint(it *jsoniter.Iterator, s *series) error {
	i := 0
	var t int64
	var failure error
	it.ReadArrayCB(func(it *jsoniter.Iterator) bool {
		if i == 0 {
			t = secondsToMillis(it.ReadFloat64())
		} else {
			v, err := strconv.ParseFloat(it.ReadString(), 64)
			if err != nil {
				failure = err
				return false
			}
			s.ts = append(s.ts, t)
			s.vs = append(s.vs, v)
		}
		i++
		return true
	})
	return failure
}

// encodeResult writes the API's "data" object for an engine result.
func encodeResult(v parser.Value) ([]byte, error) {
	st := jsoniter.ConfigCompatibleWithStandardLibrary.BorrowStream(nil)
	defer jsoniter.ConfigCompatibleWithStandardLibrary.ReturnStream(st)
	st.WriteObjectStart()
	st.WriteObjectField("resultType")
	st.WriteString(string(v.Type()))
	st.WriteMore()
	st.WriteObjectField("result")
	switch r := v.(type) {
	case promql.Vector:
		st.WriteArrayStart()
		for i, s := range r {
			if i > 0 {
				st.WriteMore()
			}
			if s.H != nil {
				return nil, errNativeHistograms
			}
			st.WriteObjectStart()
			writeMetric(st, s.Metric)
			st.WriteMore()
			st.WriteObjectField("value")
			writePoint(st, s.T, s.F)
			st.WriteObjectEnd()
		}
		st.WriteArrayEnd()
	case promql.Matrix:
		st.WriteArrayStart()
		for i, s := range r {
			if i > 0 {
				st.WriteMore()
			}
			if len(s.Histograms) > 0 {
				return nil, errNativeHistograms
			}
			st.WriteObjectStart()
			writeMetric(st, s.Metric)
			st.WriteMore()
			st.WriteObjectField("values")
			st.WriteArrayStart()
			for j, p := range s.Floats {
				if j > 0 {
					st.WriteMore()
				}
				writePoint(st, p.T, p.F)
			}
			st.WriteArrayEnd()
			st.WriteObjectEnd()
		}
		st.WriteArrayEnd()
	case promql.Scalar:
		writePoint(st, r.T, r.V)
	case promql.String:
		st.WriteArrayStart()
		jsonutil.MarshalTimestamp(r.T, st)
		st.WriteMore()
		st.WriteString(r.V)
		st.WriteArrayEnd()
	default:
		return nil, fmt.Errorf("unexpected result type %T", v)
	}
	st.WriteObjectEnd()
	if st.Error != nil {
		return nil, st.Error
	}
	return append([]byte(nil), st.Buffer()...), nil
}

func writeMetric(st *jsoniter.Stream, l labels.Labels) {
	st.WriteObjectField("metric")
	st.WriteObjectStart()
	first := true
	l.Range(func(lb labels.Label) {
		if !first {
			st.WriteMore()
		}
		first = false
		st.WriteObjectField(lb.Name)
		st.WriteString(lb.Value)
	})
	st.WriteObjectEnd()
}

func writePoint(st *jsoniter.Stream, t int64, f float64) {
	st.WriteArrayStart()
	jsonutil.MarshalTimestamp(t, st)
	st.WriteMore()
	jsonutil.MarshalFloat(f, st)
	st.WriteArrayEnd()
}
