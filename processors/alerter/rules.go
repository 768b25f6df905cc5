package alerter

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// Rules are the alert rules, read from YAML (see DefaultRulesYAML). Every
// rule looks at a host's tumbling window as of each tick of event time; a
// window with fewer than MinEvents events is too small to judge (it
// neither fires nor resolves), and a host rule fires only on significant
// evidence: MinErrors errors, and a rate whose Wilson score lower bound
// (at Confidence) clears the rule's level.
type Rules struct {
	// MinEvents a window needs before a rule judges it.
	MinEvents int64 `yaml:"min_events"`
	// MinErrors a window needs before a host rule fires.
	MinErrors int64 `yaml:"min_errors"`
	// Confidence of the one-sided Wilson score interval a host rule fires
	// on: the host's rate is taken as its lower bound, so that a window of
	// 20 events with one error (5%) is not "5%" but "at least 0.7%".
	Confidence float64 `yaml:"confidence"`
	// For is how long (event time) a condition must hold before the
	// incident fires; ResolveFor how long the resolve condition must hold
	// before it resolves. Separate fire and resolve levels plus these
	// durations are the hysteresis that keeps an alert from flapping.
	For        time.Duration `yaml:"for"`
	ResolveFor time.Duration `yaml:"resolve_for"`
	// JudgeDelay is how far (event time) the fleet's watermark must be
	// past a tick before the tick is judged. A partition of logs.raw
	// carries several hosts, whose shippers send in batches: an event may
	// come after later events of other hosts (up to a shipper's flush
	// interval). The watermark follows the newest line, so without the
	// delay such an event could miss its tick's judgment or make it,
	// depending on how partitions interleave: live and replay would judge
	// different counts. Events up to JudgeDelay out of order are judged as
	// they would be live; later ones count from the next tick on.
	JudgeDelay time.Duration `yaml:"judge_delay"`

	Threshold   ThresholdRule `yaml:"threshold"`
	HostVsFleet FleetRule     `yaml:"host_vs_fleet"`
	FleetWide   FleetWideRule `yaml:"fleet_wide"`
	BurnRate    BurnRule      `yaml:"burn_rate"`
	HostSilent  SilentRule    `yaml:"host_silent"`
}

// ThresholdRule fires on a host's error rate alone.
type ThresholdRule struct {
	Enabled     bool    `yaml:"enabled"`
	FireRate    float64 `yaml:"fire_rate"`
	ResolveRate float64 `yaml:"resolve_rate"`
}

// FleetRule compares a host with the median of its peers in the same
// window: what singles out one bad host among five.
type FleetRule struct {
	Enabled bool `yaml:"enabled"`
	// Fires when rate >= Ratio × median and rate - median >= MinDelta.
	Ratio    float64 `yaml:"ratio"`
	MinDelta float64 `yaml:"min_delta"`
	// MinPeers with enough events in the window are needed for a median.
	MinPeers int `yaml:"min_peers"`
	// Resolves when rate < ResolveRatio × median or rate - median <
	// ResolveDelta.
	ResolveRatio float64 `yaml:"resolve_ratio"`
	ResolveDelta float64 `yaml:"resolve_delta"`
}

// FleetWideRule turns many hosts over the threshold at once into one fleet
// alert; while it holds, host alerts do not fire.
type FleetWideRule struct {
	Enabled bool `yaml:"enabled"`
	// Fraction of hosts (with enough events) at or over the threshold
	// rule's FireRate.
	Fraction float64 `yaml:"fraction"`
	MinHosts int     `yaml:"min_hosts"`
}

// BurnRule is multi-window, multi-burn-rate alerting against an error
// budget, as in the Google SRE Workbook: each pair fires when both its
// short and its long window burn the budget Factor times too fast.
// A pair is judged once the host's history spans its long window.
type BurnRule struct {
	Enabled bool         `yaml:"enabled"`
	SLO     float64      `yaml:"slo"` // e.g. 0.99: the budget is 1%
	Windows []BurnWindow `yaml:"windows"`
}

// BurnWindow is one short/long pair.
type BurnWindow struct {
	Short  time.Duration `yaml:"short"`
	Long   time.Duration `yaml:"long"`
	Factor float64       `yaml:"factor"`
}

