package alerter

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/lovoo/goka"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/deadletter"
	"github.com/logstream/logstream/processors/exactlyonce"
	"github.com/logstream/logstream/schemas"
)

// StageName names the stage in dead letters, logs and metrics.
const StageName = "alerter"

// Rule names, as alerts name them.
const (
	RuleThreshold   = "threshold"
	RuleHostVsFleet = "host_vs_fleet"
	RuleFleetWide   = "fleet_wide"
	RuleBurnRate    = "burn_rate"
	RuleHostSilent  = "host_silent"
)

// maxEmits bounds the alerts kept for replays (alerts are rare; a replay
// reaches back only to the last commit).
const maxEmits = 64

// Config wires the stage. Topic names come from topology/.
type Config struct {
	Input       goka.Stream // the errorrate stage's updates
	Alerts      goka.Stream
	DeadLetters goka.Stream
	WindowCodec *codecs.Codec[schemas.HostWindow]
	AlertCodec  *codecs.Codec[schemas.Alert]
	Fence       *exactlyonce.Fence
	Rules       Rules
	Now         func() time.Time
}

// Processor is the alerter's goka callback and counters.
type Processor struct {
	cfg   Config
	stats *Stats
	dlq   *deadletter.Writer
}

// New returns the stage for cfg.
func New(cfg Config) (*Processor, error) {
	switch {
	case cfg.Input == "" || cfg.Alerts == "" || cfg.DeadLetters == "":
		return nil, errors.New("alerter: Config needs Input, Alerts and DeadLetters")
	case cfg.WindowCodec == nil || cfg.AlertCodec == nil || cfg.Fence == nil:
		return nil, errors.New("alerter: Config needs WindowCodec, AlertCodec and Fence")
	}
	if err := cfg.Rules.Validate(); err != nil {
		return nil, fmt.Errorf("alerter: rules: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Processor{cfg: cfg, stats: newStats()}
	p.dlq = &deadletter.Writer{Stage: StageName, Topic: cfg.DeadLetters, Now: cfg.Now, Count: func() { p.stats.DeadLetters.Add(1) }}
	return p, nil
}

// Stats returns the stage's live counters.
func (p *Processor) Stats() *Stats { return p.stats }

// Rebalance is goka's rebalance callback.
func (p *Processor) Rebalance(goka.Assignment) { p.cfg.Fence.Reset() }

// Process is the callback for the window updates.
func (p *Processor) Process(ctx goka.Context, msg any) {
	rec, err := p.cfg.Fence.Begin(ctx)
	if err != nil {
		ctx.Fail(err)
		return
	}
	offset := ctx.Offset()
	st, _ := ctx.Value().(*schemas.AlerterState)
	if st != nil && offset <= st.Applied {
		p.stats.Replayed.Add(1)
		for _, e := range st.Emits {
			if e.Offset == offset && !rec.Emit(p.cfg.Alerts, ctx.Key(), e.Value) {
				p.stats.Suppressed.Add(1)
			}
		}
		return
	}
	hw, ok := deadletter.Decode(ctx, msg, p.cfg.WindowCodec, p.dlq)
	if !ok {
		return
	}
	if st == nil {
		st = &schemas.AlerterState{Applied: -1}
	}
	st.Applied = offset
	p.stats.Updates.Add(1)
	a := &apply{p: p, st: st, rec: rec, key: ctx.Key(), offset: offset, trigger: ctx.Timestamp()}
	a.window(hw, msg.([]byte))
	ctx.SetValue(st)
}

// apply is the processing of one update.
type apply struct {
	p       *Processor
	st      *schemas.AlerterState
	rec     *exactlyonce.Record
	key     string
	offset  int64
	trigger time.Time // when the update was written: alert latency
}

func (a *apply) window(hw *schemas.HostWindow, raw []byte) {
	st := a.st
	hv := a.host(hw.Host)
	if hw.Version <= hv.Version {
		a.p.stats.Duplicates.Add(1)
		return
	}
	hv.Version = hw.Version
	hv.AsOf = max(hv.AsOf, hw.AsOf)
	if hw.Emit == schemas.EmitSilent {
		hv.Silent = true
		if a.p.cfg.Rules.HostSilent.Enabled {
			a.silent(hv, hw)
		}
		return
	}
	if hw.Kind != schemas.WindowTumbling {
		return
	}
	if hv.Silent {
		hv.Silent = false
		if inc := a.incident(schemas.ScopeSilent, hw.Host); inc != nil {
			a.resolve(inc, hw.AsOf, a.observe(hv, hw.AsOf))
		}
	}
	a.minute(hv, hw)
	if hw.Start >= hv.TStart {
		hv.TStart, hv.TEvents, hv.TErrors = hw.Start, hw.Events, hw.Errors
		if hw.Errors > 0 {
			hv.Latest = append(hv.Latest[:0], raw...)
		}
	}
	a.evaluate(hv, hw.End-hw.Start)
	a.forget(hv.AsOf)
	_ = st
}

func (a *apply) host(name string) *schemas.HostView {
	hs := a.st.Hosts
	i := sort.Search(len(hs), func(i int) bool { return hs[i].Host >= name })
	if i == len(hs) || hs[i].Host != name {
		a.st.Hosts = append(a.st.Hosts, schemas.HostView{})
		copy(a.st.Hosts[i+1:], a.st.Hosts[i:])
		a.st.Hosts[i] = schemas.HostView{Host: name}
	}
	return &a.st.Hosts[i]
}

// minute records a tumbling window's counts in the host's history.
func (a *apply) minute(hv *schemas.HostView, hw *schemas.HostWindow) {
	m := schemas.Minute{Start: hw.Start, Events: hw.Events, Errors: hw.Errors}
	i := sort.Search(len(hv.Minutes), func(i int) bool { return hv.Minutes[i].Start >= hw.Start })
	if i < len(hv.Minutes) && hv.Minutes[i].Start == hw.Start {
		hv.Minutes[i] = m
	} else {
		hv.Minutes = append(hv.Minutes, schemas.Minute{})
		copy(hv.Minutes[i+1:], hv.Minutes[i:])
		hv.Minutes[i] = m
	}
	keep := hv.AsOf - a.p.cfg.Rules.history().Milliseconds() - (hw.End - hw.Start)
	j := 0
	for j < len(hv.Minutes) && hv.Minutes[j].Start < keep {
		j++
	}
	if j > 0 {
		hv.Minutes = append(hv.Minutes[:0], hv.Minutes[j:]...)
	}
}

// forget drops hosts not heard of for longer than the rules look back,
// unless an incident is open for them.
func (a *apply) forget(now int64) {
	limit := now - a.p.cfg.Rules.history().Milliseconds() - time.Hour.Milliseconds()
	out := a.st.Hosts[:0]
	for _, hv := range a.st.Hosts {
		if hv.AsOf >= limit || a.open(hv.Host) {
			out = append(out, hv)
		}
	}
	a.st.Hosts = out
}

func (a *apply) open(host string) bool {
	for _, inc := range a.st.Incidents {
		if inc.Host == host {
			return true
		}
	}
	return false
}

// rateAt returns a host's error rate in the tumbling window starting at
// start, or in the one before when that has too few events yet (a peer
// whose update for the new window has not come).
func (a *apply) rateAt(hv *schemas.HostView, start, size int64) (float64, bool) {
	min := a.p.cfg.Rules.MinEvents
	for _, s := range []int64{start, start - size} {
		for _, m := range hv.Minutes {
			if m.Start == s && m.Events >= min {
				return float64(m.Errors) / float64(m.Events), true
			}
		}
	}
	return 0, false
}

// observation is what the rules saw for one host at one update.
type observation struct {
	now            int64
	enough         bool
	rate           float64
	median         float64 // peers' median (fleet alert: every host's)
	peers          int
	burn           *float64
	fire           []string        // rules whose fire condition holds
	clears         map[string]bool // per rule judged: its resolve condition holds
	events, errors int64
	start, end     int64
}

func (a *apply) observe(hv *schemas.HostView, now int64) observation {
	r := a.p.cfg.Rules
	o := observation{now: now, events: hv.TEvents, errors: hv.TErrors, start: hv.TStart}
	size := int64(time.Minute / time.Millisecond)
	if len(hv.Minutes) > 0 {
		// The window size is what the host's windows are.
		size = a.size(hv)
	}
	o.end = o.start + size
	o.enough = hv.TEvents >= r.MinEvents
	if hv.TEvents > 0 {
		o.rate = float64(hv.TErrors) / float64(hv.TEvents)
	}
	var peers []float64
	for i := range a.st.Hosts {
		peer := &a.st.Hosts[i]
		if peer.Host == hv.Host || peer.Silent {
			continue
		}
		if rate, ok := a.rateAt(peer, hv.TStart, size); ok {
			peers = append(peers, rate)
		}
	}
	o.peers, o.median = len(peers), median(peers)
	if !o.enough {
		return o
	}
	o.clears = map[string]bool{}
	if t := r.Threshold; t.Enabled {
		if o.rate >= t.FireRate {
			o.fire = append(o.fire, RuleThreshold)
		}
		o.clears[RuleThreshold] = o.rate < t.ResolveRate
	}
	if f := r.HostVsFleet; f.Enabled && o.peers >= f.MinPeers {
		if o.rate >= f.Ratio*o.median && o.rate-o.median >= f.MinDelta {
			o.fire = append(o.fire, RuleHostVsFleet)
		}
		o.clears[RuleHostVsFleet] = o.rate < f.ResolveRatio*o.median || o.rate-o.median < f.ResolveDelta
	}
	if b := r.BurnRate; b.Enabled {
		budget := 1 - b.SLO
		firing, clear := false, true
		for _, w := range b.Windows {
			if len(hv.Minutes) == 0 || now-hv.Minutes[0].Start < w.Long.Milliseconds() {
				// The history does not span the long window yet: over
				// the first minutes of a host's life the "long" rate is a
				// short one, and one spike would look like a slow burn.
				continue
			}
			se, sx := sumSince(hv.Minutes, now-w.Short.Milliseconds())
			le, lx := sumSince(hv.Minutes, now-w.Long.Milliseconds())
			if se < r.MinEvents {
				continue
			}
			short, long := float64(sx)/float64(se)/budget, float64(lx)/float64(le)/budget
			if short >= w.Factor && long >= w.Factor && !firing {
				firing = true
				s := short
				o.burn = &s
				o.fire = append(o.fire, RuleBurnRate)
			}
			clear = clear && short < w.Factor
		}
		o.clears[RuleBurnRate] = clear
	}
	return o
}

// clear reports whether the resolve condition of every rule the incident
// fired on holds. A rule that could not judge this window (too few peers,
// say) does not hold the incident open; a window too small to judge
// resolves nothing.
func (o observation) clear(rules []string) bool {
	if !o.enough {
		return false
	}
	for _, r := range rules {
		if c, judged := o.clears[r]; judged && !c {
			return false
		}
	}
	return true
}

func (a *apply) size(hv *schemas.HostView) int64 {
	var d int64
	for i := 1; i < len(hv.Minutes); i++ {
		if g := hv.Minutes[i].Start - hv.Minutes[i-1].Start; g > 0 && (d == 0 || g < d) {
			d = g
		}
	}
	if d == 0 {
		return int64(time.Minute / time.Millisecond)
	}
	return d
}

// sumSince sums the events and errors of the windows that start after from.
func sumSince(ms []schemas.Minute, from int64) (events, errors int64) {
	for _, m := range ms {
		if m.Start > from {
			events += m.Events
			errors += m.Errors
		}
	}
	return events, errors
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

// evaluate runs the rules for the host that sent an update, and the fleet
// rule over every host.
func (a *apply) evaluate(hv *schemas.HostView, size int64) {
	now := hv.AsOf
	fleet := a.fleet(hv.TStart, size, now)
	fleetOn := false
	if a.p.cfg.Rules.FleetWide.Enabled {
		inc := a.incident(schemas.ScopeFleet, schemas.ScopeFleet)
		a.step(schemas.ScopeFleet, schemas.ScopeFleet, inc, fleet, a.fleetAlert)
		inc = a.incident(schemas.ScopeFleet, schemas.ScopeFleet)
		fleetOn = len(fleet.fire) > 0 || (inc != nil && inc.State != schemas.IncidentPending)
	}
	o := a.observe(hv, now)
	if fleetOn {
		// The fleet alert covers every host: do not page per host.
		o.fire = nil
	}
	a.step(schemas.ScopeHost, hv.Host, a.incident(schemas.ScopeHost, hv.Host), o, a.hostAlert(hv))
}

// fleet observes the fleet-wide rule in the window starting at start.
func (a *apply) fleet(start, size, now int64) observation {
	r := a.p.cfg.Rules
	o := observation{now: now, start: start, end: start + size}
	var rates []float64
	over := 0
	for i := range a.st.Hosts {
		hv := &a.st.Hosts[i]
		if hv.Silent {
			continue
		}
		rate, ok := a.rateAt(hv, start, size)
		if !ok {
			continue
		}
		rates = append(rates, rate)
		if rate >= r.Threshold.FireRate {
			over++
		}
		for _, m := range hv.Minutes {
			if m.Start == start {
				o.events += m.Events
				o.errors += m.Errors
			}
		}
	}
	o.peers, o.median = len(rates), median(rates)
	if o.events > 0 {
		o.rate = float64(o.errors) / float64(o.events)
	}
	if len(rates) < r.FleetWide.MinHosts {
		return o
	}
	o.enough = true
	frac := float64(over) / float64(len(rates))
	if frac >= r.FleetWide.Fraction {
		o.fire = []string{RuleFleetWide}
	}
	o.clears = map[string]bool{RuleFleetWide: frac < r.FleetWide.Fraction && o.median < r.Threshold.ResolveRate}
	return o
}

func incidentKey(scope, host string) string { return scope + "/" + host }

func (a *apply) incident(scope, host string) *schemas.Incident {
	key := incidentKey(scope, host)
	for i := range a.st.Incidents {
		if a.st.Incidents[i].Key == key {
			return &a.st.Incidents[i]
		}
	}
	return nil
}

func (a *apply) drop(inc *schemas.Incident) {
	out := a.st.Incidents[:0]
	for _, x := range a.st.Incidents {
		if x.Key != inc.Key {
			out = append(out, x)
		}
	}
	a.st.Incidents = out
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
		}
	case schemas.IncidentFiring:
		if len(o.fire) == 0 && o.clear(inc.Rules) {
			inc.State, inc.Since = schemas.IncidentResolving, o.now
		}
	case schemas.IncidentResolving:
		switch {
		case len(o.fire) > 0 || o.enough && !o.clear(inc.Rules):
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
	al.DedupKey = "logstream/" + inc.Key + "/" + strconv.FormatInt(inc.Number, 10)
	al.ID = al.DedupKey + "/" + schemas.AlertFiring
	al.State = schemas.AlertFiring
	al.FirstSeen, al.LastSeen, al.At = inc.FirstSeen, inc.LastSeen, o.now
	b := a.write(al)
	inc.Fired = b
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
	if o.enough {
		al.Rate, al.FleetRate, al.Events, al.Errors = o.rate, o.median, o.events, o.errors
		al.WindowStart, al.WindowEnd = o.start, o.end
		al.BurnRate = nil
	}
	al.Summary = resolvedSummary(&al)
	a.write(&al)
	a.drop(inc)
}

// write encodes an alert, writes it through the fence and keeps it for
// replays.
func (a *apply) write(al *schemas.Alert) []byte {
	b, err := a.p.cfg.AlertCodec.Marshal(al)
	if err != nil {
		panic("alerter: encoding an Alert: " + err.Error())
	}
	a.st.Emits = append(a.st.Emits, schemas.Emit{Offset: a.offset, Value: b})
	if n := len(a.st.Emits); n > maxEmits {
		a.st.Emits = append(a.st.Emits[:0], a.st.Emits[n-maxEmits:]...)
	}
	if a.rec.Emit(a.p.cfg.Alerts, a.key, b) {
		a.p.stats.alert(al, a.trigger)
	} else {
		a.p.stats.Suppressed.Add(1)
	}
	return b
}

// hostAlert builds a host's FIRING alert from its latest window.
func (a *apply) hostAlert(hv *schemas.HostView) func(o observation) *schemas.Alert {
	return func(o observation) *schemas.Alert {
		al := &schemas.Alert{Scope: schemas.ScopeHost, Host: hv.Host, Rate: o.rate, FleetRate: o.median, BurnRate: o.burn,
			Events: o.events, Errors: o.errors, WindowStart: o.start, WindowEnd: o.end,
			Signatures: []schemas.Signature{}, Samples: []schemas.TraceSample{}}
		a.detail(al, hv)
		al.Summary = firingSummary(al)
		return al
	}
}

// fleetAlert builds the fleet alert, with the details of the worst host.
func (a *apply) fleetAlert(o observation) *schemas.Alert {
	al := &schemas.Alert{Scope: schemas.ScopeFleet, Host: schemas.ScopeFleet, Rate: o.rate, FleetRate: o.median,
		Events: o.events, Errors: o.errors, WindowStart: o.start, WindowEnd: o.end,
		Signatures: []schemas.Signature{}, Samples: []schemas.TraceSample{}}
	var worst *schemas.HostView
	for i := range a.st.Hosts {
		hv := &a.st.Hosts[i]
		if hv.TEvents > 0 && (worst == nil || hv.TErrors*worst.TEvents > worst.TErrors*hv.TEvents) {
			worst = hv
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

// silent fires a host's silent alert at once: the silence limit is its
// "for".
func (a *apply) silent(hv *schemas.HostView, hw *schemas.HostWindow) {
	if a.incident(schemas.ScopeSilent, hv.Host) != nil {
		return
	}
	a.st.Incidents = append(a.st.Incidents, schemas.Incident{Key: incidentKey(schemas.ScopeSilent, hv.Host), Scope: schemas.ScopeSilent,
		Host: hv.Host, Rule: RuleHostSilent, Rules: []string{RuleHostSilent}, State: schemas.IncidentPending,
		Since: hw.Start, FirstSeen: hw.Start, LastSeen: hw.Start})
	inc := &a.st.Incidents[len(a.st.Incidents)-1]
	a.fire(inc, observation{now: hw.Start, start: hw.Start, end: hw.End}, func(o observation) *schemas.Alert {
		al := &schemas.Alert{Scope: schemas.ScopeSilent, Host: hv.Host, WindowStart: hw.Start, WindowEnd: hw.End,
			Signatures: []schemas.Signature{}, Samples: []schemas.TraceSample{}}
		al.Summary = fmt.Sprintf("%s has sent no logs for %s after steady traffic", hv.Host, time.Duration(hw.End-hw.Start)*time.Millisecond)
		return al
	})
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
		return who + " is sending logs again"
	}
	return fmt.Sprintf("%s recovered: error rate %.1f%% (fleet median %.1f%%)", who, 100*al.Rate, 100*al.FleetRate)
}

// OpenIncidents returns a state's incidents that fired and have not
// resolved, for the query API.
func OpenIncidents(st *schemas.AlerterState) []schemas.Incident {
	var out []schemas.Incident
	if st == nil {
		return nil
	}
	for _, inc := range st.Incidents {
		if inc.State != schemas.IncidentPending {
			out = append(out, inc)
		}
	}
	return out
}
