package codecs

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Sentinel kinds of decode failure. Every decode error is a *DecodeError
// whose Kind is one of them, so errors.Is(err, ErrMalformed) and the like work.
var (
	// ErrNotSingleObject: the bytes are neither single-object encoded (C3 01
	// and a fingerprint) nor Confluent framed (00 and a schema id), or are
	// shorter than the header.
	ErrNotSingleObject = errors.New("not Avro single-object encoded")
	// ErrUnknownSchema: the header's fingerprint (or Confluent schema id) is
	// not that of a schema the codec knows or could fetch.
	ErrUnknownSchema = errors.New("unknown writer schema")
	// ErrMalformed: the body is truncated, has trailing bytes, or is not valid
	// Avro for the schema.
	ErrMalformed = errors.New("malformed Avro body")
	// ErrIncompatible: the record was written with a schema the reader
	// cannot resolve this record to (an enum symbol the reader lacks and
	// has no default for, a union branch it does not have, a field it needs
	// that the writer lacks).
	ErrIncompatible = errors.New("written with an incompatible schema")
)

// headerLen is the length of the single-object header: marker and fingerprint.
const headerLen = 10

// DecodeError describes a failed decode.
type DecodeError struct {
	// Record is the record the decoder was reading: the codec's record name,
	// or for Set.DecodeAny the record the fingerprint names ("" when it names
	// none).
	Record string
	// Fingerprint is the fingerprint found in the header, 0 when the data has
	// no complete header.
	Fingerprint uint64
	// ID is the schema id of a Confluent-framed record, 0 otherwise.
	ID int
	// Kind is ErrNotSingleObject, ErrUnknownSchema, ErrMalformed or
	// ErrIncompatible.
	Kind error
	// Err is the detail; it may be nil.
	Err error
}

// Error implements error.
func (e *DecodeError) Error() string {
	rec := e.Record
	if rec == "" {
		rec = "record"
	}
	if e.Err == nil {
		return fmt.Sprintf("codecs: decode %s: %v", rec, e.Kind)
	}
	return fmt.Sprintf("codecs: decode %s: %v: %v", rec, e.Kind, e.Err)
}

// Unwrap returns Kind and Err, so that errors.Is and errors.As see both.
func (e *DecodeError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// IsSingleObject reports whether b starts with the single-object marker
// C3 01 and is long enough to hold the whole 10-byte header. It says nothing
// about the body.
func IsSingleObject(b []byte) bool {
	return len(b) >= headerLen && b[0] == 0xC3 && b[1] == 0x01
}

// Fingerprint returns the schema fingerprint in b's single-object header, and
// false when b has no such header.
func Fingerprint(b []byte) (uint64, bool) {
	if !IsSingleObject(b) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b[2:headerLen]), true
}

// confluentHeaderLen is the Confluent wire format's header: a zero byte and
// a 4-byte big-endian schema id.
const confluentHeaderLen = 5

// IsConfluent reports whether b starts like a Confluent-framed record: a
// zero byte and room for the 4-byte schema id. Plain-text log lines never
// start with a NUL byte, so it tells them apart.
func IsConfluent(b []byte) bool { return len(b) >= confluentHeaderLen && b[0] == 0 }

// IsAvro reports whether b carries a header of either wire format.
func IsAvro(b []byte) bool { return IsSingleObject(b) || IsConfluent(b) }

func appendSingleObjectHeader(b []byte, fp uint64) []byte {
	return binary.LittleEndian.AppendUint64(append(b, 0xC3, 0x01), fp)
}

func appendConfluentHeader(b []byte, id int) []byte {
	return binary.BigEndian.AppendUint32(append(b, 0), uint32(id))
}

// header is a parsed record header.
type header struct {
	wire Wire
	fp   uint64 // single-object
	id   int    // Confluent
	body []byte
}

func readHeader(record string, data []byte) (header, error) {
	switch {
	case IsSingleObject(data):
		return header{wire: WireSingleObject, fp: binary.LittleEndian.Uint64(data[2:headerLen]), body: data[headerLen:]}, nil
	case IsConfluent(data):
		return header{wire: WireConfluent, id: int(binary.BigEndian.Uint32(data[1:confluentHeaderLen])), body: data[confluentHeaderLen:]}, nil
	}
	return header{}, notSingleObject(record, data)
}

// notSingleObject builds the ErrNotSingleObject error for data.
func notSingleObject(record string, data []byte) error {
	var detail error
	switch {
	case len(data) == 0:
		detail = errors.New("no data")
	case data[0] == 0:
		detail = fmt.Errorf("%d bytes, shorter than the %d-byte Confluent header", len(data), confluentHeaderLen)
	case len(data) >= 2 && (data[0] != 0xC3 || data[1] != 0x01):
		detail = fmt.Errorf("starts with %#x, not the single-object marker 0xc301 or a Confluent zero byte", data[:2])
	case len(data) < 2 && data[0] != 0xC3:
		detail = fmt.Errorf("starts with %#x, not the single-object marker 0xc301 or a Confluent zero byte", data[:1])
	default:
		detail = fmt.Errorf("%d bytes, shorter than the %d-byte header", len(data), headerLen)
	}
	return &DecodeError{Record: record, Kind: ErrNotSingleObject, Err: detail}
}

func malformed(record string, fp uint64, err error) error {
	return &DecodeError{Record: record, Fingerprint: fp, Kind: ErrMalformed, Err: err}
}
