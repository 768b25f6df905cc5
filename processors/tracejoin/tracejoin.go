package tracejoin

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/deadletter"
	"github.com/logstream/logstream/processors/exactlyonce"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/state"
	"github.com/logstream/logstream/watermark"
)

// StageName names the stage in dead letters, logs and metrics.
const StageName = "tracejoin"

// Defaults of Config.
const (
	DefaultWindow            = 30 * time.Second
	DefaultMaxFuture         = time.Hour
	DefaultMaxEventsPerTrace = 1000
)

// Loop record kinds (header state.HeaderKind): an event or a span re-keyed
// by trace id; timers carry state.KindTimer.
const (
	KindEvent = "event"
	KindSpan  = "span"
)

// An event re-keyed through the loop topic carries its routing headers
// (schemas.RoutingHeaders): what the join needs to hold it, so that the
// loop side decodes the event only to emit it. Records without them
// (written by the previous version) are decoded.

// routing is what the loop side needs of an event to hold it.
type routing struct {
	id     string
	ts     int64
	spanID string // lowercase; "" joins the root span
}

func routingFrom(r schemas.Routing) routing {
	out := routing{id: r.EventID, ts: r.Timestamp}
	if r.SpanID != nil {
		out.spanID = strings.ToLower(*r.SpanID)
	}
	return out
}

// Config wires the stage. Topic names come from topology/.
type Config struct {
	Events      goka.Stream // logs.unique
	Spans       goka.Stream // spans
	Loop        goka.Stream // the group's loop topic
	Enriched    goka.Stream // output
	DeadLetters goka.Stream
	EventCodec  *codecs.Codec[schemas.LogEvent]
	SpanCodec   *codecs.Codec[schemas.Span]
	StateCodec  *codecs.Codec[schemas.TraceState]
	PartitionOf func(key []byte) int32
	Fence       *exactlyonce.Fence
	// Inputs keeps the watermark of each partition of Events; Loops that
	// of each partition of the loop topic, which hears the first from
	// every partition of Events: an event times out when Loops' watermark
	// passes its time plus the window. KeyFor names a key of a loop
	// partition, for the watermark records the stage writes there; Every
	// is their resolution (0: watermark.DefaultEvery).
	Inputs *watermark.Partitions
	Loops  *watermark.Partitions
	KeyFor func(partition int32) string
	Every  time.Duration
	// Partitions of the loop topic.
	Partitions int32
	// Window is how long (event time) an event waits for its span; 0 means
	// DefaultWindow.
	Window time.Duration
	// MaxFuture: an event further ahead than this of the wall clock or the
	// stream time does not wait; 0 means DefaultMaxFuture.
	MaxFuture time.Duration
	// MaxEventsPerTrace bounds the events one trace holds; further events
	// leave at once. 0 means DefaultMaxEventsPerTrace.
	MaxEventsPerTrace int
	// CachedTraces bounds the decoded traces kept in memory in front of
	// the table; 0 means DefaultCachedTraces, negative: none kept.
	CachedTraces int
	// Registry is the table's (state.Track): the stage notes there when
	// each trace next has work (events to release, the trace to close),
	// for the sweeper that visits the traces due. nil: no sweeper.
	Registry *state.Registry
	// Direct, when its processor has built it, writes the re-keyed events
	// to the loop topic with their headers as a record's, not through
	// ctx.Loopback's maps (nil or not ready: Loopback).
	Direct *broker.Direct
	Now    func() time.Time
	// SpansIdle: a partition of the spans topic that has read no span for
	// this long (wall clock) stops holding the join's event time back
	// (spansGate); 0 means watermark.DefaultIdle.
	SpansIdle time.Duration
	// SpanOrigins, when set, keeps for each partition of Spans the
	// progress of every partition of the Collector's topic, from the
	// watermark records the spans stage writes there: the join's event
	// time is held at the slowest of them (spansGate). nil, or no
	// watermark record heard yet: at the latest span end read.
	SpanOrigins *watermark.Partitions
}

// Validate reports the first missing or invalid field.
func (c *Config) Validate() error {
	switch {
	case c.Events == "" || c.Spans == "" || c.Loop == "" || c.Enriched == "" || c.DeadLetters == "":
		return errors.New("tracejoin: Config needs Events, Spans, Loop, Enriched and DeadLetters")
	case c.EventCodec == nil || c.SpanCodec == nil || c.StateCodec == nil:
		return errors.New("tracejoin: Config needs EventCodec, SpanCodec and StateCodec")
	case c.PartitionOf == nil || c.Fence == nil || c.Inputs == nil || c.Loops == nil || c.KeyFor == nil || c.Partitions < 1:
		return errors.New("tracejoin: Config needs PartitionOf, Fence, Inputs, Loops, KeyFor and Partitions")
	case c.Window < 0 || c.MaxFuture < 0 || c.MaxEventsPerTrace < 0:
		return errors.New("tracejoin: Window, MaxFuture and MaxEventsPerTrace must not be negative")
	}
	return nil
}

