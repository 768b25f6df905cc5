package spans

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats are the stage's counters. They are plain atomics so the hot path
// stays cheap; Collector exposes them to Prometheus.
type Stats struct {
	Messages          atomic.Int64 // OTLP messages read from the input
	Spans             atomic.Int64 // Spans emitted
	Rejected          atomic.Int64 // spans rejected for their ids (named in dead letters)
	DeadLetters       atomic.Int64 // DeadLetters emitted
	NegativeDurations atomic.Int64 // spans emitted with duration 0 because they ended before they started
	Watermarks        atomic.Int64 // watermark records written to the spans topic
}

// StatsSnapshot is a plain copy of Stats at one moment.
type StatsSnapshot struct {
	Messages          int64
	Spans             int64
	Rejected          int64
	DeadLetters       int64
	NegativeDurations int64
	Watermarks        int64
}

// Snapshot reads every counter. The counters are read one by one: under
// load the values may come from slightly different moments.
func (s *Stats) Snapshot() StatsSnapshot {
	return StatsSnapshot{
		Messages:          s.Messages.Load(),
		Spans:             s.Spans.Load(),
		Rejected:          s.Rejected.Load(),
		DeadLetters:       s.DeadLetters.Load(),
		NegativeDurations: s.NegativeDurations.Load(),
		Watermarks:        s.Watermarks.Load(),
	}
}

// The first four are shared with the other stages (processors/parse): same
// names, help and labels, as a registry requires of one metric family.
var (
	descIn       = prometheus.NewDesc("logstream_stage_records_in_total", "Records read by a stage from its input topics.", []string{"stage"}, nil)
	descOut      = prometheus.NewDesc("logstream_stage_records_out_total", "Records written by a stage, by output topic kind.", []string{"stage", "output"}, nil)
	descFailed   = prometheus.NewDesc("logstream_stage_records_failed_total", "Records a stage could not process (sent to the dead-letter topic).", []string{"stage"}, nil)
	descDLQ      = prometheus.NewDesc("logstream_dead_letters_total", "Dead letters written, by stage.", []string{"stage"}, nil)
	descRejected = prometheus.NewDesc("logstream_spans_rejected_total", "OTLP spans rejected for missing or malformed ids (named in a dead letter).", nil, nil)
	descNegative = prometheus.NewDesc("logstream_spans_negative_duration_total", "OTLP spans that ended before they started, emitted with duration 0.", nil, nil)
)

// Collector exposes Stats as Prometheus metrics. It is an unchecked
// collector (it describes nothing): the parse stage's collector already
// describes the shared stage metrics, and a registry refuses a second
// collector describing them. Registered beside it, the two merge into one
// family per name at gather time, told apart by the stage label.
func (s *Stats) Collector() prometheus.Collector { return statsCollector{s} }

type statsCollector struct{ s *Stats }

func (c statsCollector) Describe(chan<- *prometheus.Desc) {}

func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s.Snapshot()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(descIn, s.Messages, StageName)
	counter(descOut, s.Spans, StageName, "spans")
	counter(descOut, s.DeadLetters, StageName, "dead_letters")
	counter(descFailed, s.DeadLetters, StageName)
	counter(descDLQ, s.DeadLetters, StageName)
	counter(descRejected, s.Rejected)
	counter(descNegative, s.NegativeDurations)
}
