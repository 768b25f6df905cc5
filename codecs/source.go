package codecs

import (
	"context"
	"errors"
)

// Wire is how a record's schema is named in front of its Avro body.
type Wire int

const (
	// WireSingleObject is Avro single-object encoding: C3 01, then the
	// schema's 8-byte CRC-64-AVRO fingerprint (little-endian), then the body.
	// It is logstream's default.
	WireSingleObject Wire = iota
	// WireConfluent is the Confluent Schema Registry wire format: a zero
	// byte, then the schema id (4 bytes, big-endian), then the body. The id
	// is the version's id in schemas/manifest.json, as served by
	// `logstream registry`.
	WireConfluent
)

func (w Wire) String() string {
	switch w {
	case WireSingleObject:
		return "single-object"
	case WireConfluent:
		return "confluent"
	}
	return "unknown"
}

// ParseWire parses "single-object" or "confluent".
func ParseWire(s string) (Wire, error) {
	switch s {
	case "single-object", "avro", "":
		return WireSingleObject, nil
	case "confluent":
		return WireConfluent, nil
	}
	return 0, errors.New(`unknown wire format "` + s + `" (want single-object or confluent)`)
}

// ErrSchemaNotFound is what a SchemaSource returns for a schema it does not
// have.
var ErrSchemaNotFound = errors.New("schema not found")

// SchemaSource finds writer schemas this binary does not have built in:
// records written by a newer version of logstream during a rolling deploy.
// registry.Client (a Confluent Schema Registry REST client) implements it.
type SchemaSource interface {
	// SchemaByID returns the schema text with the Confluent schema id.
	SchemaByID(ctx context.Context, id int) (string, error)
	// SchemaByFingerprint returns the schema text whose CRC-64-AVRO
	// fingerprint is fp.
	SchemaByFingerprint(ctx context.Context, fp uint64) (string, error)
}

// Option configures a codec or a Set.
type Option func(*options)

type options struct {
	versions map[string]int // record name → pinned version
	source   SchemaSource
	wire     Wire
}

func buildOptions(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return o
}

// WithVersion pins the named record's codec to version v of its schema, as
// a pod built before v+1 existed would be: it writes version v, reads every
// record resolved to version v, and knows no later version's fingerprint
// (records written with one need a SchemaSource). Fields that version v lacks
// are their Go zero values. Without it a codec uses the record's latest
// version. It is how tests run an old pod beside a new one.
func WithVersion(record string, v int) Option {
	return func(o *options) {
		if o.versions == nil {
			o.versions = map[string]int{}
		}
		o.versions[record] = v
	}
}

// WithSource lets codecs fetch writer schemas they do not know from src.
// Without it, a record written with an unknown schema is an
// ErrUnknownSchema error naming the fingerprint (or id).
func WithSource(src SchemaSource) Option { return func(o *options) { o.source = src } }

// WithWire selects the wire format codecs write (default single-object).
// Decoding accepts both formats whatever this says.
func WithWire(w Wire) Option { return func(o *options) { o.wire = w } }

// Written is a record decoded with the schema it was written with.
type Written struct {
	Record      string // record name, e.g. "LogEvent"
	Version     int    // the version in schemas/, 0 when the schema came from a SchemaSource and is not built in
	Fingerprint uint64 // CRC-64-AVRO of the writer schema (schemas.Fingerprint, also when the header has the legacy one)
	ID          int    // manifest / registry id, 0 when unknown (single-object records of a fetched schema)
	Wire        Wire
	Schema      string // the writer schema's text
	// Native is goavro's native form of the record: a map[string]any keyed
	// by field name, a non-null union value is a one-entry map keyed by its
	// type name, a timestamp is a time.Time, bytes are a []byte.
	Native map[string]any
}
