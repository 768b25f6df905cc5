package s3

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/logstream/logstream/sinks"
)

// Sink writes Kafka partitions to S3 objects exactly once.
type Sink struct {
	cfg    Config
	client *s3.Client
}

// New validates cfg and builds the S3 client: the default credential chain
// (or cfg's static keys), path-style addressing for S3-compatible
// endpoints, checksums only where the API requires them (stores other than
// AWS reject the SDK's default trailing checksums).
func New(ctx context.Context, cfg Config) (*Sink, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if cfg.AccessKey != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3 sink: load AWS configuration (AWS_* environment, shared profile): %w", err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			if cfg.MaxAttempts > 0 {
				so.MaxAttempts = cfg.MaxAttempts
			}
			if cfg.MaxBackoff > 0 {
				so.MaxBackoff = cfg.MaxBackoff
			}
			// The runner's breaker limits retries across partitions; the
			// SDK's client-wide retry quota would only add a second,
			// invisible limit.
			so.RateLimiter = ratelimit.None
		})
	})
	return &Sink{cfg: cfg, client: client}, nil
}

// Name is "s3".
func (s *Sink) Name() string { return "s3" }

// Client is the S3 client, for tests and tools that read the objects back.
func (s *Sink) Client() *s3.Client { return s.client }

// Metrics returns the sink's metrics.
func (s *Sink) Metrics() *Metrics { return s.cfg.Metrics }

// Check reaches the bucket. In conditional mode it also proves that the
// store honours If-None-Match: it creates a probe object twice and wants
// the second write refused; a store that overwrites instead would break
// the exactly-once chain silently, so that is an error that names
// --s3-mode deterministic.
func (s *Sink) Check(ctx context.Context) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.cfg.Bucket)})
	if err != nil {
		return s.explain(err, "")
	}
	if s.cfg.Mode != ModeConditional {
		return nil
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	key := s.join("_logstream", "probe-"+hex.EncodeToString(id[:]))
	put := func() error {
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key),
			Body: bytes.NewReader([]byte("logstream conditional-write probe\n")), IfNoneMatch: aws.String("*"),
		})
		return err
	}
	// A 412 on the first write is our own: the SDK retried a write whose
	// answer was lost (the key is random).
	if err := put(); err != nil && !isPreconditionFailed(err) {
		return s.explain(err, key)
	}
	err = put()
	// The probe lives outside the topic= folders, so a leftover (the
	// delete failed) is no data to a query engine; try a few times anyway.
	for i := 0; i < 3; i++ {
		if _, derr := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key)}); derr == nil {
			break
		}
	}
	switch {
	case err == nil:
		return &sinks.Permanent{Err: fmt.Errorf("s3 sink: the store at %s overwrote an object written with If-None-Match: * (no conditional writes); run with --s3-mode deterministic", s.endpoint())}
	case isPreconditionFailed(err):
		return nil
	default:
		return s.explain(err, key)
	}
}

func (s *Sink) endpoint() string {
	if s.cfg.Endpoint != "" {
		return s.cfg.Endpoint
	}
	return "AWS S3"
}

// explain turns an S3 error into one that names the setting to fix.
func (s *Sink) explain(err error, key string) error {
	what := fmt.Sprintf("bucket %q", s.cfg.Bucket)
	if key != "" {
		what = fmt.Sprintf("object %q in bucket %q", key, s.cfg.Bucket)
	}
	var (
		apiErr  smithy.APIError
		respErr *smithyhttp.ResponseError
		netErr  net.Error
	)
	code := ""
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	status := 0
	if errors.As(err, &respErr) {
		status = respErr.HTTPStatusCode()
	}
	switch {
	case code == "NoSuchBucket" || (key == "" && status == http.StatusNotFound):
		return &sinks.Permanent{Err: fmt.Errorf("s3 sink: bucket %q does not exist at %s: create it or fix --s3-bucket", s.cfg.Bucket, s.endpoint())}
	case code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "AccessDenied" || code == "ExpiredToken" ||
		status == http.StatusForbidden || status == http.StatusUnauthorized:
		return &sinks.Permanent{Err: fmt.Errorf("s3 sink: %s refused the credentials for %s (%s): check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the pod's role: %w", s.endpoint(), what, orStatus(code, status), err)}
	case errors.As(err, &netErr) || isDial(err):
		return fmt.Errorf("s3 sink: cannot reach %s (--s3-endpoint %q): %w", s.endpoint(), s.cfg.Endpoint, err)
	}
	return fmt.Errorf("s3 sink: %s: %w", what, err)
}

func orStatus(code string, status int) string {
	if code != "" {
		return code
	}
	return fmt.Sprintf("HTTP %d", status)
}

func isDial(err error) bool {
	var op *net.OpError
	return errors.As(err, &op)
}

func isPreconditionFailed(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == "PreconditionFailed" {
		return true
	}
	var respErr *smithyhttp.ResponseError
	return errors.As(err, &respErr) && respErr.HTTPStatusCode() == http.StatusPreconditionFailed
}

func (s *Sink) join(parts ...string) string {
	if s.cfg.Prefix == "" {
		return joinPath(parts...)
	}
	return joinPath(append([]string{s.cfg.Prefix}, parts...)...)
}

func joinPath(parts ...string) string {
	var b bytes.Buffer
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(p)
	}
	return b.String()
}

// NewPartition returns the writer of one partition.
func (s *Sink) NewPartition(topic string, partition int32, dead sinks.DeadLetters) (sinks.PartitionWriter, error) {
	return &partitionWriter{s: s, topic: topic, partition: partition, dead: dead,
		skipThrough: -1, lastAdded: -1,
		objects: s.cfg.Metrics.objects.WithLabelValues(topic), records: s.cfg.Metrics.records.WithLabelValues(topic),
		bytes: s.cfg.Metrics.bytes.WithLabelValues(topic), conflicts: s.cfg.Metrics.conflicts.WithLabelValues(topic),
		latency: s.cfg.Metrics.latency,
	}, nil
}

// Metrics are the S3 writer's own metrics.
type Metrics struct {
	objects, records, bytes, conflicts *prometheus.CounterVec
	latency                            prometheus.Histogram
}

// NewMetrics returns unregistered metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		objects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logstream_sink_s3_objects_total",
			Help: "Objects written (conditional mode: created; deterministic mode: written, partial rewrites included), by topic.",
		}, []string{"topic"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logstream_sink_s3_records_total",
			Help: "Records in the objects written, by topic.",
		}, []string{"topic"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logstream_sink_s3_bytes_total",
			Help: "Bytes uploaded (compressed object bodies), by topic.",
		}, []string{"topic"}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logstream_sink_s3_conflicts_total",
			Help: "Conditional writes refused because the object existed (412): a previous owner or a zombie wrote it; the writer continued after its end offset. These are the ambiguous outcomes reconciled.",
		}, []string{"topic"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "logstream_sink_s3_put_duration_seconds",
			Help:    "Duration of one successful object upload, SDK retries included.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}),
	}
}

// Collectors returns every metric, for a registry.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.objects, m.records, m.bytes, m.conflicts, m.latency}
}
