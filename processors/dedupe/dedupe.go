package dedupe

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/deadletter"
	"github.com/logstream/logstream/processors/exactlyonce"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/state"
	"github.com/logstream/logstream/watermark"
)

// StageName names the stage in dead letters, logs and metrics.
const StageName = "dedupe"

// Defaults of Config.
const (
	DefaultTTL          = 10 * time.Minute
	DefaultMaxFuture    = time.Hour
	DefaultCacheEntries = 1 << 18
)

// Config wires the stage. Topic names come from topology/.
type Config struct {
	Input       goka.Stream // logs.parsed
	Loop        goka.Stream // the group's loop topic
	Unique      goka.Stream // output of first occurrences
	DeadLetters goka.Stream
	Events      *codecs.Codec[schemas.LogEvent]
	States      *codecs.Codec[schemas.DedupeState] // the table's codec
	// PartitionOf places a key among the input's partitions as goka does.
	PartitionOf func(key []byte) int32
	// Fence guards Unique; Watermarks keeps each partition's watermark
	// (package watermark): ids expire when it passes their TTL.
	Fence      *exactlyonce.Fence
	Watermarks *watermark.Partitions
	// KeyFor names a key of an output partition, for the watermark
	// records the stage writes when it drops the events that carried a
	// stamp; Every is their resolution (0: watermark.DefaultEvery).
	KeyFor func(partition int32) string
	Every  time.Duration
	// TTL of an id in event time; 0 means DefaultTTL.
	TTL time.Duration
	// MaxFuture bounds how far ahead of the wall clock and of the stream
	// time an event may be and still move the stream time; 0 means
	// DefaultMaxFuture.
	MaxFuture time.Duration
	// CacheEntries bounds the hot-id cache; 0 means DefaultCacheEntries,
	// negative disables it.
	CacheEntries int64
	// Registry is the table's (state.Track): the stage notes there when
	// each id expires, for the sweeper that visits the ids due. nil: no
	// sweeper (ids are kept).
	Registry *state.Registry
	Now      func() time.Time
}

// Validate reports the first missing or invalid field.
func (c *Config) Validate() error {
	switch {
	case c.Input == "" || c.Loop == "" || c.Unique == "" || c.DeadLetters == "":
		return errors.New("dedupe: Config needs Input, Loop, Unique and DeadLetters")
	case c.Events == nil || c.States == nil:
		return errors.New("dedupe: Config needs Events and States codecs")
	case c.PartitionOf == nil || c.Fence == nil || c.Watermarks == nil || c.KeyFor == nil:
		return errors.New("dedupe: Config needs PartitionOf, Fence, Watermarks and KeyFor")
	case c.TTL < 0 || c.MaxFuture < 0:
		return errors.New("dedupe: TTL and MaxFuture must not be negative")
	}
	return nil
}

// Processor is the stage's goka callbacks and counters.
type Processor struct {
	cfg   Config
	stats *Stats
	dlq   *deadletter.Writer
	cache *ristretto.Cache[string, schemas.DedupeState]

	fanMu sync.Mutex
	fans  map[int32]*watermark.Fanout // what each output partition heard of each origin
}