// SilentRule pages for a host with steady traffic that stopped sending,
// judged in event time: the fleet's watermark moved on by After while the
// host sent nothing. A replay that ends, or a stalled pipeline, moves no
// watermark and pages nobody. When FleetFraction of the steady hosts (and
// at least two) are silent at once, that is one fleet alert.
type SilentRule struct {
	Enabled bool          `yaml:"enabled"`
	After   time.Duration `yaml:"after"`
	// MinEvents makes traffic steady: at least this many events in each
	// of the host's three tumbling windows before its silence.
	MinEvents     int64   `yaml:"min_events"`
	FleetFraction float64 `yaml:"fleet_fraction"`
	// FleetWait is how long a host's silence waits for others before it
	// pages alone: hosts that stop within it of each other are one fleet
	// alert.
	FleetWait time.Duration `yaml:"fleet_wait"`
}

// DefaultRulesYAML is the rules file used when none is given; `logstream
// rules` prints it as a starting point.
const DefaultRulesYAML = `# logstream alert rules. Every rule judges a host's tumbling window
# (default 1 minute) as of every tick (default 1 second) of event time,
# once every errorrate partition's watermark has passed the tick by
# judge_delay: all hosts are judged at the same point of event time, so a
# fleet-wide spike is seen as fleet-wide before any host could page, and a
# replay judges exactly as live traffic did. An alert can fire before its
# window closes.
min_events: 20     # a window with fewer events is not judged (neither fires nor resolves)
min_errors: 5      # a host rule fires only on a window with at least this many errors
confidence: 0.99   # and only when the Wilson score lower bound of the host's error rate
                   # (one-sided, at this confidence) clears the rule's level: 1 error in
                   # 20 events is "at least 0.7%", not 5%; 50 in 250 is "at least 15%"
for: 20s           # a condition must hold this long (event time) to fire
resolve_for: 2m    # and its resolve condition this long to resolve (a rule resolves once
                   # the same lower bound is under its resolve level)
judge_delay: 1s    # a tick is judged once the watermark is this far past it: events this
                   # far out of order in their logs.raw partition (shippers batching
                   # several hosts' lines) are judged alike live and in a replay

threshold:         # the host's error rate alone
  enabled: true
  fire_rate: 0.10
  resolve_rate: 0.05

host_vs_fleet:     # the host against the median of its peers, same window
  enabled: true
  ratio: 3           # fire at 3x the median ...
  min_delta: 0.05    # ... and at least 5 points above it
  min_peers: 2
  resolve_ratio: 1.5
  resolve_delta: 0.02

fleet_wide:        # most hosts over the threshold: one fleet alert, not one per host
  enabled: true
  fraction: 0.6
  min_hosts: 3

burn_rate:         # error budget burn, short and long window both over factor
  enabled: true
  slo: 0.99
  windows:
    - {short: 5m, long: 1h, factor: 14.4}
    - {short: 30m, long: 6h, factor: 6}

host_silent:       # a host with steady traffic stopped sending (event time: the fleet's
  enabled: true    # watermark moved on while the host sent nothing; a replay that ends
  after: 2m        # or a stalled pipeline moves no watermark and pages nobody)
  min_events: 10   # steady: at least this many events in each of its last three windows
  fleet_fraction: 0.5  # this share of the steady hosts silent at once: one fleet alert
  fleet_wait: 30s  # a host's silence waits this long for others before it pages alone
`

// DefaultRules returns the rules of DefaultRulesYAML.
func DefaultRules() Rules {
	var r Rules
	if err := decodeRules(&r, []byte(DefaultRulesYAML)); err != nil {
		panic("alerter: DefaultRulesYAML: " + err.Error())
	}
	return r
}

// LoadRules reads a rules file; an empty path means the defaults.
func LoadRules(path string) (Rules, error) {
	if path == "" {
		return DefaultRules(), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Rules{}, fmt.Errorf("alerter: rules file: %w", err)
	}
	r, err := ParseRules(b)
	if err != nil {
		return Rules{}, fmt.Errorf("alerter: rules file %s: %w", path, err)
	}
	return r, nil
}

// ParseRules parses a rules document over the defaults: keys left out keep
// their default, unknown keys are errors (a typo must not silently disable
// a rule).
func ParseRules(b []byte) (Rules, error) {
	r := DefaultRules()
	if err := decodeRules(&r, b); err != nil {
		return Rules{}, err
	}
	return r, r.Validate()
}