// Processor is the stage's goka callbacks and counters.
type Processor struct {
	cfg   Config
	stats *Stats
	dlq   *deadletter.Writer

	fanMu sync.Mutex
	fans  map[int32]*watermark.Fanout // per partition of Events: what each loop partition heard

	vidMu sync.Mutex
	vids  map[int32]int64 // per partition: the last mark given to a sweep's release

	cache *traceCache
	spans *spansGate
}

// New returns the stage for cfg.
func New(cfg Config) (*Processor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.MaxFuture == 0 {
		cfg.MaxFuture = DefaultMaxFuture
	}
	if cfg.MaxEventsPerTrace == 0 {
		cfg.MaxEventsPerTrace = DefaultMaxEventsPerTrace
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CachedTraces == 0 {
		cfg.CachedTraces = DefaultCachedTraces
	}
	p := &Processor{cfg: cfg, stats: newStats(), fans: map[int32]*watermark.Fanout{}, vids: map[int32]int64{},
		cache: newTraceCache(max(cfg.CachedTraces, 0)), spans: newSpansGate(cmp.Or(cfg.SpansIdle, watermark.DefaultIdle), cfg.Now, cfg.SpanOrigins)}
	p.dlq = &deadletter.Writer{Stage: StageName, Topic: cfg.DeadLetters, Now: cfg.Now, Count: func() { p.stats.DeadLetters.Add(1) }}
	return p, nil
}

// Stats returns the stage's live counters.
func (p *Processor) Stats() *Stats { return p.stats }

// Window returns the join window.
func (p *Processor) Window() time.Duration { return p.cfg.Window }

// Rebalance is goka's rebalance callback.
func (p *Processor) Rebalance(a goka.Assignment) {
	p.cfg.Fence.Reset()
	p.fanMu.Lock()
	p.fans = map[int32]*watermark.Fanout{}
	p.fanMu.Unlock()
	p.vidMu.Lock()
	p.vids = map[int32]int64{}
	p.vidMu.Unlock()
	p.cache.clear()
	for part := range a {
		p.cfg.Inputs.Reset(part)
		p.cfg.Loops.Reset(part)
		p.spans.reset(part)
	}
}

// begin starts the record's fenced output; nil when it failed (goka's
// Fail panics to stop the processor, but only returns once the processor
// is stopping: the callback must then return without output).
func (p *Processor) begin(ctx goka.Context) *exactlyonce.Record {
	rec, err := p.cfg.Fence.Begin(ctx)
	if err != nil {
		ctx.Fail(err)
		return nil
	}
	return rec
}

// NormalizeTraceID returns a trace id as 32 lowercase hex digits: W3C ids
// as they are (any case), 64-bit ids (16 digits, Jaeger and Zipkin) padded
// with zeros on the left as OpenTelemetry does. The all-zero id is invalid.
func NormalizeTraceID(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) == 16 {
		s = strings.Repeat("0", 16) + s
	}
	if len(s) != 32 || strings.Trim(s, "0") == "" {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", false
		}
	}
	return s, true
}

