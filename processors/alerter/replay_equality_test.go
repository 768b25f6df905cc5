package alerter_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/logstream/logstream/processors/internal/pipesim"
	"github.com/logstream/logstream/schemas"
)

// The replay-equality tests run the event-time path (parse's watermark
// origins, both hops of the errorrate stage and the alerter, their real
// code) over a fleet's lines twice: live, each line when it happens, and
// from a backlog, each stage reading its input partitions in large chunks
// in a random order after the stage before it has finished. Both must
// count every event (none late), close the same windows with the same
// counts, and write the same alerts: same host, rule, state, window and
// tick of event time. Each scenario also says which alerts it must
// write: no false page, no missed page.

var simT0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// fleet writes lines for hosts web-1..web-5 at perHost lines a second for
// d, each an error with probability rate(host, t).
func fleet(seed uint64, d time.Duration, perHost int, rate func(host string, t time.Duration) float64, skip func(host string, t time.Duration) bool) []pipesim.Line {
	rng := rand.New(rand.NewPCG(seed, 11))
	var out []pipesim.Line
	step := time.Second / time.Duration(perHost)
	for h := 1; h <= 5; h++ {
		host := fmt.Sprintf("web-%d", h)
		for t := time.Duration(rng.IntN(int(step))); t < d; t += step {
			if skip != nil && skip(host, t) {
				continue
			}
			l := pipesim.Line{Host: host, Time: simT0.Add(t)}
			if rng.Float64() < rate(host, t) {
				l.Error, l.TraceID = true, fmt.Sprintf("%032x", rng.Uint64())
			}
			out = append(out, l)
		}
	}
	return out
}

func keys(res *pipesim.Result) []string {
	var out []string
	for _, a := range res.Alerts {
		out = append(out, pipesim.AlertKey(a))
	}
	return out
}

func windowKeys(res *pipesim.Result) []string {
	var out []string
	for _, w := range res.Finals {
		out = append(out, pipesim.WindowKey(w))
	}
	return out
}

// replayEqualsLive runs lines live and from two backlogs (two orders) and
// returns the live result, after checking that all agree and none counted
// an event late.
func replayEqualsLive(t *testing.T, lines []pipesim.Line) *pipesim.Result {
	t.Helper()
	return replayEqualsLiveWith(t, pipesim.Config{}, lines)
}

func replayEqualsLiveWith(t *testing.T, cfg pipesim.Config, lines []pipesim.Line) *pipesim.Result {
	t.Helper()
	cfg.Seed = 1
	live, err := pipesim.Run(cfg, lines, pipesim.Live)
	if err != nil {
		t.Fatal(err)
	}
	if n := live.Stats.Late.Load(); n != 0 || live.Stats.Events.Load() != int64(len(lines)) {
		t.Fatalf("live: %d of %d events counted, %d late", live.Stats.Events.Load(), len(lines), n)
	}
	for _, seed := range []uint64{1, 2} {
		cfg.Seed = seed
		back, err := pipesim.Run(cfg, lines, pipesim.Backlog)
		if err != nil {
			t.Fatal(err)
		}
		if n := back.Stats.Late.Load(); n != 0 || back.Stats.Events.Load() != int64(len(lines)) {
			t.Fatalf("backlog %d: %d of %d events counted, %d late", seed, back.Stats.Events.Load(), len(lines), n)
		}
		if l, b := keys(live), keys(back); !slices.Equal(l, b) {
			t.Fatalf("alerts differ\nlive:\n  %s\nbacklog %d:\n  %s", strings.Join(l, "\n  "), seed, strings.Join(b, "\n  "))
		}
		if l, b := windowKeys(live), windowKeys(back); !slices.Equal(l, b) {
			t.Fatalf("final windows differ: live %d, backlog %d %d", len(l), seed, len(b))
		}
		if back.Ticks != live.Ticks {
			t.Errorf("ticks judged: live %d, backlog %d", live.Ticks, back.Ticks)
		}
		// Every tick was judged with all of its counts in, both ways:
		// the judgments saw the same numbers.
		if live.LateTicks != 0 || back.LateTicks != 0 {
			t.Errorf("counts after their tick was judged: live %d, backlog (order %d) %d", live.LateTicks, seed, back.LateTicks)
		}
	}
	if len(live.Finals) == 0 {
		t.Fatal("no window closed")
	}
	for _, w := range live.Finals {
		if w.Emit != schemas.EmitFinal {
			t.Fatalf("final window %+v", w)
		}
	}
	return live
}

