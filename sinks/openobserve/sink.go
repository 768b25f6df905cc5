package openobserve

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"github.com/rs/zerolog"

	"github.com/logstream/logstream/sinks"
)

// Name is the sink's name in logs, metrics and errors.
const Name = "openobserve"

// Sink writes Kafka records into one OpenObserve logs stream, exactly once
// per record as long as one writer owns each partition (see the package
// documentation). It implements sinks.Sink.
type Sink struct {
	cfg    Config
	stream string // the stream's name as OpenObserve files it
	log    zerolog.Logger
	m      *Metrics

	jsonURL, bulkURL, searchURL, streamsURL string
}

var _ sinks.Sink = (*Sink)(nil)

// New validates cfg, fills in its defaults and returns a sink.
func New(cfg Config) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	base := strings.TrimRight(cfg.URL, "/") + "/api/" + url.PathEscape(cfg.Org)
	s := &Sink{
		cfg:        cfg,
		stream:     formatStreamName(cfg.Stream),
		log:        cfg.Logger.With().Str("sink", Name).Logger(),
		m:          cfg.Metrics,
		bulkURL:    base + "/_bulk",
		searchURL:  base + "/_search",
		streamsURL: base + "/streams?type=logs",
	}
	s.jsonURL = base + "/" + url.PathEscape(s.stream) + "/_json"
	return s, nil
}

// Name returns "openobserve".
func (s *Sink) Name() string { return Name }

// Metrics returns the sink's metrics.
func (s *Sink) Metrics() *Metrics { return s.m }

// Check reaches OpenObserve once with the credentials (it lists the org's
// streams). An unreachable endpoint names --openobserve-url; 401 and 403
// name the credentials' variables and 404 names --openobserve-org, as
// *sinks.Permanent errors.
func (s *Sink) Check(ctx context.Context) error { return s.check(ctx) }

// NewPartition returns the writer of one topic partition. Its first Flush
// searches what a previous owner of the partition wrote without
// committing, before it sends anything.
func (s *Sink) NewPartition(topic string, part int32, dead sinks.DeadLetters) (sinks.PartitionWriter, error) {
	if dead == nil {
		return nil, errors.New("openobserve: NewPartition without a dead-letter writer")
	}
	return &partition{
		s:           s,
		topic:       topic,
		partition:   part,
		dead:        dead,
		log:         s.log.With().Str("topic", topic).Int32("partition", part).Logger(),
		committable: -1,
	}, nil
}
