package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/lovoo/goka"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
)

// Header that marks a timer in a loop topic, and its value.
const (
	HeaderKind = "ls-kind"
	KindTimer  = "timer"
)

// Timer is what a stage's punctuation decides with: a partition's stream
// time and the group's committed offsets at a sweep. The Sweeper hands it
// to visit callbacks (Visit.Timers). The previous version sent it as a
// record through the stage's loop topic to every key it found due (header
// HeaderKind = KindTimer, JSON value); stages still accept such records
// left in their loop topics and decide with the timer's values alone, as
// before.
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

// Progress returns a partition's stream time and how long it has had no
// record, with ok false for a partition never seen (or forgotten).
func (c *Clock) Progress(partition int32) (stream int64, idle time.Duration, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.parts[partition]; p != nil {
		return p.stream, c.now().Sub(p.wall), true
	}
	return 0, 0, false
}

// Forget drops a partition (it moved to another pod).
func (c *Clock) Forget(partition int32) {
	c.mu.Lock()
	delete(c.parts, partition)
	c.mu.Unlock()
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

// Sweeper is a stage's punctuation: now and then it visits, in process,
// the keys of the stage's table that have work (ids past their TTL,
// events past their window, traces to close), through goka's visitor
// (Processor.VisitAll): the callback runs on the partition's goroutine
// between messages, with a full goka.Context, and no record goes through
// Kafka. It runs beside the goka processor, in the same pod, over the
// partitions the pod owns.
//
// Which keys: the stage notes each key's Due whenever it writes it
// (Registry.Note), and the sweeper visits exactly the keys whose Due is
// met by the partition's Timer; a partition's keys from before this pod
// opened its store are read (and decoded once, with DueOf) by the first
// sweep after. Sweeps never overlap, and each waits for its visits to be
// processed, so a key's work is done (and its Due noted anew) before the
// next sweep judges it.
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
	// committed offsets go into timers.
	Group  string
	Inputs []string
	Admin  *kadm.Client
	// Committed, when set, replaces Admin for the group's committed
	// offsets (tests): topic → partition → offset.
	Committed func(ctx context.Context) (map[string]map[int32]int64, error)
	// DueOf tells a stored value's Due (false: nothing to do, ever).
	DueOf func(key string, value []byte) (Due, bool)
	// Visit runs the visitor VisitName on the staged keys of every
	// partition the processor owns, with meta (a *Visit), and returns
	// how many it visited: the goka processor's VisitAllWithStats.
	Visit func(ctx context.Context, meta any) (int64, error)
	// Scanned, when set, gets each partition's number of keys after a sweep
	// (a metric of state entries).
	Scanned func(partition int32, entries int)
	// Held, when set, gets each partition's sum of Due.Held after a sweep.
	Held func(partition int32, held int)
	// MaxHeld, when positive, bounds what waits per partition (the sum of
	// Due.Held): past it, a sweep releases the oldest waiting keys
	// (Visit.Bound), and a key noted past it brings the next sweep
	// forward. Bound reports each partition's release (rate-limited in
	// the log here).
	MaxHeld int
	Bound   func(partition int32, held, released int)
	// Wall is the wall clock (nil: time.Now).
	Wall func() time.Time
	Log  zerolog.Logger

	mu      sync.Mutex // one sweep at a time
	aborted int        // visits aborted in a row (a rebalance or a stop)
	boundAt time.Time  // when the bound was last said in the log
	last    time.Time  // when the last sweep began
}

// Run sweeps every Interval until ctx ends.
func (s *Sweeper) Run(ctx context.Context) error {
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	var kick <-chan struct{}
	if s.MaxHeld > 0 {
		kick = s.Registry.bound(s.MaxHeld)
	}
	failing := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-kick:
			// A partition is past its bound: sweep now, but not more
			// than KickGap after the last sweep (each sweep asks the
			// broker for the committed offsets).
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(s.untilKick()):
			}
		}
		_, err := s.Sweep(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			// A failed sweep only delays expiry; the next one retries.
			// Said when sweeps start failing and when they recover, not
			// every Interval.
			failing = true
			s.Log.Warn().Err(err).Str("group", s.Group).Msg("state sweep failed; retrying every interval")
		case err == nil && failing:
			failing = false
			s.Log.Info().Str("group", s.Group).Msg("state sweeps succeed again")
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

func (s *Sweeper) committed(ctx context.Context) (map[string]map[int32]int64, error) {
	if s.Committed != nil {
		return s.Committed(ctx)
	}
	offs, err := s.Admin.FetchOffsets(ctx, s.Group)
	if err != nil {
		return nil, err
	}
	if err := offs.Error(); err != nil {
		return nil, err
	}
	m := map[string]map[int32]int64{}
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Err != nil {
			return
		}
		if m[o.Topic] == nil {
			m[o.Topic] = map[int32]int64{}
		}
		m[o.Topic][o.Partition] = o.At
	})
	return m, nil
}

