// Package pipeline runs logstream's stages (goka processors) in one process:
// it creates the topics the topology names, starts every stage under one
// errgroup, reports readiness once every stage has recovered its state, and
// stops them in order.
package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/alerter"
	"github.com/logstream/logstream/processors/dedupe"
	"github.com/logstream/logstream/processors/errorrate"
	"github.com/logstream/logstream/processors/parse"
	"github.com/logstream/logstream/processors/parse/mask"
	"github.com/logstream/logstream/processors/spans"
	"github.com/logstream/logstream/processors/tracejoin"
	"github.com/logstream/logstream/state"
	"github.com/logstream/logstream/topology"
	"github.com/logstream/logstream/watermark"
)

// Options configure a Pipeline.
type Options struct {
	Brokers  []string
	Topology *topology.Topology
	Codecs   *codecs.Set
	Tuning   broker.Tuning
	Storage  storage.Builder // nil = memory
	Logger   zerolog.Logger
	// ClientID names this pod's clients; "" = "logstream".
	ClientID string
	// Cluster fills LogEvent.cluster for lines whose labels name none.
	Cluster string
	// HoldIdle is how long the parse stage holds a CRI partial line or a
	// multi-line event without its next line (parse.Config.HoldIdle);
	// 0: the default.
	HoldIdle time.Duration
	// Stages to run in this process, by name (topology stage names); nil
	// runs every stage.
	Stages []string
	// Dedupe and Join tune the stateful stages; zero values are defaults.
	Dedupe StateOptions
	Join   StateOptions
	// ErrorRate tunes the errorrate stage; Rules are the alerter's (nil:
	// the defaults).
	ErrorRate ErrorRateOptions
	Rules     *alerter.Rules
	// Watermark tunes event-time progress (package watermark).
	Watermark WatermarkOptions
	// Mask is the parse stage's masker (parse.Config.Mask): card numbers
	// always, nil masking those only, and the configured patterns.
	Mask *mask.Masker
}

// WatermarkOptions tune the watermarks; zero values are defaults.
type WatermarkOptions struct {
	// Idle: a partition of logs.raw (or a stage's input read without
	// stamps) that is caught up and has had no records for this long
	// stops holding the watermark back; 0 means watermark.DefaultIdle.
	Idle time.Duration
	// Every is how far a stamp may run ahead of what a downstream
	// partition heard before it gets a watermark record; 0 means
	// watermark.DefaultEvery.
	Every time.Duration
}

// ErrorRateOptions tune the errorrate stage; zero values are defaults.
type ErrorRateOptions struct {
	Windows        errorrate.Windows
	UpdateInterval time.Duration
	EmitUpdates    bool
	// FailurePattern is the regexp of timeout/failure messages that count
	// as errors; nil means errorrate.DefaultFailurePattern, "" none.
	FailurePattern *string
	MaxFuture      time.Duration
	// FlushInterval is how long one transaction of the combine hop
	// gathers events; 0 means errorrate.DefaultFlushInterval.
	FlushInterval time.Duration
}

// StateOptions tune a stateful stage.
type StateOptions struct {
	// TTL is dedupe's id lifetime, Window the join window (event time).
	TTL    time.Duration
	Window time.Duration
	// MaxFuture: events further ahead (of the wall clock or stream time)
	// do not move stream time.
	MaxFuture time.Duration
	// SweepInterval is how often the stage's sweeper visits the keys
	// that have work (expired ids, events past their window, traces to
	// close); 0 means a tenth of the TTL or window (at least 1 s, at most
	// 1 min).
	SweepInterval time.Duration
	// MaxHeld bounds the events the join holds waiting for their spans,
	// per partition: past it, the oldest leave unenriched (join_status
	// timeout, counted as bound) at once rather than at their window's
	// end. 0 means DefaultMaxHeld, negative: no bound.
	MaxHeld int
	// CacheEntries bounds dedupe's hot-id cache (negative: none).
	CacheEntries int64
	// Idle: a partition of the join that gets no record for this long
	// (wall clock) releases every event it holds; 0 means the window.
	Idle time.Duration
}

// Validate reports the first missing option.
func (o *Options) Validate() error {
	switch {
	case len(o.Brokers) == 0:
		return errors.New("pipeline: no brokers")
	case o.Topology == nil:
		return errors.New("pipeline: no topology")
	case o.Codecs == nil:
		return errors.New("pipeline: no codecs")
	case o.HoldIdle > 0 && o.HoldIdle >= cmp.Or(o.Watermark.Idle, watermark.DefaultIdle):
		// An idle input partition stops holding event time back: what
		// parse still holds would come late downstream.
		return fmt.Errorf("pipeline: the parse stage's hold idle time (%s) must be below the watermark's idle timeout (%s)",
			o.HoldIdle, cmp.Or(o.Watermark.Idle, watermark.DefaultIdle))
	}
	return nil
}