// Event is the callback for logs.unique. A tombstone is a dead letter
// before anything else: re-keyed by its routing headers, its null value
// would be a tombstone on the loop topic.
func (p *Processor) Event(ctx goka.Context, msg any) {
	rec := p.begin(ctx)
	if rec == nil {
		return
	}
	if p.dlq.Tombstone(ctx, msg) {
		p.stats.Events.Add(1)
		return
	}
	value, _ := msg.([]byte)
	stamps, err := watermark.Decode(ctx.Headers()[watermark.HeaderStamp])
	if err != nil {
		p.stats.BadStamps.Add(1)
	}
	part := ctx.Partition()
	if string(ctx.Headers()[watermark.HeaderKind]) == watermark.KindWatermark {
		wm, kind := p.cfg.Inputs.Observe(part, ctx.Timestamp(), stamps, false, "", 0, 0)
		p.fanOut(ctx, p.stampOf(part, wm, kind, ctx.Offset()), -1)
		return
	}
	p.stats.Events.Add(1)
	// An event with its routing in headers (from dedupe, from parse) is
	// re-keyed without being decoded; it is decoded only to leave at once.
	var ev *schemas.LogEvent
	r, routed := schemas.EventRouting(ctx.Headers())
	if !routed {
		var ok bool
		if ev, ok = deadletter.Decode(ctx, msg, p.cfg.EventCodec, p.dlq); !ok {
			return
		}
		r = schemas.RoutingOf(ev)
	}
	local := ""
	if !watermark.Future(r.Timestamp, ctx.Timestamp(), p.cfg.Now(), p.cfg.MaxFuture) {
		local = watermark.Channel(string(ctx.Topic()), part)
	}
	wm, kind := p.cfg.Inputs.Observe(part, ctx.Timestamp(), stamps, true, local, r.Timestamp, ctx.Offset())
	stamp := p.stampOf(part, wm, kind, ctx.Offset())
	tid, valid := "", false
	if r.TraceID != nil {
		if tid, valid = NormalizeTraceID(*r.TraceID); !valid {
			p.stats.InvalidTraceIDs.Add(1)
		}
	}
	if !valid {
		key := ctx.Key()
		if key == "" {
			key = r.EventID
		}
		if ev != nil {
			ev.JoinStatus = schemas.JoinNoTrace
			p.emitted(p.enriched(rec, key, ev, schemas.JoinNoTrace), schemas.JoinNoTrace)
		} else if err := p.emitValue(rec, key, nil, value, schemas.JoinNoTrace); err != nil {
			p.dlq.Emit(ctx, value, err)
		}
		p.fanOut(ctx, stamp, -1)
		return
	}
	// The bytes go as they came; the headers carry what the loop side
	// needs to hold the event without decoding it.
	var arr [6]kgo.RecordHeader
	hs := append(arr[:0], kgo.RecordHeader{Key: state.HeaderKind, Value: kindEvent},
		kgo.RecordHeader{Key: watermark.HeaderStamp, Value: watermark.Encode(stamp)})
	hs = r.AppendPassHeaders(hs, ctx.Headers())
	if p.cfg.Direct.Ready() {
		p.cfg.Direct.SendRecord(ctx, string(p.cfg.Loop), tid, value, hs)
	} else {
		ctx.Loopback(tid, value, goka.WithCtxEmitHeaders(broker.HeaderMap(hs)))
	}
	p.stats.Rekeyed.Add(1)
	p.fanOut(ctx, stamp, p.cfg.PartitionOf([]byte(tid)))
}

// kindEvent is the state.HeaderKind value of a re-keyed event (a header
// value is only read, so one serves them all).
var kindEvent = []byte(KindEvent)

// stampOf is what the stage vouches for partition part of Events, to the
// loop partitions.
func (p *Processor) stampOf(part int32, wm int64, kind watermark.Kind, seq int64) watermark.Stamp {
	s := watermark.Stamp{Channel: watermark.Channel(string(p.cfg.Events), part), Kind: watermark.Hold, Seq: seq}
	switch kind {
	case watermark.Time:
		s.Kind, s.Time = watermark.Time, wm
	case watermark.Idle:
		s.Kind, s.Time = watermark.Idle, wm
	}
	return s
}

// fanOut notes that the loop partition target got stamp (with an event;
// -1: none) and writes it to every other loop partition that has not
// heard it for a while.
func (p *Processor) fanOut(ctx goka.Context, stamp watermark.Stamp, target int32) {
	part, now := ctx.Partition(), ctx.Timestamp()
	p.fanMu.Lock()
	f := p.fans[part]
	if f == nil {
		f = &watermark.Fanout{Every: p.cfg.Every}
		p.fans[part] = f
	}
	if target >= 0 {
		f.Sent(target, stamp, now)
	}
	var due []int32
	for lp := int32(0); lp < p.cfg.Partitions; lp++ {
		if lp != target && f.Due(lp, stamp, now) {
			f.Sent(lp, stamp, now)
			due = append(due, lp)
		}
	}
	p.fanMu.Unlock()
	if len(due) == 0 {
		return
	}
	v, h := watermark.Record(stamp)
	for _, lp := range due {
		ctx.Loopback(p.cfg.KeyFor(lp), v, goka.WithCtxEmitHeaders(h))
		p.stats.Watermarks.Add(1)
	}
}

// Span is the callback for the spans topic.
func (p *Processor) Span(ctx goka.Context, msg any) {
	rec := p.begin(ctx)
	if rec == nil {
		return
	}
	if p.dlq.Tombstone(ctx, msg) {
		p.stats.Spans.Add(1)
		return
	}
	if string(ctx.Headers()[watermark.HeaderKind]) == watermark.KindWatermark {
		stamps, err := watermark.Decode(ctx.Headers()[watermark.HeaderStamp])
		if err != nil {
			p.stats.BadStamps.Add(1)
		}
		p.spans.heard(ctx.Partition(), ctx.Timestamp(), stamps)
		return
	}
	p.stats.Spans.Add(1)
	value, _ := msg.([]byte)
	sp, ok := deadletter.Decode(ctx, msg, p.cfg.SpanCodec, p.dlq)
	if !ok {
		return
	}
	// Spans do not move the watermark (the events' does): they only show
	// the partition is alive.
	p.cfg.Loops.Observe(ctx.Partition(), ctx.Timestamp(), nil, true, "", 0, 0)
	// But they hold it back while they are behind (spansGate).
	p.spans.observe(ctx.Partition(), (sp.Start+sp.DurationUs)/1000)
	p.span(ctx, rec, value, sp)
}

