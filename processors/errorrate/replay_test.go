package errorrate_test

import (
	"bytes"
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/lovoo/goka"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/errorrate"
	"github.com/logstream/logstream/processors/exactlyonce"
	"github.com/logstream/logstream/processors/internal/gokatest"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/state"
	"github.com/logstream/logstream/topology"
)

// The replay, restart and silent-host tests drive the Loop callback
// directly: goka's tester never delivers an offset twice, and its loop
// records have no timestamp (ctx.Timestamp() is the zero time, so a
// host's LastSeen stays 0 and wall-clock punctuation never starts).

// fakeCtx names the embedded gokatest.Context: embedded as Context, its
// field would hide goka.Context's Context method.
type fakeCtx = gokatest.Context

// loopCtx is a gokatest.Context whose record has a Kafka timestamp.
type loopCtx struct {
	*fakeCtx
	ts time.Time
}

func (c *loopCtx) Timestamp() time.Time { return c.ts }

// driver is one run of the stage (a pod) over a table kept across runs.
type driver struct {
	t   *testing.T
	p   *errorrate.Processor
	set *codecs.Set
	tb  *gokatest.Table
}

func newDriver(t *testing.T, tb *gokatest.Table, tail exactlyonce.TailFunc, edit func(*errorrate.Config)) *driver {
	t.Helper()
	p, _, set := stage(t, tail, edit)
	tb.Codec = set.ErrorRateState
	return &driver{t: t, p: p, set: set, tb: tb}
}

func (d *driver) loop(offset int64, key string, wall time.Time, kind string, value []byte) *gokatest.Context {
	c := &loopCtx{gokatest.NewContext(goka.Group(topology.GroupErrorRate), loopT, d.tb, gokatest.Record{
		Topic: goka.Stream(loopT), Key: key, Offset: offset, Headers: goka.Headers{state.HeaderKind: []byte(kind)}}), wall}
	d.p.Loop(c, value)
	return c.fakeCtx
}

// event delivers e, re-keyed by its host, at offset; its loop record was
// written at wall.
func (d *driver) event(offset int64, wall time.Time, e *schemas.LogEvent) *gokatest.Context {
	d.t.Helper()
	b, err := d.set.LogEvent.Marshal(e)
	if err != nil {
		d.t.Fatal(err)
	}
	return d.loop(offset, e.Host, wall, errorrate.KindEvent, b)
}

func (d *driver) timer(offset int64, host string, tm state.Timer) *gokatest.Context {
	return d.loop(offset, host, time.UnixMilli(tm.Wall), state.KindTimer, tm.Encode())
}

// out decodes what ctx wrote to topic.
func (d *driver) out(ctx *gokatest.Context, topic string) []*schemas.HostWindow {
	d.t.Helper()
	var out []*schemas.HostWindow
	for _, e := range ctx.Emits {
		if e.Topic != topic {
			continue
		}
		hw, err := d.set.HostWindow.Unmarshal(e.Value.([]byte))
		if err != nil {
			d.t.Fatal(err)
		}
		out = append(out, hw)
	}
	return out
}

func (d *driver) state(host string) *schemas.ErrorRateState {
	v, ok := d.tb.Get(host)
	if !ok {
		return nil
	}
	return v.(*schemas.ErrorRateState)
}

// emits returns what ctx emitted to topic, as (key, bytes).
func emits(ctx *gokatest.Context, topic string) []gokatest.Sent {
	var out []gokatest.Sent
	for _, e := range ctx.Emits {
		if e.Topic == topic {
			out = append(out, gokatest.Sent{Topic: e.Topic, Key: e.Key, Value: e.Value})
		}
	}
	return out
}

// landed is a tail that says emit (a record on hosts.error-rate) is the
// last one the stage wrote there.
func landed(t *testing.T, emit gokatest.Sent) exactlyonce.TailFunc {
	t.Helper()
	l, ok, err := exactlyonce.ParseHeaders(errorrate.StageName, func(k string) []byte { return emit.Headers[k] })
	if err != nil || !ok {
		t.Fatalf("fence headers %v: %v %v", emit.Headers, ok, err)
	}
	return func(context.Context, string, int32, string) (*exactlyonce.Landed, error) { return l, nil }
}

