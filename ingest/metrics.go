package ingest

import "github.com/prometheus/client_golang/prometheus"

// Results of a line, the values of logstream_ingest_lines_total's label.
const (
	ResultAcknowledged = "acknowledged"  // on the raw topic, acknowledged
	ResultDeadLettered = "dead_lettered" // on the dead-letter topic, acknowledged
	ResultFailed       = "failed"        // could not be encoded or produced
	ResultSkipped      = "skipped"       // empty, not produced
)

// Metrics are ingest's Prometheus metrics. Run updates them as lines reach
// an end; a nil *Metrics is valid and counts nothing.
type Metrics struct {
	lines     *prometheus.CounterVec
	truncated prometheus.Counter
}

// NewMetrics returns unregistered metrics.
func NewMetrics() *Metrics {
	m := &Metrics{
		lines: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logstream_ingest_lines_total",
			Help: "Lines read by ingest, by result: acknowledged (on the raw topic), dead_lettered (not valid UTF-8: on the dead-letter topic), failed (could not be encoded or produced), skipped (empty).",
		}, []string{"result"}),
		truncated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logstream_ingest_truncated_lines_total",
			Help: "Lines cut so that their record fits the broker's max.message.bytes (labelled truncated=true and original_bytes=N).",
		}),
	}
	// Every result shows from the start, at 0.
	for _, r := range []string{ResultAcknowledged, ResultDeadLettered, ResultFailed, ResultSkipped} {
		m.lines.WithLabelValues(r)
	}
	return m
}

// Collectors returns every metric, for a registry.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.lines, m.truncated}
}

func (m *Metrics) line(result string) {
	if m != nil {
		m.lines.WithLabelValues(result).Inc()
	}
}

func (m *Metrics) cut() {
	if m != nil {
		m.truncated.Inc()
	}
}