// Loop is the callback for the loop topic: re-keyed events and spans, and
// window timers.
func (p *Processor) Loop(ctx goka.Context, msg any) {
	rec := p.begin(ctx)
	if rec == nil {
		return
	}
	value, _ := msg.([]byte)
	kind := string(ctx.Headers()[state.HeaderKind])
	if kind != state.KindTimer {
		stamps, err := watermark.Decode(ctx.Headers()[watermark.HeaderStamp])
		if err != nil {
			p.stats.BadStamps.Add(1)
		}
		p.cfg.Loops.Observe(ctx.Partition(), ctx.Timestamp(), stamps, kind != watermark.KindWatermark, "", 0, 0)
	}
	// The stage never loops a null value (Event and Span turn tombstones
	// away; timers, events, spans and watermark records all have bytes):
	// one here was written by something else. It has been observed like
	// any loop record; it is a dead letter like a tombstone on an input.
	if p.dlq.Tombstone(ctx, msg) {
		return
	}
	switch kind {
	case watermark.KindWatermark:
		return
	case state.KindTimer:
		p.timer(ctx, rec, value)
	case KindSpan:
		sp, ok := deadletter.Decode(ctx, msg, p.cfg.SpanCodec, p.dlq)
		if ok {
			p.span(ctx, rec, value, sp)
		}
	default:
		if r, ok := schemas.EventRouting(ctx.Headers()); ok {
			p.event(ctx, rec, value, routingFrom(r), nil)
			return
		}
		ev, ok := deadletter.Decode(ctx, msg, p.cfg.EventCodec, p.dlq)
		if ok {
			p.event(ctx, rec, value, routing{id: ev.EventID, ts: ev.Timestamp, spanID: eventSpanID(ev)}, ev)
		}
	}
}

// Errors in dead letters of spans.
var (
	ErrNoTraceID  = errors.New("tracejoin: span has no trace id")
	ErrBadTraceID = errors.New("tracejoin: span trace id is not 32 hex digits")
	ErrNoSpanID   = errors.New("tracejoin: span has no span id")
)

func (p *Processor) span(ctx goka.Context, rec *exactlyonce.Record, value []byte, sp *schemas.Span) {
	if strings.TrimSpace(sp.TraceID) == "" {
		p.stats.BadSpans.Add(1)
		p.dlq.Emit(ctx, value, ErrNoTraceID)
		return
	}
	tid, ok := NormalizeTraceID(sp.TraceID)
	if !ok {
		p.stats.BadSpans.Add(1)
		p.dlq.Emit(ctx, value, fmt.Errorf("%w: %q", ErrBadTraceID, sp.TraceID))
		return
	}
	if strings.TrimSpace(sp.SpanID) == "" {
		p.stats.BadSpans.Add(1)
		p.dlq.Emit(ctx, value, ErrNoSpanID)
		return
	}
	if p.cfg.PartitionOf([]byte(tid)) != ctx.Partition() || ctx.Key() != tid {
		// Keyed or placed otherwise than goka would: send it to its
		// trace's partition.
		ctx.Loopback(tid, value, goka.WithCtxEmitHeaders(goka.Headers{state.HeaderKind: []byte(KindSpan)}))
		p.stats.Rerouted.Add(1)
		return
	}
	topic, offset := string(ctx.Topic()), ctx.Offset()
	st, c := p.load(ctx)
	if st != nil && offset <= p.applied(st, topic) {
		p.replay(rec, tid, st, topic, offset, nil)
		return
	}
	if st == nil {
		st = newState()
	}
	p.setApplied(st, topic, offset)
	spanID := strings.ToLower(sp.SpanID)
	if spanOf(st, spanID) != nil {
		p.stats.DuplicateSpans.Add(1)
		p.save(ctx, st)
		return
	}
	end := (sp.Start + sp.DurationUs) / 1000
	ref := schemas.SpanRef{SpanID: spanID, Service: sp.Service, Operation: sp.Operation,
		DurationUs: sp.DurationUs, Status: sp.Status.String(), End: end}
	if sp.ParentSpanID != nil && strings.Trim(*sp.ParentSpanID, "0") != "" {
		parent := strings.ToLower(*sp.ParentSpanID)
		ref.ParentSpanID = &parent
	}
	st.Spans = append(st.Spans, ref)
	st.LastActivity = max(st.LastActivity, end)
	for i := range st.Events {
		e := &st.Events[i]
		if e.EmittedTopic != "" {
			continue
		}
		// Only the events naming this span (or the root, for a root span)
		// are decoded.
		id, ok := p.spanIDOf(c, e)
		if !ok {
			// Held by its headers, its bytes do not decode: a dead
			// letter, not an event waiting for ever.
			e.EmittedTopic, e.EmittedOffset = topic, offset
			p.badHeld(ctx, e)
			continue
		}
		if spanByID(st, id) == nil {
			continue
		}
		if p.emitValue(rec, tid, st, e.Value, schemas.JoinJoined) != nil {
			continue // cannot happen: spanIDOf decoded it
		}
		e.EmittedTopic, e.EmittedOffset = topic, offset
	}
	p.save(ctx, st)
}