// New returns the stage for cfg.
func New(cfg Config) (*Processor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.MaxFuture == 0 {
		cfg.MaxFuture = DefaultMaxFuture
	}
	if cfg.CacheEntries == 0 {
		cfg.CacheEntries = DefaultCacheEntries
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Processor{cfg: cfg, stats: newStats(), fans: map[int32]*watermark.Fanout{}}
	p.dlq = &deadletter.Writer{Stage: StageName, Topic: cfg.DeadLetters, Now: cfg.Now, Count: func() { p.stats.DeadLetters.Add(1) }}
	if cfg.CacheEntries > 0 {
		c, err := ristretto.NewCache(&ristretto.Config[string, schemas.DedupeState]{
			NumCounters: cfg.CacheEntries * 10, // ristretto's advice: 10× the entries
			MaxCost:     cfg.CacheEntries,
			// Each id costs 1: without this ristretto adds its own per-item
			// overhead (56 B) to the cost and holds a fiftieth of the ids.
			IgnoreInternalCost: true,
			BufferItems:        64,
			Metrics:            true,
		})
		if err != nil {
			return nil, fmt.Errorf("dedupe: cache: %w", err)
		}
		p.cache = c
	}
	p.stats.cache = p.cache
	return p, nil
}

// Stats returns the stage's live counters.
func (p *Processor) Stats() *Stats { return p.stats }

// TTL returns the configured TTL.
func (p *Processor) TTL() time.Duration { return p.cfg.TTL }

// Rebalance is goka's rebalance callback: partitions may have moved, so
// what this pod remembers of them (landed output, cached ids) is dropped.
func (p *Processor) Rebalance(a goka.Assignment) {
	p.cfg.Fence.Reset()
	if p.cache != nil {
		p.cache.Clear()
	}
	p.fanMu.Lock()
	p.fans = map[int32]*watermark.Fanout{}
	p.fanMu.Unlock()
	for part := range a {
		p.cfg.Watermarks.Reset(part)
	}
}

// Close releases the cache.
func (p *Processor) Close() {
	if p.cache != nil {
		p.cache.Close()
	}
}

// Process is the callback for logs.parsed. A tombstone is a dead letter
// before anything else: passed on, its null value would be a tombstone on
// logs.unique.
func (p *Processor) Process(ctx goka.Context, msg any) {
	rec, err := p.cfg.Fence.Begin(ctx)
	if err != nil {
		ctx.Fail(err) // panics, but returns when the processor is stopping
		return
	}
	if p.dlq.Tombstone(ctx, msg) {
		p.stats.In.Add(1)
		return
	}
	value, _ := msg.([]byte)
	if string(ctx.Headers()[watermark.HeaderKind]) == watermark.KindWatermark {
		p.watermark(ctx, rec, value)
		return
	}
	p.stats.In.Add(1)
	p.route(ctx, rec, msg, value)
}

// route applies an event by its id and event time: from its routing
// headers (schemas.EventRouting) when it has them, so that the event is
// not decoded (dedupe passes its bytes unchanged), else decoded.
func (p *Processor) route(ctx goka.Context, rec *exactlyonce.Record, msg any, value []byte) {
	if r, ok := schemas.EventRouting(ctx.Headers()); ok {
		p.apply(ctx, rec, value, r)
		return
	}
	ev, ok := deadletter.Decode(ctx, msg, p.cfg.Events, p.dlq)
	if !ok {
		return
	}
	p.apply(ctx, rec, value, schemas.RoutingOf(ev))
}

// watermark takes a watermark record of parse's: it moves the partition's
// watermark and goes on to logs.unique, the same partition, for the next
// stages.
func (p *Processor) watermark(ctx goka.Context, rec *exactlyonce.Record, value []byte) {
	stamps, err := watermark.Decode(ctx.Headers()[watermark.HeaderStamp])
	if err != nil {
		p.dlq.Emit(ctx, value, err)
		return
	}
	p.stats.Watermarks.Add(1)
	p.cfg.Watermarks.Observe(ctx.Partition(), ctx.Timestamp(), stamps, false, "", 0, 0)
	p.forward(ctx, rec, stamps, ctx.Key(), value, true, nil)
}

// forward writes value (an event, or the stamps alone) to logs.unique with
// its stamps, and notes what the output partition heard.
// An event's routing (r, nil for a watermark record) goes with it in
// headers, for the join. The stamps are always those of the record read,
// so its stamp header goes on as it came, not encoded again.
func (p *Processor) forward(ctx goka.Context, rec *exactlyonce.Record, stamps []watermark.Stamp, key string, value []byte, wm bool, r *schemas.Routing) bool {
	var hs [8]kgo.RecordHeader
	h := hs[:0]
	if r != nil {
		h = r.AppendPassHeaders(h, ctx.Headers())
	}
	if len(stamps) > 0 {
		h = append(h, kgo.RecordHeader{Key: watermark.HeaderStamp, Value: ctx.Headers()[watermark.HeaderStamp]})
		if wm {
			h = append(h, kgo.RecordHeader{Key: watermark.HeaderKind, Value: kindWatermark})
		}
		f := p.fan(ctx.Partition())
		now := ctx.Timestamp()
		p.fanMu.Lock()
		for _, s := range stamps {
			f.Sent(ctx.Partition(), s, now)
		}
		p.fanMu.Unlock()
	}
	return rec.EmitRecordHeaders(p.cfg.Unique, key, value, h)
}

// kindWatermark is the value of watermark.HeaderKind on watermark records;
// shared by all of them (a header value is only read).
var kindWatermark = []byte(watermark.KindWatermark)

func (p *Processor) fan(partition int32) *watermark.Fanout {
	p.fanMu.Lock()
	defer p.fanMu.Unlock()
	f := p.fans[partition]
	if f == nil {
		f = &watermark.Fanout{Every: p.cfg.Every}
		p.fans[partition] = f
	}
	return f
}

// relay writes the stamps of an event the stage drops (a repeat) as a
// watermark record, when the output partition has not heard them for a
// while: a run of repeats must not hold the next stages' watermark back.
func (p *Processor) relay(ctx goka.Context, rec *exactlyonce.Record, stamps []watermark.Stamp) {
	if len(stamps) == 0 {
		return
	}
	part := ctx.Partition()
	f := p.fan(part)
	now := ctx.Timestamp()
	p.fanMu.Lock()
	due := false
	for _, s := range stamps {
		due = due || f.Due(part, s, now)
	}
	p.fanMu.Unlock()
	if !due {
		return
	}
	v, _ := watermark.Record(stamps...)
	p.forward(ctx, rec, stamps, p.cfg.KeyFor(part), v, true, nil)
	p.stats.Watermarks.Add(1)
}

// Loop is the callback for the loop topic: expiry timers, and events
// rerouted to their id's partition.
func (p *Processor) Loop(ctx goka.Context, msg any) {
	rec, err := p.cfg.Fence.Begin(ctx)
	if err != nil {
		ctx.Fail(err) // panics, but returns when the processor is stopping
		return
	}
	// The stage never loops a null value (Process turns tombstones away,
	// timers are JSON): one here was written by something else, and is
	// bad input like a tombstone on logs.parsed.
	if p.dlq.Tombstone(ctx, msg) {
		p.stats.In.Add(1)
		return
	}
	value, _ := msg.([]byte)
	if string(ctx.Headers()[state.HeaderKind]) == state.KindTimer {
		p.timer(ctx, value)
		return
	}
	p.stats.In.Add(1)
	p.route(ctx, rec, msg, value)
}

// errNoID is the dead-letter reason of an event without an id.
var errNoID = errors.New("dedupe: LogEvent has an empty event_id, so it cannot be deduplicated")

func (p *Processor) apply(ctx goka.Context, rec *exactlyonce.Record, value []byte, r schemas.Routing) {
	id, ts := r.EventID, r.Timestamp
	if id == "" {
		p.dlq.Emit(ctx, value, errNoID)
		return
	}
	partition := ctx.Partition()
	if p.cfg.PartitionOf([]byte(id)) != partition || ctx.Key() != id {
		// Its id's state lives elsewhere: send it there, the bytes as
		// they came, its id and time in headers. A replay may send it
		// twice; the state there catches the second as a repeat.
		h := goka.Headers(r.Headers(nil))
		if s := ctx.Headers()[watermark.HeaderStamp]; s != nil {
			h[watermark.HeaderStamp] = s
		}
		ctx.Loopback(id, value, goka.WithCtxEmitHeaders(h))
		p.stats.Rerouted.Add(1)
		return
	}
	stamps, err := watermark.Decode(ctx.Headers()[watermark.HeaderStamp])
	if err != nil {
		p.stats.BadStamps.Add(1)
	}
	seen := p.eventTime(ctx, stamps, ts)
	topic, offset := string(ctx.Topic()), ctx.Offset()
	st, cached := p.lookup(ctx, id)
	switch {
	case st == nil:
		st = &schemas.DedupeState{FirstTopic: topic, FirstOffset: offset, FirstSeen: seen, LastInputOffset: -1, LastLoopOffset: -1}
		p.touch(st, topic, offset)
		p.store(ctx, id, st)
		p.first(ctx, rec, id, value, stamps, &r)
	case st.FirstTopic == topic && st.FirstOffset == offset:
		// A replay of the first occurrence: its state is written; its
		// output may not be, and the fence knows.
		p.stats.Replayed.Add(1)
		p.first(ctx, rec, id, value, stamps, &r)
	default:
		p.stats.Duplicates.Add(1)
		p.relay(ctx, rec, stamps)
		if last := p.last(st, topic); offset <= last {
			p.stats.Replayed.Add(1) // applied before the crash
			return
		}
		if cached {
			cp := *st
			st = &cp
		}
		p.touch(st, topic, offset)
		p.store(ctx, id, st)
	}
}

func (p *Processor) first(ctx goka.Context, rec *exactlyonce.Record, id string, value []byte, stamps []watermark.Stamp, r *schemas.Routing) {
	if p.forward(ctx, rec, stamps, id, value, false, r) {
		p.stats.Unique.Add(1)
	} else {
		p.stats.Suppressed.Add(1)
	}
}

func (p *Processor) last(st *schemas.DedupeState, topic string) int64 {
	if topic == string(p.cfg.Loop) {
		return st.LastLoopOffset
	}
	return st.LastInputOffset
}

func (p *Processor) touch(st *schemas.DedupeState, topic string, offset int64) {
	if topic == string(p.cfg.Loop) {
		st.LastLoopOffset = max(st.LastLoopOffset, offset)
	} else {
		st.LastInputOffset = max(st.LastInputOffset, offset)
	}
}

// lookup returns the id's state from the cache or the store.
func (p *Processor) lookup(ctx goka.Context, id string) (*schemas.DedupeState, bool) {
	if p.cache != nil {
		if v, ok := p.cache.Get(id); ok {
			return &v, true
		}
	}
	st, _ := ctx.Value().(*schemas.DedupeState)
	if st != nil && p.cache != nil {
		p.cache.Set(id, *st, 1)
	}
	return st, false
}

func (p *Processor) store(ctx goka.Context, id string, st *schemas.DedupeState) {
	ctx.SetValue(st)
	if p.cache != nil {
		p.cache.Set(id, *st, 1)
	}
	p.cfg.Registry.Note(ctx.Partition(), id, p.dueOf(st))
}

// dueOf is when an id expires: once the watermark passes its first
// occurrence plus the TTL and every record that touched it is committed
// (so no replay can find it gone). The sweeper visits it then, and only
// then.
func (p *Processor) dueOf(st *schemas.DedupeState) state.Due {
	return state.Due{
		At: st.FirstSeen + p.cfg.TTL.Milliseconds(),
		Waits: [3]state.Wait{
			{Topic: string(p.cfg.Input), Offset: st.LastInputOffset},
			{Topic: string(p.cfg.Loop), Offset: st.LastLoopOffset},
			{Topic: st.FirstTopic, Offset: st.FirstOffset},
		},
		Marked: -1,
	}
}

// eventTime moves the partition's watermark with the event's stamps (or,
// for an event that has none, with its own time) and returns the time the
// id is kept from: the event's, or the watermark for an event from the far
// future (it would expire every id at once).
func (p *Processor) eventTime(ctx goka.Context, stamps []watermark.Stamp, ts int64) int64 {
	partition := ctx.Partition()
	now := p.cfg.Now().UnixMilli()
	if watermark.Future(ts, ctx.Timestamp(), p.cfg.Now(), p.cfg.MaxFuture) {
		p.stats.Future.Add(1)
		wm, _ := p.cfg.Watermarks.Observe(partition, ctx.Timestamp(), stamps, true, "", 0, 0)
		if wm == 0 {
			return now
		}
		return wm
	}
	wm, _ := p.cfg.Watermarks.Observe(partition, ctx.Timestamp(), stamps, true,
		watermark.Channel(string(ctx.Topic()), partition), ts, ctx.Offset())
	if wm-ts > p.cfg.TTL.Milliseconds() {
		p.stats.Late.Add(1)
	}
	return ts
}

// DueOf tells the sweeper when a stored id expires (for the ids a pod
// finds in its store when it opens a partition).
func (p *Processor) DueOf(_ string, value []byte) (state.Due, bool) {
	st, err := p.cfg.States.Unmarshal(value)
	if err != nil {
		return state.Due{}, false // not ours to judge; the callback never wrote it
	}
	return p.dueOf(st), true
}

// Sweep is the table's visitor (state.VisitName): the sweeper visits the
// ids it found due, and each is deleted (a tombstone on the table topic).
// It decides with the sweep's timer, as a timer record did, on the id's
// Due as last noted: every write of an id notes it, so a repeat processed
// since the sweep began (not committed yet) keeps the id, and no value is
// read or decoded.
func (p *Processor) Sweep(ctx goka.Context, meta any) {
	p.stats.Visited.Add(1)
	part, id := ctx.Partition(), ctx.Key()
	v, _ := meta.(*state.Visit)
	t, ok := v.Timer(part)
	d, noted := p.cfg.Registry.Due(part, id)
	switch {
	case !noted:
		// Deleted already (a timer record of the previous version).
	case !ok || !d.Ready(t):
		p.stats.ExpiryDeferred.Add(1)
	default:
		p.delete(ctx, id)
	}
}

func (p *Processor) delete(ctx goka.Context, id string) {
	ctx.Delete()
	if p.cache != nil {
		p.cache.Del(id)
	}
	p.cfg.Registry.Forget(ctx.Partition(), id)
	p.stats.Expired.Add(1)
}

// committed reports whether every record that touched the id is committed.
func (p *Processor) committed(st *schemas.DedupeState, t state.Timer) bool {
	return t.IsCommitted(string(p.cfg.Input), st.LastInputOffset) && t.IsCommitted(string(p.cfg.Loop), st.LastLoopOffset) &&
		t.IsCommitted(st.FirstTopic, st.FirstOffset)
}

// timer takes a timer record the previous version sent through the loop
// topic (its sweeper sent one to every id it found due): the same
// decision as a visit.
func (p *Processor) timer(ctx goka.Context, value []byte) {
	p.stats.Timers.Add(1)
	t, err := state.DecodeTimer(value)
	if err != nil {
		p.dlq.Emit(ctx, value, err)
		return
	}
	st, _ := ctx.Value().(*schemas.DedupeState)
	if st == nil {
		return // gone already (a repeated timer)
	}
	if !p.due(st, t) {
		return
	}
	if !p.committed(st, t) {
		// A record that touched the id may still be replayed: keep it
		// until the next sweep.
		p.stats.ExpiryDeferred.Add(1)
		return
	}
	p.delete(ctx, ctx.Key())
}

func (p *Processor) due(st *schemas.DedupeState, t state.Timer) bool {
	return t.StreamTime-st.FirstSeen >= p.cfg.TTL.Milliseconds()
}
