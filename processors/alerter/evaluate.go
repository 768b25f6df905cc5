package alerter

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/logstream/logstream/schemas"
)

// observation is what the rules saw for one host (or the fleet) at one
// tick.
type observation struct {
	now    int64
	judged bool    // the window had enough events to judge
	rate   float64 // errors / events
	low    float64 // the rate's Wilson lower bound at the rules' confidence
	median float64 // peers' median (fleet alert: every host's)
	peers  int
	burn   *float64
	fire   []string        // rules whose fire condition holds
	clears map[string]bool // per rule judged: its resolve condition holds
	events int64
	errors int64
	start  int64
	end    int64
}

// z is the normal quantile of a one-sided confidence.
func z(confidence float64) float64 { return math.Sqrt2 * math.Erfinv(2*confidence-1) }

// wilson returns the Wilson score interval of errors in events at the
// normal quantile z: the bounds of the true error rate that these counts
// are consistent with. Unlike the rate itself it knows how much evidence
// there is: 1 error in 20 events gives [0.007, 0.28] at 99%, 50 in 250
// gives [0.14, 0.27].
func wilson(errors, events int64, z float64) (lo, hi float64) {
	if events <= 0 {
		return 0, 1
	}
	n := float64(events)
	p := float64(errors) / n
	z2 := z * z
	center := p + z2/(2*n)
	margin := z * math.Sqrt(p*(1-p)/n+z2/(4*n*n))
	d := 1 + z2/n
	return max((center-margin)/d, 0), min((center+margin)/d, 1)
}

// windowAt returns the host's window the rules judge: the current one, or
// the one before while the current has too few events (a window just
// begun).
func (a *apply) windowAt(hv *schemas.HostView) (start, events, errors int64) {
	if hv.TEvents >= a.p.cfg.Rules.MinEvents {
		return hv.TStart, hv.TEvents, hv.TErrors
	}
	prev := hv.TStart - a.st.WindowMs
	if n := len(hv.Minutes); n > 0 && hv.Minutes[n-1].Start == prev && hv.Minutes[n-1].Events >= a.p.cfg.Rules.MinEvents {
		m := hv.Minutes[n-1]
		return m.Start, m.Events, m.Errors
	}
	return hv.TStart, hv.TEvents, hv.TErrors
}

// rate returns a peer's judged rate, if its window can be judged.
func (a *apply) rate(hv *schemas.HostView) (float64, bool) {
	_, events, errors := a.windowAt(hv)
	if events < a.p.cfg.Rules.MinEvents {
		return 0, false
	}
	return float64(errors) / float64(events), true
}

// peerRates are the judged rates of the hosts that are not silent at one
// tick, sorted: a host's peers are all of them but itself.
type peerRates []float64

func (a *apply) peerRates() peerRates {
	var out peerRates
	for i := range a.st.Hosts {
		hv := &a.st.Hosts[i]
		if hv.Silent {
			continue
		}
		if rate, ok := a.rate(hv); ok {
			out = append(out, rate)
		}
	}
	sort.Float64s(out)
	return out
}

// without returns the number and median of the rates without one
// occurrence of own (when has).
func (pr peerRates) without(own float64, has bool) (int, float64) {
	if !has {
		return len(pr), median(pr)
	}
	i := sort.SearchFloat64s(pr, own)
	if i == len(pr) || pr[i] != own {
		return len(pr), median(pr)
	}
	rest := make([]float64, 0, len(pr)-1)
	rest = append(append(rest, pr[:i]...), pr[i+1:]...)
	return len(rest), median(rest)
}

