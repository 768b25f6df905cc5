package tracejoin

import (
	"time"

	"github.com/logstream/logstream/state"
	"github.com/logstream/logstream/watermark"
)

// spansGate keeps the join's event time from running ahead of its spans.
//
// An event waits for its span until event time passes its timestamp plus
// the window. Event time is the watermark of logs.unique; the spans come
// on a topic of their own, through a stage of their own, and carry no
// stamps. Live, both arrive within moments of each other. In a backlog
// (a replay, a restart after lag) the two inputs are read at their own
// pace, and when the events run ahead, the watermark passes events whose
// spans are still queued: they time out though they would have joined
// live (11.6% of the traced events of a one-million-line replay did).
//
// So on each partition the join's event time is held at the progress of
// the spans topic, as long as spans keep coming. The spans stage reads the
// Collector's topic partition by partition, each at its own pace, and
// every partition of the spans topic interleaves them all: the latest span
// end read there is the progress of the fastest of them, and the spans of
// a slower one may still be queued behind. So the spans stage writes the
// progress of each of its input partitions as watermark records
// (package watermark), and the join holds event time at the slowest
// (SpanOrigins), leaving out the partitions the spans stage declared idle;
// while one has not been heard yet, nothing times out. Before any such
// record (spans written by another producer), it holds at the latest span
// end read. A partition that has read nothing for idle
// (wall clock) no longer holds it back, so a trace source or a spans stage
// that stops, or a deployment without traces, leaves the watermark alone.
// The span ends are not a watermark (spans come in any order within a
// trace's export), only the progress of the spans topic: the join window
// absorbs the disorder.
type spansGate struct {
	idle    time.Duration
	clock   *state.Clock          // per partition: the latest span end read, and when the last record was
	origins *watermark.Partitions // per partition: the spans stage's stamps (nil: none)
}

func newSpansGate(idle time.Duration, now func() time.Time, origins *watermark.Partitions) *spansGate {
	return &spansGate{idle: idle, clock: state.NewClock(now), origins: origins}
}

// observe records a span read on partition p that ended at end (ms).
func (g *spansGate) observe(p int32, end int64) { g.clock.Observe(p, end) }

// heard records a watermark record read on partition p at (its record
// time) with stamps.
func (g *spansGate) heard(p int32, at time.Time, stamps []watermark.Stamp) {
	g.clock.Observe(p, 0)
	if g.origins != nil && len(stamps) > 0 {
		g.origins.Observe(p, at, stamps, false, "", 0, 0)
	}
}

// limit returns event time w of partition p held at its spans' progress.
func (g *spansGate) limit(p int32, w int64) int64 {
	end, idle, ok := g.clock.Progress(p)
	if !ok || idle >= g.idle {
		return w
	}
	if g.origins != nil {
		switch wm, k := g.origins.Watermark(p); {
		case k == watermark.Idle:
			return w
		case k == watermark.Time, k == watermark.Hold:
			// Hold: a partition not heard yet may still hold spans of
			// any time (wm 0: none vouched for yet; nothing times out).
			return min(w, wm)
		}
	}
	if end == 0 {
		return w // only watermark records read: no span end to hold at
	}
	return min(w, end)
}

// reset forgets a partition (a rebalance): its next owner reads on.
func (g *spansGate) reset(p int32) {
	g.clock.Forget(p)
	if g.origins != nil {
		g.origins.Reset(p)
	}
}

// clock is the join's event time for the sweeper: the loop watermark held
// at the spans' progress.
type clock struct{ p *Processor }

func (c clock) StreamTime(partition int32) int64 { return c.p.eventTime(partition) }

func (c clock) Idle(partition int32) time.Duration { return c.p.cfg.Loops.Idle(partition) }

// Clock is the event time the sweeper releases and expires by.
func (p *Processor) Clock() interface {
	StreamTime(partition int32) int64
	Idle(partition int32) time.Duration
} {
	return clock{p}
}

// eventTime is partition's event time: the loop watermark, held at the
// spans' progress (spansGate).
func (p *Processor) eventTime(partition int32) int64 {
	return p.spans.limit(partition, p.cfg.Loops.StreamTime(partition))
}
