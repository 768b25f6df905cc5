package schemas

import (
	"bytes"
	"io/fs"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The checked-in manifest is exactly what `logstream schemas manifest`
// generates from the directory: no version missing, no stale fingerprint.
func TestManifestUpToDate(t *testing.T) {
	if _, err := Load(FS()); err != nil {
		t.Fatal(err)
	}
	want, err := Manifest(FS())
	if err != nil {
		t.Fatal(err)
	}
	got, err := fs.ReadFile(FS(), ManifestFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("schemas/manifest.json is out of date; run `go run ./cmd/logstream schemas manifest --write`\nwant:\n%s", want)
	}
}

// Ids are unique and every version is reachable by fingerprint and id.
func TestCatalogIndexes(t *testing.T) {
	c, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, r := range c.Records {
		for i, s := range r.Versions {
			if s.Version != i+1 || s.ID <= 0 || seen[s.ID] {
				t.Fatalf("%s: version %d id %d", s.File, s.Version, s.ID)
			}
			seen[s.ID] = true
			if got, ok := c.ByFingerprint(s.Fingerprint); !ok || got.File != s.File {
				t.Fatalf("%s not found by fingerprint", s.File)
			}
			if got, ok := c.ByID(s.ID); !ok || got.File != s.File {
				t.Fatalf("%s not found by id", s.File)
			}
		}
	}
	if r, ok := c.Record(NameLogEvent); !ok || len(r.Versions) < 2 {
		t.Fatalf("LogEvent has %d versions", len(r.Versions))
	}
}

// A stage passing an event on copies the routing headers it read, and
// encodes them only for an event it had to decode.
func TestRoutingPassHeaders(t *testing.T) {
	tid, sid := "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	r := Routing{EventID: "e1", Timestamp: 1700000000123, TraceID: &tid, SpanID: &sid}
	in := r.Headers(nil)
	out := r.PassHeaders(map[string][]byte{"other": []byte("x")}, in)
	for _, k := range RoutingHeaders {
		if &out[k][0] != &in[k][0] {
			t.Errorf("%s: not the bytes read", k)
		}
	}
	if string(out["other"]) != "x" {
		t.Error("the caller's headers are lost")
	}
	enc := r.PassHeaders(nil, map[string][]byte{})
	got, ok := EventRouting(enc)
	if !ok || got.EventID != "e1" || got.Timestamp != r.Timestamp || *got.TraceID != tid || *got.SpanID != sid {
		t.Fatalf("encoded routing reads back as %+v, %v", got, ok)
	}

	// The record-header form passes the same headers, the same bytes.
	hs := r.AppendPassHeaders([]kgo.RecordHeader{{Key: "other", Value: []byte("x")}}, in)
	asMap := map[string][]byte{}
	for _, h := range hs {
		asMap[h.Key] = h.Value
	}
	if len(hs) != len(out) || !reflect.DeepEqual(asMap, out) {
		t.Fatalf("AppendPassHeaders = %v, PassHeaders = %v", asMap, out)
	}
	for _, h := range hs[1:] {
		if &h.Value[0] != &in[h.Key][0] {
			t.Errorf("%s: not the bytes read", h.Key)
		}
	}
	hs = r.AppendPassHeaders(nil, map[string][]byte{})
	asMap = map[string][]byte{}
	for _, h := range hs {
		asMap[h.Key] = h.Value
	}
	if !reflect.DeepEqual(asMap, enc) {
		t.Fatalf("without routing in: AppendPassHeaders = %v, PassHeaders = %v", asMap, enc)
	}
}
