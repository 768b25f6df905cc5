package parse_test

import (
	"strings"
	"testing"

	"github.com/lovoo/goka"

	"github.com/logstream/logstream/schemas"
)

// send consumes plain text lines of one host and source, in order.
func (h *harness) send(t *testing.T, host, source string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		h.tt.Consume(string(in), host, h.raw(t, &schemas.RawLog{Host: host, Source: source, Line: l, ReceivedAt: 1_700_000_000_000}))
	}
}

func TestJavaStackTraceJoined(t *testing.T) {
	h := newHarness(t, 0)
	trace := []string{
		"java.sql.SQLTimeoutException: Connection is not available, request timed out after 3000ms.",
		"\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:696)",
		"\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:181)",
		"\tat com.shop.payments.ChargeService.charge(ChargeService.java:88)",
		"Caused by: java.net.SocketTimeoutException: Read timed out",
		"\tat java.base/java.net.SocketInputStream.socketRead0(Native Method)",
		"\t... 42 more",
	}
	first := "2026-05-01 12:00:00,123 ERROR [http-nio-8080-exec-3] c.s.p.ChargeService - charge failed for order 991"
	h.send(t, "pay-3", "/var/log/pay.log", append([]string{first}, trace...)...)
	if _, _, ok := h.events.Next(); ok {
		t.Fatal("an event left before its trace ended")
	}
	if v := h.tt.TableValue(goka.GroupTable(group), "pay-3"); v == nil {
		t.Fatal("the trace is not held in the group table")
	}
	h.send(t, "pay-3", "/var/log/pay.log", "2026-05-01 12:00:00,200 INFO [http-nio-8080-exec-4] c.s.p.ChargeService - charged order 992")
	ev := h.nextEvent(t)
	stack := strings.Join(trace, "\n")
	if ev.Format != "java" || ev.Level != schemas.LevelError || ev.Service == "" {
		t.Fatalf("trace event: %+v", ev)
	}
	if ev.Stack == nil || *ev.Stack != stack {
		t.Fatalf("stack %v, want\n%s", ev.Stack, stack)
	}
	if ev.Message != "charge failed for order 991\n"+stack {
		t.Fatalf("message %q", ev.Message)
	}
	next := h.nextEvent(t)
	if next.Level != schemas.LevelInfo || next.Stack != nil || next.Message != "charged order 992" {
		t.Fatalf("next event: %+v", next)
	}
	if v := h.tt.TableValue(goka.GroupTable(group), "pay-3"); v != nil {
		t.Fatalf("state left after the trace: %+v", v)
	}
	if h.p.Stats().StackJoined.Load() != 1 || h.p.Stats().StackLines.Load() != int64(len(trace)) {
		t.Errorf("counters: joined %d lines %d", h.p.Stats().StackJoined.Load(), h.p.Stats().StackLines.Load())
	}
	h.noMore(t)
}

func TestPythonTracebackAndGoPanicJoined(t *testing.T) {
	h := newHarness(t, 0)
	py := []string{
		"Traceback (most recent call last):",
		`  File "/app/payments/db.py", line 41, in query`,
		"    cur.execute(sql, args)",
		"psycopg2.errors.QueryCanceled: canceling statement due to statement timeout",
		"",
		"During handling of the above exception, another exception occurred:",
		"Traceback (most recent call last):",
		`  File "/app/payments/api.py", line 12, in charge`,
		"payments.errors.ChargeError: database timeout",
	}
	h.send(t, "py-1", "app", "2026-05-01 12:00:00,123 - payments.db - ERROR - query failed")
	for _, l := range py {
		if l == "" {
			continue // a blank record is a dead letter of its own; it does not split the trace
		}
		h.send(t, "py-1", "app", l)
	}
	goPanic := []string{
		"[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4842d6]",
		"goroutine 1 [running]:",
		"main.(*server).handle(0x0, {0x5a3b20, 0xc000012345})",
		"\t/src/server.go:42 +0x16",
		"created by net/http.(*Server).Serve in goroutine 1",
		"exit status 2",
	}
	h.send(t, "py-1", "app", "panic: runtime error: invalid memory address or nil pointer dereference")
	h.send(t, "py-1", "app", goPanic...)
	h.send(t, "py-1", "app", "INFO:root:restarted")

	ev := h.nextEvent(t)
	var want []string
	for _, l := range py {
		if l != "" {
			want = append(want, l)
		}
	}
	if ev.Format != "python" || ev.Service != "payments.db" || ev.Stack == nil || *ev.Stack != strings.Join(want, "\n") {
		t.Fatalf("python event: %+v stack %v", ev, ev.Stack)
	}
	ev = h.nextEvent(t)
	if ev.Stack == nil || *ev.Stack != strings.Join(goPanic, "\n") || !strings.HasPrefix(ev.Message, "panic: runtime error") {
		t.Fatalf("go panic event: %+v stack %v", ev, ev.Stack)
	}
	if ev = h.nextEvent(t); ev.Stack != nil || ev.Message != "restarted" {
		t.Fatalf("last event: %+v", ev)
	}
}