// TestReplay: a loop record read again after a crash (same offset, over
// the state its first processing wrote) counts nothing again and writes
// again what it wrote; the fence drops the finals that landed.
func TestReplay(t *testing.T) {
	tb := gokatest.NewTable(nil)
	d := newDriver(t, tb, noTail, nil)
	for i := int64(0); i < 5; i++ { // 12:00:00.0 .. 12:00:00.4; errors at 0 and 3
		d.event(i, at(0), ev("web-1", at(time.Duration(i)*100*time.Millisecond), i%3 == 0))
	}
	first := d.event(5, at(0), ev("web-1", at(time.Minute+30*time.Second), false)) // closes 12:00 and [11:56,12:01)
	wantWins(t, "finals of @5", d.out(first, windowsT), []win{tumbling(0, 5, 2), hopping(-4*time.Minute, 5, 2)})
	wantWins(t, "updates of @5", d.out(first, updatesT), []win{tumbling(0, 5, 2),
		{schemas.WindowTumbling, schemas.EmitUpdate, time.Minute, 2 * time.Minute, 1, 0}})
	written := tb.Snapshot()
	unchanged := func() {
		t.Helper()
		if !reflect.DeepEqual(tb.Rows, written) {
			t.Fatal("a replay changed the state")
		}
	}
	same := func(what string, got, want []gokatest.Sent) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d records, want %d", what, len(got), len(want))
		}
		for i := range got {
			if got[i].Key != want[i].Key || !bytes.Equal(got[i].Value.([]byte), want[i].Value.([]byte)) {
				t.Errorf("%s: record %d differs", what, i)
			}
		}
	}

	// The same record twice in this run, then a restart where nothing
	// landed: both write exactly what @5 wrote; @2 wrote nothing.
	for _, restart := range []bool{false, true} {
		if restart {
			d = newDriver(t, tb, noTail, nil)
		}
		again := d.event(5, at(0), ev("web-1", at(time.Minute+30*time.Second), false))
		same("replay of @5 to "+windowsT, emits(again, windowsT), emits(first, windowsT))
		// Updates are not kept for replays (the next one supersedes
		// them): the replay writes the tumbling final, which came first.
		same("replay of @5 to "+updatesT, emits(again, updatesT), emits(first, updatesT)[:1])
		if c := d.event(2, at(0), ev("web-1", at(200*time.Millisecond), false)); len(c.Emits) != 0 {
			t.Errorf("replay of @2 wrote %d records", len(c.Emits))
		}
		unchanged()
	}
	if s := d.p.Stats(); s.Replayed.Load() != 2 || s.Events.Load() != 0 || s.Closed.Load() != 0 || s.Suppressed.Load() != 0 {
		t.Errorf("replayed %d events %d closed %d suppressed %d", s.Replayed.Load(), s.Events.Load(), s.Closed.Load(), s.Suppressed.Load())
	}

	// Restart; the tumbling final landed, the hopping one did not: only
	// the hopping one is written again (the alerter's copies always are:
	// it drops versions it has seen).
	d = newDriver(t, tb, landed(t, first.Emits[0]), nil)
	if first.Emits[0].Topic != windowsT {
		t.Fatalf("first emit of @5 to %s", first.Emits[0].Topic)
	}
	again := d.event(5, at(0), ev("web-1", at(time.Minute+30*time.Second), false))
	same("replay of @5 to "+windowsT+", tumbling landed", emits(again, windowsT), emits(first, windowsT)[1:])
	same("replay of @5 to "+updatesT+", tumbling landed", emits(again, updatesT), emits(first, updatesT)[:1])
	unchanged()
	if s := d.p.Stats(); s.Replayed.Load() != 1 || s.Suppressed.Load() != 1 {
		t.Errorf("replayed %d suppressed %d", s.Replayed.Load(), s.Suppressed.Load())
	}

	// Restart; both landed: no final is written again.
	var last gokatest.Sent
	for _, e := range first.Emits {
		if e.Topic == windowsT {
			last = e
		}
	}
	d = newDriver(t, tb, landed(t, last), nil)
	again = d.event(5, at(0), ev("web-1", at(time.Minute+30*time.Second), false))
	if n := len(emits(again, windowsT)); n != 0 {
		t.Errorf("replay of @5 with both finals landed wrote %d finals", n)
	}
	unchanged()
	if s := d.p.Stats(); s.Suppressed.Load() != 2 {
		t.Errorf("suppressed %d", s.Suppressed.Load())
	}

	// The stage goes on: the counts of 12:00 were not doubled.
	d.event(6, at(0), ev("web-1", at(time.Minute+31*time.Second), true))
	next := d.event(7, at(0), ev("web-1", at(2*time.Minute+30*time.Second), false))
	wantWins(t, "finals of @7", d.out(next, windowsT), []win{tumbling(time.Minute, 2, 1), hopping(-3*time.Minute, 7, 3)})
}

