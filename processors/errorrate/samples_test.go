package errorrate_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/logstream/logstream/processors/errorrate"
	"github.com/logstream/logstream/processors/internal/gokatest"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

// errorEvent is an error of host at d after t0 in trace trace.
func errorEvent(host, id string, d time.Duration, trace string) *schemas.LogEvent {
	e := ev(host, at(d), true)
	e.EventID, e.TraceID, e.Message = id, ptr(trace), "timeout after "+id+" ms to 10.0.4.7:3306"
	return e
}

// TestSamples: the samples of a window are its error events with a trace
// id; the trace join's version of an event (joined with its span) replaces
// the unjoined one, and comes first; a sample for a closed window is late.
func TestSamples(t *testing.T) {
	h := newHarness(t, nil)
	e1 := errorEvent("web-1", "e1", 1*time.Second, "11111111111111111111111111111111")
	e2 := errorEvent("web-1", "e2", 2*time.Second, "22222222222222222222222222222222")
	e3 := errorEvent("web-1", "e3", 3*time.Second, "33333333333333333333333333333333")
	e4 := errorEvent("web-1", "e4", 4*time.Second, "44444444444444444444444444444444")
	for _, e := range []*schemas.LogEvent{e1, e2, e3, e4} {
		h.send(t, e)
	}
	// Only three are kept (unjoined, by time); e4's joined version
	// replaces one of them, e2's joined version its own.
	h.sendJoined(t, joined(e4, "ledger", "INSERT", 4500))
	h.sendJoined(t, joined(e2, "payments", "POST /charge", 3_000_000))
	// The join's other outcomes are no samples, nor are healthy events.
	timedOut := *e3
	timedOut.JoinStatus = schemas.JoinTimeout
	h.sendJoined(t, &timedOut)
	healthy := joined(ev("web-1", at(5*time.Second), false), "ledger", "SELECT", 10)
	healthy.TraceID = ptr("55555555555555555555555555555555")
	h.sendJoined(t, healthy)
	// Joined again (a duplicate of the join's output): no change.
	h.sendJoined(t, joined(e4, "ledger", "INSERT", 4500))

	h.send(t, ev("web-1", at(time.Minute+30*time.Second), false)) // closes 12:00
	tw := finals(h.decode(t, h.windows), schemas.WindowTumbling)
	if len(tw) != 1 {
		t.Fatalf("finals %v", wins(tw))
	}
	sample := func(e *schemas.LogEvent, service, op string, durUs int64) schemas.TraceSample {
		s := schemas.TraceSample{TraceID: *e.TraceID, EventID: e.EventID, Timestamp: e.Timestamp, Message: e.Message,
			SpanService: service, SpanOperation: op}
		if service != "" {
			s.SpanDurationUs = ptr(durUs)
		}
		return s
	}
	want := []schemas.TraceSample{
		sample(e2, "payments", "POST /charge", 3_000_000), // joined first, by time
		sample(e4, "ledger", "INSERT", 4500),
		sample(e3, "", "", 0),
	}
	if !reflect.DeepEqual(tw[0].Samples, want) {
		t.Errorf("samples:\n got  %+v\n want %+v", tw[0].Samples, want)
	}
	if tw[0].Events != 4 || tw[0].Errors != 4 {
		t.Errorf("events %d errors %d: samples changed the counts", tw[0].Events, tw[0].Errors)
	}
	s := h.p.Stats()
	if s.Joined.Load() != 3 || s.LateSamples.Load() != 0 || s.Events.Load() != 5 {
		t.Errorf("joined %d late samples %d events %d", s.Joined.Load(), s.LateSamples.Load(), s.Events.Load())
	}

	// The window closed: its sample is late, and nothing is written.
	e5 := errorEvent("web-1", "e5", 50*time.Second, "66666666666666666666666666666666")
	h.sendJoined(t, joined(e5, "ledger", "INSERT", 1))
	if s.LateSamples.Load() != 1 {
		t.Errorf("late samples %d", s.LateSamples.Load())
	}
	if ws := h.decode(t, h.windows); len(ws) != 0 {
		t.Errorf("a late sample wrote %v", wins(ws))
	}
	// A sample of a host without state has nowhere to go either.
	h.sendJoined(t, joined(errorEvent("db-9", "e6", 0, "77777777777777777777777777777777"), "ledger", "INSERT", 1))
	if s.LateSamples.Load() != 2 || h.state(t, "db-9") != nil {
		t.Errorf("late samples %d; state of db-9 %+v", s.LateSamples.Load(), h.state(t, "db-9"))
	}
	// A record of logs.enriched that does not decode is counted, not
	// dead-lettered.
	h.tt.Consume(enriched, "x", []byte("garbage"))
	if s.BadSamples.Load() != 1 || len(gokatest.Drain[*schemas.DeadLetter](h.dlq)) != 0 {
		t.Errorf("bad samples %d", s.BadSamples.Load())
	}
}

