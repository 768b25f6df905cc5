package parse

import (
	"strings"
	"testing"

	"github.com/logstream/logstream/schemas"
)

func TestPythonLines(t *testing.T) {
	runLineCases(t, []lineCase{
		{
			name: "basicConfig default, root logger, colons and dashes in the message",
			line: `ERROR:root:Payment failed: card declined - retry later`,
			want: Fields{Service: "root", Level: schemas.LevelError, Message: "Payment failed: card declined - retry later", Format: "python"},
		},
		{
			name: "basicConfig, dotted logger",
			line: `WARNING:payments.db.pool:pool exhausted: 10/10 connections in use`,
			want: Fields{Service: "payments.db.pool", Level: schemas.LevelWarn, Message: "pool exhausted: 10/10 connections in use", Format: "python"},
		},
		{
			name: "basicConfig, urllib3",
			line: `DEBUG:urllib3.connectionpool:Starting new HTTPS connection (1): api.example.com:443`,
			want: Fields{Service: "urllib3.connectionpool", Level: schemas.LevelDebug, Message: "Starting new HTTPS connection (1): api.example.com:443", Format: "python"},
		},
		{
			name: "basicConfig, __main__, CRITICAL",
			line: `CRITICAL:__main__:disk full`,
			want: Fields{Service: "__main__", Level: schemas.LevelFatal, Message: "disk full", Format: "python"},
		},
		{
			name: "basicConfig, empty message",
			line: `INFO:app:`,
			want: Fields{Service: "app", Level: schemas.LevelInfo, Format: "python"},
		},
		{
			name: "asctime, dotted logger, message with dashes and colons",
			line: `2026-05-01 12:00:00,123 - payments.db - ERROR - connection lost: timeout after 30 s - giving up`,
			want: Fields{
				Timestamp: ts("2026-05-01T12:00:00.123Z"), Service: "payments.db", Level: schemas.LevelError,
				Message: "connection lost: timeout after 30 s - giving up", Format: "python",
			},
		},
		{
			name: "asctime, __main__, URL in the message",
			line: `2026-05-01 12:00:00,001 - __main__ - INFO - Listening on http://0.0.0.0:8000 - press CTRL+C to quit`,
			want: Fields{
				Timestamp: ts("2026-05-01T12:00:00.001Z"), Service: "__main__", Level: schemas.LevelInfo,
				Message: "Listening on http://0.0.0.0:8000 - press CTRL+C to quit", Format: "python",
			},
		},
		{
			name: "asctime, celery logger",
			line: `2026-05-01 12:00:00,500 - celery.worker.strategy - INFO - Task tasks.add[9b1f2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d] received`,
			want: Fields{
				Timestamp: ts("2026-05-01T12:00:00.5Z"), Service: "celery.worker.strategy", Level: schemas.LevelInfo,
				Message: "Task tasks.add[9b1f2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d] received", Format: "python",
			},
		},
		{
			name: "asctime without a logger name",
			line: `2026-05-01 12:00:00,123 - WARNING - low disk space - 5% left`,
			want: Fields{Timestamp: ts("2026-05-01T12:00:00.123Z"), Level: schemas.LevelWarn, Message: "low disk space - 5% left", Format: "python"},
		},
		{
			name: "padded level name",
			line: `2026-05-01 12:00:00,123 - app.worker - INFO     - job 7 done`,
			want: Fields{Timestamp: ts("2026-05-01T12:00:00.123Z"), Service: "app.worker", Level: schemas.LevelInfo, Message: "job 7 done", Format: "python"},
		},
		{
			name: "empty message",
			line: `2026-05-01 12:00:00,123 - app - DEBUG - `,
			want: Fields{Timestamp: ts("2026-05-01T12:00:00.123Z"), Service: "app", Level: schemas.LevelDebug, Format: "python"},
		},
		{
			name: "malformed: impossible date, the rest kept",
			line: `2026-02-30 12:00:00,123 - app - ERROR - x`,
			want: Fields{
				Service: "app", Level: schemas.LevelError, Message: "x", Format: "python",
				ParseError: `python: unreadable timestamp "2026-02-30 12:00:00,123" in field "asctime"`,
			},
		},
	})
}

// Lines that look a little like Python's must stay what they are.
func TestPythonDoesNotSteal(t *testing.T) {
	for _, tc := range []struct{ line, format string }{
		{`2026-05-01 12:00:00,123 ERROR [main] c.e.payments.DbPool - Connection timeout`, "java"},
		{`2026-05-01 12:00:00,123 [main] WARN  com.example.App - slow start`, "java"},
		{`2026-05-01 12:00:00.123 INFO com.example.App - started`, "java"},
		{`level=ERROR msg="ERROR:root:boom"`, "logfmt"},
		{`<11>May  1 12:00:00 host app: ERROR:root:boom`, "syslog3164"},
		{`2026-05-01T12:00:00.123Z myhost app[1]: x - y - ERROR - z`, "syslog3164"},
		{`10.0.0.1 - - [01/May/2026:12:00:00 +0000] "GET /ERROR:root:x HTTP/1.1" 200 1`, "combined"},
		{`{"msg":"ERROR:root:boom"}`, "json"},
		{`WARNING: disk full`, "none"},
		{`ERROR:x=1 level=info`, "none"},
		{`Error:root:lower-case level`, "none"},
		{`WARN:root:not a name Python writes`, "none"},
		{`ERROR:2024-05-01:logger starts with a digit`, "none"},
		{`ERROR:some logger:blank in the name`, "none"},
		{`ERROR::no name`, "none"},
		{`2026-05-01 12:00:00,123 - app - LOUD - unknown level`, "none"},
		{`2026-05-01 12:00:00,123 - app - ERROR`, "none"},
		{`2026-05-01 12:00:00,123 - two words - ERROR - x`, "none"},
	} {
		f := ParseLine(tc.line)
		if f.Format != tc.format {
			t.Errorf("ParseLine(%q) = %q (%s), want %q", tc.line, f.Format, f.ParseError, tc.format)
		}
		checkInvariants(t, tc.line, f)
	}
}

// FuzzPythonBasic builds a basicConfig line and checks the logger and the
// message come back.
func FuzzPythonBasic(f *testing.F) {
	f.Add("payments.db", "connection lost: retry - 3")
	f.Add("__main__", "")
	f.Add("a", " leading and trailing blanks \t")
	f.Fuzz(func(t *testing.T, logger, msg string) {
		if !isPythonLogger(logger) {
			return
		}
		line := "ERROR:" + logger + ":" + msg
		got := ParseLine(line)
		checkInvariants(t, line, got)
		if got.Format != "python" || got.Service != logger || got.Level != schemas.LevelError || got.ParseError != "" {
			t.Fatalf("%q: %+v", line, got)
		}
		// The line's trailing blanks and line break are not part of it.
		if want := strings.TrimRight(msg, " \t\r\n"); got.Message != want {
			t.Fatalf("%q: message %q, want %q", line, got.Message, want)
		}
	})
}
