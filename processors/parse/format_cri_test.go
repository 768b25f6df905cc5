package parse

import (
	"strings"
	"testing"
	"time"

	"github.com/logstream/logstream/schemas"
)

func TestParseCRI(t *testing.T) {
	for _, tc := range []struct {
		line string
		want CRILine
		ok   bool
	}{
		{"2024-05-01T12:00:00.123456789Z stdout F hello world", CRILine{ts("2024-05-01T12:00:00.123456789Z"), "stdout", false, "hello world"}, true},
		{"2024-05-01T12:00:00.123456789+02:00 stderr P part", CRILine{ts("2024-05-01T10:00:00.123456789Z"), "stderr", true, "part"}, true},
		{"2024-05-01T12:00:00Z stdout F ", CRILine{ts("2024-05-01T12:00:00Z"), "stdout", false, ""}, true},
		{"2024-05-01T12:00:00Z stdout F", CRILine{ts("2024-05-01T12:00:00Z"), "stdout", false, ""}, true},
		{"2024-05-01T12:00:00Z stdout F  two leading blanks", CRILine{ts("2024-05-01T12:00:00Z"), "stdout", false, " two leading blanks"}, true},
		{"2024-05-01T12:00:00Z stdin F x", CRILine{}, false},
		{"2024-05-01T12:00:00Z stdout X x", CRILine{}, false},
		{"2024-05-01T12:00:00Z stdout FP x", CRILine{}, false},
		{"2024-05-01T12:00:00Z stdout  F x", CRILine{}, false},
		{"2024-05-01 12:00:00Z stdout F x", CRILine{}, false}, // space in the time
		{"2024-13-01T12:00:00Z stdout F x", CRILine{}, false},
		{"2024-05-01T12:00:00Z", CRILine{}, false},
		{"stdout F x", CRILine{}, false},
		{"", CRILine{}, false},
	} {
		got, ok := ParseCRI(tc.line)
		if ok != tc.ok || !got.Time.Equal(tc.want.Time) || got.Stream != tc.want.Stream || got.Partial != tc.want.Partial || got.Content != tc.want.Content {
			t.Errorf("ParseCRI(%q) = %+v, %v; want %+v, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCRILines(t *testing.T) {
	runLineCases(t, []lineCase{
		{
			name: "JSON inside, inner time wins",
			line: `2024-05-01T12:00:00.5Z stdout F {"time":"2024-05-01T11:59:59Z","level":"error","msg":"inner json","host":"node-1","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"}`,
			want: Fields{
				Timestamp: ts("2024-05-01T11:59:59Z"), Host: "node-1", Level: schemas.LevelError, Message: "inner json",
				TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Format: "cri", Labels: labels("stream", "stdout"),
			},
		},
		{
			name: "JSON inside without time: CRI time",
			line: `2024-05-01T12:00:00.5Z stderr F {"level":"warn","msg":"no time"}`,
			want: Fields{Timestamp: ts("2024-05-01T12:00:00.5Z"), Level: schemas.LevelWarn, Message: "no time", Format: "cri", Labels: labels("stream", "stderr")},
		},
		{
			name: "logfmt inside",
			line: `2024-05-01T12:00:00.5Z stdout F level=info msg="from logfmt" status=204`,
			want: Fields{Timestamp: ts("2024-05-01T12:00:00.5Z"), Level: schemas.LevelInfo, Message: "from logfmt", HTTPStatus: 204, Format: "cri", Labels: labels("stream", "stdout")},
		},
		{
			name: "java inside",
			line: `2024-05-01T12:00:00.5Z stdout F 2024-05-01 12:00:00.123 ERROR [main] c.e.App - failed`,
			want: Fields{Timestamp: ts("2024-05-01T12:00:00.123Z"), Service: "c.e.App", Level: schemas.LevelError, Message: "failed", Format: "cri", Labels: labels("stream", "stdout", "thread", "main")},
		},
		{
			name: "plain text inside is a clean CRI line",
			line: `2024-05-01T12:00:00.5Z stderr F panic: runtime error: index out of range`,
			want: Fields{Timestamp: ts("2024-05-01T12:00:00.5Z"), Message: "panic: runtime error: index out of range", Format: "cri", Labels: labels("stream", "stderr")},
		},
		{
			name: "partial part is labelled",
			line: `2024-05-01T12:00:00.5Z stdout P {"level":"info","msg":"part`,
			want: Fields{Timestamp: ts("2024-05-01T12:00:00.5Z"), Message: `{"level":"info","msg":"part`, Format: "cri", Labels: labels("stream", "stdout", "cri_partial", "true")},
		},
		{
			name: "empty content",
			line: `2024-05-01T12:00:00.5Z stdout F`,
			want: Fields{Timestamp: ts("2024-05-01T12:00:00.5Z"), Format: "cri", Labels: labels("stream", "stdout")},
		},
		{
			name: "malformed logfmt inside keeps its error",
			line: `2024-05-01T12:00:00.5Z stdout F level=info msg="open`,
			want: Fields{Timestamp: ts("2024-05-01T12:00:00.5Z"), Level: schemas.LevelInfo, Message: "open", Format: "cri", ParseError: "logfmt: unterminated", Labels: labels("stream", "stdout")},
		},
		{
			name: "CRI inside CRI is not unwrapped twice",
			line: `2024-05-01T12:00:00.5Z stdout F 2024-05-01T12:00:01Z stdout F x`,
			want: Fields{Timestamp: ts("2024-05-01T12:00:00.5Z"), Message: "2024-05-01T12:00:01Z stdout F x", Format: "cri", Labels: labels("stream", "stdout")},
		},
	})
}

// TestCRIJoin mirrors what the stage does with partial lines: parts are
// read with ParseCRI, their contents joined, and the whole parsed once.
func TestCRIJoin(t *testing.T) {
	parts := []string{
		`2024-05-01T12:00:00.1Z stdout P {"level":"error","msg":"a long `,
		`2024-05-01T12:00:00.2Z stdout P message split by the `,
		`2024-05-01T12:00:00.3Z stdout F runtime","host":"web-1"}`,
	}
	var joined CRILine
	var content strings.Builder
	for i, p := range parts {
		c, ok := ParseCRI(p)
		if !ok {
			t.Fatalf("part %d not CRI", i)
		}
		if c.Partial != (i < len(parts)-1) {
			t.Fatalf("part %d: Partial = %v", i, c.Partial)
		}
		if i == 0 {
			joined = CRILine{Time: c.Time, Stream: c.Stream}
		}
		content.WriteString(c.Content)
	}
	joined.Content = content.String()
	f := ParseCRIContent(joined)
	assertFields(t, joined.Content, f, Fields{
		Timestamp: ts("2024-05-01T12:00:00.1Z"), Host: "web-1", Level: schemas.LevelError,
		Message: "a long message split by the runtime", Format: "cri", Labels: labels("stream", "stdout"),
	})
}

func TestParseCRIContentZeroTime(t *testing.T) {
	f := ParseCRIContent(CRILine{Stream: "stdout", Content: "x"})
	if f.Format != "cri" || !f.Timestamp.IsZero() || f.Message != "x" || f.Timestamp.Location() != time.UTC {
		t.Fatalf("%+v", f)
	}
}
