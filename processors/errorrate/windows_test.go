package errorrate_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/logstream/logstream/processors/errorrate"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/state"
)

// at is the time d after t0 (12:00:00).
func at(d time.Duration) time.Time { return t0.Add(d) }

// ms is at(d) in ms since the epoch.
func ms(d time.Duration) int64 { return at(d).UnixMilli() }

// win is a window record relative to t0, for comparisons.
type win struct {
	Kind, Emit     string
	Start, End     time.Duration
	Events, Errors int64
}

func (w win) String() string {
	return fmt.Sprintf("%s %s [%v,%v) %d/%d", w.Emit, w.Kind, w.Start, w.End, w.Events, w.Errors)
}

func wins(ws []*schemas.HostWindow) []win {
	out := []win{}
	for _, w := range ws {
		out = append(out, win{w.Kind, w.Emit, time.Duration(w.Start-t0.UnixMilli()) * time.Millisecond,
			time.Duration(w.End-t0.UnixMilli()) * time.Millisecond, w.Events, w.Errors})
	}
	return out
}

func wantWins(t *testing.T, what string, got []*schemas.HostWindow, want []win) {
	t.Helper()
	if want == nil {
		want = []win{}
	}
	if g := wins(got); !reflect.DeepEqual(g, want) {
		t.Errorf("%s:\n got  %v\n want %v", what, g, want)
	}
}

func tumbling(start time.Duration, events, errors int64) win {
	return win{schemas.WindowTumbling, schemas.EmitFinal, start, start + time.Minute, events, errors}
}

func hopping(start time.Duration, events, errors int64) win {
	return win{schemas.WindowHopping, schemas.EmitFinal, start, start + 5*time.Minute, events, errors}
}

// TestWindowBoundaries: which windows an event is in, at the edges of
// panes and windows, and the exact finals of tumbling and hopping windows.
func TestWindowBoundaries(t *testing.T) {
	type in struct {
		at  time.Duration
		err bool
	}
	threeMinutes := []in{}
	for i := 0; i < 180; i++ {
		threeMinutes = append(threeMinutes, in{time.Duration(i) * time.Second, i%10 == 0})
	}
	for _, c := range []struct {
		name              string
		events            []in
		tumbling, hopping []win
	}{
		{
			// end-1ms is the old window, end the new one.
			name:     "minute boundary",
			events:   []in{{time.Minute - time.Millisecond, true}, {time.Minute, false}},
			tumbling: []win{tumbling(0, 1, 1), tumbling(time.Minute, 1, 0)},
			hopping: []win{hopping(-4*time.Minute, 1, 1), hopping(-3*time.Minute, 2, 1), hopping(-2*time.Minute, 2, 1),
				hopping(-time.Minute, 2, 1), hopping(0, 2, 1), hopping(time.Minute, 1, 0)},
		},
		{
			// 12:03:30 is in the five hopping windows starting 11:59..12:03.
			name:     "hopping membership",
			events:   []in{{3*time.Minute + 30*time.Second, true}},
			tumbling: []win{tumbling(3*time.Minute, 1, 1)},
			hopping: []win{hopping(-time.Minute, 1, 1), hopping(0, 1, 1), hopping(time.Minute, 1, 1),
				hopping(2*time.Minute, 1, 1), hopping(3*time.Minute, 1, 1)},
		},
		{
			name:     "first ms of the epoch minute",
			events:   []in{{0, false}, {0, true}},
			tumbling: []win{tumbling(0, 2, 1)},
			hopping: []win{hopping(-4*time.Minute, 2, 1), hopping(-3*time.Minute, 2, 1), hopping(-2*time.Minute, 2, 1),
				hopping(-time.Minute, 2, 1), hopping(0, 2, 1)},
		},
		{
			// One event a second for three minutes, every tenth an error.
			name:     "three minutes",
			events:   threeMinutes,
			tumbling: []win{tumbling(0, 60, 6), tumbling(time.Minute, 60, 6), tumbling(2*time.Minute, 60, 6)},
			hopping: []win{hopping(-4*time.Minute, 60, 6), hopping(-3*time.Minute, 120, 12), hopping(-2*time.Minute, 180, 18),
				hopping(-time.Minute, 180, 18), hopping(0, 180, 18), hopping(time.Minute, 120, 12), hopping(2*time.Minute, 60, 6)},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			for i, e := range c.events {
				x := ev("web-1", at(e.at), e.err)
				x.EventID = fmt.Sprint("e", i)
				h.send(t, x)
			}
			// Stream time 12:10 closes every window ending by 12:09:30;
			// those of 12:10 stay open.
			h.send(t, ev("web-1", at(10*time.Minute), false))
			ws := h.decode(t, h.windows)
			wantWins(t, "tumbling finals", finals(ws, schemas.WindowTumbling), c.tumbling)
			wantWins(t, "hopping finals", finals(ws, schemas.WindowHopping), c.hopping)
			if len(ws) != len(c.tumbling)+len(c.hopping) {
				t.Errorf("%d records on %s, want only the %d finals", len(ws), windowsT, len(c.tumbling)+len(c.hopping))
			}
			for i := 1; i < len(ws); i++ {
				if ws[i].End < ws[i-1].End || ws[i].Version <= ws[i-1].Version {
					t.Errorf("finals out of order: %v then %v", wins(ws[i-1:i]), wins(ws[i:i+1]))
				}
			}
			for _, w := range ws {
				// As of the first event at or after its end + grace.
				asOf := ms(10 * time.Minute)
				for _, e := range c.events {
					if m := ms(e.at); m >= w.End+30000 && m < asOf {
						asOf = m
					}
				}
				if w.Host != "web-1" || w.AsOf != asOf || w.ErrorRate != float64(w.Errors)/float64(w.Events) {
					t.Errorf("final %v: host %q as of %d rate %v", wins([]*schemas.HostWindow{w}), w.Host, w.AsOf, w.ErrorRate)
				}
			}
			// The tumbling finals went to the alerter as well, and
			// nothing hopping did.
			var up []*schemas.HostWindow
			for _, w := range h.decode(t, h.updates) {
				if w.Emit == schemas.EmitFinal {
					up = append(up, w)
				} else if w.Kind != schemas.WindowTumbling {
					t.Errorf("%s update on %s", w.Kind, updatesT)
				}
			}
			wantWins(t, "finals on "+updatesT, up, c.tumbling)
			st := h.state(t, "web-1")
			if st.TumblingClosed != ms(9*time.Minute) || st.HoppingClosed != ms(9*time.Minute) || st.StreamTime != ms(10*time.Minute) || st.Late != 0 {
				t.Errorf("state: closed %d/%d stream time %d late %d", st.TumblingClosed, st.HoppingClosed, st.StreamTime, st.Late)
			}
			if s := h.p.Stats(); s.Closed.Load() != int64(len(ws)) || s.Events.Load() != int64(len(c.events)+1) {
				t.Errorf("stats: closed %d events %d", s.Closed.Load(), s.Events.Load())
			}
		})
	}
}

