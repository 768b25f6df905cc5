// Package schemas holds logstream's Avro record schemas (the .avsc files
// beside this file, embedded into the binary) and the Go types that mirror
// them. The .avsc files are the source of truth: every record on every
// logstream topic is written with one of them, and codecs/ converts between
// these Go types and Avro.
package schemas

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.avsc
var files embed.FS

// Record names, as they appear in the schemas' "name" fields.
const (
	NameRawLog     = "RawLog"
	NameLogEvent   = "LogEvent"
	NameSpan       = "Span"
	NameDeadLetter = "DeadLetter"
	NameParseState = "ParseState"
)

// Schema is one embedded .avsc file.
type Schema struct {
	Name string // record name, e.g. "LogEvent"
	File string // file name under schemas/, e.g. "logevent.avsc"
	JSON string // the schema text
}

// All returns every embedded schema, sorted by file name.
func All() ([]Schema, error) {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, fmt.Errorf("schemas: %w", err)
	}
	var out []Schema
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".avsc") {
			continue
		}
		b, err := files.ReadFile(e.Name())
		if err != nil {
			return nil, fmt.Errorf("schemas: %w", err)
		}
		name, err := recordName(b)
		if err != nil {
			return nil, fmt.Errorf("schemas: %s: %w", e.Name(), err)
		}
		out = append(out, Schema{Name: name, File: e.Name(), JSON: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out, nil
}

// Get returns the schema of the named record.
func Get(name string) (Schema, error) {
	all, err := All()
	if err != nil {
		return Schema{}, err
	}
	for _, s := range all {
		if s.Name == name {
			return s, nil
		}
	}
	return Schema{}, fmt.Errorf("schemas: no schema for record %q", name)
}
