package errorrate

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/logstream/logstream/schemas"
)

func clsStatus(s int32) *int32    { return &s }
func clsFloat(f float64) *float64 { return &f }
func clsInt(i int64) *int64       { return &i }
func clsMustNew(t testing.TB, pattern string) *Classifier {
	t.Helper()
	c, err := NewClassifier(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewClassifier(t *testing.T) {
	for _, p := range []string{DefaultFailurePattern, "", "oom|out of memory", `(?s)panic:.*goroutine`} {
		c, err := NewClassifier(p)
		if err != nil || c == nil {
			t.Errorf("NewClassifier(%q) = %v, %v", p, c, err)
			continue
		}
		if c.Pattern() != p {
			t.Errorf("Pattern() = %q, want %q", c.Pattern(), p)
		}
	}
	for _, p := range []string{"(", "timeout|[z-a]", `\8`, "a{2,1}"} {
		c, err := NewClassifier(p)
		if err == nil {
			t.Errorf("NewClassifier(%q) = %v, nil error", p, c)
			continue
		}
		if !strings.Contains(err.Error(), strconv.Quote(p)) {
			t.Errorf("NewClassifier(%q): error %q does not name the pattern", p, err)
		}
	}
}

func TestClassifierIsError(t *testing.T) {
	def := clsMustNew(t, DefaultFailurePattern)
	none := clsMustNew(t, "")
	for _, tc := range []struct {
		name string
		ev   schemas.LogEvent
		def  bool // with DefaultFailurePattern
		none bool // with no pattern
	}{
		// Levels.
		{"unknown", schemas.LogEvent{Level: schemas.LevelUnknown, Message: "ok"}, false, false},
		{"trace", schemas.LogEvent{Level: schemas.LevelTrace, Message: "ok"}, false, false},
		{"debug", schemas.LogEvent{Level: schemas.LevelDebug, Message: "ok"}, false, false},
		{"info", schemas.LogEvent{Level: schemas.LevelInfo, Message: "ok"}, false, false},
		{"warn", schemas.LogEvent{Level: schemas.LevelWarn, Message: "slow"}, false, false},
		{"error", schemas.LogEvent{Level: schemas.LevelError, Message: "ok"}, true, true},
		{"fatal", schemas.LogEvent{Level: schemas.LevelFatal}, true, true},

		// HTTP statuses.
		{"200", schemas.LogEvent{Level: schemas.LevelInfo, HTTPStatus: clsStatus(200)}, false, false},
		{"404", schemas.LogEvent{Level: schemas.LevelInfo, HTTPStatus: clsStatus(404)}, false, false},
		{"499", schemas.LogEvent{Level: schemas.LevelInfo, HTTPStatus: clsStatus(499)}, false, false},
		{"500", schemas.LogEvent{Level: schemas.LevelInfo, HTTPStatus: clsStatus(500)}, true, true},
		{"503", schemas.LogEvent{Level: schemas.LevelWarn, HTTPStatus: clsStatus(503)}, true, true},
		{"599", schemas.LogEvent{Level: schemas.LevelInfo, HTTPStatus: clsStatus(599)}, true, true},
		{"600", schemas.LogEvent{Level: schemas.LevelInfo, HTTPStatus: clsStatus(600)}, false, false},
		{"0", schemas.LogEvent{Level: schemas.LevelInfo, HTTPStatus: clsStatus(0)}, false, false},
		{"error and 200", schemas.LogEvent{Level: schemas.LevelError, HTTPStatus: clsStatus(200)}, true, true},

		// Messages.
		{"timed out", schemas.LogEvent{Level: schemas.LevelWarn, Message: "java.net.SocketTimeoutException: Read timed out"}, true, false},
		{"TIMEOUT", schemas.LogEvent{Level: schemas.LevelInfo, Message: "upstream TIMEOUT after 30s"}, true, false},
		{"timeouts", schemas.LogEvent{Level: schemas.LevelInfo, Message: "3 timeouts in a row"}, true, false},
		{"time out", schemas.LogEvent{Level: schemas.LevelInfo, Message: "query will time out"}, true, false},
		{"timedout", schemas.LogEvent{Level: schemas.LevelInfo, Message: "ETIMEDOUT"}, false, false}, // no \b before
		{"timedout word", schemas.LogEvent{Level: schemas.LevelInfo, Message: "status: timedout"}, true, false},
		{"refused", schemas.LogEvent{Level: schemas.LevelInfo, Message: "dial tcp 10.0.0.1:5432: connect: connection refused"}, true, false},
		{"reset", schemas.LogEvent{Level: schemas.LevelDebug, Message: "read: Connection reset by peer"}, true, false},
		{"deadline", schemas.LogEvent{Level: schemas.LevelInfo, Message: "rpc error: code = DeadlineExceeded desc = context deadline exceeded"}, true, false},
		{"unavailable", schemas.LogEvent{Level: schemas.LevelInfo, Message: "503 Service Unavailable"}, true, false},
		{"circuit open", schemas.LogEvent{Level: schemas.LevelWarn, Message: "circuit open for payments"}, true, false},
		{"circuit breaker open", schemas.LogEvent{Level: schemas.LevelWarn, Message: "Circuit Breaker OPEN"}, true, false},
		{"timeoutMs", schemas.LogEvent{Level: schemas.LevelInfo, Message: "config timeoutMs=500"}, false, false},
		{"available", schemas.LogEvent{Level: schemas.LevelInfo, Message: "replica available again"}, false, false},
		{"breaker closed", schemas.LogEvent{Level: schemas.LevelInfo, Message: "circuit breaker closed"}, false, false},
		{"connection ok", schemas.LogEvent{Level: schemas.LevelInfo, Message: "connection established"}, false, false},
		{"empty", schemas.LogEvent{Level: schemas.LevelInfo}, false, false},
		{"non-ASCII", schemas.LogEvent{Level: schemas.LevelInfo, Message: "délai: connection refused ✗"}, true, false},
	} {
		ev := tc.ev
		if got := def.IsError(&ev); got != tc.def {
			t.Errorf("%s: default pattern: IsError = %v, want %v", tc.name, got, tc.def)
		}
		if got := none.IsError(&ev); got != tc.none {
			t.Errorf("%s: no pattern: IsError = %v, want %v", tc.name, got, tc.none)
		}
		var nilc *Classifier
		if got := nilc.IsError(&ev); got != tc.none {
			t.Errorf("%s: nil classifier: IsError = %v, want %v", tc.name, got, tc.none)
		}
	}
	if def.IsError(nil) {
		t.Error("IsError(nil)")
	}
}

func TestClassifierPrefilter(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		pre     string // "<nil>": none
		fold    bool
	}{
		{DefaultFailurePattern, `("time" & ("out" | "d out")) | ("connection " & ("re" & ("fused" | "set"))) | "deadline exceeded" | "unavailable" | ("circuit " & "open")`, true},
		{"timeout", `"timeout"`, false},
		{"Disk Full|OOM", `"disk full" | "oom"`, true}, // k: KELVIN SIGN
		{"out of memory|oom-killer", `"ut of memory" | "om-killer"`, true},
		{`panic: .*`, `"panic: "`, false},
		{`(?s)panic:.*goroutine`, `"panic:" & "goroutine"`, false},
		{`\d+ errors`, `" errors"`, true},
		{`(?:conn|connection) refused`, `"conn" & " refused"`, true},
		{"a(bc)+d{2,}", `"bc"`, false},
		{"délai", `"lai"`, false}, // the longest ASCII run
		{"x+y", "<nil>", false},   // literals too short
		{`\d+`, "<nil>", false},
		{"a|b*", "<nil>", false},
		{"timeout|.", "<nil>", false},
		{"^$", "<nil>", false},
		{"(?:)", "<nil>", false},
	} {
		c := clsMustNew(t, tc.pattern)
		if got := fmt.Sprint(c.pre); got != tc.pre || c.fold != tc.fold {
			t.Errorf("%q: pre-filter %s fold %v, want %s fold %v", tc.pattern, got, c.fold, tc.pre, tc.fold)
		}
	}
}

// TestClassifierPrefilterExact checks that the pre-filter never changes
// what the regexp says.
func TestClassifierPrefilterExact(t *testing.T) {
	msgs := []string{
		"", "ok", "TIMEOUT", "timeout", "time out", "timed out", "Timed Out", "timeouts",
		"connection refused", "CONNECTION RESET", "connection  refused", "deadline exceeded",
		"unavailable", "circuit open", "circuit breaker open", "circuitbreaker open",
		"disk full", "DISK FULL", "dis\u212A full", // KELVIN SIGN folds to k
		"out of memory", "oom-killer invoked", "ſtatus", "Out Of Memory",
		"panic: nil map", "12 errors", "x errors", "connect: conn refused",
		"\xff\xfe timeout \xc3", "日本語 timeout", "time\u212Aout", "connection re\u017Fet", "circuit → open",
		"response time 12ms, connection established", "timeoutMs=5", "connexion refusée", "CONNEXION REFUSÉE",
		"goroutine 1 panic: x", "panic: x\ngoroutine 1",
	}
	for _, p := range []string{DefaultFailurePattern, "Disk Full|OOM", "out of memory|oom-killer", `panic: .*`, `(?s)panic:.*goroutine`,
		`\d+ errors`, `(?:conn|connection) refused`, `status`, "connexion refusée", "a(bc)+d{2,}"} {
		c := clsMustNew(t, p)
		re := regexp.MustCompile("(?i)" + p)
		for _, m := range msgs {
			if got, want := c.MatchMessage(m), re.MatchString(m); got != want {
				t.Errorf("pattern %q, message %q: MatchMessage = %v, regexp %v", p, m, got, want)
			}
		}
	}
}

func FuzzClassifierPrefilter(f *testing.F) {
	f.Add("connection refused", DefaultFailurePattern)
	f.Add("dis\u212A full", "disk full")
	f.Add("12 errors", `\d+ errors`)
	f.Fuzz(func(t *testing.T, msg, pattern string) {
		c, err := NewClassifier(pattern)
		if err != nil || pattern == "" {
			return
		}
		if got, want := c.MatchMessage(msg), c.re.MatchString(msg); got != want {
			t.Fatalf("pattern %q (pre-filter %q), message %q: %v, regexp %v", pattern, c.lits, msg, got, want)
		}
	})
}

func TestLatency(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   *schemas.LogEvent
		ms   float64
		ok   bool
	}{
		{"nil event", nil, 0, false},
		{"none", &schemas.LogEvent{}, 0, false},
		{"latency", &schemas.LogEvent{LatencyMs: clsFloat(12.5)}, 12.5, true},
		{"zero latency", &schemas.LogEvent{LatencyMs: clsFloat(0)}, 0, true},
		{"span", &schemas.LogEvent{SpanDurationUs: clsInt(3012)}, 3.012, true},
		{"zero span", &schemas.LogEvent{SpanDurationUs: clsInt(0)}, 0, true},
		{"latency first", &schemas.LogEvent{LatencyMs: clsFloat(7), SpanDurationUs: clsInt(9000)}, 7, true},
		{"negative latency: span", &schemas.LogEvent{LatencyMs: clsFloat(-1), SpanDurationUs: clsInt(9000)}, 9, true},
		{"NaN latency: span", &schemas.LogEvent{LatencyMs: clsFloat(math.NaN()), SpanDurationUs: clsInt(9000)}, 9, true},
		{"infinite latency", &schemas.LogEvent{LatencyMs: clsFloat(math.Inf(1))}, 0, false},
		{"negative span", &schemas.LogEvent{SpanDurationUs: clsInt(-5)}, 0, false},
	} {
		ms, ok := Latency(tc.ev)
		if ms != tc.ms || ok != tc.ok {
			t.Errorf("%s: Latency = %v, %v; want %v, %v", tc.name, ms, ok, tc.ms, tc.ok)
		}
	}
}

