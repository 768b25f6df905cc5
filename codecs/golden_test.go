package codecs

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/logstream/logstream/schemas"
)

// Golden bytes: testdata/<record>/v<N>.bin holds the golden record as
// version N of its schema wrote it. Those bytes stand for the records every
// past version left on the topics, so once written they never change: the
// test fails if a file no longer has its version's fingerprint (a released
// schema was edited) or no longer decodes, with the current codec, to the
// golden record as that version could carry it. `go test ./codecs -run
// TestGolden -update` writes the files of new versions only.
//
// The files written before logstream computed the Parsing Canonical Form
// itself carry the version's legacy (goavro) fingerprint in their header,
// as every record those releases left on the topics does (LogEvent v3's
// b7684377901cc50c, where Apache Avro Java computes eaeea4d342b9712e). They
// are kept as they are, not rewritten: they are the proof that such records
// still decode. Files of later versions carry the specification's
// fingerprint; the test checks that what each codec writes now does too,
// and that it decodes.
var update = flag.Bool("update", false, "write golden files for schema versions that have none under testdata/")

// The golden records are fixed values; do not change them without -update.
func goldenLogEvent() *schemas.LogEvent { return goldenLogEventV(2) }

// goldenLogEventV is the golden LogEvent as version v carries it.
func goldenLogEventV(v int) *schemas.LogEvent {
	e := &schemas.LogEvent{
		EventID:      "6b86b273ff34fce19d6b804eff5a3f57",
		Timestamp:    1767225600123,
		Host:         "web-1",
		Service:      "checkout",
		Level:        schemas.LevelWarn,
		Message:      "slow upstream: 1.2s ✓",
		TraceID:      ptr("4bf92f3577b34da6a3ce929d0e0e4736"),
		SpanID:       ptr("00f067aa0ba902b7"),
		HTTPStatus:   ptr(int32(200)),
		LatencyMs:    ptr(1200.5),
		K8sNamespace: ptr("shop"),
		K8sPod:       nil,
		K8sContainer: ptr("app"),
		Labels:       map[string]string{"method": "GET", "path": "/cart"},
		ParseError:   nil,
		Source:       "stdout",
		Format:       "json",
	}
	if v >= 2 {
		e.Cluster = "eu-west-1"
	}
	if v >= 4 {
		e.Stack = ptr("\tat com.shop.Cart.add(Cart.java:42)\nCaused by: java.sql.SQLTimeoutException: 411111******1111")
		e.Masked = 1
	}
	return e
}

func goldenRawLog() *schemas.RawLog {
	return &schemas.RawLog{
		Host:       "web-1",
		Source:     "/var/log/app.log",
		Line:       `{"level":"warn","msg":"slow upstream"}`,
		ReceivedAt: 1767225600456,
		Labels:     map[string]string{"env": "prod", "offset": "4096"},
	}
}

func goldenSpan() *schemas.Span {
	return &schemas.Span{
		TraceID:      "4bf92f3577b34da6a3ce929d0e0e4736",
		SpanID:       "00f067aa0ba902b7",
		ParentSpanID: ptr("53995c3f42cd8ad8"),
		Service:      "checkout",
		Operation:    "GET /cart",
		Start:        1767225600123456,
		DurationUs:   1200500,
		Status:       schemas.SpanOK,
		Host:         "web-1",
		Attributes:   map[string]string{"http.method": "GET", "http.status_code": "200"},
	}
}

func goldenDeadLetter() *schemas.DeadLetter {
	return &schemas.DeadLetter{
		OriginalKey:     nil,
		OriginalValue:   []byte{0xC3, 0x01, 0xff},
		SourceTopic:     "logs.raw",
		SourcePartition: 3,
		SourceOffset:    1234,
		Stage:           "parse",
		Error:           "decode RawLog: not Avro single-object encoded",
		Time:            1767225600789,
	}
}

// goldenParseState is the golden ParseState as version v carries it (v1
// has no updated, mark or events: they read as their defaults).
func goldenParseState(v int) *schemas.ParseState {
	s := &schemas.ParseState{Pending: map[string]schemas.PendingLine{
		"/var/log/containers/a.log": {Stream: "stdout", Time: 1767225600001, Content: "first ", Parts: 1, LastOffset: 41, Mark: -1},
		"/var/log/containers/b.log": {Stream: "stderr", Time: 1767225600002, Content: "second ", Parts: 2, LastOffset: 42, Mark: -1},
	}}
	if v >= 2 {
		a := s.Pending["/var/log/containers/a.log"]
		a.Updated, a.Mark = 1767225600500, 1767225603000
		s.Pending["/var/log/containers/a.log"] = a
		s.Events = map[string]schemas.PendingEvent{
			"/var/log/app.log": {Line: "Traceback (most recent call last):", ReceivedAt: 1767225600003, Labels: map[string]string{"env": "prod"},
				Stack: "  File \"app.py\", line 3, in <module>\nValueError: x", Lines: 2, LastOffset: 43, Updated: 1767225600600, Mark: -1, Masked: 1},
		}
	}
	return s
}

