package codecs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logstream/logstream/schemas"
)

// withLegacyHeader returns data (single-object) with its fingerprint
// replaced by legacy: the record as logstream wrote it before its
// fingerprints followed the specification.
func withLegacyHeader(t *testing.T, data []byte, legacy uint64) []byte {
	t.Helper()
	if _, ok := Fingerprint(data); !ok {
		t.Fatalf("not single-object: % x", data[:min(len(data), headerLen)])
	}
	out := append([]byte(nil), data...)
	binary.LittleEndian.PutUint64(out[2:headerLen], legacy)
	return out
}

// TestLegacyFingerprintDecodes: a record whose header carries its
// version's legacy (goavro) fingerprint, as every record written before
// this release does, decodes with the codec, Set.DecodeWriter and
// Set.RecordName, to the same value as the record under the
// specification's fingerprint; the codec writes only the latter.
func TestLegacyFingerprintDecodes(t *testing.T) {
	s := mustSet(t)
	ev := fullLogEvent()
	data, err := s.LogEvent.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	v := s.LogEvent.Version()
	if v.LegacyFingerprint == v.Fingerprint {
		t.Fatalf("%s has no legacy fingerprint of its own", v.Label())
	}
	if fp, _ := Fingerprint(data); fp != v.Fingerprint || fp != s.LogEvent.Fingerprint() {
		t.Fatalf("written with %016x, want the specification's %016x", fp, v.Fingerprint)
	}
	old := withLegacyHeader(t, data, v.LegacyFingerprint)
	got, err := s.LogEvent.Unmarshal(old)
	if err != nil {
		t.Fatalf("legacy header: %v", err)
	}
	if !logEventEqual(got, ev) {
		t.Fatalf("legacy header decodes to %+v, want %+v", got, ev)
	}
	w, err := s.DecodeWriter(old)
	if err != nil || w.Record != schemas.NameLogEvent || w.Version != v.Version || w.Fingerprint != v.Fingerprint {
		t.Fatalf("DecodeWriter: %s v%d %016x, %v", w.Record, w.Version, w.Fingerprint, err)
	}
	if name, err := s.RecordName(old); err != nil || name != schemas.NameLogEvent {
		t.Fatalf("RecordName: %q, %v", name, err)
	}
	// Re-encoding writes the specification's fingerprint.
	again, err := s.LogEvent.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if fp, _ := Fingerprint(again); fp != v.Fingerprint {
		t.Fatalf("re-encoded with %016x, want %016x", fp, v.Fingerprint)
	}
	// A record of another type under its legacy fingerprint is still
	// named as what it is.
	raw, err := s.RawLog.Marshal(goldenRawLog())
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.LogEvent.Unmarshal(withLegacyHeader(t, raw, s.RawLog.Version().LegacyFingerprint))
	if !errors.Is(err, ErrUnknownSchema) || !strings.Contains(err.Error(), "RawLog v1 schema, not LogEvent") {
		t.Fatalf("a RawLog under its legacy fingerprint read as LogEvent: %v", err)
	}
}

// TestLegacyFingerprintEveryVersion: every version of every record, under
// either of its fingerprints, decodes with the latest codec.
func TestLegacyFingerprintEveryVersion(t *testing.T) {
	cat := mustCatalog(t)
	s := mustSet(t)
	checked := 0
	for _, rec := range cat.Records {
		for _, sv := range rec.Versions {
			if sv.LegacyFingerprint == sv.Fingerprint {
				continue
			}
			checked++
			// The golden file of the version (TestGolden reads it with
			// the codecs), under each of its fingerprints; the stage
			// tables without golden files have one version, the latest.
			path := filepath.Join("testdata", rec.Dir, fmt.Sprintf("v%d.bin", sv.Version))
			data, err := os.ReadFile(path)
			switch {
			case errors.Is(err, os.ErrNotExist) && rec.Name == schemas.NameDedupeState && sv.Version == 1:
				data, err = s.DedupeState.Marshal(&schemas.DedupeState{})
			case errors.Is(err, os.ErrNotExist) && rec.Name == schemas.NameTraceState && sv.Version == 1:
				data, err = s.TraceState.Marshal(&schemas.TraceState{})
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, fp := range []uint64{sv.Fingerprint, sv.LegacyFingerprint} {
				d := withLegacyHeader(t, data, fp)
				if _, err := s.DecodeWriter(d); err != nil {
					t.Errorf("%s under %016x: DecodeWriter: %v", path, fp, err)
				}
				if name, err := s.RecordName(d); err != nil || name != rec.Name {
					t.Errorf("%s under %016x: RecordName %q, %v", path, fp, name, err)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no version has a legacy fingerprint of its own")
	}
}

// TestLegacyFingerprintFetched: a codec pinned to LogEvent v1 meets a v3
// record under v3's legacy fingerprint. It asks its schema source for that
// fingerprint (registry.Client indexes both), gets v3's text, checks that
// the text has that fingerprint as its legacy one, and reads the record as
// v1. Without a source the error names the version.
func TestLegacyFingerprintFetched(t *testing.T) {
	s := mustSet(t)
	ev := fullLogEvent()
	data, err := s.LogEvent.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	latest := s.LogEvent.Version()
	old := withLegacyHeader(t, data, latest.LegacyFingerprint)

	src := fingerprintSource{latest.LegacyFingerprint: latest.JSON}
	v1, err := NewLogEvent(WithVersion(schemas.NameLogEvent, 1), WithSource(src))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // the second read is from the cache
		got, err := v1.Unmarshal(old)
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if got.EventID != ev.EventID || got.Message != ev.Message || got.Level != ev.Level || got.Timestamp != ev.Timestamp {
			t.Fatalf("read %d: %+v", i, got)
		}
	}

	// A source that answers the legacy fingerprint with another schema is
	// refused.
	wrong := fingerprintSource{latest.LegacyFingerprint: s.RawLog.Schema()}
	v1wrong, err := NewLogEvent(WithVersion(schemas.NameLogEvent, 1), WithSource(wrong))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v1wrong.Unmarshal(old); !errors.Is(err, ErrUnknownSchema) {
		t.Fatalf("a wrong schema for the legacy fingerprint: %v", err)
	}

	bare, err := NewLogEvent(WithVersion(schemas.NameLogEvent, 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bare.Unmarshal(old); !errors.Is(err, ErrUnknownSchema) || !strings.Contains(err.Error(), latest.Label()) {
		t.Fatalf("no source: %v, want ErrUnknownSchema naming %s", err, latest.Label())
	}
}
