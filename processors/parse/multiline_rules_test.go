package parse

import (
	"strings"
	"testing"
)

func TestContinuationRules(t *testing.T) {
	for _, c := range []struct {
		line string
		want bool
	}{
		{"\tat com.shop.Pay.charge(Pay.java:88)", true},
		{"    at com.shop.Pay.charge(Pay.java:88)", true},
		{"\t... 42 more", true},
		{"Caused by: java.net.SocketTimeoutException: Read timed out", true},
		{"java.sql.SQLTimeoutException: timeout", true},
		{"com.shop.db.PoolTimeout", true},
		{"Traceback (most recent call last):", true},
		{`  File "/app/db.py", line 41, in query`, true},
		{"psycopg2.errors.QueryCanceled: canceling statement", true},
		{"ValueError", true},
		{"During handling of the above exception, another exception occurred:", true},
		{"goroutine 1 [running]:", true},
		{"main.main()", true},
		{"net/http.(*conn).serve(0xc000123456, {0x5a3b20, 0xc000012345})", true},
		{"created by net/http.(*Server).Serve in goroutine 1", true},
		{"[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4842d6]", true},
		// Not continuations.
		{"", false},
		{"   ", false},
		{"2026-05-01 12:00:00,123 INFO [main] c.s.Pay - next", false},
		{`{"level":"info","msg":"x"}`, false},
		{"level=info msg=fine", false},
		{"Error: connect ECONNREFUSED", true}, // Node.js's Error line
		{"Something went wrong: details", false},
		{"GET /api/pay 200", false},
		{"hello(world) said the program", false},
		{"see java.lang.String:it", false},
	} {
		if got := continues(c.line); got != c.want {
			t.Errorf("continues(%q) = %v, want %v", c.line, got, c.want)
		}
	}
}

func TestTraceStarts(t *testing.T) {
	for _, c := range []struct {
		line string
		want bool
	}{
		{"2026-05-01 12:00:00,123 ERROR [main] c.s.Pay - failed", true},
		{"2026-05-01 12:00:00,123 WARN [main] c.s.Pay - slow", true},
		{"2026-05-01 12:00:00,123 - payments.db - ERROR - query failed", true},
		{"ERROR:root:boom", true},
		{"Traceback (most recent call last):", true},
		{"panic: runtime error: index out of range [3] with length 3", true},
		{"Exception in thread \"main\" java.lang.NullPointerException", true},
		{"java.lang.NullPointerException", true},
		{"2026-05-01 12:00:00,123 INFO [main] c.s.Pay - fine", false},
		{`{"level":"error","msg":"json carries its stack in a field"}`, false},
		{`10.0.0.1 - - [01/May/2026:12:00:00 +0000] "GET /pay HTTP/1.1" 503 12 "-" "curl/8"`, false},
		{"<11>May  1 12:00:00 web-1 app: error: disk full", false},
		{"2026-11-01T12:00:00.000000001Z stdout F {\"level\":\"error\",\"msg\":\"x\"}", false},
		{"2026-11-01T12:00:00.000000001Z stderr F 2026-05-01 12:00:00,123 ERROR [main] c.s.Pay - failed", true},
	} {
		f := ParseLine(c.line)
		content := c.line
		if cri, ok := ParseCRI(c.line); ok {
			content = cri.Content
		}
		if got := startsTrace(f, content); got != c.want {
			t.Errorf("startsTrace(%q) = %v, want %v (format %s, level %v)", c.line, got, c.want, f.Format, f.Level)
		}
	}
}

// FuzzMultilineRules: the rules that decide what is held and what joins
// never panic, and agree with themselves (an indented non-blank line
// always continues; a blank one never does).
func FuzzMultilineRules(f *testing.F) {
	for _, s := range []string{"\tat a.B.c(B.java:1)", "Caused by: x.Y: z", "goroutine 7 [chan receive]:", "main.f(0x1)",
		"Traceback (most recent call last):", "a.b.CError: m", "ERROR:root:x", "panic: boom", "", " ", "x(", ")", ".(", "a.:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := continues(s)
		_ = startsTrace(ParseLine(s), s)
		_ = exceptionLine(s)
		_ = goFrame(s)
		if s != "" && (s[0] == ' ' || s[0] == '\t') {
			if want := strings.TrimLeft(s, " \t") != ""; c != want {
				t.Fatalf("continues(%q) = %v", s, c)
			}
		}
	})
}
