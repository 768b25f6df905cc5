package watermark

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Origins is where event time is born: the stage that first reads event
// times (parse) keeps, for each partition of its input it owns, the
// highest event time parsed there, stamps what it writes with it, and
// fans it out to the output partitions that have not heard it. A
// Punctuator declares the partitions that have gone quiet idle.
//
// Each partition's methods are called from that partition's goroutine;
// the Punctuator reads them from its own, hence the lock.
type Origins struct {
	// IdleRecords counts the watermark records a Punctuator wrote.
	IdleRecords atomic.Int64

	topic string // the input topic, whose partitions are the origins
	out   int32  // partitions of the output topic
	every time.Duration
	mu    sync.Mutex
	m     map[int32]*origin
	now   func() time.Time
}

type origin struct {
	assigned time.Time
	last     int64 // last offset read; -1 before any
	lastWall time.Time
	stream   int64 // highest event time; 0 before any
	idle     bool
	idleSent time.Time
	fan      Fanout
}

// NewOrigins returns the origins of topic, whose stamps go to an output
// topic of out partitions, each at least every Every of event time (0:
// DefaultEvery; see Fanout).
func NewOrigins(topic string, out int32, every time.Duration) *Origins {
	return &Origins{topic: topic, out: out, every: every, m: map[int32]*origin{}, now: time.Now}
}

func (o *Origins) newOrigin(now time.Time) *origin {
	return &origin{assigned: now, last: -1, fan: Fanout{Every: o.every}}
}

// Assign replaces the partitions this pod owns (goka's rebalance callback).
func (o *Origins) Assign(partitions []int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	keep := map[int32]*origin{}
	for _, p := range partitions {
		if g := o.m[p]; g != nil {
			g.assigned = now // a rebalance paused it: not idle meanwhile
			keep[p] = g
			continue
		}
		keep[p] = o.newOrigin(now)
	}
	o.m = keep
}

// Advance notes the record at offset of partition; ts is its event time,
// or hasTime is false for a record that yields no event (a dead letter, a
// held part). It returns the partition's stamp, for the event written to
// output partition target (-1: none), and the other output partitions
// that are due a watermark record with it.
func (o *Origins) Advance(partition int32, offset, ts int64, hasTime bool, target int32) (Stamp, []int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	g := o.m[partition]
	if g == nil {
		g = o.newOrigin(now)
		o.m[partition] = g
	}
	g.last, g.lastWall = max(g.last, offset), now
	if g.idle {
		// Woke up: every output partition hears it, not only the one
		// that gets the event.
		g.idle = false
		g.fan.Forget(Channel(o.topic, partition))
	}
	if hasTime {
		g.stream = max(g.stream, ts)
	}
	s := Stamp{Channel: Channel(o.topic, partition), Kind: Time, Time: g.stream, Seq: offset}
	if g.stream == 0 {
		s.Kind = Hold // no event time yet
	}
	if target >= 0 {
		g.fan.Sent(target, s, now)
	}
	var due []int32
	for p := int32(0); p < o.out; p++ {
		if p != target && g.fan.Due(p, s, now) {
			g.fan.Sent(p, s, now)
			due = append(due, p)
		}
	}
	return s, due
}

// SetClock replaces the wall clock (time.Now): for simulations.
func (o *Origins) SetClock(now func() time.Time) { o.now = now }

// IdleStamps returns, for each owned partition that is caught up and has
// had no record for idle, its idle stamp, when it is due to be (re)sent.
// caughtUp says, from the last offset read (-1: none), whether the
// partition has nothing left to read, and the position to stamp. The
// Punctuator calls it with what the brokers say.
func (o *Origins) IdleStamps(idle time.Duration, caughtUp func(partition int32, last int64) (int64, bool)) []Stamp {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := o.now()
	var out []Stamp
	for p, g := range o.m {
		quiet := now.Sub(g.assigned)
		if !g.lastWall.IsZero() {
			quiet = min(quiet, now.Sub(g.lastWall))
		}
		if quiet < idle {
			continue
		}
		seq, ok := caughtUp(p, g.last)
		if !ok {
			continue
		}
		if g.idle && now.Sub(g.idleSent) < idle {
			continue
		}
		g.idle, g.idleSent = true, now
		g.fan.Forget(Channel(o.topic, p))
		out = append(out, Stamp{Channel: Channel(o.topic, p), Kind: Idle, Time: g.stream, Seq: seq})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Channel < out[j].Channel })
	return out
}

