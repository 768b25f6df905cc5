package alerter_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/logstream/logstream/processors/alerter"
	"github.com/logstream/logstream/schemas"
)

// logAlerts logs alerts with their event time relative to t0.
func logAlerts(t *testing.T, als []*schemas.Alert) {
	t.Helper()
	for _, al := range als {
		t.Logf("%s %s/%s %s at +%s rules %v key %s: %s", al.State, al.Scope, al.Host, al.Rule, at(al.At), al.Rules, al.DedupKey, al.Summary)
	}
}

// at is an event time (ms) relative to t0.
func at(ms int64) time.Duration { return time.UnixMilli(ms).Sub(t0) }

// incident is what one FIRING/RESOLVED pair must be.
type incident struct {
	scope, host, rule string
	// bounds of the alerts' At, relative to t0 (inclusive)
	firingFrom, firingTo     time.Duration
	resolvedFrom, resolvedTo time.Duration
}

// wantIncident checks that als is exactly one FIRING and one RESOLVED
// alert of want, and returns them.
func wantIncident(t *testing.T, als []*schemas.Alert, want incident) (firing, resolved *schemas.Alert) {
	t.Helper()
	if len(als) != 2 {
		logAlerts(t, als)
		t.Fatalf("got %d alerts, want a FIRING and a RESOLVED %s/%s", len(als), want.scope, want.host)
	}
	firing, resolved = als[0], als[1]
	for _, al := range als {
		if al.Scope != want.scope || al.Host != want.host || al.Rule != want.rule {
			t.Errorf("%s alert is %s/%s rule %s, want %s/%s rule %s", al.State, al.Scope, al.Host, al.Rule, want.scope, want.host, want.rule)
		}
	}
	if firing.State != schemas.AlertFiring || resolved.State != schemas.AlertResolved {
		t.Errorf("states %s, %s: want FIRING then RESOLVED", firing.State, resolved.State)
	}
	if firing.DedupKey == "" || firing.DedupKey != resolved.DedupKey {
		t.Errorf("dedup keys %q and %q: want equal", firing.DedupKey, resolved.DedupKey)
	}
	if firing.ID == resolved.ID {
		t.Errorf("FIRING and RESOLVED share the id %q", firing.ID)
	}
	if d := at(firing.At); d < want.firingFrom || d > want.firingTo {
		t.Errorf("FIRING at +%s, want within [+%s, +%s]", d, want.firingFrom, want.firingTo)
	}
	if d := at(resolved.At); d < want.resolvedFrom || d > want.resolvedTo {
		t.Errorf("RESOLVED at +%s, want within [+%s, +%s]", d, want.resolvedFrom, want.resolvedTo)
	}
	if firing.FirstSeen > firing.At || resolved.FirstSeen != firing.FirstSeen || resolved.LastSeen < resolved.At {
		t.Errorf("first/last seen: FIRING %d..%d at %d, RESOLVED %d..%d at %d", firing.FirstSeen, firing.LastSeen, firing.At,
			resolved.FirstSeen, resolved.LastSeen, resolved.At)
	}
	return firing, resolved
}

func wantNoAlerts(t *testing.T, h *harness) {
	t.Helper()
	if als := h.drain(t); len(als) != 0 {
		logAlerts(t, als)
		t.Fatalf("got %d alerts, want none", len(als))
	}
}

// between reports whether at is in [from, to) after t0.
func between(at time.Time, from, to time.Duration) bool {
	return !at.Before(t0.Add(from)) && at.Before(t0.Add(to))
}

func TestNoisyButHealthyHostDoesNotAlert(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			h := newHarness(t, alerter.DefaultRules())
			h.noise = rand.New(rand.NewPCG(seed, 7))
			h.fleet(t, 20, 25, func(host string, _ time.Time) float64 {
				if host == "web-3" {
					return 0.02
				}
				return 0.012
			})
			wantNoAlerts(t, h)
			t.Logf("pending incidents cancelled: %d", h.p.Stats().Cancelled.Load())
		})
	}
}

