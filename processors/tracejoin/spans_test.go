package tracejoin

import (
	"testing"
	"time"
)

// The join's event time is held at the spans' progress while spans keep
// coming, and only then: no spans, idle spans, or a rebalance leave the
// watermark alone.
func TestSpansGateHoldsEventTime(t *testing.T) {
	now := time.Unix(1000, 0)
	g := newSpansGate(5*time.Second, func() time.Time { return now }, nil)
	if got := g.limit(0, 1000); got != 1000 {
		t.Fatalf("no spans read: event time %d, want the watermark 1000", got)
	}
	g.observe(0, 400)
	g.observe(0, 350) // out of order within a trace: the latest end counts
	if got := g.limit(0, 1000); got != 400 {
		t.Fatalf("spans at 400: event time %d, want 400", got)
	}
	if got := g.limit(0, 300); got != 300 {
		t.Fatalf("spans ahead of the watermark: event time %d, want the watermark 300", got)
	}
	if got := g.limit(1, 1000); got != 1000 {
		t.Fatalf("another partition: event time %d, want 1000", got)
	}
	now = now.Add(4 * time.Second)
	if got := g.limit(0, 1000); got != 400 {
		t.Fatalf("spans read 4 s ago: event time %d, want 400", got)
	}
	now = now.Add(time.Second)
	if got := g.limit(0, 1000); got != 1000 {
		t.Fatalf("no span for the idle time: event time %d, want the watermark 1000", got)
	}
	g.observe(0, 600)
	g.reset(0)
	if got := g.limit(0, 1000); got != 1000 {
		t.Fatalf("after a rebalance: event time %d, want the watermark 1000", got)
	}
}
