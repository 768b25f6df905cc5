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
	"github.com/logstream/logstream/processors/spans"
	"github.com/logstream/logstream/processors/tracejoin"
	"github.com/logstream/logstream/state"
	"github.com/logstream/logstream/topology"
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
}

// ErrorRateOptions tune the errorrate stage; zero values are defaults.
type ErrorRateOptions struct {
	Windows        errorrate.Windows
	UpdateInterval time.Duration
	EmitUpdates    bool
	SilentAfter    time.Duration
	// FailurePattern is the regexp of timeout/failure messages that count
	// as errors; nil means errorrate.DefaultFailurePattern, "" none.
	FailurePattern *string
	MaxFuture      time.Duration
	// SweepInterval is the wall-clock punctuation interval; 0 means 1 s.
	SweepInterval time.Duration
}

// StateOptions tune a stateful stage.
type StateOptions struct {
	// TTL is dedupe's id lifetime, Window the join window (event time).
	TTL    time.Duration
	Window time.Duration
	// MaxFuture: events further ahead (of the wall clock or stream time)
	// do not move stream time.
	MaxFuture time.Duration
	// SweepInterval is how often the table is walked for expired state;
	// 0 means a tenth of the TTL or window (at least 1 s, at most 1 min).
	SweepInterval time.Duration
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
	procs     atomic.Pointer[[]*goka.Processor]
	started   atomic.Bool
	running   atomic.Int32
	done      chan struct{} // closed when Run returns
	runErr    error         // set before done is closed
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
	tail := exactlyonce.KafkaTail(opts.Brokers)
	if p.runs("parse") {
		pcfg := t.ParseConfig(set)
		pcfg.Cluster = opts.Cluster
		pp, err := parse.New(pcfg)
		if err != nil {
			return nil, err
		}
		p.parse = pp
		p.graphs = append(p.graphs, t.ParseGroup(pp, set))
		p.extra[goka.Group(topology.GroupParse)] = []goka.ProcessorOption{goka.WithStorageBuilder(base)}
	}
	if p.runs("spans") {
		sp, err := spans.New(t.SpansConfig())
		if err != nil {
			return nil, err
		}
		p.spans = sp
		p.graphs = append(p.graphs, t.SpansGroup(sp, set))
		p.extra[goka.Group(topology.GroupSpans)] = []goka.ProcessorOption{goka.WithStorageBuilder(base)}
	}
	if p.runs("dedupe") {
		fence, err := exactlyonce.New(exactlyonce.Config{Stage: "dedupe", Outputs: []string{topology.TopicUnique}, Tail: tail, PartitionOf: partitionOf})
		if err != nil {
			return nil, err
		}
		dc := t.DedupeConfig(set)
		dc.Fence, dc.Clock = fence, state.NewClock(nil)
		dc.TTL, dc.MaxFuture, dc.CacheEntries = opts.Dedupe.TTL, opts.Dedupe.MaxFuture, opts.Dedupe.CacheEntries
		dp, err := dedupe.New(dc)
		if err != nil {
			return nil, err
		}
		p.dedupe = dp
		reg := state.Track(base, topology.TableTopic(topology.GroupDedupe))
		p.graphs = append(p.graphs, t.DedupeGroup(dp, set))
		p.extra[goka.Group(topology.GroupDedupe)] = []goka.ProcessorOption{goka.WithStorageBuilder(reg.Builder()), goka.WithRebalanceCallback(dp.Rebalance)}
		p.sweepers = append(p.sweepers, &state.Sweeper{
			Registry: reg, Clock: dc.Clock, Interval: sweepEvery(opts.Dedupe.SweepInterval, dp.TTL()),
			Group: topology.GroupDedupe, Inputs: []string{topology.TopicParsed, topology.LoopTopic(topology.GroupDedupe)},
			Loop: topology.LoopTopic(topology.GroupDedupe), Expired: dp.Expired, Scanned: dp.Stats().SetEntries,
			Log: opts.Logger,
		})
	}
	if p.runs("tracejoin") {
		fence, err := exactlyonce.New(exactlyonce.Config{Stage: "tracejoin", Outputs: []string{topology.TopicEnriched}, Tail: tail, PartitionOf: partitionOf})
		if err != nil {
			return nil, err
		}
		jc := t.TraceJoinConfig(set)
		jc.Fence, jc.Clock = fence, state.NewClock(nil)
		jc.Window, jc.MaxFuture = opts.Join.Window, opts.Join.MaxFuture
		jp, err := tracejoin.New(jc)
		if err != nil {
			return nil, err
		}
		p.tracejoin = jp
		reg := state.Track(base, topology.TableTopic(topology.GroupTraceJoin))
		p.graphs = append(p.graphs, t.TraceJoinGroup(jp, set))
		p.extra[goka.Group(topology.GroupTraceJoin)] = []goka.ProcessorOption{goka.WithStorageBuilder(reg.Builder()), goka.WithRebalanceCallback(jp.Rebalance)}
		p.sweepers = append(p.sweepers, &state.Sweeper{
			Registry: reg, Clock: jc.Clock, Interval: sweepEvery(opts.Join.SweepInterval, jp.Window()),
			// A partition silent for a window of wall-clock time releases
			// what it holds.
			Idle:  cmp.Or(opts.Join.Idle, jp.Window()),
			Group: topology.GroupTraceJoin, Inputs: []string{topology.TopicUnique, topology.TopicSpans, topology.LoopTopic(topology.GroupTraceJoin)},
			Loop: topology.LoopTopic(topology.GroupTraceJoin), Expired: jp.Expired, Scanned: jp.Stats().SetEntries,
			Log: opts.Logger,
		})
	}
	if p.runs("errorrate") {
		if err := p.buildErrorRate(base, tail, partitionOf); err != nil {
			return nil, err
		}
	}
	if p.runs("alerter") {
		fence, err := exactlyonce.New(exactlyonce.Config{Stage: alerter.StageName, Outputs: []string{topology.TopicAlerts}, Tail: tail, PartitionOf: partitionOf})
		if err != nil {
			return nil, err
		}
		ac := t.AlerterConfig(set)
		ac.Fence, ac.Rules = fence, alerter.DefaultRules()
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

func (p *Pipeline) buildErrorRate(base storage.Builder, tail exactlyonce.TailFunc, partitionOf func(string) int32) error {
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
	ec := t.ErrorRateConfig(set)
	ec.Fence, ec.Classifier = fence, cl
	ec.Window, ec.UpdateInterval, ec.EmitUpdates = o.Windows, o.UpdateInterval, o.EmitUpdates
	ec.SilentAfter, ec.MaxFuture = o.SilentAfter, o.MaxFuture
	ep, err := errorrate.New(ec)
	if err != nil {
		return err
	}
	p.errorrate = ep
	reg := state.Track(base, topology.TableTopic(topology.GroupErrorRate))
	p.graphs = append(p.graphs, t.ErrorRateGroup(ep, set))
	p.extra[goka.Group(topology.GroupErrorRate)] = []goka.ProcessorOption{goka.WithStorageBuilder(reg.Builder()), goka.WithRebalanceCallback(ep.Rebalance)}
	p.sweepers = append(p.sweepers, &state.Sweeper{
		// Wall-clock punctuation: windows of hosts that went silent close,
		// pending updates go out, silent hosts are noticed.
		Registry: reg, Clock: state.NewClock(nil), Interval: cmp.Or(o.SweepInterval, time.Second),
		Group: topology.GroupErrorRate, Inputs: []string{topology.TopicUnique, topology.TopicEnriched, topology.LoopTopic(topology.GroupErrorRate)},
		Loop: topology.LoopTopic(topology.GroupErrorRate), Expired: ep.Expired, Scanned: ep.Stats().SetEntries,
		Log: p.opts.Logger,
	})
	return nil
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
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.opts.Brokers...))
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

func (p *Pipeline) run(ctx context.Context) error {
	log := p.opts.Logger
	var procs []*goka.Processor
	for _, g := range p.graphs {
		opts := append(broker.ProcessorOptions(p.opts.Tuning), p.extra[g.Group()]...)
		opts = append(opts,
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
	eg, ctx := errgroup.WithContext(ctx)
	for _, proc := range procs {
		proc := proc
		eg.Go(func() error {
			p.running.Add(1)
			defer p.running.Add(-1)
			group := proc.Graph().Group()
			log.Info().Str("stage", string(group)).Msg("stage starting")
			err := proc.Run(ctx)
			if err != nil && !errors.Is(err, context.Canceled) {
				log.Error().Err(err).Str("stage", string(group)).Msg("stage failed")
				return fmt.Errorf("pipeline: stage %s: %w", group, err)
			}
			log.Info().Str("stage", string(group)).Msg("stage stopped")
			return nil
		})
	}
	if len(p.sweepers) > 0 {
		// Timers go to loop topics, placed as goka places keys.
		cl, err := kgo.NewClient(kgo.SeedBrokers(p.opts.Brokers...), kgo.RecordPartitioner(topology.Partitioner()),
			kgo.ClientID(p.opts.ClientID+"-sweeper"))
		if err != nil {
			return fmt.Errorf("pipeline: sweeper client: %w", err)
		}
		defer cl.Close()
		for _, sw := range p.sweepers {
			sw := sw
			sw.Client, sw.Admin = cl, kadm.NewClient(cl)
			eg.Go(func() error { return sw.Run(ctx) })
		}
	}
	return eg.Wait()
}

// Ready reports whether every stage is running and has recovered its
// tables (goka's Recovered: the local store caught up with the table topic).
func (p *Pipeline) Ready() bool {
	procs := p.procs.Load()
	if procs == nil || int(p.running.Load()) != len(p.graphs) {
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
