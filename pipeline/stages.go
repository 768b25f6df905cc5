package pipeline

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/pipeline/wiring"
	"github.com/logstream/logstream/processors/alerter"
	"github.com/logstream/logstream/processors/dedupe"
	"github.com/logstream/logstream/processors/errorrate"
	"github.com/logstream/logstream/processors/exactlyonce"
	"github.com/logstream/logstream/processors/parse"
	"github.com/logstream/logstream/processors/spans"
	"github.com/logstream/logstream/processors/tracejoin"
	"github.com/logstream/logstream/state"
	"github.com/logstream/logstream/topology"
	"github.com/logstream/logstream/watermark"
)

// stage is one stage as New builds it and Run runs it: a goka graph and
// everything that runs with it. Each stage's build function (stageBuilders)
// fills one; New, Run and Ready treat every stage alike, so adding a stage
// is one build function and one entry in stageBuilders.
type stage struct {
	graph *goka.GroupGraph
	// storage is the group's local storage: a state.Registry's builder
	// for a stage whose sweeper visits its keys; nil means the
	// pipeline's storage (Options.Storage).
	storage storage.Builder
	// rebalance is called with the partitions goka assigns; nil for none.
	rebalance func(goka.Assignment)
	// fence, when set, learns the graph's output codecs
	// (exactlyonce.Fence.UseGraph).
	fence *exactlyonce.Fence
	// direct, when set, is the processor's producer kept for the stage,
	// which writes some records through it beside goka's Emit.
	direct *broker.Direct
	// options are further processor options, after the ones above.
	options []goka.ProcessorOption
	// sweeper visits the group's keys that have work; nil for none. Run
	// gives it the admin client and the processor's visitor.
	sweeper *state.Sweeper
	// origins, when set, are the event-time origins the stage stamps its
	// output with: Run punctuates them (watermark.Punctuator) onto
	// stamped, the output topic, so that idle origins still move time.
	origins *watermark.Origins
	stamped string
	// watermarks, when set, counts the watermark records the stage wrote
	// to its output topic (WatermarkRecords).
	watermarks func() (topic string, n int64)
	// before runs once before the processors start; poll runs beside
	// them with the admin client Run shares with sweepers and punctuators.
	before func(ctx context.Context) error
	poll   func(ctx context.Context, adm *kadm.Client) error
	// hop is a part of the stage that is no goka processor (the errorrate
	// stage's combine hop); nil for none.
	hop *hop
}

// hop is a part of a stage that runs as a consumer group of its own, not
// as a goka processor: it counts as a stage for Ready and Groups.
type hop struct {
	group string
	run   func(ctx context.Context) error
	// transactional are the topics it writes in Kafka transactions.
	transactional []string
}

// processorOptions are the goka options of the stage's processor, after
// broker.ProcessorOptions.
func (s *stage) processorOptions(t broker.Tuning) []goka.ProcessorOption {
	opts := []goka.ProcessorOption{goka.WithStorageBuilder(s.storage)}
	if s.rebalance != nil {
		opts = append(opts, goka.WithRebalanceCallback(s.rebalance))
	}
	if s.direct != nil {
		// After ProcessorOptions' producer builder, which it replaces.
		opts = append(opts, s.direct.Option(t))
	}
	return append(opts, s.options...)
}

// stageBuilder builds one stage from the pipeline's options.
type stageBuilder struct {
	name  string // the topology's stage name, as Options.Stages names it
	build func(p *Pipeline, env *buildEnv) (*stage, error)
}

// stageBuilders lists the stages a pipeline can run, in pipeline order.
func stageBuilders() []stageBuilder {
	return []stageBuilder{
		{"parse", (*Pipeline).buildParse},
		{"spans", (*Pipeline).buildSpans},
		{"dedupe", (*Pipeline).buildDedupe},
		{"tracejoin", (*Pipeline).buildTraceJoin},
		{"errorrate", (*Pipeline).buildErrorRate},
		{"alerter", (*Pipeline).buildAlerter},
	}
}

// buildEnv is what every stage's build shares.
type buildEnv struct {
	base        storage.Builder // Options.Storage, or memory
	n           int32           // partitions of every topic
	partitionOf func(key string) int32
	keyFor      func(part int32) string
	tail        exactlyonce.TailFunc
	idle        time.Duration // the watermark's idle timeout
}

