package main

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/logstream/logstream/admin"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/sinks"
	s3sink "github.com/logstream/logstream/sinks/s3"
	"github.com/logstream/logstream/topology"
)

// sinkSettings are the settings of `logstream sink s3|openobserve`.
type sinkSettings struct {
	Topics          []string
	BreakerFailures int
	BreakerTimeout  time.Duration
	MaxAge          time.Duration
	// OpenObserveMaxAge is --openobserve-max-age.
	OpenObserveMaxAge time.Duration

	S3 struct {
		Bucket, Prefix, Endpoint, Region string
		PathStyle                        bool
		Mode, Format                     string
		MaxBytes                         int
	}
	OpenObserve openObserveSettings
}

const sinkS3Long = `Reads --topics as consumer group "sink-s3" and writes each partition's
records to S3 as gzip NDJSON objects (Parquet with --s3-format parquet):

  {prefix}/topic={t}/dt=YYYY-MM-DD/hour=HH/{t}+{partition}+{start offset:020d}.ndjson.gz

dt and hour come from each record's own time (UTC). An object holds one
partition's consecutive records; it is written when it holds --batch-size
records or --s3-max-bytes, when the next record falls in another hour, or
--s3-max-age after its first record arrived. Every line carries
kafka_topic, kafka_partition and kafka_offset.

Exactly once (--s3-mode conditional, the default): every object is created
with If-None-Match: *, and its metadata holds its start and end offsets.
Offsets are committed only after the object exists. A writer that restarts
after a crash between upload and commit, or a second writer on the same
partition, finds the object in its way (412), reads its end offset and goes
on after it: no record is written twice and none is skipped. At start the
writer checks that the store refuses a second conditional write.

For stores without conditional writes, --s3-mode deterministic cuts
objects only at record-derived boundaries (offset slots of --batch-size
records and hours), so a replay rewrites the same objects with the same
bytes; --s3-max-age then writes a slot's first records early, and the whole
slot overwrites them.

Credentials come from the AWS default chain: AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY, AWS_PROFILE, web identity (IRSA on EKS), or the
instance role. Records that cannot be encoded go to logs.dlq with the
reason. While the store fails --circuit-breaker-max-failures writes in a
row, the circuit breaker opens: consumption pauses for
--circuit-breaker-timeout-sec, then one write probes the store.`