// TestFutureSample: a joined event far ahead of the clocks (its event was
// counted as future) is no sample: it would open a window far ahead, and
// the host's state could never be forgotten.
func TestFutureSample(t *testing.T) {
	h := newHarness(t, nil) // wall clock 13:00, MaxFuture 1h
	h.send(t, ev("web-1", at(0), false))
	e := errorEvent("web-1", "e1", 3*time.Hour, "11111111111111111111111111111111")
	h.send(t, e)
	h.sendJoined(t, joined(e, "ledger", "INSERT", 1))
	st := h.state(t, "web-1")
	if len(st.Panes) != 1 || st.Panes[0].Start != ms(0) {
		t.Errorf("panes %+v", st.Panes)
	}
	if s := h.p.Stats(); s.Future.Load() != 1 || s.LateSamples.Load() != 1 {
		t.Errorf("future %d late samples %d", s.Future.Load(), s.LateSamples.Load())
	}
}

// TestDeadLetters: an event without a host, and records that do not
// decode, go to the dead-letter topic with the reason.
func TestDeadLetters(t *testing.T) {
	h := newHarness(t, nil)
	noHost := ev("  ", at(0), true)
	b, err := h.set.LogEvent.Marshal(noHost)
	if err != nil {
		t.Fatal(err)
	}
	h.tt.Consume(topology.TopicUnique, "event-id", b)
	h.tt.Consume(topology.TopicUnique, "event-id", []byte("not avro"))
	h.tt.Consume(loopT, "web-1", []byte("not avro"))
	dl := gokatest.Drain[*schemas.DeadLetter](h.dlq)
	if len(dl) != 3 {
		t.Fatalf("dead letters %d, want 3: %+v", len(dl), dl)
	}
	if d := dl[0]; d.Error != errorrate.ErrNoHost.Error() || d.SourceTopic != topology.TopicUnique || d.Stage != errorrate.StageName ||
		!reflect.DeepEqual(d.OriginalValue, b) || d.Time != t0.Add(time.Hour).UnixMilli() {
		t.Errorf("dead letter of an event without host: %+v", d)
	}
	if d := dl[1]; d.SourceTopic != topology.TopicUnique || d.Error == "" || string(d.OriginalValue) != "not avro" {
		t.Errorf("dead letter of garbage: %+v", d)
	}
	if d := dl[2]; d.SourceTopic != loopT || string(d.OriginalKey) != "web-1" {
		t.Errorf("dead letter of a loop record: %+v", d)
	}
	s := h.p.Stats()
	if s.DeadLetters.Load() != 3 || s.In.Load() != 2 || s.Events.Load() != 0 {
		t.Errorf("dead letters %d in %d events %d", s.DeadLetters.Load(), s.In.Load(), s.Events.Load())
	}
	if ws := h.decode(t, h.windows); len(ws) != 0 {
		t.Errorf("windows %v", wins(ws))
	}
}

