package errorrate_test

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/pipeline/wiring"
	"github.com/logstream/logstream/processors/errorrate"
	"github.com/logstream/logstream/processors/exactlyonce"
	"github.com/logstream/logstream/processors/internal/gokatest"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
	"github.com/logstream/logstream/watermark"
)

func finals(ws []*schemas.HostWindow) []*schemas.HostWindow {
	var out []*schemas.HostWindow
	for _, w := range ws {
		if w.Emit == schemas.EmitFinal {
			out = append(out, w)
		}
	}
	return out
}

// TestWindowsCloseAtWatermark: a window [start, end) closes, once, when
// the watermark reaches end + grace, with every event it holds; not
// before.
func TestWindowsCloseAtWatermark(t *testing.T) {
	s := newStage(t, 1, nil)
	for d := time.Duration(0); d < 60*time.Second; d += time.Second { // 60 events, 6 errors
		s.consume(0, ev("web-1", d, d%(10*time.Second) == 0))
	}
	s.consume(0, ev("web-1", 89*time.Second, false))
	s.flush()
	wantWins(t, "watermark 89s: nothing closes", finals(s.windows()))
	s.consume(0, ev("web-1", 90*time.Second, false))
	s.flush()
	wantWins(t, "watermark 90s: 0-1m closes, and the hopping window ending with it", finals(s.windows()),
		tumbling(0, 60, 6), hopping(-4*time.Minute, 60, 6))
	fin := finals(s.windows())[0]
	if fin.ErrorRate != 0.1 || fin.FirstError == nil || *fin.FirstError != ms(0) || len(fin.Signatures) != 1 || fin.Signatures[0].Count != 6 ||
		len(fin.Samples) != 3 || fin.AsOf != ms(90*time.Second) || fin.Version == 0 {
		t.Fatalf("final record: %+v", fin)
	}
	s.forget()
	// The watermark moves on: each window closes once.
	for _, d := range []time.Duration{100 * time.Second, 170 * time.Second} {
		s.consume(0, ev("web-1", d, false))
	}
	s.flush()
	wantWins(t, "watermark 170s", finals(s.windows()),
		tumbling(time.Minute, 3, 0), hopping(-3*time.Minute, 63, 6))
	if st := s.win.Stats(); st.Events.Load() != 64 || st.Late.Load() != 0 || st.Closed.Load() != 4 {
		t.Errorf("events %d late %d closed %d", st.Events.Load(), st.Late.Load(), st.Closed.Load())
	}
}

// TestWindowsLate: an event whose window has closed (older than the
// watermark minus the grace) is counted late and changes nothing; one
// within the grace is added.
func TestWindowsLate(t *testing.T) {
	s := newStage(t, 1, nil)
	s.consume(0, ev("web-2", 10*time.Second, true))
	s.consume(0, ev("web-2", 95*time.Second, false)) // closes [0, 1m)
	s.flush()
	wantWins(t, "first close", finals(s.windows()), tumbling(0, 1, 1), hopping(-4*time.Minute, 1, 1))
	s.forget()
	s.consume(0, ev("web-2", 30*time.Second, true)) // its window is closed
	s.consume(0, ev("web-2", 70*time.Second, true)) // [1m, 2m) is open until 150 s
	s.flush()
	if st := s.win.Stats(); st.Late.Load() != 1 || s.state(0).Late != 1 || s.state(0).Hosts[0].Late != 1 {
		t.Fatalf("late: stage %d state %d", st.Late.Load(), s.state(0).Late)
	}
	s.consume(0, ev("web-2", 151*time.Second, false))
	s.flush()
	wantWins(t, "the second window holds the event within the grace", finals(s.windows()),
		tumbling(time.Minute, 2, 1), hopping(-3*time.Minute, 3, 2))
}

// TestWindowsLateForANewHost: a host the partition has not seen is late
// by the same watermark as one it knows: its old count must not open (and
// at once close) windows the watermark passed long ago.
func TestWindowsLateForANewHost(t *testing.T) {
	s := newStage(t, 1, nil)
	s.consume(0, ev("web-1", 10*time.Second, false))
	s.consume(0, ev("web-1", 5*time.Minute, false)) // the watermark at 5 min
	s.flush()
	s.forget()
	s.consume(0, ev("web-9", 20*time.Second, true)) // its window closed at 90 s
	s.consume(0, ev("web-9", 4*time.Minute+50*time.Second, true))
	s.flush()
	if st := s.win.Stats(); st.Late.Load() != 1 || st.Events.Load() != 3 {
		t.Fatalf("late %d events %d, want 1 and 3", st.Late.Load(), st.Events.Load())
	}
	for _, w := range finals(s.windows()) {
		if w.Host == "web-9" {
			t.Errorf("a window of the new host closed at once: %+v", w)
		}
	}
}