// wantAlerts checks the alerts: each want is "STATE scope host rule",
// in order.
func wantAlerts(t *testing.T, res *pipesim.Result, want ...string) {
	t.Helper()
	var got []string
	for _, a := range res.Alerts {
		got = append(got, fmt.Sprintf("%s %s %s %s", a.State, a.Scope, a.Host, a.Rule))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("alerts\n  %s\nwant\n  %s", strings.Join(keys(res), "\n  "), strings.Join(want, "\n  "))
	}
}

const healthy = 0.002

func TestReplayEqualsLiveIncident(t *testing.T) {
	// The payment gateway: web-3 times out 20% of its requests from
	// minute 4 to 9.
	lines := fleet(1, 15*time.Minute, 10, func(h string, d time.Duration) float64 {
		if h == "web-3" && d >= 4*time.Minute && d < 9*time.Minute {
			return 0.2
		}
		return healthy
	}, nil)
	res := replayEqualsLive(t, lines)
	wantAlerts(t, res, "FIRING host web-3 threshold", "RESOLVED host web-3 threshold")
	fire := res.Alerts[0]
	if delay := time.UnixMilli(fire.At).Sub(simT0.Add(4 * time.Minute)); delay > time.Minute || delay <= 0 {
		t.Errorf("paged %s after the incident began (event time), want within a minute", delay)
	}
	if len(fire.Signatures) == 0 || !strings.Contains(fire.Signatures[0].Signature, "timeout") || len(fire.Samples) == 0 {
		t.Errorf("the page lacks the signature or a sample trace: %+v %+v", fire.Signatures, fire.Samples)
	}
	// Resolved once the window after the recovery has shown it for
	// resolve_for (2 m): the first ticks of a new window (a few events, an
	// error among them by chance) do not start the wait again.
	if delay := time.UnixMilli(res.Alerts[1].At).Sub(simT0.Add(9 * time.Minute)); delay > 3*time.Minute+10*time.Second {
		t.Errorf("resolved %s after the recovery (event time), want within 3m10s", delay)
	}
	t.Logf("paged %s after the incident began, resolved %s after it ended (event time)",
		time.UnixMilli(fire.At).Sub(simT0.Add(4*time.Minute)), time.UnixMilli(res.Alerts[1].At).Sub(simT0.Add(9*time.Minute)))
}

func TestReplayEqualsLiveSilentHost(t *testing.T) {
	// web-4 sends nothing from minute 5 to 10; the fleet goes on.
	lines := fleet(2, 15*time.Minute, 10, func(string, time.Duration) float64 { return healthy },
		func(h string, d time.Duration) bool { return h == "web-4" && d >= 5*time.Minute && d < 10*time.Minute })
	res := replayEqualsLive(t, lines)
	wantAlerts(t, res, "FIRING silent web-4 host_silent", "RESOLVED silent web-4 host_silent")
	if at := time.UnixMilli(res.Alerts[0].At).Sub(simT0.Add(5 * time.Minute)); at < 2*time.Minute || at > 3*time.Minute {
		t.Errorf("silence paged %s after it began (event time), want between 2m (host_silent.after) and 3m", at)
	}
}

func TestReplayEqualsLiveSilentFleet(t *testing.T) {
	// web-1..web-4 stop at minute 6 for 4 minutes, within a second of
	// each other; web-5 goes on: one fleet alert, no host pages.
	lines := fleet(3, 14*time.Minute, 10, func(string, time.Duration) float64 { return healthy },
		func(h string, d time.Duration) bool {
			off := time.Duration(h[len(h)-1]-'1') * 300 * time.Millisecond
			return h != "web-5" && d >= 6*time.Minute+off && d < 10*time.Minute
		})
	res := replayEqualsLive(t, lines)
	wantAlerts(t, res, "FIRING silent fleet fleet_silent", "RESOLVED silent fleet fleet_silent")
	if !strings.Contains(res.Alerts[0].Summary, "no logs from 4 of 5 hosts") {
		t.Errorf("fleet silence summary: %q", res.Alerts[0].Summary)
	}
}

