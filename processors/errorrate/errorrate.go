package errorrate

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/lovoo/goka"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/deadletter"
	"github.com/logstream/logstream/processors/exactlyonce"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/state"
)

// StageName names the stage in dead letters, logs and metrics.
const StageName = "errorrate"

// Defaults of Config.
const (
	DefaultUpdateInterval  = time.Second
	DefaultSilentAfter     = 2 * time.Minute
	DefaultSilentMinEvents = 10
	DefaultMaxFuture       = time.Hour
	DefaultTopSignatures   = 5
	DefaultSamples         = 3
	// Bounds of one pane's detail; counts are never bounded.
	maxPaneSignatures = 8
	maxPaneSamples    = 3
	// maxEmits bounds the records kept for replay when timers (which
	// report what is committed) do not come.
	maxEmits = 64
)

// Loop record kinds (header state.HeaderKind): an event re-keyed by host,
// to count; a joined error event, for its sample trace; timers carry
// state.KindTimer.
const (
	KindEvent  = "event"
	KindSample = "sample"
)

// Config wires the stage. Topic names come from topology/.
type Config struct {
	Input       goka.Stream // logs.unique: every event, counted
	Joined      goka.Stream // logs.enriched: joined error events, for samples
	Loop        goka.Stream // the group's loop topic
	Windows     goka.Stream // hosts.error-rate
	Updates     goka.Stream // the alerter's input
	DeadLetters goka.Stream
	// UpdatesKey is the key of every record on Updates (one alerter sees
	// every host).
	UpdatesKey  string
	EventCodec  *codecs.Codec[schemas.LogEvent]
	WindowCodec *codecs.Codec[schemas.HostWindow]
	StateCodec  *codecs.Codec[schemas.ErrorRateState]
	PartitionOf func(key []byte) int32
	Fence       *exactlyonce.Fence
	Classifier  *Classifier

	// Window sizes and grace; the zero value means DefaultWindows().
	Window Windows
	// UpdateInterval is the event time between two updates of a host's
	// open window (the alerter's view); 0 means DefaultUpdateInterval.
	UpdateInterval time.Duration
	// EmitUpdates writes every update to Windows as well, not only the
	// final record of each window.
	EmitUpdates bool
	// SilentAfter: a host with steady traffic that sends nothing for this
	// long (wall clock) gets a silent record; 0 means DefaultSilentAfter,
	// negative disables.
	SilentAfter time.Duration
	// SilentMinEvents is the steady traffic: at least this many events in
	// each of the host's last three tumbling windows; 0 means default.
	SilentMinEvents int64
	// MaxFuture: an event further ahead than this of the wall clock or the
	// host's stream time is counted and not windowed; 0 means default.
	MaxFuture     time.Duration
	TopSignatures int
	Samples       int
	Now           func() time.Time
}

// Validate reports the first missing or invalid field.
func (c *Config) Validate() error {
	switch {
	case c.Input == "" || c.Joined == "" || c.Loop == "" || c.Windows == "" || c.Updates == "" || c.DeadLetters == "" || c.UpdatesKey == "":
		return errors.New("errorrate: Config needs Input, Joined, Loop, Windows, Updates, DeadLetters and UpdatesKey")
	case c.EventCodec == nil || c.WindowCodec == nil || c.StateCodec == nil:
		return errors.New("errorrate: Config needs EventCodec, WindowCodec and StateCodec")
	case c.PartitionOf == nil || c.Fence == nil || c.Classifier == nil:
		return errors.New("errorrate: Config needs PartitionOf, Fence and Classifier")
	case c.UpdateInterval < 0 || c.MaxFuture < 0 || c.SilentMinEvents < 0 || c.TopSignatures < 0 || c.Samples < 0:
		return errors.New("errorrate: UpdateInterval, MaxFuture, SilentMinEvents, TopSignatures and Samples must not be negative")
	}
	if c.Window != (Windows{}) {
		return c.Window.Validate()
	}
	return nil
}

// Processor is the stage's goka callbacks and counters.
type Processor struct {
	cfg   Config
	stats *Stats
	dlq   *deadletter.Writer
}

