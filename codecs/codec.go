package codecs

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/logstream/logstream/schemas"
)

// Codec encodes and decodes one record type T. It implements goka.Codec. It
// writes one version of T's schema (the latest, unless WithVersion pins an
// older one), in single-object encoding or the Confluent wire format, and
// reads records written with any version it knows, or one a SchemaSource
// supplies, resolving them to the version it writes. A Codec is safe for
// concurrent use; build it with NewRawLog, NewLogEvent, NewSpan,
// NewDeadLetter, NewParseState or NewSet (the zero value is not usable).
type Codec[T any] struct {
	name    string
	version schemas.Schema // the version written and read into
	avro    *goavro.Codec
	shape   *shape
	reader  *node
	conv    converter[T]
	wire    Wire
	source  SchemaSource
	// upgrade fills the fields a pinned older version lacks with the
	// latest version's defaults, so conv always sees the latest shape; nil
	// when the codec is on the latest version.
	upgrade step
	// known holds a plan for each version of the record this codec knows
	// (those up to its own), by fingerprint and by legacy fingerprint; ids
	// maps their ids to their fingerprints.
	known map[uint64]*writerPlan
	ids   map[int]uint64
	// typed is true when the codec writes and reads its own version with
	// conv.appendBody and conv.readBody instead of goavro.
	typed bool
	// fetched caches plans for writer schemas a SchemaSource supplied:
	// fingerprint → *writerPlan, and id → fingerprint in fetchedIDs.
	fetched    *sync.Map
	fetchedIDs *sync.Map
}

// writerPlan is how to read the records of one writer schema.
type writerPlan struct {
	schema schemas.Schema // Version 0 when the schema came from a source
	avro   *goavro.Codec
	shape  *shape
	// toReader resolves the writer's native form to the reader's; nil when
	// the writer is the reader.
	toReader step
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
	// appendBody and readBody, when set, are the typed codec of the latest
	// version (typed.go): they write and read the Avro body straight from
	// and into T, with no native form. A codec uses them for its own
	// version only, and only when that is the latest.
	appendBody func([]byte, *T) ([]byte, error)
	readBody   func(body []byte) (*T, error)
	// typedVersion is the schema version appendBody and readBody were
	// written for. They are used only while it is the record's latest: a
	// new version added to schemas/ before they are updated goes through
	// goavro (correct, slower), and TestTypedCodecsAreLatest says so.
	typedVersion int
}

// compiled is one schema version, compiled for goavro, for the pre-check
// and for resolution.
type compiled struct {
	schema schemas.Schema
	avro   *goavro.Codec
	shape  *shape
	node   *node
}

func compile(s schemas.Schema) (*compiled, error) {
	c, err := goavro.NewCodec(s.JSON)
	if err != nil {
		return nil, fmt.Errorf("codecs: schema %s: %w", s.Label(), err)
	}
	sh, err := parseShape(s.JSON)
	if err != nil {
		return nil, fmt.Errorf("codecs: schema %s: %w", s.Label(), err)
	}
	if sh.kind != kindRecord {
		return nil, fmt.Errorf("codecs: schema %s is not a record", s.Label())
	}
	n, err := parseSchema(s.JSON)
	if err != nil {
		return nil, fmt.Errorf("codecs: schema %s: %w", s.Label(), err)
	}
	if s.Fingerprint, err = schemas.Fingerprint(s.JSON); err != nil {
		return nil, fmt.Errorf("codecs: schema %s: %w", s.Label(), err)
	}
	if s.LegacyFingerprint, err = schemas.LegacyFingerprint(s.JSON); err != nil {
		return nil, fmt.Errorf("codecs: schema %s: %w", s.Label(), err)
	}
	return &compiled{schema: s, avro: c, shape: sh, node: n}, nil
}

// registry holds every version of every embedded schema, compiled once, by
// fingerprint (and legacy fingerprint: records written before logstream
// followed the specification carry it) and id. goavro codecs are
// stateless, so sharing them is safe.
type registry struct {
	catalog *schemas.Catalog
	byFP    map[uint64]*compiled
	byID    map[int]*compiled
}

var loadRegistry = sync.OnceValues(func() (*registry, error) {
	cat, err := schemas.Embedded()
	if err != nil {
		return nil, fmt.Errorf("codecs: %w", err)
	}
	r := &registry{catalog: cat, byFP: map[uint64]*compiled{}, byID: map[int]*compiled{}}
	for _, s := range cat.Schemas() {
		c, err := compile(s)
		if err != nil {
			return nil, err
		}
		r.byFP[s.Fingerprint] = c
		r.byFP[s.LegacyFingerprint] = c
		r.byID[s.ID] = c
	}
	return r, nil
})

