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
	"github.com/logstream/logstream/watermark"
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
	RuleFleetSilent = "fleet_silent"
)

// FleetHost is the host name of alerts about the whole fleet.
const FleetHost = schemas.ScopeFleet

// maxEmits bounds the alerts kept for replays (alerts are rare; a replay
// reaches back only to the last commit).
const maxEmits = 64

// maxTicksPerRecord bounds the ticks one input record may judge: a
// watermark that jumps further (a fleet back after a day of silence)
// skips to the last maxTicksPerRecord ticks.
const maxTicksPerRecord = 24 * 3600

// Config wires the stage. Topic names come from topology/.
type Config struct {
	Input       goka.Stream // the errorrate stage's WindowUpdates
	Alerts      goka.Stream
	DeadLetters goka.Stream
	// Sources names the errorrate partitions as watermark channels
	// ("<name>/<partition>"); Partitions is how many there are.
	Sources     string
	Partitions  int32
	UpdateCodec *codecs.Codec[schemas.WindowUpdate]
	WindowCodec *codecs.Codec[schemas.HostWindow]
	AlertCodec  *codecs.Codec[schemas.Alert]
	Fence       *exactlyonce.Fence
	Rules       Rules
	// Idle is the watermark tracker's resynchronisation period (package
	// watermark); 0 means watermark.DefaultIdle.
	Idle time.Duration
	Now  func() time.Time
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
	case cfg.Input == "" || cfg.Alerts == "" || cfg.DeadLetters == "" || cfg.Sources == "" || cfg.Partitions < 1:
		return nil, errors.New("alerter: Config needs Input, Alerts, DeadLetters, Sources and Partitions")
	case cfg.UpdateCodec == nil || cfg.WindowCodec == nil || cfg.AlertCodec == nil || cfg.Fence == nil:
		return nil, errors.New("alerter: Config needs UpdateCodec, WindowCodec, AlertCodec and Fence")
	}
	if err := cfg.Rules.Validate(); err != nil {
		return nil, fmt.Errorf("alerter: rules: %w", err)
	}
	if cfg.Idle == 0 {
		cfg.Idle = watermark.DefaultIdle
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

// Process is the callback for the errorrate stage's updates.
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
	if st == nil {
		st = &schemas.AlerterState{Applied: -1}
	}
	if p.dlq.Tombstone(ctx, msg) {
		return // as for a record that does not decode: nothing applied
	}
	value, _ := msg.([]byte)
	a := &apply{p: p, st: st, rec: rec, key: ctx.Key(), offset: offset, trigger: ctx.Timestamp()}
	u, err := p.cfg.UpdateCodec.Unmarshal(value)
	if err != nil {
		// The previous version's errorrate wrote HostWindows here.
		hw, herr := p.cfg.WindowCodec.Unmarshal(value)
		if herr != nil {
			p.dlq.Emit(ctx, value, err)
			return
		}
		st.Applied = offset
		a.legacy(hw)
		ctx.SetValue(st)
		return
	}
	st.Applied = offset
	p.stats.Updates.Add(1)
	a.update(u)
	ctx.SetValue(st)
}

