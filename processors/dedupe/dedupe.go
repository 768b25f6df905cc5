package dedupe

import (
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/lovoo/goka"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/deadletter"
	"github.com/logstream/logstream/processors/exactlyonce"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/state"
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
	// Fence guards Unique; Clock keeps stream time per partition.
	Fence *exactlyonce.Fence
	Clock *state.Clock
	// TTL of an id in event time; 0 means DefaultTTL.
	TTL time.Duration
	// MaxFuture bounds how far ahead of the wall clock and of the stream
	// time an event may be and still move the stream time; 0 means
	// DefaultMaxFuture.
	MaxFuture time.Duration
	// CacheEntries bounds the hot-id cache; 0 means DefaultCacheEntries,
	// negative disables it.
	CacheEntries int64
	Now          func() time.Time
}

// Validate reports the first missing or invalid field.
func (c *Config) Validate() error {
	switch {
	case c.Input == "" || c.Loop == "" || c.Unique == "" || c.DeadLetters == "":
		return errors.New("dedupe: Config needs Input, Loop, Unique and DeadLetters")
	case c.Events == nil || c.States == nil:
		return errors.New("dedupe: Config needs Events and States codecs")
	case c.PartitionOf == nil || c.Fence == nil || c.Clock == nil:
		return errors.New("dedupe: Config needs PartitionOf, Fence and Clock")
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
	p := &Processor{cfg: cfg, stats: newStats()}
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
func (p *Processor) Rebalance(goka.Assignment) {
	p.cfg.Fence.Reset()
	if p.cache != nil {
		p.cache.Clear()
	}
}

// Close releases the cache.
func (p *Processor) Close() {
	if p.cache != nil {
		p.cache.Close()
	}
}

// Process is the callback for logs.parsed.
func (p *Processor) Process(ctx goka.Context, msg any) {
	p.stats.In.Add(1)
	rec, err := p.cfg.Fence.Begin(ctx)
	if err != nil {
		ctx.Fail(err)
	}
	value, _ := msg.([]byte)
	ev, ok := deadletter.Decode(ctx, msg, p.cfg.Events, p.dlq)
	if !ok {
		return
	}
	p.apply(ctx, rec, value, ev)
}

// Loop is the callback for the loop topic: expiry timers, and events
// rerouted to their id's partition.
func (p *Processor) Loop(ctx goka.Context, msg any) {
	rec, err := p.cfg.Fence.Begin(ctx)
	if err != nil {
		ctx.Fail(err)
	}
	value, _ := msg.([]byte)
	if string(ctx.Headers()[state.HeaderKind]) == state.KindTimer {
		p.timer(ctx, value)
		return
	}
	p.stats.In.Add(1)
	ev, ok := deadletter.Decode(ctx, msg, p.cfg.Events, p.dlq)
	if !ok {
		return
	}
	p.apply(ctx, rec, value, ev)
}

// errNoID is the dead-letter reason of an event without an id.
var errNoID = errors.New("dedupe: LogEvent has an empty event_id, so it cannot be deduplicated")

func (p *Processor) apply(ctx goka.Context, rec *exactlyonce.Record, value []byte, ev *schemas.LogEvent) {
	id := ev.EventID
	if id == "" {
		p.dlq.Emit(ctx, value, errNoID)
		return
	}
	partition := ctx.Partition()
	if p.cfg.PartitionOf([]byte(id)) != partition || ctx.Key() != id {
		// Its id's state lives elsewhere: send it there. A replay may send
		// it twice; the state there catches the second as a repeat.
		ctx.Loopback(id, value)
		p.stats.Rerouted.Add(1)
		return
	}
	seen := p.eventTime(partition, ev.Timestamp)
	topic, offset := string(ctx.Topic()), ctx.Offset()
	st, cached := p.lookup(ctx, id)
	switch {
	case st == nil:
		st = &schemas.DedupeState{FirstTopic: topic, FirstOffset: offset, FirstSeen: seen, LastInputOffset: -1, LastLoopOffset: -1}
		p.touch(st, topic, offset)
		p.store(ctx, id, st)
		p.first(rec, id, value)
	case st.FirstTopic == topic && st.FirstOffset == offset:
		// A replay of the first occurrence: its state is written; its
		// output may not be, and the fence knows.
		p.stats.Replayed.Add(1)
		p.first(rec, id, value)
	default:
		p.stats.Duplicates.Add(1)
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

func (p *Processor) first(rec *exactlyonce.Record, id string, value []byte) {
	if rec.Emit(p.cfg.Unique, id, value) {
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
}

// eventTime moves the partition's stream time and returns the time the id
// is kept from: the event's, or the stream time for an event from the far
// future.
func (p *Processor) eventTime(partition int32, ts int64) int64 {
	st := p.cfg.Clock.StreamTime(partition)
	maxAhead := p.cfg.MaxFuture.Milliseconds()
	now := p.cfg.Now().UnixMilli()
	if ts > now+maxAhead || (st > 0 && ts > st+maxAhead) {
		p.stats.Future.Add(1)
		if st == 0 {
			return now
		}
		return st
	}
	st = p.cfg.Clock.Observe(partition, ts)
	if st-ts > p.cfg.TTL.Milliseconds() {
		p.stats.Late.Add(1)
	}
	return ts
}

// Expired tells the sweeper whether a stored state is past its TTL at the
// timer's stream time.
func (p *Processor) Expired(_ int32, _ string, value []byte, t state.Timer) bool {
	st, err := p.cfg.States.Unmarshal(value)
	if err != nil {
		return false // not ours to judge; the callback never wrote it
	}
	return p.due(st, t)
}

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
	if !t.IsCommitted(string(p.cfg.Input), st.LastInputOffset) || !t.IsCommitted(string(p.cfg.Loop), st.LastLoopOffset) ||
		!t.IsCommitted(st.FirstTopic, st.FirstOffset) {
		// A record that touched the id may still be replayed: keep it
		// until the next sweep.
		p.stats.ExpiryDeferred.Add(1)
		return
	}
	ctx.Delete()
	if p.cache != nil {
		p.cache.Del(ctx.Key())
	}
	p.stats.Expired.Add(1)
}

func (p *Processor) due(st *schemas.DedupeState, t state.Timer) bool {
	return t.StreamTime-st.FirstSeen >= p.cfg.TTL.Milliseconds()
}
