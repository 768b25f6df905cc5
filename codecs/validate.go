package codecs

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
)

// This file holds the pre-check run on every body before goavro sees it. It
// walks the Avro binary encoding against the schema without allocating and
// rejects anything goavro would choke on or over-allocate for: truncation,
// trailing bytes, varints longer than their type allows, lengths and block
// counts that run past the end of the data, and out-of-range union and enum
// indexes.

type kind uint8

const (
	kindNull kind = iota
	kindBoolean
	kindInt
	kindLong
	kindFloat
	kindDouble
	kindBytes
	kindString
	kindFixed
	kindEnum
	kindRecord
	kindMap
	kindArray
	kindUnion
)

// shape is the part of a schema that determines the binary layout.
type shape struct {
	kind kind
	name string // full name of a named type, for messages
	n    int    // fixed size, or number of enum symbols
	// symbols are the enum's symbols.
	symbols []string
	subs    []*shape // record fields or union branches
	// fieldNames are the record's field names, for messages.
	fieldNames []string
	elem       *shape // map values or array items
}

// maxDepth bounds nesting while walking a body (schemas may be recursive).
const maxDepth = 64

var errTruncated = errors.New("truncated")

// parseShape builds the shape of the schema text.
func parseShape(schema string) (*shape, error) {
	var v any
	if err := json.Unmarshal([]byte(schema), &v); err != nil {
		return nil, fmt.Errorf("schema is not JSON: %w", err)
	}
	p := shapeParser{named: map[string]*shape{}}
	return p.parse(v, "")
}

type shapeParser struct {
	named map[string]*shape
}

func fullName(name, namespace string) string {
	if strings.Contains(name, ".") || namespace == "" {
		return name
	}
	return namespace + "." + name
}

func (p *shapeParser) parse(v any, ns string) (*shape, error) {
	switch t := v.(type) {
	case string:
		return p.parseName(t, ns)
	case []any:
		u := &shape{kind: kindUnion}
		for _, b := range t {
			s, err := p.parse(b, ns)
			if err != nil {
				return nil, err
			}
			u.subs = append(u.subs, s)
		}
		if len(u.subs) == 0 {
			return nil, errors.New("empty union")
		}
		return u, nil
	case map[string]any:
		return p.parseObject(t, ns)
	default:
		return nil, fmt.Errorf("unexpected schema element %T", v)
	}
}

func (p *shapeParser) parseName(name, ns string) (*shape, error) {
	switch name {
	case "null":
		return &shape{kind: kindNull}, nil
	case "boolean":
		return &shape{kind: kindBoolean}, nil
	case "int":
		return &shape{kind: kindInt}, nil
	case "long":
		return &shape{kind: kindLong}, nil
	case "float":
		return &shape{kind: kindFloat}, nil
	case "double":
		return &shape{kind: kindDouble}, nil
	case "bytes":
		return &shape{kind: kindBytes}, nil
	case "string":
		return &shape{kind: kindString}, nil
	}
	if s, ok := p.named[fullName(name, ns)]; ok {
		return s, nil
	}
	if s, ok := p.named[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("unknown type %q", name)
}

func (p *shapeParser) define(obj map[string]any, ns string, s *shape) (string, error) {
	name, _ := obj["name"].(string)
	if name == "" {
		return "", errors.New("named type without a name")
	}
	if n, ok := obj["namespace"].(string); ok && !strings.Contains(name, ".") {
		ns = n
	}
	full := fullName(name, ns)
	if _, dup := p.named[full]; dup {
		return "", fmt.Errorf("type %q defined twice", full)
	}
	s.name = full
	p.named[full] = s
	// The namespace that applies inside the type is the full name's.
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		return full[:i], nil
	}
	return "", nil
}