// apply is the processing of one input record.
type apply struct {
	p       *Processor
	st      *schemas.AlerterState
	rec     *exactlyonce.Record
	key     string
	offset  int64
	trigger time.Time // when the update was written: alert latency
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

// update applies one errorrate partition's update: its counts wait in
// their hosts' pending ticks until the fleet's watermark passes them, then
// every tick up to the watermark is judged.
func (a *apply) update(u *schemas.WindowUpdate) {
	st := a.st
	if st.Sources == nil {
		st.Sources = map[int32]int64{}
	}
	if last, ok := st.Sources[u.Partition]; ok && u.Seq <= last {
		// Written again by a replay upstream: applied already.
		a.p.stats.Duplicates.Add(1)
		return
	}
	st.Sources[u.Partition] = u.Seq
	if u.TickMs > 0 {
		st.TickMs = u.TickMs
	}
	if u.WindowMs > 0 {
		st.WindowMs = u.WindowMs
	}
	for _, ht := range u.Hosts {
		hv := a.host(ht.Host)
		for _, t := range ht.Ticks {
			if st.Tick != 0 && t.Start < st.Tick {
				// Within the grace, after its tick was judged: it counts
				// for the windows from now on.
				a.p.stats.LateTicks.Add(1)
				a.count(hv, t)
				continue
			}
			addPending(hv, t)
		}
		if len(ht.Latest) > 0 {
			hv.Latest = ht.Latest
		}
	}
	tr := watermark.NewTracker(a.p.cfg.Partitions, a.p.cfg.Idle)
	tr.Restore(fromSchema(st.Watermark))
	s := watermark.Stamp{Channel: watermark.Channel(a.p.cfg.Sources, u.Partition), Seq: u.Seq, Time: u.Watermark}
	switch u.Status {
	case watermark.Time.String():
		s.Kind = watermark.Time
	case watermark.Idle.String():
		s.Kind = watermark.Idle
	default:
		s.Kind = watermark.Hold
	}
	tr.Observe(a.trigger, s)
	wm, kind := tr.Watermark()
	st.Watermark = toSchema(tr.State())
	a.p.stats.setWatermark(wm, kind)
	a.judgeUpTo(wm)
}

func addPending(hv *schemas.HostView, t schemas.TickCount) {
	i := sort.Search(len(hv.Pending), func(i int) bool { return hv.Pending[i].Start >= t.Start })
	if i < len(hv.Pending) && hv.Pending[i].Start == t.Start {
		hv.Pending[i].Events += t.Events
		hv.Pending[i].Errors += t.Errors
		return
	}
	hv.Pending = append(hv.Pending, schemas.TickCount{})
	copy(hv.Pending[i+1:], hv.Pending[i:])
	hv.Pending[i] = t
}

// judgeUpTo judges every tick up to the watermark wm, less the rules'
// judge delay.
func (a *apply) judgeUpTo(wm int64) {
	st := a.st
	tick := st.TickMs
	if tick <= 0 || st.WindowMs <= 0 {
		return
	}
	upto := floorTo(wm-a.p.cfg.Rules.JudgeDelay.Milliseconds(), tick)
	if st.Tick == 0 {
		// The first judgment: start at the first counts there are, not
		// at the epoch.
		first := upto
		for i := range st.Hosts {
			if len(st.Hosts[i].Pending) > 0 {
				first = min(first, floorTo(st.Hosts[i].Pending[0].Start, tick))
			}
		}
		if first == upto {
			return
		}
		st.Tick = first
	}
	if upto-st.Tick > maxTicksPerRecord*tick {
		st.Tick = upto - maxTicksPerRecord*tick
	}
	for t := st.Tick + tick; t <= upto; t += tick {
		a.judge(t)
		st.Tick = t
	}
}

// count adds a tick's counts to the host's windows: the current one, a
// newer one (the current closes), or a closed one of the history.
func (a *apply) count(hv *schemas.HostView, t schemas.TickCount) {
	size := a.st.WindowMs
	win := floorTo(t.Start, size)
	switch {
	case win == hv.TStart:
		hv.TEvents += t.Events
		hv.TErrors += t.Errors
	case win > hv.TStart:
		a.roll(hv, win)
		hv.TEvents, hv.TErrors = t.Events, t.Errors
	default:
		i := sort.Search(len(hv.Minutes), func(i int) bool { return hv.Minutes[i].Start >= win })
		if i < len(hv.Minutes) && hv.Minutes[i].Start == win {
			hv.Minutes[i].Events += t.Events
			hv.Minutes[i].Errors += t.Errors
		} else if t.Events > 0 {
			hv.Minutes = append(hv.Minutes, schemas.Minute{})
			copy(hv.Minutes[i+1:], hv.Minutes[i:])
			hv.Minutes[i] = schemas.Minute{Start: win, Events: t.Events, Errors: t.Errors}
		}
	}
	if t.Events > 0 {
		hv.LastEvent = max(hv.LastEvent, t.Start)
	}
}

// roll closes the host's current window (into its history, when it had
// events) and opens the one starting at win.
func (a *apply) roll(hv *schemas.HostView, win int64) {
	if hv.TEvents > 0 && hv.TStart != 0 {
		hv.Minutes = append(hv.Minutes, schemas.Minute{Start: hv.TStart, Events: hv.TEvents, Errors: hv.TErrors})
	}
	hv.TStart, hv.TEvents, hv.TErrors = win, 0, 0
	keep := win - a.p.cfg.Rules.history().Milliseconds() - a.st.WindowMs
	j := 0
	for j < len(hv.Minutes) && hv.Minutes[j].Start < keep {
		j++
	}
	if j > 0 {
		hv.Minutes = append(hv.Minutes[:0], hv.Minutes[j:]...)
	}
}

// judge moves the counts of the ticks before t into the hosts' windows and
// evaluates every rule as of t.
func (a *apply) judge(t int64) {
	a.p.stats.Ticks.Add(1)
	st := a.st
	size := st.WindowMs
	for i := range st.Hosts {
		hv := &st.Hosts[i]
		n := 0
		for n < len(hv.Pending) && hv.Pending[n].Start < t {
			a.count(hv, hv.Pending[n])
			n++
		}
		if n > 0 {
			hv.Pending = append(hv.Pending[:0], hv.Pending[n:]...)
		}
		// The window holding the last millisecond before t is current,
		// with or without events.
		if cur := floorTo(t-1, size); cur > hv.TStart {
			a.roll(hv, cur)
		}
		if hv.LastEvent > 0 {
			hv.AsOf = t
		}
	}
	a.evaluate(t)
	a.forget(t)
}

// forget drops hosts not heard of for longer than the rules look back,
// unless an incident is open for them.
func (a *apply) forget(now int64) {
	limit := now - a.p.cfg.Rules.history().Milliseconds() - time.Hour.Milliseconds()
	out := a.st.Hosts[:0]
	for _, hv := range a.st.Hosts {
		if hv.LastEvent >= limit || len(hv.Pending) > 0 || a.open(hv.Host) {
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

// legacy applies a HostWindow the previous version's errorrate wrote (in
// flight at an upgrade): it sets the host's current window's counts;
// ticks move only with the new updates' watermarks.
func (a *apply) legacy(hw *schemas.HostWindow) {
	a.p.stats.LegacyUpdates.Add(1)
	if hw.Kind != schemas.WindowTumbling || hw.Emit == schemas.EmitSilent || a.st.WindowMs == 0 && hw.End <= hw.Start {
		return
	}
	if a.st.WindowMs == 0 {
		a.st.WindowMs = hw.End - hw.Start
	}
	hv := a.host(hw.Host)
	switch {
	case hw.Start == hv.TStart:
		hv.TEvents, hv.TErrors = max(hv.TEvents, hw.Events), max(hv.TErrors, hw.Errors)
	case hw.Start > hv.TStart:
		a.roll(hv, hw.Start)
		hv.TEvents, hv.TErrors = hw.Events, hw.Errors
	}
	if hw.Events > 0 {
		hv.LastEvent = max(hv.LastEvent, min(hw.AsOf, hw.End-1))
	}
	if hw.Errors > 0 {
		if b, err := a.p.cfg.WindowCodec.Marshal(hw); err == nil {
			hv.Latest = b
		}
	}
}

func floorTo(t, step int64) int64 {
	q := t / step
	if t%step != 0 && t < 0 {
		q--
	}
	return q * step
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
	key := inc.Key
	out := a.st.Incidents[:0]
	for _, x := range a.st.Incidents {
		if x.Key != key {
			out = append(out, x)
		}
	}
	a.st.Incidents = out
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

func (a *apply) dedupKey(inc *schemas.Incident) string {
	return "logstream/" + inc.Key + "/" + strconv.FormatInt(inc.Number, 10)
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

func fromSchema(s schemas.WatermarkState) watermark.State {
	out := watermark.State{Groups: s.Groups, Watermark: s.Watermark, WokeAt: s.WokeAt}
	for _, c := range s.Channels {
		k := watermark.Unknown
		for _, x := range []watermark.Kind{watermark.Time, watermark.Idle, watermark.Hold} {
			if x.String() == c.Kind {
				k = x
			}
		}
		out.Channels = append(out.Channels, watermark.ChannelState{Channel: c.Channel, Kind: k, Time: c.Time, Seq: c.Seq, Local: c.Local})
	}
	return out
}

func toSchema(s watermark.State) schemas.WatermarkState {
	out := schemas.WatermarkState{Groups: s.Groups, Watermark: s.Watermark, WokeAt: s.WokeAt}
	for _, c := range s.Channels {
		out.Channels = append(out.Channels, schemas.WatermarkChannel{Channel: c.Channel, Kind: c.Kind.String(), Time: c.Time, Seq: c.Seq, Local: c.Local})
	}
	return out
}

// FleetWatermark returns the fleet's watermark in a state, its status
// and its inputs' counts by status, for queries.
func FleetWatermark(st *schemas.AlerterState, partitions int32) (wm int64, kind watermark.Kind, active, idle, holding int) {
	if st == nil {
		return 0, watermark.Unknown, 0, 0, int(partitions)
	}
	tr := watermark.NewTracker(partitions, 0)
	tr.Restore(fromSchema(st.Watermark))
	wm, kind = tr.Watermark()
	active, idle, holding = tr.Status()
	return wm, kind, active, idle, holding
}
