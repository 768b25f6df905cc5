package alerter_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/alerter"
	"github.com/logstream/logstream/processors/exactlyonce"
	"github.com/logstream/logstream/processors/internal/gokatest"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

var quiet = log.New(io.Discard, "", 0)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func noTail(context.Context, string, int32, string) (*exactlyonce.Landed, error) { return nil, nil }

type harness struct {
	*feed
	tt     *tester.Tester
	p      *alerter.Processor
	alerts *tester.QueueTracker
}

func newHarness(t *testing.T, rules alerter.Rules) *harness {
	t.Helper()
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	topo, err := topology.New(topology.Config{Partitions: 1, Replication: 1})
	if err != nil {
		t.Fatal(err)
	}
	fence, err := exactlyonce.New(exactlyonce.Config{Stage: alerter.StageName, Outputs: []string{topology.TopicAlerts}, Tail: noTail,
		PartitionOf: func(string) int32 { return 0 }})
	if err != nil {
		t.Fatal(err)
	}
	cfg := topo.AlerterConfig(set)
	cfg.Fence, cfg.Rules = fence, rules
	p, err := alerter.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tt := tester.New(t)
	proc, err := goka.NewProcessor(nil, topo.AlerterGroup(p, set), goka.WithTester(tt), goka.WithLogger(quiet))
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
	h := &harness{tt: tt, p: p, alerts: tt.NewQueueTracker(topology.TopicAlerts)}
	h.feed = newFeed(set, func(b []byte) { tt.Consume(topology.TopicWindowUpdates, topology.FleetKey, b) })
	return h
}

// feed writes HostWindow records as the errorrate stage would, to send.
type feed struct {
	set     *codecs.Set
	send    func(b []byte)
	version map[string]int64
	sent    [][]byte // every record sent, in order
	// noise, when set, draws each event's outcome at random (binomial
	// counts) instead of rounding the expected error count.
	noise *rand.Rand
}

func newFeed(set *codecs.Set, send func(b []byte)) *feed {
	return &feed{set: set, send: send, version: map[string]int64{}}
}

// window sends host's tumbling window starting at start, as of asOf.
func (h *feed) window(t *testing.T, host string, start, asOf time.Time, events, errors int64, emit string) {
	t.Helper()
	h.version[host]++
	hw := &schemas.HostWindow{Host: host, Kind: schemas.WindowTumbling, Start: start.UnixMilli(), End: start.Add(time.Minute).UnixMilli(),
		Emit: emit, Version: h.version[host], AsOf: asOf.UnixMilli(), Events: events, Errors: errors,
		Signatures: []schemas.Signature{}, Samples: []schemas.TraceSample{}}
	if events > 0 {
		hw.ErrorRate = float64(errors) / float64(events)
	}
	if errors > 0 {
		hw.Signatures = []schemas.Signature{
			{Signature: "timeout after <num> ms to <ip>:<num>", Count: errors - errors/4, Example: "timeout after 3012 ms to 10.0.4.7:3306"},
			{Signature: "connection reset by peer", Count: errors / 4, Example: "connection reset by peer"},
		}
		hw.Samples = []schemas.TraceSample{{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", EventID: sampleID(host, h.version[host]),
			Timestamp: asOf.UnixMilli(), Message: "timeout", SpanService: "card-vault", SpanOperation: "SELECT cards",
			SpanDurationUs: ptr(int64(3_012_000))}}
	}
	h.put(t, hw)
}

// sampleID names the sample of host's window version v, so that a test
// can tell which window an alert's details came from.
func sampleID(host string, v int64) string { return fmt.Sprintf("%s/v%d", host, v) }

// silent sends the errorrate stage's notice that host, whose stream time
// is at, has been silent until wall.
func (h *feed) silent(t *testing.T, host string, at, wall time.Time) {
	t.Helper()
	h.version[host]++
	h.put(t, &schemas.HostWindow{Host: host, Kind: schemas.WindowTumbling, Emit: schemas.EmitSilent, Version: h.version[host],
		Start: at.UnixMilli(), End: wall.UnixMilli(), AsOf: at.UnixMilli(), Signatures: []schemas.Signature{}, Samples: []schemas.TraceSample{}})
}

