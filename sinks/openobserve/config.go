package openobserve

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/rs/zerolog"

	"github.com/logstream/logstream/internal/retry"
	"github.com/logstream/logstream/sinks"
)

// Defaults of Config.
const (
	DefaultBatchSize             = 1000
	DefaultMaxAge                = 5 * time.Second
	DefaultTimeout               = 30 * time.Second
	DefaultSettle                = 2 * time.Second
	DefaultColumnLimit           = 1000
	DefaultIngestAllowedUpto     = 5 * time.Hour
	DefaultIngestAllowedInFuture = 24 * time.Hour
	DefaultRetryInitial          = 200 * time.Millisecond
	DefaultRetryMax              = 30 * time.Second
	DefaultRetryAttempts         = 5
)

// Config configures a Sink. Settings a pod reads from flags and the
// environment are parsed in cmd/; the messages of Validate and Check name
// them so that an operator knows what to fix.
type Config struct {
	// URL is OpenObserve's base URL, e.g. http://openobserve:5080
	// (--openobserve-url, LOGSTREAM_OPENOBSERVE_URL).
	URL string
	// Org is the organization (--openobserve-org); Stream the logs stream
	// written (--openobserve-stream). OpenObserve formats stream names
	// (lowercase, runs of characters outside [a-zA-Z0-9_:] become "_");
	// the searches use the formatted name.
	Org, Stream string
	// User and Password authenticate every request with HTTP basic auth
	// (LOGSTREAM_OPENOBSERVE_USER, LOGSTREAM_OPENOBSERVE_PASSWORD); the
	// password may be an ingestion token.
	User, Password string

	// Bulk writes with POST /api/{org}/_bulk (Elasticsearch NDJSON, a status
	// per record) instead of POST /api/{org}/{stream}/_json.
	Bulk bool
	// Gzip compresses request bodies (Content-Encoding: gzip); on in
	// DefaultConfig. Log batches compress about tenfold.
	Gzip bool

	// BatchSize is the number of records per request (default 1000):
	// Full reports true at this many buffered records.
	BatchSize int
	// MaxAge is how long the first buffered record waits before Due asks
	// for a flush of a partial batch (default 5 s).
	MaxAge time.Duration
	// Timeout bounds one HTTP request (default 30 s).
	Timeout time.Duration
	// Settle is how long the writer waits after a request that got no
	// answer at all (timeout, reset) before it searches what landed: the
	// server may still be working on the request it lost touch with, and a
	// search that runs before that write would make the resend a duplicate
	// (default 2 s).
	Settle time.Duration

	// Verify searches every batch OpenObserve reported stored, and sends
	// what is missing: OpenObserve answers 200 with every record counted
	// successful even when writing its WAL failed. It costs one search per
	// request.
	Verify bool

	// ColumnLimit is OpenObserve's ZO_COLS_PER_RECORD_LIMIT (default 1000).
	// A record with more fields can never be stored: it goes to the
	// dead-letter topic at once instead of failing every request it is in.
	ColumnLimit int
	// IngestAllowedUpto and IngestAllowedInFuture are OpenObserve's
	// ZO_INGEST_ALLOWED_UPTO and ZO_INGEST_ALLOWED_IN_FUTURE (default 5 h
	// and 24 h): the window of record times it accepts. The search a new
	// writer makes for records a previous owner wrote covers this window.
	IngestAllowedUpto, IngestAllowedInFuture time.Duration

	// HTTPClient sends the requests; nil means a client of its own. Timeout
	// applies on top of the client's own.
	HTTPClient *http.Client
	// Decoder turns Kafka records into documents; required.
	Decoder *sinks.Decoder
	// Logger logs retries, reconciliations and dead letters; the zero value
	// logs nothing.
	Logger zerolog.Logger
	// Metrics counts requests and records; nil means metrics of its own
	// (Sink.Metrics).
	Metrics *Metrics
	// Retry paces the retries within one Flush.
	Retry Retry
	// Now is OpenObserve's clock, which decides the window of record times
	// it accepts (the takeover search covers that window); nil means
	// time.Now. Due always uses the local clock, as the runner's timers
	// do.
	Now func() time.Time
}

