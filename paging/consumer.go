package paging

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

// Stage is the name dead letters of this package carry.
const Stage = "page"

// Target is a named notifier; the name labels logs and metrics.
type Target struct {
	Name     string
	Notifier Notifier
}

// ConsumerConfig configures a Consumer.
type ConsumerConfig struct {
	// Brokers are the Kafka bootstrap brokers.
	Brokers []string
	// Codecs decode Alerts and encode DeadLetters.
	Codecs *codecs.Set
	// Targets receive every alert; at least one.
	Targets []Target
	// Group is the consumer group; "" means topology.GroupPage.
	Group string
	// Topic is read; "" means topology.TopicAlerts.
	Topic string
	// DeadLetterTopic receives undecodable records; "" means
	// topology.TopicDLQ.
	DeadLetterTopic string
	// Logger logs deliveries, refusals and dead letters; the zero value
	// logs nothing.
	Logger zerolog.Logger
	// Metrics counts them; nil means metrics of its own (see
	// Consumer.Metrics).
	Metrics *Metrics
	// Retry paces what the consumer itself retries: writing a dead letter,
	// and a notifier that returns an error that is neither permanent nor
	// caused by the end of its context.
	Retry Retry
	// KafkaOpts are extra franz-go options (tests lower timeouts with them).
	KafkaOpts []kgo.Opt
	// Now is the clock of dead letters; nil means time.Now.
	Now func() time.Time
}

// Validate reports the first invalid setting.
func (c ConsumerConfig) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("paging: no Kafka brokers")
	}
	if c.Codecs == nil || c.Codecs.Alert == nil || c.Codecs.DeadLetter == nil {
		return errors.New("paging: no codecs for Alert and DeadLetter")
	}
	if len(c.Targets) == 0 {
		return errors.New("paging: no target to deliver alerts to")
	}
	seen := map[string]bool{}
	for _, t := range c.Targets {
		if t.Name == "" || t.Notifier == nil {
			return errors.New("paging: a target needs a name and a notifier")
		}
		if seen[t.Name] {
			return fmt.Errorf("paging: target %q named twice", t.Name)
		}
		seen[t.Name] = true
	}
	return c.Retry.Validate()
}

// Consumer delivers the alerts topic to the targets: a member of the page
// consumer group. See the package documentation for its guarantees.
type Consumer struct {
	cfg   ConsumerConfig
	log   zerolog.Logger
	m     *Metrics
	ready atomic.Bool
}

// NewConsumer validates cfg and returns a consumer; Run starts it.
func NewConsumer(cfg ConsumerConfig) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Group == "" {
		cfg.Group = topology.GroupPage
	}
	if cfg.Topic == "" {
		cfg.Topic = topology.TopicAlerts
	}
	if cfg.DeadLetterTopic == "" {
		cfg.DeadLetterTopic = topology.TopicDLQ
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	cfg.Metrics.init(cfg.Targets)
	return &Consumer{cfg: cfg, log: cfg.Logger.With().Str("stage", Stage).Logger(), m: cfg.Metrics}, nil
}

// Metrics returns the consumer's metrics.
func (c *Consumer) Metrics() *Metrics { return c.m }

// Ready reports whether Run has reached Kafka and is consuming (for a
// readiness probe).
func (c *Consumer) Ready() bool { return c.ready.Load() }