func (h *feed) put(t *testing.T, hw *schemas.HostWindow) {
	t.Helper()
	b, err := h.set.HostWindow.Marshal(hw)
	if err != nil {
		t.Fatal(err)
	}
	h.sent = append(h.sent, b)
	h.send(b)
}

func ptr[T any](v T) *T { return &v }

func (h *harness) drain(t *testing.T) []*schemas.Alert {
	t.Helper()
	var out []*schemas.Alert
	for _, b := range gokatest.Drain[[]byte](h.alerts) {
		al, err := h.set.Alert.Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, al)
	}
	return out
}

var fiveHosts = []string{"web-1", "web-2", "web-3", "web-4", "web-5"}

// fleet replays minutes of five hosts sending perSec events a second,
// updated every second of event time; rate gives each host's error rate
// at a time.
func (h *feed) fleet(t *testing.T, minutes int, perSec int64, rate func(host string, at time.Time) float64) {
	h.run(t, sim{minutes: minutes, perSec: func(string, time.Time) float64 { return float64(perSec) }, rate: rate})
}

// sim is a simulated stretch of traffic.
type sim struct {
	hosts   []string  // fiveHosts when nil
	from    time.Time // start of the first minute; t0 when zero
	minutes int
	step    time.Duration // between updates; 1s when zero
	// perSec gives a host's events a second at a time; 0 means the host
	// sends nothing then.
	perSec func(host string, at time.Time) float64
	rate   func(host string, at time.Time) float64
	// tick, when set, runs at each step before the hosts' updates.
	tick func(at time.Time)
}

// run sends, for each minute, each host's update every step and its final
// at the end; a host with no events in a minute sends nothing for it.
func (h *feed) run(t *testing.T, s sim) {
	t.Helper()
	if s.hosts == nil {
		s.hosts = fiveHosts
	}
	if s.from.IsZero() {
		s.from = t0
	}
	if s.step == 0 {
		s.step = time.Second
	}
	type acc struct {
		events, errors float64 // expected
		n, x           int64   // sent
	}
	for m := 0; m < s.minutes; m++ {
		start := s.from.Add(time.Duration(m) * time.Minute)
		cur := map[string]*acc{}
		for _, host := range s.hosts {
			cur[host] = &acc{}
		}
		for at := start; at.Before(start.Add(time.Minute)); at = at.Add(s.step) {
			if s.tick != nil {
				s.tick(at)
			}
			for _, host := range s.hosts {
				a := cur[host]
				ps := s.perSec(host, at)
				if ps <= 0 {
					continue
				}
				rate := s.rate(host, at)
				a.events += ps * s.step.Seconds()
				a.errors += ps * s.step.Seconds() * rate
				n := int64(a.events)
				if h.noise != nil {
					for i := a.n; i < n; i++ {
						if h.noise.Float64() < rate {
							a.x++
						}
					}
				} else {
					a.x = int64(a.errors + 0.5)
				}
				a.n = n
				if a.n > 0 {
					h.window(t, host, start, at, a.n, a.x, schemas.EmitUpdate)
				}
			}
		}
		for _, host := range s.hosts {
			if a := cur[host]; a.n > 0 {
				h.window(t, host, start, start.Add(time.Minute), a.n, a.x, schemas.EmitFinal)
			}
		}
	}
}

func TestOneBadHostFiresAndResolvesOnce(t *testing.T) {
	h := newHarness(t, alerter.DefaultRules())
	from, to := t0.Add(5*time.Minute+28*time.Second), t0.Add(10*time.Minute+28*time.Second)
	h.fleet(t, 18, 25, func(host string, at time.Time) float64 {
		if host == "web-3" && !at.Before(from) && at.Before(to) {
			return 0.2
		}
		return 0.012
	})
	als := h.drain(t)
	for _, al := range als {
		t.Logf("%s %s %s at +%s rules %v: %s", al.State, al.Host, al.Rule, time.UnixMilli(al.At).Sub(t0), al.Rules, al.Summary)
	}
	if len(als) != 2 || als[0].State != schemas.AlertFiring || als[1].State != schemas.AlertResolved || als[0].Host != "web-3" || als[1].Host != "web-3" {
		t.Fatalf("want web-3 FIRING then RESOLVED, got %d alerts", len(als))
	}
}