// TestRestartMidWindow: half a window, a restart over the same state that
// reads again the records after the last commit, the other half: the
// final has the exact counts.
func TestRestartMidWindow(t *testing.T) {
	tb := gokatest.NewTable(nil)
	d := newDriver(t, tb, noTail, nil)
	e := func(i int64) *schemas.LogEvent { return ev("web-1", at(time.Duration(i)*time.Second), i%10 == 0) }
	for i := int64(0); i < 30; i++ {
		d.event(i, at(0), e(i))
	}
	snap := tb.Snapshot()
	d.event(30, at(0), e(30)) // processed, not committed, lost with the pod

	// A new pod: the state as stored, the records from offset 25 (the
	// last commit) on.
	tb2 := gokatest.NewTable(nil)
	tb2.Restore(snap)
	d = newDriver(t, tb2, noTail, nil)
	var ws []*schemas.HostWindow
	for i := int64(25); i < 60; i++ {
		ws = append(ws, d.out(d.event(i, at(0), e(i)), windowsT)...)
	}
	c := d.event(60, at(0), ev("web-1", at(time.Minute+30*time.Second), false))
	ws = append(ws, d.out(c, windowsT)...)
	wantWins(t, "finals", ws, []win{tumbling(0, 60, 6), hopping(-4*time.Minute, 60, 6)})
	if s := d.p.Stats(); s.Replayed.Load() != 5 || s.Events.Load() != 31 {
		t.Errorf("replayed %d events %d", s.Replayed.Load(), s.Events.Load())
	}
	if st := d.state("web-1"); st.Applied != 60 || st.Late != 0 {
		t.Errorf("applied %d late %d", st.Applied, st.Late)
	}
}

