package errorrate

import (
	"errors"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lovoo/goka"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/deadletter"
	"github.com/logstream/logstream/processors/exactlyonce"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/watermark"
)

// StageName names the stage in dead letters, logs and metrics.
const StageName = "errorrate"

// Defaults of Config.
const (
	DefaultUpdateInterval = time.Second
	DefaultMaxFuture      = time.Hour
	DefaultTopSignatures  = 5
	DefaultSamples        = 3
	// maxEmits bounds the records kept for replays when the committed
	// offsets (which say what no replay can reach) are not known.
	maxEmits = 4096
	// HostRetention is how long (event time, by the watermark) a host
	// without events keeps its entry once its windows are closed: hosts
	// come and go (pod names), so state is bounded by the hosts of a day.
	HostRetention = 24 * time.Hour
)

// Loop record kinds (header watermark.HeaderKind) of the previous
// version, and of its records this version re-keys to a partition's key
// after an upgrade.
const (
	legacyKindEvent  = "event"
	legacyKindSample = "sample"
	legacyKindTimer  = "timer"
	rekeyedPrefix    = "upgrade-"
	// HeaderSource, on an event the previous version re-keyed, names its
	// partition and offset of logs.unique: "<partition>@<offset>".
	HeaderSource = "ls-src"
)

// Config wires the windows hop. Topic names come from topology/.
type Config struct {
	Partials goka.Stream // the combine hop's output
	// StampTopic is the topic the combine hop names its channels by (its
	// input, logs.unique); stamps of any other topic are ignored. "": any.
	StampTopic  string
	Loop        goka.Stream // the group's loop topic: the previous version's records
	Windows     goka.Stream // hosts.error-rate
	Updates     goka.Stream // the alerter's input
	DeadLetters goka.Stream
	// UpdatesKey is the key of every record on Updates (one alerter sees
	// every partition).
	UpdatesKey string
	// Partitions of the stage's topics; PartitionOf places a key as goka
	// does; KeyFor names a partition's key (state and partials).
	Partitions   int32
	PartitionOf  func(key []byte) int32
	KeyFor       func(partition int32) string
	PartialCodec *codecs.Codec[schemas.ErrorRatePartial]
	EventCodec   *codecs.Codec[schemas.LogEvent] // the previous version's loop records
	WindowCodec  *codecs.Codec[schemas.HostWindow]
	UpdateCodec  *codecs.Codec[schemas.WindowUpdate]
	StateCodec   *codecs.Codec[schemas.ErrorRatePartition]
	LegacyCodec  *codecs.Codec[schemas.ErrorRateState]
	Fence        *exactlyonce.Fence
	Classifier   *Classifier

	// Window sizes and grace; the zero value means DefaultWindows().
	Window Windows
	// UpdateInterval is a tick: the resolution of the counts sent to the
	// alerter, and of its judgments; 0 means DefaultUpdateInterval. It
	// must divide the windows' pane.
	UpdateInterval time.Duration
	// EmitUpdates also writes each host's open windows to Windows (emit
	// update) every tick the host has new events.
	EmitUpdates bool
	// Idle is the watermark trackers' resynchronisation period (see
	// package watermark); 0 means watermark.DefaultIdle.
	Idle          time.Duration
	MaxFuture     time.Duration
	TopSignatures int
	Samples       int
	// Legacy walks the previous version's per-host states in the local
	// store of a partition (state.Registry.Scan); nil: nothing to migrate.
	Legacy func(partition int32, fn func(key string, value []byte) bool) error
	// LegacyCutoff holds, per partition of logs.unique, the offset from
	// which the combine hop counts after an upgrade: events the previous
	// version re-keyed at or after it are its to count.
	LegacyCutoff map[int32]int64
	// Committed returns the committed offset of an input partition:
	// records below it are never replayed, so what they wrote need not be
	// kept. nil keeps the last maxEmits.
	Committed func(topic string, partition int32) (int64, bool)
	Now       func() time.Time
}