// event holds or emits a re-keyed event; ev is nil when it was not
// decoded (routing came in headers): it is decoded only to be emitted.
func (p *Processor) event(ctx goka.Context, rec *exactlyonce.Record, value []byte, r routing, ev *schemas.LogEvent) {
	tid := ctx.Key()
	topic, offset := string(ctx.Topic()), ctx.Offset()
	st, _ := p.load(ctx)
	if st != nil && offset <= p.applied(st, topic) {
		p.replay(rec, tid, st, topic, offset, value)
		return
	}
	if st == nil {
		st = newState()
	}
	p.setApplied(st, topic, offset)
	if eventOf(st, r.id) != nil {
		// Re-keyed twice (a replay upstream): the first is held already.
		p.stats.DuplicateEvents.Add(1)
		p.save(ctx, st)
		return
	}
	held := schemas.HeldEvent{EventID: r.id, Timestamp: r.ts, EmittedOffset: -1}
	stream := p.eventTime(ctx.Partition())
	future := watermark.Future(r.ts, ctx.Timestamp(), p.cfg.Now(), p.cfg.MaxFuture)
	status := ""
	switch {
	case spanByID(st, r.spanID) != nil:
		status = schemas.JoinJoined
	case future:
		p.stats.Future.Add(1)
		status = schemas.JoinTimeout
	case r.ts+p.cfg.Window.Milliseconds() <= stream:
		p.stats.Late.Add(1)
		status = schemas.JoinTimeout
	case pendingOf(st) >= p.cfg.MaxEventsPerTrace:
		p.stats.Overflow.Add(1)
		status = schemas.JoinTimeout
	}
	if status != "" {
		if ev != nil {
			p.emit(rec, tid, st, ev, status)
		} else if err := p.emitValue(rec, tid, st, value, status); err != nil {
			p.dlq.Emit(ctx, value, err)
			p.save(ctx, st)
			return
		}
		// Its bytes are not kept: the only use of an emitted event's bytes
		// is to emit it again when the record that emitted it is
		// replayed, and that record is this event (replay). The state,
		// written again on every span and event of the trace, stays small.
		held.EmittedTopic, held.EmittedOffset = topic, offset
	} else {
		// A waiting event's bytes are kept: a copy, because value is a
		// slice of the consumer's fetch buffer, and holding it would keep
		// that whole buffer alive while the event waits.
		held.Value = bytes.Clone(value)
	}
	st.Events = append(st.Events, held)
	if !future {
		st.LastActivity = max(st.LastActivity, r.ts)
	}
	if c := p.save(ctx, st); c != nil && status == "" {
		c.spans[r.id] = r.spanID
	}
}

// timer takes a timer record the previous version's sweeper sent through
// the loop topic: the same decision as then, with the timer's values.
func (p *Processor) timer(ctx goka.Context, rec *exactlyonce.Record, value []byte) {
	p.stats.Timers.Add(1)
	t, err := state.DecodeTimer(value)
	if err != nil {
		p.dlq.Emit(ctx, value, err)
		return
	}
	topic, offset := string(ctx.Topic()), ctx.Offset()
	tid := ctx.Key()
	st, _ := p.load(ctx)
	if st == nil {
		return
	}
	if offset <= p.applied(st, topic) {
		p.replay(rec, tid, st, topic, offset, nil)
		return
	}
	window := p.cfg.Window.Milliseconds()
	emitted := false
	for i := range st.Events {
		e := &st.Events[i]
		if e.EmittedTopic != "" || e.Timestamp > t.StreamTime-window {
			continue
		}
		if p.emitValue(rec, tid, st, e.Value, schemas.JoinTimeout) != nil {
			continue
		}
		e.EmittedTopic, e.EmittedOffset = topic, offset
		emitted = true
	}
	if emitted {
		p.setApplied(st, topic, offset)
		p.save(ctx, st)
		return
	}
	if p.closable(st, t) {
		p.close(ctx)
	}
}

