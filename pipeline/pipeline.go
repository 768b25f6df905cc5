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
	"os"
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
	"github.com/logstream/logstream/processors/exactlyonce"
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
	opts      Options
	parse     *parse.Processor
	spans     *spans.Processor
	dedupe    *dedupe.Processor
	tracejoin *tracejoin.Processor
	errorrate *errorrate.Processor
	alerter   *alerter.Processor
	graphs    []*goka.GroupGraph
	extra     map[goka.Group][]goka.ProcessorOption
	sweepers  []*state.Sweeper
	// origins and punctuator: parse's event-time origins; combiner: the
	// errorrate stage's first hop; committed: the errorrate group's
	// committed offsets, polled for its windows hop.
	origins *watermark.Origins
	// spanOrigins: the spans stage's progress per partition of otlp.spans.
	spanOrigins *watermark.Origins
	combiner    *errorrate.Combiner
	committed   *committedOffsets
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
	p := &Pipeline{opts: opts, done: make(chan struct{}), extra: map[goka.Group][]goka.ProcessorOption{}}
	t, set := opts.Topology, opts.Codecs
	base := opts.Storage
	if base == nil {
		base = state.Memory()
	}
	n := int32(t.Config().Partitions)
	partitionOf := func(key string) int32 { return topology.Partition([]byte(key), n) }
	keyFor := func(part int32) string { return topology.KeyFor(part, n) }
	tail := exactlyonce.KafkaTail(opts.Brokers, opts.Tuning.Security.KgoOpts()...)
	idle := cmp.Or(opts.Watermark.Idle, watermark.DefaultIdle)
	if p.runs("parse") {
		pcfg := t.ParseConfig(set)
		pcfg.Cluster = opts.Cluster
		pcfg.Mask = opts.Mask
		p.origins = watermark.NewOrigins(topology.TopicRaw, n, opts.Watermark.Every)
		pcfg.Origins = p.origins
		direct := &broker.Direct{}
		pcfg.Direct = direct
		// Held lines must leave before their partition counts as idle
		// downstream (Validate refuses a longer hold).
		pcfg.HoldIdle = cmp.Or(opts.HoldIdle, min(parse.DefaultHoldIdle, idle/2))
		reg := state.Track(base, topology.TableTopic(topology.GroupParse))
		pcfg.Registry = reg
		pp, err := parse.New(pcfg)
		if err != nil {
			return nil, err
		}
		p.parse = pp
		p.graphs = append(p.graphs, t.ParseGroup(pp, set))
		origins := p.origins
		p.extra[goka.Group(topology.GroupParse)] = []goka.ProcessorOption{goka.WithStorageBuilder(reg.Builder()),
			goka.WithRebalanceCallback(func(a goka.Assignment) {
				parts := make([]int32, 0, len(a))
				for part := range a {
					parts = append(parts, part)
				}
				origins.Assign(parts)
				pp.Assigned(parts)
			}), direct.Option(opts.Tuning)}
		// Held lines wait by the wall clock: the sweeper's clock is the
		// wall clock, and it needs no committed offsets (a held line is
		// emitted, never dropped).
		p.sweepers = append(p.sweepers, &state.Sweeper{
			Registry: reg, Clock: parse.WallClock{Now: func() int64 { return time.Now().UnixMilli() }},
			Interval: max(pp.HoldIdle()/4, 50*time.Millisecond),
			Group:    topology.GroupParse,
			Committed: func(context.Context) (map[string]map[int32]int64, error) {
				return map[string]map[int32]int64{}, nil
			},
			DueOf: pp.DueOf,
			Log:   opts.Logger,
		})
	}
	if p.runs("spans") {
		scfg := t.SpansConfig()
		// The spans topic carries the progress of each partition of the
		// Collector's topic, for the join (tracejoin's spans gate).
		p.spanOrigins = watermark.NewOrigins(topology.TopicOTLPSpans, n, opts.Watermark.Every)
		scfg.Origins, scfg.KeyFor = p.spanOrigins, keyFor
		sp, err := spans.New(scfg)
		if err != nil {
			return nil, err
		}
		p.spans = sp
		p.graphs = append(p.graphs, t.SpansGroup(sp, set))
		p.extra[goka.Group(topology.GroupSpans)] = []goka.ProcessorOption{goka.WithStorageBuilder(base), goka.WithRebalanceCallback(sp.Rebalance)}
	}
	if p.runs("dedupe") {
		direct := &broker.Direct{}
		fence, err := exactlyonce.New(exactlyonce.Config{Stage: "dedupe", Outputs: []string{topology.TopicUnique}, Tail: tail, PartitionOf: partitionOf, Direct: direct})
		if err != nil {
			return nil, err
		}
		dc := t.DedupeConfig(set)
		p.dedupeWM = watermark.NewPartitions(n, idle)
		p.dedupeWM.Expect(topology.TopicRaw) // parse's origins
		dc.Fence, dc.Watermarks, dc.KeyFor, dc.Every = fence, p.dedupeWM, keyFor, opts.Watermark.Every
		dc.TTL, dc.MaxFuture, dc.CacheEntries = opts.Dedupe.TTL, opts.Dedupe.MaxFuture, opts.Dedupe.CacheEntries
		reg := state.Track(base, topology.TableTopic(topology.GroupDedupe))
		dc.Registry = reg
		dp, err := dedupe.New(dc)
		if err != nil {
			return nil, err
		}
		p.dedupe = dp
		p.graphs = append(p.graphs, t.DedupeGroup(dp, set))
		fence.UseGraph(p.graphs[len(p.graphs)-1])
		p.extra[goka.Group(topology.GroupDedupe)] = []goka.ProcessorOption{goka.WithStorageBuilder(reg.Builder()), goka.WithRebalanceCallback(dp.Rebalance),
			direct.Option(opts.Tuning)}
		p.sweepers = append(p.sweepers, &state.Sweeper{
			Registry: reg, Clock: dc.Watermarks, Interval: sweepEvery(opts.Dedupe.SweepInterval, dp.TTL()),
			Group: topology.GroupDedupe, Inputs: []string{topology.TopicParsed, topology.LoopTopic(topology.GroupDedupe)},
			DueOf: dp.DueOf, Scanned: dp.Stats().SetEntries,
			Log: opts.Logger,
		})
	}
	if p.runs("tracejoin") {
		direct := &broker.Direct{}
		fence, err := exactlyonce.New(exactlyonce.Config{Stage: "tracejoin", Outputs: []string{topology.TopicEnriched}, Tail: tail, PartitionOf: partitionOf, Direct: direct})
		if err != nil {
			return nil, err
		}
		jc := t.TraceJoinConfig(set)
		// Inputs hear parse's origins; the loop hears the stage itself,
		// one channel per partition of logs.unique.
		p.joinWM = watermark.NewPartitions(n, idle)
		p.joinWM.Expect(topology.TopicUnique)
		inputs := watermark.NewPartitions(n, idle)
		inputs.Expect(topology.TopicRaw)
		jc.Fence, jc.Inputs, jc.Loops = fence, inputs, p.joinWM
		jc.KeyFor, jc.Every, jc.Partitions = keyFor, opts.Watermark.Every, n
		jc.Window, jc.MaxFuture = opts.Join.Window, opts.Join.MaxFuture
		jc.SpansIdle = idle
		jc.SpanOrigins = watermark.NewPartitions(n, idle)
		jc.SpanOrigins.Expect(topology.TopicOTLPSpans)
		jc.Direct = direct
		reg := state.Track(base, topology.TableTopic(topology.GroupTraceJoin))
		jc.Registry = reg
		jp, err := tracejoin.New(jc)
		if err != nil {
			return nil, err
		}
		p.tracejoin = jp
		p.graphs = append(p.graphs, t.TraceJoinGroup(jp, set))
		fence.UseGraph(p.graphs[len(p.graphs)-1])
		p.extra[goka.Group(topology.GroupTraceJoin)] = []goka.ProcessorOption{goka.WithStorageBuilder(reg.Builder()), goka.WithRebalanceCallback(jp.Rebalance),
			direct.Option(opts.Tuning)}
		p.sweepers = append(p.sweepers, &state.Sweeper{
			Registry: reg, Clock: jp.Clock(), Interval: sweepEvery(opts.Join.SweepInterval, jp.Window()),
			// A partition without events for a window of wall-clock time
			// releases what it holds: its watermark may stand still (its
			// input stopped), and events must not wait for ever.
			Idle:  cmp.Or(opts.Join.Idle, jp.Window()),
			Group: topology.GroupTraceJoin, Inputs: []string{topology.TopicUnique, topology.TopicSpans, topology.LoopTopic(topology.GroupTraceJoin)},
			DueOf: jp.DueOf, Scanned: jp.Stats().SetEntries, Held: jp.Stats().SetHeld,
			MaxHeld: maxHeld(opts.Join.MaxHeld),
			Log:     opts.Logger,
		})
	}
	if p.runs("errorrate") {
		if err := p.buildErrorRate(base, tail, partitionOf, idle); err != nil {
			return nil, err
		}
	}
	if p.runs("alerter") {
		fence, err := exactlyonce.New(exactlyonce.Config{Stage: alerter.StageName, Outputs: []string{topology.TopicAlerts}, Tail: tail, PartitionOf: partitionOf})
		if err != nil {
			return nil, err
		}
		ac := t.AlerterConfig(set)
		ac.Fence, ac.Rules, ac.Idle = fence, alerter.DefaultRules(), idle
		if opts.Rules != nil {
			ac.Rules = *opts.Rules
		}
		ap, err := alerter.New(ac)
		if err != nil {
			return nil, err
		}
		p.alerter = ap
		p.graphs = append(p.graphs, t.AlerterGroup(ap, set))
		p.extra[goka.Group(topology.GroupAlerter)] = []goka.ProcessorOption{goka.WithStorageBuilder(base), goka.WithRebalanceCallback(ap.Rebalance)}
	}
	if len(p.graphs) == 0 {
		return nil, fmt.Errorf("pipeline: no stage selected (stages %v)", opts.Stages)
	}
	for _, g := range p.graphs {
		if err := g.Validate(); err != nil {
			return nil, fmt.Errorf("pipeline: group %s: %w", g.Group(), err)
		}
	}
	return p, nil
}