func TestClassifierAllocs(t *testing.T) {
	c := clsMustNew(t, DefaultFailurePattern)
	evs := []*schemas.LogEvent{
		{Level: schemas.LevelError, Message: "boom"},
		{Level: schemas.LevelInfo, Message: "GET /api/v1/orders 200 in 12ms"},
		{Level: schemas.LevelInfo, Message: "upstream request timed out after 30s"},
	}
	for _, ev := range evs {
		c.IsError(ev) // warm the regexp's machine cache
		if n := testing.AllocsPerRun(100, func() { c.IsError(ev) }); n != 0 {
			t.Errorf("IsError(%q) allocates %v times", ev.Message, n)
		}
	}
}

func BenchmarkClassifierIsError(b *testing.B) {
	c := clsMustNew(b, DefaultFailurePattern)
	plain := &Classifier{pattern: c.pattern, re: c.re} // no pre-filter
	long := strings.Repeat("GET /api/v1/orders?id=42 200 in 12ms from 10.0.0.1; ", 20)
	for _, bm := range []struct {
		name string
		ev   *schemas.LogEvent
	}{
		{"level", &schemas.LogEvent{Level: schemas.LevelError, Message: "request timed out"}},
		{"status", &schemas.LogEvent{Level: schemas.LevelInfo, HTTPStatus: clsStatus(503), Message: "GET /api/v1/orders"}},
		{"info-nomatch", &schemas.LogEvent{Level: schemas.LevelInfo, Message: "GET /api/v1/orders/42 200 in 12ms from 10.0.0.1 user=bob"}},
		{"info-match", &schemas.LogEvent{Level: schemas.LevelInfo, Message: "upstream request to payments timed out after 30s, retrying"}},
		{"info-nearmiss", &schemas.LogEvent{Level: schemas.LevelInfo, Message: "connection established to db after 3 attempts, timeoutMs=500"}},
		{"info-partial", &schemas.LogEvent{Level: schemas.LevelInfo, Message: "response time 12ms for GET /api/v1/orders, connection established"}},
		{"info-nonascii", &schemas.LogEvent{Level: schemas.LevelInfo, Message: "requête traitée en 12 ms → 200 OK pour l’utilisateur n°42"}},
		{"info-long-nomatch", &schemas.LogEvent{Level: schemas.LevelInfo, Message: long}},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.IsError(bm.ev)
			}
		})
		if strings.HasPrefix(bm.name, "info-") {
			b.Run(bm.name+"-noprefilter", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					plain.IsError(bm.ev)
				}
			})
		}
	}
}

func BenchmarkLatency(b *testing.B) {
	ev := &schemas.LogEvent{SpanDurationUs: clsInt(3012)}
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Latency(ev)
	}
}