func TestTinyWindowIsNotJudged(t *testing.T) {
	h := newHarness(t, alerter.DefaultRules())
	// web-3 sends 3 requests a minute, one of which fails: 33%, on 3
	// events, below min_events.
	h.run(t, sim{minutes: 10,
		perSec: func(host string, _ time.Time) float64 {
			if host == "web-3" {
				return 3.0 / 60
			}
			return 25
		},
		rate: func(host string, _ time.Time) float64 {
			if host == "web-3" {
				return 1.0 / 3
			}
			return 0.012
		}})
	wantNoAlerts(t, h)
}

func TestFleetWideSpikeIsOneFleetAlert(t *testing.T) {
	for _, off := range []time.Duration{0, 28 * time.Second} {
		t.Run(fmt.Sprint("start+", off), func(t *testing.T) {
			h := newHarness(t, alerter.DefaultRules())
			from, to := 5*time.Minute+off, 10*time.Minute+off
			h.fleet(t, 16, 25, func(_ string, at time.Time) float64 {
				if between(at, from, to) {
					return 0.3
				}
				return 0.012
			})
			als := h.drain(t)
			logAlerts(t, als)
			f, r := wantIncident(t, als, incident{scope: schemas.ScopeFleet, host: schemas.ScopeFleet, rule: alerter.RuleFleetWide,
				firingFrom: from + 20*time.Second, firingTo: from + time.Minute,
				resolvedFrom: to + 2*time.Minute, resolvedTo: to + 4*time.Minute})
			if f.Rate < 0.1 || f.FleetRate < 0.1 {
				t.Errorf("FIRING rate %.3f, median %.3f: want the spike's", f.Rate, f.FleetRate)
			}
			if r.Rate > 0.05 {
				t.Errorf("RESOLVED rate %.3f", r.Rate)
			}
			if !strings.Contains(f.Summary, "fleet-wide error rate") {
				t.Errorf("summary %q", f.Summary)
			}
		})
	}
}

func TestOscillatingHostPagesOnce(t *testing.T) {
	h := newHarness(t, alerter.DefaultRules())
	// web-3 alternates 4% and 12% every 20 s from +3m to +13m: its window
	// rate swings around the threshold rule's fire_rate and stays above
	// host_vs_fleet's resolve level.
	from, to := 3*time.Minute, 13*time.Minute
	h.fleet(t, 18, 25, func(host string, at time.Time) float64 {
		if host == "web-3" && between(at, from, to) {
			if int(at.Sub(t0.Add(from))/(20*time.Second))%2 == 0 {
				return 0.04
			}
			return 0.12
		}
		return 0.012
	})
	als := h.drain(t)
	logAlerts(t, als)
	wantIncident(t, als, incident{scope: schemas.ScopeHost, host: "web-3", rule: alerter.RuleHostVsFleet,
		firingFrom: from + 20*time.Second, firingTo: from + 90*time.Second,
		resolvedFrom: to + 2*time.Minute, resolvedTo: to + 2*time.Minute + 5*time.Second})
}

func TestSpikeShorterThanForDoesNotFire(t *testing.T) {
	// A 10 s spike to 50% late in a minute: the window's rate is over the
	// fire levels for less than "for" before the next window starts, and
	// the pending incident is cancelled. (The rules judge the rate of the
	// whole tumbling window so far: the same spike early in a minute keeps
	// that rate over host_vs_fleet's level until the window ends, longer
	// than "for", and does page.)
	for _, off := range []time.Duration{45 * time.Second, 48 * time.Second} {
		t.Run(fmt.Sprint("spike at :", int(off.Seconds())), func(t *testing.T) {
			h := newHarness(t, alerter.DefaultRules())
			from := 5*time.Minute + off
			h.fleet(t, 8, 25, func(host string, at time.Time) float64 {
				if host == "web-3" && between(at, from, from+10*time.Second) {
					return 0.5
				}
				return 0.012
			})
			wantNoAlerts(t, h)
			if c := h.p.Stats().Cancelled.Load(); c != 1 {
				t.Errorf("%d pending incidents cancelled, want the spike's", c)
			}
		})
	}
}