// Validate reports the first missing or invalid field.
func (c *Config) Validate() error {
	switch {
	case c.Partials == "" || c.Loop == "" || c.Windows == "" || c.Updates == "" || c.DeadLetters == "" || c.UpdatesKey == "":
		return errors.New("errorrate: Config needs Partials, Loop, Windows, Updates, DeadLetters and UpdatesKey")
	case c.PartialCodec == nil || c.EventCodec == nil || c.WindowCodec == nil || c.UpdateCodec == nil || c.StateCodec == nil || c.LegacyCodec == nil:
		return errors.New("errorrate: Config needs PartialCodec, EventCodec, WindowCodec, UpdateCodec, StateCodec and LegacyCodec")
	case c.Partitions < 1 || c.PartitionOf == nil || c.KeyFor == nil || c.Fence == nil || c.Classifier == nil:
		return errors.New("errorrate: Config needs Partitions, PartitionOf, KeyFor, Fence and Classifier")
	case c.UpdateInterval < 0 || c.MaxFuture < 0 || c.TopSignatures < 0 || c.Samples < 0 || c.Idle < 0:
		return errors.New("errorrate: UpdateInterval, MaxFuture, TopSignatures, Samples and Idle must not be negative")
	}
	if c.Window != (Windows{}) {
		if err := c.Window.Validate(); err != nil {
			return err
		}
	}
	w := c.Window
	if w == (Windows{}) {
		w = DefaultWindows()
	}
	if u := c.UpdateInterval; u > 0 && (u%time.Millisecond != 0 || w.pane()%u.Milliseconds() != 0) {
		return errors.New("errorrate: the update interval must divide the windows' pane (" + w.Pane().String() + "), in whole milliseconds")
	}
	return nil
}

// Processor is the windows hop's goka callbacks, and the stage's counters.
type Processor struct {
	cfg   Config
	stats *Stats
	dlq   *deadletter.Writer
}

