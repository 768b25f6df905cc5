package codecs

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/logstream/logstream/schemas"
)

// Run `go test ./codecs -run TestGolden -update` to rewrite testdata/*.bin
// after a deliberate schema change. Without -update, the test fails when
// bytes written by an earlier build no longer decode to the same record:
// a changed fingerprint (any change to a schema's canonical form) or a
// changed layout.
var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// The golden records are fixed values; do not change them without -update.
func goldenLogEvent() *schemas.LogEvent {
	return &schemas.LogEvent{
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

func goldenParseState() *schemas.ParseState {
	return &schemas.ParseState{Pending: map[string]schemas.PendingLine{
		"/var/log/containers/a.log": {Stream: "stdout", Time: 1767225600001, Content: "first ", Parts: 1, LastOffset: 41},
		"/var/log/containers/b.log": {Stream: "stderr", Time: 1767225600002, Content: "second ", Parts: 2, LastOffset: 42},
	}}
}

// golden checks (or with -update, writes) testdata/<file>.
func golden[T any](t *testing.T, c *Codec[T], file string, want *T, eq func(a, b *T) bool) {
	t.Helper()
	path := filepath.Join("testdata", file)
	enc, err := c.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(path, enc, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d bytes)", path, len(enc))
		return
	}
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if fp, _ := Fingerprint(old); fp != c.Fingerprint() {
		t.Fatalf("%s was written with fingerprint %016x, the %s schema now has %016x: the schema's canonical form changed, so records already on the topics no longer decode; if that is intended, migrate them and rerun with -update",
			path, fp, c.Name(), c.Fingerprint())
	}
	got, err := c.Unmarshal(old)
	if err != nil {
		t.Fatalf("%s no longer decodes: %v", path, err)
	}
	if !eq(got, want) {
		t.Fatalf("%s decodes to\n %+v\nwant\n %+v", path, got, want)
	}
	// goavro writes map entries in map iteration order, so the bytes may
	// legitimately differ in order only: same length, same decoded value.
	if !bytes.Equal(enc, old) && len(enc) != len(old) {
		t.Fatalf("encoding changed: now %d bytes %x, %s has %d bytes %x", len(enc), enc, path, len(old), old)
	}
}

func TestGolden(t *testing.T) {
	s := mustSet(t)
	t.Run("RawLog", func(t *testing.T) { golden(t, s.RawLog, "rawlog.bin", goldenRawLog(), rawLogEqual) })
	t.Run("LogEvent", func(t *testing.T) { golden(t, s.LogEvent, "logevent.bin", goldenLogEvent(), logEventEqual) })
	t.Run("Span", func(t *testing.T) { golden(t, s.Span, "span.bin", goldenSpan(), spanEqual) })
	t.Run("DeadLetter", func(t *testing.T) { golden(t, s.DeadLetter, "deadletter.bin", goldenDeadLetter(), deadLetterEqual) })
	t.Run("ParseState", func(t *testing.T) { golden(t, s.ParseState, "parsestate.bin", goldenParseState(), parseStateEqual) })
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
	want := cat(header(s.RawLog.Fingerprint()), []byte{2, 'h', 2, 's', 2, 'l', 2, 2, 2, 'k', 2, 'v', 0})
	if !bytes.Equal(got, want) {
		t.Fatalf("got %x\nwant %x", got, want)
	}
}
