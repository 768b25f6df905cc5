package paging

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Delivery results, the values of the result label.
const (
	ResultOK          = "ok"          // the target accepted the alert
	ResultPermanent   = "permanent"   // the target refused it for good; logged and skipped
	ResultInterrupted = "interrupted" // shutdown came first; the record stays uncommitted
	ResultFailed      = "failed"      // a re-send not accepted within its round; the next round tries again
)

// Metrics are the page consumer's Prometheus metrics. Register them with
// Register, or pass Collectors to a registry.
type Metrics struct {
	deliveries  *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	retries     *prometheus.CounterVec
	alerts      *prometheus.CounterVec
	deadLetters prometheus.Counter
	resends     *prometheus.CounterVec
	open        prometheus.Gauge
	pipeline    prometheus.Gauge
}

// NewMetrics returns unregistered metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logstream_page_deliveries_total",
			Help: "Alert deliveries by target and result: ok, permanent (refused for good, logged and skipped), interrupted (shutdown before success; redelivered on restart).",
		}, []string{"target", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "logstream_page_delivery_duration_seconds",
			Help:    "Time from a delivery's first attempt until the target accepted or refused the alert, retries included, by target.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"target"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logstream_page_retries_total",
			Help: "Failed delivery attempts that were retried (network errors, 408, 429, 5xx), by target.",
		}, []string{"target"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logstream_page_alerts_total",
			Help: "Alert records read from the alerts topic and decoded, by state.",
		}, []string{"state"}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logstream_page_dead_letters_total",
			Help: "Records of the alerts topic that were not valid Alerts, sent to the dead-letter topic and skipped.",
		}),
		resends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logstream_page_resends_total",
			Help: "Open FIRING alerts sent again to a target that forgets them otherwise (Alertmanager), by target and result: ok, failed (the next round tries again), permanent (refused; not re-sent to that target again).",
		}, []string{"target", "result"}),
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logstream_page_open_alerts",
			Help: "Open incidents (FIRING delivered, RESOLVED not yet) of the alerts partitions this member owns: the alerts it re-sends.",
		}),
		pipeline: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logstream_page_pipeline_up",
			Help: "1 when the last re-send round found the alerter's consumer group with a member (the pipeline runs), 0 when it found none: open alerts are then not re-sent and expire in Alertmanager.",
		}),
	}
}

// Collectors returns every metric, for a registry.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.deliveries, m.latency, m.retries, m.alerts, m.deadLetters, m.resends, m.open, m.pipeline}
}

// Register registers every metric on r.
func (m *Metrics) Register(r prometheus.Registerer) error {
	var errs []error
	for _, c := range m.Collectors() {
		if err := r.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RetryHook returns a Retry.OnRetry hook for target that counts the retry
// and logs it at warn level.
func (m *Metrics) RetryHook(target string, log zerolog.Logger) func(attempt int, err error, wait time.Duration) {
	c := m.retries.WithLabelValues(target)
	return func(attempt int, err error, wait time.Duration) {
		c.Inc()
		log.Warn().Str("stage", Stage).Str("target", target).Int("attempt", attempt).Dur("retry_in", wait).Err(err).Msg("delivery failed, retrying")
	}
}

// init creates the series of each target, so dashboards see zeros.
func (m *Metrics) init(targets []Target) {
	for _, t := range targets {
		for _, r := range []string{ResultOK, ResultPermanent, ResultInterrupted} {
			m.deliveries.WithLabelValues(t.Name, r)
		}
		m.retries.WithLabelValues(t.Name)
		m.latency.WithLabelValues(t.Name)
		if _, ok := t.Notifier.(Resender); ok {
			for _, r := range []string{ResultOK, ResultFailed, ResultPermanent} {
				m.resends.WithLabelValues(t.Name, r)
			}
		}
	}
}

func (m *Metrics) resent(target, result string) { m.resends.WithLabelValues(target, result).Inc() }

func (m *Metrics) pipelineUp(up bool) {
	if up {
		m.pipeline.Set(1)
	} else {
		m.pipeline.Set(0)
	}
}

func (m *Metrics) delivered(target, result string, d time.Duration) {
	m.deliveries.WithLabelValues(target, result).Inc()
	if result != ResultInterrupted {
		m.latency.WithLabelValues(target).Observe(d.Seconds())
	}
}