// TestUpdatesForTheAlerter: each update carries the counts of the ticks
// before the partition's watermark, once, in order of seq; a tick that
// comes after its update (within the grace) goes in the next; a host with
// new errors carries its window's details.
func TestUpdatesForTheAlerter(t *testing.T) {
	s := newStage(t, 1, nil)
	s.consume(0, ev("web-3", 0, false))
	s.consume(0, ev("web-3", 500*time.Millisecond, true))
	s.consume(0, ev("web-3", 1500*time.Millisecond, false))
	s.consume(0, ev("web-3", 2100*time.Millisecond, false)) // watermark 2.1 s: ticks 0 and 1 are complete
	s.flush()
	us := s.updates()
	if len(us) != 1 {
		t.Fatalf("%d updates", len(us))
	}
	u := us[0]
	if u.Seq != 1 || u.Watermark != ms(2*time.Second) || u.Status != "time" || u.TickMs != 1000 || u.WindowMs != 60_000 || len(u.Hosts) != 1 {
		t.Fatalf("update %+v", u)
	}
	want := []schemas.TickCount{{Start: ms(0), Events: 2, Errors: 1}, {Start: ms(time.Second), Events: 1}}
	if !reflect.DeepEqual(u.Hosts[0].Ticks, want) {
		t.Fatalf("ticks %+v, want %+v", u.Hosts[0].Ticks, want)
	}
	hw, err := s.set.HostWindow.Unmarshal(u.Hosts[0].Latest)
	if err != nil || hw.Host != "web-3" || hw.Errors != 1 || len(hw.Signatures) != 1 || len(hw.Samples) != 1 {
		t.Fatalf("details %+v %v", hw, err)
	}
	s.forget()
	// A late tick (0.9 s, within the grace) and a new one.
	s.consume(0, ev("web-3", 900*time.Millisecond, false))
	s.consume(0, ev("web-3", 3500*time.Millisecond, false))
	s.flush()
	us = s.updates()
	if len(us) != 1 || us[0].Seq != 2 || us[0].Watermark != ms(3*time.Second) {
		t.Fatalf("second update %+v", us)
	}
	want = []schemas.TickCount{{Start: ms(0), Events: 1}, {Start: ms(2 * time.Second), Events: 1}}
	if got := us[0].Hosts[0].Ticks; !reflect.DeepEqual(got, want) || len(us[0].Hosts[0].Latest) != 0 {
		t.Fatalf("second update ticks %+v latest %d bytes, want %+v and no details (no new errors)", got, len(us[0].Hosts[0].Latest), want)
	}
	s.forget()
	// Nothing new, the watermark does not cross a tick: no update.
	s.consume(0, ev("web-3", 3600*time.Millisecond, false))
	s.flush()
	if us := s.updates(); len(us) != 0 {
		t.Fatalf("update without a new tick: %+v", us[0])
	}
}

// TestReplayOfAPartial: a partials record read again after a crash, over
// the state its first processing wrote, counts nothing again and writes
// exactly what it wrote; after a restart the fence drops the finals that
// landed.
func TestReplayOfAPartial(t *testing.T) {
	s := newStage(t, 1, nil)
	s.consume(0, ev("web-1", 10*time.Second, true))
	s.flush()
	s.consume(0, ev("web-1", 100*time.Second, false))
	out, err := s.comb.Flush(s.wall)
	if err != nil {
		t.Fatal(err)
	}
	var rec *kgo.Record
	for _, r := range out {
		if r.Topic == partialsT {
			rec = r
		}
	}
	first := s.partial(0, rec)
	written := s.tab.Snapshot()
	if len(first.Emits) != 3 { // two finals, one update
		t.Fatalf("first processing wrote %d records", len(first.Emits))
	}
	same := func(what string, got, want []gokatest.Sent) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d records, want %d", what, len(got), len(want))
		}
		for i := range got {
			if got[i].Topic != want[i].Topic || got[i].Key != want[i].Key || !bytes.Equal(got[i].Value.([]byte), want[i].Value.([]byte)) {
				t.Errorf("%s: record %d differs", what, i)
			}
		}
	}
	again := s.partialAt(0, 1, rec)
	same("replay in the same pod", again.Emits, first.Emits)
	if !reflect.DeepEqual(s.tab.Rows, written) {
		t.Fatal("a replay changed the state")
	}
	// A restart whose fence finds the first final landed: the second
	// final and the update go out again (the alerter drops the update by
	// its seq), the first does not.
	l, ok, err := exactlyonce.ParseHeaders(errorrate.StageName, func(k string) []byte { return first.Emits[0].Headers[k] })
	if err != nil || !ok {
		t.Fatalf("fence headers: %v %v", ok, err)
	}
	s.restartWindows(func(context.Context, string, int32, string) (*exactlyonce.Landed, error) { return l, nil })
	again = s.partialAt(0, 1, rec)
	same("replay after a restart, first final landed", again.Emits, first.Emits[1:])
	if st := s.win.Stats(); st.Replayed.Load() != 1 || st.Suppressed.Load() != 1 || st.Events.Load() != 0 {
		t.Errorf("replayed %d suppressed %d events %d", st.Replayed.Load(), st.Suppressed.Load(), st.Events.Load())
	}
}

