package sinks

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/deadletter"
	"github.com/logstream/logstream/internal/retry"
	"github.com/logstream/logstream/topology"
)

// Config configures a Runner.
type Config struct {
	// Brokers are the Kafka bootstrap brokers.
	Brokers []string
	// Group is the consumer group (topology.GroupSinkS3, ...).
	Group string
	// Topics are read; every one must exist.
	Topics []string
	// Sink is the store.
	Sink Sink
	// Codecs encode dead letters.
	Codecs *codecs.Set
	// DeadLetterTopic receives records the sink cannot store; "" means
	// topology.TopicDLQ.
	DeadLetterTopic string
	// MaxConcurrency bounds the flushes in flight at once, over every
	// partition (MAX_CONCURRENCY; default 4).
	MaxConcurrency int
	// Breaker configures the circuit breaker around the sink.
	Breaker BreakerConfig
	// RetryInitial and RetryMax pace the retries of a failed flush while
	// the breaker is closed (defaults 200 ms and 10 s, with jitter).
	RetryInitial, RetryMax time.Duration
	// QueueRecords bounds the records fetched for one partition and not
	// yet added to its writer; beyond it the partition's fetching pauses
	// (default 10,000).
	QueueRecords int
	// RevokeTimeout bounds the final flush of a partition taken away by a
	// rebalance or at shutdown (default 20 s); what it does not write stays
	// uncommitted and is written by the next owner.
	RevokeTimeout time.Duration
	// Logger logs flushes that fail, the breaker, rebalances.
	Logger zerolog.Logger
	// Metrics; nil means metrics of its own.
	Metrics *Metrics
	// KafkaOpts are extra franz-go options (tests lower timeouts with them).
	KafkaOpts []kgo.Opt
	// Now is the clock of the breaker and of dead letters; nil: time.Now.
	Now func() time.Time
}

// Runner defaults.
const (
	DefaultMaxConcurrency = 4
	DefaultQueueRecords   = 10000
	DefaultRevokeTimeout  = 20 * time.Second
)

func (c *Config) defaults() {
	if c.DeadLetterTopic == "" {
		c.DeadLetterTopic = topology.TopicDLQ
	}
	if c.MaxConcurrency == 0 {
		c.MaxConcurrency = DefaultMaxConcurrency
	}
	if c.Breaker.MaxFailures == 0 {
		c.Breaker.MaxFailures = DefaultBreakerMaxFailures
	}
	if c.Breaker.Timeout == 0 {
		c.Breaker.Timeout = DefaultBreakerTimeout
	}
	if c.RetryInitial == 0 {
		c.RetryInitial = 200 * time.Millisecond
	}
	if c.RetryMax == 0 {
		c.RetryMax = 10 * time.Second
	}
	if c.QueueRecords == 0 {
		c.QueueRecords = DefaultQueueRecords
	}
	if c.RevokeTimeout == 0 {
		c.RevokeTimeout = DefaultRevokeTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics()
	}
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	switch {
	case len(c.Brokers) == 0:
		return errors.New("sinks: no Kafka brokers")
	case c.Group == "":
		return errors.New("sinks: no consumer group")
	case len(c.Topics) == 0:
		return errors.New("sinks: no topics to read")
	case c.Sink == nil:
		return errors.New("sinks: no sink")
	case c.Codecs == nil || c.Codecs.DeadLetter == nil:
		return errors.New("sinks: no codec for dead letters")
	case c.MaxConcurrency < 1 || c.MaxConcurrency > 1024:
		return fmt.Errorf("sinks: MAX_CONCURRENCY must be between 1 and 1024, got %d", c.MaxConcurrency)
	case c.QueueRecords < 1:
		return fmt.Errorf("sinks: QueueRecords must be positive, got %d", c.QueueRecords)
	}
	return c.Breaker.Validate()
}

type tp struct {
	topic     string
	partition int32
}

// Runner copies topics into a sink exactly once, as one member of a
// consumer group: see the package documentation.
type Runner struct {
	cfg     Config
	name    string
	log     zerolog.Logger
	m       *Metrics
	breaker *Breaker
	sem     chan struct{}
	// retry paces the retries of a flush and of a dead letter.
	retry retry.Policy
	// dead writes the dead letters.
	dead *deadletter.Producer

	cl *kgo.Client

	mu      sync.Mutex
	workers map[tp]*worker
	hwm     map[tp]int64

	commitMu sync.Mutex
	ready    atomic.Bool

	// hard is the parent of every worker's context; Abort cancels it.
	hard  context.Context
	abort context.CancelFunc
}