// Punctuator declares idle the origins that have gone quiet: a partition
// this pod owns, caught up with its topic (nothing left to read), that has
// had no record for Idle of wall clock. Its idle stamp goes to every
// partition of Output, again every Idle while it stays idle, so that a
// reader that restarts, or resynchronises after a wake-up, hears it.
type Punctuator struct {
	Origins *Origins
	// Group is the consumer group reading the origins (its committed
	// offsets tell where a partition not read yet stands).
	Group string
	// Output is the topic the stamps go to; KeyFor places a record on a
	// partition (the client's partitioner must agree with it).
	Output string
	KeyFor func(partition int32) string
	Idle   time.Duration
	// Interval between checks; 0 means a second.
	Interval time.Duration
	Client   *kgo.Client
	Admin    *kadm.Client
	Log      zerolog.Logger
}

// Run checks every Interval until ctx ends.
func (p *Punctuator) Run(ctx context.Context) error {
	every := p.Interval
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := p.Check(ctx); err != nil && ctx.Err() == nil {
			// A failed check only delays idleness; the next one retries.
			p.Log.Warn().Err(err).Str("topic", p.Origins.topic).Msg("watermark idleness check failed")
		}
	}
}

// Check runs one check and sends the idle stamps due.
func (p *Punctuator) Check(ctx context.Context) error {
	topic := p.Origins.topic
	ends, err := p.Admin.ListEndOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("watermark: end offsets of %s: %w", topic, err)
	}
	starts, err := p.Admin.ListStartOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("watermark: start offsets of %s: %w", topic, err)
	}
	committed, err := p.Admin.FetchOffsets(ctx, p.Group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return fmt.Errorf("watermark: committed offsets of %s: %w", p.Group, err)
	}
	stamps := p.Origins.IdleStamps(p.Idle, func(part int32, last int64) (int64, bool) {
		end, ok := ends.Lookup(topic, part)
		if !ok || end.Err != nil {
			return 0, false
		}
		pos := last + 1
		if c, ok := committed.Lookup(topic, part); ok && c.Err == nil {
			pos = max(pos, c.At)
		}
		if s, ok := starts.Lookup(topic, part); ok && s.Err == nil && s.Offset == end.Offset {
			pos = max(pos, end.Offset) // empty: nothing to read
		}
		return pos - 1, end.Offset <= pos
	})
	if len(stamps) == 0 {
		return nil
	}
	var (
		mu       sync.Mutex
		firstErr error
	)
	for _, s := range stamps {
		v := Encode(s)
		for part := int32(0); part < p.Origins.out; part++ {
			p.Origins.IdleRecords.Add(1)
			p.Client.Produce(ctx, &kgo.Record{
				Topic: p.Output, Key: []byte(p.KeyFor(part)), Value: v,
				Headers: []kgo.RecordHeader{{Key: HeaderKind, Value: []byte(KindWatermark)}, {Key: HeaderStamp, Value: v}},
			}, func(_ *kgo.Record, err error) {
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			})
		}
		p.Log.Debug().Str("origin", s.Channel).Msg("origin idle")
	}
	if err := p.Client.Flush(ctx); err != nil {
		return fmt.Errorf("watermark: %w", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if firstErr != nil {
		return fmt.Errorf("watermark: idle stamps to %s: %w", p.Output, firstErr)
	}
	return nil
}

// Record returns a watermark record carrying stamps, for producers that
// write it themselves (a goka callback emits the same value and headers).
func Record(stamps ...Stamp) (value []byte, headers map[string][]byte) {
	v := Encode(stamps...)
	return v, map[string][]byte{HeaderKind: []byte(KindWatermark), HeaderStamp: v}
}
