package codecs

import (
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
}

// NewSet builds every codec.
func NewSet() (*Set, error) {
	var (
		s   Set
		err error
	)
	if s.RawLog, err = NewRawLog(); err != nil {
		return nil, err
	}
	if s.LogEvent, err = NewLogEvent(); err != nil {
		return nil, err
	}
	if s.Span, err = NewSpan(); err != nil {
		return nil, err
	}
	if s.DeadLetter, err = NewDeadLetter(); err != nil {
		return nil, err
	}
	if s.ParseState, err = NewParseState(); err != nil {
		return nil, err
	}
	return &s, nil
}

// DecodeAny decodes a single-object encoded record of any embedded schema,
// found by its fingerprint, for tooling (dumping a topic, inspecting a dead
// letter). It returns the record name and goavro's native form of the record:
// a map[string]any keyed by field name, where a non-null union value is a
// one-entry map keyed by its type name, a timestamp is a time.Time and bytes
// are a []byte (not shared with data). encoding/json renders the native form
// as JSON. Errors are *DecodeError values, as for Codec.Decode.
func (s *Set) DecodeAny(data []byte) (name string, native any, err error) {
	if !IsSingleObject(data) {
		return "", nil, notSingleObject("", data)
	}
	fp, _ := Fingerprint(data)
	r, err := loadRegistry()
	if err != nil {
		return "", nil, err
	}
	c, ok := r.byFP[fp]
	if !ok {
		return "", nil, unknownSchema("", fp)
	}
	// goavro's decoded bytes alias their input: decode a copy.
	body := append([]byte(nil), data[headerLen:]...)
	m, err := decodeBody(c.avro, c.shape, body)
	if err != nil {
		return c.name, nil, malformed(c.name, fp, err)
	}
	return c.name, m, nil
}