func TestSilentHost(t *testing.T) {
	h := newHarness(t, alerter.DefaultRules())
	// web-2 sends nothing from +4m to +8m; the errorrate stage notices at
	// +5m30s (wall) and, say after a restart, sends a notice again at +6m.
	stop, back := 4*time.Minute, 8*time.Minute
	lastEvent := t0.Add(stop - time.Second)
	h.run(t, sim{minutes: 12,
		perSec: func(host string, at time.Time) float64 {
			if host == "web-2" && between(at, stop, back) {
				return 0
			}
			return 25
		},
		rate: func(string, time.Time) float64 { return 0.012 },
		tick: func(at time.Time) {
			switch at {
			case t0.Add(5*time.Minute + 30*time.Second):
				h.silent(t, "web-2", lastEvent, at)
			case t0.Add(6 * time.Minute):
				h.silent(t, "web-2", lastEvent, at)
				// and a duplicate of it
				h.send(h.sent[len(h.sent)-1])
			}
		}})
	als := h.drain(t)
	logAlerts(t, als)
	f, r := wantIncident(t, als, incident{scope: schemas.ScopeSilent, host: "web-2", rule: alerter.RuleHostSilent,
		firingFrom: stop - time.Second, firingTo: stop - time.Second,
		resolvedFrom: back, resolvedTo: back})
	if !strings.Contains(f.Summary, "web-2 has sent no logs for 1m31s") || !strings.Contains(r.Summary, "web-2 is sending logs again") {
		t.Errorf("summaries %q, %q", f.Summary, r.Summary)
	}
	if f.WindowStart != lastEvent.UnixMilli() || f.WindowEnd != t0.Add(5*time.Minute+30*time.Second).UnixMilli() {
		t.Errorf("FIRING window %s..%s", at(f.WindowStart), at(f.WindowEnd))
	}
	if d := h.p.Stats().Duplicates.Load(); d != 1 {
		t.Errorf("%d duplicates counted, want 1", d)
	}
}

// TestDuplicateVersionsChangeNothing replays, as the errorrate stage does
// after a crash, stretches of updates already sent: the alerter must write
// exactly what it writes without them.
func TestDuplicateVersionsChangeNothing(t *testing.T) {
	scenario := func(h *harness, replay bool) {
		from, to := 5*time.Minute+28*time.Second, 10*time.Minute+28*time.Second
		mark := 0
		h.run(t, sim{minutes: 18,
			perSec: func(string, time.Time) float64 { return 25 },
			rate: func(host string, at time.Time) float64 {
				if host == "web-3" && between(at, from, to) {
					return 0.2
				}
				return 0.012
			},
			tick: func(at time.Time) {
				if !replay || at.Second()%30 != 17 {
					return
				}
				// The last 30 s again, and two records of each host
				// twice in a row.
				sent := h.sent[mark:]
				for _, b := range sent {
					h.send(b)
				}
				for _, b := range sent[len(sent)-10:] {
					h.send(b)
				}
				mark = len(h.sent)
			}})
	}
	base := newHarness(t, alerter.DefaultRules())
	scenario(base, false)
	want := base.drain(t)
	h := newHarness(t, alerter.DefaultRules())
	scenario(h, true)
	got := h.drain(t)
	logAlerts(t, got)
	if len(want) != 2 {
		t.Fatalf("the scenario without replays wrote %d alerts", len(want))
	}
	if !reflect.DeepEqual(got, want) {
		logAlerts(t, want)
		t.Fatal("replayed updates changed the alerts")
	}
	if h.p.Stats().Duplicates.Load() == 0 {
		t.Fatal("no duplicates seen")
	}
	t.Logf("%d duplicate updates ignored", h.p.Stats().Duplicates.Load())
}

