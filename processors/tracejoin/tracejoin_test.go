package tracejoin_test

import (
	"bytes"
	"context"
	"io"
	"log"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"
	"github.com/rs/zerolog"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/pipeline/wiring"
	"github.com/logstream/logstream/processors/exactlyonce"
	"github.com/logstream/logstream/processors/internal/gokatest"
	"github.com/logstream/logstream/processors/tracejoin"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/state"
	"github.com/logstream/logstream/topology"
	"github.com/logstream/logstream/watermark"
)

var quiet = log.New(io.Discard, "", 0)

// t0 is the wall clock of the tests (Config.Now) and the time of most events.
var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

const window = 30 * time.Second

var (
	events   = topology.TopicUnique
	spansIn  = topology.TopicSpans
	loop     = topology.LoopTopic(topology.GroupTraceJoin)
	enriched = topology.TopicEnriched
	table    = goka.Table(topology.TableTopic(topology.GroupTraceJoin))
)

// Trace and span ids of the tests.
const (
	traceX = "4bf92f3577b34da6a3ce929d0e0e4736"
	traceY = "0af7651916cd43dd8448eb211c80319c"
	rootID = "b7ad6b7169203331"
	spanID = "00f067aa0ba902b7"
)

func noTail(context.Context, string, int32, string) (*exactlyonce.Landed, error) { return nil, nil }