func decodeRules(r *Rules, b []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(r); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// Validate reports the first rule that cannot work.
func (r Rules) Validate() error {
	rate := func(name string, v float64) error {
		if v < 0 || v > 1 {
			return fmt.Errorf("%s: %v is not a rate between 0 and 1", name, v)
		}
		return nil
	}
	switch {
	case r.MinEvents < 1:
		return fmt.Errorf("min_events: %d, must be at least 1", r.MinEvents)
	case r.MinErrors < 1:
		return fmt.Errorf("min_errors: %d, must be at least 1", r.MinErrors)
	case r.Confidence < 0.5 || r.Confidence >= 1:
		return fmt.Errorf("confidence: %v must be in [0.5, 1): 0.5 judges the rate as measured, 0.99 on its lower bound at 99%%", r.Confidence)
	case r.For < 0 || r.ResolveFor < 0 || r.JudgeDelay < 0:
		return errors.New("for, resolve_for and judge_delay must not be negative")
	}
	if r.Threshold.Enabled {
		if err := rate("threshold.fire_rate", r.Threshold.FireRate); err != nil {
			return err
		}
		if err := rate("threshold.resolve_rate", r.Threshold.ResolveRate); err != nil {
			return err
		}
		if r.Threshold.ResolveRate > r.Threshold.FireRate {
			return fmt.Errorf("threshold: resolve_rate %v is above fire_rate %v: the alert would never resolve below where it fires", r.Threshold.ResolveRate, r.Threshold.FireRate)
		}
	}
	if f := r.HostVsFleet; f.Enabled {
		switch {
		case f.Ratio < 1 || f.ResolveRatio < 1 || f.ResolveRatio > f.Ratio:
			return fmt.Errorf("host_vs_fleet: ratio %v and resolve_ratio %v must be at least 1, resolve_ratio at most ratio", f.Ratio, f.ResolveRatio)
		case f.MinDelta < 0 || f.ResolveDelta < 0 || f.ResolveDelta > f.MinDelta:
			return fmt.Errorf("host_vs_fleet: min_delta %v and resolve_delta %v must not be negative, resolve_delta at most min_delta", f.MinDelta, f.ResolveDelta)
		case f.MinPeers < 1:
			return fmt.Errorf("host_vs_fleet: min_peers %d must be at least 1", f.MinPeers)
		}
	}
	if f := r.FleetWide; f.Enabled {
		if !r.Threshold.Enabled {
			return errors.New("fleet_wide: needs the threshold rule's fire_rate; enable threshold")
		}
		if f.Fraction <= 0 || f.Fraction > 1 || f.MinHosts < 2 {
			return fmt.Errorf("fleet_wide: fraction %v must be in (0, 1] and min_hosts %d at least 2", f.Fraction, f.MinHosts)
		}
	}
	if b := r.BurnRate; b.Enabled {
		if b.SLO <= 0 || b.SLO >= 1 {
			return fmt.Errorf("burn_rate.slo: %v must be between 0 and 1, e.g. 0.999", b.SLO)
		}
		if len(b.Windows) == 0 {
			return errors.New("burn_rate: no windows")
		}
		for i, w := range b.Windows {
			if w.Short <= 0 || w.Long < w.Short || w.Factor <= 0 || w.Long > 7*24*time.Hour {
				return fmt.Errorf("burn_rate.windows[%d]: short %s, long %s, factor %v: need 0 < short <= long <= 7d and a positive factor", i, w.Short, w.Long, w.Factor)
			}
		}
	}
	if f := r.HostSilent; f.Enabled {
		switch {
		case f.After < time.Second:
			return fmt.Errorf("host_silent.after: %s, must be at least 1s", f.After)
		case f.MinEvents < 1:
			return fmt.Errorf("host_silent.min_events: %d, must be at least 1", f.MinEvents)
		case f.FleetFraction <= 0 || f.FleetFraction > 1:
			return fmt.Errorf("host_silent.fleet_fraction: %v must be in (0, 1]", f.FleetFraction)
		case f.FleetWait < 0:
			return fmt.Errorf("host_silent.fleet_wait: %s must not be negative", f.FleetWait)
		}
	}
	return nil
}

// history is how much per-minute history the rules need.
func (r Rules) history() time.Duration {
	h := time.Hour
	if r.BurnRate.Enabled {
		for _, w := range r.BurnRate.Windows {
			h = max(h, w.Long)
		}
	}
	return h
}