// Run consumes until ctx ends, then commits what was delivered, leaves the
// group and returns nil. A delivery cut short by ctx is not committed: the
// next member of the group delivers that record again. Run returns an
// error when Kafka cannot be reached at start or the client fails for good.
func (c *Consumer) Run(ctx context.Context) error {
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(c.cfg.Brokers...),
		kgo.ConsumerGroup(c.cfg.Group),
		kgo.ConsumeTopics(c.cfg.Topic),
		// Only records marked after their delivery are ever committed
		// (franz-go refuses DisableAutoCommit together with marks: this
		// is the option that means "commit marked records only").
		kgo.AutoCommitMarks(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Bounds the wait for a new alert where the broker does not answer
		// a waiting fetch when data arrives (the embedded kfake broker was
		// seen to wait the full FetchMaxWait, 5 s by default); on Kafka it
		// only costs an empty fetch per second while idle.
		kgo.FetchMaxWait(time.Second),
		kgo.RecordPartitioner(topology.Partitioner()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			c.log.Info().Interface("partitions", m).Msg("partitions assigned")
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			c.log.Warn().Interface("partitions", m).Msg("partitions lost; their undelivered records go to the next owner")
		}),
	}, c.cfg.KafkaOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("paging: kafka client: %w", err)
	}
	defer func() {
		// Close leaves the group; with marked autocommits the revocation
		// commits what was marked, once more.
		cl.Close()
		c.ready.Store(false)
	}()
	if err := c.checkTopic(ctx, cl); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting
		}
		return err
	}
	c.ready.Store(true)
	c.log.Info().Str("group", c.cfg.Group).Str("topic", c.cfg.Topic).Int("targets", len(c.cfg.Targets)).Msg("consuming alerts")

	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		if fs.IsClientClosed() {
			return errors.New("paging: kafka client closed")
		}
		fs.EachError(func(topic string, p int32, err error) {
			c.log.Warn().Str("topic", topic).Int32("partition", p).Err(err).Msg("fetch failed")
		})
		var stop error
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			for _, r := range p.Records {
				if stop != nil {
					return
				}
				if err := c.handle(ctx, cl, r); err != nil {
					stop = err // r and what follows stay uncommitted
					return
				}
				cl.MarkCommitRecords(r)
				if err := cl.CommitMarkedOffsets(ctx); err != nil && ctx.Err() == nil {
					// The periodic commit of marks (and the one on
					// revocation) will cover it; a redelivery is harmless.
					c.log.Warn().Err(err).Int32("partition", r.Partition).Int64("offset", r.Offset).Msg("offset commit failed")
				}
			}
		})
		if stop != nil {
			if ctx.Err() == nil {
				return stop
			}
			break
		}
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := cl.CommitMarkedOffsets(cctx); err != nil {
		c.log.Warn().Err(err).Msg("final offset commit failed; delivered alerts may be delivered again")
	}
	c.log.Info().Msg("stopped")
	return nil
}

// checkTopic reaches Kafka and warns when the alerts topic is missing (the
// client then waits for it).
func (c *Consumer) checkTopic(ctx context.Context, cl *kgo.Client) error {
	pctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := cl.Ping(pctx); err != nil {
		return fmt.Errorf("paging: cannot reach Kafka at %v: %w", c.cfg.Brokers, err)
	}
	td, err := kadm.NewClient(cl).ListTopics(pctx, c.cfg.Topic)
	if err == nil && !td.Has(c.cfg.Topic) {
		c.log.Warn().Str("topic", c.cfg.Topic).Msg("topic does not exist yet ('logstream run' creates it); waiting for it")
	}
	return nil
}

// handle delivers one record to every target, or sends it to the
// dead-letter topic. It returns an error when ctx ended first, or when a
// dead letter cannot even be encoded.
func (c *Consumer) handle(ctx context.Context, cl *kgo.Client, r *kgo.Record) error {
	a, err := c.cfg.Codecs.Alert.Unmarshal(r.Value)
	if err == nil {
		err = checkAlert(a)
	}
	if err != nil {
		return c.deadLetter(ctx, cl, r, err)
	}
	c.m.alerts.WithLabelValues(a.State).Inc()
	log := c.log.With().Str("alert_id", a.ID).Str("dedup_key", a.DedupKey).Str("state", a.State).Str("host", a.Host).
		Int32("partition", r.Partition).Int64("offset", r.Offset).Logger()

	var (
		wg          sync.WaitGroup
		interrupted atomic.Bool
	)
	for _, t := range c.cfg.Targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !c.deliver(ctx, t, a, log) {
				interrupted.Store(true)
			}
		}()
	}
	wg.Wait()
	if interrupted.Load() {
		return ctx.Err()
	}
	return nil
}