// NewRunner validates cfg and returns a runner; Run starts it.
func NewRunner(cfg Config) (*Runner, error) {
	cfg.defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Runner{
		cfg:     cfg,
		name:    cfg.Sink.Name(),
		m:       cfg.Metrics,
		sem:     make(chan struct{}, cfg.MaxConcurrency),
		workers: map[tp]*worker{},
		hwm:     map[tp]int64{},
	}
	r.hard, r.abort = context.WithCancel(context.Background())
	r.log = cfg.Logger.With().Str("stage", "sink-"+r.name).Logger()
	r.breaker = NewBreaker(cfg.Breaker, cfg.Now, r.breakerChanged)
	r.retry = retry.Policy{Initial: cfg.RetryInitial, Max: cfg.RetryMax}
	dp := r.retry
	dp.OnRetry = func(_ int, err error, wait time.Duration) {
		r.log.Warn().Err(err).Dur("retry_in", wait).Msg("writing a dead letter failed, retrying")
	}
	r.dead = &deadletter.Producer{
		Topic: cfg.DeadLetterTopic,
		Stage: "sink-" + r.name,
		Codec: cfg.Codecs.DeadLetter,
		Now:   cfg.Now,
		Retry: dp,
		Count: func(src *kgo.Record, cause error) {
			r.m.deadLetters.WithLabelValues(r.name).Inc()
			var re *RecordError
			if errors.As(cause, &re) {
				r.m.rejected.WithLabelValues(r.name, src.Topic, re.Reason).Inc()
			}
		},
	}
	r.m.circuit.WithLabelValues(r.name).Set(float64(Closed))
	r.m.paused.WithLabelValues(r.name).Set(0)
	return r, nil
}

// Metrics returns the runner's metrics.
func (r *Runner) Metrics() *Metrics { return r.m }

// Abort stops Run at once, as a crash would: flushes in flight are cut
// short and nothing more is committed. Tests use it to kill a writer
// between an upload and its commit.
func (r *Runner) Abort() { r.abort() }

// Ready reports whether Run has checked the store and reached Kafka (for
// a readiness probe).
func (r *Runner) Ready() bool { return r.ready.Load() }

// Breaker returns the circuit breaker around the sink.
func (r *Runner) Breaker() *Breaker { return r.breaker }

func (r *Runner) breakerChanged(from, to BreakerState) {
	r.m.circuit.WithLabelValues(r.name).Set(float64(to))
	cl := r.client()
	switch to {
	case Open:
		r.log.Error().Str("from", from.String()).Dur("probe_in", r.cfg.Breaker.Timeout).
			Msgf("circuit breaker open after %d failed writes in a row: consumption paused", r.cfg.Breaker.MaxFailures)
		r.m.paused.WithLabelValues(r.name).Set(1)
		if cl != nil {
			cl.PauseFetchTopics(r.cfg.Topics...)
		}
	case HalfOpen:
		r.log.Warn().Msg("circuit breaker half-open: probing the store with one write")
	case Closed:
		r.log.Info().Str("from", from.String()).Msg("circuit breaker closed: the store accepts writes again, consumption resumed")
		r.m.paused.WithLabelValues(r.name).Set(0)
		if cl != nil {
			cl.ResumeFetchTopics(r.cfg.Topics...)
		}
	}
}

func (r *Runner) client() *kgo.Client {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cl
}