func (a *apply) observe(hv *schemas.HostView, now int64, peers peerRates) observation {
	r := a.p.cfg.Rules
	o := observation{now: now}
	o.start, o.events, o.errors = a.windowAt(hv)
	o.end = o.start + a.st.WindowMs
	own, has := a.rate(hv)
	o.peers, o.median = peers.without(own, has && !hv.Silent)
	if o.events < r.MinEvents {
		return o
	}
	o.judged = true
	o.rate = float64(o.errors) / float64(o.events)
	o.low, _ = wilson(o.errors, o.events, z(r.Confidence))
	significant := o.errors >= r.MinErrors
	o.clears = map[string]bool{}
	if t := r.Threshold; t.Enabled {
		if significant && o.low >= t.FireRate {
			o.fire = append(o.fire, RuleThreshold)
		}
		// Clear unless the host is still significantly over the resolve
		// level: a window just begun (20 events, 1 error: 5%) is no
		// evidence that the host is still failing.
		o.clears[RuleThreshold] = o.low < t.ResolveRate
	}
	if f := r.HostVsFleet; f.Enabled && o.peers >= f.MinPeers {
		if significant && o.low >= f.Ratio*o.median && o.low-o.median >= f.MinDelta {
			o.fire = append(o.fire, RuleHostVsFleet)
		}
		o.clears[RuleHostVsFleet] = o.low < f.ResolveRatio*o.median || o.low-o.median < f.ResolveDelta
	}
	if b := r.BurnRate; b.Enabled {
		budget := 1 - b.SLO
		firing, clear, judged := false, true, false
		for _, w := range b.Windows {
			if first := a.firstWindow(hv); first == 0 || now-first < w.Long.Milliseconds() {
				// The history does not span the long window yet: over
				// the first minutes of a host's life the "long" rate is a
				// short one, and one spike would look like a slow burn.
				continue
			}
			se, sx := a.sumSince(hv, now-w.Short.Milliseconds())
			le, lx := a.sumSince(hv, now-w.Long.Milliseconds())
			if se < r.MinEvents {
				continue
			}
			judged = true
			short, long := float64(sx)/float64(se)/budget, float64(lx)/float64(le)/budget
			if sx >= r.MinErrors && short >= w.Factor && long >= w.Factor && !firing {
				firing = true
				s := short
				o.burn = &s
				o.fire = append(o.fire, RuleBurnRate)
			}
			clear = clear && short < w.Factor
		}
		if judged {
			o.clears[RuleBurnRate] = clear
		}
	}
	return o
}

// firstWindow is the start of the host's oldest window in its history.
func (a *apply) firstWindow(hv *schemas.HostView) int64 {
	if len(hv.Minutes) > 0 {
		return hv.Minutes[0].Start
	}
	return hv.TStart
}

// sumSince sums the events and errors of the host's windows that start
// after from, the current one included.
func (a *apply) sumSince(hv *schemas.HostView, from int64) (events, errors int64) {
	for _, m := range hv.Minutes {
		if m.Start > from {
			events += m.Events
			errors += m.Errors
		}
	}
	if hv.TStart > from {
		events += hv.TEvents
		errors += hv.TErrors
	}
	return events, errors
}

// failing reports whether a rule the incident fired on judged this window
// and found its resolve condition false.
func (o observation) failing(rules []string) bool {
	for _, r := range rules {
		if c, judged := o.clears[r]; judged && !c {
			return true
		}
	}
	return false
}

