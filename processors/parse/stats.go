package parse

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats are the stage's counters. They are plain atomics so the hot path
// stays cheap; Collector exposes them to Prometheus.
type Stats struct {
	In                atomic.Int64 // records read from the input
	Events            atomic.Int64 // LogEvents emitted
	DeadLetters       atomic.Int64 // DeadLetters emitted
	Unparsed          atomic.Int64 // events whose line matched no format
	PartialHeld       atomic.Int64 // CRI parts stored to wait for the rest
	PartialJoined     atomic.Int64 // CRI lines emitted whole from parts
	PartialTruncated  atomic.Int64 // CRI lines emitted early at MaxPartialBytes
	PartialUnjoinable atomic.Int64 // CRI parts emitted alone (no usable key)
	Rehomed           atomic.Int64 // records sent through the loop topic: their key belongs to another partition
	PartialIdle       atomic.Int64 // CRI lines emitted as they stood after HoldIdle without their end
	Replayed          atomic.Int64 // replayed parts and lines recognised and skipped
	StackHeld         atomic.Int64 // lines held because a stack trace may follow
	StackLines        atomic.Int64 // continuation lines joined to a held event
	StackJoined       atomic.Int64 // events emitted with continuation lines (multi-line)
	StackTruncated    atomic.Int64 // multi-line events emitted early at MaxStackLines/MaxStackBytes
	StackIdle         atomic.Int64 // held events emitted by a sweep after HoldIdle
	Masked            atomic.Int64 // values masked in events (card numbers, configured patterns)
	Watermarks        atomic.Int64 // watermark records written (package watermark)

	// formats is filled once by newStats and only read afterwards, so the
	// hot path needs no lock.
	formats map[string]*atomic.Int64
}

// knownFormats are the values Fields.Format takes; anything else counts as "other".
var knownFormats = []string{"json", "logfmt", "cri", "combined", "alb", "syslog3164", "syslog5424", "java", "klog", "python", "none", "other"}

func newStats() *Stats {
	s := &Stats{formats: make(map[string]*atomic.Int64, len(knownFormats))}
	for _, f := range knownFormats {
		s.formats[f] = new(atomic.Int64)
	}
	return s
}

func (s *Stats) countFormat(f string) {
	c, ok := s.formats[f]
	if !ok {
		c = s.formats["other"]
	}
	c.Add(1)
}

// Formats returns events emitted per detected format.
func (s *Stats) Formats() map[string]int64 {
	out := make(map[string]int64, len(s.formats))
	for f, c := range s.formats {
		if v := c.Load(); v > 0 {
			out[f] = v
		}
	}
	return out
}

var (
	descIn       = prometheus.NewDesc("logstream_stage_records_in_total", "Records read by a stage from its input topics.", []string{"stage"}, nil)
	descOut      = prometheus.NewDesc("logstream_stage_records_out_total", "Records written by a stage, by output topic kind.", []string{"stage", "output"}, nil)
	descFailed   = prometheus.NewDesc("logstream_stage_records_failed_total", "Records a stage could not process (sent to the dead-letter topic).", []string{"stage"}, nil)
	descDLQ      = prometheus.NewDesc("logstream_dead_letters_total", "Dead letters written, by stage.", []string{"stage"}, nil)
	descUnparsed = prometheus.NewDesc("logstream_parse_unparsed_total", "Lines that matched no known format (emitted with parse_error set).", nil, nil)
	descFormat   = prometheus.NewDesc("logstream_parse_format_total", "Events emitted by the parse stage, by detected format.", []string{"format"}, nil)
	descPartial  = prometheus.NewDesc("logstream_parse_cri_partials_total", "CRI partial-line handling: held, joined, truncated, unjoinable, idle (emitted as it stood after the hold idle time), replayed (parts and lines).", []string{"outcome"}, nil)
	descRehomed  = prometheus.NewDesc("logstream_parse_rehomed_total", "Records the parse stage sent through its loop topic because their key belongs to another partition (a shipper that partitions otherwise), so that their host's lines are joined.", nil, nil)
	descMasked   = prometheus.NewDesc("logstream_parse_masked_values_total", "Values the parse stage masked in events (card numbers, configured patterns): message, stack, labels and parse_error.", nil, nil)
	descStack    = prometheus.NewDesc("logstream_parse_multiline_total", "Multi-line events (stack traces): held (lines that may start one), lines (continuation lines joined), joined (events emitted with continuation lines), truncated (emitted at the line or byte bound), idle (emitted by a sweep after the hold idle time).", []string{"outcome"}, nil)
)

// Collector exposes Stats as Prometheus metrics.
func (s *Stats) Collector() prometheus.Collector { return statsCollector{s} }

type statsCollector struct{ s *Stats }

func (c statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descIn, descOut, descFailed, descDLQ, descUnparsed, descFormat, descPartial, descStack, descMasked, descRehomed} {
		ch <- d
	}
}

func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(descIn, s.In.Load(), StageName)
	counter(descOut, s.Events.Load(), StageName, "events")
	counter(descOut, s.DeadLetters.Load(), StageName, "dead_letters")
	counter(descFailed, s.DeadLetters.Load(), StageName)
	counter(descDLQ, s.DeadLetters.Load(), StageName)
	counter(descUnparsed, s.Unparsed.Load())
	for f, v := range s.Formats() {
		counter(descFormat, v, f)
	}
	counter(descPartial, s.PartialHeld.Load(), "held")
	counter(descPartial, s.PartialJoined.Load(), "joined")
	counter(descPartial, s.PartialTruncated.Load(), "truncated")
	counter(descPartial, s.PartialUnjoinable.Load(), "unjoinable")
	counter(descPartial, s.PartialIdle.Load(), "idle")
	counter(descPartial, s.Replayed.Load(), "replayed")
	counter(descStack, s.StackHeld.Load(), "held")
	counter(descStack, s.StackLines.Load(), "lines")
	counter(descStack, s.StackJoined.Load(), "joined")
	counter(descStack, s.StackTruncated.Load(), "truncated")
	counter(descStack, s.StackIdle.Load(), "idle")
	counter(descMasked, s.Masked.Load())
	counter(descRehomed, s.Rehomed.Load())
}