// TestSilentHost: wall-clock punctuation. A host with steady traffic that
// goes silent has its windows closed by a timer and gets one silent
// record; a host without steady traffic only has its windows closed; the
// host's return clears Silent.
func TestSilentHost(t *testing.T) {
	tb := gokatest.NewTable(nil)
	d := newDriver(t, tb, noTail, nil) // SilentAfter 2m, SilentMinEvents 10
	off := int64(0)
	// db-1: 20 events a minute, 12:00:00..12:02:57; web-2: 5 a minute,
	// 12:00:00..12:02:48. Each loop record written at its event's time.
	for i := 0; i < 60; i++ {
		x := ev("db-1", at(time.Duration(i)*3*time.Second), false)
		d.event(off, time.UnixMilli(x.Timestamp), x)
		off++
	}
	for i := 0; i < 15; i++ {
		x := ev("web-2", at(time.Duration(i)*12*time.Second), false)
		d.event(off, time.UnixMilli(x.Timestamp), x)
		off++
	}
	lastSeen := ms(2*time.Minute + 57*time.Second)
	st := d.state("db-1")
	if st.LastSeen != lastSeen || st.Silent || st.Dirty {
		t.Fatalf("db-1: last seen %d silent %v dirty %v", st.LastSeen, st.Silent, st.Dirty)
	}
	value := tb.Rows["db-1"]
	due := state.Timer{Wall: lastSeen + 3*60000}
	if !d.p.Expired(0, "db-1", value, due) {
		t.Error("Expired: not due 3m after the last event")
	}

	// 3 minutes of silence: the host's clock is 12:05:57, windows ending
	// by 12:05:27 close.
	c := d.timer(off, "db-1", due)
	off++
	wantWins(t, "finals", d.out(c, windowsT), []win{tumbling(2*time.Minute, 20, 0), hopping(-2*time.Minute, 60, 0),
		hopping(-time.Minute, 60, 0), hopping(0, 60, 0)})
	up := d.out(c, updatesT)
	wantWins(t, "updates", up, []win{tumbling(2*time.Minute, 20, 0),
		{schemas.WindowTumbling, schemas.EmitSilent, 2*time.Minute + 57*time.Second, 5*time.Minute + 57*time.Second, 0, 0}})
	if len(up) == 2 && (up[1].Host != "db-1" || up[1].AsOf != lastSeen || up[1].Version <= up[0].Version) {
		t.Errorf("silent record %+v", up[1])
	}
	st = d.state("db-1")
	if !st.Silent || st.StreamTime != lastSeen || st.TumblingClosed != ms(5*time.Minute) || !reflect.DeepEqual(st.Recent, []int64{20, 20, 20, 0, 0}) {
		t.Errorf("db-1 after the timer: silent %v stream time %d closed %d recent %v", st.Silent, st.StreamTime, st.TumblingClosed, st.Recent)
	}
	silentTimer := c

	// A second timer: the next hopping window closes, no second silent
	// record.
	c = d.timer(off, "db-1", state.Timer{Wall: lastSeen + 4*60000})
	off++
	wantWins(t, "finals of the second timer", d.out(c, windowsT), []win{hopping(time.Minute, 40, 0)})
	wantWins(t, "updates of the second timer", d.out(c, updatesT), nil)

	// The timer read again (a replay) writes the silent record again,
	// and changes nothing.
	before := tb.Snapshot()
	again := d.timer(off-2, "db-1", due)
	if got, want := emits(again, updatesT), emits(silentTimer, updatesT); len(got) != 2 || !bytes.Equal(got[1].Value.([]byte), want[1].Value.([]byte)) {
		t.Errorf("replay of the silent timer wrote %d records to %s", len(got), updatesT)
	}
	if !reflect.DeepEqual(tb.Rows, before) {
		t.Error("the replay of a timer changed the state")
	}

	// web-2 was never steady (5 events a minute): its windows close, no
	// silent record.
	c = d.timer(off, "web-2", state.Timer{Wall: ms(2*time.Minute+48*time.Second) + 10*60000})
	off++
	for _, w := range d.out(c, updatesT) {
		if w.Emit == schemas.EmitSilent {
			t.Errorf("silent record for web-2: %+v", w)
		}
	}
	if n := len(finals(d.out(c, windowsT), schemas.WindowTumbling)); n != 1 {
		t.Errorf("web-2: %d tumbling finals, want 1 (12:02)", n)
	}
	if st := d.state("web-2"); st.Silent || !reflect.DeepEqual(st.Recent, []int64{5, 5, 5, 0, 0}) {
		t.Errorf("web-2: silent %v recent %v", st.Silent, st.Recent)
	}
	if n := d.p.Stats().Silent.Load(); n != 1 {
		t.Errorf("silent records %d, want 1", n)
	}

	// db-1 comes back: Silent is cleared; one event is no steady traffic,
	// so its next silence is not reported.
	x := ev("db-1", at(10*time.Minute), false)
	c = d.event(off, at(10*time.Minute), x)
	off++
	wantWins(t, "finals on return", d.out(c, windowsT), []win{hopping(2*time.Minute, 20, 0)})
	if st := d.state("db-1"); st.Silent || st.LastSeen != ms(10*time.Minute) {
		t.Errorf("db-1 back: silent %v last seen %d", st.Silent, st.LastSeen)
	}
	c = d.timer(off, "db-1", state.Timer{Wall: ms(13 * time.Minute)})
	for _, w := range d.out(c, updatesT) {
		if w.Emit == schemas.EmitSilent {
			t.Errorf("silent record after one event: %+v", w)
		}
	}
	if n := d.p.Stats().Silent.Load(); n != 1 {
		t.Errorf("silent records %d, want 1", n)
	}
}

// TestSilentDisabled: a negative SilentAfter reports no silence; the
// windows still close by wall clock.
func TestSilentDisabled(t *testing.T) {
	tb := gokatest.NewTable(nil)
	d := newDriver(t, tb, noTail, func(c *errorrate.Config) { c.SilentAfter = -1 })
	for i := 0; i < 60; i++ {
		x := ev("db-1", at(time.Duration(i)*3*time.Second), false)
		d.event(int64(i), time.UnixMilli(x.Timestamp), x)
	}
	c := d.timer(60, "db-1", state.Timer{Wall: ms(2*time.Minute+57*time.Second) + 3*60000})
	if n := len(finals(d.out(c, windowsT), schemas.WindowTumbling)); n != 1 {
		t.Errorf("%d tumbling finals, want 1", n)
	}
	for _, w := range d.out(c, updatesT) {
		if w.Emit == schemas.EmitSilent {
			t.Errorf("silent record: %+v", w)
		}
	}
}

