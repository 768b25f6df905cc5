package paging

import (
	"cmp"
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
	"github.com/logstream/logstream/deadletter"
	"github.com/logstream/logstream/internal/retry"
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
	// Table is the consumer's state, a compacted topic co-partitioned with
	// Topic: the open incidents (FIRING delivered, RESOLVED not yet), for
	// the re-sends after a restart or a rebalance. "" means
	// topology.TableTopic(topology.GroupPage). Created when missing.
	Table string
	// ResendInterval is how often every open FIRING alert is sent again to
	// the targets whose Notifier is a Resender (Alertmanager); 0 means
	// DefaultResendInterval. A Resender must keep an alert at least twice
	// this long (its ValidFor).
	ResendInterval time.Duration
	// SourceGroup is the consumer group of the stage that writes Topic;
	// "" means topology.GroupAlerter. Re-sends pause while it has no
	// member, so that the alerts of a stopped pipeline expire.
	SourceGroup string
	// SourceRunning, when set, replaces the check of SourceGroup (tests).
	SourceRunning func(context.Context) (bool, error)
	// KafkaOpts are extra franz-go client options, given to every client
	// the consumer makes (tests lower timeouts with them).
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
	if c.ResendInterval < 0 {
		return fmt.Errorf("paging: re-send interval %s is negative", c.ResendInterval)
	}
	interval := cmp.Or(c.ResendInterval, DefaultResendInterval)
	for _, t := range c.Targets {
		if r, ok := t.Notifier.(Resender); ok && r.ValidFor() < 2*interval {
			return fmt.Errorf("paging: target %s keeps a FIRING alert %s after a send, less than twice the re-send interval %s: its alerts would expire while their incidents are open",
				t.Name, r.ValidFor(), interval)
		}
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
	open  *openAlerts
	// sendMu holds, per Resender target, the lock its deliveries and its
	// re-sends take, so that they reach it in order.
	sendMu map[string]*sync.Mutex
	// tableChecked is set once the table is known to exist with the
	// topic's partitions.
	tableChecked atomic.Bool
	// dead writes the dead letters.
	dead *deadletter.Producer
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
	if cfg.Table == "" {
		cfg.Table = topology.TableTopic(topology.GroupPage)
	}
	if cfg.ResendInterval == 0 {
		cfg.ResendInterval = DefaultResendInterval
	}
	if cfg.SourceGroup == "" {
		cfg.SourceGroup = topology.GroupAlerter
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	cfg.Metrics.init(cfg.Targets)
	c := &Consumer{cfg: cfg, log: cfg.Logger.With().Str("stage", Stage).Logger(), m: cfg.Metrics, sendMu: map[string]*sync.Mutex{}}
	c.open = newOpenAlerts(cfg.ResendInterval, func(n int) { c.m.open.Set(float64(n)) })
	c.dead = &deadletter.Producer{
		Topic: cfg.DeadLetterTopic,
		Stage: Stage,
		Codec: cfg.Codecs.DeadLetter,
		Now:   cfg.Now,
		Retry: c.retry(func(_ int, err error, wait time.Duration) {
			c.log.Warn().Err(err).Dur("retry_in", wait).Msg("writing dead letter failed, retrying")
		}),
		Count: func(*kgo.Record, error) { c.m.deadLetters.Inc() },
	}
	for _, t := range cfg.Targets {
		if _, ok := t.Notifier.(Resender); ok {
			c.sendMu[t.Name] = &sync.Mutex{}
		}
	}
	return c, nil
}

// Metrics returns the consumer's metrics.
func (c *Consumer) Metrics() *Metrics { return c.m }

// Ready reports whether Run has reached Kafka and is consuming (for a
// readiness probe).
func (c *Consumer) Ready() bool { return c.ready.Load() }

// Run consumes until ctx ends, then commits what was delivered, leaves the
// group and returns nil. A delivery cut short by ctx is not committed: the
// next member of the group delivers that record again. Meanwhile it
// re-sends the open FIRING alerts of its partitions to the Resender
// targets. Run returns an error when Kafka cannot be reached at start, the
// table does not match the topic, or the client fails for good.
func (c *Consumer) Run(ctx context.Context) error {
	// The group's callbacks end the run through pollCtx when the table is
	// unusable; a callback cannot return an error.
	pollCtx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
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
		// Dead letters go by key; the table's records to the partition of
		// the alert they keep.
		kgo.RecordPartitioner(tablePartitioner{table: c.cfg.Table, other: topology.Partitioner()}),
		// franz-go calls this before it fetches the partitions: their open
		// incidents are known before any of their records is handled.
		kgo.OnPartitionsAssigned(func(_ context.Context, cl *kgo.Client, m map[string][]int32) {
			c.log.Info().Interface("partitions", m).Msg("partitions assigned")
			c.assigned(pollCtx, cl, m[c.cfg.Topic], fail)
		}),
		kgo.OnPartitionsRevoked(func(cctx context.Context, cl *kgo.Client, m map[string][]int32) {
			c.open.drop(m[c.cfg.Topic])
			// What franz-go's own revoke does, which this one replaces:
			// commit what was delivered before the next owner starts.
			if err := cl.CommitMarkedOffsets(cctx); err != nil {
				c.log.Warn().Err(err).Msg("offset commit on revocation failed; the next owner delivers those alerts again")
			}
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			c.open.drop(m[c.cfg.Topic])
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

	// The re-sends end with Run, whichever way it returns.
	rctx, stopResends := context.WithCancel(ctx)
	var resends sync.WaitGroup
	defer func() {
		stopResends()
		resends.Wait()
	}()
	if r := c.resender(cl); r != nil {
		c.log.Info().Dur("interval", c.cfg.ResendInterval).Str("source_group", c.cfg.SourceGroup).Msg("re-sending open FIRING alerts while the pipeline runs")
		resends.Add(1)
		go func() { defer resends.Done(); r.run(rctx) }()
	}

	for {
		fs := cl.PollFetches(pollCtx)
		if err := context.Cause(pollCtx); err != nil && ctx.Err() == nil {
			return err
		}
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
				if !c.open.owns(r.Partition) {
					// Revoked while this fetch was handled: the rest of
					// the partition is the next owner's, uncommitted.
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
	if r.Value == nil {
		// A tombstone: franz-go reads a null value as nil (an empty one
		// as an empty slice). The alerts topic is a stream, where it
		// means nothing; it is bad input with a reason of its own, not
		// the codec's error.
		return c.deadLetter(ctx, cl, r, deadletter.ErrTombstone)
	}
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
	if a.State == schemas.AlertResolved {
		// No re-send of the FIRING alert from now on, so none can reach a
		// target after this RESOLVED (see resender.send).
		c.open.remove(r.Partition, a.DedupKey)
	}

	var (
		wg          sync.WaitGroup
		mu          sync.Mutex
		refused     []string
		interrupted atomic.Bool
	)
	for _, t := range c.cfg.Targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, permanent := c.deliver(ctx, t, a, log)
			if !ok {
				interrupted.Store(true)
			}
			if permanent {
				mu.Lock()
				refused = append(refused, t.Name)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if interrupted.Load() {
		return ctx.Err()
	}
	// The table follows the records it has handled, before their offsets
	// are committed: whoever owns the partition after a restart or a
	// rebalance reads every incident whose FIRING is behind the committed
	// offset and whose RESOLVED is not.
	if err := c.writeTable(ctx, cl, r, a); err != nil {
		return err
	}
	if a.State == schemas.AlertFiring {
		c.open.add(r.Partition, a, time.Now(), refused)
	}
	return nil
}

// deliver sends a to t until it is accepted or refused for good (ok), or
// ctx ends (not ok); permanent tells a refusal. A notifier that gives up
// by itself with an error that is not permanent is retried here, paced by
// ConsumerConfig.Retry.
func (c *Consumer) deliver(ctx context.Context, t Target, a *schemas.Alert, log zerolog.Logger) (ok, permanent bool) {
	if mu := c.sendMu[t.Name]; mu != nil {
		// In order with the re-sends to the same target.
		mu.Lock()
		defer mu.Unlock()
	}
	start := time.Now()
	p := c.retry(func(_ int, err error, wait time.Duration) {
		log.Warn().Str("target", t.Name).Err(err).Dur("retry_in", wait).Msg("delivery failed, retrying")
	})
	err := p.Do(ctx, func(ctx context.Context) error { return t.Notifier.Notify(ctx, a) })
	switch {
	case err == nil:
		c.m.delivered(t.Name, ResultOK, time.Since(start))
		log.Info().Str("target", t.Name).Dur("took", time.Since(start)).Msg("alert delivered")
		return true, false
	case errors.Is(err, ErrPermanent):
		// Not dropped silently: logged with the target's answer,
		// counted, and then skipped, because no retry can change it.
		c.m.delivered(t.Name, ResultPermanent, time.Since(start))
		log.Error().Str("target", t.Name).Err(err).Msg("alert refused by the target for good; skipped (logstream_page_deliveries_total{result=\"permanent\"})")
		return true, true
	default: // ctx ended: the policy retries anything else
		c.m.delivered(t.Name, ResultInterrupted, time.Since(start))
		log.Info().Str("target", t.Name).Err(err).Msg("delivery interrupted by shutdown; the record stays uncommitted")
		return false, false
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
// it is written or ctx ends (then it returns an error matching ctx's).
func (c *Consumer) deadLetter(ctx context.Context, cl *kgo.Client, r *kgo.Record, cause error) error {
	c.log.Error().Str("topic", r.Topic).Int32("partition", r.Partition).Int64("offset", r.Offset).Err(cause).
		Msg("record is no valid Alert; sending it to the dead-letter topic and skipping it")
	if err := c.dead.Send(ctx, cl, r, cause); err != nil {
		return fmt.Errorf("paging: %w", err)
	}
	return nil
}

// retry is the policy of what the consumer itself retries (ConsumerConfig.
// Retry), with onRetry as its log: ConsumerConfig.Retry.OnRetry belongs to
// the notifiers' policies.
func (c *Consumer) retry(onRetry func(attempt int, err error, wait time.Duration)) retry.Policy {
	p := c.cfg.Retry.policy()
	p.OnRetry = onRetry
	return p
}