// TestValidate: the settings that cannot work.
func TestValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		w    errorrate.Windows
		want string // "" valid
	}{
		{"defaults", errorrate.DefaultWindows(), ""},
		{"tumbling only", errorrate.Windows{Tumbling: time.Minute}, ""},
		{"tumbling 1s", errorrate.Windows{Tumbling: time.Second}, ""},
		{"hopping = advance", errorrate.Windows{Tumbling: time.Minute, HoppingSize: time.Minute, HoppingAdvance: time.Minute}, ""},
		{"1440 panes", errorrate.Windows{Tumbling: time.Minute, HoppingSize: 24 * time.Hour, HoppingAdvance: time.Hour}, ""},
		{"tumbling 999ms", errorrate.Windows{Tumbling: 999 * time.Millisecond}, "at least 1s"},
		{"tumbling zero", errorrate.Windows{Grace: time.Second}, "at least 1s"},
		{"tumbling in µs", errorrate.Windows{Tumbling: time.Second + time.Microsecond}, "whole milliseconds"},
		{"negative grace", errorrate.Windows{Tumbling: time.Minute, Grace: -1}, "must not be negative"},
		{"negative hopping", errorrate.Windows{Tumbling: time.Minute, HoppingSize: -time.Minute}, "must not be negative"},
		{"no advance", errorrate.Windows{Tumbling: time.Minute, HoppingSize: 5 * time.Minute}, "advance must be positive"},
		{"advance > size", errorrate.Windows{Tumbling: time.Minute, HoppingSize: time.Minute, HoppingAdvance: 2 * time.Minute}, "at most the size"},
		{"hopping in µs", errorrate.Windows{Tumbling: time.Minute, HoppingSize: time.Minute + time.Microsecond, HoppingAdvance: time.Minute}, "whole milliseconds"},
		{"tumbling > 24h", errorrate.Windows{Tumbling: 25 * time.Hour}, "longer than 24h"},
		{"hopping > 24h", errorrate.Windows{Tumbling: time.Minute, HoppingSize: 25 * time.Hour, HoppingAdvance: time.Hour}, "longer than 24h"},
		{"1441 panes", errorrate.Windows{Tumbling: 61 * time.Second, HoppingSize: 24 * time.Hour, HoppingAdvance: time.Hour}, "more than 1440 panes"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.w.Validate()
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Errorf("Validate() = %v, want %q", err, c.want)
			}
		})
	}

	var valid errorrate.Config
	stage(t, noTail, func(c *errorrate.Config) { valid = *c })
	base := func() errorrate.Config { return valid }
	if cfg := base(); cfg.Validate() != nil {
		t.Fatalf("base config: %v", cfg.Validate())
	}
	for _, c := range []struct {
		name string
		edit func(*errorrate.Config)
		want string
	}{
		{"no input", func(c *errorrate.Config) { c.Input = "" }, "needs Input"},
		{"no joined", func(c *errorrate.Config) { c.Joined = "" }, "needs Input"},
		{"no updates key", func(c *errorrate.Config) { c.UpdatesKey = "" }, "UpdatesKey"},
		{"no codec", func(c *errorrate.Config) { c.StateCodec = nil }, "StateCodec"},
		{"no fence", func(c *errorrate.Config) { c.Fence = nil }, "Fence"},
		{"no classifier", func(c *errorrate.Config) { c.Classifier = nil }, "Classifier"},
		{"no partitioner", func(c *errorrate.Config) { c.PartitionOf = nil }, "PartitionOf"},
		{"negative update interval", func(c *errorrate.Config) { c.UpdateInterval = -time.Second }, "must not be negative"},
		{"negative max future", func(c *errorrate.Config) { c.MaxFuture = -1 }, "must not be negative"},
		{"negative min events", func(c *errorrate.Config) { c.SilentMinEvents = -1 }, "must not be negative"},
		{"negative samples", func(c *errorrate.Config) { c.Samples = -1 }, "must not be negative"},
		{"negative signatures", func(c *errorrate.Config) { c.TopSignatures = -1 }, "must not be negative"},
		{"bad windows", func(c *errorrate.Config) { c.Window = errorrate.Windows{Tumbling: time.Minute, Grace: -1} }, "must not be negative"},
		{"negative silent after disables", func(c *errorrate.Config) { c.SilentAfter = -1 }, ""},
		{"zero windows are the defaults", func(c *errorrate.Config) { c.Window = errorrate.Windows{} }, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := base()
			c.edit(&cfg)
			err := cfg.Validate()
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Errorf("Validate() = %v, want %q", err, c.want)
			}
			p, nerr := errorrate.New(cfg)
			if (nerr == nil) != (err == nil) || (p == nil) != (err != nil) {
				t.Errorf("New: %v, Validate: %v", nerr, err)
			}
			if p != nil && cfg.Window == (errorrate.Windows{}) && p.WindowConfig() != errorrate.DefaultWindows() {
				t.Errorf("windows %+v, want the defaults", p.WindowConfig())
			}
		})
	}
}