func (p *Pipeline) buildErrorRate(base storage.Builder, tail exactlyonce.TailFunc, partitionOf func(string) int32, idle time.Duration) error {
	t, set, o := p.opts.Topology, p.opts.Codecs, p.opts.ErrorRate
	fence, err := exactlyonce.New(exactlyonce.Config{Stage: errorrate.StageName, Outputs: []string{topology.TopicHostWindows}, Tail: tail, PartitionOf: partitionOf})
	if err != nil {
		return err
	}
	pattern := errorrate.DefaultFailurePattern
	if o.FailurePattern != nil {
		pattern = *o.FailurePattern
	}
	cl, err := errorrate.NewClassifier(pattern)
	if err != nil {
		return err
	}
	reg := state.Track(base, topology.TableTopic(topology.GroupErrorRate))
	p.committed = &committedOffsets{group: topology.GroupErrorRate}
	ec := t.ErrorRateConfig(set)
	ec.Fence, ec.Classifier = fence, cl
	ec.Window, ec.UpdateInterval, ec.EmitUpdates = o.Windows, o.UpdateInterval, o.EmitUpdates
	ec.MaxFuture, ec.Idle = o.MaxFuture, idle
	ec.Legacy = reg.Scan
	ec.Committed = p.committed.get
	ep, err := errorrate.New(ec)
	if err != nil {
		return err
	}
	p.errorrate = ep
	p.graphs = append(p.graphs, t.ErrorRateGroup(ep, set))
	p.extra[goka.Group(topology.GroupErrorRate)] = []goka.ProcessorOption{goka.WithStorageBuilder(reg.Builder()), goka.WithRebalanceCallback(ep.Rebalance)}

	cc := t.ErrorRateCombineConfig(set)
	host, _ := os.Hostname()
	cc.Brokers, cc.Classifier, cc.Log = p.opts.Brokers, cl, p.opts.Logger
	cc.TransactionalID = fmt.Sprintf("%s-%s-%s-%d-%d", p.opts.ClientID, topology.GroupErrorRateCombine, host, os.Getpid(), time.Now().UnixNano())
	cc.Windows, cc.Tick = ep.WindowConfig(), ep.Tick()
	cc.MaxFuture, cc.FlushInterval, cc.Idle, cc.Every = o.MaxFuture, o.FlushInterval, idle, p.opts.Watermark.Every
	cc.FromOldest, cc.SessionTimeout = p.opts.Tuning.FromOldest, p.opts.Tuning.SessionTimeout
	cc.ClientOpts = append(cc.ClientOpts, kgo.ProducerBatchCompression(p.opts.Tuning.KgoCompression()))
	cc.ClientOpts = append(cc.ClientOpts, p.opts.Tuning.Security.KgoOpts()...)
	comb, err := errorrate.NewCombiner(cc, ep.Stats())
	if err != nil {
		return err
	}
	p.combiner = comb
	return nil
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
	return []string{"parse", "spans", "dedupe", "tracejoin", "errorrate", "alerter"}
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
	out := make([]string, len(p.graphs))
	for i, g := range p.graphs {
		out[i] = string(g.Group())
	}
	if p.combiner != nil {
		out = append(out, topology.GroupErrorRateCombine)
	}
	return out
}

