package codecs

import (
	"fmt"
	"time"

	"github.com/linkedin/goavro/v2"
)

// Helpers for the hand-written conversions between the Go records and
// goavro's native form: a record is a map[string]any keyed by field name; a
// non-null union value is a one-entry map keyed by the branch's type name; an
// enum is its symbol; a map is a map[string]any; a timestamp logical type
// decodes to a time.Time (and encodes from an int64).

func optString(p *string) any {
	if p == nil {
		return nil
	}
	return goavro.Union("string", *p)
}

func optInt(p *int32) any {
	if p == nil {
		return nil
	}
	return goavro.Union("int", *p)
}

func optLong(p *int64) any {
	if p == nil {
		return nil
	}
	return goavro.Union("long", *p)
}

func optDouble(p *float64) any {
	if p == nil {
		return nil
	}
	return goavro.Union("double", *p)
}

// optBytes: a nil slice is null, a non-nil empty slice is empty bytes.
func optBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return goavro.Union("bytes", b)
}

// stringMap converts a map of strings; nil becomes an empty map.
func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func stringMapSize(m map[string]string) int {
	n := 1
	for k, v := range m {
		n += len(k) + len(v) + 4
	}
	return n
}

// fields reads the fields of one decoded native record, remembering the
// first type mismatch so the conversions can read every field and check
// once at the end.
type fields struct {
	m   map[string]any
	err error
}

func (f *fields) fail(name string, want string, got any) {
	if f.err == nil {
		f.err = fmt.Errorf("field %s: goavro decoded %T, want %s", name, got, want)
	}
}

func (f *fields) str(name string) string {
	v, ok := f.m[name].(string)
	if !ok {
		f.fail(name, "string", f.m[name])
	}
	return v
}

func (f *fields) int32(name string) int32 {
	v, ok := f.m[name].(int32)
	if !ok {
		f.fail(name, "int32", f.m[name])
	}
	return v
}

func (f *fields) int64(name string) int64 {
	v, ok := f.m[name].(int64)
	if !ok {
		f.fail(name, "int64", f.m[name])
	}
	return v
}

// millis reads a timestamp-millis field as milliseconds since the epoch.
func (f *fields) millis(name string) int64 {
	switch v := f.m[name].(type) {
	case time.Time:
		return v.UnixMilli()
	case int64:
		return v
	default:
		f.fail(name, "time.Time", v)
		return 0
	}
}

// micros reads a timestamp-micros field as microseconds since the epoch.
func (f *fields) micros(name string) int64 {
	switch v := f.m[name].(type) {
	case time.Time:
		return v.UnixMicro()
	case int64:
		return v
	default:
		f.fail(name, "time.Time", v)
		return 0
	}
}

// enum returns the index of the field's symbol in symbols.
func (f *fields) enum(name string, symbols []string) int {
	s, ok := f.m[name].(string)
	if !ok {
		f.fail(name, "enum symbol", f.m[name])
		return 0
	}
	for i, sym := range symbols {
		if sym == s {
			return i
		}
	}
	if f.err == nil {
		f.err = fmt.Errorf("field %s: unknown symbol %q", name, s)
	}
	return 0
}

// branch returns the value of a ["null", typ] union field, and false for null.
func (f *fields) branch(name, typ string) (any, bool) {
	switch v := f.m[name].(type) {
	case nil:
		return nil, false
	case map[string]any:
		x, ok := v[typ]
		if !ok || len(v) != 1 {
			f.fail(name, "union branch "+typ, v)
			return nil, false
		}
		return x, true
	default:
		f.fail(name, "union", v)
		return nil, false
	}
}

func (f *fields) optString(name string) *string {
	x, ok := f.branch(name, "string")
	if !ok {
		return nil
	}
	s, ok := x.(string)
	if !ok {
		f.fail(name, "string", x)
		return nil
	}
	return &s
}

func (f *fields) optInt32(name string) *int32 {
	x, ok := f.branch(name, "int")
	if !ok {
		return nil
	}
	i, ok := x.(int32)
	if !ok {
		f.fail(name, "int32", x)
		return nil
	}
	return &i
}

func (f *fields) optInt64(name string) *int64 {
	x, ok := f.branch(name, "long")
	if !ok {
		return nil
	}
	i, ok := x.(int64)
	if !ok {
		f.fail(name, "int64", x)
		return nil
	}
	return &i
}

func (f *fields) optDouble(name string) *float64 {
	x, ok := f.branch(name, "double")
	if !ok {
		return nil
	}
	d, ok := x.(float64)
	if !ok {
		f.fail(name, "float64", x)
		return nil
	}
	return &d
}

// optBytes returns a copy (goavro's bytes alias the input), non-nil even
// when empty, or nil for null.
func (f *fields) optBytes(name string) []byte {
	x, ok := f.branch(name, "bytes")
	if !ok {
		return nil
	}
	b, ok := x.([]byte)
	if !ok {
		f.fail(name, "[]byte", x)
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

// stringMap returns a non-nil map.
func (f *fields) stringMap(name string) map[string]string {
	m, ok := f.m[name].(map[string]any)
	if !ok {
		f.fail(name, "map", f.m[name])
		return map[string]string{}
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			f.fail(name+"["+k+"]", "string", v)
			continue
		}
		out[k] = s
	}
	return out
}

// record returns the nested record of a field or map value.
func asRecord(name string, v any) (*fields, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: goavro decoded %T, want a record", name, v)
	}
	return &fields{m: m}, nil
}
