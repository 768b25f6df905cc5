package codecs

import (
	"fmt"
	"slices"
	"sync"

	"github.com/linkedin/goavro/v2"
	"github.com/lovoo/goka"

	"github.com/logstream/logstream/schemas"
)

// Codec encodes and decodes one record type T in Avro single-object
// encoding. It implements goka.Codec. A Codec is immutable once built and safe
// for concurrent use; build it with NewRawLog, NewLogEvent, NewSpan,
// NewDeadLetter, NewParseState or NewSet (the zero value is not usable).
type Codec[T any] struct {
	name   string
	schema string
	fp     uint64
	avro   *goavro.Codec
	shape  *shape
	conv   converter[T]
}

// converter is the hand-written mapping between T and goavro's native form
// of its record (map[string]any keyed by field name).
type converter[T any] struct {
	// toNative builds the native record; it fails only on values the schema
	// cannot hold (an enum value outside the symbols).
	toNative func(*T) (map[string]any, error)
	// fromNative builds a T from what goavro decoded.
	fromNative func(map[string]any) (*T, error)
	// size estimates the encoded size, to size the output buffer.
	size func(*T) int
	// enums are the symbols the conversions assume for each enum field, in
	// the order of the Go constants; newCodec checks them against the schema.
	enums map[string][]string
}

var (
	_ goka.Codec = (*Codec[schemas.RawLog])(nil)
	_ goka.Codec = (*Codec[schemas.LogEvent])(nil)
	_ goka.Codec = (*Codec[schemas.Span])(nil)
	_ goka.Codec = (*Codec[schemas.DeadLetter])(nil)
	_ goka.Codec = (*Codec[schemas.ParseState])(nil)
)

// compiled is one embedded schema, compiled for goavro and for the pre-check.
type compiled struct {
	name   string
	schema string
	avro   *goavro.Codec
	shape  *shape
}

func compile(s schemas.Schema) (*compiled, error) {
	c, err := goavro.NewCodec(s.JSON)
	if err != nil {
		return nil, fmt.Errorf("codecs: schema %s (%s): %w", s.Name, s.File, err)
	}
	sh, err := parseShape(s.JSON)
	if err != nil {
		return nil, fmt.Errorf("codecs: schema %s (%s): %w", s.Name, s.File, err)
	}
	if sh.kind != kindRecord {
		return nil, fmt.Errorf("codecs: schema %s (%s) is not a record", s.Name, s.File)
	}
	return &compiled{name: s.Name, schema: s.JSON, avro: c, shape: sh}, nil
}

// registry holds every embedded schema, compiled once, by name and by
// fingerprint. goavro codecs are stateless, so sharing them is safe.
type registry struct {
	byName map[string]*compiled
	byFP   map[uint64]*compiled
}

var loadRegistry = sync.OnceValues(func() (*registry, error) {
	all, err := schemas.All()
	if err != nil {
		return nil, fmt.Errorf("codecs: %w", err)
	}
	r := &registry{byName: map[string]*compiled{}, byFP: map[uint64]*compiled{}}
	for _, s := range all {
		c, err := compile(s)
		if err != nil {
			return nil, err
		}
		if prev, dup := r.byFP[c.avro.Rabin]; dup {
			return nil, fmt.Errorf("codecs: schemas %s and %s have the same fingerprint %016x", prev.name, c.name, c.avro.Rabin)
		}
		r.byName[c.name] = c
		r.byFP[c.avro.Rabin] = c
	}
	return r, nil
})

// knownName names the record whose schema has fingerprint fp.
func knownName(fp uint64) (string, bool) {
	r, err := loadRegistry()
	if err != nil {
		return "", false
	}
	c, ok := r.byFP[fp]
	if !ok {
		return "", false
	}
	return c.name, true
}