func TestReplayEqualsLiveFleetWide(t *testing.T) {
	// Every host fails 30% from minute 4 to 8: one fleet alert.
	lines := fleet(4, 14*time.Minute, 10, func(_ string, d time.Duration) float64 {
		if d >= 4*time.Minute && d < 8*time.Minute {
			return 0.3
		}
		return healthy
	}, nil)
	res := replayEqualsLive(t, lines)
	wantAlerts(t, res, "FIRING fleet fleet fleet_wide", "RESOLVED fleet fleet fleet_wide")
}

func TestReplayEqualsLiveLowTraffic(t *testing.T) {
	// web-5 sends 12 lines a minute, a quarter of them errors: too few
	// events to judge. The others are healthy.
	rng := rand.New(rand.NewPCG(5, 5))
	lines := fleet(5, 15*time.Minute, 10, func(string, time.Duration) float64 { return healthy },
		func(h string, _ time.Duration) bool { return h == "web-5" })
	for d := time.Duration(0); d < 15*time.Minute; d += 5 * time.Second {
		lines = append(lines, pipesim.Line{Host: "web-5", Time: simT0.Add(d), Error: rng.Float64() < 0.25})
	}
	res := replayEqualsLive(t, lines)
	wantAlerts(t, res)
}

func TestReplayEqualsLiveNoisyButHealthy(t *testing.T) {
	// web-2 runs at 2% errors for half an hour, its peers at 0.2%: a host
	// that is noisy, not failing. Windows of 600 events have 12 errors
	// on average, and single windows reach 4% now and then.
	lines := fleet(6, 30*time.Minute, 10, func(h string, _ time.Duration) float64 {
		if h == "web-2" {
			return 0.02
		}
		return healthy
	}, nil)
	res := replayEqualsLive(t, lines)
	wantAlerts(t, res)
}

func TestReplayEqualsLiveGradualDegradation(t *testing.T) {
	// web-1's error rate climbs from 0 to 30% between minutes 3 and 13,
	// then it recovers: one page, no flapping.
	lines := fleet(7, 20*time.Minute, 10, func(h string, d time.Duration) float64 {
		if h != "web-1" || d < 3*time.Minute || d >= 14*time.Minute {
			return healthy
		}
		return min(0.3, 0.3*float64(d-3*time.Minute)/float64(10*time.Minute))
	}, nil)
	res := replayEqualsLive(t, lines)
	if len(res.Alerts) != 2 || res.Alerts[0].State != schemas.AlertFiring || res.Alerts[0].Host != "web-1" ||
		res.Alerts[1].State != schemas.AlertResolved || res.Alerts[1].Host != "web-1" {
		t.Fatalf("alerts:\n  %s\nwant one FIRING and one RESOLVED for web-1", strings.Join(keys(res), "\n  "))
	}
}

// Shippers send in batches: in a partition of logs.raw, a host's line can
// follow later lines of the hosts that share it by up to the flush
// interval (here 800 ms, within the rules' judge_delay of 1 s). Live, a
// tick is judged when the watermark passes it by the delay, with every
// line of it in; a backlog judges the same counts.
func TestReplayEqualsLiveShipperBatches(t *testing.T) {
	lines := fleet(6, 12*time.Minute, 20, func(h string, d time.Duration) float64 {
		if h == "web-3" && d >= 4*time.Minute && d < 8*time.Minute {
			return 0.2
		}
		return healthy
	}, nil)
	res := replayEqualsLiveWith(t, pipesim.Config{Partitions: 2, ShipperFlush: 800 * time.Millisecond}, lines)
	wantAlerts(t, res, "FIRING host web-3 host_vs_fleet", "RESOLVED host web-3 host_vs_fleet")
}
