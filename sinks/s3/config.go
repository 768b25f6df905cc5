package s3

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/logstream/logstream/sinks"
)

// Mode is how the writer keeps objects exactly once.
type Mode string

// Modes.
const (
	// ModeConditional creates every object with If-None-Match: * and keeps
	// one chain of objects per partition (see the package documentation).
	// Rotation may use wall-clock age.
	ModeConditional Mode = "conditional"
	// ModeDeterministic is for stores without conditional writes: object
	// boundaries are derived from the records alone (offset slots of
	// MaxRecords and the hour of the record's time), so a replay rewrites
	// byte-identical objects under the same keys.
	ModeDeterministic Mode = "deterministic"
)

// Format is the objects' encoding.
type Format string

// Formats.
const (
	FormatNDJSON  Format = "ndjson"  // gzip NDJSON, .ndjson.gz
	FormatParquet Format = "parquet" // Parquet with one column per field, .parquet
)

// Config configures a Sink.
type Config struct {
	// Bucket receives the objects (--s3-bucket).
	Bucket string
	// Prefix is prepended to every key (--s3-prefix); "" for none.
	Prefix string
	// Endpoint is the URL of an S3-compatible store (--s3-endpoint); ""
	// means AWS S3 in Region.
	Endpoint string
	// Region is the signing region (--s3-region); "" takes it from the
	// environment, else us-east-1.
	Region string
	// PathStyle addresses buckets as http://endpoint/bucket/key, which
	// S3-compatible stores need (--s3-path-style; on when Endpoint is set).
	PathStyle bool
	// AccessKey and SecretKey are static credentials; empty uses the
	// default chain (environment, shared profile, web identity for IRSA,
	// instance role).
	AccessKey, SecretKey string

	// MaxAttempts and MaxBackoff tune the SDK's own retries of 5xx,
	// SlowDown and network errors within one upload (defaults 3 and 20 s);
	// the runner retries a failed flush on top, paced by its breaker.
	MaxAttempts int
	MaxBackoff  time.Duration

	Mode   Mode
	Format Format
	// MaxRecords rotates an object at this many records (BATCH_SIZE); in
	// deterministic mode it is the size of the offset slots.
	MaxRecords int
	// MaxBytes rotates an object before its uncompressed size passes this
	// (conditional mode).
	MaxBytes int
	// MaxAge writes an object this long after its first record arrived
	// (conditional mode), or writes the unfinished object of a slot so far
	// (deterministic mode; it is rewritten whole when the slot completes).
	MaxAge time.Duration

	// Logger logs conflicts resolved; Metrics count objects.
	Logger  zerolog.Logger
	Metrics *Metrics
	// Decoder turns records into JSON documents.
	Decoder *sinks.Decoder
	// Now is the wall clock of MaxAge; nil means time.Now.
	Now func() time.Time
}

// Defaults.
const (
	DefaultMaxRecords = 10000
	DefaultMaxBytes   = 64 << 20
	DefaultMaxAge     = time.Minute
)

func (c *Config) defaults() {
	if c.Mode == "" {
		c.Mode = ModeConditional
	}
	if c.Format == "" {
		c.Format = FormatNDJSON
	}
	if c.MaxRecords == 0 {
		c.MaxRecords = DefaultMaxRecords
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.Endpoint != "" {
		c.PathStyle = true
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics()
	}
	c.Prefix = strings.Trim(c.Prefix, "/")
}

// Validate reports the first invalid setting, by the name users set it.
func (c Config) Validate() error {
	switch {
	case c.Bucket == "":
		return errors.New("s3 sink: no bucket: set --s3-bucket or LOGSTREAM_S3_BUCKET")
	case c.Mode != ModeConditional && c.Mode != ModeDeterministic:
		return fmt.Errorf("s3 sink: --s3-mode must be %q or %q, got %q", ModeConditional, ModeDeterministic, c.Mode)
	case c.Format != FormatNDJSON && c.Format != FormatParquet:
		return fmt.Errorf("s3 sink: --s3-format must be %q or %q, got %q", FormatNDJSON, FormatParquet, c.Format)
	case c.MaxRecords < 1 || c.MaxRecords > 10_000_000:
		return fmt.Errorf("s3 sink: BATCH_SIZE (records per object) must be between 1 and 10000000, got %d", c.MaxRecords)
	case c.MaxBytes < 1024 || c.MaxBytes > 4<<30:
		return fmt.Errorf("s3 sink: --s3-max-bytes must be between 1KiB and 4GiB, got %d", c.MaxBytes)
	case c.MaxAge < 100*time.Millisecond || c.MaxAge > 24*time.Hour:
		return fmt.Errorf("s3 sink: --s3-max-age must be between 100ms and 24h, got %s", c.MaxAge)
	case c.Decoder == nil:
		return errors.New("s3 sink: no decoder")
	case (c.AccessKey == "") != (c.SecretKey == ""):
		return errors.New("s3 sink: an access key needs its secret key (AWS_ACCESS_KEY_ID with AWS_SECRET_ACCESS_KEY)")
	}
	if strings.Contains(c.Prefix, "..") {
		return fmt.Errorf("s3 sink: --s3-prefix %q contains '..'", c.Prefix)
	}
	return nil
}
