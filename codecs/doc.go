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
// The fingerprint is schemas.Fingerprint: the Parsing Canonical Form as the
// Avro specification defines it, so Apache Avro Java's BinaryMessageDecoder
// and every other implementation that follows it find the schema. logstream
// used to write goavro's fingerprint, which differs for every schema with a
// logical type (schemas.LegacyFingerprint); records written so are still on
// topics, so every reader here accepts either fingerprint of a version, and
// every writer writes the specification's.
//
// # Two decoding paths
//
// A codec on its schema's latest version (every codec unless WithVersion
// pins an older one) encodes with a typed encoder that appends the Avro
// body straight from the Go struct into one buffer, and decodes records
// written with that same version (the header's fingerprint or id is its
// own) with a typed decoder that reads the body straight into the struct.
// Everything else goes through goavro's map form (map[string]any) and the
// hand-written converters of records*.go: records of older versions and
// schemas a SchemaSource supplied, resolved with resolve.go's plans, and
// every record of a pinned codec.
//
//	record                         typed path    goavro path
//	RawLog, LogEvent, Span,        own version   older versions, fetched
//	DeadLetter, ParseState,                      schemas, pinned codecs
//	DedupeState, TraceState,
//	HostWindow, WindowUpdate,
//	ErrorRatePartial,
//	ErrorRatePartition,
//	AlerterState
//	Alert, ErrorRateState          -             every record
//
// The stream records and the stage tables' values are read or written
// once per event: there the map form cost a LogEvent 43 allocations to
// encode and 98 to decode, the typed path 1 and 4. HostWindow, WindowUpdate,
// the errorrate records and AlerterState are written once per tick or
// transaction, but the errorrate and alerter tables' values are tens of
// kilobytes (thousands of allocations in map form). Alert is written once
// per change of an incident, and ErrorRateState only read when a
// deployment upgrades from the errorrate stage's previous version: their
// cost does not show, so they keep the map form. Resolving another version
// is rare (an upgrade), and goavro's path for it is tested against two
// other Avro implementations, so it stays. Both paths give the same bytes
// (but for map order) and the same values; tests check them against each
// other.
//
// # Errors
//
// Every Decode, Unmarshal and Set.DecodeAny failure is a *DecodeError, and
// errors.Is matches it against exactly one of ErrNotSingleObject,
// ErrUnknownSchema, ErrMalformed and ErrIncompatible. Decoding never
// panics. On the goavro path the body is checked against the schema before
// it is handed to goavro (so that truncated bodies, trailing bytes,
// out-of-range union and enum indexes, oversized varints and lengths that
// run past the end are all ErrMalformed), and any panic that still happens
// inside goavro is recovered and reported as ErrMalformed. The typed
// decoder applies the same rules as it reads (and goavro's: a map key that
// comes twice is malformed), so both paths reject the same bodies.
//
// # Allocation limits
//
// goavro pre-sizes a decoded map or array from the block count in the data,
// so a body of a few bytes that claims 2^31-1 map entries makes it try to
// allocate tens of gigabytes (the process is killed, there is nothing to
// recover). The pre-check therefore walks the whole body first and rejects
// any block whose count exceeds the bytes left in the body, and any block
// whose entries do not actually fit. The typed decoder checks every length
// and block count against the bytes left before it allocates, and pre-sizes
// from a count no larger than the bytes left divided by an item's smallest
// encoding. What decoding allocates is thus bounded by a small multiple of
// the input's size.
//
// # Memory of decoded records
//
// A decoded record shares no memory with the data it was decoded from. The
// typed decoder copies the body once and every string and []byte of the
// record points into that copy (no string overlaps a []byte, so changing a
// decoded []byte in place changes no string); a record kept alive keeps its
// whole body alive, which is the size of the record.
//
// # Strings
//
// Avro strings are meant to be UTF-8, but neither goavro nor this package
// (on either path) checks that: a Go string holding invalid UTF-8 is written as its bytes and
// read back byte for byte. Log lines are not always valid UTF-8 and this
// package does not alter them; consumers that need valid text (JSON output,
// for example) must sanitise it themselves.
//
// # Maps and determinism
//
// A nil map is written as an empty map, and every decoded map is non-nil, so
// a decoded record can be added to without a nil check. Both paths write map
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
