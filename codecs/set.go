package codecs

import (
	"fmt"
	"sync"

	"github.com/logstream/logstream/schemas"
)

// Set holds one codec per logstream record.
type Set struct {
	RawLog     *Codec[schemas.RawLog]
	LogEvent   *Codec[schemas.LogEvent]
	Span       *Codec[schemas.Span]
	DeadLetter *Codec[schemas.DeadLetter]
	// ParseState is the parse stage's table codec.
	ParseState *Codec[schemas.ParseState]
	// DedupeState and TraceState are the dedupe and trace-join tables' codecs.
	DedupeState *Codec[schemas.DedupeState]
	TraceState  *Codec[schemas.TraceState]
	// HostWindow and Alert are the errorrate stage's and the alerter's
	// outputs; ErrorRateState and AlerterState their tables' codecs.
	HostWindow     *Codec[schemas.HostWindow]
	Alert          *Codec[schemas.Alert]
	ErrorRateState *Codec[schemas.ErrorRateState]
	AlerterState   *Codec[schemas.AlerterState]
	// ErrorRatePartial, ErrorRatePartition and WindowUpdate are the
	// errorrate stage's partial counts, table value and alerter updates
	// (ErrorRateState is its previous version's table value, still read
	// when a deployment upgrades).
	ErrorRatePartial   *Codec[schemas.ErrorRatePartial]
	ErrorRatePartition *Codec[schemas.ErrorRatePartition]
	WindowUpdate       *Codec[schemas.WindowUpdate]

	source SchemaSource
	// fetched caches schemas the source supplied, by "f<fingerprint>" or
	// "i<id>" (*compiled): fetched schemas never change.
	fetched *sync.Map
}

// NewSet builds every codec, each with opts.
func NewSet(opts ...Option) (*Set, error) {
	var (
		s   = Set{source: buildOptions(opts).source, fetched: new(sync.Map)}
		err error
	)
	if s.RawLog, err = NewRawLog(opts...); err != nil {
		return nil, err
	}
	if s.LogEvent, err = NewLogEvent(opts...); err != nil {
		return nil, err
	}
	if s.Span, err = NewSpan(opts...); err != nil {
		return nil, err
	}
	if s.DeadLetter, err = NewDeadLetter(opts...); err != nil {
		return nil, err
	}
	if s.ParseState, err = NewParseState(opts...); err != nil {
		return nil, err
	}
	if s.DedupeState, err = NewDedupeState(opts...); err != nil {
		return nil, err
	}
	if s.TraceState, err = NewTraceState(opts...); err != nil {
		return nil, err
	}
	if s.HostWindow, err = NewHostWindow(opts...); err != nil {
		return nil, err
	}
	if s.Alert, err = NewAlert(opts...); err != nil {
		return nil, err
	}
	if s.ErrorRateState, err = NewErrorRateState(opts...); err != nil {
		return nil, err
	}
	if s.AlerterState, err = NewAlerterState(opts...); err != nil {
		return nil, err
	}
	if s.ErrorRatePartial, err = NewErrorRatePartial(opts...); err != nil {
		return nil, err
	}
	if s.ErrorRatePartition, err = NewErrorRatePartition(opts...); err != nil {
		return nil, err
	}
	if s.WindowUpdate, err = NewWindowUpdate(opts...); err != nil {
		return nil, err
	}
	return &s, nil
}

// DecodeAny decodes a record of any schema, as DecodeWriter does, and
// returns its record name and native form.
func (s *Set) DecodeAny(data []byte) (name string, native any, err error) {
	w, err := s.DecodeWriter(data)
	if err != nil {
		return w.Record, nil, err
	}
	return w.Record, w.Native, nil
}

