package codecs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// This file holds the schema model that resolution and the compatibility
// check work on: the whole schema (names, aliases, defaults, logical types),
// where validate.go's shape keeps only the binary layout.

// node is one schema. Named types are shared: a recursive schema is a graph.
type node struct {
	kind    kind
	name    string   // full name of a named type
	aliases []string // full names
	logical string   // logicalType, "" if none
	size    int      // fixed size
	symbols []string // enum symbols
	// enumDefault is the enum's default symbol, "" when it has none.
	enumDefault string
	fields      []*field // record fields
	items       *node    // array items
	values      *node    // map values
	branches    []*node  // union branches
}

type field struct {
	name    string
	aliases []string
	typ     *node
	// hasDefault is false when the field declares no default (a JSON null
	// default is a default).
	hasDefault bool
	// def builds a fresh native value of the default each call, so that a
	// caller may change what it gets.
	def func() any
}

// short is a named type's unqualified name.
func (n *node) short() string {
	if i := strings.LastIndexByte(n.name, '.'); i >= 0 {
		return n.name[i+1:]
	}
	return n.name
}

// typeName names the node as goavro keys a union branch: the full name for
// named types, "array" and "map", the primitive name, with ".<logicalType>"
// for logical types of primitives.
func (n *node) typeName() string {
	switch n.kind {
	case kindRecord, kindEnum, kindFixed:
		return n.name
	case kindArray:
		return "array"
	case kindMap:
		return "map"
	}
	s := primitiveNames[n.kind]
	if n.logical != "" {
		s += "." + n.logical
	}
	return s
}

// describe names the node for messages: "record logstream.LogEvent", "long".
func (n *node) describe() string {
	switch n.kind {
	case kindRecord:
		return "record " + n.name
	case kindEnum:
		return "enum " + n.name
	case kindFixed:
		return fmt.Sprintf("fixed %s (size %d)", n.name, n.size)
	case kindArray:
		return "array"
	case kindMap:
		return "map"
	case kindUnion:
		parts := make([]string, len(n.branches))
		for i, b := range n.branches {
			parts[i] = b.typeName()
		}
		return "union [" + strings.Join(parts, ", ") + "]"
	}
	return n.typeName()
}

var primitiveNames = map[kind]string{
	kindNull: "null", kindBoolean: "boolean", kindInt: "int", kindLong: "long",
	kindFloat: "float", kindDouble: "double", kindBytes: "bytes", kindString: "string",
}

// parseSchema parses schema text into a node graph, checking every default
// against its field's type.
func parseSchema(schema string) (*node, error) {
	dec := json.NewDecoder(strings.NewReader(schema))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("schema is not JSON: %w", err)
	}
	p := &nodeParser{named: map[string]*node{}}
	n, err := p.parse(v, "")
	if err != nil {
		return nil, err
	}
	// Defaults are converted after the whole graph exists, because a
	// default may be of a named type defined later in the file.
	for _, d := range p.defaults {
		if err := d(); err != nil {
			return nil, err
		}
	}
	return n, nil
}

type nodeParser struct {
	named    map[string]*node
	defaults []func() error
}

func (p *nodeParser) parse(v any, ns string) (*node, error) {
	switch t := v.(type) {
	case string:
		return p.lookup(t, ns)
	case []any:
		u := &node{kind: kindUnion}
		for _, b := range t {
			n, err := p.parse(b, ns)
			if err != nil {
				return nil, err
			}
			u.branches = append(u.branches, n)
		}
		return u, nil
	case map[string]any:
		return p.object(t, ns)
	}
	return nil, fmt.Errorf("unexpected schema element %v", v)
}

func (p *nodeParser) lookup(name, ns string) (*node, error) {
	for k, s := range primitiveNames {
		if s == name {
			return &node{kind: k}, nil
		}
	}
	if n, ok := p.named[fullName(name, ns)]; ok {
		return n, nil
	}
	if n, ok := p.named[name]; ok {
		return n, nil
	}
	return nil, fmt.Errorf("unknown type %q", name)
}

