package tracejoin

import (
	"time"

	"github.com/logstream/logstream/state"
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
// So on each partition the join's event time is held at the latest span
// end read on that partition of the spans topic, as long as spans keep
// coming: a partition that has read no span for idle (wall clock) no
// longer holds it back, so a trace source that stops, or a deployment
// without traces, leaves the watermark alone. The span ends are not a
// watermark (spans come in any order within a trace's export), only the
// progress of the spans topic: the join window absorbs the disorder.
type spansGate struct {
	idle  time.Duration
	clock *state.Clock // per partition: the latest span end read, and when
}

func newSpansGate(idle time.Duration, now func() time.Time) *spansGate {
	return &spansGate{idle: idle, clock: state.NewClock(now)}
}

// observe records a span read on partition p that ended at end (ms).
func (g *spansGate) observe(p int32, end int64) { g.clock.Observe(p, end) }

// limit returns event time w of partition p held at its spans' progress.
func (g *spansGate) limit(p int32, w int64) int64 {
	end, idle, ok := g.clock.Progress(p)
	if !ok || idle >= g.idle {
		return w
	}
	return min(w, end)
}

// reset forgets a partition (a rebalance): its next owner reads on.
func (g *spansGate) reset(p int32) { g.clock.Forget(p) }

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