// DecodeWriter decodes a record in either wire format with the schema it was
// written with, found by fingerprint or id among every embedded version of
// every record, else fetched from the Set's SchemaSource; nothing is
// resolved. It is for tooling (tailing a topic, inspecting a dead letter).
// Bytes in the result are not shared with data. Errors are *DecodeError
// values, as for Codec.Decode.
func (s *Set) DecodeWriter(data []byte) (Written, error) {
	h, err := readHeader("", data)
	if err != nil {
		return Written{}, err
	}
	r, err := loadRegistry()
	if err != nil {
		return Written{}, err
	}
	var c *compiled
	if h.wire == WireConfluent {
		c = r.byID[h.id]
	} else {
		c = r.byFP[h.fp]
	}
	if c == nil {
		if c, err = s.fetch(h); err != nil {
			return Written{}, err
		}
	}
	w := Written{Record: c.schema.Name, Version: c.schema.Version, Fingerprint: c.schema.Fingerprint, ID: c.schema.ID, Wire: h.wire, Schema: c.schema.JSON}
	if h.wire == WireConfluent {
		w.ID = h.id
	}
	// goavro's decoded bytes alias their input: decode a copy.
	body := append([]byte(nil), h.body...)
	m, err := decodeBody(c.avro, c.shape, body)
	if err != nil {
		return w, &DecodeError{Record: w.Record, Fingerprint: w.Fingerprint, ID: h.id, Kind: ErrMalformed, Err: err}
	}
	w.Native = m
	return w, nil
}

// RecordName names the record data holds, from its fingerprint or schema
// id, without decoding the body: how a reader of a topic that carries more
// than one record picks the codec to Unmarshal with.
func (s *Set) RecordName(data []byte) (string, error) {
	h, err := readHeader("", data)
	if err != nil {
		return "", err
	}
	r, err := loadRegistry()
	if err != nil {
		return "", err
	}
	var c *compiled
	if h.wire == WireConfluent {
		c = r.byID[h.id]
	} else {
		c = r.byFP[h.fp]
	}
	if c == nil {
		if c, err = s.fetch(h); err != nil {
			return "", err
		}
	}
	return c.schema.Name, nil
}

func (s *Set) fetch(h header) (*compiled, error) {
	key := fmt.Sprintf("f%x", h.fp)
	if h.wire == WireConfluent {
		key = fmt.Sprintf("i%d", h.id)
	}
	if s.fetched != nil {
		if c, ok := s.fetched.Load(key); ok {
			return c.(*compiled), nil
		}
	}
	c, err := s.fetchUncached(h)
	if err == nil && s.fetched != nil {
		s.fetched.Store(key, c)
	}
	return c, err
}

func (s *Set) fetchUncached(h header) (*compiled, error) {
	what := fmt.Sprintf("fingerprint %016x", h.fp)
	if h.wire == WireConfluent {
		what = fmt.Sprintf("schema id %d", h.id)
	}
	fail := func(detail error) error {
		return &DecodeError{Fingerprint: h.fp, ID: h.id, Kind: ErrUnknownSchema, Err: detail}
	}
	if s.source == nil {
		return nil, fail(fmt.Errorf("%s is no schema this build knows (a newer version's?), and no schema registry is configured", what))
	}
	text, err := lookupSource(s.source, h)
	if err != nil {
		return nil, fail(fmt.Errorf("%s is no schema this build knows, and the schema registry did not supply it: %w", what, err))
	}
	name, err := parseName(text)
	if err != nil {
		return nil, fail(fmt.Errorf("%s: the registry's schema: %w", what, err))
	}
	c, err := compile(schemas.Schema{Name: name, JSON: text, ID: h.id})
	if err != nil {
		return nil, fail(fmt.Errorf("%s: the registry's schema: %w", what, err))
	}
	if h.wire == WireSingleObject && h.fp != c.schema.Fingerprint && h.fp != c.schema.LegacyFingerprint {
		return nil, fail(fmt.Errorf("%s: the registry returned a schema with fingerprint %016x", what, c.schema.Fingerprint))
	}
	return c, nil
}

// parseName returns a record schema's unqualified name.
func parseName(text string) (string, error) {
	n, err := parseSchema(text)
	if err != nil {
		return "", err
	}
	if n.kind != kindRecord {
		return "", fmt.Errorf("not a record schema")
	}
	return n.short(), nil
}
