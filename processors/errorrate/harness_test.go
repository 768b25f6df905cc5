package errorrate_test

import (
	"context"
	"io"
	"log"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/errorrate"
	"github.com/logstream/logstream/processors/exactlyonce"
	"github.com/logstream/logstream/processors/internal/gokatest"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/state"
	"github.com/logstream/logstream/topology"
)

var quiet = log.New(io.Discard, "", 0)

// t0 is the wall clock of the tests and a minute boundary.
var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

var (
	enriched = topology.TopicEnriched
	loopT    = topology.LoopTopic(topology.GroupErrorRate)
	windowsT = topology.TopicHostWindows
	updatesT = topology.TopicWindowUpdates
	tableT   = goka.Table(topology.TableTopic(topology.GroupErrorRate))
)

func noTail(context.Context, string, int32, string) (*exactlyonce.Landed, error) { return nil, nil }

type harness struct {
	tt      *tester.Tester
	p       *errorrate.Processor
	set     *codecs.Set
	windows *tester.QueueTracker
	updates *tester.QueueTracker
	dlq     *tester.QueueTracker
}

// stage returns the stage over one partition, its fence reading tails
// with tail, the wall clock t0+1h; edit, when set, changes the Config.
func stage(t *testing.T, tail exactlyonce.TailFunc, edit func(*errorrate.Config)) (*errorrate.Processor, *topology.Topology, *codecs.Set) {
	t.Helper()
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	topo, err := topology.New(topology.Config{Partitions: 1, Replication: 1})
	if err != nil {
		t.Fatal(err)
	}
	fence, err := exactlyonce.New(exactlyonce.Config{Stage: errorrate.StageName, Outputs: []string{windowsT}, Tail: tail,
		PartitionOf: func(string) int32 { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := errorrate.NewClassifier(errorrate.DefaultFailurePattern)
	if err != nil {
		t.Fatal(err)
	}
	cfg := topo.ErrorRateConfig(set)
	cfg.Fence, cfg.Classifier, cfg.Now = fence, cl, func() time.Time { return t0.Add(time.Hour) }
	if edit != nil {
		edit(&cfg)
	}
	p, err := errorrate.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p, topo, set
}

// newHarness runs the stage's real graph (topology.ErrorRateGroup) in
// goka's tester, with one partition.
func newHarness(t *testing.T, edit func(*errorrate.Config)) *harness {
	t.Helper()
	p, topo, set := stage(t, noTail, edit)
	tt := tester.New(t)
	proc, err := goka.NewProcessor(nil, topo.ErrorRateGroup(p, set), goka.WithTester(tt), goka.WithLogger(quiet),
		goka.WithRebalanceCallback(p.Rebalance))
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
	return &harness{tt: tt, p: p, set: set, windows: tt.NewQueueTracker(windowsT), updates: tt.NewQueueTracker(updatesT),
		dlq: tt.NewQueueTracker(topology.TopicDLQ)}
}

func ptr[T any](v T) *T { return &v }

// ev is an event of host at t; err makes it an ERROR line.
func ev(host string, t time.Time, err bool) *schemas.LogEvent {
	e := &schemas.LogEvent{EventID: host + t.Format(time.RFC3339Nano), Timestamp: t.UnixMilli(), Host: host, Service: "payments",
		Level: schemas.LevelInfo, Message: "GET /pay 200", Source: "stdin", Format: "json"}
	if err {
		e.Level, e.Message = schemas.LevelError, "timeout after 3012 ms to 10.0.4.7:3306"
		e.TraceID = ptr("4bf92f3577b34da6a3ce929d0e0e4736")
	}
	return e
}

func (h *harness) send(t *testing.T, e *schemas.LogEvent) {
	t.Helper()
	b, err := h.set.LogEvent.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	h.tt.Consume(topology.TopicUnique, "event-id", b)
}

// sendJoined writes e to logs.enriched, as the trace join does.
func (h *harness) sendJoined(t *testing.T, e *schemas.LogEvent) {
	t.Helper()
	b, err := h.set.LogEvent.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	h.tt.Consume(enriched, "trace-id", b)
}

// joined is e as the trace join writes it, joined with a span of service.
func joined(e *schemas.LogEvent, service, op string, durUs int64) *schemas.LogEvent {
	j := *e
	j.JoinStatus, j.SpanService, j.SpanOperation, j.SpanDurationUs, j.SpanStatus = schemas.JoinJoined, service, op, ptr(durUs), "ERROR"
	return &j
}

func (h *harness) timer(host string, tm state.Timer) {
	h.tt.Consume(loopT, host, tm.Encode(), tester.WithHeaders(goka.Headers{state.HeaderKind: []byte(state.KindTimer)}))
}

func (h *harness) decode(t *testing.T, q *tester.QueueTracker) []*schemas.HostWindow {
	t.Helper()
	var out []*schemas.HostWindow
	for _, b := range gokatest.Drain[[]byte](q) {
		hw, err := h.set.HostWindow.Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, hw)
	}
	return out
}

func (h *harness) state(t *testing.T, host string) *schemas.ErrorRateState {
	t.Helper()
	v := h.tt.TableValue(tableT, host)
	if v == nil {
		return nil
	}
	return v.(*schemas.ErrorRateState)
}

func finals(ws []*schemas.HostWindow, kind string) []*schemas.HostWindow {
	var out []*schemas.HostWindow
	for _, w := range ws {
		if w.Emit == schemas.EmitFinal && w.Kind == kind {
			out = append(out, w)
		}
	}
	return out
}
