package alerter_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/logstream/logstream/processors/alerter"
)

func TestDefaultRules(t *testing.T) {
	r := alerter.DefaultRules()
	want := alerter.Rules{
		MinEvents: 20, MinErrors: 5, Confidence: 0.99, For: 20 * time.Second, ResolveFor: 2 * time.Minute, JudgeDelay: time.Second,
		Threshold:   alerter.ThresholdRule{Enabled: true, FireRate: 0.10, ResolveRate: 0.05},
		HostVsFleet: alerter.FleetRule{Enabled: true, Ratio: 3, MinDelta: 0.05, MinPeers: 2, ResolveRatio: 1.5, ResolveDelta: 0.02},
		FleetWide:   alerter.FleetWideRule{Enabled: true, Fraction: 0.6, MinHosts: 3},
		BurnRate: alerter.BurnRule{Enabled: true, SLO: 0.99, Windows: []alerter.BurnWindow{
			{Short: 5 * time.Minute, Long: time.Hour, Factor: 14.4}, {Short: 30 * time.Minute, Long: 6 * time.Hour, Factor: 6}}},
		HostSilent: alerter.SilentRule{Enabled: true, After: 2 * time.Minute, MinEvents: 10, FleetFraction: 0.5, FleetWait: 30 * time.Second},
	}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("defaults\n%+v\nwant\n%+v", r, want)
	}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestParseRulesErrors(t *testing.T) {
	for _, c := range []struct{ name, yaml, want string }{
		{"unknown top-level key", "treshold:\n  enabled: false\n", "treshold"},
		{"unknown nested key", "threshold:\n  fire: 0.2\n", "fire"},
		{"resolve above fire", "threshold:\n  resolve_rate: 0.2\n", "resolve_rate 0.2 is above fire_rate 0.1"},
		{"slo above 1", "burn_rate:\n  slo: 1.5\n", "burn_rate.slo: 1.5"},
		{"rate above 1", "threshold: {fire_rate: 2, resolve_rate: 0.05}\n", "threshold.fire_rate: 2"},
		{"min_events 0", "min_events: 0\n", "min_events"},
		{"negative for", "for: -1s\n", "for, resolve_for and judge_delay"},
		{"negative judge delay", "judge_delay: -1s\n", "judge_delay must not be negative"},
		{"bad duration", "for: soon\n", "soon"},
		{"fleet_wide without threshold", "threshold: {enabled: false}\n", "fleet_wide"},
		{"no burn windows", "burn_rate: {windows: []}\n", "burn_rate: no windows"},
		{"short above long", "burn_rate:\n  windows:\n    - {short: 2h, long: 1h, factor: 14.4}\n", "burn_rate.windows[0]"},
		{"host_vs_fleet ratio", "host_vs_fleet: {ratio: 0.5}\n", "host_vs_fleet: ratio 0.5"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := alerter.ParseRules([]byte(c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ParseRules(%q) = %v, want an error naming %q", c.yaml, err, c.want)
			}
		})
	}
}

func TestParseRulesKeepsDefaults(t *testing.T) {
	r, err := alerter.ParseRules([]byte("for: 1m\nthreshold:\n  fire_rate: 0.2\nburn_rate:\n  enabled: false\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := alerter.DefaultRules()
	want.For = time.Minute
	want.Threshold.FireRate = 0.2
	want.BurnRate.Enabled = false
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("partial rules\n%+v\nwant\n%+v", r, want)
	}
	// A list replaces the default list.
	r, err = alerter.ParseRules([]byte("burn_rate:\n  windows:\n    - {short: 1h, long: 6h, factor: 6}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if w := r.BurnRate.Windows; len(w) != 1 || w[0] != (alerter.BurnWindow{Short: time.Hour, Long: 6 * time.Hour, Factor: 6}) || r.BurnRate.SLO != 0.99 {
		t.Fatalf("burn_rate %+v", r.BurnRate)
	}
	for _, doc := range []string{"", "\n", "# just a comment\n", "---\n"} {
		r, err := alerter.ParseRules([]byte(doc))
		if err != nil || !reflect.DeepEqual(r, alerter.DefaultRules()) {
			t.Errorf("ParseRules(%q) = %+v, %v: want the defaults", doc, r, err)
		}
	}
}

func TestLoadRules(t *testing.T) {
	r, err := alerter.LoadRules("")
	if err != nil || !reflect.DeepEqual(r, alerter.DefaultRules()) {
		t.Fatalf("LoadRules(\"\") = %+v, %v: want the defaults", r, err)
	}
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-such-rules.yaml")
	if _, err := alerter.LoadRules(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("LoadRules of a missing file: %v, want an error naming it", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("threshold:\n  fire_rat: 0.2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := alerter.LoadRules(bad); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "fire_rat") {
		t.Fatalf("LoadRules of a bad file: %v, want an error naming it and the key", err)
	}
	good := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(good, []byte(alerter.DefaultRulesYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if r, err := alerter.LoadRules(good); err != nil || !reflect.DeepEqual(r, alerter.DefaultRules()) {
		t.Fatalf("LoadRules of DefaultRulesYAML = %+v, %v", r, err)
	}
}
