package state

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Header that marks a timer in a loop topic, and its value.
const (
	HeaderKind = "ls-kind"
	KindTimer  = "timer"
)

// Timer is what a Sweeper sends through a stage's loop topic to a key whose
// state may have expired. goka lets a callback change only the key it is
// called for, so expiry is a message to that key; the callback decides
// with the timer's values alone, which makes the decision the same when
// the timer is replayed.
type Timer struct {
	// StreamTime is the partition's stream time (ms) when the timer was
	// sent: the highest event time seen, or MaxInt64 for a partition idle
	// past the sweeper's Idle limit.
	StreamTime int64 `json:"stream_time"`
	// Committed maps each input topic of the stage to the committed offset
	// of the key's partition: records below it will never be replayed, so
	// state they depend on may go.
	Committed map[string]int64 `json:"committed"`
	// Wall is the sweeper's wall-clock time (ms) when it sent the timer:
	// wall-clock punctuation for stages that close windows of sources
	// that went silent. Carried in the timer so that a replay decides the
	// same.
	Wall int64 `json:"wall,omitempty"`
	// Since is when (wall clock, ms) this pod recovered the partition's
	// store: silence measured by the wall clock counts from here at the
	// earliest, because a partition that was down or being handed over
	// was not silent, its pod was.
	Since int64 `json:"since,omitempty"`
}

// Encode returns the timer's wire form (JSON: timers are few and
// readable with any consumer).
func (t Timer) Encode() []byte {
	b, _ := json.Marshal(t)
	return b
}

// DecodeTimer parses a timer's value.
func DecodeTimer(b []byte) (Timer, error) {
	var t Timer
	if err := json.Unmarshal(b, &t); err != nil {
		return Timer{}, fmt.Errorf("state: timer: %w", err)
	}
	return t, nil
}

// Committed reports whether the record at offset of topic is committed
// (offset -1, "none", always is).
func (t Timer) IsCommitted(topic string, offset int64) bool {
	if offset < 0 {
		return true
	}
	c, ok := t.Committed[topic]
	return ok && offset < c
}

// Clock keeps each partition's stream time: the highest event time seen.
type Clock struct {
	now   func() time.Time
	mu    sync.Mutex
	parts map[int32]*clockPart
	start time.Time
}

type clockPart struct {
	stream int64
	wall   time.Time
}

// NewClock returns a clock; now nil means time.Now.
func NewClock(now func() time.Time) *Clock {
	if now == nil {
		now = time.Now
	}
	return &Clock{now: now, parts: map[int32]*clockPart{}, start: now()}
}

// Observe records an event time on a partition and returns the partition's
// stream time.
func (c *Clock) Observe(partition int32, ts int64) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.parts[partition]
	if p == nil {
		p = &clockPart{}
		c.parts[partition] = p
	}
	p.wall = c.now()
	if ts > p.stream {
		p.stream = ts
	}
	return p.stream
}

// StreamTime returns a partition's stream time (0 before any record).
func (c *Clock) StreamTime(partition int32) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.parts[partition]; p != nil {
		return p.stream
	}
	return 0
}

// Idle returns how long the partition has had no record (since the clock
// was made, for one never seen).
func (c *Clock) Idle(partition int32) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.parts[partition]; p != nil {
		return c.now().Sub(p.wall)
	}
	return c.now().Sub(c.start)
}

// Sweeper walks a stage's table now and then and sends a Timer through the
// stage's loop topic to every key Expired says is due. It runs beside the
// goka processor, in the same pod, over the partitions the pod owns.
type Sweeper struct {
	Registry *Registry
	// Clock gives each partition's event time (a watermark) and how long
	// it has had no records.
	Clock interface {
		StreamTime(partition int32) int64
		Idle(partition int32) time.Duration
	}
	// Interval between sweeps.
	Interval time.Duration
	// Idle, when positive, is how long a partition may go without records
	// before its timers carry stream time MaxInt64: everything waiting on
	// it is released, so a source that goes silent does not hold state
	// (and events) forever. The time counts from the partition's last
	// record or from when this pod last recovered its store, whichever is
	// later: a rebalance pauses partitions and hands some to a pod that
	// never read them, and neither is a silent source.
	Idle time.Duration
	// Group is the stage's consumer group; Inputs its input topics whose
	// committed offsets go into timers; Loop its loop topic.
	Group  string
	Inputs []string
	Loop   string
	// Client produces the timers; it must place keys as goka does
	// (topology.Partitioner).
	Client *kgo.Client
	Admin  *kadm.Client
	// Expired tells whether a key's state is due with the timer t.
	Expired func(partition int32, key string, value []byte, t Timer) bool
	// Scanned, when set, gets each partition's number of keys after a sweep
	// (a metric of state entries).
	Scanned func(partition int32, entries int)
	Log     zerolog.Logger
}