// New returns the stage for cfg.
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
	if cfg.SilentAfter == 0 {
		cfg.SilentAfter = DefaultSilentAfter
	}
	if cfg.SilentMinEvents == 0 {
		cfg.SilentMinEvents = DefaultSilentMinEvents
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

// Rebalance is goka's rebalance callback.
func (p *Processor) Rebalance(goka.Assignment) { p.cfg.Fence.Reset() }

func (p *Processor) begin(ctx goka.Context) *exactlyonce.Record {
	rec, err := p.cfg.Fence.Begin(ctx)
	if err != nil {
		ctx.Fail(err)
	}
	return rec
}

// Event is the callback for logs.unique: it re-keys each event by host
// through the loop topic (a repartition). The stage counts events before
// the trace join, not after it: an event waiting for its span would reach
// the window late (after its grace, for events near a window's end) and
// hold the alert back by the join window.
func (p *Processor) Event(ctx goka.Context, msg any) {
	p.stats.In.Add(1)
	value, _ := msg.([]byte)
	ev, ok := deadletter.Decode(ctx, msg, p.cfg.EventCodec, p.dlq)
	if !ok {
		return
	}
	host := strings.TrimSpace(ev.Host)
	if host == "" {
		// Parse always names a host ("unknown" at worst); an event
		// without one was written by something else.
		p.dlq.Emit(ctx, value, ErrNoHost)
		return
	}
	ctx.Loopback(host, value, goka.WithCtxEmitHeaders(goka.Headers{
		state.HeaderKind: []byte(KindEvent),
		HeaderSource:     []byte(strconv.Itoa(int(ctx.Partition())) + "@" + strconv.FormatInt(ctx.Offset(), 10)),
	}))
}

// HeaderSource, on an event in the loop topic, names the partition and
// offset of logs.unique it was re-keyed from: "<partition>@<offset>".
//
// The re-key is at least once: a pod that crashes after looping an event
// and before committing loops it again. Each host keeps the highest source
// offset applied per partition; the events of one source partition reach
// the host's loop partition in offset order (one writer at a time, an
// idempotent producer with one request in flight), so an event at or below
// it was counted already.
const HeaderSource = "ls-src"

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

// Joined is the callback for logs.enriched: an error event joined with its
// span is re-keyed by host to become a sample trace of its window (the
// event itself was counted from logs.unique).
func (p *Processor) Joined(ctx goka.Context, msg any) {
	ev, err := p.cfg.EventCodec.Unmarshal(msg.([]byte))
	if err != nil {
		// The join wrote it; the event was counted (or dead-lettered)
		// from logs.unique. A sample is not worth a dead letter.
		p.stats.BadSamples.Add(1)
		return
	}
	if ev.JoinStatus != schemas.JoinJoined || strings.TrimSpace(ev.Host) == "" || !p.cfg.Classifier.IsError(ev) {
		return
	}
	p.stats.Joined.Add(1)
	ctx.Loopback(strings.TrimSpace(ev.Host), msg, goka.WithCtxEmitHeaders(goka.Headers{state.HeaderKind: []byte(KindSample)}))
}

// ErrNoHost is the reason of a dead letter for an event without a host.
var ErrNoHost = errors.New("errorrate: event has no host")

// Loop is the callback for the loop topic: events keyed by host, and
// timers.
func (p *Processor) Loop(ctx goka.Context, msg any) {
	rec := p.begin(ctx)
	value, _ := msg.([]byte)
	kind := string(ctx.Headers()[state.HeaderKind])
	if kind == state.KindTimer {
		p.timer(ctx, rec, value)
		return
	}
	ev, ok := deadletter.Decode(ctx, msg, p.cfg.EventCodec, p.dlq)
	if !ok {
		return
	}
	if kind == KindSample {
		p.sample(ctx, rec, ev)
		return
	}
	p.event(ctx, rec, ev, ctx.Headers()[HeaderSource])
}

// sample adds a joined error event as a sample trace of its pane, if its
// windows are still open.
func (p *Processor) sample(ctx goka.Context, rec *exactlyonce.Record, ev *schemas.LogEvent) {
	offset := ctx.Offset()
	st, _ := ctx.Value().(*schemas.ErrorRateState)
	if st != nil && offset <= st.Applied {
		p.replay(ctx, rec, st, offset)
		return
	}
	if st == nil || p.cfg.Window.late(st, ev.Timestamp) || p.future(st, ev.Timestamp) || ev.TraceID == nil {
		// The window closed (or the host's state is gone, or the event
		// was too far ahead to be windowed): the sample has nowhere to
		// go, and the event was counted already.
		p.stats.LateSamples.Add(1)
		if st != nil {
			st.Applied = offset
			ctx.SetValue(st)
		}
		return
	}
	st.Applied = offset
	pane := p.cfg.Window.add(st, ev.Timestamp)
	s := sampleOf(ev, ev.Message)
	if addSample(pane, s) {
		st.Dirty = true
	}
	ctx.SetValue(st)
}

func sampleOf(ev *schemas.LogEvent, msg string) schemas.Sample {
	s := schemas.Sample{TraceID: *ev.TraceID, EventID: ev.EventID, Timestamp: ev.Timestamp, Message: clip(msg, 200),
		SpanService: ev.SpanService, SpanOperation: ev.SpanOperation, SpanDurationUs: -1}
	if ev.SpanDurationUs != nil {
		s.SpanDurationUs = *ev.SpanDurationUs
	}
	return s
}

// addSample keeps a few samples per pane, preferring those joined with
// their span (they name the slow call): a joined sample replaces its own
// unjoined one, or any unjoined one. It reports whether the pane changed.
func addSample(pane *schemas.Pane, s schemas.Sample) bool {
	for i := range pane.Samples {
		if pane.Samples[i].EventID == s.EventID {
			if s.SpanService != "" && pane.Samples[i].SpanService == "" {
				pane.Samples[i] = s
				return true
			}
			return false
		}
	}
	if len(pane.Samples) < maxPaneSamples {
		pane.Samples = append(pane.Samples, s)
		return true
	}
	if s.SpanService == "" {
		return false
	}
	for i := range pane.Samples {
		if pane.Samples[i].SpanService == "" {
			pane.Samples[i] = s
			return true
		}
	}
	return false
}

func newState() *schemas.ErrorRateState {
	return &schemas.ErrorRateState{Applied: -1, UpdateOffset: -1, Committed: -1}
}

func (p *Processor) event(ctx goka.Context, rec *exactlyonce.Record, ev *schemas.LogEvent, source []byte) {
	host, offset := ctx.Key(), ctx.Offset()
	st, _ := ctx.Value().(*schemas.ErrorRateState)
	if st != nil && offset <= st.Applied {
		p.replay(ctx, rec, st, offset)
		return
	}
	if st == nil {
		st = newState()
	}
	st.Applied = offset
	if sp, so, ok := parseSource(source); ok {
		if last, seen := st.Sources[sp]; seen && so <= last {
			p.stats.Relooped.Add(1)
			ctx.SetValue(st)
			return
		}
		if st.Sources == nil {
			st.Sources = map[int32]int64{}
		}
		st.Sources[sp] = so
	}
	ts := ev.Timestamp
	if p.future(st, ts) {
		// A clock gone wrong must not close every window at once.
		p.stats.Future.Add(1)
		ctx.SetValue(st)
		return
	}
	if p.cfg.Window.late(st, ts) {
		st.Late++
		p.stats.Late.Add(1)
		ctx.SetValue(st)
		return
	}
	p.stats.Events.Add(1)
	p.count(st, ev)
	if wall := ctx.Timestamp().UnixMilli(); wall > st.LastSeen {
		st.LastSeen = wall
	}
	st.StreamTime = max(st.StreamTime, ts)
	st.Silent = false
	st.Dirty = true
	p.close(rec, host, st, st.StreamTime, offset)
	if st.Dirty && st.StreamTime-st.LastUpdate >= p.cfg.UpdateInterval.Milliseconds() {
		p.update(rec, host, st, offset)
	}
	ctx.SetValue(st)
}

// future reports whether an event at ts is further ahead than MaxFuture of
// the wall clock or of the host's stream time.
func (p *Processor) future(st *schemas.ErrorRateState, ts int64) bool {
	ahead := p.cfg.MaxFuture.Milliseconds()
	return ts > p.cfg.Now().UnixMilli()+ahead || (st.StreamTime > 0 && ts > st.StreamTime+ahead)
}

// count adds one event to its pane.
func (p *Processor) count(st *schemas.ErrorRateState, ev *schemas.LogEvent) {
	pane := p.cfg.Window.add(st, ev.Timestamp)
	pane.Events++
	if ms, ok := Latency(ev); ok {
		if pane.Latency == nil {
			pane.Latency = map[int32]int64{}
		}
		Sketch(pane.Latency).Add(ms)
	}
	if !p.cfg.Classifier.IsError(ev) {
		return
	}
	p.stats.Errors.Add(1)
	pane.Errors++
	if pane.FirstError == 0 || ev.Timestamp < pane.FirstError {
		pane.FirstError = ev.Timestamp
	}
	msg := ev.Message
	if msg == "" && ev.HTTPStatus != nil {
		msg = "HTTP " + itoa(int64(*ev.HTTPStatus))
	}
	sig := Signature(msg)
	found := false
	for i := range pane.Signatures {
		if pane.Signatures[i].Signature == sig {
			pane.Signatures[i].Count++
			found = true
			break
		}
	}
	if !found && len(pane.Signatures) < maxPaneSignatures {
		pane.Signatures = append(pane.Signatures, schemas.SignatureCount{Signature: sig, Count: 1, Example: clip(msg, 200)})
	}
	if ev.TraceID != nil && *ev.TraceID != "" {
		addSample(pane, sampleOf(ev, msg))
	}
}

// close writes the final record of every window the host's clock now
// closes.
func (p *Processor) close(rec *exactlyonce.Record, host string, st *schemas.ErrorRateState, now, offset int64) {
	for _, win := range p.cfg.Window.closing(st, now) {
		hw := p.cfg.Window.merge(st, win).hostWindow(host, win, p.cfg.TopSignatures, p.cfg.Samples)
		hw.Emit = schemas.EmitFinal
		p.write(rec, host, st, hw, offset)
		p.stats.Closed.Add(1)
	}
	p.cfg.Window.prune(st)
}

// update writes the host's open tumbling window (and, with EmitUpdates,
// its current hopping window) as updates.
func (p *Processor) update(rec *exactlyonce.Record, host string, st *schemas.ErrorRateState, offset int64) {
	wins := []window{p.cfg.Window.tumblingOf(st.StreamTime)}
	if p.cfg.EmitUpdates && p.cfg.Window.HoppingSize > 0 {
		wins = append(wins, p.cfg.Window.currentHopping(st.StreamTime))
	}
	for _, win := range wins {
		if (win.kind == schemas.WindowTumbling && win.end <= st.TumblingClosed) || (win.kind == schemas.WindowHopping && win.end <= st.HoppingClosed) {
			continue // closed (by a timer's estimate): its final is written
		}
		hw := p.cfg.Window.merge(st, win).hostWindow(host, win, p.cfg.TopSignatures, p.cfg.Samples)
		if hw.Events == 0 {
			continue
		}
		hw.Emit = schemas.EmitUpdate
		p.write(rec, host, st, hw, offset)
		p.stats.Updates.Add(1)
	}
	st.Dirty = false
	st.LastUpdate = st.StreamTime
	st.UpdateOffset = offset
}

// write gives hw the host's next version, writes it where it goes and
// keeps it for replays.
func (p *Processor) write(rec *exactlyonce.Record, host string, st *schemas.ErrorRateState, hw *schemas.HostWindow, offset int64) {
	// Versions grow with the loop offset, so they keep growing for a host
	// whose state was deleted and started again.
	st.Version = max(st.Version+1, offset<<8)
	hw.Version, hw.AsOf = st.Version, st.StreamTime
	b, err := p.cfg.WindowCodec.Marshal(hw)
	if err != nil {
		// Every field is ours: a failure is a bug, not bad input.
		panic("errorrate: encoding a HostWindow: " + err.Error())
	}
	if hw.Emit != schemas.EmitUpdate {
		// Finals (and silent notices) are kept for replays. Updates are
		// not: each is a snapshot the next one supersedes, the alerter
		// takes any version newer than what it has, and they come after
		// a record's finals, so the fence's numbering of the finals holds
		// when a replay writes the finals alone. Keeping them would make
		// the state (written on every event) many times larger.
		st.Emits = append(st.Emits, schemas.Emit{Offset: offset, Value: b})
		if n := len(st.Emits); n > maxEmits {
			st.Emits = append(st.Emits[:0], st.Emits[n-maxEmits:]...)
		}
	}
	p.send(rec, host, hw, b)
}

// send writes an encoded HostWindow: finals to Windows (guarded by the
// fence: one writer per partition) and, for tumbling windows, to Updates;
// updates to Updates, and to Windows with EmitUpdates.
func (p *Processor) send(rec *exactlyonce.Record, host string, hw *schemas.HostWindow, b []byte) {
	toWindows := hw.Emit == schemas.EmitFinal || (hw.Emit == schemas.EmitUpdate && p.cfg.EmitUpdates)
	if toWindows && !rec.Emit(p.cfg.Windows, host, b) {
		p.stats.Suppressed.Add(1)
	}
	if hw.Kind == schemas.WindowTumbling || hw.Emit == schemas.EmitSilent {
		// Unguarded (another partition's key): the alerter ignores a
		// version it has seen.
		rec.Emit(p.cfg.Updates, p.cfg.UpdatesKey, b)
	}
}

// replay writes again what the record at offset wrote; the fence drops
// what landed, the alerter what it has seen.
func (p *Processor) replay(_ goka.Context, rec *exactlyonce.Record, st *schemas.ErrorRateState, offset int64) {
	p.stats.Replayed.Add(1)
	for _, e := range st.Emits {
		if e.Offset != offset {
			continue
		}
		hw, err := p.cfg.WindowCodec.Unmarshal(e.Value)
		if err != nil {
			continue // cannot happen: we wrote it
		}
		p.send(rec, hw.Host, hw, e.Value)
	}
}

// timer is wall-clock punctuation: it closes the windows of a host whose
// clock, advanced by the wall-clock time it has been silent, passes their
// grace; flushes a pending update; and notices a host gone silent.
func (p *Processor) timer(ctx goka.Context, rec *exactlyonce.Record, value []byte) {
	p.stats.Timers.Add(1)
	t, err := state.DecodeTimer(value)
	if err != nil {
		p.dlq.Emit(ctx, value, err)
		return
	}
	host, offset := ctx.Key(), ctx.Offset()
	st, _ := ctx.Value().(*schemas.ErrorRateState)
	if st == nil {
		return
	}
	if offset <= st.Applied {
		p.replay(ctx, rec, st, offset)
		return
	}
	st.Applied = offset
	if c, ok := t.Committed[string(p.cfg.Loop)]; ok && c > st.Committed {
		st.Committed = c
	}
	pruneEmits(st)
	if now := p.estimate(st, t); now > st.StreamTime {
		p.close(rec, host, st, now, offset)
	}
	if st.Dirty {
		p.update(rec, host, st, offset)
	}
	if p.silentDue(st, t) {
		st.Silent = true
		hw := &schemas.HostWindow{Host: host, Kind: schemas.WindowTumbling, Emit: schemas.EmitSilent,
			Start: st.StreamTime, End: st.StreamTime + max(0, t.Wall-st.LastSeen),
			Signatures: []schemas.Signature{}, Samples: []schemas.TraceSample{}}
		p.write(rec, host, st, hw, offset)
		p.stats.Silent.Add(1)
	}
	if p.forgotten(st, t) {
		// Nothing open, nothing to replay, and silent for a day: hosts
		// come and go (pod names), so state is bounded by the hosts of
		// the last day.
		ctx.Delete()
		p.stats.Deleted.Add(1)
		return
	}
	ctx.SetValue(st)
}

// HostRetention is how long a host's state is kept after its last event
// once its windows are closed.
const HostRetention = 24 * time.Hour

func (p *Processor) forgotten(st *schemas.ErrorRateState, t state.Timer) bool {
	return len(st.Panes) == 0 && len(st.Emits) == 0 && t.Wall-st.LastSeen >= HostRetention.Milliseconds()
}

// estimate is the host's clock for wall-clock punctuation: its stream time
// advanced by the wall-clock time since its last event.
func (p *Processor) estimate(st *schemas.ErrorRateState, t state.Timer) int64 {
	from := silentSince(st, t)
	if t.Wall <= from || st.LastSeen == 0 {
		return st.StreamTime
	}
	return st.StreamTime + (t.Wall - from)
}

// silentSince is when the host's wall-clock silence began: its last event,
// or when this pod took its partition if that is later (a pod that was
// down, or a partition handed over, is no silent host).
func silentSince(st *schemas.ErrorRateState, t state.Timer) int64 {
	return max(st.LastSeen, t.Since)
}

// silentDue reports whether the host, which had steady traffic, has been
// silent for SilentAfter.
func (p *Processor) silentDue(st *schemas.ErrorRateState, t state.Timer) bool {
	if p.cfg.SilentAfter < 0 || st.Silent || st.LastSeen == 0 || t.Wall-silentSince(st, t) < p.cfg.SilentAfter.Milliseconds() {
		return false
	}
	// Steady: the three tumbling windows before the silence each had
	// enough events. Recent also holds the windows that closed during the
	// silence (empty), so look at the three before the trailing zeros.
	r := st.Recent
	for len(r) > 0 && r[len(r)-1] == 0 {
		r = r[:len(r)-1]
	}
	if len(r) < 3 {
		return false
	}
	for _, n := range r[len(r)-3:] {
		if n < p.cfg.SilentMinEvents {
			return false
		}
	}
	return true
}

// pruneEmits drops kept records whose source record is committed: it will
// never be replayed.
func pruneEmits(st *schemas.ErrorRateState) {
	i := 0
	for i < len(st.Emits) && st.Emits[i].Offset < st.Committed {
		i++
	}
	if i > 0 {
		st.Emits = append(st.Emits[:0], st.Emits[i:]...)
	}
}

// Expired tells the sweeper whether a host's state has work at the timer:
// windows to close by wall clock, an update to flush, a silence to report,
// or kept records now committed.
func (p *Processor) Expired(_ int32, _ string, value []byte, t state.Timer) bool {
	st, err := p.cfg.StateCodec.Unmarshal(value)
	if err != nil {
		return false
	}
	if st.Dirty || p.silentDue(st, t) || p.forgotten(st, t) {
		return true
	}
	if c, ok := t.Committed[string(p.cfg.Loop)]; ok && len(st.Emits) > 0 && st.Emits[0].Offset < c {
		return true
	}
	if len(st.Panes) == 0 {
		return false
	}
	now := p.estimate(st, t) - p.cfg.Window.Grace.Milliseconds()
	return p.cfg.Window.tumblingOf(st.Panes[0].Start).end <= now
}

// Current returns a host's open windows as the query API shows them: the
// tumbling window at its stream time and the current hopping window.
func (p *Processor) Current(host string, st *schemas.ErrorRateState) []*schemas.HostWindow {
	return CurrentWindows(p.cfg.Window, host, st, p.cfg.TopSignatures, p.cfg.Samples)
}

// CurrentWindows is Current for any window configuration (a query process
// has no Processor).
func CurrentWindows(w Windows, host string, st *schemas.ErrorRateState, topSignatures, samples int) []*schemas.HostWindow {
	if st == nil || st.StreamTime == 0 {
		return nil
	}
	wins := []window{w.tumblingOf(st.StreamTime)}
	if w.HoppingSize > 0 {
		wins = append(wins, w.currentHopping(st.StreamTime))
	}
	var out []*schemas.HostWindow
	for _, win := range wins {
		hw := w.merge(st, win).hostWindow(host, win, topSignatures, samples)
		hw.Emit, hw.Version, hw.AsOf = schemas.EmitUpdate, st.Version, st.StreamTime
		out = append(out, hw)
	}
	return out
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