// deliver sends a to t until it is accepted or refused for good (true), or
// ctx ends (false).
func (c *Consumer) deliver(ctx context.Context, t Target, a *schemas.Alert, log zerolog.Logger) bool {
	start := time.Now()
	for attempt := 1; ; attempt++ {
		err := t.Notifier.Notify(ctx, a)
		switch {
		case err == nil:
			c.m.delivered(t.Name, ResultOK, time.Since(start))
			log.Info().Str("target", t.Name).Dur("took", time.Since(start)).Msg("alert delivered")
			return true
		case errors.Is(err, ErrPermanent):
			// Not dropped silently: logged with the target's answer,
			// counted, and then skipped, because no retry can change it.
			c.m.delivered(t.Name, ResultPermanent, time.Since(start))
			log.Error().Str("target", t.Name).Err(err).Msg("alert refused by the target for good; skipped (logstream_page_deliveries_total{result=\"permanent\"})")
			return true
		case ctx.Err() != nil:
			c.m.delivered(t.Name, ResultInterrupted, time.Since(start))
			log.Info().Str("target", t.Name).Err(err).Msg("delivery interrupted by shutdown; the record stays uncommitted")
			return false
		}
		// A notifier that gave up by itself: retry it here.
		wait := c.cfg.Retry.withDefaults().wait(attempt, err)
		log.Warn().Str("target", t.Name).Err(err).Dur("retry_in", wait).Msg("delivery failed, retrying")
		if !sleep(ctx, wait) {
			c.m.delivered(t.Name, ResultInterrupted, time.Since(start))
			return false
		}
	}
}

// checkAlert rejects a decoded alert the targets could only misread.
func checkAlert(a *schemas.Alert) error {
	if a.State != schemas.AlertFiring && a.State != schemas.AlertResolved {
		return fmt.Errorf("paging: alert %q has state %q, neither %s nor %s", a.ID, a.State, schemas.AlertFiring, schemas.AlertResolved)
	}
	if a.DedupKey == "" {
		return fmt.Errorf("paging: alert %q has no dedup key", a.ID)
	}
	return nil
}

// deadLetter writes r to the dead-letter topic with cause, retrying until
// it is written or ctx ends (then it returns ctx's error).
func (c *Consumer) deadLetter(ctx context.Context, cl *kgo.Client, r *kgo.Record, cause error) error {
	c.log.Error().Str("topic", r.Topic).Int32("partition", r.Partition).Int64("offset", r.Offset).Err(cause).
		Msg("record is no valid Alert; sending it to the dead-letter topic and skipping it")
	dl := &schemas.DeadLetter{
		OriginalKey:     r.Key,
		OriginalValue:   r.Value,
		SourceTopic:     r.Topic,
		SourcePartition: r.Partition,
		SourceOffset:    r.Offset,
		Stage:           Stage,
		Error:           cause.Error(),
		Time:            c.cfg.Now().UnixMilli(),
	}
	if dl.OriginalValue == nil {
		dl.OriginalValue = []byte{}
	}
	value, err := c.cfg.Codecs.DeadLetter.Marshal(dl)
	if err != nil {
		// Cannot happen for a well-formed DeadLetter; never lose the record
		// silently either way.
		return fmt.Errorf("paging: encode dead letter: %w", err)
	}
	retry := c.cfg.Retry.withDefaults()
	for attempt := 1; ; attempt++ {
		err := cl.ProduceSync(ctx, &kgo.Record{Topic: c.cfg.DeadLetterTopic, Key: r.Key, Value: value}).FirstErr()
		if err == nil {
			c.m.deadLetters.Inc()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		wait := retry.wait(attempt, err)
		c.log.Warn().Err(err).Dur("retry_in", wait).Msg("writing dead letter failed, retrying")
		if !sleep(ctx, wait) {
			return ctx.Err()
		}
	}
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