// closable reports whether a trace's state may go at t: nothing waits,
// the window has passed its last activity, and every record that changed
// it is committed (no replay can need it).
func (p *Processor) closable(st *schemas.TraceState, t state.Timer) bool {
	return pendingOf(st) == 0 && markOf(st, p.markedTopic()) < 0 && st.LastActivity <= t.StreamTime-p.cfg.Window.Milliseconds() &&
		t.IsCommitted(string(p.cfg.Spans), st.AppliedSpans) && t.IsCommitted(string(p.cfg.Loop), st.AppliedLoop)
}

func (p *Processor) close(ctx goka.Context) {
	ctx.Delete()
	p.cache.del(ctx.Partition(), ctx.Key())
	p.cfg.Registry.Forget(ctx.Partition(), ctx.Key())
	p.stats.Closed.Add(1)
}

// save writes a trace's state, caches it, and notes when it next has
// work.
func (p *Processor) save(ctx goka.Context, st *schemas.TraceState) *cachedTrace {
	ctx.SetValue(st)
	p.cfg.Registry.Note(ctx.Partition(), ctx.Key(), p.dueOf(st))
	return p.cache.put(ctx.Partition(), ctx.Key(), st)
}

// The pseudo-topics of releases made by sweeps (HeldEvent.EmittedTopic,
// and the fence's input topic of their emits): sweptTopic for a release
// emitted, markedTopic for one decided and not yet emitted. A held event's
// EmittedOffset is then its release's mark.
func (p *Processor) sweptTopic() string  { return string(p.cfg.Loop) + ".sweep" }
func (p *Processor) markedTopic() string { return string(p.cfg.Loop) + ".sweep-marked" }

// markOf returns the lowest mark of a trace's decided releases, -1 for
// none.
func markOf(st *schemas.TraceState, marked string) int64 {
	m := int64(-1)
	for _, e := range st.Events {
		if e.EmittedTopic == marked && (m < 0 || e.EmittedOffset < m) {
			m = e.EmittedOffset
		}
	}
	return m
}

// dueOf is when a trace next has work, exactly: its decided releases at
// once (in the order of their marks); else when the watermark passes its
// oldest waiting event plus the window; else its close, when the window
// has passed its last activity and what changed it is committed.
func (p *Processor) dueOf(st *schemas.TraceState) state.Due {
	if m := markOf(st, p.markedTopic()); m >= 0 {
		return state.Due{At: math.MaxInt64, Marked: m}
	}
	window := p.cfg.Window.Milliseconds()
	oldest, waiting := int64(math.MaxInt64), false
	for _, e := range st.Events {
		if e.EmittedTopic == "" {
			oldest, waiting = min(oldest, e.Timestamp), true
		}
	}
	if waiting {
		n := 0
		for _, e := range st.Events {
			if e.EmittedTopic == "" {
				n++
			}
		}
		return state.Due{At: sat(oldest, window), Marked: -1, Held: n}
	}
	return state.Due{At: sat(st.LastActivity, window), Marked: -1, Waits: [3]state.Wait{
		{Topic: string(p.cfg.Spans), Offset: st.AppliedSpans},
		{Topic: string(p.cfg.Loop), Offset: st.AppliedLoop},
	}}
}

// sat is a+b without overflow past MaxInt64.
func sat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// DueOf tells the sweeper when a stored trace has work (for the traces a
// pod finds in its store when it opens a partition).
func (p *Processor) DueOf(_ string, value []byte) (state.Due, bool) {
	st, err := p.cfg.StateCodec.Unmarshal(value)
	if err != nil {
		return state.Due{}, false
	}
	return p.dueOf(st), true
}