// knownName names the record version whose schema has fingerprint fp.
func knownName(fp uint64) (string, bool) {
	r, err := loadRegistry()
	if err != nil {
		return "", false
	}
	c, ok := r.byFP[fp]
	if !ok {
		return "", false
	}
	return c.schema.Label(), true
}

func newCodec[T any](name string, conv converter[T], opts []Option) (*Codec[T], error) {
	o := buildOptions(opts)
	r, err := loadRegistry()
	if err != nil {
		return nil, err
	}
	rec, ok := r.catalog.Record(name)
	if !ok {
		return nil, fmt.Errorf("codecs: no embedded schema for record %s", name)
	}
	version := rec.Latest()
	if v, pinned := o.versions[name]; pinned {
		if version, ok = rec.Version(v); !ok {
			return nil, fmt.Errorf("codecs: record %s has no version %d (it has 1 to %d)", name, v, len(rec.Versions))
		}
	}
	own := r.byFP[version.Fingerprint]
	latest := r.byFP[rec.Latest().Fingerprint]
	for field, want := range conv.enums {
		f, ok := latest.shape.field(field)
		if !ok || f.kind != kindEnum {
			return nil, fmt.Errorf("codecs: schema %s has no enum field %s", name, field)
		}
		if !slices.Equal(f.symbols, want) {
			return nil, fmt.Errorf("codecs: schema %s field %s has symbols %v, the Go type has %v", name, field, f.symbols, want)
		}
	}
	c := &Codec[T]{
		name:       name,
		version:    own.schema,
		avro:       own.avro,
		shape:      own.shape,
		reader:     own.node,
		conv:       conv,
		wire:       o.wire,
		source:     o.source,
		known:      map[uint64]*writerPlan{},
		ids:        map[int]uint64{},
		fetched:    new(sync.Map),
		fetchedIDs: new(sync.Map),
	}
	c.typed = own == latest && conv.appendBody != nil && conv.readBody != nil && latest.schema.Version == conv.typedVersion
	if own != latest {
		up, issues := compilePlan(own.node, latest.node)
		if len(issues) > 0 {
			return nil, fmt.Errorf("codecs: %s cannot be read as %s: %v", version.Label(), latest.schema.Label(), issues[0])
		}
		c.upgrade = up
	}
	// A codec knows the versions up to its own, as a pod pinned to v1 was
	// built before v2 existed. If two versions are incompatible (the
	// compatibility gate keeps that from shipping), the plan still reads
	// what it can and fails the rest record by record.
	for _, s := range rec.Versions[:version.Version] {
		w := r.byFP[s.Fingerprint]
		p := &writerPlan{schema: w.schema, avro: w.avro, shape: w.shape}
		if w != own {
			p.toReader, _ = compilePlan(w.node, own.node)
		}
		c.known[s.Fingerprint] = p
		c.known[s.LegacyFingerprint] = p
		c.ids[s.ID] = s.Fingerprint
	}
	return c, nil
}

// WithWire returns a copy of c that writes wire format w. It shares c's
// caches.
func (c *Codec[T]) WithWire(w Wire) *Codec[T] {
	d := *c
	d.wire = w
	return &d
}

// Name returns the record name, such as "LogEvent".
func (c *Codec[T]) Name() string { return c.name }

// Version returns the schema version the codec writes, and reads into.
func (c *Codec[T]) Version() schemas.Schema { return c.version }

// Fingerprint returns the CRC-64-AVRO (Rabin) fingerprint of the written
// schema's parsing canonical form, as in every single-object header.
func (c *Codec[T]) Fingerprint() uint64 { return c.version.Fingerprint }

// ID returns the written schema's id, as in every Confluent wire header.
func (c *Codec[T]) ID() int { return c.version.ID }

// Schema returns the written schema's text (its .avsc file).
func (c *Codec[T]) Schema() string { return c.version.JSON }

// Wire returns the wire format the codec writes.
func (c *Codec[T]) Wire() Wire { return c.wire }