// TestBadPartial: a record on the partials topic that does not decode is
// a dead letter; the stage goes on.
func TestBadPartial(t *testing.T) {
	s := newStage(t, 1, nil)
	ctx := s.partial(0, &kgo.Record{Key: []byte(topology.KeyFor(0, 1)), Value: []byte("garbage")})
	if len(ctx.Emits) != 1 || ctx.Emits[0].Topic != topology.TopicDLQ {
		t.Fatalf("emits %+v", ctx.Emits)
	}
	dl := ctx.Emits[0].Value.(*schemas.DeadLetter)
	if dl.Stage != errorrate.StageName || dl.SourceTopic != partialsT || !bytes.Equal(dl.OriginalValue, []byte("garbage")) {
		t.Fatalf("dead letter %+v", dl)
	}
	s.consume(0, ev("web-1", 0, false))
	s.flush()
	if st := s.state(0); st == nil || len(st.Hosts) != 1 {
		t.Fatal("the stage stopped after a bad record")
	}
}

// TestUpgradeFromPerHostState: the first time a partition's state is
// made, the previous version's per-host states of the partition are read
// in: the window that was open keeps what it had counted, and a window
// the previous version closed is not written again.
func TestUpgradeFromPerHostState(t *testing.T) {
	var s *stage
	s = newStage(t, 1, func(c *errorrate.Config) {
		c.Legacy = func(_ int32, fn func(key string, value []byte) bool) error {
			for k, v := range s.tab.Rows {
				if !fn(k, v) {
					break
				}
			}
			return nil
		}
	})
	old := &schemas.ErrorRateState{Applied: 41, StreamTime: ms(75 * time.Second), Version: 9, TumblingClosed: ms(time.Minute),
		HoppingClosed: ms(time.Minute), Panes: []schemas.Pane{{Start: ms(time.Minute), Events: 40, Errors: 4, FirstError: ms(61 * time.Second),
			Latency: map[int32]int64{100: 40}, Signatures: []schemas.SignatureCount{{Signature: "HTTP <num>", Count: 4, Example: "HTTP 502"}}}}}
	b, err := s.set.ErrorRateState.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	s.tab.Rows["web-7"] = b
	s.restartWindows(noTail)
	s.consume(0, ev("web-7", 70*time.Second, true))
	s.consume(0, ev("web-7", 30*time.Second, false)) // in the window the old version closed: late
	s.consume(0, ev("web-7", 151*time.Second, false))
	s.flush()
	wantWins(t, "the open window keeps what the old version counted", finals(s.windows()),
		tumbling(time.Minute, 41, 5), hopping(-3*time.Minute, 41, 5))
	fin := finals(s.windows())[0]
	if fin.Version <= 9 || fin.LatencyCount != 40 || fin.Signatures[0].Signature != "HTTP <num>" {
		t.Fatalf("final %+v", fin)
	}
	st := s.state(0)
	if !st.Migrated || st.Late != 1 || s.win.Stats().Migrated.Load() != 1 {
		t.Fatalf("migrated %v late %d", st.Migrated, st.Late)
	}
}