// TestCloseAtEndPlusGrace: a window closes when the host's stream time
// reaches its end plus the grace, not a millisecond before.
func TestCloseAtEndPlusGrace(t *testing.T) {
	for _, grace := range []time.Duration{0, 10 * time.Second, errorrate.DefaultGrace} {
		t.Run(grace.String(), func(t *testing.T) {
			h := newHarness(t, func(c *errorrate.Config) {
				c.Window = errorrate.DefaultWindows()
				c.Window.Grace = grace
			})
			h.send(t, ev("web-1", at(10*time.Second), true))
			h.send(t, ev("web-1", at(20*time.Second), false))
			closeAt := time.Minute + grace
			h.send(t, ev("web-1", at(closeAt-time.Millisecond), false))
			// A timer does not close it either: in goka's tester loop
			// records have no timestamp, so the host is never silent.
			h.timer("web-1", state.Timer{Wall: ms(time.Hour)})
			if ws := h.decode(t, h.windows); len(ws) != 0 {
				t.Fatalf("closed a ms before end+grace: %v", wins(ws))
			}
			if st := h.state(t, "web-1"); st.TumblingClosed >= ms(time.Minute) {
				t.Fatalf("tumbling closed up to %d", st.TumblingClosed)
			}
			h.send(t, ev("web-1", at(closeAt), false))
			ws := h.decode(t, h.windows)
			n := int64(2)
			if grace == 0 { // 12:00:59.999 is in the window itself
				n = 3
			}
			wantWins(t, "finals at end+grace", ws, []win{tumbling(0, n, 1), hopping(-4*time.Minute, n, 1)})
			// Events after 12:01 are in the next window.
			if grace > 0 {
				h.send(t, ev("web-1", at(time.Minute+grace+time.Minute), false))
				wantWins(t, "finals a minute later", h.decode(t, h.windows),
					[]win{tumbling(time.Minute, 2, 0), hopping(-3*time.Minute, 4, 1)})
			}
		})
	}
}