// Run checks the store, then consumes until ctx ends: it writes what it
// holds (within RevokeTimeout), commits it, leaves the group and returns
// nil. It returns an error when the store's check fails (naming the setting
// to fix), Kafka cannot be reached at start, or the client fails for good.
func (r *Runner) Run(ctx context.Context) error {
	if err := r.check(ctx); err != nil {
		if ctx.Err() != nil || r.hard.Err() != nil {
			return nil // stopped while checking
		}
		return err
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(r.cfg.Brokers...),
		kgo.ConsumerGroup(r.cfg.Group),
		kgo.ConsumeTopics(r.cfg.Topics...),
		kgo.DisableAutoCommit(),
		// Rebalance callbacks run between polls, never while a poll's
		// records are being handed to the writers: a partition's records
		// can then never reach the writer of a later assignment.
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.RecordPartitioner(topology.Partitioner()),
		kgo.OnPartitionsAssigned(r.assigned),
		kgo.OnPartitionsRevoked(r.revoked),
		kgo.OnPartitionsLost(r.lost),
	}, r.cfg.KafkaOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("sink %s: kafka client: %w", r.name, err)
	}
	r.mu.Lock()
	r.cl = cl
	r.mu.Unlock()
	defer cl.Close()
	pingCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	stopPing := context.AfterFunc(r.hard, cancel)
	defer stopPing()
	err = cl.Ping(pingCtx)
	cancel()
	if err != nil {
		if ctx.Err() != nil || r.hard.Err() != nil {
			return nil // stopped while connecting
		}
		return fmt.Errorf("sink %s: reach Kafka at %v: %w", r.name, r.cfg.Brokers, err)
	}
	lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	td, err := kadm.NewClient(cl).ListTopics(lctx, r.cfg.Topics...)
	cancel()
	if err == nil {
		for _, t := range r.cfg.Topics {
			if !td.Has(t) {
				r.log.Warn().Str("topic", t).Msg("topic does not exist yet ('logstream run' creates it); waiting for it")
			}
		}
	}
	r.ready.Store(true)
	defer r.ready.Store(false)
	r.log.Info().Strs("topics", r.cfg.Topics).Str("group", r.cfg.Group).Msg("sink writer started")

	// The poll loop ends with ctx (a shutdown) or with Abort (a crash).
	pollCtx, stopPoll := context.WithCancel(ctx)
	defer stopPoll()
	go func() {
		select {
		case <-r.hard.Done():
			stopPoll()
		case <-pollCtx.Done():
		}
	}()
	for {
		fs := cl.PollFetches(pollCtx)
		if pollCtx.Err() != nil {
			cl.AllowRebalance()
			break
		}
		if fs.IsClientClosed() {
			return fmt.Errorf("sink %s: kafka client closed", r.name)
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				r.log.Warn().Str("topic", t).Int32("partition", p).Err(err).Msg("fetch failed; the client retries")
			}
		})
		r.dispatch(fs)
		cl.AllowRebalance()
	}
	if r.hard.Err() != nil {
		// Abort: what was written stays uncommitted, as after a kill.
		r.stopAll(false)
		r.log.Warn().Msg("sink writer aborted")
		return nil
	}
	// Shutdown: write and commit what the writers hold, then leave.
	r.stopAll(true)
	cl.LeaveGroup()
	r.log.Info().Msg("sink writer stopped")
	return nil
}

// check checks the store, trying a transient failure (a 503, a lost
// answer) a few times: a store that is really unreachable or refuses the
// settings ends Run with the error, which names the setting to fix.
func (r *Runner) check(ctx context.Context) error {
	p := r.retry
	p.Attempts = checkAttempts
	// The check's waits start where a flush's third would (4·RetryInitial):
	// a store that is starting needs a moment, not 200 ms.
	p.Initial = 4 * r.cfg.RetryInitial
	p.Permanent = func(err error) bool {
		var perm *Permanent
		return errors.As(err, &perm)
	}
	p.OnRetry = func(attempt int, err error, wait time.Duration) {
		r.log.Warn().Err(err).Int("attempt", attempt).Dur("retry_in", wait).Msg("store check failed; trying again")
	}
	if err := p.Do(ctx, r.cfg.Sink.Check); err != nil {
		return fmt.Errorf("sink %s: %w", r.name, err)
	}
	return nil
}

// checkAttempts bounds the attempts of the store check at start.
const checkAttempts = 4

// dispatch hands each partition's records to its worker. It never blocks:
// a worker whose queue is over QueueRecords gets its partition paused
// (bounded buffering) until it catches up.
func (r *Runner) dispatch(fs kgo.Fetches) {
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		key := tp{p.Topic, p.Partition}
		r.mu.Lock()
		w := r.workers[key]
		if p.HighWatermark >= 0 {
			r.hwm[key] = p.HighWatermark
		}
		r.mu.Unlock()
		if w == nil || len(p.Records) == 0 {
			return
		}
		if w.enqueue(p.Records) {
			r.cl.PauseFetchPartitions(map[string][]int32{key.topic: {key.partition}})
		}
	})
}