func newBuildEnv(opts Options) *buildEnv {
	base := opts.Storage
	if base == nil {
		base = state.Memory()
	}
	n := int32(opts.Topology.Config().Partitions)
	return &buildEnv{
		base:        base,
		n:           n,
		partitionOf: func(key string) int32 { return topology.Partition([]byte(key), n) },
		keyFor:      func(part int32) string { return topology.KeyFor(part, n) },
		tail:        exactlyonce.KafkaTail(opts.Brokers, opts.Tuning.Security.KgoOpts()...),
		idle:        cmp.Or(opts.Watermark.Idle, watermark.DefaultIdle),
	}
}

func (p *Pipeline) buildParse(env *buildEnv) (*stage, error) {
	opts, t, set := p.opts, p.opts.Topology, p.opts.Codecs
	pcfg := wiring.ParseConfig(t, set)
	pcfg.Cluster = opts.Cluster
	pcfg.Mask = opts.Mask
	origins := watermark.NewOrigins(topology.TopicRaw, env.n, opts.Watermark.Every)
	pcfg.Origins = origins
	direct := &broker.Direct{}
	pcfg.Direct = direct
	// Held lines must leave before their partition counts as idle
	// downstream (Validate refuses a longer hold).
	pcfg.HoldIdle = cmp.Or(opts.HoldIdle, min(parse.DefaultHoldIdle, env.idle/2))
	reg := state.Track(env.base, topology.TableTopic(topology.GroupParse))
	pcfg.Registry = reg
	pp, err := parse.New(pcfg)
	if err != nil {
		return nil, err
	}
	p.parse = pp
	return &stage{
		graph:   wiring.ParseGroup(t, pp, set),
		storage: reg.Builder(),
		rebalance: func(a goka.Assignment) {
			parts := make([]int32, 0, len(a))
			for part := range a {
				parts = append(parts, part)
			}
			origins.Assign(parts)
			pp.Assigned(parts)
		},
		direct: direct,
		// Held lines wait by the wall clock: the sweeper's clock is the
		// wall clock, and it needs no committed offsets (a held line is
		// emitted, never dropped).
		sweeper: &state.Sweeper{
			Registry: reg, Clock: parse.WallClock{Now: func() int64 { return time.Now().UnixMilli() }},
			Interval: max(pp.HoldIdle()/4, 50*time.Millisecond),
			Group:    topology.GroupParse,
			Committed: func(context.Context) (map[string]map[int32]int64, error) {
				return map[string]map[int32]int64{}, nil
			},
			DueOf: pp.DueOf,
			Log:   opts.Logger,
		},
		origins: origins,
		stamped: topology.TopicParsed,
		watermarks: func() (string, int64) {
			return topology.TopicParsed, pp.Stats().Watermarks.Load() + origins.IdleRecords.Load()
		},
	}, nil
}

func (p *Pipeline) buildSpans(env *buildEnv) (*stage, error) {
	opts := p.opts
	scfg := wiring.SpansConfig()
	// The spans topic carries the progress of each partition of the
	// Collector's topic, for the join (tracejoin's spans gate).
	origins := watermark.NewOrigins(topology.TopicOTLPSpans, env.n, opts.Watermark.Every)
	scfg.Origins, scfg.KeyFor = origins, env.keyFor
	sp, err := spans.New(scfg)
	if err != nil {
		return nil, err
	}
	p.spans = sp
	return &stage{
		graph:     wiring.SpansGroup(opts.Topology, sp, opts.Codecs),
		rebalance: sp.Rebalance,
		origins:   origins,
		stamped:   topology.TopicSpans,
		watermarks: func() (string, int64) {
			return topology.TopicSpans, sp.Stats().Watermarks.Load() + origins.IdleRecords.Load()
		},
	}, nil
}