func (s *Sweeper) untilKick() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Until(s.last.Add(KickGap))
}

// KickGap is the least time between a sweep and one brought forward by a
// partition past its bound.
const KickGap = 100 * time.Millisecond

// ErrVisitAborted is goka's answer to a visit cut short by a rebalance or
// a stop; the sweeper takes it as "try again next time".
var ErrVisitAborted = goka.ErrVisitAborted

// Sweep runs one sweep and returns the number of keys visited.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = time.Now()
	if s.Visit == nil {
		return 0, fmt.Errorf("state: sweeper of %s has no Visit", s.Group)
	}
	var parts []int32
	for _, p := range s.Registry.Partitions() {
		if _, ok := s.Registry.Recovered(p); ok {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return 0, nil
	}
	committed, err := s.committed(ctx)
	if err != nil {
		return 0, fmt.Errorf("state: sweep: committed offsets of %s: %w", s.Group, err)
	}
	timers := make(map[int32]Timer, len(parts))
	now := time.Now
	if s.Wall != nil {
		now = s.Wall
	}
	wall := now().UnixMilli()
	for _, p := range parts {
		if err := s.Registry.build(p, s.DueOf); err != nil {
			return 0, err
		}
		t := Timer{StreamTime: s.Clock.StreamTime(p), Committed: map[string]int64{}, Wall: wall}
		if rec, ok := s.Registry.Recovered(p); ok {
			t.Since = rec.UnixMilli()
		}
		if s.Idle > 0 && s.idle(p) >= s.Idle {
			t.StreamTime = math.MaxInt64
		}
		for _, in := range s.Inputs {
			if o, ok := committed[in][p]; ok {
				t.Committed[in] = o
			}
		}
		timers[p] = t
	}
	var bounds map[int32]int64
	for _, p := range parts {
		if cut, released, over := s.Registry.boundCutoff(p, s.MaxHeld); over {
			if bounds == nil {
				bounds = map[int32]int64{}
			}
			bounds[p] = cut
			held := s.Registry.Held(p)
			if s.Bound != nil {
				s.Bound(p, held, released)
			}
			if now().Sub(s.boundAt) >= time.Minute {
				s.boundAt = now()
				s.Log.Warn().Str("group", s.Group).Int32("partition", p).Int("held", held).Int("max_held", s.MaxHeld).
					Int("releasing", released).Msg("partition holds more than its bound: releasing the oldest waiting first (said at most once a minute)")
			}
		}
	}
	visited := 0
	// Output an earlier sweep decided and did not emit (it was cut short),
	// then what is due now, then the output that decided.
	for _, phase := range []Phase{VisitMarked, VisitDue, VisitMarked} {
		keys := map[int32][]string{}
		total := 0
		for _, p := range parts {
			cut, bounded := bounds[p]
			k, entries := s.Registry.dueKeys(p, phase, timers[p], cut, bounded)
			if phase == VisitDue && s.Scanned != nil {
				s.Scanned(p, entries)
			}

			if len(k) > 0 {
				keys[p] = k
				total += len(k)
			}
		}
		if total == 0 {
			continue
		}
		s.Registry.stage(keys)
		n, err := s.Visit(ctx, &Visit{Phase: phase, Timers: timers, Bound: bounds})
		s.Registry.unstage()
		if phase == VisitDue {
			for p, k := range keys {
				s.Registry.requeue(p, k)
			}
		}
		visited += int(n)
		if err != nil {
			if errors.Is(err, ErrVisitAborted) || errors.Is(err, context.Canceled) || ctx.Err() != nil {
				// A rebalance or a stop: the keys not visited are still
				// due, and the next sweep (of whoever owns them) visits
				// them. Said once, not every sweep of a long rebalance.
				s.aborted++
				if s.aborted == 1 {
					s.Log.Info().Str("group", s.Group).Int("visited", visited).Msg("state sweep cut short by a rebalance or stop; the next sweep resumes")
				}
				return visited, nil
			}
			return visited, fmt.Errorf("state: sweep of %s: %w", s.Group, err)
		}
	}
	s.aborted = 0
	if s.Held != nil {
		for _, p := range parts {
			s.Held(p, s.Registry.Held(p))
		}
	}
	return visited, nil
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