// Encode implements goka.Codec. value must be a T, a non-nil *T, or an
// Encoded (bytes in the codec's wire format, returned as they are).
func (c *Codec[T]) Encode(value any) ([]byte, error) {
	switch v := value.(type) {
	case *T:
		if v == nil {
			return nil, fmt.Errorf("codecs: encode %s: nil %T", c.name, value)
		}
		return c.Marshal(v)
	case T:
		return c.Marshal(&v)
	case Encoded:
		return v, nil
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

// Marshal encodes v in the codec's wire format. It fails only when v holds
// a value the schema cannot, such as an enum value outside its symbols.
func (c *Codec[T]) Marshal(v *T) ([]byte, error) {
	if v == nil {
		return nil, fmt.Errorf("codecs: encode %s: nil %T", c.name, v)
	}
	out, err := c.MarshalAppend(make([]byte, 0, headerLen+c.conv.size(v)), v)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MarshalAppend appends the encoding of v, as Marshal makes it, to dst and
// returns the extended slice: a caller that reuses one buffer for many
// records pays no allocation for the output. On error dst is returned
// unchanged.
func (c *Codec[T]) MarshalAppend(dst []byte, v *T) (out []byte, err error) {
	if v == nil {
		return dst, fmt.Errorf("codecs: encode %s: nil %T", c.name, v)
	}
	buf := dst
	if c.wire == WireConfluent {
		buf = appendConfluentHeader(buf, c.version.ID)
	} else {
		buf = appendSingleObjectHeader(buf, c.version.Fingerprint)
	}
	if c.typed {
		if buf, err = c.conv.appendBody(buf, v); err != nil {
			return dst, fmt.Errorf("codecs: encode %s: %w", c.name, err)
		}
		return buf, nil
	}
	native, err := c.conv.toNative(v)
	if err != nil {
		return dst, fmt.Errorf("codecs: encode %s: %w", c.name, err)
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = dst, fmt.Errorf("codecs: encode %s: goavro panicked: %v", c.name, r)
		}
	}()
	// The native form is the latest version's; goavro writes the fields of
	// c's version and ignores the others.
	if buf, err = c.avro.BinaryFromNative(buf, native); err != nil {
		return dst, fmt.Errorf("codecs: encode %s: %w", c.name, err)
	}
	return buf, nil
}

// Unmarshal decodes data: a whole record in single-object encoding or the
// Confluent wire format, written with any version of the record's schema
// the codec knows or its SchemaSource supplies, resolved to the codec's
// version. Errors are *DecodeError values. The result shares no memory with
// data.
func (c *Codec[T]) Unmarshal(data []byte) (*T, error) {
	h, err := readHeader(c.name, data)
	if err != nil {
		return nil, err
	}
	p, err := c.writerPlan(h)
	if err != nil {
		return nil, err
	}
	if c.typed && p.toReader == nil && p.schema.Fingerprint == c.version.Fingerprint {
		return c.readTyped(p, h.body)
	}
	native, err := decodeBody(p.avro, p.shape, h.body)
	if err != nil {
		return nil, malformed(c.name, p.schema.Fingerprint, err)
	}
	if p.toReader != nil {
		r, err := p.toReader(native)
		if err != nil {
			return nil, &DecodeError{Record: c.name, Fingerprint: p.schema.Fingerprint, ID: h.id, Kind: ErrIncompatible,
				Err: fmt.Errorf("%s read as %s: %w", writerLabel(p.schema), c.version.Label(), err)}
		}
		native = r.(map[string]any)
	}
	if c.upgrade != nil {
		r, err := c.upgrade(native)
		if err != nil {
			return nil, malformed(c.name, p.schema.Fingerprint, err)
		}
		native = r.(map[string]any)
	}
	v, err := c.conv.fromNative(native)
	if err != nil {
		return nil, malformed(c.name, p.schema.Fingerprint, err)
	}
	return v, nil
}

// readTyped decodes a body of the codec's own version with the typed
// decoder. On failure it walks the body with the pre-check, which stops at
// the same place, for the message naming the field.
func (c *Codec[T]) readTyped(p *writerPlan, body []byte) (v *T, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, malformed(c.name, p.schema.Fingerprint, fmt.Errorf("typed decoder panicked: %v", r))
		}
	}()
	v, err = c.conv.readBody(body)
	if err != nil {
		if detail := p.shape.check(body); detail != nil {
			err = detail
		}
		return nil, malformed(c.name, p.schema.Fingerprint, err)
	}
	return v, nil
}