// TestLateEvents: an event within the grace is counted in its window; one
// after it is late (counted in the stats and the host's state), and the
// final already written is neither changed nor written again.
func TestLateEvents(t *testing.T) {
	h := newHarness(t, func(c *errorrate.Config) {
		c.Window = errorrate.Windows{Tumbling: time.Minute, Grace: 30 * time.Second}
	})
	for i := 0; i < 10; i++ {
		h.send(t, ev("web-1", at(time.Duration(i)*time.Second), i == 0))
	}
	h.send(t, ev("web-1", at(time.Minute+20*time.Second), false)) // stream time 12:01:20
	h.send(t, ev("web-1", at(30*time.Second), true))              // 50 s late: within the grace
	if ws := h.decode(t, h.windows); len(ws) != 0 {
		t.Fatalf("finals before end+grace: %v", wins(ws))
	}
	h.send(t, ev("web-1", at(time.Minute+30*time.Second), false)) // closes 12:00
	ws := h.decode(t, h.windows)
	wantWins(t, "final", ws, []win{tumbling(0, 11, 2)})
	first := ws[0]
	h.decode(t, h.updates)

	// Past the grace: late, for the closed window and for older ones.
	for _, d := range []time.Duration{45 * time.Second, 59*time.Second + 999*time.Millisecond, -10 * time.Minute} {
		h.send(t, ev("web-1", at(d), true))
	}
	if ws := h.decode(t, h.windows); len(ws) != 0 {
		t.Errorf("late events wrote %v", wins(ws))
	}
	if ws := h.decode(t, h.updates); len(ws) != 0 {
		t.Errorf("late events wrote updates %v", wins(ws))
	}
	st := h.state(t, "web-1")
	if st.Late != 3 || h.p.Stats().Late.Load() != 3 || st.StreamTime != ms(time.Minute+30*time.Second) {
		t.Errorf("late: state %d stats %d; stream time %d", st.Late, h.p.Stats().Late.Load(), st.StreamTime)
	}
	// The next window's final does not have them either, and 12:00's is
	// not written again.
	h.send(t, ev("web-1", at(3*time.Minute), false))
	ws = h.decode(t, h.windows)
	wantWins(t, "later finals", ws, []win{tumbling(time.Minute, 2, 0)})
	if h.p.Stats().Closed.Load() != 2 || h.p.Stats().Errors.Load() != 2 {
		t.Errorf("closed %d errors %d", h.p.Stats().Closed.Load(), h.p.Stats().Errors.Load())
	}
	if first.Events != 11 || first.Errors != 2 || *first.FirstError != ms(0) {
		t.Errorf("first final changed: %+v", first)
	}
}

// TestUpdates: an update of the open tumbling window at most once per
// UpdateInterval of event time, the rest flushed by a timer.
func TestUpdates(t *testing.T) {
	h := newHarness(t, nil)
	for i := 0; i < 30; i++ { // 12:00:00.0 to 12:00:02.9, every 100 ms
		h.send(t, ev("web-1", at(time.Duration(i)*100*time.Millisecond), i%10 == 5))
	}
	up := h.decode(t, h.updates)
	want := []win{}
	for _, n := range []int64{1, 11, 21} { // at 0 s, 1 s and 2 s
		want = append(want, win{schemas.WindowTumbling, schemas.EmitUpdate, 0, time.Minute, n, n / 10})
	}
	wantWins(t, "updates", up, want)
	if ws := h.decode(t, h.windows); len(ws) != 0 {
		t.Errorf("updates went to %s: %v", windowsT, wins(ws))
	}
	if st := h.state(t, "web-1"); !st.Dirty || st.LastUpdate != ms(2*time.Second) {
		t.Errorf("dirty %v last update %d", st.Dirty, st.LastUpdate)
	}
	// A timer flushes the pending update; a second has nothing to flush.
	h.timer("web-1", state.Timer{Wall: t0.Add(time.Hour).UnixMilli()})
	h.timer("web-1", state.Timer{Wall: t0.Add(time.Hour).UnixMilli()})
	wantWins(t, "flushed", h.decode(t, h.updates), []win{{schemas.WindowTumbling, schemas.EmitUpdate, 0, time.Minute, 30, 3}})
	if st := h.state(t, "web-1"); st.Dirty {
		t.Error("still dirty after the flush")
	}
	if n := h.p.Stats().Updates.Load(); n != 4 {
		t.Errorf("updates %d", n)
	}
}

