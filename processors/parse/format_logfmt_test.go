package parse

import (
	"testing"

	"github.com/logstream/logstream/schemas"
)

func TestLogfmtLines(t *testing.T) {
	runLineCases(t, []lineCase{
		{
			name: "typical",
			line: `level=info msg="payment ok" ts=2024-05-01T12:00:00Z service=payments duration=12ms status=200 trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Service: "payments", Level: schemas.LevelInfo,
				Message: "payment ok", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7",
				HTTPStatus: 200, LatencyMs: 12, HasLatency: true, Format: "logfmt",
			},
		},
		{
			name: "logrus text formatter",
			line: `time="2024-05-01T12:00:00+02:00" level=warning msg="disk \"almost\" full" host=db-1 pct=91`,
			want: Fields{
				Timestamp: ts("2024-05-01T10:00:00Z"), Host: "db-1", Level: schemas.LevelWarn,
				Message: `disk "almost" full`, Format: "logfmt", Labels: labels("pct", "91"),
			},
		},
		{
			name: "go-kit",
			line: `ts=2024-05-01T12:00:00.123456Z caller=main.go:42 level=debug msg="starting" addr=:8080 url=http://x/?a=b&c=d empty=`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00.123456Z"), Level: schemas.LevelDebug, Message: "starting", Format: "logfmt",
				Labels: labels("caller", "main.go:42", "addr", ":8080", "url", "http://x/?a=b&c=d", "empty", ""),
			},
		},
		{
			name: "epoch time, traceparent, no message",
			line: `ts=1714564800 traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 path=/x`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7",
				Message: `ts=1714564800 traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 path=/x`,
				Format:  "logfmt", Labels: labels("path", "/x"),
			},
		},
		{
			name: "escapes in quotes, tabs between pairs",
			line: "level=ERROR\tmsg=\"line1\\nline2 \\u00e9\"\tapp=billing",
			want: Fields{Level: schemas.LevelError, Message: "line1\nline2 é", Service: "billing", Format: "logfmt"},
		},
		{
			name: "escape Go does not know: kept as written",
			line: `level=info msg="a \q b"`,
			want: Fields{Level: schemas.LevelInfo, Message: `a \q b`, Format: "logfmt"},
		},
		{
			name: "malformed: unterminated quote",
			line: `level=error msg="unterminated value`,
			want: Fields{Level: schemas.LevelError, Message: "unterminated value", Format: "logfmt", ParseError: "logfmt: unterminated quoted value"},
		},
		{
			name: "malformed: text glued to a quoted value",
			line: `level=info msg="a"b status=200`,
			want: Fields{Level: schemas.LevelInfo, Message: "a", HTTPStatus: 200, Format: "logfmt", ParseError: "logfmt: text right after"},
		},
	})
}

func TestLogfmtRejects(t *testing.T) {
	for _, line := range []string{
		`user=bob logged in at noon`,          // prose
		`level=info`,                          // a single pair
		`a=1 b=2 c=3`,                         // no well-known key
		`level=info msg=hello world`,          // a bare word
		`Error: level=info msg=x`,             // starts with a bare word
		`=info msg=x`,                         // empty key
		`level=info "msg"=x`,                  // quoted key
		`lev:el=info msg=x`,                   // not a key character
		`the result: level=warn x=1 msg=ok z`, // prose around pairs
	} {
		if f := ParseLine(line); f.Format != "none" {
			t.Errorf("ParseLine(%q) = %q, want none", line, f.Format)
		}
	}
}