func newCodec[T any](name string, conv converter[T]) (*Codec[T], error) {
	r, err := loadRegistry()
	if err != nil {
		return nil, err
	}
	c, ok := r.byName[name]
	if !ok {
		return nil, fmt.Errorf("codecs: no embedded schema for record %s", name)
	}
	for field, want := range conv.enums {
		f, ok := c.shape.field(field)
		if !ok || f.kind != kindEnum {
			return nil, fmt.Errorf("codecs: schema %s has no enum field %s", name, field)
		}
		if !slices.Equal(f.symbols, want) {
			return nil, fmt.Errorf("codecs: schema %s field %s has symbols %v, the Go type has %v", name, field, f.symbols, want)
		}
	}
	return &Codec[T]{
		name:   c.name,
		schema: c.schema,
		fp:     c.avro.Rabin,
		avro:   c.avro,
		shape:  c.shape,
		conv:   conv,
	}, nil
}

// Name returns the record name, such as "LogEvent".
func (c *Codec[T]) Name() string { return c.name }

// Fingerprint returns the CRC-64-AVRO (Rabin) fingerprint of the schema's
// parsing canonical form, as written in every encoded record's header.
func (c *Codec[T]) Fingerprint() uint64 { return c.fp }

// Schema returns the schema text (the .avsc file).
func (c *Codec[T]) Schema() string { return c.schema }

// Encode implements goka.Codec. value must be a T or a non-nil *T.
func (c *Codec[T]) Encode(value any) ([]byte, error) {
	switch v := value.(type) {
	case *T:
		if v == nil {
			return nil, fmt.Errorf("codecs: encode %s: nil %T", c.name, value)
		}
		return c.Marshal(v)
	case T:
		return c.Marshal(&v)
	default:
		var zero T
		return nil, fmt.Errorf("codecs: encode %s: got %T, want %T or *%T", c.name, value, zero, zero)
	}
}

// Decode implements goka.Codec: it returns a *T, or a *DecodeError.
func (c *Codec[T]) Decode(data []byte) (any, error) {
	v, err := c.Unmarshal(data)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// Marshal encodes v in single-object encoding. It fails only when v holds a
// value the schema cannot, such as an enum value outside its symbols.
func (c *Codec[T]) Marshal(v *T) (out []byte, err error) {
	if v == nil {
		return nil, fmt.Errorf("codecs: encode %s: nil %T", c.name, v)
	}
	native, err := c.conv.toNative(v)
	if err != nil {
		return nil, fmt.Errorf("codecs: encode %s: %w", c.name, err)
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("codecs: encode %s: goavro panicked: %v", c.name, r)
		}
	}()
	buf := make([]byte, 0, headerLen+c.conv.size(v))
	buf, err = c.avro.SingleFromNative(buf, native)
	if err != nil {
		return nil, fmt.Errorf("codecs: encode %s: %w", c.name, err)
	}
	return buf, nil
}

// Unmarshal decodes data, which must be a whole single-object encoded record
// of this codec's schema. Errors are *DecodeError values. The result shares
// no memory with data.
func (c *Codec[T]) Unmarshal(data []byte) (*T, error) {
	if !IsSingleObject(data) {
		return nil, notSingleObject(c.name, data)
	}
	fp, _ := Fingerprint(data)
	if fp != c.fp {
		return nil, unknownSchema(c.name, fp)
	}
	native, err := decodeBody(c.avro, c.shape, data[headerLen:])
	if err != nil {
		return nil, malformed(c.name, fp, err)
	}
	v, err := c.conv.fromNative(native)
	if err != nil {
		return nil, malformed(c.name, fp, err)
	}
	return v, nil
}

// decodeBody pre-checks body against sh and decodes it with goavro,
// turning a goavro panic into an error.
func decodeBody(avro *goavro.Codec, sh *shape, body []byte) (native map[string]any, err error) {
	if err := sh.check(body); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			native, err = nil, fmt.Errorf("goavro panicked: %v", r)
		}
	}()
	v, rest, err := avro.NativeFromBinary(body)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%d trailing bytes after the record", len(rest))
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("goavro decoded a %T, not a record", v)
	}
	return m, nil
}
