package tail

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"
)

// goavro's native form is ambiguous on its own: a union's value is a
// one-entry map keyed by the branch's type name, and so is an Avro map with
// one entry ("labels": {"string": "x"} is a label named "string"). friendly
// therefore walks the value beside the writer schema, parsed into avroType.

// avroType is the part of an Avro schema friendly needs.
type avroType struct {
	// kind is "record", "enum", "fixed", "array", "map", "union", or a
	// primitive type name.
	kind     string
	name     string // full name of a record, enum or fixed
	logical  string // logicalType, "" for none
	scale    int    // decimal scale
	fields   map[string]*avroType
	elem     *avroType // array items, map values
	branches []*avroType
}

var primitives = map[string]bool{
	"null": true, "boolean": true, "int": true, "long": true,
	"float": true, "double": true, "bytes": true, "string": true,
}

// parseSchema parses an Avro schema's JSON text.
func parseSchema(text string) (*avroType, error) {
	if text == "" {
		return nil, errors.New("empty schema")
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	p := schemaParser{named: map[string]*avroType{}}
	return p.parse(raw, "")
}

type schemaParser struct {
	named map[string]*avroType // by full name
}

func (p *schemaParser) parse(s any, ns string) (*avroType, error) {
	switch s := s.(type) {
	case string:
		return p.ref(s, ns)
	case []any:
		u := &avroType{kind: "union"}
		for _, b := range s {
			bt, err := p.parse(b, ns)
			if err != nil {
				return nil, err
			}
			u.branches = append(u.branches, bt)
		}
		return u, nil
	case map[string]any:
		return p.parseObject(s, ns)
	}
	return nil, fmt.Errorf("schema element %T is not a string, array or object", s)
}

func (p *schemaParser) parseObject(s map[string]any, ns string) (*avroType, error) {
	tn, ok := s["type"].(string)
	if !ok {
		// {"type": {...}} or {"type": [...]}: the object only wraps its type.
		return p.parse(s["type"], ns)
	}
	logical, _ := s["logicalType"].(string)
	switch tn {
	case "record", "error", "enum", "fixed":
		name, _ := s["name"].(string)
		if name == "" {
			return nil, fmt.Errorf("%s without a name", tn)
		}
		if !strings.Contains(name, ".") {
			if n, ok := s["namespace"].(string); ok {
				ns = n
			}
			if ns != "" {
				name = ns + "." + name
			}
		}
		t := &avroType{kind: tn, name: name, logical: logical, scale: intAttr(s, "scale")}
		if tn == "error" {
			t.kind = "record"
		}
		p.named[name] = t // before the fields: a record may refer to itself
		if t.kind != "record" {
			return t, nil
		}
		inner := ""
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			inner = name[:i]
		}
		fields, _ := s["fields"].([]any)
		t.fields = make(map[string]*avroType, len(fields))
		for _, f := range fields {
			fm, ok := f.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("record %s: field is a %T, not an object", name, f)
			}
			fn, _ := fm["name"].(string)
			ft, err := p.parse(fm["type"], inner)
			if err != nil {
				return nil, fmt.Errorf("record %s field %s: %w", name, fn, err)
			}
			t.fields[fn] = ft
		}
		return t, nil
	case "array", "map":
		attr := "items"
		if tn == "map" {
			attr = "values"
		}
		elem, err := p.parse(s[attr], ns)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", tn, attr, err)
		}
		return &avroType{kind: tn, elem: elem}, nil
	}
	t, err := p.ref(tn, ns)
	if err != nil || logical == "" {
		return t, err
	}
	lt := *t
	lt.logical, lt.scale = logical, intAttr(s, "scale")
	return &lt, nil
}

// ref resolves a type name: a primitive, or a named type defined earlier.
func (p *schemaParser) ref(name, ns string) (*avroType, error) {
	if primitives[name] {
		return &avroType{kind: name}, nil
	}
	if !strings.Contains(name, ".") && ns != "" {
		if t, ok := p.named[ns+"."+name]; ok {
			return t, nil
		}
	}
	if t, ok := p.named[name]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("unknown type %q", name)
}

func intAttr(s map[string]any, key string) int {
	if n, ok := s[key].(json.Number); ok {
		if i, err := n.Int64(); err == nil {
			return int(i)
		}
	}
	return 0
}

// branch finds the union branch goavro named key: a full name for named
// types, "long.timestamp-millis" and the like for logical types, the type
// name otherwise.
func (t *avroType) branch(key string) *avroType {
	var only *avroType
	nonNull := 0
	for _, b := range t.branches {
		switch {
		case b.name != "" && b.name == key,
			b.name == "" && b.kind == key,
			b.logical != "" && strings.HasPrefix(key, b.kind+"."+b.logical):
			return b
		}
		if b.kind != "null" {
			only = b
			nonNull++
		}
	}
	if nonNull == 1 {
		return only
	}
	return nil
}

// friendly converts goavro's native form of a value of type t into values
// encoding/json renders as readable JSON. t may be nil (unknown schema): the
// value is then converted by its Go type alone, and unions stay wrapped.
func friendly(t *avroType, v any) any {
	if v == nil {
		return nil
	}
	if t != nil {
		switch t.kind {
		case "union":
			if m, ok := v.(map[string]any); ok && len(m) == 1 {
				for k, x := range m {
					return friendly(t.branch(k), x)
				}
			}
		case "record":
			if m, ok := v.(map[string]any); ok {
				out := make(map[string]any, len(m))
				for k, x := range m {
					out[k] = friendly(t.fields[k], x)
				}
				return out
			}
		case "map":
			if m, ok := v.(map[string]any); ok {
				out := make(map[string]any, len(m))
				for k, x := range m {
					out[k] = friendly(t.elem, x)
				}
				return out
			}
		case "array":
			if a, ok := v.([]any); ok {
				out := make([]any, len(a))
				for i, x := range a {
					out[i] = friendly(t.elem, x)
				}
				return out
			}
		}
	}
	return leaf(t, v)
}

// leaf converts a value by its Go type; t (which may be nil) refines dates
// and decimals. Containers without a schema are walked here too.
func leaf(t *avroType, v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = friendly(nil, x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = friendly(nil, x)
		}
		return out
	case time.Time:
		if t != nil && t.logical == "date" {
			return v.UTC().Format(time.DateOnly)
		}
		return v.UTC().Format(time.RFC3339Nano)
	case time.Duration:
		return v.String()
	case []byte:
		if utf8.Valid(v) {
			return string(v)
		}
		return base64Bytes{Base64: v}
	case float64:
		return finite(v)
	case float32:
		if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
			return finite(f)
		}
		return v
	case *big.Rat:
		if v == nil {
			return nil
		}
		if t != nil && t.logical == "decimal" {
			// A JSON number with exactly the schema's digits.
			return json.Number(v.FloatString(t.scale))
		}
		return v.RatString()
	}
	return v
}

// finite returns f, or a string for what JSON numbers cannot hold.
func finite(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return f
}