var (
	sSinkTopics = setting{name: "topics", env: "LOGSTREAM_SINK_TOPICS", def: strings.Join(topology.SinkTopics, ","),
		usage: "topics to copy, comma-separated",
		parse: func(c *Config, v string) error {
			c.Sink.Topics = nil
			for _, t := range strings.Split(v, ",") {
				if t = strings.TrimSpace(t); t != "" {
					c.Sink.Topics = append(c.Sink.Topics, t)
				}
			}
			if len(c.Sink.Topics) == 0 {
				return errors.New("names no topic")
			}
			return nil
		}}
	sBreakerFailures = setting{name: "circuit-breaker-max-failures", env: "CIRCUIT_BREAKER_MAX_FAILURES", def: strconv.Itoa(sinks.DefaultBreakerMaxFailures),
		usage: "failed writes in a row that open the circuit breaker and pause consumption",
		parse: intIn(1, 1000, func(c *Config, n int) { c.Sink.BreakerFailures = n })}
	sBreakerTimeout = setting{name: "circuit-breaker-timeout-sec", env: "CIRCUIT_BREAKER_TIMEOUT_SEC", def: strconv.Itoa(int(sinks.DefaultBreakerTimeout / time.Second)),
		usage: "seconds the breaker stays open before one write probes the store",
		parse: intIn(1, 3600, func(c *Config, n int) { c.Sink.BreakerTimeout = time.Duration(n) * time.Second })}
	sSinkBatchSize = func(def int, usage string) setting {
		s := withUsage(sBatchSize, usage)
		s.def = strconv.Itoa(def)
		return s
	}
	sSinkConcurrency = func() setting {
		s := withUsage(sMaxConcurrency, "flushes in flight at once over all partitions of this writer")
		s.def = strconv.Itoa(sinks.DefaultMaxConcurrency)
		s.parse = intIn(1, 1024, func(c *Config, n int) { c.MaxConcurrency = n })
		return s
	}()

	sS3Bucket = setting{name: "s3-bucket", env: "LOGSTREAM_S3_BUCKET", usage: "bucket that receives the objects (required)",
		parse: func(c *Config, v string) error { c.Sink.S3.Bucket = strings.TrimSpace(v); return nil }}
	sS3Prefix = setting{name: "s3-prefix", env: "LOGSTREAM_S3_PREFIX", def: "logs", usage: "key prefix of every object; empty for none",
		parse: func(c *Config, v string) error {
			c.Sink.S3.Prefix = strings.Trim(strings.TrimSpace(v), "/")
			return nil
		}}
	sS3Endpoint = setting{name: "s3-endpoint", env: "LOGSTREAM_S3_ENDPOINT", usage: "URL of an S3-compatible store (MinIO, versitygw, Ceph...); empty means AWS S3. Implies --s3-path-style",
		parse: httpURL(func(c *Config, v string) { c.Sink.S3.Endpoint = v })}
	sS3Region = setting{name: "s3-region", env: "LOGSTREAM_S3_REGION", usage: "signing region; empty takes AWS_REGION or the profile's, else us-east-1",
		parse: func(c *Config, v string) error { c.Sink.S3.Region = strings.TrimSpace(v); return nil }}
	sS3PathStyle = boolSetting("s3-path-style", "LOGSTREAM_S3_PATH_STYLE", "address buckets as endpoint/bucket/key instead of bucket.endpoint/key",
		func(c *Config, b bool) { c.Sink.S3.PathStyle = b })
	sS3Mode = setting{name: "s3-mode", env: "LOGSTREAM_S3_MODE", def: string(s3sink.ModeConditional),
		usage: "conditional (If-None-Match chains; AWS S3 and stores that honour it) or deterministic (record-derived object boundaries, for stores without conditional writes)",
		parse: oneOf(func(c *Config, v string) { c.Sink.S3.Mode = v }, string(s3sink.ModeConditional), string(s3sink.ModeDeterministic))}
	sS3Format = setting{name: "s3-format", env: "LOGSTREAM_S3_FORMAT", def: string(s3sink.FormatNDJSON),
		usage: "ndjson (gzip NDJSON, .ndjson.gz) or parquet (.parquet, one column per field)",
		parse: oneOf(func(c *Config, v string) { c.Sink.S3.Format = v }, string(s3sink.FormatNDJSON), string(s3sink.FormatParquet))}
	sS3MaxBytes = setting{name: "s3-max-bytes", env: "LOGSTREAM_S3_MAX_BYTES", def: strconv.Itoa(s3sink.DefaultMaxBytes),
		usage: "uncompressed bytes after which an object is written",
		parse: intIn(1024, 4<<30, func(c *Config, n int) { c.Sink.S3.MaxBytes = n })}
	sS3MaxAge = setting{name: "s3-max-age", env: "LOGSTREAM_S3_MAX_AGE", def: s3sink.DefaultMaxAge.String(),
		usage: "how long after its first record an object is written at the latest",
		parse: durationIn(100*time.Millisecond, 24*time.Hour, func(c *Config, d time.Duration) { c.Sink.MaxAge = d })}

	sinkCommonSettings = []setting{sConfig,
		withUsage(sBrokers, "Kafka bootstrap brokers, host:port,...; empty connects to --embedded-addr"),
		withUsage(sEmbeddedAddr, "address of a local 'logstream run' with its embedded broker, used when --brokers is empty"),
		sSinkTopics, sSinkConcurrency, sBreakerFailures, sBreakerTimeout, sRegistry,
		withUsage(sAdminAddr, "address of the admin port (/metrics, /healthz, /readyz; /debug/pprof/ with --pprof); empty disables it. 'logstream run' has the same default: change one when both run on one machine"),
		sPprof, sLogLevel, sLogFormat}
	sinkS3Settings = append(append([]setting(nil), sinkCommonSettings...),
		sSinkBatchSize(s3sink.DefaultMaxRecords, "records per object (in --s3-mode deterministic: the size of the offset slots objects are cut at)"),
		sS3Bucket, sS3Prefix, sS3Endpoint, sS3Region, sS3PathStyle, sS3Mode, sS3Format, sS3MaxBytes, sS3MaxAge)
)