func stringsOf(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func (p *nodeParser) object(obj map[string]any, ns string) (*node, error) {
	typ, _ := obj["type"].(string)
	logical, _ := obj["logicalType"].(string)
	switch typ {
	case "record", "error", "enum", "fixed":
		name, _ := obj["name"].(string)
		if name == "" {
			return nil, fmt.Errorf("%s without a name", typ)
		}
		if s, ok := obj["namespace"].(string); ok && !strings.Contains(name, ".") {
			ns = s
		}
		full := fullName(name, ns)
		if i := strings.LastIndexByte(full, '.'); i >= 0 {
			ns = full[:i]
		} else {
			ns = ""
		}
		n := &node{name: full}
		for _, a := range stringsOf(obj["aliases"]) {
			n.aliases = append(n.aliases, fullName(a, ns))
		}
		p.named[full] = n
		switch typ {
		case "enum":
			n.kind = kindEnum
			n.symbols = stringsOf(obj["symbols"])
			if d, ok := obj["default"].(string); ok {
				if !slices.Contains(n.symbols, d) {
					return nil, fmt.Errorf("enum %s: default %q is not one of its symbols", full, d)
				}
				n.enumDefault = d
			}
		case "fixed":
			n.kind = kindFixed
			size, err := intOf(obj["size"])
			if err != nil || size < 0 {
				return nil, fmt.Errorf("fixed %s: bad size %v", full, obj["size"])
			}
			n.size = size
			n.logical = logical
		default:
			n.kind = kindRecord
			list, _ := obj["fields"].([]any)
			for _, fv := range list {
				fo, _ := fv.(map[string]any)
				fname, _ := fo["name"].(string)
				if fname == "" {
					return nil, fmt.Errorf("record %s: a field without a name", full)
				}
				ft, err := p.parse(fo["type"], ns)
				if err != nil {
					return nil, fmt.Errorf("record %s field %s: %w", full, fname, err)
				}
				f := &field{name: fname, aliases: stringsOf(fo["aliases"]), typ: ft}
				if dv, ok := fo["default"]; ok {
					f.hasDefault = true
					p.defaults = append(p.defaults, func() error {
						mk, err := defaultMaker(ft, dv)
						if err != nil {
							return fmt.Errorf("record %s field %s: default %s: %w", full, fname, jsonText(dv), err)
						}
						f.def = mk
						return nil
					})
				}
				n.fields = append(n.fields, f)
			}
		}
		return n, nil
	case "array":
		items, err := p.parse(obj["items"], ns)
		if err != nil {
			return nil, err
		}
		return &node{kind: kindArray, items: items}, nil
	case "map":
		values, err := p.parse(obj["values"], ns)
		if err != nil {
			return nil, err
		}
		return &node{kind: kindMap, values: values}, nil
	}
	// A primitive written as an object, possibly with a logical type.
	n, err := p.lookup(typ, ns)
	if err != nil {
		return nil, err
	}
	if n.kind <= kindString { // a fresh primitive node: safe to annotate
		n.logical = logical
	}
	return n, nil
}

func intOf(v any) (int, error) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("not a number")
	}
	i, err := num.Int64()
	if err != nil || i > math.MaxInt32 {
		return 0, fmt.Errorf("not an int")
	}
	return int(i), nil
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// defaultMaker checks a JSON default against n (per the specification: a
// union's default is of its first branch; bytes and fixed defaults are
// strings of code points 0-255) and returns a function building its native
// form, as goavro would decode it.
func defaultMaker(n *node, v any) (func() any, error) {
	switch n.kind {
	case kindNull:
		if v != nil {
			return nil, errors.New("want null")
		}
		return func() any { return nil }, nil
	case kindBoolean:
		b, ok := v.(bool)
		if !ok {
			return nil, errors.New("want a boolean")
		}
		return func() any { return b }, nil
	case kindInt, kindLong:
		num, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("want an integer for %s", n.typeName())
		}
		i, err := num.Int64()
		if err != nil {
			return nil, fmt.Errorf("want an integer for %s, got %s", n.typeName(), num)
		}
		if n.kind == kindInt {
			if i < math.MinInt32 || i > math.MaxInt32 {
				return nil, fmt.Errorf("%d is out of range for int", i)
			}
			nat := fromRaw(n, int32(i))
			return func() any { return nat }, nil
		}
		nat := fromRaw(n, i)
		return func() any { return nat }, nil
	case kindFloat, kindDouble:
		num, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("want a number for %s", n.typeName())
		}
		f, err := num.Float64()
		if err != nil {
			return nil, err
		}
		if n.kind == kindFloat {
			f32 := float32(f)
			return func() any { return f32 }, nil
		}
		return func() any { return f }, nil
	case kindString:
		s, ok := v.(string)
		if !ok {
			return nil, errors.New("want a string")
		}
		return func() any { return s }, nil
	case kindBytes, kindFixed:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("want a string (code points 0-255) for %s", n.typeName())
		}
		b, err := codePoints(s)
		if err != nil {
			return nil, err
		}
		if n.kind == kindFixed && len(b) != n.size {
			return nil, fmt.Errorf("want %d bytes for %s, got %d", n.size, n.name, len(b))
		}
		return func() any { return bytes.Clone(b) }, nil
	case kindEnum:
		s, ok := v.(string)
		if !ok || !slices.Contains(n.symbols, s) {
			return nil, fmt.Errorf("want one of the symbols %v of %s", n.symbols, n.name)
		}
		return func() any { return s }, nil
	case kindArray:
		list, ok := v.([]any)
		if !ok {
			return nil, errors.New("want a JSON array")
		}
		makers := make([]func() any, len(list))
		for i, x := range list {
			mk, err := defaultMaker(n.items, x)
			if err != nil {
				return nil, fmt.Errorf("item %d: %w", i, err)
			}
			makers[i] = mk
		}
		return func() any {
			out := make([]any, len(makers))
			for i, mk := range makers {
				out[i] = mk()
			}
			return out
		}, nil
	case kindMap:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, errors.New("want a JSON object")
		}
		makers := make(map[string]func() any, len(obj))
		for k, x := range obj {
			mk, err := defaultMaker(n.values, x)
			if err != nil {
				return nil, fmt.Errorf("key %q: %w", k, err)
			}
			makers[k] = mk
		}
		return mapMaker(makers), nil
	case kindRecord:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("want a JSON object for record %s", n.name)
		}
		makers := make(map[string]func() any, len(n.fields))
		for _, f := range n.fields {
			x, ok := obj[f.name]
			switch {
			case ok:
				mk, err := defaultMaker(f.typ, x)
				if err != nil {
					return nil, fmt.Errorf("field %s: %w", f.name, err)
				}
				makers[f.name] = mk
			case f.hasDefault:
				// The field's own default; it may not be converted yet
				// when defaults nest, so look it up at call time.
				makers[f.name] = func() any { return f.def() }
			default:
				return nil, fmt.Errorf("field %s is missing and has no default", f.name)
			}
		}
		return mapMaker(makers), nil
	case kindUnion:
		if len(n.branches) == 0 {
			return nil, errors.New("empty union")
		}
		first := n.branches[0]
		mk, err := defaultMaker(first, v)
		if err != nil {
			return nil, fmt.Errorf("a union's default must be of its first branch (%s): %w", first.typeName(), err)
		}
		if first.kind == kindNull {
			return mk, nil
		}
		name := first.typeName()
		return func() any { return map[string]any{name: mk()} }, nil
	}
	return nil, fmt.Errorf("unsupported type %v", n.kind)
}