func (p *Pipeline) buildDedupe(env *buildEnv) (*stage, error) {
	opts, t, set := p.opts, p.opts.Topology, p.opts.Codecs
	direct := &broker.Direct{}
	fence, err := exactlyonce.New(exactlyonce.Config{Stage: "dedupe", Outputs: []string{topology.TopicUnique}, Tail: env.tail, PartitionOf: env.partitionOf, Direct: direct})
	if err != nil {
		return nil, err
	}
	dc := wiring.DedupeConfig(t, set)
	p.dedupeWM = watermark.NewPartitions(env.n, env.idle)
	p.dedupeWM.Expect(topology.TopicRaw) // parse's origins
	dc.Fence, dc.Watermarks, dc.KeyFor, dc.Every = fence, p.dedupeWM, env.keyFor, opts.Watermark.Every
	dc.TTL, dc.MaxFuture, dc.CacheEntries = opts.Dedupe.TTL, opts.Dedupe.MaxFuture, opts.Dedupe.CacheEntries
	reg := state.Track(env.base, topology.TableTopic(topology.GroupDedupe))
	dc.Registry = reg
	dp, err := dedupe.New(dc)
	if err != nil {
		return nil, err
	}
	p.dedupe = dp
	return &stage{
		graph:     wiring.DedupeGroup(t, dp, set),
		storage:   reg.Builder(),
		rebalance: dp.Rebalance,
		fence:     fence,
		direct:    direct,
		sweeper: &state.Sweeper{
			Registry: reg, Clock: dc.Watermarks, Interval: sweepEvery(opts.Dedupe.SweepInterval, dp.TTL()),
			Group: topology.GroupDedupe, Inputs: []string{topology.TopicParsed, topology.LoopTopic(topology.GroupDedupe)},
			DueOf: dp.DueOf, Scanned: dp.Stats().SetEntries,
			Log: opts.Logger,
		},
		watermarks: func() (string, int64) { return topology.TopicUnique, dp.Stats().Watermarks.Load() },
	}, nil
}

func (p *Pipeline) buildTraceJoin(env *buildEnv) (*stage, error) {
	opts, t, set := p.opts, p.opts.Topology, p.opts.Codecs
	direct := &broker.Direct{}
	fence, err := exactlyonce.New(exactlyonce.Config{Stage: "tracejoin", Outputs: []string{topology.TopicEnriched}, Tail: env.tail, PartitionOf: env.partitionOf, Direct: direct})
	if err != nil {
		return nil, err
	}
	jc := wiring.TraceJoinConfig(t, set)
	// Inputs hear parse's origins; the loop hears the stage itself,
	// one channel per partition of logs.unique.
	p.joinWM = watermark.NewPartitions(env.n, env.idle)
	p.joinWM.Expect(topology.TopicUnique)
	inputs := watermark.NewPartitions(env.n, env.idle)
	inputs.Expect(topology.TopicRaw)
	jc.Fence, jc.Inputs, jc.Loops = fence, inputs, p.joinWM
	jc.KeyFor, jc.Every, jc.Partitions = env.keyFor, opts.Watermark.Every, env.n
	jc.Window, jc.MaxFuture = opts.Join.Window, opts.Join.MaxFuture
	jc.SpansIdle = env.idle
	jc.SpanOrigins = watermark.NewPartitions(env.n, env.idle)
	jc.SpanOrigins.Expect(topology.TopicOTLPSpans)
	jc.Direct = direct
	reg := state.Track(env.base, topology.TableTopic(topology.GroupTraceJoin))
	jc.Registry = reg
	jp, err := tracejoin.New(jc)
	if err != nil {
		return nil, err
	}
	p.tracejoin = jp
	return &stage{
		graph:     wiring.TraceJoinGroup(t, jp, set),
		storage:   reg.Builder(),
		rebalance: jp.Rebalance,
		fence:     fence,
		direct:    direct,
		sweeper: &state.Sweeper{
			Registry: reg, Clock: jp.Clock(), Interval: sweepEvery(opts.Join.SweepInterval, jp.Window()),
			// A partition without events for a window of wall-clock time
			// releases what it holds: its watermark may stand still (its
			// input stopped), and events must not wait for ever.
			Idle:  cmp.Or(opts.Join.Idle, jp.Window()),
			Group: topology.GroupTraceJoin, Inputs: []string{topology.TopicUnique, topology.TopicSpans, topology.LoopTopic(topology.GroupTraceJoin)},
			DueOf: jp.DueOf, Scanned: jp.Stats().SetEntries, Held: jp.Stats().SetHeld,
			MaxHeld: maxHeld(opts.Join.MaxHeld),
			Log:     opts.Logger,
		},
	}, nil
}