func TestFiringAlertDetails(t *testing.T) {
	h := newHarness(t, alerter.DefaultRules())
	from := 5*time.Minute + 28*time.Second
	var firingVersion int64
	h.fleet(t, 7, 25, func(host string, at time.Time) float64 {
		if host == "web-3" && !at.Before(t0.Add(from)) {
			return 0.2
		}
		return 0.012
	})
	als := h.drain(t)
	logAlerts(t, als)
	if len(als) != 1 || als[0].State != schemas.AlertFiring || als[0].Host != "web-3" {
		t.Fatalf("want one FIRING for web-3, got %d alerts", len(als))
	}
	al := als[0]
	// The window update that fired is web-3's, as of al.At.
	for i := len(h.sent) - 1; i >= 0; i-- {
		hw, err := h.set.HostWindow.Unmarshal(h.sent[i])
		if err != nil {
			t.Fatal(err)
		}
		if hw.Host == "web-3" && hw.AsOf == al.At {
			firingVersion = hw.Version
			if al.Events != hw.Events || al.Errors != hw.Errors || al.WindowStart != hw.Start || al.WindowEnd != hw.End {
				t.Errorf("alert counts %d/%d in %s..%s, window %d/%d in %s..%s", al.Errors, al.Events, at(al.WindowStart), at(al.WindowEnd),
					hw.Errors, hw.Events, at(hw.Start), at(hw.End))
			}
			break
		}
	}
	if firingVersion == 0 {
		t.Fatalf("no update of web-3 as of the alert's +%s", at(al.At))
	}
	if len(al.Signatures) != 2 || al.Signatures[0].Signature != "timeout after <num> ms to <ip>:<num>" ||
		al.Signatures[0].Example != "timeout after 3012 ms to 10.0.4.7:3306" || al.Signatures[0].Count != al.Errors-al.Errors/4 {
		t.Errorf("signatures %+v", al.Signatures)
	}
	if len(al.Samples) != 1 {
		t.Fatalf("samples %+v", al.Samples)
	}
	s := al.Samples[0]
	if s.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" || s.SpanService != "card-vault" || s.SpanOperation != "SELECT cards" ||
		s.SpanDurationUs == nil || *s.SpanDurationUs != 3_012_000 || s.EventID != sampleID("web-3", firingVersion) || s.Timestamp != al.At {
		t.Errorf("sample %+v, want web-3's of version %d", s, firingVersion)
	}
	want := fmt.Sprintf("web-3 error rate %.1f%% (fleet median 1.2%%): timeout after <num> ms to <ip>:<num>", 100*al.Rate)
	if al.Summary != want {
		t.Errorf("summary %q, want %q", al.Summary, want)
	}
	if al.Rate < 0.062 || al.FleetRate != 0.012 && (al.FleetRate < 0.011 || al.FleetRate > 0.013) {
		t.Errorf("rate %.4f, fleet median %.4f", al.Rate, al.FleetRate)
	}
}

// TestDetectionDelay measures, in event time, how long after a host goes
// bad (20% among peers at 1.2%) its FIRING alert is written, for incidents
// starting at several seconds of a minute.
func TestDetectionDelay(t *testing.T) {
	for _, off := range []time.Duration{0, 15 * time.Second, 28 * time.Second, 45 * time.Second} {
		t.Run(fmt.Sprint("start :", int(off.Seconds())), func(t *testing.T) {
			h := newHarness(t, alerter.DefaultRules())
			from := 5*time.Minute + off
			h.fleet(t, 7, 25, func(host string, at time.Time) float64 {
				if host == "web-3" && !at.Before(t0.Add(from)) {
					return 0.2
				}
				return 0.012
			})
			als := h.drain(t)
			if len(als) != 1 || als[0].State != schemas.AlertFiring || als[0].Host != "web-3" {
				logAlerts(t, als)
				t.Fatalf("want one FIRING for web-3, got %d alerts", len(als))
			}
			delay := at(als[0].At) - from
			t.Logf("incident at +%s: FIRING (%s) at +%s, delay %s", from, als[0].Rule, at(als[0].At), delay)
			if delay < 20*time.Second || delay > 40*time.Second {
				t.Errorf("delay %s, want within [20s, 40s]", delay)
			}
		})
	}
}