func (r *Runner) assigned(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for t, ps := range m {
		for _, p := range ps {
			key := tp{t, p}
			if old := r.workers[key]; old != nil {
				continue // cannot happen: revoked or lost first
			}
			pw, err := r.cfg.Sink.NewPartition(t, p, &deadLetters{r: r})
			if err != nil {
				// No writer means no commit: the partition waits for the
				// next rebalance, and the error says why.
				r.log.Error().Str("topic", t).Int32("partition", p).Err(err).Msg("cannot open a writer for the partition; it is not consumed")
				continue
			}
			w := newWorker(r, key, pw)
			r.workers[key] = w
			go w.run()
		}
	}
	r.log.Info().Interface("partitions", m).Msg("partitions assigned")
}

func (r *Runner) revoked(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	r.stop(m, true)
	r.log.Info().Interface("partitions", m).Msg("partitions revoked; what was written is committed")
}

func (r *Runner) lost(ctx context.Context, cl *kgo.Client, m map[string][]int32) {
	r.stop(m, false)
	r.log.Warn().Interface("partitions", m).Msg("partitions lost; nothing more is committed for them")
}

// stop stops the workers of m; with flush set each writes what it holds
// and commits it first (a revocation), else it is dropped (lost: another
// member may own the partition already, and the store's guarantees, not a
// commit, protect the records).
func (r *Runner) stop(m map[string][]int32, flush bool) {
	var ws []*worker
	r.mu.Lock()
	for t, ps := range m {
		for _, p := range ps {
			key := tp{t, p}
			if w := r.workers[key]; w != nil {
				ws = append(ws, w)
				delete(r.workers, key)
			}
		}
	}
	r.mu.Unlock()
	r.join(ws, flush)
	resume := map[string][]int32{}
	for _, w := range ws {
		resume[w.key.topic] = append(resume[w.key.topic], w.key.partition)
	}
	if cl := r.client(); cl != nil && len(resume) > 0 {
		// A pause outlives the assignment: clear it for the next owner
		// of the partition in this process.
		cl.ResumeFetchPartitions(resume)
	}
}

func (r *Runner) stopAll(flush bool) {
	r.mu.Lock()
	ws := make([]*worker, 0, len(r.workers))
	for key, w := range r.workers {
		ws = append(ws, w)
		delete(r.workers, key)
	}
	r.mu.Unlock()
	r.join(ws, flush)
}

func (r *Runner) join(ws []*worker, flush bool) {
	for _, w := range ws {
		w.stop(flush)
	}
	for _, w := range ws {
		<-w.done
	}
}

// commit commits offset for key: every record before it is in the store.
func (r *Runner) commit(ctx context.Context, key tp, offset int64) error {
	cl := r.client()
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	var cerr error
	cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{
		key.topic: {key.partition: {Epoch: -1, Offset: offset}},
	}, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		cerr = commitErr(resp, err)
	})
	if cerr != nil {
		return cerr
	}
	r.mu.Lock()
	hwm, ok := r.hwm[key]
	r.mu.Unlock()
	if !ok {
		hwm = -1
	}
	r.m.offsets(r.name, key.topic, key.partition, offset, hwm)
	return nil
}

// commitErr is the first error of a commit: the request's or a
// partition's (a stale generation after a rebalance, say).
func commitErr(resp *kmsg.OffsetCommitResponse, err error) error {
	if err != nil {
		return err
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("commit %s/%d: %w", t.Topic, p.Partition, err)
			}
		}
	}
	return nil
}

// deadLetters writes a sink's rejected records to the dead-letter topic.
type deadLetters struct{ r *Runner }

func (d *deadLetters) Send(ctx context.Context, rec *kgo.Record, cause error) error {
	r := d.r
	r.log.Error().Str("topic", rec.Topic).Int32("partition", rec.Partition).Int64("offset", rec.Offset).Err(cause).
		Msg("record cannot be stored; sending it to the dead-letter topic")
	if err := r.dead.Send(ctx, r.client(), rec, cause); err != nil {
		return fmt.Errorf("sink %s: %w", r.name, err)
	}
	return nil
}
