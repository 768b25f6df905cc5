package alerter_test

import (
	"testing"
	"time"

	"github.com/logstream/logstream/processors/alerter"
	"github.com/logstream/logstream/schemas"
)

// burnOnly are the default rules with only burn_rate enabled.
func burnOnly(t *testing.T) alerter.Rules {
	t.Helper()
	r, err := alerter.ParseRules([]byte(`
threshold: {enabled: false}
host_vs_fleet: {enabled: false}
fleet_wide: {enabled: false}
host_silent: {enabled: false}
`))
	if err != nil {
		t.Fatal(err)
	}
	if !r.BurnRate.Enabled || r.BurnRate.SLO != 0.99 || len(r.BurnRate.Windows) != 2 {
		t.Fatalf("burn_rate %+v", r.BurnRate)
	}
	return r
}

// burnModel follows what a host's windows say of its error budget burn,
// independently of the alerter: the burn over the last d is the error
// rate of the windows starting after now-d, over the budget (1%).
type burnModel struct {
	first   int64
	minutes map[int64][2]int64 // start: events, errors
}

func (m *burnModel) add(hw *schemas.HostWindow) {
	if m.minutes == nil {
		m.minutes, m.first = map[int64][2]int64{}, hw.Start
	}
	m.minutes[hw.Start] = [2]int64{hw.Events, hw.Errors}
}

func (m *burnModel) burn(now int64, d time.Duration) float64 {
	var n, x int64
	for start, c := range m.minutes {
		if start > now-d.Milliseconds() && start <= now {
			n, x = n+c[0], x+c[1]
		}
	}
	if n == 0 {
		return 0
	}
	return float64(x) / float64(n) / 0.01
}

// spans reports whether the host's history spans d at now.
func (m *burnModel) spans(now int64, d time.Duration) bool { return now-m.first >= d.Milliseconds() }

// burnHarness runs one host, web-3, updated every 10 s, and follows its
// burn in a model: fires and clears are the event times at which the
// model first says the 5m/1h pair fires (both over 14.4), and first says
// the 5m window is back under 14.4 after that.
type burnHarness struct {
	*harness
	model        burnModel
	fires, clear int64
	at           map[time.Duration][2]float64 // short, long burn after the update as of t0+key
}

func newBurnHarness(t *testing.T) *burnHarness {
	b := &burnHarness{harness: newHarness(t, burnOnly(t)), at: map[time.Duration][2]float64{}}
	send := b.send
	b.send = func(raw []byte) {
		send(raw)
		hw, err := b.set.HostWindow.Unmarshal(raw)
		if err != nil {
			t.Fatal(err)
		}
		b.model.add(hw)
		short, long := b.model.burn(hw.AsOf, 5*time.Minute), b.model.burn(hw.AsOf, time.Hour)
		b.at[at(hw.AsOf)] = [2]float64{short, long}
		switch {
		case b.fires == 0 && b.model.spans(hw.AsOf, time.Hour) && short >= 14.4 && long >= 14.4:
			b.fires = hw.AsOf
		case b.fires != 0 && b.clear == 0 && short < 14.4:
			b.clear = hw.AsOf
		}
	}
	return b
}

func (b *burnHarness) run(t *testing.T, from time.Duration, minutes int, rate float64) {
	t.Helper()
	b.harness.run(t, sim{hosts: []string{"web-3"}, from: t0.Add(from), minutes: minutes, step: 10 * time.Second,
		perSec: func(string, time.Time) float64 { return 25 },
		rate:   func(string, time.Time) float64 { return rate }})
}

func TestBurnRateNeedsBothWindows(t *testing.T) {
	b := newBurnHarness(t)
	bad := 70 * time.Minute
	b.run(t, 0, 70, 0.005)
	// Ten minutes at 20%: the 5m window burns 20x, the 1h one not yet
	// 14.4x (as in a short incident after a quiet hour): no page.
	b.run(t, bad, 10, 0.2)
	if got := b.at[bad+10*time.Minute]; got[0] < 14.4 || got[1] >= 14.4 {
		t.Fatalf("after 10 minutes at 20%%: burn %.1fx over 5m, %.1fx over 1h: the scenario is wrong", got[0], got[1])
	}
	wantNoAlerts(t, b.harness)
	// The incident goes on until the hour burns 14.4x too, then stops.
	b.run(t, bad+10*time.Minute, 50, 0.2)
	end := bad + 60*time.Minute
	b.run(t, end, 10, 0.005)
	als := b.drain(t)
	logAlerts(t, als)
	if b.fires == 0 || b.clear == 0 {
		t.Fatalf("the model never fired (%d) or cleared (%d)", b.fires, b.clear)
	}
	t.Logf("model: both windows over 14.4x from +%s, 5m under 14.4x from +%s", at(b.fires), at(b.clear))
	f, r := wantIncident(t, als, incident{scope: schemas.ScopeHost, host: "web-3", rule: alerter.RuleBurnRate,
		firingFrom: at(b.fires) + 20*time.Second, firingTo: at(b.fires) + 30*time.Second,
		resolvedFrom: at(b.clear) + 2*time.Minute, resolvedTo: at(b.clear) + 2*time.Minute + 10*time.Second})
	if f.BurnRate == nil || *f.BurnRate < 14.4 {
		t.Fatalf("FIRING burn rate %v, want >= 14.4", f.BurnRate)
	}
	if got := b.at[at(f.At)]; got[0] < 14.4 || got[1] < 14.4 || *f.BurnRate < got[0]-0.01 || *f.BurnRate > got[0]+0.01 {
		t.Errorf("FIRING burn rate %.2f; the model says %.2fx over 5m, %.2fx over 1h", *f.BurnRate, got[0], got[1])
	}
	if at(f.At) < bad+40*time.Minute {
		t.Errorf("fired at +%s, %s into the incident: before the hour could burn 14.4x", at(f.At), at(f.At)-bad)
	}
	if r.BurnRate != nil || f.Rules[0] != alerter.RuleBurnRate || len(f.Rules) != 1 {
		t.Errorf("RESOLVED burn rate %v, rules %v", r.BurnRate, f.Rules)
	}
}

func TestBurnRateWaitsForAnHourOfHistory(t *testing.T) {
	b := newBurnHarness(t)
	// A host that starts at 20%: both windows burn 20x at once, but the
	// "1h" window is the host's first minutes; not judged before an hour.
	b.run(t, 0, 59, 0.2)
	wantNoAlerts(t, b.harness)
	b.run(t, 59*time.Minute, 3, 0.2)
	als := b.drain(t)
	logAlerts(t, als)
	if len(als) != 1 || als[0].State != schemas.AlertFiring || als[0].Rule != alerter.RuleBurnRate {
		t.Fatalf("want one burn_rate FIRING, got %d alerts", len(als))
	}
	if d := at(als[0].At); d != time.Hour+20*time.Second {
		t.Errorf("fired at +%s, want +1h20s (an hour of history, then for)", d)
	}
	if br := als[0].BurnRate; br == nil || *br < 19.9 || *br > 20.1 {
		t.Errorf("burn rate %v, want 20", br)
	}
}
