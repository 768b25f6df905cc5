package tracejoin_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/logstream/logstream/processors/tracejoin"
	"github.com/logstream/logstream/schemas"
)

// BenchmarkTraceOfManyEvents holds n events of one trace waiting for its
// span (each event an update of the trace's state), with the decoded
// traces cached in front of the table and without; ns/event is per event.
// Measured (2 cores, 2026-12-07), ns/event cached / not: 10 events 19k /
// 29k, 100 events 74k / 155k, 1000 events 323k / 1,115k. The cache takes
// the decode out; each update still encodes the whole state, which grows
// with the trace.
func BenchmarkTraceOfManyEvents(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		for _, cached := range []bool{true, false} {
			b.Run(fmt.Sprintf("events=%d/cached=%v", n, cached), func(b *testing.B) {
				h := newHarness(b, func(c *tracejoin.Config) {
					c.MaxEventsPerTrace = n + 1
					if !cached {
						c.CachedTraces = -1
					}
				})
				evs := make([][]byte, n)
				for i := range evs {
					v, err := h.set.LogEvent.Marshal(event(fmt.Sprintf("e%d", i), ptr(traceX), ptr(spanID), t0.Add(time.Duration(i)*time.Millisecond)))
					if err != nil {
						b.Fatal(err)
					}
					evs[i] = v
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					trace := fmt.Sprintf("%032x", i+1)
					for j, v := range evs {
						r := schemas.Routing{EventID: fmt.Sprintf("e%d", j), Timestamp: t0.UnixMilli() + int64(j), TraceID: &trace, SpanID: ptr(spanID)}
						h.tt.Consume(events, r.EventID, v, withRouting(r))
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/event")
			})
		}
	}
}