// Retry is the backoff between attempts within one Flush: the n-th wait is
// drawn uniformly from [d/2, d] with d = Initial·2ⁿ⁻¹ capped at Max; a
// Retry-After header (429, 503) lengthens a wait, up to Max. After Attempts
// failed attempts Flush returns the last error, keeping its buffer, so
// that the runner's circuit breaker sees the failures; the next Flush
// resumes where this one stopped.
type Retry struct {
	Initial  time.Duration // first wait; 0 means 200 ms
	Max      time.Duration // longest wait; 0 means 30 s
	Attempts int           // failed attempts per Flush; 0 means 5
}

func (r Retry) withDefaults() Retry {
	if r.Initial == 0 {
		r.Initial = DefaultRetryInitial
	}
	if r.Max == 0 {
		r.Max = DefaultRetryMax
	}
	if r.Initial > r.Max {
		r.Initial = r.Max
	}
	if r.Attempts == 0 {
		r.Attempts = DefaultRetryAttempts
	}
	return r
}

// policy is r as the shared retry policy: a *sinks.Permanent stops it.
func (r Retry) policy() retry.Policy {
	r = r.withDefaults()
	return retry.Policy{
		Initial:  r.Initial,
		Max:      r.Max,
		Attempts: r.Attempts,
		Permanent: func(err error) bool {
			var perm *sinks.Permanent
			return errors.As(err, &perm)
		},
	}
}

// DefaultConfig returns a Config with every default set, gzip on: the
// starting point for cmd/, which fills in the URL, org, stream,
// credentials and Decoder.
func DefaultConfig() Config {
	c := Config{Gzip: true}.withDefaults()
	c.HTTPClient, c.Metrics, c.Now = nil, nil, nil // per sink, made by New
	return c
}

// Validate reports the first invalid setting, naming the flag or variable
// that sets it.
func (c Config) Validate() error {
	if c.URL == "" {
		return errors.New("openobserve: no URL: set --openobserve-url (LOGSTREAM_OPENOBSERVE_URL), e.g. http://openobserve:5080")
	}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("openobserve: --openobserve-url (LOGSTREAM_OPENOBSERVE_URL) %q is not an http(s) URL", c.URL)
	}
	if c.Org == "" {
		return errors.New("openobserve: no organization: set --openobserve-org (LOGSTREAM_OPENOBSERVE_ORG)")
	}
	if c.Stream == "" {
		return errors.New("openobserve: no stream: set --openobserve-stream (LOGSTREAM_OPENOBSERVE_STREAM)")
	}
	if formatStreamName(c.Stream) == "_" {
		return fmt.Errorf("openobserve: --openobserve-stream %q has no letter or digit", c.Stream)
	}
	if c.User == "" || c.Password == "" {
		return errors.New("openobserve: no credentials: set LOGSTREAM_OPENOBSERVE_USER and LOGSTREAM_OPENOBSERVE_PASSWORD (the password may be an ingestion token)")
	}
	if c.Decoder == nil {
		return errors.New("openobserve: no Decoder")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"MaxAge", c.MaxAge}, {"Timeout", c.Timeout}, {"Settle", c.Settle},
		{"IngestAllowedUpto", c.IngestAllowedUpto}, {"IngestAllowedInFuture", c.IngestAllowedInFuture},
		{"Retry.Initial", c.Retry.Initial}, {"Retry.Max", c.Retry.Max},
	} {
		if d.v < 0 {
			return fmt.Errorf("openobserve: %s %s is negative", d.name, d.v)
		}
	}
	if c.BatchSize < 0 {
		return fmt.Errorf("openobserve: batch size %d is negative", c.BatchSize)
	}
	if c.ColumnLimit < 0 {
		return fmt.Errorf("openobserve: column limit %d is negative", c.ColumnLimit)
	}
	if c.Retry.Attempts < 0 {
		return fmt.Errorf("openobserve: retry attempts %d is negative", c.Retry.Attempts)
	}
	if c.Retry.Initial > 0 && c.Retry.Max > 0 && c.Retry.Initial > c.Retry.Max {
		return fmt.Errorf("openobserve: retry initial wait %s exceeds the maximum %s", c.Retry.Initial, c.Retry.Max)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Settle == 0 {
		c.Settle = DefaultSettle
	}
	if c.ColumnLimit == 0 {
		c.ColumnLimit = DefaultColumnLimit
	}
	if c.IngestAllowedUpto == 0 {
		c.IngestAllowedUpto = DefaultIngestAllowedUpto
	}
	if c.IngestAllowedInFuture == 0 {
		c.IngestAllowedInFuture = DefaultIngestAllowedInFuture
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.Retry = c.Retry.withDefaults()
	return c
}
