package o2test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode"
)

// query is the subset of OpenObserve's SQL the server answers:
//
//	SELECT * | col [, col]... FROM "stream"
//	  [WHERE col op literal [AND col op literal]...]
//	  [ORDER BY col [ASC|DESC] [, ...]] [LIMIT n]
//
// with op one of = != <> >= <= > < and a literal a number or a
// 'string' (” escapes a quote). Identifiers may be "double-quoted".
type query struct {
	columns []string // nil for *
	stream  string
	where   []condition
	order   []orderBy
	limit   int // -1: none
}

type condition struct {
	column string
	op     string
	value  any // json.Number or string
}

type orderBy struct {
	column string
	desc   bool
}

type token struct {
	kind string // ident, qident, string, number, op, comma, star, eof
	text string
}

func lex(sql string) ([]token, error) {
	var out []token
	rs := []rune(sql)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == ',':
			out = append(out, token{"comma", ","})
			i++
		case r == '*':
			out = append(out, token{"star", "*"})
			i++
		case r == '\'' || r == '"':
			q := r
			var sb strings.Builder
			j := i + 1
			for {
				if j >= len(rs) {
					return nil, fmt.Errorf("unterminated %c", q)
				}
				if rs[j] == q {
					if j+1 < len(rs) && rs[j+1] == q {
						sb.WriteRune(q)
						j += 2
						continue
					}
					break
				}
				sb.WriteRune(rs[j])
				j++
			}
			kind := "string"
			if q == '"' {
				kind = "qident"
			}
			out = append(out, token{kind, sb.String()})
			i = j + 1
		case strings.ContainsRune("=<>!", r):
			j := i + 1
			if j < len(rs) && (rs[j] == '=' || (r == '<' && rs[j] == '>')) {
				j++
			}
			op := string(rs[i:j])
			if op == "!" {
				return nil, fmt.Errorf("bad operator %q", op)
			}
			out = append(out, token{"op", op})
			i = j
		case r == '-' || unicode.IsDigit(r):
			j := i + 1
			for j < len(rs) && (unicode.IsDigit(rs[j]) || rs[j] == '.' || rs[j] == 'e' || rs[j] == 'E') {
				j++
			}
			text := string(rs[i:j])
			if _, err := strconv.ParseFloat(text, 64); err != nil {
				return nil, fmt.Errorf("bad number %q", text)
			}
			out = append(out, token{"number", text})
			i = j
		case r == '_' || unicode.IsLetter(r):
			j := i + 1
			for j < len(rs) && (rs[j] == '_' || unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j])) {
				j++
			}
			out = append(out, token{"ident", string(rs[i:j])})
			i = j
		default:
			return nil, fmt.Errorf("unexpected %q", r)
		}
	}
	return append(out, token{"eof", ""}), nil
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != "eof" {
		p.pos++
	}
	return t
}

func (p *parser) keyword(kw string) bool {
	t := p.peek()
	if t.kind == "ident" && strings.EqualFold(t.text, kw) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expect(kw string) error {
	if !p.keyword(kw) {
		return fmt.Errorf("expected %s, found %q", kw, p.peek().text)
	}
	return nil
}

func (p *parser) ident() (string, error) {
	t := p.next()
	switch t.kind {
	case "ident":
		return strings.ToLower(t.text), nil // unquoted identifiers fold to lowercase
	case "qident":
		return t.text, nil
	}
	return "", fmt.Errorf("expected a column or stream name, found %q", t.text)
}

func parseSQL(sql string) (*query, error) {
	toks, err := lex(sql)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	q := &query{limit: -1}
	if err := p.expect("SELECT"); err != nil {
		return nil, err
	}
	if p.peek().kind == "star" {
		p.next()
	} else {
		for {
			c, err := p.ident()
			if err != nil {
				return nil, err
			}
			q.columns = append(q.columns, c)
			if p.peek().kind != "comma" {
				break
			}
			p.next()
		}
	}
	if err := p.expect("FROM"); err != nil {
		return nil, err
	}
	if q.stream, err = p.ident(); err != nil {
		return nil, err
	}
	if p.keyword("WHERE") {
		for {
			var c condition
			if c.column, err = p.ident(); err != nil {
				return nil, err
			}
			op := p.next()
			if op.kind != "op" {
				return nil, fmt.Errorf("expected an operator after %s, found %q", c.column, op.text)
			}
			c.op = op.text
			v := p.next()
			switch v.kind {
			case "number":
				c.value = json.Number(v.text)
			case "string":
				c.value = v.text
			default:
				return nil, fmt.Errorf("expected a literal after %s %s, found %q", c.column, c.op, v.text)
			}
			q.where = append(q.where, c)
			if !p.keyword("AND") {
				break
			}
		}
	}
	if p.keyword("ORDER") {
		if err := p.expect("BY"); err != nil {
			return nil, err
		}
		for {
			var o orderBy
			if o.column, err = p.ident(); err != nil {
				return nil, err
			}
			if p.keyword("DESC") {
				o.desc = true
			} else {
				p.keyword("ASC")
			}
			q.order = append(q.order, o)
			if p.peek().kind != "comma" {
				break
			}
			p.next()
		}
	}
	if p.keyword("LIMIT") {
		t := p.next()
		n, err := strconv.Atoi(t.text)
		if t.kind != "number" || err != nil || n < 0 {
			return nil, fmt.Errorf("bad LIMIT %q", t.text)
		}
		q.limit = n
	}
	if t := p.peek(); t.kind != "eof" {
		return nil, fmt.Errorf("unexpected %q", t.text)
	}
	return q, nil
}

// referenced lists every column the query names.
func (q *query) referenced() []string {
	cols := append([]string(nil), q.columns...)
	for _, c := range q.where {
		cols = append(cols, c.column)
	}
	for _, o := range q.order {
		cols = append(cols, o.column)
	}
	return cols
}

// compare orders two stored or literal values: numbers numerically (as
// integers when both are), strings bytewise. ok is false for values of
// different kinds, which no condition matches.
func compare(a, b any) (c int, ok bool) {
	switch x := a.(type) {
	case json.Number:
		y, isNum := b.(json.Number)
		if !isNum {
			return 0, false
		}
		xi, err1 := strconv.ParseInt(x.String(), 10, 64)
		yi, err2 := strconv.ParseInt(y.String(), 10, 64)
		if err1 == nil && err2 == nil {
			return cmp3(xi, yi), true
		}
		xf, err1 := x.Float64()
		yf, err2 := y.Float64()
		if err1 != nil || err2 != nil {
			return 0, false
		}
		return cmp3(xf, yf), true
	case string:
		y, isStr := b.(string)
		if !isStr {
			return 0, false
		}
		return strings.Compare(x, y), true
	case bool:
		y, isBool := b.(bool)
		if !isBool {
			return 0, false
		}
		xi, yi := 0, 0
		if x {
			xi = 1
		}
		if y {
			yi = 1
		}
		return cmp3(xi, yi), true
	}
	return 0, false
}

func cmp3[T int | int64 | float64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (c condition) match(doc map[string]any) bool {
	v, ok := doc[c.column]
	if !ok {
		return false // NULL matches no comparison
	}
	d, ok := compare(v, c.value)
	if !ok {
		return false
	}
	switch c.op {
	case "=":
		return d == 0
	case "!=", "<>":
		return d != 0
	case ">=":
		return d >= 0
	case "<=":
		return d <= 0
	case ">":
		return d > 0
	case "<":
		return d < 0
	}
	return false
}
