package sinks

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the Runner's Prometheus metrics, labelled by sink. What a
// store's writer counts itself (objects, bytes, conflicts, reconciles) is
// in that sink's package.
type Metrics struct {
	records     *prometheus.CounterVec
	flushes     *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	retries     *prometheus.CounterVec
	deadLetters *prometheus.CounterVec
	rejected    *prometheus.CounterVec
	circuit     *prometheus.GaugeVec
	paused      *prometheus.GaugeVec
	committed   *prometheus.GaugeVec
	lag         *prometheus.GaugeVec
}

// NewMetrics returns unregistered metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logstream_sink_records_consumed_total",
			Help: "Records read from Kafka and handed to the sink's writer, by sink and topic (what the store received is counted by the sink's own metrics).",
		}, []string{"sink", "topic"}),
		flushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logstream_sink_flushes_total",
			Help: "Flushes of a partition's buffer to the store, by sink and result (ok, failed).",
		}, []string{"sink", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "logstream_sink_flush_duration_seconds",
			Help:    "Duration of one successful flush of a partition's buffer (every request it made), by sink.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"sink"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logstream_sink_retries_total",
			Help: "Failed flushes that were retried, by sink.",
		}, []string{"sink"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logstream_sink_dead_letters_total",
			Help: "Records the sink could not store, written to the dead-letter topic with the reason, by sink.",
		}, []string{"sink"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logstream_sink_rejected_records_total",
			Help: "Records the sink rejected as not what their topic carries, sent to the dead-letter topic, by sink, topic and reason: tombstone, not_avro, wrong_record (another record type, such as a LogEvent on alerts), undecodable, unencodable.",
		}, []string{"sink", "topic", "reason"}),
		circuit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "logstream_sink_circuit_state",
			Help: "The sink's circuit breaker: 0 closed, 1 open (consumption paused), 2 half-open (one probe out).",
		}, []string{"sink"}),
		paused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "logstream_sink_consumption_paused",
			Help: "1 while the sink has paused consumption because its circuit breaker is open.",
		}, []string{"sink"}),
		committed: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "logstream_sink_committed_offset",
			Help: "The offset last committed per partition: every record before it is in the store.",
		}, []string{"sink", "topic", "partition"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "logstream_sink_lag_records",
			Help: "Records of a partition not yet committed: high watermark minus committed offset.",
		}, []string{"sink", "topic", "partition"}),
	}
}

// Collectors returns every metric, for a registry.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.records, m.flushes, m.latency, m.retries, m.deadLetters, m.rejected, m.circuit, m.paused, m.committed, m.lag}
}

// Register registers every metric on r.
func (m *Metrics) Register(r prometheus.Registerer) error {
	for _, c := range m.Collectors() {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

func (m *Metrics) offsets(sink, topic string, partition int32, committed, hwm int64) {
	p := strconv.Itoa(int(partition))
	m.committed.WithLabelValues(sink, topic, p).Set(float64(committed))
	if hwm >= committed {
		m.lag.WithLabelValues(sink, topic, p).Set(float64(hwm - committed))
	}
}
