// Package codecs converts logstream's records between their Go types
// (package schemas) and Avro, and implements goka.Codec for each of them.
//
// # Wire format
//
// Every record is written in Avro single-object encoding:
//
//	C3 01                 marker
//	8 bytes               CRC-64-AVRO (Rabin) fingerprint of the schema's
//	                      parsing canonical form, little-endian
//	...                   Avro binary encoding of the record
//
// The schemas are the .avsc files embedded in package schemas. A Codec reads
// only records written with its own schema's fingerprint; anything else is an
// ErrUnknownSchema error, which names the record when the fingerprint belongs
// to another logstream schema (a LogEvent on a RawLog topic, for example).
//
// # Errors
//
// Every Decode, Unmarshal and Set.DecodeAny failure is a *DecodeError, and
// errors.Is matches it against exactly one of ErrNotSingleObject,
// ErrUnknownSchema and ErrMalformed. Decoding never panics: the body is
// checked against the schema before it is handed to goavro (so that truncated
// bodies, trailing bytes, out-of-range union and enum indexes, oversized
// varints and lengths that run past the end are all ErrMalformed), and any
// panic that still happens inside goavro is recovered and reported as
// ErrMalformed.
//
// # Allocation limits
//
// goavro pre-sizes a decoded map or array from the block count in the data,
// so a body of a few bytes that claims 2^31-1 map entries makes it try to
// allocate tens of gigabytes (the process is killed, there is nothing to
// recover). The pre-check therefore walks the whole body first and rejects
// any block whose count exceeds the bytes left in the body, and any block
// whose entries do not actually fit. What decoding allocates is thus bounded
// by a small multiple of the input's size.
//
// # Strings
//
// Avro strings are meant to be UTF-8, but neither goavro nor this package
// checks that: a Go string holding invalid UTF-8 is written as its bytes and
// read back byte for byte. Log lines are not always valid UTF-8 and this
// package does not alter them; consumers that need valid text (JSON output,
// for example) must sanitise it themselves.
//
// # Maps and determinism
//
// A nil map is written as an empty map, and every decoded map is non-nil, so
// a decoded record can be added to without a nil check. goavro writes map
// entries in Go's map iteration order, so two encodings of one record with
// two or more map entries may differ in their bytes while decoding to equal
// values: compare decoded values, not bytes.
//
// # Timestamps
//
// Timestamp fields are int64 in the Go types (milliseconds, or microseconds
// for Span.Start) and are written as Avro longs with the schema's logical
// type; every int64 value round-trips exactly.
package codecs