// New returns the windows hop for cfg.
func New(cfg Config) (*Processor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Window == (Windows{}) {
		cfg.Window = DefaultWindows()
	}
	if cfg.UpdateInterval == 0 {
		cfg.UpdateInterval = DefaultUpdateInterval
	}
	if cfg.Idle == 0 {
		cfg.Idle = watermark.DefaultIdle
	}
	if cfg.MaxFuture == 0 {
		cfg.MaxFuture = DefaultMaxFuture
	}
	if cfg.TopSignatures == 0 {
		cfg.TopSignatures = DefaultTopSignatures
	}
	if cfg.Samples == 0 {
		cfg.Samples = DefaultSamples
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

// WindowConfig returns the windows in use.
func (p *Processor) WindowConfig() Windows { return p.cfg.Window }

// Tick returns the update interval in use.
func (p *Processor) Tick() time.Duration { return p.cfg.UpdateInterval }

// Rebalance is goka's rebalance callback.
func (p *Processor) Rebalance(goka.Assignment) {
	p.cfg.Fence.Reset()
	p.stats.ResetWatermarks("windows")
}

// SetLegacyCutoff sets Config.LegacyCutoff; call it before the processor
// runs.
func (p *Processor) SetLegacyCutoff(m map[int32]int64) { p.cfg.LegacyCutoff = m }

// ErrNoHost is the reason of a dead letter for an event without a host.
var ErrNoHost = errors.New("errorrate: event has no host")

func newPartition() *schemas.ErrorRatePartition {
	return &schemas.ErrorRatePartition{Applied: -1, AppliedLoop: -1, Status: watermark.Unknown.String()}
}

// load returns the partition's state, reading in the previous version's
// per-host states the first time.
func (p *Processor) load(ctx goka.Context) *schemas.ErrorRatePartition {
	if st, ok := ctx.Value().(*schemas.ErrorRatePartition); ok && st != nil {
		return st
	}
	st := newPartition()
	p.migrate(ctx.Partition(), st)
	return st
}

// run is the processing of one input record of a partition.
type run struct {
	p      *Processor
	ctx    goka.Context
	rec    *exactlyonce.Record
	st     *schemas.ErrorRatePartition
	topic  string
	offset int64
}

// begin starts the processing of an input record whose topic's last
// applied offset applied picks from the state; it returns nil when there
// is nothing to apply (a replay, rewritten from state, or a fence error).
func (p *Processor) begin(ctx goka.Context, applied func(*schemas.ErrorRatePartition) *int64) *run {
	rec, err := p.cfg.Fence.Begin(ctx)
	if err != nil {
		ctx.Fail(err)
		return nil
	}
	st := p.load(ctx)
	r := &run{p: p, ctx: ctx, rec: rec, st: st, topic: string(ctx.Topic()), offset: ctx.Offset()}
	last := applied(st)
	if r.offset <= *last {
		r.replay()
		return nil
	}
	*last = r.offset
	return r
}

// Partial is the callback for the partials topic.
func (p *Processor) Partial(ctx goka.Context, msg any) {
	r := p.begin(ctx, func(st *schemas.ErrorRatePartition) *int64 { return &st.Applied })
	if r == nil {
		return
	}
	st := r.st
	if p.dlq.Tombstone(ctx, msg) {
		ctx.SetValue(st) // the offset is applied: a replay skips it
		return
	}
	value, _ := msg.([]byte)
	partial, err := p.cfg.PartialCodec.Unmarshal(value)
	if err != nil {
		p.dlq.Emit(ctx, value, err)
		ctx.SetValue(st)
		return
	}
	p.stats.Partials.Add(1)
	stamps, err := watermark.Decode(ctx.Headers()[watermark.HeaderStamp])
	if err != nil {
		p.stats.BadStamps.Add(1)
	}
	for i := range partial.Hosts {
		r.apply(&partial.Hosts[i])
	}
	tr := tracker(st, p.cfg.Partitions, p.cfg.Idle, p.cfg.StampTopic)
	tr.Observe(ctx.Timestamp(), stamps...)
	r.advance(tr)
	st.Watermark = trackerState(tr)
	r.finish()
}

// hostOf returns the partition's entry for name, adding it if need be:
// a new host (or one forgotten) starts with the windows the partition's
// watermark has closed marked closed, so that an old count for it is late
// as it would be for a host the partition knew.
func hostOf(st *schemas.ErrorRatePartition, w Windows, name string) *schemas.PartitionHost {
	i := sort.Search(len(st.Hosts), func(i int) bool { return st.Hosts[i].Host >= name })
	if i == len(st.Hosts) || st.Hosts[i].Host != name {
		st.Hosts = append(st.Hosts, schemas.PartitionHost{})
		copy(st.Hosts[i+1:], st.Hosts[i:])
		h := schemas.PartitionHost{Host: name}
		if wm := st.Watermark.Watermark; wm != 0 {
			w.closing(&h, wm)
		}
		st.Hosts[i] = h
	}
	return &st.Hosts[i]
}

// apply adds one host's partial counts to the open windows; counts for a
// window already closed are late.
func (r *run) apply(ph *schemas.PartialHost) {
	w := r.p.cfg.Window
	st := r.st
	h := hostOf(st, w, ph.Host)
	st.Future += ph.Future
	for _, t := range ph.Ticks {
		if w.late(h, t.Start) {
			st.Late += t.Events
			h.Late += t.Events
			r.p.stats.Late.Add(t.Events)
			continue
		}
		pane := w.paneOf(h, t.Start)
		pane.Events += t.Events
		pane.Errors += t.Errors
		addTick(&h.Ticks, t)
		h.LastEvent = max(h.LastEvent, t.Start)
		if t.Errors > 0 {
			h.Dirty = true
		}
		r.p.stats.Events.Add(t.Events)
	}
	for _, pp := range ph.Panes {
		if w.late(h, pp.Start) {
			st.LateSamples += int64(len(pp.Samples))
			r.p.stats.LateSamples.Add(int64(len(pp.Samples)))
			continue
		}
		pane := w.paneOf(h, pp.Start)
		if pp.FirstError != 0 && (pane.FirstError == 0 || pp.FirstError < pane.FirstError) {
			pane.FirstError = pp.FirstError
		}
		if len(pp.Latency) > 0 {
			sk := Sketch{}
			if sk.MergeBinary(pane.Latency) == nil && sk.MergeBinary(pp.Latency) == nil {
				pane.Latency = sk.AppendBinary(pane.Latency[:0:0])
			}
		}
		for _, sc := range pp.Signatures {
			pane.Signatures = addSignature(pane.Signatures, sc.Signature, sc.Example, sc.Count)
		}
		for _, s := range pp.Samples {
			var changed bool
			if pane.Samples, changed = addSample(pane.Samples, s); changed {
				h.Dirty = true
			}
		}
	}
}

// addTick adds t to ts (sorted by start).
func addTick(ts *[]schemas.TickCount, t schemas.TickCount) {
	s := *ts
	i := sort.Search(len(s), func(i int) bool { return s[i].Start >= t.Start })
	if i < len(s) && s[i].Start == t.Start {
		s[i].Events += t.Events
		s[i].Errors += t.Errors
		return
	}
	s = append(s, schemas.TickCount{})
	copy(s[i+1:], s[i:])
	s[i] = t
	*ts = s
}

// advance closes the windows the watermark has passed and, when it
// crossed a tick (or its status changed), sends the alerter the counts of
// the ticks before it.
func (r *run) advance(tr *watermark.Tracker) {
	p, st := r.p, r.st
	wm, kind := tr.Watermark()
	p.stats.SetWatermark("windows", r.ctx.Partition(), wm, kind)
	w := p.cfg.Window
	keep := st.Hosts[:0]
	for i := range st.Hosts {
		h := &st.Hosts[i]
		for _, win := range w.closing(h, wm) {
			hw := w.merge(h, win).hostWindow(h.Host, win, p.cfg.TopSignatures, p.cfg.Samples)
			hw.Emit = schemas.EmitFinal
			r.window(h, hw, wm)
			p.stats.Closed.Add(1)
		}
		w.prune(h)
		if len(h.Panes) == 0 && len(h.Ticks) == 0 && wm-h.LastEvent >= HostRetention.Milliseconds() && kind == watermark.Time {
			p.stats.Forgotten.Add(1)
			continue
		}
		keep = append(keep, *h)
	}
	st.Hosts = keep
	tick := p.cfg.UpdateInterval.Milliseconds()
	upto := max(floorTo(wm, tick), st.SentTick)
	at := r.ctx.Timestamp().UnixMilli()
	status := kind.String()
	resend := kind != watermark.Time && at-st.StatusAt >= p.cfg.Idle.Milliseconds()/2
	if upto <= st.SentTick && status == st.Status && !resend {
		return
	}
	u := &schemas.WindowUpdate{Partition: r.ctx.Partition(), Seq: st.Seq + 1, Watermark: upto, Status: status,
		TickMs: tick, WindowMs: w.Tumbling.Milliseconds()}
	for i := range st.Hosts {
		h := &st.Hosts[i]
		n := 0
		for n < len(h.Ticks) && h.Ticks[n].Start < upto {
			n++
		}
		ht := schemas.HostTicks{Host: h.Host, Ticks: append([]schemas.TickCount(nil), h.Ticks[:n]...)}
		h.Ticks = append(h.Ticks[:0], h.Ticks[n:]...)
		if h.Dirty {
			if hw := r.latest(h, upto); hw != nil {
				b, err := p.cfg.WindowCodec.Marshal(hw)
				if err != nil {
					panic("errorrate: encoding a HostWindow: " + err.Error())
				}
				ht.Latest = b
			}
			h.Dirty = false
		}
		if p.cfg.EmitUpdates && n > 0 {
			for _, win := range r.open(upto) {
				hw := w.merge(h, win).hostWindow(h.Host, win, p.cfg.TopSignatures, p.cfg.Samples)
				if hw.Events > 0 {
					hw.Emit = schemas.EmitUpdate
					r.window(h, hw, wm)
				}
			}
		}
		if len(ht.Ticks) > 0 || len(ht.Latest) > 0 {
			u.Hosts = append(u.Hosts, ht)
		}
	}
	b, err := p.cfg.UpdateCodec.Marshal(u)
	if err != nil {
		panic("errorrate: encoding a WindowUpdate: " + err.Error())
	}
	st.Seq, st.SentTick, st.Status, st.StatusAt = u.Seq, upto, status, at
	r.emit(p.cfg.Updates, p.cfg.UpdatesKey, b)
	p.stats.Updates.Add(1)
}

// open returns the windows open at t: the tumbling window holding the tick
// before t, and the current hopping window.
func (r *run) open(t int64) []window {
	w := r.p.cfg.Window
	wins := []window{w.tumblingOf(t - 1)}
	if w.HoppingSize > 0 {
		wins = append(wins, w.currentHopping(t-1))
	}
	return wins
}

// latest returns the host's latest open tumbling window with errors, for
// the alerter's details (signatures, samples, first error).
func (r *run) latest(h *schemas.PartitionHost, upto int64) *schemas.HostWindow {
	w := r.p.cfg.Window
	for i := len(h.Panes) - 1; i >= 0; i-- {
		if h.Panes[i].Errors == 0 && len(h.Panes[i].Samples) == 0 {
			continue
		}
		win := w.tumblingOf(h.Panes[i].Start)
		hw := w.merge(h, win).hostWindow(h.Host, win, r.p.cfg.TopSignatures, r.p.cfg.Samples)
		hw.Emit, hw.Version, hw.AsOf = schemas.EmitUpdate, h.Version, upto
		return hw
	}
	return nil
}

// window writes a HostWindow of h: finals are guarded by the fence (one
// writer per partition), and kept for replays like every record written.
func (r *run) window(h *schemas.PartitionHost, hw *schemas.HostWindow, wm int64) {
	h.Version++
	hw.Version, hw.AsOf = h.Version, wm
	b, err := r.p.cfg.WindowCodec.Marshal(hw)
	if err != nil {
		// Every field is ours: a failure is a bug, not bad input.
		panic("errorrate: encoding a HostWindow: " + err.Error())
	}
	r.emit(r.p.cfg.Windows, h.Host, b)
}

// emit writes a record and keeps it, so that a replay of the input record
// writes it again.
func (r *run) emit(topic goka.Stream, key string, value []byte) {
	r.st.Emits = append(r.st.Emits, schemas.PartitionEmit{Input: r.topic, Offset: r.offset, Topic: string(topic), Key: key, Value: value})
	r.send(topic, key, value)
}

func (r *run) send(topic goka.Stream, key string, value []byte) {
	if !r.rec.Emit(topic, key, value) {
		r.p.stats.Suppressed.Add(1)
	}
}

// replay writes again what the input record wrote; the fence drops the
// finals that landed, the alerter the updates it has applied (by seq).
func (r *run) replay() {
	r.p.stats.Replayed.Add(1)
	for _, e := range r.st.Emits {
		if e.Input == r.topic && e.Offset == r.offset {
			r.send(goka.Stream(e.Topic), e.Key, e.Value)
		}
	}
}

// finish drops the kept records no replay can reach and stores the state.
func (r *run) finish() {
	st := r.st
	if c := r.p.cfg.Committed; c != nil {
		keep := st.Emits[:0]
		for _, e := range st.Emits {
			if off, ok := c(e.Input, r.ctx.Partition()); ok && e.Offset < off {
				continue
			}
			keep = append(keep, e)
		}
		st.Emits = keep
	}
	if n := len(st.Emits); n > maxEmits {
		r.p.stats.EmitsDropped.Add(int64(n - maxEmits))
		st.Emits = append(st.Emits[:0], st.Emits[n-maxEmits:]...)
	}
	r.ctx.SetValue(st)
}

// tracker restores a partition's watermark tracker.
func tracker(st *schemas.ErrorRatePartition, n int32, idle time.Duration, expect string) *watermark.Tracker {
	tr := watermark.NewTracker(n, idle)
	tr.Expect(expect)
	tr.Restore(FromSchema(st.Watermark))
	return tr
}

// FromSchema converts a stored tracker.
func FromSchema(s schemas.WatermarkState) watermark.State {
	out := watermark.State{Groups: s.Groups, Watermark: s.Watermark, WokeAt: s.WokeAt}
	for _, c := range s.Channels {
		out.Channels = append(out.Channels, watermark.ChannelState{Channel: c.Channel, Kind: parseKind(c.Kind), Time: c.Time, Seq: c.Seq, Local: c.Local})
	}
	return out
}

func trackerState(tr *watermark.Tracker) schemas.WatermarkState { return ToSchema(tr.State()) }

// ToSchema converts a tracker's state for storing.
func ToSchema(s watermark.State) schemas.WatermarkState {
	out := schemas.WatermarkState{Groups: s.Groups, Watermark: s.Watermark, WokeAt: s.WokeAt}
	for _, c := range s.Channels {
		out.Channels = append(out.Channels, schemas.WatermarkChannel{Channel: c.Channel, Kind: c.Kind.String(), Time: c.Time, Seq: c.Seq, Local: c.Local})
	}
	return out
}

func parseKind(s string) watermark.Kind {
	for _, k := range []watermark.Kind{watermark.Time, watermark.Idle, watermark.Hold} {
		if k.String() == s {
			return k
		}
	}
	return watermark.Unknown
}

// IsPartitionKey reports whether key names a partition's state (KeyFor)
// rather than a host of the previous version.
func IsPartitionKey(key string) bool { return strings.HasPrefix(key, "~p") }

func parseSource(h []byte) (int32, int64, bool) {
	s := string(h)
	at := strings.IndexByte(s, '@')
	if at < 0 {
		return 0, 0, false
	}
	p, err1 := strconv.ParseInt(s[:at], 10, 32)
	o, err2 := strconv.ParseInt(s[at+1:], 10, 64)
	return int32(p), o, err1 == nil && err2 == nil
}

// Current returns a host's open windows as the query API shows them: the
// tumbling window at its latest event and the current hopping window.
func (p *Processor) Current(h *schemas.PartitionHost) []*schemas.HostWindow {
	return CurrentWindows(p.cfg.Window, h, p.cfg.TopSignatures, p.cfg.Samples)
}

// CurrentWindows is Current for any window configuration (a query process
// has no Processor).
func CurrentWindows(w Windows, h *schemas.PartitionHost, topSignatures, samples int) []*schemas.HostWindow {
	if h == nil || len(h.Panes) == 0 {
		return nil
	}
	last := h.LastEvent
	wins := []window{w.tumblingOf(last)}
	if w.HoppingSize > 0 {
		wins = append(wins, w.currentHopping(last))
	}
	var out []*schemas.HostWindow
	for _, win := range wins {
		hw := w.merge(h, win).hostWindow(h.Host, win, topSignatures, samples)
		hw.Emit, hw.Version, hw.AsOf = schemas.EmitUpdate, h.Version, last
		out = append(out, hw)
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