// A held line that nothing continues is the event the line makes alone:
// same fields and id, so a replay (next line at once) and live traffic
// (the sweep after the idle time) agree.
func TestHeldLineWithoutTraceIsUnchanged(t *testing.T) {
	plain := newHarness(t, 0)
	line := "2026-05-01 12:00:00,123 WARN [main] c.s.Pool - pool almost full"
	// The same line in a host whose next line is a JSON one (never held).
	plain.send(t, "a", "s", line, `{"msg":"next"}`)
	held := plain.nextEvent(t)
	plain.nextEvent(t)
	if held.Stack != nil || held.Message != "pool almost full" {
		t.Fatalf("held event: %+v", held)
	}
	other := newHarness(t, 0)
	other.send(t, "a", "s", line, "2026-05-01 12:00:01,000 INFO [main] c.s.Pool - ok")
	if ev := other.nextEvent(t); ev.EventID != held.EventID {
		t.Fatalf("ids differ: %s vs %s", ev.EventID, held.EventID)
	}
}

func TestStackBoundsEmitWithoutLoss(t *testing.T) {
	h := newHarness(t, 0)
	h.send(t, "h", "s", "2026-05-01 12:00:00,123 ERROR [main] c.s.X - boom")
	for i := 0; i < 501; i++ {
		h.send(t, "h", "s", "\tat c.s.X.f(X.java:1)")
	}
	ev := h.nextEvent(t)
	if ev.Labels["multiline_truncated"] != "true" || ev.Stack == nil || strings.Count(*ev.Stack, "\n") != 499 {
		t.Fatalf("bounded event: labels %v, %d stack lines", ev.Labels, strings.Count(*ev.Stack, "\n")+1)
	}
	alone := h.nextEvent(t)
	if alone.Message != "\tat c.s.X.f(X.java:1)" {
		t.Fatalf("the line past the bound: %+v", alone)
	}
	if h.p.Stats().StackTruncated.Load() != 1 {
		t.Errorf("truncated counter %d", h.p.Stats().StackTruncated.Load())
	}
}

// Sources of one host are joined apart: a trace on one file does not take
// the lines of another.
func TestTracesPerSource(t *testing.T) {
	h := newHarness(t, 0)
	h.send(t, "h", "a.log", "2026-05-01 12:00:00,123 ERROR [main] c.s.A - a failed")
	h.send(t, "h", "b.log", "2026-05-01 12:00:00,124 INFO [main] c.s.B - b fine")
	if ev := h.nextEvent(t); ev.Message != "b fine" {
		t.Fatalf("b.log's line: %+v", ev)
	}
	h.send(t, "h", "a.log", "\tat c.s.A.f(A.java:1)", "2026-05-01 12:00:01,000 INFO [main] c.s.A - next")
	if ev := h.nextEvent(t); ev.Stack == nil || *ev.Stack != "\tat c.s.A.f(A.java:1)" {
		t.Fatalf("a.log's trace: %+v", ev)
	}
}

// Continuation rules do not hold ordinary lines.
func TestOrdinaryLinesAreNotHeld(t *testing.T) {
	h := newHarness(t, 0)
	for _, l := range []string{
		`{"level":"error","msg":"json errors carry their stack in a field"}`,
		`10.0.0.1 - - [01/May/2026:12:00:00 +0000] "GET /pay HTTP/1.1" 503 12 "-" "curl/8"`,
		"level=info msg=fine",
		"2026-05-01 12:00:00,123 INFO [main] c.s.X - fine",
	} {
		h.send(t, "h", "s", l)
		if _, _, ok := h.events.Next(); !ok {
			t.Fatalf("held: %s", l)
		}
	}
}

func TestCardNumbersMaskedEverywhere(t *testing.T) {
	h := newHarness(t, 0)
	// In a message, a held trace's stack, labels, and a dead letter.
	h.send(t, "h", "s", "2026-05-01 12:00:00,123 ERROR [main] c.s.Pay - card 4111111111111111 declined",
		"java.lang.IllegalStateException: card 5500-0000-0000-0004 blocked",
		"2026-05-01 12:00:01,000 INFO [main] c.s.Pay - next")
	h.tt.Consume(string(in), "h", h.raw(t, &schemas.RawLog{Host: "h", Source: "s", Line: "level=info msg=ok card=378282246310005",
		Labels: map[string]string{"note": "4111 1111 1111 1111"}}))
	h.tt.Consume(string(in), "h", []byte("card 4111111111111111 \xff not utf-8"))
	ev := h.nextEvent(t)
	if !strings.Contains(ev.Message, "card 411111******1111 declined") || ev.Stack == nil ||
		*ev.Stack != "java.lang.IllegalStateException: card 5500-00**-****-0004 blocked" || ev.Masked != 2 {
		// two values: the message repeats the stack, counted once
		t.Fatalf("masked event: %q stack %v masked %d", ev.Message, *ev.Stack, ev.Masked)
	}
	h.nextEvent(t) // next
	ev = h.nextEvent(t)
	if ev.Labels["card"] != "378282*****0005" || ev.Labels["note"] != "4111 11** **** 1111" || ev.Masked != 2 {
		t.Fatalf("masked labels: %v masked %d", ev.Labels, ev.Masked)
	}
	_, v, ok := h.dlq.Next()
	if !ok {
		t.Fatal("no dead letter")
	}
	dl := v.(*schemas.DeadLetter)
	if strings.Contains(string(dl.OriginalValue), "4111111111111111") || !strings.Contains(string(dl.OriginalValue), "411111******1111") {
		t.Fatalf("dead letter keeps %q", dl.OriginalValue)
	}
	if got := h.p.Stats().Masked.Load(); got != 4 {
		t.Errorf("masked counter %d, want 4 (dead letters are masked, not counted)", got)
	}
}