// clear reports whether the resolve condition of every rule the incident
// fired on holds. A rule that cannot judge this window (too few events, or
// too few peers) neither fires nor resolves: the incident stays as it is.
func (o observation) clear(rules []string) bool {
	if !o.judged {
		return false
	}
	for _, r := range rules {
		if c, judged := o.clears[r]; !judged || !c {
			return false
		}
	}
	return true
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// evaluate judges every rule as of tick now: the fleet first, then each
// host, all at the same point of event time.
func (a *apply) evaluate(now int64) {
	fleetOn := false
	if a.p.cfg.Rules.FleetWide.Enabled {
		fleet := a.fleet(now)
		a.step(schemas.ScopeFleet, FleetHost, a.incident(schemas.ScopeFleet, FleetHost), fleet, a.fleetAlert)
		inc := a.incident(schemas.ScopeFleet, FleetHost)
		fleetOn = len(fleet.fire) > 0 || (inc != nil && inc.State != schemas.IncidentPending)
	}
	a.silence(now)
	peers := a.peerRates()
	for i := range a.st.Hosts {
		hv := &a.st.Hosts[i]
		inc := a.incident(schemas.ScopeHost, hv.Host)
		if inc == nil && (hv.TEvents == 0 && len(hv.Minutes) == 0) {
			continue
		}
		o := a.observe(hv, now, peers)
		if fleetOn {
			// The fleet alert covers every host: do not page per host.
			o.fire = nil
		}
		a.step(schemas.ScopeHost, hv.Host, inc, o, a.hostAlert(hv.Host))
	}
}

// fleet observes the fleet-wide rule at now: the share of hosts whose
// rate is significantly over the threshold rule's fire rate.
func (a *apply) fleet(now int64) observation {
	r := a.p.cfg.Rules
	o := observation{now: now}
	var rates []float64
	over := 0
	zz := z(r.Confidence)
	for i := range a.st.Hosts {
		hv := &a.st.Hosts[i]
		if hv.Silent {
			continue
		}
		start, events, errors := a.windowAt(hv)
		if events < r.MinEvents {
			continue
		}
		rates = append(rates, float64(errors)/float64(events))
		if lo, _ := wilson(errors, events, zz); errors >= r.MinErrors && lo >= r.Threshold.FireRate {
			over++
		}
		o.events += events
		o.errors += errors
		if o.start == 0 || start > o.start {
			o.start = start
		}
	}
	o.end = o.start + a.st.WindowMs
	o.peers, o.median = len(rates), median(rates)
	if o.events > 0 {
		o.rate = float64(o.errors) / float64(o.events)
	}
	if len(rates) < r.FleetWide.MinHosts {
		return o
	}
	o.judged = true
	frac := float64(over) / float64(len(rates))
	if frac >= r.FleetWide.Fraction {
		o.fire = []string{RuleFleetWide}
	}
	o.clears = map[string]bool{RuleFleetWide: frac < r.FleetWide.Fraction && o.median < r.Threshold.ResolveRate}
	return o
}

// step moves an incident through pending → firing → resolving → gone by
// the observation o, writing one FIRING and one RESOLVED alert.
func (a *apply) step(scope, host string, inc *schemas.Incident, o observation, build func(o observation) *schemas.Alert) {
	r := a.p.cfg.Rules
	if inc == nil {
		if len(o.fire) == 0 {
			return
		}
		a.st.Incidents = append(a.st.Incidents, schemas.Incident{
			Key: incidentKey(scope, host), Scope: scope, Host: host, Rule: o.fire[0],
			State: schemas.IncidentPending, Since: o.now, FirstSeen: o.now, LastSeen: o.now,
		})
		inc = &a.st.Incidents[len(a.st.Incidents)-1]
		if fe := a.firstError(host); fe > 0 && fe <= o.now {
			inc.FirstSeen = fe
		}
	}
	inc.LastSeen = max(inc.LastSeen, o.now)
	for _, rule := range o.fire {
		inc.Rules = addRule(inc.Rules, rule)
	}
	switch inc.State {
	case schemas.IncidentPending:
		switch {
		case len(o.fire) > 0 && o.now-inc.Since >= r.For.Milliseconds():
			a.fire(inc, o, build)
		case len(o.fire) == 0 && o.clear(inc.Rules):
			a.drop(inc)
			a.p.stats.Cancelled.Add(1)
		case len(o.fire) == 0 && o.judged:
			// Not significant any more, not clear either: the "for"
			// starts again when the condition comes back.
			inc.Since = o.now
		}
	case schemas.IncidentFiring:
		if len(o.fire) == 0 && o.clear(inc.Rules) {
			inc.State, inc.Since = schemas.IncidentResolving, o.now
		}
	case schemas.IncidentResolving:
		switch {
		case len(o.fire) > 0 || o.failing(inc.Rules):
			// Failing again. A rule that could not judge this tick
			// neither resolves nor sends the incident back to firing.
			inc.State, inc.Since = schemas.IncidentFiring, o.now
		case o.clear(inc.Rules) && o.now-inc.Since >= r.ResolveFor.Milliseconds():
			a.resolve(inc, o.now, o)
		}
	}
}

// firstError is the first error of the host's latest window with errors.
func (a *apply) firstError(host string) int64 {
	for i := range a.st.Hosts {
		hv := &a.st.Hosts[i]
		if hv.Host != host || len(hv.Latest) == 0 {
			continue
		}
		if hw, err := a.p.cfg.WindowCodec.Unmarshal(hv.Latest); err == nil && hw.FirstError != nil {
			return *hw.FirstError
		}
	}
	return 0
}

func addRule(rules []string, r string) []string {
	for _, x := range rules {
		if x == r {
			return rules
		}
	}
	return append(rules, r)
}

func (a *apply) fire(inc *schemas.Incident, o observation, build func(o observation) *schemas.Alert) {
	a.st.Seq++
	inc.Number = a.st.Seq
	inc.State, inc.Since = schemas.IncidentFiring, o.now
	al := build(o)
	al.Rule, al.Rules = inc.Rule, append([]string(nil), inc.Rules...)
	al.DedupKey = a.dedupKey(inc)
	al.ID = al.DedupKey + "/" + schemas.AlertFiring
	al.State = schemas.AlertFiring
	al.FirstSeen, al.LastSeen, al.At = inc.FirstSeen, inc.LastSeen, o.now
	inc.Fired = a.write(al)
}

// resolve writes the RESOLVED alert of a firing incident and closes it; a
// pending one just goes.
func (a *apply) resolve(inc *schemas.Incident, now int64, o observation) {
	if inc.State == schemas.IncidentPending || len(inc.Fired) == 0 {
		a.drop(inc)
		return
	}
	fired, err := a.p.cfg.AlertCodec.Unmarshal(inc.Fired)
	if err != nil {
		a.drop(inc)
		return
	}
	al := *fired
	al.State = schemas.AlertResolved
	al.ID = al.DedupKey + "/" + schemas.AlertResolved
	al.Rules = append([]string(nil), inc.Rules...)
	al.LastSeen, al.At = max(inc.LastSeen, now), now
	if o.judged {
		al.Rate, al.FleetRate, al.Events, al.Errors = o.rate, o.median, o.events, o.errors
		al.WindowStart, al.WindowEnd = o.start, o.end
		al.BurnRate = nil
	}
	al.Summary = resolvedSummary(&al)
	a.write(&al)
	a.drop(inc)
}

// hostAlert builds a host's FIRING alert from its latest window.
func (a *apply) hostAlert(host string) func(o observation) *schemas.Alert {
	return func(o observation) *schemas.Alert {
		al := &schemas.Alert{Scope: schemas.ScopeHost, Host: host, Rate: o.rate, FleetRate: o.median, BurnRate: o.burn,
			Events: o.events, Errors: o.errors, WindowStart: o.start, WindowEnd: o.end,
			Signatures: []schemas.Signature{}, Samples: []schemas.TraceSample{}}
		for i := range a.st.Hosts {
			if a.st.Hosts[i].Host == host {
				a.detail(al, &a.st.Hosts[i])
			}
		}
		al.Summary = firingSummary(al)
		return al
	}
}

// fleetAlert builds the fleet alert, with the details of the worst host.
func (a *apply) fleetAlert(o observation) *schemas.Alert {
	al := &schemas.Alert{Scope: schemas.ScopeFleet, Host: FleetHost, Rate: o.rate, FleetRate: o.median,
		Events: o.events, Errors: o.errors, WindowStart: o.start, WindowEnd: o.end,
		Signatures: []schemas.Signature{}, Samples: []schemas.TraceSample{}}
	var worst *schemas.HostView
	var worstRate float64
	for i := range a.st.Hosts {
		hv := &a.st.Hosts[i]
		if rate, ok := a.rate(hv); ok && (worst == nil || rate > worstRate) {
			worst, worstRate = hv, rate
		}
	}
	if worst != nil {
		a.detail(al, worst)
	}
	al.Summary = firingSummary(al)
	return al
}

func (a *apply) detail(al *schemas.Alert, hv *schemas.HostView) {
	if len(hv.Latest) == 0 {
		return
	}
	hw, err := a.p.cfg.WindowCodec.Unmarshal(hv.Latest)
	if err != nil {
		return
	}
	al.Signatures = append(al.Signatures, hw.Signatures...)
	al.Samples = append(al.Samples, hw.Samples...)
}

func firingSummary(al *schemas.Alert) string {
	s := ""
	switch al.Scope {
	case schemas.ScopeFleet:
		s = fmt.Sprintf("fleet-wide error rate %.1f%% (median host %.1f%%)", 100*al.Rate, 100*al.FleetRate)
	default:
		s = fmt.Sprintf("%s error rate %.1f%% (fleet median %.1f%%)", al.Host, 100*al.Rate, 100*al.FleetRate)
	}
	if al.BurnRate != nil {
		s += fmt.Sprintf(", burning the error budget %.1fx", *al.BurnRate)
	}
	if len(al.Signatures) > 0 {
		s += ": " + al.Signatures[0].Signature
	}
	return s
}

func resolvedSummary(al *schemas.Alert) string {
	who := al.Host
	if al.Scope == schemas.ScopeFleet {
		who = "fleet"
	}
	if al.Scope == schemas.ScopeSilent {
		if al.Host == FleetHost {
			return "the fleet is sending logs again"
		}
		return who + " is sending logs again"
	}
	return fmt.Sprintf("%s recovered: error rate %.1f%% (fleet median %.1f%%)", who, 100*al.Rate, 100*al.FleetRate)
}

// steady reports whether the host had steady traffic before its latest
// event: the three tumbling windows before the one holding it each had
// host_silent.min_events.
func (a *apply) steady(hv *schemas.HostView) bool {
	if hv.LastEvent == 0 {
		return false
	}
	size := a.st.WindowMs
	last := floorTo(hv.LastEvent, size)
	need := a.p.cfg.Rules.HostSilent.MinEvents
	count := func(start int64) int64 {
		if start == hv.TStart {
			return hv.TEvents
		}
		for _, m := range hv.Minutes {
			if m.Start == start {
				return m.Events
			}
		}
		return 0
	}
	for k := int64(1); k <= 3; k++ {
		if count(last-k*size) < need {
			return false
		}
	}
	return true
}

// silence judges silence in event time at tick now: a steady host is
// silent once the fleet's watermark is After past its latest event. Most
// of the fleet silent at once is one fleet alert, not one per host.
func (a *apply) silence(now int64) {
	r := a.p.cfg.Rules.HostSilent
	if !r.Enabled {
		return
	}
	tick := a.st.TickMs
	var steady, silent []*schemas.HostView
	for i := range a.st.Hosts {
		hv := &a.st.Hosts[i]
		quiet := now - (hv.LastEvent + tick)
		if hv.Silent && quiet < r.After.Milliseconds() {
			hv.Silent = false
			if inc := a.incident(schemas.ScopeSilent, hv.Host); inc != nil {
				a.resolve(inc, now, observation{now: now})
			}
		}
		if !a.steady(hv) {
			continue
		}
		steady = append(steady, hv)
		if quiet >= r.After.Milliseconds() {
			silent = append(silent, hv)
		}
	}
	fleetSilent := len(silent) >= 2 && float64(len(silent)) >= r.FleetFraction*float64(len(steady))
	for _, hv := range silent {
		hv.Silent = true
	}
	finc := a.incident(schemas.ScopeSilent, FleetHost)
	switch {
	case fleetSilent && finc == nil:
		var since int64 = math.MaxInt64
		for _, hv := range silent {
			since = min(since, hv.LastEvent+tick)
		}
		summary := fmt.Sprintf("no logs from %d of %d hosts for %s (event time)", len(silent), len(steady),
			time.Duration(now-since)*time.Millisecond)
		a.openSilent(FleetHost, RuleFleetSilent, since, now, summary)
	case !fleetSilent && finc != nil:
		a.resolve(finc, now, observation{now: now})
	}
	for _, hv := range silent {
		since := hv.LastEvent + tick
		if fleetSilent || now-since < (r.After+r.FleetWait).Milliseconds() || a.incident(schemas.ScopeSilent, hv.Host) != nil {
			// A host's silence waits FleetWait for others: hosts that
			// stop within it of each other are one fleet alert.
			continue
		}
		a.openSilent(hv.Host, RuleHostSilent, since, now,
			fmt.Sprintf("%s has sent no logs for %s (event time) after steady traffic", hv.Host, time.Duration(now-since)*time.Millisecond))
	}
}

// openSilent fires a silence incident at once: the silence limit is its
// "for".
func (a *apply) openSilent(host, rule string, since, now int64, summary string) {
	a.st.Incidents = append(a.st.Incidents, schemas.Incident{Key: incidentKey(schemas.ScopeSilent, host), Scope: schemas.ScopeSilent,
		Host: host, Rule: rule, Rules: []string{rule}, State: schemas.IncidentPending, Since: since, FirstSeen: since, LastSeen: now})
	inc := &a.st.Incidents[len(a.st.Incidents)-1]
	a.fire(inc, observation{now: now, start: since, end: now}, func(o observation) *schemas.Alert {
		return &schemas.Alert{Scope: schemas.ScopeSilent, Host: host, WindowStart: since, WindowEnd: now, Summary: summary,
			Signatures: []schemas.Signature{}, Samples: []schemas.TraceSample{}}
	})
}