// golden checks (or with -update, writes) testdata/<dir>/v<N>.bin for every
// version N of the record: the codec of the latest version must read each
// to want(N), and the codec pinned to each version must read the files of
// that version and earlier (an old pod reading old records).
func golden[T any](t *testing.T, newCodec func(...Option) (*Codec[T], error), want func(version int) *T, eq func(a, b *T) bool) {
	t.Helper()
	latest, err := newCodec()
	if err != nil {
		t.Fatal(err)
	}
	rec, ok := mustCatalog(t).Record(latest.Name())
	if !ok {
		t.Fatalf("no record %s", latest.Name())
	}
	files := map[int][]byte{}
	for _, sv := range rec.Versions {
		pinned, err := newCodec(WithVersion(rec.Name, sv.Version))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", rec.Dir, fmt.Sprintf("v%d.bin", sv.Version))
		old, err := os.ReadFile(path)
		if errors.Is(err, os.ErrNotExist) && *update {
			if old, err = pinned.Marshal(want(sv.Version)); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, old, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s (%d bytes)", path, len(old))
		} else if err != nil {
			t.Fatalf("%v (run with -update to write the golden file of a new version)", err)
		}
		if fp, _ := Fingerprint(old); fp != sv.Fingerprint && fp != sv.LegacyFingerprint {
			t.Fatalf("%s was written with fingerprint %016x, %s now has %016x (legacy %016x): a released schema was edited, so records already on the topics would no longer decode as that version; restore %s and add the change as a new version",
				path, fp, sv.File, sv.Fingerprint, sv.LegacyFingerprint, sv.File)
		}
		files[sv.Version] = old
		// The pinned codec writes bytes of the same layout (map entries may
		// come in another order: same length), under the specification's
		// fingerprint whatever the file has.
		enc, err := pinned.Marshal(want(sv.Version))
		if err != nil {
			t.Fatal(err)
		}
		if fp, _ := Fingerprint(enc); fp != sv.Fingerprint {
			t.Fatalf("%s writes fingerprint %016x, want %016x", sv.Label(), fp, sv.Fingerprint)
		}
		if !bytes.Equal(enc[headerLen:], old[headerLen:]) && len(enc) != len(old) {
			t.Fatalf("%s encoding changed: now %d bytes %x, %s has %d bytes %x", sv.Label(), len(enc), enc, path, len(old), old)
		}
		if got, err := latest.Unmarshal(enc); err != nil || !eq(got, want(sv.Version)) {
			t.Fatalf("the latest %s codec reads what %s writes now as %+v (%v), want %+v", rec.Name, sv.Label(), got, err, want(sv.Version))
		}
		for v := 1; v <= sv.Version; v++ {
			got, err := pinned.Unmarshal(files[v])
			if err != nil {
				t.Fatalf("%s reading v%d.bin: %v", sv.Label(), v, err)
			}
			if !eq(got, want(v)) {
				t.Fatalf("%s reads v%d.bin as\n %+v\nwant\n %+v", sv.Label(), v, got, want(v))
			}
		}
	}
	for v, old := range files {
		got, err := latest.Unmarshal(old)
		if err != nil {
			t.Fatalf("the latest %s codec cannot read v%d.bin: %v", rec.Name, v, err)
		}
		if !eq(got, want(v)) {
			t.Fatalf("the latest %s codec reads v%d.bin as\n %+v\nwant\n %+v", rec.Name, v, got, want(v))
		}
	}
}

func TestGolden(t *testing.T) {
	t.Run("RawLog", func(t *testing.T) {
		golden(t, NewRawLog, func(int) *schemas.RawLog { return goldenRawLog() }, rawLogEqual)
	})
	t.Run("LogEvent", func(t *testing.T) { golden(t, NewLogEvent, goldenLogEventV, logEventEqual) })
	t.Run("Span", func(t *testing.T) { golden(t, NewSpan, func(int) *schemas.Span { return goldenSpan() }, spanEqual) })
	t.Run("DeadLetter", func(t *testing.T) {
		golden(t, NewDeadLetter, func(int) *schemas.DeadLetter { return goldenDeadLetter() }, deadLetterEqual)
	})
	t.Run("ParseState", func(t *testing.T) {
		golden(t, NewParseState, goldenParseState, parseStateEqual)
	})
}

func mustCatalog(t *testing.T) *schemas.Catalog {
	t.Helper()
	c, err := schemas.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestGoldenExactBytes pins exact bytes for a record whose map order cannot
// vary (one entry).
func TestGoldenExactBytes(t *testing.T) {
	s := mustSet(t)
	v := &schemas.RawLog{Host: "h", Source: "s", Line: "l", ReceivedAt: 1, Labels: map[string]string{"k": "v"}}
	got, err := s.RawLog.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	want := cat(sohHeader(s.RawLog.Fingerprint()), []byte{2, 'h', 2, 's', 2, 'l', 2, 2, 2, 'k', 2, 'v', 0})
	if !bytes.Equal(got, want) {
		t.Fatalf("got %x\nwant %x", got, want)
	}
}
