package broker

import (
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/topology"
)

// Tuning are the client settings every stage shares.
type Tuning struct {
	// Replication factor for the topics logstream creates.
	Replication int
	// BatchSize is the number of records a producer gathers before it
	// flushes a batch (sarama Flush.Messages); it also bounds the consumer's
	// per-partition channel buffer.
	BatchSize int
	// MaxConcurrency bounds the produce requests a producer keeps in flight
	// to one broker (sarama Net.MaxOpenRequests).
	MaxConcurrency int
	// FromOldest makes a new consumer group start at the oldest record
	// rather than the newest, so nothing written before the first start is
	// skipped. Tables are always read from the oldest.
	FromOldest bool
	// SessionTimeout of the consumer groups; 0 keeps sarama's 10 s.
	SessionTimeout time.Duration
	// Compression of the record batches the stages write: none (the
	// default, as Kafka's own producer), lz4, snappy, zstd or gzip.
	// Compression saves network and disk on a cluster and costs CPU on
	// every hop (about 8% of the whole pipeline's CPU with lz4, measured
	// by pipebench -full); on the embedded broker it only costs.
	Compression string
	// Security is the TLS and SASL of every client (nil: plain text).
	Security *Security
}

// ClientOpts returns the options every franz-go client of the process
// starts from: the seed brokers and Security.
func (t Tuning) ClientOpts(brokers []string) []kgo.Opt {
	return append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, t.Security.KgoOpts()...)
}

// Compressions are the values Tuning.Compression accepts.
var Compressions = []string{"none", "lz4", "snappy", "zstd", "gzip"}

// CheckCompression reports whether name is one of Compressions ("" is none).
func CheckCompression(name string) error {
	if name == "" {
		return nil
	}
	for _, c := range Compressions {
		if c == name {
			return nil
		}
	}
	return fmt.Errorf("compression %q is not one of %s", name, strings.Join(Compressions, ", "))
}

// KgoCompression is Tuning.Compression for a franz-go producer.
func (t Tuning) KgoCompression() kgo.CompressionCodec {
	switch t.Compression {
	case "lz4":
		return kgo.Lz4Compression()
	case "snappy":
		return kgo.SnappyCompression()
	case "zstd":
		return kgo.ZstdCompression()
	case "gzip":
		return kgo.GzipCompression()
	}
	return kgo.NoCompression()
}

func (t Tuning) saramaCompression() sarama.CompressionCodec {
	switch t.Compression {
	case "lz4":
		return sarama.CompressionLZ4
	case "snappy":
		return sarama.CompressionSnappy
	case "zstd":
		return sarama.CompressionZSTD
	case "gzip":
		return sarama.CompressionGZIP
	}
	return sarama.CompressionNone
}

// SaramaConfig returns a fresh sarama configuration for goka. Each call
// returns a new value: goka's *WithConfig builders write into the config
// they are given, so sharing one between clients is a data race.
func SaramaConfig(t Tuning) *sarama.Config {
	cfg := goka.DefaultConfig()
	if t.FromOldest {
		cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	}
	if t.BatchSize > 0 {
		cfg.Producer.Flush.Messages = t.BatchSize
	}
	// What a consumer holds ahead of its stage: each partition it reads
	// keeps up to ChannelBufferSize messages and a fetch response of up
	// to Fetch.Default bytes, and a stage reads many partitions. While a
	// stage is behind, all of them are full; at sarama's 1 MiB and 1,000
	// messages that was the largest part of the pipeline's heap in
	// pipebench -full. A quarter of each keeps fetches large enough.
	cfg.ChannelBufferSize = 256
	cfg.Consumer.Fetch.Default = 256 << 10
	if t.MaxConcurrency > 0 {
		cfg.Net.MaxOpenRequests = t.MaxConcurrency
	}
	if t.SessionTimeout > 0 {
		cfg.Consumer.Group.Session.Timeout = t.SessionTimeout
		cfg.Consumer.Group.Heartbeat.Interval = t.SessionTimeout / 3
		// A member that died mid-rebalance holds the rebalance for its
		// rebalance timeout; sarama's 60 s outlasts its own 30 s read
		// timeout on JoinGroup, and the survivors fail. Keep it near the
		// session timeout.
		cfg.Consumer.Group.Rebalance.Timeout = max(3*t.SessionTimeout, 3*time.Second)
	}
	// goka's default is snappy; the stages write what Tuning says (none
	// unless set: see Tuning.Compression).
	cfg.Producer.Compression = t.saramaCompression()
	// A stage that writes little (the errorrate windows, the alerter)
	// would hold each record up to goka's 100 ms before sending it, and
	// every hop of the alert path adds that; busy stages fill a batch
	// (BatchSize records or 64 KB) long before.
	cfg.Producer.Flush.Frequency = 10 * time.Millisecond
	// Some inputs are written in Kafka transactions (the errorrate
	// stage's partials): read only what was committed. Records written
	// outside transactions read the same either way.
	cfg.Consumer.IsolationLevel = sarama.ReadCommitted
	// A fetch the broker holds waiting for data (sarama's default 500 ms)
	// may not wake when a transaction commits records already written:
	// ask again sooner.
	cfg.Consumer.MaxWaitTime = 50 * time.Millisecond
	t.Security.Sarama(cfg)
	return cfg
}