// mapMaker builds a fresh map (a map or record default) from the makers of
// its values.
func mapMaker(makers map[string]func() any) func() any {
	return func() any {
		out := make(map[string]any, len(makers))
		for k, mk := range makers {
			out[k] = mk()
		}
		return out
	}
}

func codePoints(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i, r := range s {
		if r == utf8.RuneError || r > 255 {
			return nil, fmt.Errorf("character %d is not a code point 0-255", i)
		}
		out = append(out, byte(r))
	}
	return out, nil
}

// Logical types. goavro decodes some logical types to Go types (timestamps
// and dates to time.Time, times of day to time.Duration); resolution, which
// the specification defines on the underlying types, converts through them.

// toRaw turns the native value of a logical type into its underlying int32
// or int64.
func toRaw(n *node, v any) any {
	switch n.logical {
	case "timestamp-millis", "local-timestamp-millis":
		if t, ok := v.(time.Time); ok {
			return t.UnixMilli()
		}
	case "timestamp-micros", "local-timestamp-micros":
		if t, ok := v.(time.Time); ok {
			return t.UnixMicro()
		}
	case "date":
		if t, ok := v.(time.Time); ok {
			return int32(t.Unix() / 86400)
		}
	case "time-millis":
		if d, ok := v.(time.Duration); ok {
			return int32(d / time.Millisecond)
		}
	case "time-micros":
		if d, ok := v.(time.Duration); ok {
			return int64(d / time.Microsecond)
		}
	}
	return v
}

// fromRaw is the inverse of toRaw: it gives what goavro decodes for n.
func fromRaw(n *node, v any) any {
	switch n.logical {
	case "timestamp-millis":
		if i, ok := v.(int64); ok {
			return time.UnixMilli(i).UTC()
		}
	case "timestamp-micros":
		if i, ok := v.(int64); ok {
			return time.UnixMicro(i).UTC()
		}
	case "date":
		if i, ok := v.(int32); ok {
			return time.Unix(int64(i)*86400, 0).UTC()
		}
	case "time-millis":
		if i, ok := v.(int32); ok {
			return time.Duration(i) * time.Millisecond
		}
	case "time-micros":
		if i, ok := v.(int64); ok {
			return time.Duration(i) * time.Microsecond
		}
	}
	return v
}

// hasGoLogical reports whether goavro gives n's values a Go type of their own.
func hasGoLogical(n *node) bool {
	switch n.logical {
	case "timestamp-millis", "timestamp-micros", "date", "time-millis", "time-micros":
		return true
	}
	return false
}