// Pipeline is the set of stages running in this process.
type Pipeline struct {
	opts Options
	// stages run here, in pipeline order (see stage).
	stages []*stage
	// The processors of the stages that run here, for their accessors
	// (nil when the stage does not run here).
	parse     *parse.Processor
	spans     *spans.Processor
	dedupe    *dedupe.Processor
	tracejoin *tracejoin.Processor
	errorrate *errorrate.Processor
	alerter   *alerter.Processor
	// watermarks of dedupe's and the trace join's inputs, for metrics.
	dedupeWM, joinWM *watermark.Partitions
	procs            atomic.Pointer[[]*goka.Processor]
	started          atomic.Bool
	running          atomic.Int32
	done             chan struct{} // closed when Run returns
	runErr           error         // set before done is closed
}

// New builds the stages; nothing connects to Kafka until Run.
func New(opts Options) (*Pipeline, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.ClientID == "" {
		opts.ClientID = "logstream"
	}
	p := &Pipeline{opts: opts, done: make(chan struct{})}
	env := newBuildEnv(opts)
	for _, b := range stageBuilders() {
		if !p.runs(b.name) {
			continue
		}
		st, err := b.build(p, env)
		if err != nil {
			return nil, err
		}
		if st.storage == nil {
			st.storage = env.base
		}
		if st.fence != nil {
			st.fence.UseGraph(st.graph)
		}
		p.stages = append(p.stages, st)
	}
	if len(p.stages) == 0 {
		return nil, fmt.Errorf("pipeline: no stage selected (stages %v)", opts.Stages)
	}
	for _, st := range p.stages {
		if err := st.graph.Validate(); err != nil {
			return nil, fmt.Errorf("pipeline: group %s: %w", st.graph.Group(), err)
		}
	}
	return p, nil
}

// committedOffsets polls a group's committed offsets: what no replay can
// reach, so a stage may drop what it kept for replays below them.
type committedOffsets struct {
	group string
	mu    sync.Mutex
	m     map[string]map[int32]int64
}

func (c *committedOffsets) get(topic string, partition int32) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, ok := c.m[topic][partition]
	return o, ok
}

func (c *committedOffsets) poll(ctx context.Context, adm *kadm.Client, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		offs, err := adm.FetchOffsets(ctx, c.group)
		if err == nil && offs.Error() == nil {
			m := map[string]map[int32]int64{}
			offs.Each(func(o kadm.OffsetResponse) {
				if m[o.Topic] == nil {
					m[o.Topic] = map[int32]int64{}
				}
				m[o.Topic][o.Partition] = o.At
			})
			c.mu.Lock()
			c.m = m
			c.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// legacyCutoff reads where the previous version's errorrate group stood
// on logs.unique: the combine hop starts there (see errorrate.Config).
func legacyCutoff(ctx context.Context, adm *kadm.Client) map[int32]int64 {
	offs, err := adm.FetchOffsets(ctx, topology.GroupErrorRate)
	if err != nil {
		return nil
	}
	out := map[int32]int64{}
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topology.TopicUnique && o.Err == nil && o.At >= 0 {
			out[o.Partition] = o.At
		}
	})
	return out
}

// StageNames lists the stages a pipeline can run, in order.
func StageNames() []string {
	var out []string
	for _, b := range stageBuilders() {
		out = append(out, b.name)
	}
	return out
}

func (p *Pipeline) runs(stage string) bool {
	if len(p.opts.Stages) == 0 {
		return true
	}
	for _, s := range p.opts.Stages {
		if s == stage {
			return true
		}
	}
	return false
}

// DefaultMaxHeld bounds the events the join holds waiting per partition.
const DefaultMaxHeld = 100_000

func maxHeld(set int) int {
	switch {
	case set < 0:
		return 0
	case set == 0:
		return DefaultMaxHeld
	}
	return set
}

// sweepEvery is the sweep interval: set, or a tenth of the lifetime
// (between 1 s and 1 min).
func sweepEvery(set, life time.Duration) time.Duration {
	if set > 0 {
		return set
	}
	return min(max(life/10, time.Second), time.Minute)
}

// Dedupe returns the dedupe stage, nil when it does not run here.
func (p *Pipeline) Dedupe() *dedupe.Processor { return p.dedupe }

// TraceJoin returns the trace join, nil when it does not run here.
func (p *Pipeline) TraceJoin() *tracejoin.Processor { return p.tracejoin }

// ErrorRate returns the errorrate stage, nil when it does not run here.
func (p *Pipeline) ErrorRate() *errorrate.Processor { return p.errorrate }

