// Prometheus 2's label names: its parser takes no quoted metric or label names (`{"my.metric"}`,
// `sum by ("a.b")`) and its functions take only legacy label names, where the hub's engine
// (Prometheus 3) takes any UTF-8. A query a fleet of Prometheus 2 members would refuse must not
// succeed centrally, so the hub refuses it as Prometheus 2 does, with its error texts.
package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
)

// legacyNames returns the error Prometheus 2 gives for query (parsed as expr), or nil when it
// takes it: a quoted name where its grammar wants an identifier (400), else a function argument
// naming a label it cannot hold (422, as its evaluation says it).
func legacyNames(query string, expr parser.Expr) error {
	if err := legacySyntax(query); err != nil {
		return err
	}
	var err error
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		if err != nil {
			return err
		}
		err = legacyArgs(node)
		return err
	})
	return err
}

// legacySyntax finds the first string token where Prometheus 2 wants an identifier: a label or
// metric name in braces, or a label in a grouping list.
func legacySyntax(query string) error {
	l := parser.Lex(query)
	var it parser.Item
	braces, grouping := false, false
	prev := parser.ItemType(0)
	for {
		l.NextItem(&it)
		if it.Typ == parser.EOF || it.Typ == parser.ERROR {
			return nil
		}
		switch it.Typ {
		case parser.LEFT_BRACE:
			braces = true
		case parser.RIGHT_BRACE:
			braces = false
		case parser.LEFT_PAREN:
			switch prev {
			case parser.BY, parser.WITHOUT, parser.ON, parser.IGNORING, parser.GROUP_LEFT, parser.GROUP_RIGHT:
				grouping = true
			}
		case parser.RIGHT_PAREN:
			grouping = false
		case parser.STRING:
			if braces && (prev == parser.LEFT_BRACE || prev == parser.COMMA) {
				return legacyParseError(query, it, "in label matching, expected identifier or \"}\"")
			}
			if grouping {
				return legacyParseError(query, it, "in grouping opts, expected label")
			}
		}
		prev = it.Typ
	}
}

// legacyParseError is Prometheus 2's text for an unexpected string token at it.Pos.
func legacyParseError(query string, it parser.Item, expected string) error {
	pos := int(it.Pos)
	line, lastBreak := 1, -1
	for i, c := range query[:pos] {
		if c == '\n' {
			line, lastBreak = line+1, i
		}
	}
	return badData{fmt.Sprintf("invalid parameter \"query\": %d:%d: parse error: unexpected string %s %s",
		line, pos-lastBreak, it.String(), expected)}
}

func stringArg(e parser.Expr) (string, bool) {
	if s, ok := unparen(e).(*parser.StringLiteral); ok {
		return s.Val, true
	}
	return "", false
}

func legacyLabel(name string) bool { return model.LegacyValidation.IsValidLabelName(name) }

// legacyArgs checks one node's label-name arguments as Prometheus 2's evaluation does (a regex
// that does not compile is left to the engine, which reports it first as Prometheus 2 does).
func legacyArgs(node parser.Node) error {
	switch n := node.(type) {
	case *parser.AggregateExpr:
		if n.Op == parser.COUNT_VALUES && n.Param != nil {
			if v, ok := stringArg(n.Param); ok && !legacyLabel(v) {
				return execError{fmt.Sprintf("invalid label name %q", v)}
			}
		}
	case *parser.Call:
		switch n.Func.Name {
		case "label_replace":
			if len(n.Args) < 5 {
				return nil
			}
			dst, ok := stringArg(n.Args[1])
			re, okRe := stringArg(n.Args[3])
			if !ok || !okRe {
				return nil
			}
			if _, err := regexp.Compile("^(?:" + re + ")$"); err != nil {
				return nil
			}
			if !legacyLabel(dst) {
				return execError{"invalid destination label name in label_replace(): " + dst}
			}
		case "label_join":
			for _, a := range n.Args[min(3, len(n.Args)):] {
				if src, ok := stringArg(a); ok && !legacyLabel(src) {
					return execError{"invalid source label name in label_join(): " + src}
				}
			}
			if len(n.Args) > 1 {
				if dst, ok := stringArg(n.Args[1]); ok && !legacyLabel(dst) {
					return execError{"invalid destination label name in label_join(): " + dst}
				}
			}
		}
	}
	return nil
}

// duplicateSeries is the many-to-many refusal, which lists the two series of the match group.
var duplicateSeries = regexp.MustCompile(`^(found duplicate series for the match group \{.*\} on the (?:left|right) hand-side of the operation: \[)(\{.*\}), (\{.*\})(\];many-to-many matching not allowed.*)$`)

// legacyDuplicateOrder lists the two series of a many-to-many refusal in Prometheus 2's order.
// Prometheus 3 sorts them; Prometheus 2 names the series it found second (later in the
// operand, which storage returns sorted by labels) first.
func legacyDuplicateOrder(msg string) string {
	m := duplicateSeries.FindStringSubmatch(msg)
	if m == nil || strings.Count(m[2]+m[3], "}, {") > 0 {
		return msg // one series' text holds the separator: leave it as it is
	}
	return m[1] + m[3] + ", " + m[2] + m[4]
}