// writerPlan finds how to read records written with h's schema: a version
// this codec knows, else one a SchemaSource supplies (cached).
func (c *Codec[T]) writerPlan(h header) (*writerPlan, error) {
	fp := h.fp
	if h.wire == WireConfluent {
		if known, ok := c.ids[h.id]; ok {
			fp = known
		} else if f, ok := c.fetchedIDs.Load(h.id); ok {
			fp = f.(uint64)
		} else {
			p, err := c.fetch(h)
			if err != nil {
				return nil, err
			}
			c.fetchedIDs.Store(h.id, p.schema.Fingerprint)
			return p, nil
		}
	}
	if p, ok := c.known[fp]; ok {
		return p, nil
	}
	if p, ok := c.fetched.Load(fp); ok {
		return p.(*writerPlan), nil
	}
	return c.fetch(h)
}

// sourceTimeout bounds one SchemaSource lookup made while decoding.
const sourceTimeout = 10 * time.Second

// lookupSource asks src for the writer schema h names: by id for the
// Confluent wire format, by fingerprint for single-object encoding.
func lookupSource(src SchemaSource, h header) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), sourceTimeout)
	defer cancel()
	if h.wire == WireConfluent {
		return src.SchemaByID(ctx, h.id)
	}
	return src.SchemaByFingerprint(ctx, h.fp)
}

// fetch asks the SchemaSource for the writer schema of h and compiles its
// plan. A lookup that fails is not cached: the source rate-limits itself.
func (c *Codec[T]) fetch(h header) (*writerPlan, error) {
	if c.source == nil {
		return nil, c.unknown(h, nil)
	}
	text, err := lookupSource(c.source, h)
	if err != nil {
		return nil, c.unknown(h, err)
	}
	w, err := compile(schemas.Schema{Name: c.name, JSON: text, ID: h.id})
	if err != nil {
		return nil, c.unknown(h, fmt.Errorf("the source's schema does not compile: %w", err))
	}
	fp := w.schema.Fingerprint
	if h.wire == WireSingleObject && h.fp != fp && h.fp != w.schema.LegacyFingerprint {
		return nil, c.unknown(h, fmt.Errorf("the source returned a schema with fingerprint %016x", fp))
	}
	if p, ok := c.fetched.Load(fp); ok {
		if h.wire == WireSingleObject {
			c.fetched.Store(h.fp, p)
		}
		return p.(*writerPlan), nil
	}
	p := &writerPlan{schema: w.schema, avro: w.avro, shape: w.shape}
	if fp != c.version.Fingerprint {
		step, issues := compilePlan(w.node, c.reader)
		for _, is := range issues {
			if is.Rule == RuleNameMismatch && is.Field == "" {
				return nil, c.unknown(h, fmt.Errorf("the schema is record %s, not %s", w.node.name, c.reader.name))
			}
		}
		p.toReader = step
	}
	c.fetched.Store(fp, p)
	if h.wire == WireSingleObject {
		// Cached under the header's fingerprint too, when it is the
		// legacy one.
		c.fetched.Store(h.fp, p)
	}
	return p, nil
}

// unknown builds the ErrUnknownSchema error for a writer schema this codec
// could not find; cause is why the source did not help (nil: no source).
func (c *Codec[T]) unknown(h header, cause error) error {
	what := fmt.Sprintf("fingerprint %016x", h.fp)
	if h.wire == WireConfluent {
		what = fmt.Sprintf("schema id %d", h.id)
	}
	var detail error
	switch other, ok := knownName(h.fp); {
	case h.wire == WireSingleObject && ok:
		detail = fmt.Errorf("%s is the %s schema, not %s", what, other, c.name)
	case h.wire == WireConfluent && c.otherID(h.id) != "":
		detail = fmt.Errorf("%s is the %s schema, not %s", what, c.otherID(h.id), c.name)
	case cause == nil:
		detail = fmt.Errorf("%s is no %s schema this build knows (a newer version's?), and no schema registry is configured", what, c.name)
	default:
		detail = fmt.Errorf("%s is no %s schema this build knows, and the schema registry did not supply it: %w", what, c.name, cause)
	}
	return &DecodeError{Record: c.name, Fingerprint: h.fp, ID: h.id, Kind: ErrUnknownSchema, Err: detail}
}

func (c *Codec[T]) otherID(id int) string {
	r, err := loadRegistry()
	if err != nil {
		return ""
	}
	if s, ok := r.byID[id]; ok && s.schema.Name != c.name {
		return s.schema.Label()
	}
	return ""
}

func writerLabel(s schemas.Schema) string {
	if s.Version == 0 {
		return fmt.Sprintf("%s written with fetched schema %016x", s.Name, s.Fingerprint)
	}
	return s.Label()
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