// Alerter returns the alerter, nil when it does not run here.
func (p *Pipeline) Alerter() *alerter.Processor { return p.alerter }

// Spans returns the spans adapter, nil when it does not run here.
func (p *Pipeline) Spans() *spans.Processor { return p.spans }

// Parse returns the parse stage (for its counters), nil when it does not
// run here.
func (p *Pipeline) Parse() *parse.Processor { return p.parse }

// Groups returns the consumer groups of the stages.
func (p *Pipeline) Groups() []string {
	var out []string
	for _, st := range p.stages {
		out = append(out, string(st.graph.Group()))
	}
	for _, st := range p.stages {
		if st.hop != nil {
			out = append(out, st.hop.group)
		}
	}
	return out
}

// WatermarkRecords returns how many watermark records (package
// watermark) the stages here wrote to logs.parsed, logs.unique and spans:
// they take offsets there beside the events.
func (p *Pipeline) WatermarkRecords() map[string]int64 {
	out := map[string]int64{}
	for _, st := range p.stages {
		if st.watermarks != nil {
			topic, n := st.watermarks()
			out[topic] += n
		}
	}
	return out
}

// TransactionalTopics returns the topics the stages here write in Kafka
// transactions (see admin.LagCollector.Transactional).
func (p *Pipeline) TransactionalTopics() []string {
	var out []string
	for _, st := range p.stages {
		if st.hop != nil {
			out = append(out, st.hop.transactional...)
		}
	}
	return out
}

// EnsureTopics creates the topology's topics that do not exist yet.
func (p *Pipeline) EnsureTopics() error {
	t := p.opts.Topology
	if err := p.checkPartitions(); err != nil {
		return err
	}
	return broker.EnsureTopics(p.opts.Brokers, p.opts.Tuning, t.StreamPartitions(), t.TablePartitions())
}

// checkPartitions compares the topics that exist with the topology, so
// that a topic made elsewhere with another partition count (spans, by the
// collector's exporter) stops the start with a clear error.
func (p *Pipeline) checkPartitions() error {
	cl, err := kgo.NewClient(p.opts.Tuning.ClientOpts(p.opts.Brokers)...)
	if err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	md, err := kadm.NewClient(cl).ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("pipeline: listing topics: %w", err)
	}
	found := map[string]int{}
	for name, d := range md {
		if d.Err == nil {
			found[name] = len(d.Partitions)
		}
	}
	return p.opts.Topology.CheckPartitions(found)
}

// Run starts every stage and blocks until ctx is cancelled (then it stops
// them, lets each commit what it processed, and returns nil) or a stage
// fails (then it stops the others and returns that error).
func (p *Pipeline) Run(ctx context.Context) error {
	if !p.started.CompareAndSwap(false, true) {
		return errors.New("pipeline: Run called twice")
	}
	err := p.run(ctx)
	p.runErr = err
	close(p.done)
	return err
}

// stageErr is what a stage's processor returning err means: nil for a stop
// the pipeline asked for (ctx done), else a failure. A stage that stopped
// by itself failed whatever goka returned: after a callback panicked,
// goka's error can hold a context.Canceled of its own shutdown next to the
// panic, and a stage that stopped quietly left the others running with
// nothing consuming its inputs.
func stageErr(ctx context.Context, err error) error {
	switch {
	case ctx.Err() == nil && err == nil:
		return errors.New("stopped by itself")
	case ctx.Err() == nil:
		return err
	case err != nil && !errors.Is(err, context.Canceled):
		return err
	}
	return nil
}

