package tracejoin

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logstream/logstream/state"
)

// Stats are the stage's counters.
type Stats struct {
	Watermarks      atomic.Int64 // watermark records written to the loop topic
	BadStamps       atomic.Int64 // watermark stamps that did not parse (ignored)
	Events          atomic.Int64 // events read from logs.unique
	Spans           atomic.Int64 // spans read from the spans topic
	Rekeyed         atomic.Int64 // events sent through the loop by trace id
	Rerouted        atomic.Int64 // spans sent to their trace's partition
	NoTrace         atomic.Int64 // events emitted without a (valid) trace id
	InvalidTraceIDs atomic.Int64 // events whose trace id is not hex of the right length
	BadSpans        atomic.Int64 // spans dead-lettered (no or bad trace id, no span id)
	Joined          atomic.Int64 // events emitted with their span
	Timeouts        atomic.Int64 // events emitted unenriched after the window (or late, future, overflow)
	Late            atomic.Int64 // events older than stream time minus the window
	Future          atomic.Int64 // events far ahead of the wall clock or stream time
	Overflow        atomic.Int64 // events past MaxEventsPerTrace
	BoundReleased   atomic.Int64 // events released before their window's end: their partition held more than its bound
	DuplicateEvents atomic.Int64 // events re-keyed twice, recognised by id
	DuplicateSpans  atomic.Int64 // spans seen twice, recognised by span id
	Replayed        atomic.Int64 // replayed records recognised from state
	Suppressed      atomic.Int64 // emits the fence found already landed
	Timers          atomic.Int64 // window timers of the previous version received
	Visited         atomic.Int64 // traces visited by sweeps
	CacheHits       atomic.Int64 // states found decoded in memory
	VisitsIdle      atomic.Int64 // visits that found nothing to do (should stay 0)
	Closed          atomic.Int64 // trace states deleted
	DeadLetters     atomic.Int64

	entries state.Entries
	held    state.Entries
}

func newStats() *Stats { return &Stats{} }

// SetEntries records a partition's number of stored keys (the sweeper's count).
func (s *Stats) SetEntries(partition int32, n int) { s.entries.Set(partition, n) }

// SetHeld records a partition's number of events waiting (the sweeper's count).
func (s *Stats) SetHeld(partition int32, n int) { s.held.Set(partition, n) }

// Held returns the events waiting, as the last sweep of each partition counted.
func (s *Stats) Held() int { return s.held.Total() }

// Entries returns the stored keys counted by the last sweep of each partition.
func (s *Stats) Entries() int { return s.entries.Total() }

// HitRate is joined / (joined + timeouts): the share of events with a
// trace id that found their span.
func (s *Stats) HitRate() float64 {
	j, t := s.Joined.Load(), s.Timeouts.Load()
	if j+t == 0 {
		return 0
	}
	return float64(j) / float64(j+t)
}

// Snapshot is a plain copy of the counters.
type Snapshot struct {
	Events, Spans, Rekeyed, Rerouted, NoTrace, InvalidTraceIDs, BadSpans int64
	Joined, Timeouts, Late, Future, Overflow, DuplicateEvents            int64
	DuplicateSpans, Replayed, Suppressed, Timers, Closed, DeadLetters    int64
	Visited, VisitsIdle, BoundReleased                                   int64
	Entries, Held                                                        int
	HitRate                                                              float64
}

// Snapshot copies the counters.
func (s *Stats) Snapshot() Snapshot {
	return Snapshot{
		Events: s.Events.Load(), Spans: s.Spans.Load(), Rekeyed: s.Rekeyed.Load(), Rerouted: s.Rerouted.Load(),
		NoTrace: s.NoTrace.Load(), InvalidTraceIDs: s.InvalidTraceIDs.Load(), BadSpans: s.BadSpans.Load(),
		Joined: s.Joined.Load(), Timeouts: s.Timeouts.Load(), Late: s.Late.Load(), Future: s.Future.Load(),
		Overflow: s.Overflow.Load(), DuplicateEvents: s.DuplicateEvents.Load(), DuplicateSpans: s.DuplicateSpans.Load(),
		Replayed: s.Replayed.Load(), Suppressed: s.Suppressed.Load(), Timers: s.Timers.Load(), Closed: s.Closed.Load(),
		DeadLetters: s.DeadLetters.Load(), Entries: s.Entries(), HitRate: s.HitRate(),
		Visited: s.Visited.Load(), VisitsIdle: s.VisitsIdle.Load(), BoundReleased: s.BoundReleased.Load(), Held: s.Held(),
	}
}

var (
	descRecords = prometheus.NewDesc("logstream_tracejoin_records_total", "Trace-join records by outcome: events, spans, rekeyed, rerouted, no_trace, invalid_trace_id, bad_span, duplicate_event, duplicate_span, replayed, suppressed, dead_letter.", []string{"outcome"}, nil)
	descJoin    = prometheus.NewDesc("logstream_tracejoin_join_total", "Events emitted by the join: hit (joined with their span) or timeout (emitted unenriched).", []string{"result"}, nil)
	descTime    = prometheus.NewDesc("logstream_tracejoin_event_time_total", "Events that did not wait their window: late (older than stream time minus the window), future, overflow (trace full), bound (released unenriched, oldest first, because their partition held more events than its bound).", []string{"kind"}, nil)
	descState   = prometheus.NewDesc("logstream_tracejoin_state_total", "Traces visited by sweeps, visits that found nothing to do (idle), window timers of the previous version received, and trace states closed (deleted).", []string{"outcome"}, nil)
	descEntries = prometheus.NewDesc("logstream_tracejoin_state_entries", "Open traces held in the join table on this pod (counted at the last sweep).", nil, nil)
	descHeld    = prometheus.NewDesc("logstream_tracejoin_held_events", "Events waiting for their span on this pod (counted at the last sweep); each partition is bounded (pipeline StateOptions.MaxHeld).", nil, nil)
)

// Collector exposes Stats as Prometheus metrics.
func (s *Stats) Collector() prometheus.Collector { return collector{s} }

type collector struct{ s *Stats }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRecords, descJoin, descTime, descState, descEntries, descHeld} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	v := c.s.Snapshot()
	counter := func(d *prometheus.Desc, n int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(n), labels...)
	}
	for _, o := range []struct {
		n     int64
		label string
	}{{v.Events, "events"}, {v.Spans, "spans"}, {v.Rekeyed, "rekeyed"}, {v.Rerouted, "rerouted"}, {v.NoTrace, "no_trace"},
		{v.InvalidTraceIDs, "invalid_trace_id"}, {v.BadSpans, "bad_span"}, {v.DuplicateEvents, "duplicate_event"},
		{v.DuplicateSpans, "duplicate_span"}, {v.Replayed, "replayed"}, {v.Suppressed, "suppressed"}, {v.DeadLetters, "dead_letter"}} {
		counter(descRecords, o.n, o.label)
	}
	counter(descJoin, v.Joined, "hit")
	counter(descJoin, v.Timeouts, "timeout")
	counter(descTime, v.Late, "late")
	counter(descTime, v.Future, "future")
	counter(descTime, v.Overflow, "overflow")
	counter(descTime, v.BoundReleased, "bound")
	counter(descState, v.Visited, "visited")
	counter(descState, v.VisitsIdle, "idle")
	counter(descState, v.Timers, "timer")
	counter(descState, v.Closed, "closed")
	ch <- prometheus.MustNewConstMetric(descEntries, prometheus.GaugeValue, float64(v.Entries))
	ch <- prometheus.MustNewConstMetric(descHeld, prometheus.GaugeValue, float64(v.Held))
}