// sinkRunner builds the runner of a sink command around sink.
func sinkRunner(ctx context.Context, cfg *Config, set *codecs.Set, group string, sink sinks.Sink, log zerolog.Logger) (*sinks.Runner, error) {
	brokers, err := connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return sinks.NewRunner(sinks.Config{
		Brokers:        brokers,
		KafkaOpts:      cfg.security.KgoOpts(),
		Group:          group,
		Topics:         cfg.Sink.Topics,
		Sink:           sink,
		Codecs:         set,
		MaxConcurrency: cfg.MaxConcurrency,
		Breaker:        sinks.BreakerConfig{MaxFailures: cfg.Sink.BreakerFailures, Timeout: cfg.Sink.BreakerTimeout},
		Logger:         log,
	})
}

// s3Config maps the settings onto the S3 sink's configuration.
func s3Config(cfg *Config, set *codecs.Set, log zerolog.Logger) s3sink.Config {
	c := cfg.Sink.S3
	return s3sink.Config{
		Bucket: c.Bucket, Prefix: c.Prefix, Endpoint: c.Endpoint, Region: c.Region, PathStyle: c.PathStyle,
		Mode: s3sink.Mode(c.Mode), Format: s3sink.Format(c.Format),
		MaxRecords: cfg.BatchSize, MaxBytes: c.MaxBytes, MaxAge: cfg.Sink.MaxAge,
		Decoder: sinks.NewDecoder(set), Logger: log,
	}
}

func runSinkS3(ctx context.Context, cfg *Config, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	if cfg.Sink.S3.Bucket == "" {
		return usagef("logstream sink s3: no bucket: set --s3-bucket or $%s", sS3Bucket.env)
	}
	set, err := sinkCodecs(cfg)
	if err != nil {
		return err
	}
	sink, err := s3sink.New(ctx, s3Config(cfg, set, log.With().Str("stage", "sink-s3").Logger()))
	if err != nil {
		return usagef("logstream sink s3: %v", err)
	}
	r, err := sinkRunner(ctx, cfg, set, topology.GroupSinkS3, sink, log)
	if err != nil {
		return usagef("logstream sink s3: %v", err)
	}
	return serveSink(ctx, cfg, log, r, sink.Metrics().Collectors())
}

func sinkCodecs(cfg *Config) (*codecs.Set, error) {
	opts, err := codecOptions(cfg)
	if err != nil {
		return nil, err
	}
	return codecs.NewSet(opts...)
}

// serveSink runs r with the admin port (metrics of the runner and extra).
func serveSink(ctx context.Context, cfg *Config, log zerolog.Logger, r *sinks.Runner, extra []prometheus.Collector) error {
	eg, ctx := errgroup.WithContext(ctx)
	if cfg.AdminAddr != "" {
		reg := admin.NewRegistry()
		reg.MustRegister(admin.ReadyGauge(r.Ready))
		if err := r.Metrics().Register(reg); err != nil {
			return err
		}
		for _, c := range extra {
			if err := reg.Register(c); err != nil {
				return err
			}
		}
		srv, err := admin.Listen(cfg.AdminAddr, reg, r.Ready, adminOptions(cfg))
		if err != nil {
			return err
		}
		log.Info().Str("addr", srv.Addr()).Strs("endpoints", srv.Endpoints()).Msg("admin port")
		eg.Go(func() error { return srv.Run(ctx) })
	}
	eg.Go(func() error {
		err := r.Run(ctx)
		if err == nil {
			err = context.Canceled // stop the admin port too
		}
		return err
	})
	if err := eg.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

var sDemoS3Dir = setting{name: "s3-dir", env: "LOGSTREAM_DEMO_S3_DIR",
	usage: "directory of the demo's embedded S3-compatible store (emptied at start); each object is a file under <dir>/logstream-demo/. Empty: a new private directory under $TMPDIR each run (mode 0700), printed at start",
	parse: func(c *Config, v string) error {
		c.DemoS3Dir = v
		return nil
	}}