func (p *Pipeline) run(ctx context.Context) error {
	log := p.opts.Logger
	procs := make([]*goka.Processor, len(p.stages))
	for i, st := range p.stages {
		g := st.graph
		opts := append(broker.ProcessorOptions(p.opts.Tuning), st.processorOptions(p.opts.Tuning)...)
		opts = append(opts,
			// goka skips a record with a null value by default: no
			// event, no dead letter, not counted. With NilProcess the
			// callbacks get it (msg nil, the codec not called) and
			// make it a dead letter (deadletter.ErrTombstone). It
			// applies to input streams and loop topics only; tables
			// keep reading a tombstone as a delete.
			goka.WithNilHandling(goka.NilProcess),
			goka.WithClientID(p.opts.ClientID+"-"+string(g.Group())),
			goka.WithLogger(gokaLogger{log.With().Str("group", string(g.Group())).Logger()}),
		)
		proc, err := goka.NewProcessor(p.opts.Brokers, g, opts...)
		if err != nil {
			return fmt.Errorf("pipeline: stage %s: %w", g.Group(), err)
		}
		procs[i] = proc
	}
	p.procs.Store(&procs)
	for _, st := range p.stages {
		if st.before != nil {
			if err := st.before(ctx); err != nil {
				return err
			}
		}
	}
	eg, ctx := errgroup.WithContext(ctx)
	for _, proc := range procs {
		eg.Go(func() error {
			p.running.Add(1)
			defer p.running.Add(-1)
			group := proc.Graph().Group()
			log.Info().Str("stage", string(group)).Msg("stage starting")
			if err := stageErr(ctx, proc.Run(ctx)); err != nil {
				log.Error().Err(err).Str("stage", string(group)).Msg("stage failed")
				return fmt.Errorf("pipeline: stage %s: %w", group, err)
			}
			log.Info().Str("stage", string(group)).Msg("stage stopped")
			return nil
		})
	}
	if p.needsAdmin() {
		// Timers and watermark records go to partitions by key, placed
		// as goka places keys.
		cl, err := kgo.NewClient(append(p.opts.Tuning.ClientOpts(p.opts.Brokers), kgo.RecordPartitioner(topology.Partitioner()),
			kgo.ClientID(p.opts.ClientID+"-sweeper"))...)
		if err != nil {
			return fmt.Errorf("pipeline: sweeper client: %w", err)
		}
		defer cl.Close()
		adm := kadm.NewClient(cl)
		for i, st := range p.stages {
			sw := st.sweeper
			if sw == nil {
				continue
			}
			proc := procs[i]
			sw.Admin = adm
			sw.Visit = func(ctx context.Context, meta any) (int64, error) {
				return proc.VisitAllWithStats(ctx, state.VisitName, meta)
			}
			eg.Go(func() error { return sw.Run(ctx) })
		}
		n := int32(p.opts.Topology.Config().Partitions)
		for _, st := range p.stages {
			if st.origins == nil {
				continue
			}
			pu := &watermark.Punctuator{Origins: st.origins, Group: string(st.graph.Group()), Output: st.stamped,
				KeyFor: func(part int32) string { return topology.KeyFor(part, n) },
				Idle:   cmp.Or(p.opts.Watermark.Idle, watermark.DefaultIdle), Client: cl, Admin: adm, Log: log}
			eg.Go(func() error { return pu.Run(ctx) })
		}
		for _, st := range p.stages {
			if st.poll != nil {
				eg.Go(func() error { return st.poll(ctx, adm) })
			}
		}
	}
	for _, st := range p.stages {
		h := st.hop
		if h == nil {
			continue
		}
		eg.Go(func() error {
			p.running.Add(1)
			defer p.running.Add(-1)
			log.Info().Str("stage", h.group).Msg("stage starting")
			if err := h.run(ctx); err != nil {
				log.Error().Err(err).Str("stage", h.group).Msg("stage failed")
				return fmt.Errorf("pipeline: stage %s: %w", h.group, err)
			}
			log.Info().Str("stage", h.group).Msg("stage stopped")
			return nil
		})
	}
	return eg.Wait()
}

// needsAdmin reports whether a stage here has a sweeper, a punctuator or a
// poller: they share one client.
func (p *Pipeline) needsAdmin() bool {
	for _, st := range p.stages {
		if st.sweeper != nil || st.origins != nil || st.poll != nil {
			return true
		}
	}
	return false
}

// Ready reports whether every stage is running and has recovered its
// tables (goka's Recovered: the local store caught up with the table topic).
func (p *Pipeline) Ready() bool {
	procs := p.procs.Load()
	want := len(p.stages)
	for _, st := range p.stages {
		if st.hop != nil {
			want++
		}
	}
	if procs == nil || int(p.running.Load()) != want {
		return false
	}
	for _, proc := range *procs {
		if !proc.Recovered() {
			return false
		}
	}
	return true
}

// WaitReady blocks until Ready or ctx ends.
func (p *Pipeline) WaitReady(ctx context.Context) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for !p.Ready() {
		select {
		case <-p.done:
			if p.runErr != nil {
				return fmt.Errorf("pipeline: stopped before it was ready: %w", p.runErr)
			}
			return errors.New("pipeline: stopped before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("pipeline: not ready: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// gokaLogger sends goka's chatter to debug level: what matters to an
// operator (start, stop, failure) is logged by Run itself.
type gokaLogger struct{ l zerolog.Logger }

func (g gokaLogger) Print(v ...any)                 { g.l.Debug().Msg(fmt.Sprint(v...)) }
func (g gokaLogger) Println(v ...any)               { g.l.Debug().Msg(fmt.Sprint(v...)) }
func (g gokaLogger) Printf(format string, v ...any) { g.l.Debug().Msgf(format, v...) }