// TopicManagerConfig returns goka's topic manager settings: explicit
// replication, compacted tables, and failure (not a warning) when an
// existing topic's partitions or cleanup policy differ from what the
// topology says.
func TopicManagerConfig(t Tuning) *goka.TopicManagerConfig {
	tm := goka.NewTopicManagerConfig()
	tm.Table.Replication = t.Replication
	tm.Stream.Replication = t.Replication
	tm.MismatchBehavior = goka.TMConfigMismatchBehaviorFail
	// Loop topics (goka creates them as streams with this retention) hold
	// records a stage has yet to process: keep them as long as any stream,
	// not goka's default hour, so a stage can be down a while and lose
	// nothing. The topology declares the same (Topology.TopicConfig).
	tm.Stream.Retention = topology.LoopRetention
	tm.CreateTopicTimeout = 30 * time.Second
	return tm
}

// ProcessorOptions returns goka options whose builders each make their own
// sarama configuration (see SaramaConfig).
func ProcessorOptions(t Tuning) []goka.ProcessorOption {
	return []goka.ProcessorOption{
		goka.WithConsumerGroupBuilder(func(brokers []string, group, clientID string) (sarama.ConsumerGroup, error) {
			cfg := SaramaConfig(t)
			cfg.ClientID = clientID
			return sarama.NewConsumerGroup(brokers, group, cfg)
		}),
		goka.WithConsumerSaramaBuilder(func(brokers []string, clientID string) (sarama.Consumer, error) {
			cfg := SaramaConfig(t)
			cfg.ClientID = clientID
			return sarama.NewConsumer(brokers, cfg)
		}),
		// producer.go says why the stages write with franz-go.
		goka.WithProducerBuilder(func(brokers []string, clientID string, hasher func() hash.Hash32) (goka.Producer, error) {
			return newProducer(brokers, clientID, hasher, t)
		}),
		goka.WithTopicManagerBuilder(TopicManagerBuilder(t)),
	}
}

// TopicManagerBuilder builds goka topic managers with TopicManagerConfig.
func TopicManagerBuilder(t Tuning) goka.TopicManagerBuilder {
	return func(brokers []string) (goka.TopicManager, error) {
		cfg := SaramaConfig(t)
		cfg.ClientID = "logstream-topic-manager"
		return goka.NewTopicManager(brokers, cfg, TopicManagerConfig(t))
	}
}

// EnsureTopics creates every topic that does not exist yet, with the
// given partition counts, through goka's topic manager: streams with
// cleanup.policy=delete, tables log-compacted. An existing topic whose
// partition count or cleanup policy differs is an error.
func EnsureTopics(brokers []string, t Tuning, streams, tables map[string]int) error {
	tm, err := TopicManagerBuilder(t)(brokers)
	if err != nil {
		return fmt.Errorf("broker: topic manager: %w", err)
	}
	defer tm.Close()
	for name, n := range streams {
		if strings.HasSuffix(name, "-loop") {
			// Created as goka creates a loop topic, so its check agrees.
			if err := ensureOnce(func() error { return tm.EnsureStreamExists(name, n) }); err != nil {
				return fmt.Errorf("broker: topic %s: %w", name, err)
			}
			continue
		}
		if err := ensureOnce(func() error {
			return tm.EnsureTopicExists(name, n, t.Replication, map[string]string{"cleanup.policy": "delete"})
		}); err != nil {
			return fmt.Errorf("broker: topic %s: %w", name, err)
		}
	}
	for name, n := range tables {
		if err := ensureOnce(func() error { return tm.EnsureTableExists(name, n) }); err != nil {
			return fmt.Errorf("broker: table %s: %w", name, err)
		}
	}
	return nil
}

// ensureOnce runs a topic manager's Ensure, and once more when it fails:
// pods that start together (a first deploy, a Deployment scaled up) race
// to create the same topics, and goka's create fails with "already
// exists" for all but one. The second look finds the topic and checks it
// as if it had been there (partitions, replication, configuration), so a
// real mismatch still fails.
func ensureOnce(ensure func() error) error {
	if err := ensure(); err != nil {
		if ensure() == nil {
			return nil
		}
		return err
	}
	return nil
}