// Sweep is the table's visitor (state.VisitName). A visit has no input
// record whose replay would repeat it, so a release goes in two visits:
// the first (state.VisitDue) decides which events leave and writes that
// into the trace's state under a mark that grows with every release of
// the partition; the sweeper's next visit (state.VisitMarked, once that
// write is acknowledged) emits them through the fence as coming from
// (sweptTopic, mark). A crash between the emit and the state write that
// follows it finds the mark again, and the fence suppresses what landed.
// The first visit also closes a trace with nothing left to do.
func (p *Processor) Sweep(ctx goka.Context, meta any) {
	p.stats.Visited.Add(1)
	part, tid := ctx.Partition(), ctx.Key()
	v, _ := meta.(*state.Visit)
	t, ok := v.Timer(part)
	st, _ := p.load(ctx)
	if st == nil || !ok {
		if st == nil {
			p.cfg.Registry.Forget(part, tid)
		}
		return
	}
	if v.Phase == state.VisitMarked {
		p.release(ctx, tid, st)
		return
	}
	window := p.cfg.Window.Milliseconds()
	// Past the partition's bound on waiting events, the oldest go first
	// (those due by the bound's time), unenriched, as at their window's
	// end: released, not dropped.
	until := t.StreamTime
	if b, ok := v.BoundOf(part); ok && b > until {
		until = b
	}
	var due []int
	bounded := 0
	for i, e := range st.Events {
		if e.EmittedTopic == "" && sat(e.Timestamp, window) <= until {
			due = append(due, i)
			if sat(e.Timestamp, window) > t.StreamTime {
				bounded++
			}
		}
	}
	switch {
	case len(due) > 0 && markOf(st, p.markedTopic()) < 0:
		mark, err := p.nextMark(ctx, t)
		if err != nil {
			ctx.Fail(err) // returns only when the processor stops
			return
		}
		for _, i := range due {
			st.Events[i].EmittedTopic, st.Events[i].EmittedOffset = p.markedTopic(), mark
		}
		p.stats.BoundReleased.Add(int64(bounded))
		p.save(ctx, st)
	case len(due) == 0 && p.closable(st, t):
		p.close(ctx)
	default:
		// Not what the sweeper judged: note it again.
		p.stats.VisitsIdle.Add(1)
		p.cfg.Registry.Note(part, tid, p.dueOf(st))
	}
}

// release emits a trace's decided releases, in the order of their marks.
func (p *Processor) release(ctx goka.Context, tid string, st *schemas.TraceState) {
	marked, swept := p.markedTopic(), p.sweptTopic()
	for {
		mark := markOf(st, marked)
		if mark < 0 {
			break
		}
		rec, err := p.cfg.Fence.BeginAt(ctx, swept, mark)
		if err != nil {
			ctx.Fail(err) // returns only when the processor stops
			return
		}
		for i := range st.Events {
			e := &st.Events[i]
			if e.EmittedTopic != marked || e.EmittedOffset != mark {
				continue
			}
			e.EmittedTopic = swept
			if p.emitValue(rec, tid, st, e.Value, schemas.JoinTimeout) != nil {
				p.badHeld(ctx, e)
			}
		}
	}
	p.save(ctx, st)
}

// badHeld dead-letters a held event whose bytes do not decode (it was held
// by its routing headers, without decoding).
func (p *Processor) badHeld(ctx goka.Context, e *schemas.HeldEvent) {
	_, err := p.cfg.EventCodec.Unmarshal(e.Value)
	p.dlq.Emit(ctx, e.Value, fmt.Errorf("tracejoin: held event %s: %w", e.EventID, err))
}

// nextMark returns the mark of a release on the partition of ctx: above
// every mark the fence has seen (landed, or begun here) and the last one
// given here, and from the sweep's wall clock (µs) so that marks grow
// across pods and restarts.
func (p *Processor) nextMark(ctx goka.Context, t state.Timer) (int64, error) {
	pos, err := p.cfg.Fence.Position(ctx, p.sweptTopic())
	if err != nil {
		return 0, err
	}
	part := ctx.Partition()
	p.vidMu.Lock()
	defer p.vidMu.Unlock()
	m := max(t.Wall*1000, pos+1, p.vids[part]+1)
	p.vids[part] = m
	return m, nil
}

// replay re-emits what the record at (topic, offset) emitted; the fence
// drops what landed. value is the replayed record's (nil for a span or a
// timer): an event emitted by its own record was held without its bytes.
func (p *Processor) replay(rec *exactlyonce.Record, tid string, st *schemas.TraceState, topic string, offset int64, value []byte) {
	p.stats.Replayed.Add(1)
	for _, e := range st.Events {
		if e.EmittedTopic != topic || e.EmittedOffset != offset {
			continue
		}
		v := e.Value
		if v == nil {
			v = value
		}
		if v == nil {
			continue // cannot happen: only an event's own record emits it without keeping its bytes
		}
		_ = p.emitValue(rec, tid, st, v, "") // one that does not decode was dead-lettered then
	}
}