// TestErrorsInWindows: what counts as an error (level ERROR, HTTP 5xx, a
// timeout message), the signatures, and the latency quantiles of a final.
func TestErrorsInWindows(t *testing.T) {
	h := newHarness(t, nil)
	n := 0
	send := func(e *schemas.LogEvent) {
		e.Host, e.EventID, e.Timestamp = "api-1", fmt.Sprint("e", n), ms(time.Duration(n)*100*time.Millisecond)
		n++
		h.send(t, e)
	}
	// 100 healthy requests of 1..100 ms.
	for i := 1; i <= 100; i++ {
		send(&schemas.LogEvent{Level: schemas.LevelInfo, Message: "GET /pay 200", HTTPStatus: ptr(int32(200)), LatencyMs: ptr(float64(i))})
	}
	const (
		timeout1 = "timeout after 3012 ms to 10.0.4.7:3306"
		timeout2 = "timeout after 2990 ms to 10.0.4.9:3306"
	)
	firstError := ms(time.Duration(n) * 100 * time.Millisecond)
	send(&schemas.LogEvent{Level: schemas.LevelWarn, Message: timeout1})                                  // pattern
	send(&schemas.LogEvent{Level: schemas.LevelInfo, Message: timeout2})                                  // pattern
	send(&schemas.LogEvent{Level: schemas.LevelError, Message: "payment declined"})                       // level
	send(&schemas.LogEvent{Level: schemas.LevelFatal, Message: "out of memory"})                          // level
	send(&schemas.LogEvent{Level: schemas.LevelInfo, HTTPStatus: ptr(int32(503))})                        // 5xx, no message
	send(&schemas.LogEvent{Level: schemas.LevelInfo, Message: "GET /x 500", HTTPStatus: ptr(int32(500))}) // 5xx
	send(&schemas.LogEvent{Level: schemas.LevelInfo, Message: "GET /x 404", HTTPStatus: ptr(int32(404))}) // not an error
	send(&schemas.LogEvent{Level: schemas.LevelWarn, Message: "slow query"})                              // not an error
	send(&schemas.LogEvent{Level: schemas.LevelInfo, HTTPStatus: ptr(int32(600))})                        // not an error
	h.send(t, &schemas.LogEvent{EventID: "close", Host: "api-1", Timestamp: ms(2 * time.Minute), Message: "ok"})

	tw := finals(h.decode(t, h.windows), schemas.WindowTumbling)
	if len(tw) != 1 {
		t.Fatalf("tumbling finals %v", wins(tw))
	}
	w := tw[0]
	if w.Events != 109 || w.Errors != 6 || w.ErrorRate != 6.0/109 || w.FirstError == nil || *w.FirstError != firstError {
		t.Errorf("events %d errors %d rate %v first error %v", w.Events, w.Errors, w.ErrorRate, w.FirstError)
	}
	if h.p.Stats().Errors.Load() != 6 {
		t.Errorf("stats errors %d", h.p.Stats().Errors.Load())
	}
	sig := errorrate.Signature(timeout1)
	if sig != errorrate.Signature(timeout2) {
		t.Fatalf("two signatures: %q %q", sig, errorrate.Signature(timeout2))
	}
	want := []schemas.Signature{{Signature: sig, Count: 2, Example: timeout1}}
	rest := []schemas.Signature{
		{Signature: errorrate.Signature("payment declined"), Count: 1, Example: "payment declined"},
		{Signature: errorrate.Signature("out of memory"), Count: 1, Example: "out of memory"},
		{Signature: errorrate.Signature("HTTP 503"), Count: 1, Example: "HTTP 503"},
		{Signature: errorrate.Signature("GET /x 500"), Count: 1, Example: "GET /x 500"},
	}
	// Ties by signature; the top five are kept.
	for i := 1; i < len(rest); i++ {
		for j := i; j > 0 && rest[j].Signature < rest[j-1].Signature; j-- {
			rest[j], rest[j-1] = rest[j-1], rest[j]
		}
	}
	want = append(want, rest...)
	if !reflect.DeepEqual(w.Signatures, want) {
		t.Errorf("signatures:\n got  %+v\n want %+v", w.Signatures, want)
	}
	// Latency of the 100 requests: p50 is the 50th value (rank 49), p99
	// the 99th (rank 98).
	if w.LatencyCount != 100 || w.LatencyP50 == nil || w.LatencyP99 == nil {
		t.Fatalf("latency count %d p50 %v p99 %v", w.LatencyCount, w.LatencyP50, w.LatencyP99)
	}
	for _, q := range []struct {
		name      string
		got, want float64
	}{{"p50", *w.LatencyP50, 50}, {"p95", *w.LatencyP95, 95}, {"p99", *w.LatencyP99, 99}} {
		if d := q.got/q.want - 1; d > 0.01 || d < -0.01 {
			t.Errorf("%s = %v, want %v within 1%%", q.name, q.got, q.want)
		}
	}
}

