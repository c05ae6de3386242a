//go:build js && wasm

// The hub loads this as WebAssembly and calls globalThis.meridianPromQL.plan / evaluate. Each takes
// and returns JSON text (raw member answers go in as bytes, untouched by JavaScript).
package main

import (
	"encoding/json"
	"errors"
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

// evaluate(requestJSON, members: string[], bodies: Uint8Array[], maxSamples) → {data, warnings,
// infos, samples} with data as JSON text, or the JSON text of {"failure": {...}}.
func jsEvaluate(_ js.Value, args []js.Value) any {
	var req QueryRequest
	if err := json.Unmarshal([]byte(args[0].String()), &req); err != nil {
		return errorJSON(err)
	}
	names, bodies := args[1], args[2]
	inputs := make([]Input, names.Length())
	for i := range inputs {
		b := bodies.Index(i)
		buf := make([]byte, b.Get("length").Int())
		js.CopyBytesToGo(buf, b)
		inputs[i] = Input{Member: names.Index(i).String(), Body: buf}
	}
	ev, err := evaluate(req, inputs, args[3].Int())
	if err != nil {
		return errorJSON(err)
	}
	// An object rather than JSON text, so the (possibly large) data crosses to JavaScript once,
	// as a string the hub sends without parsing.
	return js.ValueOf(map[string]any{
		"data":     string(ev.Data),
		"warnings": toAny(ev.Warnings),
		"infos":    toAny(ev.Infos),
		"samples":  ev.Samples,
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

func main() {
	js.Global().Set("meridianPromQL", js.ValueOf(map[string]any{
		"plan":      js.FuncOf(jsPlan),
		"evaluate":  js.FuncOf(jsEvaluate),
		"selectors": js.FuncOf(jsSelectors),
	}))
	select {}
}