func (p *shapeParser) parseObject(obj map[string]any, ns string) (*shape, error) {
	typ := obj["type"]
	switch t := typ.(type) {
	case string:
		switch t {
		case "record", "error":
			s := &shape{kind: kindRecord}
			inner, err := p.define(obj, ns, s)
			if err != nil {
				return nil, err
			}
			fields, _ := obj["fields"].([]any)
			for _, f := range fields {
				fm, ok := f.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("record %s: field is %T", s.name, f)
				}
				fname, _ := fm["name"].(string)
				fs, err := p.parse(fm["type"], inner)
				if err != nil {
					return nil, fmt.Errorf("record %s field %s: %w", s.name, fname, err)
				}
				s.subs = append(s.subs, fs)
				s.fieldNames = append(s.fieldNames, fname)
			}
			return s, nil
		case "enum":
			s := &shape{kind: kindEnum}
			if _, err := p.define(obj, ns, s); err != nil {
				return nil, err
			}
			syms, _ := obj["symbols"].([]any)
			if len(syms) == 0 {
				return nil, fmt.Errorf("enum %s without symbols", s.name)
			}
			for _, sym := range syms {
				str, ok := sym.(string)
				if !ok {
					return nil, fmt.Errorf("enum %s: symbol is %T", s.name, sym)
				}
				s.symbols = append(s.symbols, str)
			}
			s.n = len(syms)
			return s, nil
		case "fixed":
			s := &shape{kind: kindFixed}
			if _, err := p.define(obj, ns, s); err != nil {
				return nil, err
			}
			size, ok := obj["size"].(float64)
			if !ok || size < 0 || size != math.Trunc(size) || size > math.MaxInt32 {
				return nil, fmt.Errorf("fixed %s: bad size", s.name)
			}
			s.n = int(size)
			return s, nil
		case "map":
			elem, err := p.parse(obj["values"], ns)
			if err != nil {
				return nil, fmt.Errorf("map values: %w", err)
			}
			return &shape{kind: kindMap, elem: elem}, nil
		case "array":
			elem, err := p.parse(obj["items"], ns)
			if err != nil {
				return nil, fmt.Errorf("array items: %w", err)
			}
			return &shape{kind: kindArray, elem: elem}, nil
		default:
			// A primitive, possibly with a logical type: the logical type
			// does not change the binary layout.
			return p.parseName(t, ns)
		}
	case nil:
		return nil, errors.New("schema object without a type")
	default:
		// {"type": {...}} or {"type": [...]}
		return p.parse(t, ns)
	}
}

// check walks one complete encoded value of shape s in body and reports the
// first problem, including bytes left over after it.
func (s *shape) check(body []byte) error {
	rest, err := s.skip(body, 0)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d trailing bytes after the record", len(rest))
	}
	return nil
}

// varint reads one zig-zag varint of at most maxBytes bytes and returns its
// raw (still zig-zagged) value.
func varint(b []byte, maxBytes int) (uint64, []byte, error) {
	var v uint64
	for i := 0; i < len(b); i++ {
		if i == maxBytes {
			return 0, nil, fmt.Errorf("varint longer than %d bytes", maxBytes)
		}
		c := b[i]
		if i == 9 && c > 1 {
			// The tenth byte of a long holds only its top bit.
			return 0, nil, errors.New("varint overflows 64 bits")
		}
		v |= uint64(c&0x7f) << (7 * uint(i))
		if c&0x80 == 0 {
			return v, b[i+1:], nil
		}
	}
	return 0, nil, errTruncated
}

func readLong(b []byte) (int64, []byte, error) {
	u, rest, err := varint(b, 10)
	if err != nil {
		return 0, nil, err
	}
	return int64(u>>1) ^ -int64(u&1), rest, nil
}

func readInt(b []byte) ([]byte, error) {
	u, rest, err := varint(b, 5)
	if err != nil {
		return nil, err
	}
	if u > math.MaxUint32 {
		return nil, errors.New("int overflows 32 bits")
	}
	return rest, nil
}

// readLen reads a bytes or string length and checks it fits in b.
func readLen(b []byte) (int, []byte, error) {
	n, rest, err := readLong(b)
	if err != nil {
		return 0, nil, err
	}
	if n < 0 {
		return 0, nil, fmt.Errorf("negative length %d", n)
	}
	if n > int64(len(rest)) {
		return 0, nil, fmt.Errorf("length %d runs past the end of the data: %w", n, errTruncated)
	}
	return int(n), rest, nil
}

