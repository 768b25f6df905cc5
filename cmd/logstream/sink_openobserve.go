package main

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/sinks"
	"github.com/logstream/logstream/sinks/openobserve"
	"github.com/logstream/logstream/topology"
)

// openObserveSettings are the settings of `logstream sink openobserve`.
type openObserveSettings struct {
	URL, Org, Stream, User, Password string
	Bulk, Verify                     bool
}

const sinkOpenObserveLong = `Reads --topics as consumer group "sink-openobserve" and writes each
partition's records to OpenObserve: POST /api/{org}/{stream}/_json (or
/api/{org}/_bulk with --openobserve-bulk), gzip, basic auth. Every record
carries kafka_topic, kafka_partition and kafka_offset, and its own time as
_timestamp; field names are normalised as OpenObserve stores them
(lowercase, [a-z0-9_], nested objects flattened with _).

Exactly once: OpenObserve has no idempotent writes, so the writer treats a
timeout, a 5xx, or a 200 whose successful + failed differs from the number
sent as ambiguous, searches OpenObserve (SQL over kafka_offset for the
batch's partition and offset range, cache off, partial results refused)
and resends only the records that are missing. 429 and 503 (refused before
writing) are retried after a backoff. A 400 splits the batch until the bad
record is found; it goes to logs.dlq with OpenObserve's answer. A new owner
of a partition searches before its first write for records the previous
owner wrote but did not commit. Offsets are committed only after the
records are stored. While OpenObserve fails --circuit-breaker-max-failures
writes in a row, the circuit breaker opens and consumption pauses.

Limit: OpenObserve cannot refuse a duplicate, so two live writers on one
partition (a member that lost its group membership but still writes) can
store a record twice in the instant between one's search and the other's
write; the consumer group prevents this in normal operation.`

var (
	sOpenObserveURL = setting{name: "openobserve-url", env: "LOGSTREAM_OPENOBSERVE_URL",
		usage: "OpenObserve base URL, e.g. http://openobserve:5080 (required; in the demo, enables the OpenObserve writer)",
		parse: httpURL(func(c *Config, v string) { c.Sink.OpenObserve.URL = v })}
	sOpenObserveOrg = setting{name: "openobserve-org", env: "LOGSTREAM_OPENOBSERVE_ORG", def: "default",
		usage: "OpenObserve organization",
		parse: func(c *Config, v string) error { c.Sink.OpenObserve.Org = strings.TrimSpace(v); return nil }}
	sOpenObserveStream = setting{name: "openobserve-stream", env: "LOGSTREAM_OPENOBSERVE_STREAM", def: "logstream",
		usage: "OpenObserve logs stream the records go to",
		parse: func(c *Config, v string) error { c.Sink.OpenObserve.Stream = strings.TrimSpace(v); return nil }}
	sOpenObserveUser = setting{name: "openobserve-user", env: "LOGSTREAM_OPENOBSERVE_USER",
		usage: "user (e-mail) for basic auth",
		parse: func(c *Config, v string) error { c.Sink.OpenObserve.User = strings.TrimSpace(v); return nil }}
	sOpenObservePassword = setting{name: "openobserve-password", env: "LOGSTREAM_OPENOBSERVE_PASSWORD", secret: true,
		usage: "password or ingestion token for basic auth",
		parse: func(c *Config, v string) error { c.Sink.OpenObserve.Password = v; return nil }}
	sOpenObserveBulk = boolSetting("openobserve-bulk", "LOGSTREAM_OPENOBSERVE_BULK", "write with the Elasticsearch-compatible /api/{org}/_bulk instead of /api/{org}/{stream}/_json",
		func(c *Config, b bool) { c.Sink.OpenObserve.Bulk = b })
	sOpenObserveVerify = boolSetting("openobserve-verify", "LOGSTREAM_OPENOBSERVE_VERIFY", "search every batch OpenObserve reported stored and resend what is missing (OpenObserve can answer 200 after its WAL write failed); one search per request",
		func(c *Config, b bool) { c.Sink.OpenObserve.Verify = b })

	sinkOpenObserveSettings = append(append([]setting(nil), sinkCommonSettings...),
		sSinkBatchSize(1000, "records per request"),
		sOpenObserveURL, sOpenObserveOrg, sOpenObserveStream, sOpenObserveUser, sOpenObservePassword, sOpenObserveBulk, sOpenObserveVerify,
		sOpenObserveMaxAgeSetting)

	sOpenObserveMaxAgeSetting = setting{name: "openobserve-max-age", env: "LOGSTREAM_OPENOBSERVE_MAX_AGE", def: "5s",
		usage: "how long after its first record a partial batch is sent at the latest",
		parse: durationIn(100*time.Millisecond, time.Hour, func(c *Config, d time.Duration) { c.Sink.OpenObserveMaxAge = d })}
)

// openObserveSink builds the OpenObserve sink from the settings.
func openObserveSink(cfg *Config, set *codecs.Set, log zerolog.Logger) (*openobserve.Sink, error) {
	o := cfg.Sink.OpenObserve
	c := openobserve.DefaultConfig()
	c.URL, c.Org, c.Stream, c.User, c.Password = o.URL, o.Org, o.Stream, o.User, o.Password
	c.Bulk, c.Verify = o.Bulk, o.Verify
	if cfg.BatchSize > 0 {
		c.BatchSize = cfg.BatchSize
	}
	if cfg.Sink.OpenObserveMaxAge > 0 {
		c.MaxAge = cfg.Sink.OpenObserveMaxAge
	}
	c.Decoder = sinks.NewDecoder(set)
	c.Logger = log.With().Str("stage", "sink-openobserve").Logger()
	s, err := openobserve.New(c)
	if err != nil {
		return nil, usagef("logstream sink openobserve: %v", err)
	}
	return s, nil
}

func runSinkOpenObserve(ctx context.Context, cfg *Config, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	set, err := sinkCodecs(cfg)
	if err != nil {
		return err
	}
	sink, err := openObserveSink(cfg, set, log)
	if err != nil {
		return err
	}
	r, err := sinkRunner(ctx, cfg, set, topology.GroupSinkOpenObserve, sink, log)
	if err != nil {
		return usagef("logstream sink openobserve: %v", err)
	}
	return serveSink(ctx, cfg, log, r, sink.Metrics().Collectors())
}