// TestTimerEmitUpdates: with EmitUpdates, a timer that closes windows by
// wall clock does not then write an update of a window it just closed.
func TestTimerEmitUpdates(t *testing.T) {
	tb := gokatest.NewTable(nil)
	d := newDriver(t, tb, noTail, func(c *errorrate.Config) { c.EmitUpdates = true })
	d.event(0, at(59*time.Second), ev("web-1", at(59*time.Second), true))
	d.event(1, at(59*time.Second+500*time.Millisecond), ev("web-1", at(59*time.Second+500*time.Millisecond), false)) // pending update
	// 31 s later the host's clock is 12:01:30.5: 12:00 and [11:56,12:01)
	// close; [11:57,12:02) is open and still holds the pane.
	c := d.timer(2, "web-1", state.Timer{Wall: ms(59*time.Second+500*time.Millisecond) + 31000})
	ws := d.out(c, windowsT)
	wantWins(t, "records of the timer", ws, []win{tumbling(0, 2, 1), hopping(-4*time.Minute, 2, 1)})
	for _, w := range d.out(c, updatesT) {
		if w.Emit == schemas.EmitUpdate {
			t.Errorf("update of a closed window: %v", wins([]*schemas.HostWindow{w}))
		}
	}
}

// TestSilentAfterLongSilence: the silence is noticed however long
// SilentAfter is, and however late the first timer comes: the empty
// windows of the silence do not push the steady windows before it out of
// the host's history.
func TestSilentAfterLongSilence(t *testing.T) {
	const lastSeen = 2*time.Minute + 57*time.Second
	for _, c := range []struct {
		name        string
		silentAfter time.Duration
		timers      []time.Duration // wall clock of each timer after the last event
		silentAt    int             // the timer that writes the silent record
	}{
		{"defaults, timers every 30s", 0, []time.Duration{30 * time.Second, time.Minute, 90 * time.Second, 2 * time.Minute, 150 * time.Second, 10 * time.Minute}, 3},
		{"defaults, first timer 10m late", 0, []time.Duration{10 * time.Minute, 11 * time.Minute}, 0},
		{"5m, timers every 30s", 5 * time.Minute, []time.Duration{30 * time.Second, 90 * time.Second, 3 * time.Minute, 4*time.Minute + 59*time.Second, 5 * time.Minute, 6 * time.Minute}, 4},
		{"1h, timers every 10m", time.Hour, []time.Duration{10 * time.Minute, 30 * time.Minute, 50 * time.Minute, time.Hour, 2 * time.Hour}, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			tb := gokatest.NewTable(nil)
			d := newDriver(t, tb, noTail, func(cfg *errorrate.Config) { cfg.SilentAfter = c.silentAfter })
			off := int64(0)
			for i := 0; i < 60; i++ { // 20 events a minute, 12:00:00..12:02:57
				x := ev("db-1", at(time.Duration(i)*3*time.Second), false)
				d.event(off, time.UnixMilli(x.Timestamp), x)
				off++
			}
			for i, w := range c.timers {
				ctx := d.timer(off, "db-1", state.Timer{Wall: ms(lastSeen + w)})
				off++
				var silent []*schemas.HostWindow
				for _, hw := range d.out(ctx, updatesT) {
					if hw.Emit == schemas.EmitSilent {
						silent = append(silent, hw)
					}
				}
				switch {
				case i == c.silentAt && len(silent) != 1:
					t.Errorf("timer %d (+%v): %d silent records, want 1", i, w, len(silent))
				case i == c.silentAt && (silent[0].Start != ms(lastSeen) || silent[0].End != ms(lastSeen+w)):
					t.Errorf("silent record [%d,%d)", silent[0].Start, silent[0].End)
				case i != c.silentAt && len(silent) != 0:
					t.Errorf("timer %d (+%v): %d silent records, want none", i, w, len(silent))
				}
			}
			// Every window of the traffic was closed once.
			if n := d.p.Stats().Closed.Load(); n != 3+7 {
				t.Errorf("closed %d windows, want 10", n)
			}
		})
	}
}
