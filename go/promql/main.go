//go:build js && wasm

// The hub loads this as WebAssembly and calls globalThis.meridianPromQL.plan / evaluate. Each takes
// and returns JSON text (raw member answers go in as bytes, untouched by JavaScript).
package main

import (
	"errors"
	"fmt"
	"syscall/js"
)

type failure struct {
	Type    string `json:"errorType"`
	Message string `json:"error"`
}

func errorJSON(err error) string {
	kind := "internal"
	var bd badData
	var ee execError
	switch {
	case errors.As(err, &bd):
		kind = "bad_data"
	case errors.As(err, &ee):
		kind = "execution"
	}
	b, _ := json.Marshal(map[string]failure{"failure": {Type: kind, Message: err.Error()}})
	return string(b)
}

// guard turns a panic into an internal error for this call: the Go program must outlive any
// one bad query, or every later call from the hub would fail.
func guard(f func(js.Value, []js.Value) any) func(js.Value, []js.Value) any {
	return func(this js.Value, args []js.Value) (out any) {
		defer func() {
			if r := recover(); r != nil {
				out = errorJSON(fmt.Errorf("PromQL engine: %v", r))
			}
		}()
		return f(this, args)
	}
}

func asJSON(v any, err error) string {
	if err != nil {
		return errorJSON(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return errorJSON(err)
	}
	return string(b)
}

// plan(requestJSON) → Plan JSON, or {"failure": {...}}.
func jsPlan(_ js.Value, args []js.Value) any {
	var req QueryRequest
	if err := json.Unmarshal([]byte(args[0].String()), &req); err != nil {
		return errorJSON(err)
	}
	return asJSON(plan(req))
}

// evaluate(requestJSON, start, end, step, members: string[], subs: number[], bodies: Uint8Array[],
// maxSamples, resolve?) → {data, warnings, infos, samples} with data as JSON text, or the JSON
// text of {"failure": {...}}. The request carries the query, its members and its central plan
// but no times (times in ms; step 0 for an instant query): a repeated query sends the same text,
// decoded once. subs[i] is the SubQuery ID bodies[i] answers, or -1 for a raw-sample Fetch.
// resolve(cluster, namespace, pod) returns [app, revision] of a pod the hub knows (revision ""
// when Meridian did not deploy it), else null.
func jsEvaluate(_ js.Value, args []js.Value) any {
	prep, err := preparedFor(args[0].String())
	if err != nil {
		return errorJSON(err)
	}
	times := timeRange{int64(args[1].Float()), int64(args[2].Float()), int64(args[3].Float())}
	names, subs, bodies := args[4], args[5], args[6]
	inputs := make([]Input, names.Length())
	for i := range inputs {
		b := bodies.Index(i)
		buf := make([]byte, b.Get("length").Int())
		js.CopyBytesToGo(buf, b)
		inputs[i] = Input{Member: names.Index(i).String(), Sub: subs.Index(i).Int(), Body: buf}
	}
	// args[9], when given: per input, its member's external labels as [name, value, …].
	if len(args) > 9 && args[9].Type() == js.TypeObject {
		for i := range inputs {
			if i >= args[9].Length() {
				break
			}
			ext := args[9].Index(i)
			for k := 0; k < ext.Length(); k++ {
				inputs[i].External = append(inputs[i].External, ext.Index(k).String())
			}
		}
	}
	var resolve resolveFunc
	if len(args) > 8 && args[8].Type() == js.TypeFunction {
		fn := args[8]
		resolve = func(cluster, namespace, pod string) (string, string, bool) {
			v := fn.Invoke(cluster, namespace, pod)
			if v.Type() != js.TypeObject {
				return "", "", false
			}
			str := func(x js.Value) string {
				if x.Type() == js.TypeString {
					return x.String()
				}
				return ""
			}
			return str(v.Index(0)), str(v.Index(1)), true
		}
	}
	ev, err := evaluate(prep, times, inputs, args[7].Int(), resolve)
	if err != nil {
		return errorJSON(err)
	}
	// An object rather than JSON text, so the (possibly large) data crosses to JavaScript once,
	// as a string the hub sends without parsing.
	unreadable := map[string]any{}
	for m, why := range ev.Unreadable {
		unreadable[m] = why
	}
	return js.ValueOf(map[string]any{
		"data":       string(ev.Data),
		"warnings":   toAny(ev.Warnings),
		"infos":      toAny(ev.Infos),
		"samples":    ev.Samples,
		"unreadable": unreadable,
	})
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// selectors(requestJSON) → MemberSelectors[] JSON, or {"failure": {...}}.
func jsSelectors(_ js.Value, args []js.Value) any {
	var req SelectorsRequest
	if err := json.Unmarshal([]byte(args[0].String()), &req); err != nil {
		return errorJSON(err)
	}
	return asJSON(memberSelectors(req))
}

// matchSeries(requestJSON) → boolean[] JSON (which series match any selector), or {"failure": {...}}.
func jsMatchSeries(_ js.Value, args []js.Value) any {
	var req MatchRequest
	if err := json.Unmarshal([]byte(args[0].String()), &req); err != nil {
		return errorJSON(err)
	}
	return asJSON(matchSeries(req))
}

func main() {
	js.Global().Set("meridianPromQL", js.ValueOf(map[string]any{
		"plan":        js.FuncOf(guard(jsPlan)),
		"evaluate":    js.FuncOf(guard(jsEvaluate)),
		"selectors":   js.FuncOf(guard(jsSelectors)),
		"matchSeries": js.FuncOf(guard(jsMatchSeries)),
	}))
	select {}
}
