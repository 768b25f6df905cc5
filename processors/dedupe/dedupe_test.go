package dedupe_test

import (
	"bytes"
	"context"
	"io"
	"log"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/pipeline/wiring"
	"github.com/logstream/logstream/processors/dedupe"
	"github.com/logstream/logstream/processors/exactlyonce"
	"github.com/logstream/logstream/processors/internal/gokatest"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/state"
	"github.com/logstream/logstream/topology"
	"github.com/logstream/logstream/watermark"
)

// quiet drops goka's chatter.
var quiet = log.New(io.Discard, "", 0)

// t0 is the wall clock of every test (Config.Now) and the time of most
// events.
var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

var (
	input = topology.TopicParsed
	loop  = topology.LoopTopic(topology.GroupDedupe)
	table = goka.Table(topology.TableTopic(topology.GroupDedupe))
)

// noTail is a fence tail of an output the stage never wrote to.
func noTail(context.Context, string, int32, string) (*exactlyonce.Landed, error) { return nil, nil }

// stage builds the stage as the pipeline does, from a topology of one
// partition (goka's tester has one): Config from wiring.DedupeConfig, a
// fence on logs.unique with tail, a clock.
func stage(t *testing.T, tail exactlyonce.TailFunc, now time.Time, edit func(*dedupe.Config)) (*dedupe.Processor, *topology.Topology, *codecs.Set) {
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
		Stage: dedupe.StageName, Outputs: []string{topology.TopicUnique}, Tail: tail,
		PartitionOf: func(key string) int32 { return topology.Partition([]byte(key), 1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return now }
	cfg := wiring.DedupeConfig(topo, set)
	cfg.Fence, cfg.Watermarks, cfg.Now = fence, watermark.NewPartitions(1, watermark.DefaultIdle), clock
	cfg.KeyFor = func(p int32) string { return topology.KeyFor(p, 1) }
	if edit != nil {
		edit(&cfg)
	}
	p, err := dedupe.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, topo, set
}

type harness struct {
	tt     *tester.Tester
	proc   *goka.Processor
	reg    *state.Registry
	p      *dedupe.Processor
	set    *codecs.Set
	clock  *watermark.Partitions
	unique *tester.QueueTracker
	dlq    *tester.QueueTracker
	loop   *tester.QueueTracker
}

// newHarness runs the stage's real graph (wiring.DedupeGroup) in goka's
// tester.
func newHarness(t *testing.T, now time.Time, edit func(*dedupe.Config)) *harness {
	t.Helper()
	var clock *watermark.Partitions
	tt := tester.New(t)
	reg := state.Track(tt.StorageBuilder(), string(table))
	p, topo, set := stage(t, noTail, now, func(c *dedupe.Config) {
		clock = c.Watermarks
		c.Registry = reg
		if edit != nil {
			edit(c)
		}
	})
	proc, err := goka.NewProcessor(nil, wiring.DedupeGroup(topo, p, set), goka.WithTester(tt), goka.WithLogger(quiet),
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
		unique: tt.NewQueueTracker(topology.TopicUnique), dlq: tt.NewQueueTracker(topology.TopicDLQ), loop: tt.NewQueueTracker(loop)}
}

func event(id string, ts time.Time) *schemas.LogEvent {
	return &schemas.LogEvent{EventID: id, Timestamp: ts.UnixMilli(), Host: "web-1", Service: "payments",
		Level: schemas.LevelInfo, Message: "charge " + id, Source: "stdin", Format: "json"}
}

func (h *harness) encode(t *testing.T, ev *schemas.LogEvent) []byte {
	t.Helper()
	b, err := h.set.LogEvent.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// send writes ev to logs.parsed under key and returns its bytes.
func (h *harness) send(t *testing.T, key string, ev *schemas.LogEvent) []byte {
	t.Helper()
	b := h.encode(t, ev)
	h.tt.Consume(input, key, b)
	return b
}

// sweep runs one sweep of the stage's sweeper at stream time st, with the
// group's committed offsets committed, and returns the ids it visited.
func (h *harness) sweep(t *testing.T, st int64, committed map[string]int64) int {
	t.Helper()
	sw := &state.Sweeper{Registry: h.reg, Clock: gokatest.FixedClock(st), Group: topology.GroupDedupe,
		Inputs: []string{input, loop}, DueOf: h.p.DueOf,
		Visit: gokatest.Visits(h.proc, state.VisitName), Committed: gokatest.Committed(committed)}
	n, err := sw.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// timer sends an expiry timer to id through the loop topic, as the
// previous version's sweeper did.
func (h *harness) timer(id string, tm state.Timer) {
	h.tt.Consume(loop, id, tm.Encode(), tester.WithHeaders(goka.Headers{state.HeaderKind: []byte(state.KindTimer)}))
}

type out struct {
	key     string
	value   []byte
	headers goka.Headers
}

// uniques returns what reached logs.unique since the last call.
func (h *harness) uniques() []out {
	var res []out
	for {
		hd, k, v, ok := h.unique.NextRawWithHeaders()
		if !ok {
			return res
		}
		res = append(res, out{k, v, hd})
	}
}

func (h *harness) deadLetters(t *testing.T) []*schemas.DeadLetter {
	t.Helper()
	return gokatest.Drain[*schemas.DeadLetter](h.dlq)
}

func (h *harness) state(t *testing.T, id string) *schemas.DedupeState {
	t.Helper()
	v := h.tt.TableValue(table, id)
	if v == nil {
		return nil
	}
	return v.(*schemas.DedupeState)
}

// counters is a snapshot without the gauges, for comparison.
func counters(p *dedupe.Processor) dedupe.Snapshot {
	s := p.Stats().Snapshot()
	s.Entries, s.CacheHitRatio = 0, 0
	return s
}

func wantCounters(t *testing.T, p *dedupe.Processor, want dedupe.Snapshot) {
	t.Helper()
	if got := counters(p); got != want {
		t.Fatalf("counters\n got %+v\nwant %+v", got, want)
	}
}

// wantOne requires exactly one record on logs.unique: value, keyed by id,
// with the fence's headers naming the record it came from.
func wantOne(t *testing.T, got []out, id string, value []byte, from string) {
	t.Helper()
	if len(got) != 1 {
		t.Fatalf("%d records on logs.unique, want 1 (%s)", len(got), id)
	}
	o := got[0]
	if o.key != id || !bytes.Equal(o.value, value) {
		t.Fatalf("logs.unique got key %q and %d bytes, want %q and the input's %d bytes unchanged", o.key, len(o.value), id, len(value))
	}
	if string(o.headers[exactlyonce.HeaderStage]) != dedupe.StageName || string(o.headers[exactlyonce.HeaderFrom]) != from {
		t.Fatalf("fence headers %s=%q %s=%q, want %q and %q", exactlyonce.HeaderStage, o.headers[exactlyonce.HeaderStage],
			exactlyonce.HeaderFrom, o.headers[exactlyonce.HeaderFrom], dedupe.StageName, from)
	}
}

func TestFirstPassesRepeatDropped(t *testing.T) {
	h := newHarness(t, t0, nil)
	a := h.send(t, "a", event("a", t0))
	wantOne(t, h.uniques(), "a", a, input+"@0#1")

	h.send(t, "a", event("a", t0.Add(time.Second))) // a retrying shipper, later
	if got := h.uniques(); len(got) != 0 {
		t.Fatalf("repeat passed: %+v", got)
	}
	st := h.state(t, "a")
	want := schemas.DedupeState{FirstTopic: input, FirstOffset: 0, FirstSeen: t0.UnixMilli(), LastInputOffset: 1, LastLoopOffset: -1}
	if st == nil || *st != want {
		t.Fatalf("state %+v, want %+v", st, want)
	}

	b := h.send(t, "b", event("b", t0))
	wantOne(t, h.uniques(), "b", b, input+"@2#1")
	h.send(t, "a", event("a", t0))
	h.send(t, "b", event("b", t0))
	if got := h.uniques(); len(got) != 0 {
		t.Fatalf("repeats passed: %d records", len(got))
	}
	if st := h.state(t, "a"); st.LastInputOffset != 3 || st.FirstOffset != 0 {
		t.Fatalf("state of a after its second repeat: %+v", st)
	}
	wantCounters(t, h.p, dedupe.Snapshot{In: 5, Unique: 2, Duplicates: 3})
	if n := len(h.deadLetters(t)); n != 0 {
		t.Fatalf("%d dead letters", n)
	}
}

func TestExpiryNeedsTTLAndCommit(t *testing.T) {
	h := newHarness(t, t0, nil)
	ttl := h.p.TTL().Milliseconds()
	if ttl != dedupe.DefaultTTL.Milliseconds() {
		t.Fatalf("TTL %d ms, want the default", ttl)
	}
	h.send(t, "a", event("a", t0)) // offset 0
	h.send(t, "a", event("a", t0)) // offset 1: a repeat
	h.uniques()
	seen := t0.UnixMilli()
	all := map[string]int64{input: 2, loop: 100}

	// What the sweeper reads from a stored value agrees with the callback.
	enc, err := h.set.DedupeState.Marshal(h.state(t, "a"))
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := h.p.DueOf("a", enc); !ok || d.At != seen+ttl || d.Marked != -1 {
		t.Fatalf("DueOf = %+v, %v; want due at %d", d, ok, seen+ttl)
	}
	if _, ok := h.p.DueOf("a", []byte("not a state")); ok {
		t.Fatal("DueOf judged a value that does not decode")
	}

	// Stream time short of the TTL: kept, not even deferred.
	h.timer("a", state.Timer{StreamTime: seen + ttl - 1, Committed: all})
	if h.state(t, "a") == nil {
		t.Fatal("id deleted before its TTL")
	}
	wantCounters(t, h.p, dedupe.Snapshot{In: 2, Unique: 1, Duplicates: 1, Timers: 1})

	// Due, but the repeat at offset 1 is not committed (committed offset 1
	// means offsets < 1): deferred.
	h.timer("a", state.Timer{StreamTime: seen + ttl, Committed: map[string]int64{input: 1, loop: 100}})
	// Due, but nothing committed at all: deferred too.
	h.timer("a", state.Timer{StreamTime: seen + ttl, Committed: map[string]int64{}})
	if h.state(t, "a") == nil {
		t.Fatal("id deleted while a record that touched it could still be replayed")
	}
	wantCounters(t, h.p, dedupe.Snapshot{In: 2, Unique: 1, Duplicates: 1, Timers: 3, ExpiryDeferred: 2})

	// Due and committed: deleted.
	h.timer("a", state.Timer{StreamTime: seen + ttl, Committed: all})
	if st := h.state(t, "a"); st != nil {
		t.Fatalf("id not deleted: %+v", st)
	}
	wantCounters(t, h.p, dedupe.Snapshot{In: 2, Unique: 1, Duplicates: 1, Timers: 4, ExpiryDeferred: 2, Expired: 1})
	// A repeated timer finds nothing and changes nothing.
	h.timer("a", state.Timer{StreamTime: seen + ttl, Committed: all})

	// After expiry the id passes again, and is remembered anew.
	again := h.send(t, "a", event("a", t0.Add(11*time.Minute))) // offset 2
	wantOne(t, h.uniques(), "a", again, input+"@2#1")
	st := h.state(t, "a")
	if st == nil || st.FirstOffset != 2 || st.FirstSeen != t0.Add(11*time.Minute).UnixMilli() || st.LastInputOffset != 2 {
		t.Fatalf("state after the id passed again: %+v", st)
	}
	h.send(t, "a", event("a", t0.Add(11*time.Minute)))
	if got := h.uniques(); len(got) != 0 {
		t.Fatal("the repeat of a re-admitted id passed")
	}
	wantCounters(t, h.p, dedupe.Snapshot{In: 4, Unique: 2, Duplicates: 2, Timers: 5, ExpiryDeferred: 2, Expired: 1})

	// A timer that does not decode is a dead letter, not a crash.
	h.tt.Consume(loop, "a", []byte("{not json"), tester.WithHeaders(goka.Headers{state.HeaderKind: []byte(state.KindTimer)}))
	dl := h.deadLetters(t)
	if len(dl) != 1 || dl[0].SourceTopic != loop || !strings.Contains(dl[0].Error, "timer") {
		t.Fatalf("dead letters for a bad timer: %+v", dl)
	}
	if h.state(t, "a") == nil {
		t.Fatal("a bad timer deleted the id")
	}
}

func TestFutureAndLateEvents(t *testing.T) {
	// The wall clock is 5 h after the stream's events. The events carry no
	// watermark stamps (no parse upstream), so the partition is its own
	// channel: its watermark is the highest event time seen.
	now := t0.Add(5 * time.Hour)
	h := newHarness(t, now, nil)
	h.send(t, "a", event("a", t0))
	if st := h.clock.StreamTime(0); st != t0.UnixMilli() {
		t.Fatalf("stream time %d, want %d", st, t0.UnixMilli())
	}

	// 2 h ahead of the wall clock: passed on, never moves event time.
	gb := h.send(t, "g", event("g", now.Add(2*time.Hour)))
	wantOne(t, h.uniques()[1:], "g", gb, input+"@1#1")
	if st := h.clock.StreamTime(0); st != t0.UnixMilli() {
		t.Fatalf("a future event moved the stream time to %d", st)
	}
	// Kept as if it happened at the watermark, so that its id expires with
	// the stream's, not hours late.
	if st := h.state(t, "g"); st == nil || st.FirstSeen != t0.UnixMilli() {
		t.Fatalf("state of future event g: %+v", st)
	}
	// Its repeat is still dropped.
	h.send(t, "g", event("g", now.Add(2*time.Hour)))
	if len(h.uniques()) != 0 {
		t.Fatal("repeat of a future event passed")
	}
	wantCounters(t, h.p, dedupe.Snapshot{In: 3, Unique: 2, Duplicates: 1, Future: 2})

	// An event within the bound moves the stream time.
	h.send(t, "b", event("b", t0.Add(30*time.Minute)))
	if st := h.clock.StreamTime(0); st != t0.Add(30*time.Minute).UnixMilli() {
		t.Fatalf("stream time %d after an in-bound event", st)
	}
	// Older than the watermark minus the TTL: late, still passed.
	lb := h.send(t, "l", event("l", t0.Add(30*time.Minute-dedupe.DefaultTTL-time.Second)))
	uq := h.uniques()
	if len(uq) != 2 {
		t.Fatalf("%d records on logs.unique, want b and l", len(uq))
	}
	wantOne(t, uq[1:], "l", lb, input+"@4#1")
	// Exactly the TTL old is not late.
	h.send(t, "m", event("m", t0.Add(30*time.Minute-dedupe.DefaultTTL)))
	h.uniques()
	wantCounters(t, h.p, dedupe.Snapshot{In: 6, Unique: 5, Duplicates: 1, Future: 2, Late: 1})
	if st := h.clock.StreamTime(0); st != t0.Add(30*time.Minute).UnixMilli() {
		t.Fatalf("a late event moved the stream time back to %d", st)
	}
}

func TestDeadLetters(t *testing.T) {
	h := newHarness(t, t0, nil)
	garbage := []byte("this is not avro")
	h.tt.Consume(input, "k1", garbage)
	noID := h.send(t, "k2", event("", t0))
	dl := h.deadLetters(t)
	if len(dl) != 2 {
		t.Fatalf("%d dead letters, want 2", len(dl))
	}
	for i, want := range []struct {
		key   string
		value []byte
		why   string
	}{{"k1", garbage, ""}, {"k2", noID, "empty event_id"}} {
		d := dl[i]
		if string(d.OriginalKey) != want.key || !bytes.Equal(d.OriginalValue, want.value) || d.SourceTopic != input ||
			d.SourceOffset != int64(i) || d.Stage != dedupe.StageName || d.Error == "" || !strings.Contains(d.Error, want.why) ||
			d.Time != t0.UnixMilli() {
			t.Errorf("dead letter %d: %+v", i, d)
		}
	}
	if len(h.uniques()) != 0 {
		t.Fatal("a bad record reached logs.unique")
	}
	// The stage goes on.
	b := h.send(t, "b", event("b", t0))
	wantOne(t, h.uniques(), "b", b, input+"@2#1")
	wantCounters(t, h.p, dedupe.Snapshot{In: 3, Unique: 1, DeadLetters: 2})
	// Dead letters on the loop too (a rerouted record that does not decode).
	h.tt.Consume(loop, "x", garbage)
	if dl := h.deadLetters(t); len(dl) != 1 || dl[0].SourceTopic != loop {
		t.Fatalf("loop dead letters: %+v", dl)
	}
}

func TestRerouteThroughLoop(t *testing.T) {
	h := newHarness(t, t0, nil)
	a := h.send(t, "host-key", event("a", t0)) // keyed otherwise: parsed@0
	// Sent to its id through the loop, then passed from there.
	_, k, v, ok := h.loop.NextRawWithHeaders()
	if !ok || k != "a" || !bytes.Equal(v, a) {
		t.Fatalf("loop record key %q ok %v, want the event under its id", k, ok)
	}
	wantOne(t, h.uniques(), "a", a, loop+"@0#1")
	st := h.state(t, "a")
	if st == nil || st.FirstTopic != loop || st.FirstOffset != 0 || st.LastLoopOffset != 0 || st.LastInputOffset != -1 {
		t.Fatalf("state %+v", st)
	}
	// The same event rerouted again (a replayed producer, say): a duplicate.
	h.send(t, "host-key", event("a", t0)) // parsed@1 → loop@1
	// And once more keyed right: a duplicate too.
	h.send(t, "a", event("a", t0)) // parsed@2
	if got := h.uniques(); len(got) != 0 {
		t.Fatalf("rerouted repeats passed: %d", len(got))
	}
	st = h.state(t, "a")
	if st.LastLoopOffset != 1 || st.LastInputOffset != 2 {
		t.Fatalf("state %+v", st)
	}
	wantCounters(t, h.p, dedupe.Snapshot{In: 5, Unique: 1, Duplicates: 2, Rerouted: 2})

	// Expiry must wait for the loop records too.
	due := st.FirstSeen + h.p.TTL().Milliseconds()
	h.timer("a", state.Timer{StreamTime: due, Committed: map[string]int64{input: 3, loop: 1}})
	if h.state(t, "a") == nil {
		t.Fatal("deleted while loop@1 was uncommitted")
	}
	h.timer("a", state.Timer{StreamTime: due, Committed: map[string]int64{input: 3, loop: 2}})
	if h.state(t, "a") != nil {
		t.Fatal("not deleted once everything was committed")
	}
}

// A replay is the same record read again after a crash: the table holds
// what its first processing wrote, the output may or may not have landed.
// goka's tester never delivers an offset twice, so the callbacks are
// driven through a fake goka.Context over a table shared across
// "restarts" (a new stage and fence each time, as after a crash).

func TestReplayOfFirstOccurrence(t *testing.T) {
	tb := gokatest.NewTable(nil)
	var set *codecs.Set
	run := func(tail exactlyonce.TailFunc) (*dedupe.Processor, func(key string, offset int64, value []byte) *gokatest.Context) {
		p, _, s := stage(t, tail, t0, nil)
		set = s
		tb.Codec = s.DedupeState
		return p, func(key string, offset int64, value []byte) *gokatest.Context {
			ctx := gokatest.NewContext(goka.Group(topology.GroupDedupe), loop, tb, gokatest.Record{Topic: goka.Stream(input), Key: key, Offset: offset})
			p.Process(ctx, value)
			return ctx
		}
	}
	p1, process := run(noTail)
	ev, _ := set.LogEvent.Marshal(event("a", t0))
	first := process("a", 5, ev)
	if len(first.Emits) != 1 || first.Emits[0].Topic != topology.TopicUnique {
		t.Fatalf("first occurrence emitted %+v", first.Emits)
	}
	written := tb.Snapshot()
	repeat := process("a", 6, ev)
	if len(repeat.Emits) != 0 {
		t.Fatal("repeat emitted")
	}
	afterRepeat := tb.Snapshot()
	wantCounters(t, p1, dedupe.Snapshot{In: 2, Unique: 1, Duplicates: 1})

	// Crash before the output landed: the replay of offset 5 finds its own
	// state and emits again (the tail says nothing landed).
	p2, process := run(noTail)
	tb.Restore(written)
	again := process("a", 5, ev)
	if len(again.Emits) != 1 || !bytes.Equal(again.Emits[0].Value.([]byte), ev) {
		t.Fatalf("replay of the first occurrence emitted %+v", again.Emits)
	}
	if !reflect.DeepEqual(tb.Snapshot(), written) {
		t.Fatal("the replay changed the state")
	}
	wantCounters(t, p2, dedupe.Snapshot{In: 1, Unique: 1, Replayed: 1})

	// Crash after the output landed: the tail (what KafkaTail reads from
	// the record's headers) says so, and the replay is suppressed.
	landed, ok, err := exactlyonce.ParseHeaders(dedupe.StageName, func(k string) []byte { return first.Emits[0].Headers[k] })
	if err != nil || !ok {
		t.Fatalf("fence headers of the first emit: %v %v", ok, err)
	}
	p3, process := run(func(context.Context, string, int32, string) (*exactlyonce.Landed, error) { return landed, nil })
	tb.Restore(afterRepeat)
	if c := process("a", 5, ev); len(c.Emits) != 0 {
		t.Fatalf("replay after the output landed emitted %+v", c.Emits)
	}
	// The replayed repeat changes nothing.
	if c := process("a", 6, ev); len(c.Emits) != 0 {
		t.Fatal("replayed repeat emitted")
	}
	if !reflect.DeepEqual(tb.Snapshot(), afterRepeat) {
		t.Fatal("replays changed the state")
	}
	wantCounters(t, p3, dedupe.Snapshot{In: 2, Replayed: 2, Suppressed: 1, Duplicates: 1})
	// A new repeat after the replays is applied.
	process("a", 7, ev)
	if st, _ := tb.Get("a"); st.(*schemas.DedupeState).LastInputOffset != 7 {
		t.Fatalf("state after a new repeat: %+v", st)
	}
}

func TestRerouteToOtherPartition(t *testing.T) {
	// With 4 partitions, an event keyed by its id but read from a partition
	// its id does not hash to goes through the loop.
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	topo, err := topology.New(topology.Config{Partitions: 4, Replication: 1})
	if err != nil {
		t.Fatal(err)
	}
	fence, err := exactlyonce.New(exactlyonce.Config{Stage: dedupe.StageName, Outputs: []string{topology.TopicUnique}, Tail: noTail,
		PartitionOf: func(k string) int32 { return topology.Partition([]byte(k), 4) }})
	if err != nil {
		t.Fatal(err)
	}
	cfg := wiring.DedupeConfig(topo, set)
	cfg.Fence, cfg.Watermarks = fence, watermark.NewPartitions(4, watermark.DefaultIdle)
	cfg.KeyFor = func(p int32) string { return topology.KeyFor(p, 4) }
	p, err := dedupe.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	home := topology.Partition([]byte("a"), 4)
	ev, _ := set.LogEvent.Marshal(event("a", time.Now()))
	tb := gokatest.NewTable(set.DedupeState)
	wrong := gokatest.NewContext(goka.Group(topology.GroupDedupe), loop, tb, gokatest.Record{Topic: goka.Stream(input), Key: "a", Partition: (home + 1) % 4, Offset: 0})
	p.Process(wrong, ev)
	if len(wrong.Emits) != 0 || len(wrong.Loops) != 1 || wrong.Loops[0].Key != "a" || len(tb.Rows) != 0 {
		t.Fatalf("misplaced event: emits %+v loops %+v", wrong.Emits, wrong.Loops)
	}
	right := gokatest.NewContext(goka.Group(topology.GroupDedupe), loop, tb, gokatest.Record{Topic: goka.Stream(loop), Key: "a", Partition: home, Offset: 0})
	p.Loop(right, wrong.Loops[0].Value)
	if len(right.Emits) != 1 || right.Emits[0].Key != "a" || len(right.Loops) != 0 {
		t.Fatalf("rerouted event at home: emits %+v", right.Emits)
	}
	if s := p.Stats().Snapshot(); s.Rerouted != 1 || s.Unique != 1 {
		t.Fatalf("counters %+v", s)
	}
}

// TestSweepExpiresExactlyTheDueIDs: a sweep visits the ids past their TTL
// whose records are all committed, and no other; an id whose repeat is not
// committed yet is not visited (and not deleted) until it is; a sweep with
// nothing due visits nothing. Ids found in the store (written before this
// pod noted them) are judged from their stored values.
func TestSweepExpiresExactlyTheDueIDs(t *testing.T) {
	h := newHarness(t, t0, nil)
	ttl := h.p.TTL().Milliseconds()
	seen := t0.UnixMilli()
	h.send(t, "a", event("a", t0))                  // parsed@0
	h.send(t, "b", event("b", t0.Add(time.Minute))) // parsed@1
	h.send(t, "c", event("c", t0))                  // parsed@2
	h.send(t, "c", event("c", t0))                  // parsed@3: a repeat
	h.tt.SetTableValue(table, "old", &schemas.DedupeState{FirstTopic: input, FirstOffset: -1, FirstSeen: seen - ttl,
		LastInputOffset: -1, LastLoopOffset: -1})
	h.uniques()

	if n := h.sweep(t, seen+ttl-1, map[string]int64{input: 4}); n != 1 || h.state(t, "old") != nil {
		t.Fatalf("first sweep visited %d ids (old there: %v), want only the stored id past its TTL", n, h.state(t, "old") != nil)
	}
	// a is due and committed; c is due but its repeat (offset 3) is not
	// committed; b is not due.
	if n := h.sweep(t, seen+ttl, map[string]int64{input: 3}); n != 1 {
		t.Fatalf("sweep visited %d ids, want 1 (a)", n)
	}
	if h.state(t, "a") != nil || h.state(t, "b") == nil || h.state(t, "c") == nil {
		t.Fatalf("after the sweep: a %v, b %v, c %v; want a deleted, b and c kept", h.state(t, "a"), h.state(t, "b"), h.state(t, "c"))
	}
	if n := h.sweep(t, seen+ttl, map[string]int64{input: 3}); n != 0 {
		t.Fatalf("a sweep with nothing new due visited %d ids", n)
	}
	if n := h.sweep(t, seen+ttl, map[string]int64{input: 4}); n != 1 || h.state(t, "c") != nil {
		t.Fatalf("c not expired once its repeat was committed (visited %d)", n)
	}
	if n := h.sweep(t, seen+ttl+time.Minute.Milliseconds(), map[string]int64{input: 4}); n != 1 || h.state(t, "b") != nil {
		t.Fatalf("b not expired at its TTL (visited %d)", n)
	}
	wantCounters(t, h.p, dedupe.Snapshot{In: 4, Unique: 3, Duplicates: 1, Visited: 4, Expired: 4})
	if n := h.sweep(t, seen+10*ttl, map[string]int64{input: 4}); n != 0 {
		t.Fatalf("an empty table's sweep visited %d ids", n)
	}
}

// TestRoutedEventIsNotDecoded: an event with its routing in headers (as
// parse writes it) is deduplicated by them without being decoded, and
// its routing goes on to logs.unique with its bytes.
func TestRoutedEventIsNotDecoded(t *testing.T) {
	h := newHarness(t, t0, nil)
	r := schemas.Routing{EventID: "a", Timestamp: t0.UnixMilli(), TraceID: ptr("4bf92f3577b34da6a3ce929d0e0e4736")}
	value := []byte("opaque: not decoded")
	h.tt.Consume(input, "a", value, tester.WithHeaders(goka.Headers(r.Headers(nil))))
	h.tt.Consume(input, "a", value, tester.WithHeaders(goka.Headers(r.Headers(nil))))
	got := h.uniques()
	wantOne(t, got, "a", value, input+"@0#1")
	back, ok := schemas.EventRouting(got[0].headers)
	if !ok || back.EventID != "a" || back.Timestamp != r.Timestamp || back.TraceID == nil || *back.TraceID != *r.TraceID || back.SpanID != nil {
		t.Fatalf("routing on logs.unique: %+v (%v)", back, ok)
	}
	if dl := h.deadLetters(t); len(dl) != 0 {
		t.Fatalf("%d dead letters", len(dl))
	}
	wantCounters(t, h.p, dedupe.Snapshot{In: 2, Unique: 1, Duplicates: 1})
}

func ptr[T any](v T) *T { return &v }