// readIndex reads a union branch or enum symbol index in [0, n).
func readIndex(b []byte, n int, what string) (int, []byte, error) {
	i, rest, err := readLong(b)
	if err != nil {
		return 0, nil, err
	}
	if i < 0 || i >= int64(n) {
		return 0, nil, fmt.Errorf("%s index %d out of range [0, %d)", what, i, n)
	}
	return int(i), rest, nil
}

func (s *shape) skip(b []byte, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", maxDepth)
	}
	switch s.kind {
	case kindNull:
		return b, nil
	case kindBoolean:
		if len(b) < 1 {
			return nil, errTruncated
		}
		if b[0] > 1 {
			return nil, fmt.Errorf("boolean byte %#x", b[0])
		}
		return b[1:], nil
	case kindInt:
		return readInt(b)
	case kindLong:
		_, rest, err := readLong(b)
		return rest, err
	case kindFloat:
		if len(b) < 4 {
			return nil, errTruncated
		}
		return b[4:], nil
	case kindDouble:
		if len(b) < 8 {
			return nil, errTruncated
		}
		return b[8:], nil
	case kindBytes, kindString:
		n, rest, err := readLen(b)
		if err != nil {
			return nil, err
		}
		return rest[n:], nil
	case kindFixed:
		if len(b) < s.n {
			return nil, errTruncated
		}
		return b[s.n:], nil
	case kindEnum:
		_, rest, err := readIndex(b, s.n, "enum "+s.name)
		return rest, err
	case kindUnion:
		i, rest, err := readIndex(b, len(s.subs), "union")
		if err != nil {
			return nil, err
		}
		rest, err = s.subs[i].skip(rest, depth+1)
		if err != nil {
			return nil, fmt.Errorf("union branch %d: %w", i, err)
		}
		return rest, nil
	case kindRecord:
		var err error
		for i, f := range s.subs {
			if b, err = f.skip(b, depth+1); err != nil {
				return nil, fmt.Errorf("field %s: %w", s.fieldNames[i], err)
			}
		}
		return b, nil
	case kindMap, kindArray:
		return s.skipBlocks(b, depth)
	default:
		return nil, fmt.Errorf("unsupported schema kind %d", s.kind)
	}
}

// skipBlocks walks the blocks of a map or an array.
func (s *shape) skipBlocks(b []byte, depth int) ([]byte, error) {
	for {
		count, rest, err := readLong(b)
		if err != nil {
			return nil, fmt.Errorf("block count: %w", err)
		}
		if count == 0 {
			return rest, nil
		}
		size := int64(-1)
		if count < 0 {
			if count == math.MinInt64 {
				return nil, errors.New("block count out of range")
			}
			count = -count
			if size, rest, err = readLong(rest); err != nil {
				return nil, fmt.Errorf("block size: %w", err)
			}
			if size < 0 || size > int64(len(rest)) {
				return nil, fmt.Errorf("block size %d out of range", size)
			}
		}
		// goavro pre-sizes the decoded map or slice from the count, so a
		// count must not claim more entries than there are bytes left: every
		// map entry takes at least one byte (its key's length).
		if count > int64(len(rest)) {
			return nil, fmt.Errorf("block count %d exceeds the %d bytes left: %w", count, len(rest), errTruncated)
		}
		start := len(rest)
		for i := int64(0); i < count; i++ {
			if s.kind == kindMap {
				if rest, err = kindStringShape.skip(rest, depth+1); err != nil {
					return nil, fmt.Errorf("map key: %w", err)
				}
			}
			if rest, err = s.elem.skip(rest, depth+1); err != nil {
				return nil, err
			}
		}
		if size >= 0 && int64(start-len(rest)) != size {
			return nil, fmt.Errorf("block size %d does not match its %d bytes", size, start-len(rest))
		}
		b = rest
	}
}

var kindStringShape = &shape{kind: kindString}

// field returns the shape of the record's field called name.
func (s *shape) field(name string) (*shape, bool) {
	for i, n := range s.fieldNames {
		if n == name {
			return s.subs[i], true
		}
	}
	return nil, false
}
