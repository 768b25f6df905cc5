package codecs

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Sentinel kinds of decode failure. Every decode error is a *DecodeError
// whose Kind is one of them, so errors.Is(err, ErrMalformed) and the like work.
var (
	// ErrNotSingleObject: the bytes lack the C3 01 marker or are shorter than
	// the 10-byte single-object header.
	ErrNotSingleObject = errors.New("not Avro single-object encoded")
	// ErrUnknownSchema: the header's fingerprint is not that of a schema the
	// codec reads.
	ErrUnknownSchema = errors.New("unknown schema fingerprint")
	// ErrMalformed: the body is truncated, has trailing bytes, or is not valid
	// Avro for the schema.
	ErrMalformed = errors.New("malformed Avro body")
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
	// Kind is ErrNotSingleObject, ErrUnknownSchema or ErrMalformed.
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

// notSingleObject builds the ErrNotSingleObject error for data.
func notSingleObject(record string, data []byte) error {
	var detail error
	switch {
	case len(data) == 0:
		detail = errors.New("no data")
	case len(data) >= 2 && (data[0] != 0xC3 || data[1] != 0x01):
		detail = fmt.Errorf("starts with %#x, not the marker 0xc301", data[:2])
	case len(data) < 2 && data[0] != 0xC3:
		detail = fmt.Errorf("starts with %#x, not the marker 0xc301", data[:1])
	default:
		detail = fmt.Errorf("%d bytes, shorter than the %d-byte header", len(data), headerLen)
	}
	return &DecodeError{Record: record, Kind: ErrNotSingleObject, Err: detail}
}

// unknownSchema builds the ErrUnknownSchema error for fingerprint fp, naming
// the record when fp belongs to another known schema.
func unknownSchema(record string, fp uint64) error {
	var detail error
	if other, ok := knownName(fp); ok {
		detail = fmt.Errorf("fingerprint %016x is the %s schema, not %s", fp, other, record)
	} else {
		detail = fmt.Errorf("fingerprint %016x is no known schema", fp)
	}
	return &DecodeError{Record: record, Fingerprint: fp, Kind: ErrUnknownSchema, Err: detail}
}

func malformed(record string, fp uint64, err error) error {
	return &DecodeError{Record: record, Fingerprint: fp, Kind: ErrMalformed, Err: err}
}
