package openobserve

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Request endpoints, the values of the endpoint label.
const (
	endpointIngest = "ingest"
	endpointSearch = "search"
	endpointCheck  = "check"
)

// Request outcomes, the values of the outcome label of
// logstream_sink_openobserve_requests_total.
const (
	OutcomeOK          = "ok"           // 200 and every record stored (ingest), or a trusted result (search)
	OutcomeIncomplete  = "incomplete"   // 200 but not every record stored, or counts that do not add up, or a partial search
	OutcomeUnavailable = "unavailable"  // 429 or 503: nothing written, resent after a wait
	OutcomeBadRequest  = "bad_request"  // 400 or 413: nothing written, the batch is split
	OutcomeServerError = "server_error" // another 5xx: ambiguous
	OutcomeRefused     = "refused"      // 401, 403, 404 or another 4xx: a setting to fix
	OutcomeNoAnswer    = "no_answer"    // timeout or connection error: ambiguous
)

// Dead-letter reasons, the values of the reason label.
const (
	ReasonDecode     = "decode"      // not a record the sink stores
	ReasonRejected   = "rejected"    // OpenObserve counted it failed, twice, sent alone
	ReasonBadRequest = "bad_request" // OpenObserve answered 400 to it alone
	ReasonColumns    = "columns"     // more fields than OpenObserve's column limit
)

// Metrics are the OpenObserve sink's Prometheus metrics, shared by its
// partition writers. Register them with Register, or pass Collectors to a
// registry.
type Metrics struct {
	requests       *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	written        prometheus.Counter
	bytes          prometheus.Counter
	retries        *prometheus.CounterVec
	ambiguous      *prometheus.CounterVec
	reconciled     *prometheus.CounterVec
	resent         prometheus.Counter
	deadLetters    *prometheus.CounterVec
	alreadyWritten prometheus.Counter
	verified       prometheus.Counter
}

// NewMetrics returns unregistered metrics.
func NewMetrics() *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logstream_sink_openobserve_requests_total",
			Help: "HTTP requests to OpenObserve by endpoint (ingest, search, check) and outcome (ok, incomplete, unavailable, bad_request, server_error, refused, no_answer).",
		}, []string{"endpoint", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "logstream_sink_openobserve_request_duration_seconds",
			Help:    "Duration of one HTTP request to OpenObserve, by endpoint.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"endpoint"}),
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logstream_sink_openobserve_records_written_total",
			Help: "Records confirmed stored in OpenObserve, by an answer or by a search after an ambiguous one; each record once.",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logstream_sink_openobserve_sent_bytes_total",
			Help: "Bytes of ingest request bodies sent, after compression.",
		}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logstream_sink_openobserve_retries_total",
			Help: "Waits before another attempt within a flush, by the outcome that caused it.",
		}, []string{"outcome"}),
		ambiguous: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logstream_sink_openobserve_ambiguous_total",
			Help: "Ingest requests whose outcome was unknown and was reconciled by a search, by cause (no_answer, server_error, count_mismatch, failed, interrupted).",
		}, []string{"cause"}),
		reconciled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logstream_sink_openobserve_reconciled_records_total",
			Help: "Records looked up by a reconciling search, by result: stored (found, not sent again) or missing (to be resent).",
		}, []string{"result"}),
		resent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logstream_sink_openobserve_resent_records_total",
			Help: "Records sent again after a search found them missing.",
		}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logstream_sink_openobserve_dead_letters_total",
			Help: "Records sent to the dead-letter topic, by reason (decode, rejected, bad_request, columns).",
		}, []string{"reason"}),
		alreadyWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logstream_sink_openobserve_takeover_found_records_total",
			Help: "Records a new partition writer found already stored (written by the previous owner, not committed) and did not send.",
		}),
		verified: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logstream_sink_openobserve_verified_records_total",
			Help: "Records OpenObserve reported stored that were searched for anyway (Config.Verify).",
		}),
	}
	for _, e := range []string{endpointIngest, endpointSearch, endpointCheck} {
		m.latency.WithLabelValues(e)
		for _, o := range []string{OutcomeOK, OutcomeIncomplete, OutcomeUnavailable, OutcomeBadRequest, OutcomeServerError, OutcomeRefused, OutcomeNoAnswer} {
			m.requests.WithLabelValues(e, o)
		}
	}
	for _, r := range []string{ReasonDecode, ReasonRejected, ReasonBadRequest, ReasonColumns} {
		m.deadLetters.WithLabelValues(r)
	}
	for _, r := range []string{"stored", "missing"} {
		m.reconciled.WithLabelValues(r)
	}
	return m
}

// Collectors returns every metric, for a registry.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.requests, m.latency, m.written, m.bytes, m.retries, m.ambiguous,
		m.reconciled, m.resent, m.deadLetters, m.alreadyWritten, m.verified}
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

func (m *Metrics) request(endpoint, outcome string, d time.Duration) {
	m.requests.WithLabelValues(endpoint, outcome).Inc()
	m.latency.WithLabelValues(endpoint).Observe(d.Seconds())
}