// WatermarkRecords returns how many watermark records (package
// watermark) the stages here wrote to logs.parsed and logs.unique: they
// take offsets there beside the events.
func (p *Pipeline) WatermarkRecords() map[string]int64 {
	out := map[string]int64{}
	if p.parse != nil {
		out[topology.TopicParsed] = p.parse.Stats().Watermarks.Load()
	}
	if p.origins != nil {
		out[topology.TopicParsed] += p.origins.IdleRecords.Load()
	}
	if p.dedupe != nil {
		out[topology.TopicUnique] = p.dedupe.Stats().Watermarks.Load()
	}
	if p.spans != nil {
		out[topology.TopicSpans] = p.spans.Stats().Watermarks.Load()
	}
	if p.spanOrigins != nil {
		out[topology.TopicSpans] += p.spanOrigins.IdleRecords.Load()
	}
	return out
}

// TransactionalTopics returns the topics the stages here write in Kafka
// transactions (see admin.LagCollector.Transactional).
func (p *Pipeline) TransactionalTopics() []string {
	if p.combiner != nil {
		return []string{topology.TopicErrorRatePartials}
	}
	return nil
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
	var procs []*goka.Processor
	for _, g := range p.graphs {
		opts := append(broker.ProcessorOptions(p.opts.Tuning), p.extra[g.Group()]...)
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
		procs = append(procs, proc)
	}
	p.procs.Store(&procs)
	if p.errorrate != nil {
		cl, err := kgo.NewClient(p.opts.Tuning.ClientOpts(p.opts.Brokers)...)
		if err != nil {
			return fmt.Errorf("pipeline: %w", err)
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		p.errorrate.SetLegacyCutoff(legacyCutoff(cctx, kadm.NewClient(cl)))
		cancel()
		cl.Close()
	}
	eg, ctx := errgroup.WithContext(ctx)
	for _, proc := range procs {
		proc := proc
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
	if len(p.sweepers) > 0 || p.origins != nil || p.spanOrigins != nil || p.committed != nil {
		// Timers and watermark records go to partitions by key, placed
		// as goka places keys.
		cl, err := kgo.NewClient(append(p.opts.Tuning.ClientOpts(p.opts.Brokers), kgo.RecordPartitioner(topology.Partitioner()),
			kgo.ClientID(p.opts.ClientID+"-sweeper"))...)
		if err != nil {
			return fmt.Errorf("pipeline: sweeper client: %w", err)
		}
		defer cl.Close()
		adm := kadm.NewClient(cl)
		for _, sw := range p.sweepers {
			sw := sw
			sw.Admin = adm
			for _, proc := range procs {
				if string(proc.Graph().Group()) == sw.Group {
					proc := proc
					sw.Visit = func(ctx context.Context, meta any) (int64, error) {
						return proc.VisitAllWithStats(ctx, state.VisitName, meta)
					}
				}
			}
			eg.Go(func() error { return sw.Run(ctx) })
		}
		n := int32(p.opts.Topology.Config().Partitions)
		for _, o := range []struct {
			origins       *watermark.Origins
			group, output string
		}{{p.origins, topology.GroupParse, topology.TopicParsed}, {p.spanOrigins, topology.GroupSpans, topology.TopicSpans}} {
			if o.origins == nil {
				continue
			}
			pu := &watermark.Punctuator{Origins: o.origins, Group: o.group, Output: o.output,
				KeyFor: func(part int32) string { return topology.KeyFor(part, n) },
				Idle:   cmp.Or(p.opts.Watermark.Idle, watermark.DefaultIdle), Client: cl, Admin: adm, Log: log}
			eg.Go(func() error { return pu.Run(ctx) })
		}
		if p.committed != nil {
			eg.Go(func() error { return p.committed.poll(ctx, adm, 2*time.Second) })
		}
	}
	if p.combiner != nil {
		eg.Go(func() error {
			p.running.Add(1)
			defer p.running.Add(-1)
			log.Info().Str("stage", topology.GroupErrorRateCombine).Msg("stage starting")
			if err := p.combiner.Run(ctx); err != nil {
				log.Error().Err(err).Str("stage", topology.GroupErrorRateCombine).Msg("stage failed")
				return fmt.Errorf("pipeline: stage %s: %w", topology.GroupErrorRateCombine, err)
			}
			log.Info().Str("stage", topology.GroupErrorRateCombine).Msg("stage stopped")
			return nil
		})
	}
	return eg.Wait()
}

// Ready reports whether every stage is running and has recovered its
// tables (goka's Recovered: the local store caught up with the table topic).
func (p *Pipeline) Ready() bool {
	procs := p.procs.Load()
	want := len(p.graphs)
	if p.combiner != nil {
		want++
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