// Run sweeps every Interval until ctx ends.
func (s *Sweeper) Run(ctx context.Context) error {
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			// A failed sweep only delays expiry; the next one retries.
			s.Log.Warn().Err(err).Str("group", s.Group).Msg("state sweep failed")
		}
	}
}

// idle is how long partition p has gone without records on this pod: since
// its last record, or since its store was recovered (when this pod gained
// it, or got it back after a rebalance) if that is later. A partition whose
// store is still recovering is not idle.
func (s *Sweeper) idle(p int32) time.Duration {
	recovered, ok := s.Registry.Recovered(p)
	if !ok {
		return 0
	}
	return min(s.Clock.Idle(p), time.Since(recovered))
}

// Sweep runs one sweep and returns the number of timers sent.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	parts := s.Registry.Partitions()
	if len(parts) == 0 {
		return 0, nil
	}
	offs, err := s.Admin.FetchOffsets(ctx, s.Group)
	if err != nil {
		return 0, fmt.Errorf("state: sweep: committed offsets of %s: %w", s.Group, err)
	}
	if err := offs.Error(); err != nil {
		return 0, fmt.Errorf("state: sweep: committed offsets of %s: %w", s.Group, err)
	}
	var (
		sent     int
		mu       sync.Mutex
		firstErr error
	)
	for _, p := range parts {
		t := Timer{StreamTime: s.Clock.StreamTime(p), Committed: map[string]int64{}, Wall: time.Now().UnixMilli()}
		if rec, ok := s.Registry.Recovered(p); ok {
			t.Since = rec.UnixMilli()
		}
		if s.Idle > 0 && s.idle(p) >= s.Idle {
			t.StreamTime = math.MaxInt64
		}
		for _, in := range s.Inputs {
			if o, ok := offs.Lookup(in, p); ok && o.Err == nil {
				t.Committed[in] = o.At
			}
		}
		value := t.Encode()
		entries := 0
		err := s.Registry.Scan(p, func(key string, v []byte) bool {
			entries++
			if !s.Expired(p, key, v, t) {
				return true
			}
			sent++
			s.Client.Produce(ctx, &kgo.Record{
				Topic:   s.Loop,
				Key:     []byte(key),
				Value:   value,
				Headers: []kgo.RecordHeader{{Key: HeaderKind, Value: []byte(KindTimer)}},
			}, func(_ *kgo.Record, err error) {
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			})
			return ctx.Err() == nil
		})
		if err != nil {
			return sent, err
		}
		if s.Scanned != nil {
			s.Scanned(p, entries)
		}
	}
	if err := s.Client.Flush(ctx); err != nil {
		return sent, fmt.Errorf("state: sweep: %w", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if firstErr != nil {
		return sent, fmt.Errorf("state: sweep: timer to %s: %w", s.Loop, firstErr)
	}
	return sent, nil
}

// Entries counts a stage's stored keys per partition, as its sweeper found
// them: the state-entries gauge.
type Entries struct {
	mu sync.Mutex
	m  map[int32]int
}

// Set records a partition's count.
func (e *Entries) Set(partition int32, n int) {
	e.mu.Lock()
	if e.m == nil {
		e.m = map[int32]int{}
	}
	e.m[partition] = n
	e.mu.Unlock()
}

// Total returns the sum over partitions.
func (e *Entries) Total() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, v := range e.m {
		n += v
	}
	return n
}
