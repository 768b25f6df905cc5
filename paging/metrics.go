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
)

// Metrics are the page consumer's Prometheus metrics. Register them with
// Register, or pass Collectors to a registry.
type Metrics struct {
	deliveries  *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	retries     *prometheus.CounterVec
	alerts      *prometheus.CounterVec
	deadLetters prometheus.Counter
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
	}
}

// Collectors returns every metric, for a registry.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.deliveries, m.latency, m.retries, m.alerts, m.deadLetters}
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
	}
}

func (m *Metrics) delivered(target, result string, d time.Duration) {
	m.deliveries.WithLabelValues(target, result).Inc()
	if result != ResultInterrupted {
		m.latency.WithLabelValues(target).Observe(d.Seconds())
	}
}