// buildErrorRate builds the errorrate stage: its windows hop (a goka
// processor) and its combine hop (a franz-go group in Kafka transactions).
func (p *Pipeline) buildErrorRate(env *buildEnv) (*stage, error) {
	t, set, o := p.opts.Topology, p.opts.Codecs, p.opts.ErrorRate
	fence, err := exactlyonce.New(exactlyonce.Config{Stage: errorrate.StageName, Outputs: []string{topology.TopicHostWindows}, Tail: env.tail, PartitionOf: env.partitionOf})
	if err != nil {
		return nil, err
	}
	pattern := errorrate.DefaultFailurePattern
	if o.FailurePattern != nil {
		pattern = *o.FailurePattern
	}
	cl, err := errorrate.NewClassifier(pattern)
	if err != nil {
		return nil, err
	}
	reg := state.Track(env.base, topology.TableTopic(topology.GroupErrorRate))
	committed := &committedOffsets{group: topology.GroupErrorRate}
	ec := wiring.ErrorRateConfig(t, set)
	ec.Fence, ec.Classifier = fence, cl
	ec.Window, ec.UpdateInterval, ec.EmitUpdates = o.Windows, o.UpdateInterval, o.EmitUpdates
	ec.MaxFuture, ec.Idle = o.MaxFuture, env.idle
	ec.Legacy = reg.Scan
	ec.Committed = committed.get
	ep, err := errorrate.New(ec)
	if err != nil {
		return nil, err
	}
	p.errorrate = ep

	cc := wiring.ErrorRateCombineConfig(t, set)
	host, _ := os.Hostname()
	cc.Brokers, cc.Classifier, cc.Log = p.opts.Brokers, cl, p.opts.Logger
	cc.TransactionalID = fmt.Sprintf("%s-%s-%s-%d-%d", p.opts.ClientID, topology.GroupErrorRateCombine, host, os.Getpid(), time.Now().UnixNano())
	cc.Windows, cc.Tick = ep.WindowConfig(), ep.Tick()
	cc.MaxFuture, cc.FlushInterval, cc.Idle, cc.Every = o.MaxFuture, o.FlushInterval, env.idle, p.opts.Watermark.Every
	cc.FromOldest, cc.SessionTimeout = p.opts.Tuning.FromOldest, p.opts.Tuning.SessionTimeout
	cc.ClientOpts = append(cc.ClientOpts, kgo.ProducerBatchCompression(p.opts.Tuning.KgoCompression()))
	cc.ClientOpts = append(cc.ClientOpts, p.opts.Tuning.Security.KgoOpts()...)
	comb, err := errorrate.NewCombiner(cc, ep.Stats())
	if err != nil {
		return nil, err
	}
	return &stage{
		graph:     wiring.ErrorRateGroup(t, ep, set),
		storage:   reg.Builder(),
		rebalance: ep.Rebalance,
		// The combine hop starts where the previous version's errorrate
		// group stood on logs.unique (see errorrate.Config).
		before: func(ctx context.Context) error {
			cl, err := kgo.NewClient(p.opts.Tuning.ClientOpts(p.opts.Brokers)...)
			if err != nil {
				return fmt.Errorf("pipeline: %w", err)
			}
			defer cl.Close()
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			ep.SetLegacyCutoff(legacyCutoff(cctx, kadm.NewClient(cl)))
			return nil
		},
		// The windows hop drops what it kept for replays below the
		// group's committed offsets.
		poll: func(ctx context.Context, adm *kadm.Client) error { return committed.poll(ctx, adm, 2*time.Second) },
		hop:  &hop{group: topology.GroupErrorRateCombine, run: comb.Run, transactional: []string{topology.TopicErrorRatePartials}},
	}, nil
}

func (p *Pipeline) buildAlerter(env *buildEnv) (*stage, error) {
	opts := p.opts
	fence, err := exactlyonce.New(exactlyonce.Config{Stage: alerter.StageName, Outputs: []string{topology.TopicAlerts}, Tail: env.tail, PartitionOf: env.partitionOf})
	if err != nil {
		return nil, err
	}
	ac := wiring.AlerterConfig(opts.Topology, opts.Codecs)
	ac.Fence, ac.Rules, ac.Idle = fence, alerter.DefaultRules(), env.idle
	if opts.Rules != nil {
		ac.Rules = *opts.Rules
	}
	ap, err := alerter.New(ac)
	if err != nil {
		return nil, err
	}
	p.alerter = ap
	return &stage{
		graph:     wiring.AlerterGroup(opts.Topology, ap, opts.Codecs),
		rebalance: ap.Rebalance,
	}, nil
}