// TestUpgradeLoopRecords: events the previous version re-keyed through
// the loop and had not processed are counted once under the partition's
// state; those it had applied, those re-keyed twice, and those the
// combine hop counts (at or after its starting offset) are not.
func TestUpgradeLoopRecords(t *testing.T) {
	s := newStage(t, 1, func(c *errorrate.Config) { c.LegacyCutoff = map[int32]int64{0: 500} })
	old := &schemas.ErrorRateState{Applied: 10, StreamTime: ms(5 * time.Second)}
	b, _ := s.set.ErrorRateState.Marshal(old)
	s.tab.Rows["web-8"] = b
	loop := func(key string, offset int64, kind string, value []byte, src string) *gokatest.Context {
		h := goka.Headers{watermark.HeaderKind: []byte(kind)}
		if src != "" {
			h[errorrate.HeaderSource] = []byte(src)
		}
		ctx := gokatest.NewContext(goka.Group(topology.GroupErrorRate), loopT, s.tab, gokatest.Record{
			Topic: goka.Stream(loopT), Key: key, Partition: 0, Offset: offset, Headers: h, Time: s.wall})
		s.win.Loop(ctx, value)
		return ctx
	}
	e1, _ := s.set.LogEvent.Marshal(ev("web-8", 6*time.Second, true))
	if c := loop("web-8", 10, "event", e1, "0@3"); len(c.Loops) != 0 {
		t.Fatal("an event the old state applied was re-keyed")
	}
	c := loop("web-8", 11, "event", e1, "0@4")
	if len(c.Loops) != 1 || c.Loops[0].Key != topology.KeyFor(0, 1) {
		t.Fatalf("re-keyed %+v", c.Loops)
	}
	rk := c.Loops[0]
	next := int64(100)
	deliver := func(s2 gokatest.Sent) {
		ctx := gokatest.NewContext(goka.Group(topology.GroupErrorRate), loopT, s.tab, gokatest.Record{
			Topic: goka.Stream(loopT), Key: s2.Key, Partition: 0, Offset: next, Headers: s2.Headers, Time: s.wall})
		next++
		s.win.Loop(ctx, s2.Value)
	}
	deliver(rk)
	deliver(rk) // re-keyed twice: same source offset
	if c := loop("web-8", 12, "event", e1, "0@600"); len(c.Loops) == 1 {
		deliver(c.Loops[0]) // at or after the cutoff: the combine hop counts it
	}
	if c := loop("web-8", 13, "timer", []byte(`{"stream_time":1}`), ""); len(c.Loops) != 0 || len(c.Emits) != 0 {
		t.Fatal("a timer of the previous version did something")
	}
	st := s.state(0)
	if st == nil || len(st.Hosts) != 1 || len(st.Hosts[0].Panes) != 1 || st.Hosts[0].Panes[0].Events != 1 || st.Hosts[0].Panes[0].Errors != 1 {
		t.Fatalf("state %+v", st)
	}
	if ws := s.win.Stats(); ws.LegacyEvents.Load() != 1 || ws.LegacySkipped.Load() != 3 {
		t.Errorf("legacy events %d skipped %d", ws.LegacyEvents.Load(), ws.LegacySkipped.Load())
	}
}

func TestValidate(t *testing.T) {
	s := newStage(t, 1, nil)
	for name, edit := range map[string]func(*errorrate.Config){
		"no partials":                func(c *errorrate.Config) { c.Partials = "" },
		"no codec":                   func(c *errorrate.Config) { c.UpdateCodec = nil },
		"no fence":                   func(c *errorrate.Config) { c.Fence = nil },
		"negative interval":          func(c *errorrate.Config) { c.UpdateInterval = -time.Second },
		"interval not dividing pane": func(c *errorrate.Config) { c.UpdateInterval = 7 * time.Second },
		"bad windows":                func(c *errorrate.Config) { c.Window = errorrate.Windows{Tumbling: time.Millisecond} },
	} {
		cfg := wiring.ErrorRateConfig(s.topo, s.set)
		cfg.Fence, cfg.Classifier = exactlyOnceFence(t), s.classifier()
		edit(&cfg)
		if _, err := errorrate.New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func exactlyOnceFence(t *testing.T) *exactlyonce.Fence {
	f, err := exactlyonce.New(exactlyonce.Config{Stage: errorrate.StageName, Outputs: []string{windowsT}, Tail: noTail,
		PartitionOf: func(string) int32 { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestTableCodec: the table reads the partition states and the previous
// version's per-host states alike.
func TestTableCodec(t *testing.T) {
	s := newStage(t, 1, nil)
	c := wiring.ErrorRateTableCodec(s.topo, s.set)
	b, err := c.Encode(&schemas.ErrorRatePartition{Applied: 3, Status: "time"})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c.Decode(b); err != nil || v.(*schemas.ErrorRatePartition).Applied != 3 {
		t.Fatalf("partition state: %v %v", v, err)
	}
	old, _ := s.set.ErrorRateState.Marshal(&schemas.ErrorRateState{Applied: 4})
	if v, err := c.Decode(old); err != nil || v.(*schemas.ErrorRateState).Applied != 4 {
		t.Fatalf("old state: %v %v", v, err)
	}
	if _, err := c.Decode([]byte("nope")); err == nil || !strings.Contains(err.Error(), "ErrorRatePartition") {
		t.Fatalf("garbage: %v", err)
	}
}
