// Package schemas holds logstream's Avro record schemas and the Go types that
// mirror them. The schemas directory is the source of truth for how records
// evolve:
//
//	schemas/
//	  manifest.json          every version's fingerprint and id (generated)
//	  <record>/v1.avsc       the first version of a record
//	  <record>/v2.avsc       the next, and so on, numbered from 1 without gaps
//	  <record>/compatibility optional: a weaker mode than FULL_TRANSITIVE
//
// Every version ever released stays in the directory, because topics keep
// records written by every past version and pods of two versions run side
// by side during a rolling deploy. The Go types in records.go mirror the
// latest version of each record; codecs/ resolves records written with any
// version to it.
//
// manifest.json is written by `logstream schemas manifest --write` and
// checked by `logstream schemas check` (and a test): it lists each version's
// CRC-64-AVRO fingerprint, its legacy fingerprint when that differs (what
// logstream wrote before it computed the Parsing Canonical Form itself; see
// canonical.go), and its integer id. An id is assigned once, when a
// version first enters the manifest, and never changes or gets reused: it is
// the schema id of the Confluent wire format and of `logstream registry`.
package schemas

import (
	"embed"
	"fmt"
	"io/fs"
	"sync"
)

// files holds the manifest and every record directory.
//
//go:embed manifest.json */*
var files embed.FS

// Record names, as they appear in the schemas' "name" fields.
const (
	NameRawLog         = "RawLog"
	NameLogEvent       = "LogEvent"
	NameSpan           = "Span"
	NameDeadLetter     = "DeadLetter"
	NameParseState     = "ParseState"
	NameDedupeState    = "DedupeState"
	NameTraceState     = "TraceState"
	NameHostWindow     = "HostWindow"
	NameAlert          = "Alert"
	NameErrorRateState = "ErrorRateState"
	NameAlerterState   = "AlerterState"
	// The errorrate stage's partial counts, its per-partition state and
	// its updates for the alerter.
	NameErrorRatePartial   = "ErrorRatePartial"
	NameErrorRatePartition = "ErrorRatePartition"
	NameWindowUpdate       = "WindowUpdate"
)

// Schema is one version of one record.
type Schema struct {
	Name    string // record name, e.g. "LogEvent"
	Dir     string // the record's directory under schemas/, e.g. "logevent"
	Version int    // 1, 2, ...
	File    string // path under schemas/, e.g. "logevent/v2.avsc"
	JSON    string // the schema text
	// Fingerprint is the CRC-64-AVRO (Rabin) fingerprint of the schema's
	// Parsing Canonical Form (see package function Fingerprint), as written
	// in single-object headers.
	Fingerprint uint64
	// LegacyFingerprint is goavro's fingerprint of the schema, which
	// logstream wrote before it followed the specification (see package
	// function LegacyFingerprint); it differs from Fingerprint when the
	// schema has a logical type. Readers accept both.
	LegacyFingerprint uint64
	// ID is the stable integer id from manifest.json.
	ID int
}

// Label names the version for people: "LogEvent v2".
func (s Schema) Label() string { return fmt.Sprintf("%s v%d", s.Name, s.Version) }

// FS returns the embedded schemas directory.
func FS() fs.FS { return files }

var embedded = sync.OnceValues(func() (*Catalog, error) { return Load(files) })

// Embedded returns the catalog built into this binary.
func Embedded() (*Catalog, error) { return embedded() }

// All returns the latest version of every record, sorted by directory.
func All() ([]Schema, error) {
	c, err := Embedded()
	if err != nil {
		return nil, err
	}
	var out []Schema
	for _, r := range c.Records {
		out = append(out, r.Latest())
	}
	return out, nil
}

// Get returns the latest version of the named record.
func Get(name string) (Schema, error) {
	c, err := Embedded()
	if err != nil {
		return Schema{}, err
	}
	r, ok := c.Record(name)
	if !ok {
		return Schema{}, fmt.Errorf("schemas: no schema for record %q", name)
	}
	return r.Latest(), nil
}