// emitValue emits an event's bytes with status ("": joined when its span
// is in st, else timeout) and what st says of its span and its trace, as
// emit does. An event in the codec's own version is not decoded: its
// bytes up to the join fields are kept and the join fields written after
// them (codecs.ScanLogEvent); another is decoded and encoded. The error
// is the decode's: nothing was emitted.
func (p *Processor) emitValue(rec *exactlyonce.Record, tid string, st *schemas.TraceState, value []byte, status string) error {
	s, ok := codecs.ScanLogEvent(p.cfg.EventCodec, value)
	if !ok {
		ev, err := p.cfg.EventCodec.Unmarshal(value)
		if err != nil {
			return err
		}
		p.emit(rec, tid, st, ev, status)
		return nil
	}
	spanID := ""
	if s.HasID {
		spanID = strings.ToLower(s.SpanID)
	}
	j := enrich(st, spanID, status, s.Join)
	b := s.AppendLogEvent(make([]byte, 0, s.Size(j)), value, j)
	p.emitted(p.enriched(rec, tid, codecs.Encoded(b), j.JoinStatus), j.JoinStatus)
	return nil
}

// emit emits ev with status ("": joined when its span is in st, else
// timeout) and what st says of its span and its trace.
func (p *Processor) emit(rec *exactlyonce.Record, tid string, st *schemas.TraceState, ev *schemas.LogEvent, status string) {
	j := enrich(st, eventSpanID(ev), status, codecs.JoinFields{SpanService: ev.SpanService, SpanOperation: ev.SpanOperation,
		SpanDurationUs: ev.SpanDurationUs, SpanStatus: ev.SpanStatus, RootOperation: ev.RootOperation, JoinStatus: ev.JoinStatus})
	ev.SpanService, ev.SpanOperation, ev.SpanDurationUs = j.SpanService, j.SpanOperation, j.SpanDurationUs
	ev.SpanStatus, ev.RootOperation, ev.JoinStatus = j.SpanStatus, j.RootOperation, j.JoinStatus
	p.emitted(p.enriched(rec, tid, ev, j.JoinStatus), j.JoinStatus)
}

// enrich returns the join fields j of an event (its span named by spanID,
// "" for the root) as the join leaves it: status ("": joined when its
// span is in st, else timeout), the span's fields when joined, the
// trace's root operation; st is nil for an event without a trace. What st
// does not know stays as the event had it.
func enrich(st *schemas.TraceState, spanID, status string, j codecs.JoinFields) codecs.JoinFields {
	var sp, root *schemas.SpanRef
	if st != nil {
		root = rootOf(st)
		sp = spanByID(st, spanID)
	}
	if status == "" {
		status = schemas.JoinTimeout
		if sp != nil {
			status = schemas.JoinJoined
		}
	}
	j.JoinStatus = status
	if status == schemas.JoinJoined && sp != nil {
		d := sp.DurationUs
		j.SpanService, j.SpanOperation, j.SpanStatus, j.SpanDurationUs = sp.Service, sp.Operation, sp.Status, &d
	}
	if root != nil {
		j.RootOperation = root.Operation
	}
	return j
}

// joinStatusValues are the HeaderJoinStatus values (a header value is only
// read, so one serves every record).
var joinStatusValues = map[string][]byte{
	schemas.JoinJoined: []byte(schemas.JoinJoined), schemas.JoinTimeout: []byte(schemas.JoinTimeout),
	schemas.JoinNoTrace: []byte(schemas.JoinNoTrace),
}

// enriched writes an event to logs.enriched with its join status in a
// header.
func (p *Processor) enriched(rec *exactlyonce.Record, key string, value any, status string) bool {
	v := joinStatusValues[status]
	if v == nil {
		v = []byte(status)
	}
	return rec.EmitRecordHeaders(p.cfg.Enriched, key, value, []kgo.RecordHeader{{Key: schemas.HeaderJoinStatus, Value: v}})
}

// emitted counts an emit by its outcome and status.
func (p *Processor) emitted(landed bool, status string) {
	if !landed {
		p.stats.Suppressed.Add(1)
		return
	}
	switch status {
	case schemas.JoinNoTrace:
		p.stats.NoTrace.Add(1)
	case schemas.JoinJoined:
		p.stats.Joined.Add(1)
	case schemas.JoinTimeout:
		p.stats.Timeouts.Add(1)
	}
}

func (p *Processor) applied(st *schemas.TraceState, topic string) int64 {
	if topic == string(p.cfg.Loop) {
		return st.AppliedLoop
	}
	return st.AppliedSpans
}

func (p *Processor) setApplied(st *schemas.TraceState, topic string, offset int64) {
	if topic == string(p.cfg.Loop) {
		st.AppliedLoop = max(st.AppliedLoop, offset)
	} else {
		st.AppliedSpans = max(st.AppliedSpans, offset)
	}
}

func newState() *schemas.TraceState {
	return &schemas.TraceState{AppliedSpans: -1, AppliedLoop: -1}
}
