package tail

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/codecs"
)

// recordKind is what a printed record counts as in the Summary.
type recordKind int

const (
	kindDecoded recordKind = iota
	kindPlain
	kindFailed
	kindTombstone
)

// Header sizes of the two Avro framings.
const (
	singleObjectHeader = 10 // C3 01, 8-byte fingerprint
	confluentHeader    = 5  // 00, 4-byte schema id
)

// jsonLine is one output line; the field order is the output's.
type jsonLine struct {
	Topic     string       `json:"topic"`
	Partition int32        `json:"partition"`
	Offset    int64        `json:"offset"`
	Timestamp string       `json:"timestamp"`
	Key       any          `json:"key,omitempty"` // string or jsonNull; absent when KeyBase64 is set
	KeyBase64 string       `json:"key_base64,omitempty"`
	Headers   []jsonHeader `json:"headers,omitempty"`
	Schema    string       `json:"schema,omitempty"`
	Wire      string       `json:"wire,omitempty"`
	// Value is the decoded record, the text, or jsonNull for a tombstone;
	// absent when ValueBase64 is set.
	Value       any    `json:"value,omitempty"`
	ValueBase64 string `json:"value_base64,omitempty"`
	Error       string `json:"error,omitempty"`
}

type jsonHeader struct {
	Key   string `json:"key"`
	Value any    `json:"value"` // string, base64Bytes or nil
}

// jsonNull renders as null where a nil interface would be left out.
type jsonNull struct{}

func (jsonNull) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

// base64Bytes are bytes that are not UTF-8 text: {"base64":"..."}, so they
// cannot be mistaken for a string that happens to look like base64.
type base64Bytes struct {
	Base64 []byte `json:"base64"` // encoding/json writes []byte as base64
}

// textOrBase64 is b as a string when it is valid UTF-8, else base64Bytes.
func textOrBase64(b []byte) any {
	if utf8.Valid(b) {
		return string(b)
	}
	return base64Bytes{Base64: bytes.Clone(b)}
}

// formatter turns records into JSON lines.
type formatter struct {
	decode decodeFunc
	types  map[string]*avroType // parsed writer schemas by schema text; nil entry: unparsable
	buf    bytes.Buffer
	enc    *json.Encoder
}

func newFormatter(decode decodeFunc) *formatter {
	f := &formatter{decode: decode, types: map[string]*avroType{}}
	f.enc = json.NewEncoder(&f.buf)
	f.enc.SetEscapeHTML(false) // log lines are full of <, > and &: keep them readable
	return f
}

// format returns r's line, newline included; the slice is valid until the
// next call.
func (f *formatter) format(r *kgo.Record) ([]byte, recordKind) {
	l := jsonLine{
		Topic:     r.Topic,
		Partition: r.Partition,
		Offset:    r.Offset,
		Timestamp: r.Timestamp.UTC().Format(time.RFC3339Nano),
	}
	switch {
	case r.Key == nil:
		l.Key = jsonNull{}
	case utf8.Valid(r.Key):
		l.Key = string(r.Key)
	default:
		l.KeyBase64 = base64.StdEncoding.EncodeToString(r.Key)
	}
	for _, h := range r.Headers {
		var v any
		if h.Value != nil {
			v = textOrBase64(h.Value)
		}
		l.Headers = append(l.Headers, jsonHeader{Key: h.Key, Value: v})
	}
	kind := f.setValue(&l, r.Value)

	f.buf.Reset()
	if err := f.enc.Encode(&l); err != nil {
		// Not expected (friendly values are all encodable), but a line
		// must come out whatever the value holds.
		l.Value, l.ValueBase64 = nil, base64.StdEncoding.EncodeToString(r.Value)
		l.Error = fmt.Sprintf("cannot render the decoded value as JSON: %v", err)
		kind = kindFailed
		f.buf.Reset()
		_ = f.enc.Encode(&l) // strings, numbers and headers that encoded before
	}
	return f.buf.Bytes(), kind
}

// setValue fills the value fields of l from v.
func (f *formatter) setValue(l *jsonLine, v []byte) recordKind {
	if v == nil {
		l.Value = jsonNull{}
		return kindTombstone
	}
	var (
		wire   codecs.Wire
		header int
	)
	switch {
	case len(v) >= 2 && v[0] == 0xC3 && v[1] == 0x01:
		wire, header = codecs.WireSingleObject, singleObjectHeader
	case len(v) >= 1 && v[0] == 0x00:
		wire, header = codecs.WireConfluent, confluentHeader
	default:
		l.Wire = "plain"
		if utf8.Valid(v) {
			l.Value = string(v)
		} else {
			l.ValueBase64 = base64.StdEncoding.EncodeToString(v)
		}
		return kindPlain
	}
	l.Wire = wire.String()
	fail := func(reason string) recordKind {
		l.Error = reason
		l.ValueBase64 = base64.StdEncoding.EncodeToString(v)
		return kindFailed
	}
	if len(v) < header {
		return fail(fmt.Sprintf("%d-byte value is shorter than the %d-byte %s header", len(v), header, wire))
	}
	if wire == codecs.WireSingleObject {
		l.Schema = fmt.Sprintf("fingerprint %016x", binary.LittleEndian.Uint64(v[2:singleObjectHeader]))
	} else {
		l.Schema = fmt.Sprintf("id %d", binary.BigEndian.Uint32(v[1:confluentHeader]))
	}
	w, err := f.safeDecode(v)
	if err != nil {
		if w.Record != "" { // the schema was found; the body is bad
			l.Schema = writerLabel(w, wire)
		}
		return fail(err.Error())
	}
	l.Schema = writerLabel(w, wire)
	l.Value = friendly(f.writerType(w.Schema), w.Native)
	return kindDecoded
}

// safeDecode decodes v, turning a decoder panic into an error: a bad record
// must not end the tail.
func (f *formatter) safeDecode(v []byte) (w codecs.Written, err error) {
	defer func() {
		if r := recover(); r != nil {
			w, err = codecs.Written{}, fmt.Errorf("decoder panicked: %v", r)
		}
	}()
	return f.decode(v)
}

// writerType parses a writer schema once; nil when it cannot be parsed, in
// which case the value is converted without its help.
func (f *formatter) writerType(schema string) *avroType {
	t, ok := f.types[schema]
	if !ok {
		t, _ = parseSchema(schema)
		f.types[schema] = t
	}
	return t
}

// writerLabel names the schema a record was written with: "LogEvent v2" for
// a version built in, else its Confluent id or fingerprint, after the record
// name when it is known.
func writerLabel(w codecs.Written, wire codecs.Wire) string {
	if w.Version > 0 && w.Record != "" {
		return fmt.Sprintf("%s v%d", w.Record, w.Version)
	}
	var id string
	if wire == codecs.WireConfluent && w.ID > 0 {
		id = fmt.Sprintf("id %d", w.ID)
	} else {
		id = fmt.Sprintf("fingerprint %016x", w.Fingerprint)
	}
	if w.Record == "" {
		return id
	}
	return w.Record + " " + id
}