// stage builds the join as the pipeline does, from a one-partition
// topology (goka's tester has one partition).
func stage(t testing.TB, tail exactlyonce.TailFunc, edit func(*tracejoin.Config)) (*tracejoin.Processor, *topology.Topology, *codecs.Set, *watermark.Partitions) {
	t.Helper()
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	topo, err := topology.New(topology.Config{Partitions: 1, Replication: 1})
	if err != nil {
		t.Fatal(err)
	}
	fence, err := exactlyonce.New(exactlyonce.Config{
		Stage: tracejoin.StageName, Outputs: []string{topology.TopicEnriched}, Tail: tail,
		PartitionOf: func(key string) int32 { return topology.Partition([]byte(key), 1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return t0 }
	cfg := wiring.TraceJoinConfig(topo, set)
	cfg.Fence, cfg.Now, cfg.Window = fence, now, window
	cfg.Inputs, cfg.Loops = watermark.NewPartitions(1, watermark.DefaultIdle), watermark.NewPartitions(1, watermark.DefaultIdle)
	cfg.KeyFor, cfg.Partitions = func(p int32) string { return topology.KeyFor(p, 1) }, 1
	if edit != nil {
		edit(&cfg)
	}
	p, err := tracejoin.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p, topo, set, cfg.Loops
}

type harness struct {
	maxHeld int // the sweeper's bound
	tt      *tester.Tester
	proc    *goka.Processor
	reg     *state.Registry
	p       *tracejoin.Processor
	set     *codecs.Set
	clock   *watermark.Partitions
	out     *tester.QueueTracker
	dlq     *tester.QueueTracker
	loop    *tester.QueueTracker
}

// newHarness runs the join's real graph (wiring.TraceJoinGroup) in
// goka's tester.
func newHarness(t testing.TB, edit func(*tracejoin.Config)) *harness {
	t.Helper()
	return newHarnessTail(t, noTail, edit)
}

func newHarnessTail(t testing.TB, tail exactlyonce.TailFunc, edit func(*tracejoin.Config)) *harness {
	t.Helper()
	tt := tester.New(t)
	reg := state.Track(tt.StorageBuilder(), string(table))
	p, topo, set, clock := stage(t, tail, func(c *tracejoin.Config) {
		c.Registry = reg
		if edit != nil {
			edit(c)
		}
	})
	proc, err := goka.NewProcessor(nil, wiring.TraceJoinGroup(topo, p, set), goka.WithTester(tt), goka.WithLogger(quiet),
		goka.WithRebalanceCallback(p.Rebalance), goka.WithStorageBuilder(reg.Builder()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- proc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("processor: %v", err)
		}
	})
	return &harness{tt: tt, proc: proc, reg: reg, p: p, set: set, clock: clock,
		out: tt.NewQueueTracker(enriched), dlq: tt.NewQueueTracker(topology.TopicDLQ), loop: tt.NewQueueTracker(loop)}
}

func ptr[T any](v T) *T { return &v }

func event(id string, trace, span *string, ts time.Time) *schemas.LogEvent {
	return &schemas.LogEvent{EventID: id, Timestamp: ts.UnixMilli(), Host: "web-2", Service: "payments",
		Level: schemas.LevelError, Message: "declined " + id, TraceID: trace, SpanID: span, Source: "stdin", Format: "json"}
}

func span(trace, id string, parent *string, service, op string, end time.Time, status schemas.SpanStatus) *schemas.Span {
	const dur = 4000 // µs
	return &schemas.Span{TraceID: trace, SpanID: id, ParentSpanID: parent, Service: service, Operation: op,
		Start: end.UnixMicro() - dur, DurationUs: dur, Status: status, Host: "web-2"}
}

func (h *harness) sendEvent(t *testing.T, key string, ev *schemas.LogEvent) []byte {
	t.Helper()
	b, err := h.set.LogEvent.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	h.tt.Consume(events, key, b)
	return b
}

func (h *harness) sendSpan(t *testing.T, key string, sp *schemas.Span) []byte {
	t.Helper()
	b, err := h.set.Span.Marshal(sp)
	if err != nil {
		t.Fatal(err)
	}
	h.tt.Consume(spansIn, key, b)
	return b
}

// sweep runs one sweep of the join's sweeper at stream time st, with the
// group's committed offsets committed, and returns the visits it made.
func (h *harness) sweep(t *testing.T, st int64, committed map[string]int64) int {
	t.Helper()
	sw := &state.Sweeper{Registry: h.reg, Clock: gokatest.FixedClock(st), Group: topology.GroupTraceJoin,
		Inputs: []string{events, spansIn, loop}, DueOf: h.p.DueOf, Wall: func() time.Time { return t0 },
		MaxHeld: h.maxHeld, Held: h.p.Stats().SetHeld, Log: zerolog.Nop(),
		Visit: gokatest.Visits(h.proc, state.VisitName), Committed: gokatest.Committed(committed)}
	n, err := sw.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// timer sends a timer record of the previous version through the loop
// topic, as its sweeper did.
func (h *harness) timer(key string, tm state.Timer) {
	h.tt.Consume(loop, key, tm.Encode(), tester.WithHeaders(goka.Headers{state.HeaderKind: []byte(state.KindTimer)}))
}

type output struct {
	key     string
	ev      *schemas.LogEvent
	headers goka.Headers
}

// outputs returns what reached logs.enriched since the last call.
func (h *harness) outputs() []output {
	var res []output
	for {
		hd, k, v, ok := h.out.NextWithHeaders()
		if !ok {
			return res
		}
		res = append(res, output{k, v.(*schemas.LogEvent), hd})
	}
}

// emitted is the event a callback emitted: the stage emits an event it
// did not decode as bytes (codecs.Encoded).
func emitted(t testing.TB, v any) *schemas.LogEvent {
	t.Helper()
	if b, ok := v.(codecs.Encoded); ok {
		set, err := codecs.NewSet()
		if err != nil {
			t.Fatal(err)
		}
		ev, err := set.LogEvent.Unmarshal(b)
		if err != nil {
			t.Fatalf("emitted bytes do not decode: %v", err)
		}
		return ev
	}
	return v.(*schemas.LogEvent)
}

func (h *harness) deadLetters() []*schemas.DeadLetter {
	return gokatest.Drain[*schemas.DeadLetter](h.dlq)
}

func (h *harness) state(t *testing.T, trace string) *schemas.TraceState {
	t.Helper()
	v := h.tt.TableValue(table, trace)
	if v == nil {
		return nil
	}
	return v.(*schemas.TraceState)
}

func counters(p *tracejoin.Processor) tracejoin.Snapshot {
	s := p.Stats().Snapshot()
	s.Entries, s.HitRate = 0, 0
	return s
}

func wantCounters(t *testing.T, p *tracejoin.Processor, want tracejoin.Snapshot) {
	t.Helper()
	if got := counters(p); got != want {
		t.Fatalf("counters\n got %+v\nwant %+v", got, want)
	}
}

// wantOut requires exactly the given events (by id, in order) on
// logs.enriched under key, each with status, and returns them.
func wantOut(t *testing.T, got []output, key, status string, ids ...string) []output {
	t.Helper()
	var have []string
	for _, o := range got {
		have = append(have, o.ev.EventID)
	}
	if !reflect.DeepEqual(have, ids) {
		t.Fatalf("logs.enriched has %v, want %v", have, ids)
	}
	for _, o := range got {
		if o.key != key || o.ev.JoinStatus != status {
			t.Fatalf("event %s keyed %q with join_status %q, want %q and %q", o.ev.EventID, o.key, o.ev.JoinStatus, key, status)
		}
		if string(o.headers[exactlyonce.HeaderStage]) != tracejoin.StageName || len(o.headers[exactlyonce.HeaderFrom]) == 0 {
			t.Fatalf("event %s lacks the fence's headers: %v", o.ev.EventID, o.headers)
		}
		if h := string(o.headers[schemas.HeaderJoinStatus]); h != status {
			t.Fatalf("event %s has join status header %q, want %q", o.ev.EventID, h, status)
		}
	}
	return got
}

func wantUnenriched(t *testing.T, ev *schemas.LogEvent) {
	t.Helper()
	if ev.SpanService != "" || ev.SpanOperation != "" || ev.SpanDurationUs != nil || ev.SpanStatus != "" {
		t.Fatalf("event %s (%s) carries span fields: %+v", ev.EventID, ev.JoinStatus, ev)
	}
}

func from(o output) string { return string(o.headers[exactlyonce.HeaderFrom]) }

func TestNormalizeTraceID(t *testing.T) {
	for _, c := range []struct {
		in, want string
		ok       bool
	}{
		{traceX, traceX, true},
		{strings.ToUpper(traceX), traceX, true},
		{"4BF92f3577b34DA6a3ce929d0e0e4736", traceX, true},
		{"  " + traceX + "\n", traceX, true},
		{"a3ce929d0e0e4736", "0000000000000000a3ce929d0e0e4736", true},
		{"A3CE929D0E0E4736", "0000000000000000a3ce929d0e0e4736", true},
		{strings.Repeat("0", 32), "", false},
		{strings.Repeat("0", 16), "", false},
		{"", "", false},
		{"not-a-trace-id", "", false},
		{"4bf92f3577b34da6a3ce929d0e0e473g", "", false},
		{"4bf92f35-77b3-4da6-a3ce-929d0e0e4736", "", false},
		{traceX[:31], "", false},
		{traceX + "0", "", false},
		{traceX[:15], "", false},
		{traceX[:17], "", false},
		{"0x" + traceX[:30], "", false},
	} {
		got, ok := tracejoin.NormalizeTraceID(c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("NormalizeTraceID(%q) = %q, %v; want %q, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}

func TestEventWaitsForItsSpan(t *testing.T) {
	h := newHarness(t, nil)
	// The event names its trace in upper case and a child span.
	e1 := h.sendEvent(t, "e1", event("e1", ptr(strings.ToUpper(traceX)), ptr(strings.ToUpper(spanID)), t0))
	// Re-keyed by the normalized trace id through the loop, marked as an event.
	hd, k, v, ok := h.loop.NextRawWithHeaders()
	if !ok || k != traceX || !bytes.Equal(v, e1) || string(hd[state.HeaderKind]) != tracejoin.KindEvent {
		t.Fatalf("loop record key %q kind %q", k, hd[state.HeaderKind])
	}
	if got := h.outputs(); len(got) != 0 {
		t.Fatalf("event left before its span: %+v", got[0].ev)
	}
	// The root span comes first: not the event's span, it still waits.
	h.sendSpan(t, traceX, span(traceX, rootID, nil, "frontend", "GET /checkout", t0.Add(time.Second), schemas.SpanOK))
	if got := h.outputs(); len(got) != 0 {
		t.Fatal("event joined with the wrong span")
	}
	st := h.state(t, traceX)
	if st == nil || len(st.Spans) != 1 || len(st.Events) != 1 || st.Events[0].EmittedTopic != "" {
		t.Fatalf("state %+v", st)
	}
	// Its span, its id in upper case.
	h.sendSpan(t, traceX, span(traceX, strings.ToUpper(spanID), ptr(rootID), "payments", "POST /v1/charges", t0, schemas.SpanError))
	out := wantOut(t, h.outputs(), traceX, schemas.JoinJoined, "e1")
	ev := out[0].ev
	if ev.SpanService != "payments" || ev.SpanOperation != "POST /v1/charges" || ev.SpanDurationUs == nil || *ev.SpanDurationUs != 4000 ||
		ev.SpanStatus != "ERROR" || ev.RootOperation != "GET /checkout" {
		t.Fatalf("joined event: %+v", ev)
	}
	if ev.Message != "declined e1" || ev.Host != "web-2" || ev.Level != schemas.LevelError || ev.Timestamp != t0.UnixMilli() {
		t.Fatalf("joined event lost its own fields: %+v", ev)
	}
	if f := from(out[0]); f != spansIn+"@1#1" {
		t.Fatalf("emitted from %q, want the span's record", f)
	}
	st = h.state(t, traceX)
	if st.Events[0].EmittedTopic != spansIn || st.Events[0].EmittedOffset != 1 || st.AppliedSpans != 1 || st.AppliedLoop != 0 {
		t.Fatalf("state after the join: %+v", st)
	}
	wantCounters(t, h.p, tracejoin.Snapshot{Events: 1, Spans: 2, Rekeyed: 1, Joined: 1})
}

func TestSpanBeforeEvent(t *testing.T) {
	h := newHarness(t, nil)
	h.sendSpan(t, traceX, span(traceX, rootID, nil, "frontend", "GET /checkout", t0, schemas.SpanOK))
	h.sendSpan(t, traceX, span(traceX, spanID, ptr(rootID), "payments", "POST /v1/charges", t0, schemas.SpanUnset))
	// An event naming no span joins the root; one naming a span joins it.
	h.sendEvent(t, "e1", event("e1", ptr(traceX), nil, t0))
	h.sendEvent(t, "e2", event("e2", ptr(traceX), ptr(spanID), t0))
	out := wantOut(t, h.outputs(), traceX, schemas.JoinJoined, "e1", "e2")
	if e := out[0].ev; e.SpanService != "frontend" || e.SpanOperation != "GET /checkout" || e.SpanStatus != "OK" || e.RootOperation != "GET /checkout" {
		t.Fatalf("event joined with the root: %+v", e)
	}
	if e := out[1].ev; e.SpanService != "payments" || e.SpanStatus != "UNSET" || *e.SpanDurationUs != 4000 || e.RootOperation != "GET /checkout" {
		t.Fatalf("event joined with its span: %+v", e)
	}
	if f := from(out[0]); f != loop+"@0#1" {
		t.Fatalf("emitted from %q, want the loop record", f)
	}
	// A span whose key is not its normalized trace id goes through the
	// loop first (a producer keying by the upper-case id, say).
	h.sendEvent(t, "e3", event("e3", ptr(traceY), nil, t0))
	h.sendSpan(t, strings.ToUpper(traceY), span(strings.ToUpper(traceY), rootID, nil, "frontend", "GET /cart", t0, schemas.SpanOK))
	out = wantOut(t, h.outputs(), traceY, schemas.JoinJoined, "e3")
	if out[0].ev.SpanOperation != "GET /cart" {
		t.Fatalf("%+v", out[0].ev)
	}
	// The same span again changes nothing.
	h.sendSpan(t, traceY, span(traceY, rootID, nil, "frontend", "GET /cart", t0, schemas.SpanOK))
	if len(h.outputs()) != 0 {
		t.Fatal("a repeated span re-emitted")
	}
	wantCounters(t, h.p, tracejoin.Snapshot{Events: 3, Spans: 4, Rekeyed: 3, Rerouted: 1, Joined: 3, DuplicateSpans: 1})
}

// TestTimeoutAndStateDeletion drives the join with timer records of the
// previous version, which loop topics may still hold after an upgrade:
// the same decisions as before.
func TestTimeoutAndStateDeletion(t *testing.T) {
	h := newHarness(t, nil)
	w := window.Milliseconds()
	ts := t0.UnixMilli()
	h.sendEvent(t, "e1", event("e1", ptr(traceX), ptr(spanID), t0))
	if got := h.clock.StreamTime(0); got != ts {
		t.Fatalf("stream time %d", got)
	}
	enc := func() []byte {
		b, err := h.set.TraceState.Marshal(h.state(t, traceX))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if d, ok := h.p.DueOf(traceX, enc()); !ok || d.At != ts+w || d.Marked != -1 {
		t.Fatalf("DueOf = %+v, %v; want the event's release at %d", d, ok, ts+w)
	}
	all := func() map[string]int64 { return map[string]int64{spansIn: 1000, loop: 1000, events: 1000} }

	// Within the window: still waiting.
	h.timer(traceX, state.Timer{StreamTime: ts + w - 1, Committed: all()})
	if len(h.outputs()) != 0 || h.state(t, traceX) == nil {
		t.Fatal("event released before its window ended")
	}
	// The window has passed: released unenriched, but the state stays (the
	// releasing timer is not committed yet, and the span may still come).
	h.timer(traceX, state.Timer{StreamTime: ts + w, Committed: all()}) // loop@2
	out := wantOut(t, h.outputs(), traceX, schemas.JoinTimeout, "e1")
	wantUnenriched(t, out[0].ev)
	if out[0].ev.RootOperation != "" {
		t.Fatalf("root operation without a root span: %q", out[0].ev.RootOperation)
	}
	if f := from(out[0]); f != loop+"@2#1" {
		t.Fatalf("emitted from %q, want the timer", f)
	}
	st := h.state(t, traceX)
	if st == nil || st.Events[0].EmittedTopic != loop || st.Events[0].EmittedOffset != 2 || st.AppliedLoop != 2 {
		t.Fatalf("state after the timeout: %+v", st)
	}
	// The span comes late: the event left already and does not leave twice.
	h.sendSpan(t, traceX, span(traceX, spanID, nil, "payments", "POST /v1/charges", t0.Add(10*time.Second), schemas.SpanOK))
	if len(h.outputs()) != 0 {
		t.Fatal("an event left twice")
	}
	st = h.state(t, traceX)
	last := st.LastActivity
	if last != t0.Add(10*time.Second).UnixMilli() || st.AppliedSpans != 0 {
		t.Fatalf("state after the late span: %+v", st)
	}

	// Deleted one window after the last activity, once committed.
	h.timer(traceX, state.Timer{StreamTime: last + w - 1, Committed: all()})
	if h.state(t, traceX) == nil {
		t.Fatal("state deleted less than a window after its last activity")
	}
	h.timer(traceX, state.Timer{StreamTime: last + w, Committed: map[string]int64{spansIn: 0, loop: 1000}})
	if h.state(t, traceX) == nil {
		t.Fatal("state deleted while the span record was uncommitted")
	}
	h.timer(traceX, state.Timer{StreamTime: last + w, Committed: map[string]int64{spansIn: 1, loop: 2}})
	if h.state(t, traceX) == nil {
		t.Fatal("state deleted while the releasing timer was uncommitted")
	}
	if d, ok := h.p.DueOf(traceX, enc()); !ok || d.At != last+w || d.Waits[0] != (state.Wait{Topic: spansIn, Offset: 0}) ||
		d.Waits[1] != (state.Wait{Topic: loop, Offset: 2}) {
		t.Fatalf("DueOf a finished trace = %+v, %v", d, ok)
	}
	h.timer(traceX, state.Timer{StreamTime: last + w, Committed: map[string]int64{spansIn: 1, loop: 3}})
	if st := h.state(t, traceX); st != nil {
		t.Fatalf("state not deleted: %+v", st)
	}
	// A timer for a trace that is gone does nothing.
	h.timer(traceX, state.Timer{StreamTime: last + w, Committed: all()})
	if len(h.outputs()) != 0 {
		t.Fatal("output from a timer of a deleted trace")
	}
	wantCounters(t, h.p, tracejoin.Snapshot{Events: 1, Spans: 1, Rekeyed: 1, Timeouts: 1, Timers: 7, Closed: 1})
}

func TestIdleTimerReleasesEverything(t *testing.T) {
	h := newHarness(t, nil)
	h.sendEvent(t, "e1", event("e1", ptr(traceX), ptr(spanID), t0))
	h.sendEvent(t, "e2", event("e2", ptr(traceX), nil, t0.Add(time.Second)))
	// The sweeper's timer for an idle partition carries MaxInt64.
	h.timer(traceX, state.Timer{StreamTime: 1<<63 - 1, Committed: map[string]int64{}})
	for _, o := range wantOut(t, h.outputs(), traceX, schemas.JoinTimeout, "e1", "e2") {
		wantUnenriched(t, o.ev)
	}
}

func TestNoTrace(t *testing.T) {
	h := newHarness(t, nil)
	h.sendEvent(t, "e1", event("e1", nil, nil, t0))
	h.sendEvent(t, "e2", event("e2", ptr("not-a-trace-id"), ptr(spanID), t0))
	h.sendEvent(t, "e3", event("e3", ptr(strings.Repeat("0", 32)), nil, t0))
	h.sendEvent(t, "e4", event("e4", ptr(traceX[:20]), nil, t0))
	h.sendEvent(t, "", event("e5", nil, nil, t0)) // no key: keyed by its event id
	got := h.outputs()
	if len(got) != 5 {
		t.Fatalf("%d outputs, want 5", len(got))
	}
	for i, o := range got {
		if o.key != o.ev.EventID || o.ev.JoinStatus != schemas.JoinNoTrace || from(o) != events+"@"+string(rune('0'+i))+"#1" {
			t.Errorf("output %d: key %q status %q from %q", i, o.key, o.ev.JoinStatus, from(o))
		}
		wantUnenriched(t, o.ev)
	}
	for {
		hd, _, _, ok := h.loop.NextRawWithHeaders()
		if !ok {
			break
		}
		if string(hd[state.HeaderKind]) != watermark.KindWatermark {
			t.Fatal("an event without a valid trace id was re-keyed")
		}
	}
	wantCounters(t, h.p, tracejoin.Snapshot{Events: 5, NoTrace: 5, InvalidTraceIDs: 3})
}

func TestBadSpansAndRecords(t *testing.T) {
	h := newHarness(t, nil)
	noTrace := h.sendSpan(t, "k", span("", spanID, nil, "payments", "op", t0, schemas.SpanOK))
	badTrace := h.sendSpan(t, "k", span("zz"+traceX[2:], spanID, nil, "payments", "op", t0, schemas.SpanOK))
	noSpan := h.sendSpan(t, traceX, span(traceX, " ", nil, "payments", "op", t0, schemas.SpanOK))
	h.tt.Consume(spansIn, traceX, []byte("garbage"))
	h.tt.Consume(events, "e0", []byte("garbage"))
	dl := h.deadLetters()
	if len(dl) != 5 {
		t.Fatalf("%d dead letters, want 5", len(dl))
	}
	for i, want := range []struct {
		topic  string
		offset int64
		value  []byte
		why    string
	}{
		{spansIn, 0, noTrace, tracejoin.ErrNoTraceID.Error()},
		{spansIn, 1, badTrace, tracejoin.ErrBadTraceID.Error()},
		{spansIn, 2, noSpan, tracejoin.ErrNoSpanID.Error()},
		{spansIn, 3, []byte("garbage"), ""},
		{events, 0, []byte("garbage"), ""},
	} {
		d := dl[i]
		if d.SourceTopic != want.topic || d.SourceOffset != want.offset || !bytes.Equal(d.OriginalValue, want.value) ||
			d.Stage != tracejoin.StageName || d.Error == "" || !strings.Contains(d.Error, want.why) {
			t.Errorf("dead letter %d: %+v", i, d)
		}
	}
	if len(h.outputs()) != 0 || h.state(t, traceX) != nil {
		t.Fatal("a bad span touched the join")
	}
	// Nothing crashed: the join goes on.
	h.sendSpan(t, traceX, span(traceX, spanID, nil, "payments", "op", t0, schemas.SpanOK))
	h.sendEvent(t, "e1", event("e1", ptr(traceX), ptr(spanID), t0))
	wantOut(t, h.outputs(), traceX, schemas.JoinJoined, "e1")
	wantCounters(t, h.p, tracejoin.Snapshot{Events: 2, Spans: 5, Rekeyed: 1, BadSpans: 3, Joined: 1, DeadLetters: 5})
}

func TestEventRekeyedTwice(t *testing.T) {
	h := newHarness(t, nil)
	e := event("e1", ptr(traceX), ptr(spanID), t0)
	h.sendEvent(t, "e1", e)
	h.sendEvent(t, "e1", e) // an upstream replay: logs.unique holds it twice
	if len(h.outputs()) != 0 {
		t.Fatal("left before its span")
	}
	if st := h.state(t, traceX); len(st.Events) != 1 {
		t.Fatalf("held %d events", len(st.Events))
	}
	h.sendSpan(t, traceX, span(traceX, spanID, nil, "payments", "op", t0, schemas.SpanOK))
	wantOut(t, h.outputs(), traceX, schemas.JoinJoined, "e1")
	h.sendEvent(t, "e1", e) // once more, after it left
	h.timer(traceX, state.Timer{StreamTime: 1<<63 - 1})
	if got := h.outputs(); len(got) != 0 {
		t.Fatalf("event left twice: %+v", got[0].ev)
	}
	wantCounters(t, h.p, tracejoin.Snapshot{Events: 3, Spans: 1, Rekeyed: 3, Joined: 1, DuplicateEvents: 2, Timers: 1})
}

func TestEventTimeOutOfOrder(t *testing.T) {
	h := newHarness(t, func(c *tracejoin.Config) { c.MaxEventsPerTrace = 2 })
	h.sendEvent(t, "e1", event("e1", ptr(traceX), ptr(spanID), t0)) // waits; stream time t0
	// Far in the future (2 h ahead of the wall clock): leaves at once as a
	// timeout and does not move the stream time.
	h.sendEvent(t, "f1", event("f1", ptr(traceY), nil, t0.Add(2*time.Hour)))
	out := wantOut(t, h.outputs(), traceY, schemas.JoinTimeout, "f1")
	wantUnenriched(t, out[0].ev)
	if st := h.clock.StreamTime(0); st != t0.UnixMilli() {
		t.Fatalf("a future event moved the stream time to %d", st)
	}
	if st := h.state(t, traceY); st == nil || st.LastActivity != 0 || st.Events[0].EmittedTopic != loop {
		t.Fatalf("future event's state: %+v", st)
	}
	// Its span, arriving later, does not send it again.
	h.sendSpan(t, traceY, span(traceY, rootID, nil, "frontend", "op", t0, schemas.SpanOK))
	// Older than stream time minus the window: late, leaves at once.
	h.sendEvent(t, "l1", event("l1", ptr(traceX), ptr("1111111111111111"), t0.Add(-window)))
	wantOut(t, h.outputs(), traceX, schemas.JoinTimeout, "l1")
	// A trace holds MaxEventsPerTrace waiting events; more leave at once.
	h.sendEvent(t, "e2", event("e2", ptr(traceX), ptr(spanID), t0))
	h.sendEvent(t, "e3", event("e3", ptr(traceX), ptr(spanID), t0))
	wantOut(t, h.outputs(), traceX, schemas.JoinTimeout, "e3")
	// The span releases the waiting ones, joined.
	h.sendSpan(t, traceX, span(traceX, spanID, nil, "payments", "op", t0, schemas.SpanOK))
	wantOut(t, h.outputs(), traceX, schemas.JoinJoined, "e1", "e2")
	wantCounters(t, h.p, tracejoin.Snapshot{Events: 5, Spans: 2, Rekeyed: 5, Joined: 2, Timeouts: 3, Future: 1, Late: 1, Overflow: 1})
}

// A replay is a record read again after a crash: the table holds what its
// first processing wrote; its emits may or may not have landed. goka's
// tester never delivers an offset twice, so the callbacks are driven
// through a fake goka.Context over a table kept across "restarts" (a new
// stage and fence each time).
func TestReplayOfSpanRecord(t *testing.T) {
	tb := gokatest.NewTable(nil)
	type replayer struct {
		p    *tracejoin.Processor
		set  *codecs.Set
		span func(offset int64, sp *schemas.Span) *gokatest.Context
		loop func(offset int64, ev *schemas.LogEvent) *gokatest.Context
	}
	start := func(tail exactlyonce.TailFunc) replayer {
		p, _, set, _ := stage(t, tail, nil)
		tb.Codec = set.TraceState
		r := replayer{p: p, set: set}
		r.span = func(offset int64, sp *schemas.Span) *gokatest.Context {
			b, err := set.Span.Marshal(sp)
			if err != nil {
				t.Fatal(err)
			}
			ctx := gokatest.NewContext(goka.Group(topology.GroupTraceJoin), loop, tb, gokatest.Record{Topic: goka.Stream(spansIn), Key: traceX, Offset: offset})
			p.Span(ctx, b)
			return ctx
		}
		r.loop = func(offset int64, ev *schemas.LogEvent) *gokatest.Context {
			b, err := set.LogEvent.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			ctx := gokatest.NewContext(goka.Group(topology.GroupTraceJoin), loop, tb, gokatest.Record{Topic: goka.Stream(loop), Key: traceX, Offset: offset,
				Headers: goka.Headers{state.HeaderKind: []byte(tracejoin.KindEvent)}})
			p.Loop(ctx, b)
			return ctx
		}
		return r
	}
	const child = "1111111111111111"
	e1 := event("e1", ptr(traceX), ptr(spanID), t0)
	e2 := event("e2", ptr(traceX), ptr(spanID), t0)
	e3 := event("e3", ptr(traceX), ptr(child), t0)
	s1 := span(traceX, spanID, nil, "payments", "POST /v1/charges", t0, schemas.SpanOK)
	s2 := span(traceX, child, ptr(spanID), "ledger", "INSERT", t0, schemas.SpanOK)

	ids := func(ctx *gokatest.Context) []string {
		var out []string
		for _, e := range ctx.Emits {
			if e.Topic != enriched {
				t.Fatalf("emit to %s", e.Topic)
			}
			out = append(out, emitted(t, e.Value).EventID)
		}
		return out
	}
	r := start(noTail)
	for i, e := range []*schemas.LogEvent{e1, e2, e3} {
		if c := r.loop(10+int64(i), e); len(c.Emits) != 0 {
			t.Fatal("event left before its span")
		}
	}
	first := r.span(3, s1)
	if got := ids(first); !reflect.DeepEqual(got, []string{"e1", "e2"}) {
		t.Fatalf("span@3 emitted %v", got)
	}
	second := r.span(4, s2)
	if got := ids(second); !reflect.DeepEqual(got, []string{"e3"}) {
		t.Fatalf("span@4 emitted %v", got)
	}
	written := map[string][]byte{}
	for k, v := range tb.Rows {
		written[k] = append([]byte(nil), v...)
	}
	unchanged := func() {
		t.Helper()
		if !reflect.DeepEqual(tb.Rows, written) {
			t.Fatal("a replay changed the state")
		}
	}

	// Restart; nothing landed (the tail is empty): the replay of span@3
	// re-emits exactly what span@3 emitted, joined as before.
	r = start(noTail)
	again := r.span(3, s1)
	if got := ids(again); !reflect.DeepEqual(got, []string{"e1", "e2"}) {
		t.Fatalf("replay of span@3 emitted %v", got)
	}
	for _, e := range again.Emits {
		ev := emitted(t, e.Value)
		if e.Key != traceX || ev.JoinStatus != schemas.JoinJoined || ev.SpanService != "payments" || ev.RootOperation != "POST /v1/charges" {
			t.Fatalf("replayed emit: %+v", ev)
		}
	}
	if c := r.loop(10, e1); len(c.Emits) != 0 { // a record that emitted nothing
		t.Fatalf("replay of loop@10 emitted %v", ids(c))
	}
	if got := ids(r.span(4, s2)); !reflect.DeepEqual(got, []string{"e3"}) {
		t.Fatalf("replay of span@4 emitted %v", got)
	}
	unchanged()
	wantCounters(t, r.p, tracejoin.Snapshot{Spans: 2, Replayed: 3, Joined: 3})

	// Restart; the first emit of span@3 landed, the second did not.
	landed := func(emit gokatest.Sent) exactlyonce.TailFunc {
		l, ok, err := exactlyonce.ParseHeaders(tracejoin.StageName, func(k string) []byte { return emit.Headers[k] })
		if err != nil || !ok {
			t.Fatalf("fence headers %v: %v %v", emit.Headers, ok, err)
		}
		return func(context.Context, string, int32, string) (*exactlyonce.Landed, error) { return l, nil }
	}
	r = start(landed(first.Emits[0]))
	if got := ids(r.span(3, s1)); !reflect.DeepEqual(got, []string{"e2"}) {
		t.Fatalf("replay of span@3 with its first emit landed emitted %v", got)
	}
	unchanged()
	wantCounters(t, r.p, tracejoin.Snapshot{Spans: 1, Replayed: 1, Joined: 1, Suppressed: 1})

	// Restart; everything landed (the tail is span@4's emit): both
	// replays are suppressed.
	r = start(landed(second.Emits[0]))
	if got := ids(r.span(3, s1)); len(got) != 0 {
		t.Fatalf("replay of span@3 emitted %v", got)
	}
	if got := ids(r.span(4, s2)); len(got) != 0 {
		t.Fatalf("replay of span@4 emitted %v", got)
	}
	unchanged()
	wantCounters(t, r.p, tracejoin.Snapshot{Spans: 2, Replayed: 2, Suppressed: 3})

	// And the stage goes on after the replays: a new event joins at once.
	e4 := event("e4", ptr(traceX), ptr(child), t0)
	if got := ids(r.loop(13, e4)); !reflect.DeepEqual(got, []string{"e4"}) {
		t.Fatalf("new event after the replays emitted %v", got)
	}
	// An event that left on its own record is held without its bytes (the
	// state is written again on every update of the trace); the replay of
	// that record, nothing landed, emits it again from the record itself.
	st, err := r.set.TraceState.Unmarshal(tb.Rows[traceX])
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range st.Events {
		switch {
		case e.EventID == "e4" && e.Value != nil:
			t.Fatal("e4 left on its own record, and its bytes are kept")
		case e.EventID != "e4" && e.Value == nil:
			t.Fatalf("%s left on a span, and its bytes are gone", e.EventID)
		}
	}
	r = start(noTail)
	again = r.loop(13, e4)
	if got := ids(again); !reflect.DeepEqual(got, []string{"e4"}) {
		t.Fatalf("replay of loop@13 emitted %v", got)
	}
	if ev := emitted(t, again.Emits[0].Value); ev.JoinStatus != schemas.JoinJoined || ev.SpanService != "ledger" || ev.Message != e4.Message {
		t.Fatalf("replayed emit of e4: %+v", ev)
	}
}

// TestSweepVisitsOnlyTracesWithWork: a sweep visits a trace only when the
// visit changes something: an event past its window is released (decided
// in one visit, emitted in the next, under the release's mark), a
// finished trace whose records are committed is closed; a trace waiting
// for its window, or for a commit, is not visited at all.
func TestSweepVisitsOnlyTracesWithWork(t *testing.T) {
	h := newHarness(t, nil)
	w := window.Milliseconds()
	ts := t0.UnixMilli()
	h.sendEvent(t, "e1", event("e1", ptr(traceX), ptr(spanID), t0)) // waits: loop@0
	h.sendSpan(t, traceY, span(traceY, rootID, nil, "payments", "POST /v1/charges", t0, schemas.SpanOK))
	h.sendEvent(t, "e2", event("e2", ptr(traceY), nil, t0)) // joins at once: loop@1
	wantOut(t, h.outputs(), traceY, schemas.JoinJoined, "e2")
	all := map[string]int64{spansIn: 1, loop: 2}

	if n := h.sweep(t, ts+w-1, all); n != 0 {
		t.Fatalf("a sweep before any window ended visited %d traces", n)
	}
	// The window ends for both: X releases e1 (two visits), Y waits for
	// its event's loop record to be committed.
	if n := h.sweep(t, ts+w, map[string]int64{spansIn: 1, loop: 1}); n != 2 {
		t.Fatalf("sweep made %d visits, want 2 (mark and emit X's release)", n)
	}
	out := wantOut(t, h.outputs(), traceX, schemas.JoinTimeout, "e1")
	wantUnenriched(t, out[0].ev)
	mark := t0.UnixMilli() * 1000
	if f := from(out[0]); f != loop+".sweep@"+itoa(mark)+"#1" {
		t.Fatalf("released from %q, want the sweep's mark %d", f, mark)
	}
	if st := h.state(t, traceX); st == nil || st.Events[0].EmittedTopic != loop+".sweep" || st.Events[0].EmittedOffset != mark {
		t.Fatalf("X after the release: %+v", st)
	}
	// X has nothing left and its loop record is committed: it closes. Y
	// still waits for its commit.
	if n := h.sweep(t, ts+w, map[string]int64{spansIn: 1, loop: 1}); n != 1 || h.state(t, traceX) != nil || h.state(t, traceY) == nil {
		t.Fatalf("sweep made %d visits; X %v, Y %v; want X closed alone", n, h.state(t, traceX), h.state(t, traceY))
	}
	if n := h.sweep(t, ts+w, map[string]int64{spansIn: 1, loop: 1}); n != 0 {
		t.Fatalf("a sweep with nothing new to do made %d visits", n)
	}
	if n := h.sweep(t, ts+w, all); n != 1 || h.state(t, traceY) != nil {
		t.Fatalf("closing sweep made %d visits; Y %v", n, h.state(t, traceY))
	}
	if n := h.sweep(t, 1<<63-1, all); n != 0 {
		t.Fatalf("a sweep of an empty table made %d visits", n)
	}
	wantCounters(t, h.p, tracejoin.Snapshot{Events: 2, Spans: 1, Rekeyed: 2, Joined: 1, Timeouts: 1, Visited: 4, Closed: 2})
}

// TestSweepReleaseAfterCrash: a pod died between a release's emit and the
// state write after it, so the trace still holds the release as decided
// (marked) and the emit may have landed. The next sweep emits it again
// under the same mark, and the fence drops what landed: nothing twice,
// nothing lost.
func TestSweepReleaseAfterCrash(t *testing.T) {
	swept, marked := loop+".sweep", loop+".sweep-marked"
	const landedMark = 5000
	tail := func(context.Context, string, int32, string) (*exactlyonce.Landed, error) {
		return &exactlyonce.Landed{Topic: swept, Offset: landedMark, Seq: 1, Pos: map[string]int64{swept: landedMark, loop: 10}}, nil
	}
	h := newHarnessTail(t, tail, nil)
	held := func(id string, mark int64) schemas.HeldEvent {
		b, err := h.set.LogEvent.Marshal(event(id, ptr(traceX), ptr(spanID), t0))
		if err != nil {
			t.Fatal(err)
		}
		return schemas.HeldEvent{EventID: id, Timestamp: t0.UnixMilli(), Value: b, EmittedTopic: marked, EmittedOffset: mark}
	}
	// X's release (mark 5000) landed before the crash; Y's (5001) did not.
	h.tt.SetTableValue(table, traceX, &schemas.TraceState{Events: []schemas.HeldEvent{held("landed", landedMark)},
		LastActivity: t0.UnixMilli(), AppliedSpans: -1, AppliedLoop: 3})
	h.tt.SetTableValue(table, traceY, &schemas.TraceState{Events: []schemas.HeldEvent{held("lost", landedMark+1)},
		LastActivity: t0.UnixMilli(), AppliedSpans: -1, AppliedLoop: 4})
	if n := h.sweep(t, t0.UnixMilli(), map[string]int64{}); n != 2 {
		t.Fatalf("sweep made %d visits, want the two marked traces", n)
	}
	out := h.outputs()
	if len(out) != 1 || out[0].ev.EventID != "lost" || out[0].key != traceY || from(out[0]) != swept+"@5001#1" {
		t.Fatalf("after the crash, logs.enriched got %d records (%+v); want only the release that had not landed", len(out), out)
	}
	for _, tr := range []string{traceX, traceY} {
		if st := h.state(t, tr); st == nil || st.Events[0].EmittedTopic != swept {
			t.Fatalf("%s after the sweep: %+v", tr, st)
		}
	}
	wantCounters(t, h.p, tracejoin.Snapshot{Timeouts: 1, Suppressed: 1, Visited: 2})
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// TestBoundReleasesOldestFirst: a partition holding more waiting events
// than its bound releases the oldest at once, unenriched and counted, not
// dropped; the younger keep waiting for their spans.
func TestBoundReleasesOldestFirst(t *testing.T) {
	h := newHarness(t, nil)
	h.maxHeld = 2
	h.sendEvent(t, "e1", event("e1", ptr(traceX), ptr(spanID), t0))
	h.sendEvent(t, "e2", event("e2", ptr(traceY), ptr(spanID), t0.Add(time.Second)))
	h.sendEvent(t, "e3", event("e3", ptr(traceX), ptr(spanID), t0.Add(2*time.Second)))
	ts := t0.UnixMilli()
	// Nothing is due by time; three wait where two may.
	if n := h.sweep(t, ts, map[string]int64{}); n != 2 {
		t.Fatalf("sweep made %d visits, want X's release (mark and emit)", n)
	}
	out := wantOut(t, h.outputs(), traceX, schemas.JoinTimeout, "e1")
	wantUnenriched(t, out[0].ev)
	if h.p.Stats().Held() != 2 {
		t.Fatalf("held %d after the release, want 2", h.p.Stats().Held())
	}
	if n := h.sweep(t, ts, map[string]int64{}); n != 0 {
		t.Fatalf("a sweep within the bound made %d visits", n)
	}
	// The younger still join when their spans come.
	h.sendSpan(t, traceX, span(traceX, spanID, nil, "payments", "op", t0, schemas.SpanOK))
	wantOut(t, h.outputs(), traceX, schemas.JoinJoined, "e3")
	wantCounters(t, h.p, tracejoin.Snapshot{Events: 3, Spans: 1, Rekeyed: 3, Joined: 1, Timeouts: 1, BoundReleased: 1, Visited: 2, Held: 2})
}

// TestLoopRecordsOfThePreviousVersion: the loop topic may hold events the
// previous version re-keyed (no routing headers) and its timer records:
// both are still taken. Events re-keyed now carry their routing in headers
// and their bytes unchanged.
func TestLoopRecordsOfThePreviousVersion(t *testing.T) {
	h := newHarness(t, nil)
	old := event("old", ptr(traceX), ptr(spanID), t0)
	b, err := h.set.LogEvent.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	h.tt.Consume(loop, traceX, b, tester.WithHeaders(goka.Headers{state.HeaderKind: []byte(tracejoin.KindEvent)})) // loop@0
	sent := h.sendEvent(t, "new", event("new", ptr(traceX), ptr(spanID), t0.Add(time.Second)))
	h.loop.NextRawWithHeaders() // the old one, consumed above
	hd, k, v, ok := h.loop.NextRawWithHeaders()
	if !ok || k != traceX || !bytes.Equal(v, sent) || string(hd[schemas.HeaderEventID]) != "new" ||
		string(hd[schemas.HeaderSpanID]) != spanID || string(hd[schemas.HeaderEventTime]) != itoa(t0.Add(time.Second).UnixMilli()) {
		t.Fatalf("re-keyed record: key %q, headers %v, bytes unchanged %v", k, hd, bytes.Equal(v, sent))
	}
	if st := h.state(t, traceX); st == nil || len(st.Events) != 2 {
		t.Fatalf("held %+v, want both events", st)
	}
	// A timer of the previous version releases the old event (its window
	// ended), not the new one.
	h.timer(traceX, state.Timer{StreamTime: t0.UnixMilli() + window.Milliseconds(), Committed: map[string]int64{}})
	wantOut(t, h.outputs(), traceX, schemas.JoinTimeout, "old")
	h.sendSpan(t, traceX, span(traceX, spanID, nil, "payments", "op", t0, schemas.SpanOK))
	wantOut(t, h.outputs(), traceX, schemas.JoinJoined, "new")
}

// TestRoutedEventIsNotDecoded: an event whose routing (id, time, trace and
// span ids) comes in headers is re-keyed and held without being decoded;
// bytes that do not decode surface as a dead letter when the event would
// leave, not as a loss.
func TestRoutedEventIsNotDecoded(t *testing.T) {
	h := newHarness(t, nil)
	r := schemas.Routing{EventID: "e1", Timestamp: t0.UnixMilli(), TraceID: ptr(traceX), SpanID: ptr(spanID)}
	h.tt.Consume(events, "e1", []byte("not avro"), tester.WithHeaders(goka.Headers(r.Headers(nil))))
	if got := h.deadLetters(); len(got) != 0 {
		t.Fatalf("decoded on the way in: %d dead letters", len(got))
	}
	if st := h.state(t, traceX); st == nil || len(st.Events) != 1 || st.Events[0].EventID != "e1" {
		t.Fatalf("not held: %+v", st)
	}
	h.sweep(t, t0.UnixMilli()+window.Milliseconds(), map[string]int64{})
	if got := h.deadLetters(); len(got) != 1 || len(h.outputs()) != 0 {
		t.Fatalf("at its window's end: %d dead letters, want the event's bytes", len(got))
	}
}

func withRouting(r schemas.Routing) tester.EmitOption {
	return tester.WithHeaders(goka.Headers(r.Headers(nil)))
}

// The spans stage writes the progress of each partition of the Collector's
// topic to the spans topic; the join's event time is held at the slowest
// of them, so that in a backlog an event does not time out while its span
// is still queued behind another partition's. Watermark records are not
// spans: no dead letter, not counted.
func TestEventTimeHeldAtSlowestSpansOrigin(t *testing.T) {
	origins := watermark.NewPartitions(2, watermark.DefaultIdle)
	origins.Expect(topology.TopicOTLPSpans)
	h := newHarness(t, func(c *tracejoin.Config) { c.SpanOrigins = origins })
	ms := func(d time.Duration) int64 { return t0.Add(d).UnixMilli() }
	stamp := func(origin int32, at time.Duration, seq int64, kind watermark.Kind) {
		v, hd := watermark.Record(watermark.Stamp{Channel: watermark.Channel(topology.TopicOTLPSpans, origin), Kind: kind, Time: ms(at), Seq: seq})
		h.tt.Consume(spansIn, topology.KeyFor(0, 1), v, tester.WithHeaders(hd))
	}
	clock := h.p.Clock()
	h.sendEvent(t, "e1", event("e1", ptr(traceX), ptr(spanID), t0))
	h.sendEvent(t, "e2", event("e2", ptr(traceY), ptr(spanID), t0.Add(40*time.Second)))
	if got := clock.StreamTime(0); got != ms(40*time.Second) {
		t.Fatalf("event time %d before any span, want the events' %d", got, ms(40*time.Second))
	}
	// One origin far ahead, the other not heard yet: it may still hold
	// spans of any time, nothing times out.
	stamp(0, 60*time.Second, 10, watermark.Time)
	if got := clock.StreamTime(0); got != 0 {
		t.Fatalf("event time %d with an origin not heard yet, want 0 (unknown)", got)
	}
	// The other behind e1's window: held at the slower.
	stamp(1, 5*time.Second, 3, watermark.Time)
	if got := clock.StreamTime(0); got != ms(5*time.Second) {
		t.Fatalf("event time %d, want the slower origin's %d", got, ms(5*time.Second))
	}
	if n := h.sweep(t, clock.StreamTime(0), map[string]int64{spansIn: 1000, loop: 1000, events: 1000}); n != 0 || len(h.outputs()) != 0 {
		t.Fatalf("an event left while its span may still be queued (%d visits)", n)
	}
	// The slower origin catches up: the events' watermark rules again.
	stamp(1, 50*time.Second, 9, watermark.Time)
	if got := clock.StreamTime(0); got != ms(40*time.Second) {
		t.Fatalf("event time %d, want the events' %d", got, ms(40*time.Second))
	}
	// An idle origin drops out of the minimum; all idle: no hold at all.
	stamp(0, 30*time.Second, 11, watermark.Idle)
	stamp(1, 0, 10, watermark.Idle)
	if got := clock.StreamTime(0); got != ms(40*time.Second) {
		t.Fatalf("event time %d with idle origins, want the events' %d", got, ms(40*time.Second))
	}
	if dl := h.deadLetters(); len(dl) != 0 {
		t.Fatalf("watermark records dead-lettered: %+v", dl[0])
	}
	if s := h.p.Stats(); s.Spans.Load() != 0 || s.BadStamps.Load() != 0 {
		t.Fatalf("watermark records counted as spans (%d) or bad stamps (%d)", s.Spans.Load(), s.BadStamps.Load())
	}
}