// TestFutureEvents: an event further ahead than MaxFuture of the wall
// clock, or of the host's stream time, is counted and not windowed; it
// moves no clock.
func TestFutureEvents(t *testing.T) {
	h := newHarness(t, nil) // wall clock 13:00, MaxFuture 1h
	h.send(t, ev("web-1", at(0), false))
	h.send(t, ev("web-1", at(5*time.Second), true))
	for _, d := range []time.Duration{
		2*time.Hour + time.Millisecond,               // 1 ms past the wall clock + 1h
		time.Hour + 5*time.Second + time.Millisecond, // 1 ms past the stream time + 1h
		1000 * time.Hour,                             // far
	} {
		h.send(t, ev("web-1", at(d), true))
	}
	st := h.state(t, "web-1")
	s := h.p.Stats()
	if s.Future.Load() != 3 || st.StreamTime != ms(5*time.Second) || len(st.Panes) != 1 || st.Panes[0].Events != 2 {
		t.Fatalf("future %d, stream time %d, panes %+v", s.Future.Load(), st.StreamTime, st.Panes)
	}
	if ws := h.decode(t, h.windows); len(ws) != 0 {
		t.Fatalf("future events closed %v", wins(ws))
	}
	// Exactly the stream time + 1h is not future: it moves the clock.
	h.send(t, ev("web-1", at(time.Hour+5*time.Second), true))
	st = h.state(t, "web-1")
	if s.Future.Load() != 3 {
		t.Errorf("future %d, want 3", s.Future.Load())
	}
	if st.StreamTime != ms(time.Hour+5*time.Second) {
		t.Errorf("stream time %d, want %d", st.StreamTime, ms(time.Hour+5*time.Second))
	}
	if s.Events.Load() != 3 || s.Errors.Load() != 2 {
		t.Errorf("events %d errors %d", s.Events.Load(), s.Errors.Load())
	}
	// Only the non-future ones are in panes.
	var panes []int64
	for _, p := range st.Panes {
		panes = append(panes, p.Start)
	}
	if want := []int64{ms(time.Hour)}; !reflect.DeepEqual(panes, want) {
		t.Errorf("panes %v, want %v", panes, want)
	}
	wantWins(t, "finals", finals(h.decode(t, h.windows), schemas.WindowTumbling), []win{tumbling(0, 2, 1)})

	// A host whose first event is far ahead of the wall clock starts no
	// state of windows.
	h.send(t, ev("db-1", at(3*time.Hour), false))
	if st := h.state(t, "db-1"); st == nil || st.StreamTime != 0 || len(st.Panes) != 0 {
		t.Errorf("state of a future host: %+v", st)
	}
	if s.Future.Load() != 4 {
		t.Errorf("future %d, want 4", s.Future.Load())
	}
}

// TestSteadyErrorRate: a noisy but healthy host, 2% errors spread evenly
// over ten minutes: every tumbling final is exactly 0.02, every hopping
// one over five full minutes too.
func TestSteadyErrorRate(t *testing.T) {
	h := newHarness(t, nil)
	for i := 0; i < 500; i++ { // 50 events a minute, every 1.2 s; one error in 50
		h.send(t, ev("web-1", at(time.Duration(i)*1200*time.Millisecond), i%50 == 7))
	}
	h.send(t, ev("web-1", at(11*time.Minute), false))
	ws := h.decode(t, h.windows)
	tw := finals(ws, schemas.WindowTumbling)
	want := []win{}
	for m := 0; m < 10; m++ {
		want = append(want, tumbling(time.Duration(m)*time.Minute, 50, 1))
	}
	wantWins(t, "tumbling finals", tw, want)
	// Hopping: the edges (11:56..11:59) have 1..4 minutes of traffic,
	// 12:00..12:05 five.
	want = nil
	for m := -4; m <= 5; m++ {
		n := int64(5)
		if m < 0 {
			n = int64(5 + m)
		}
		want = append(want, hopping(time.Duration(m)*time.Minute, 50*n, n))
	}
	wantWins(t, "hopping finals", finals(ws, schemas.WindowHopping), want)
	for _, w := range ws {
		if w.ErrorRate != 0.02 {
			t.Errorf("%s window at %d: error rate %v", w.Kind, w.Start, w.ErrorRate)
		}
	}
}
