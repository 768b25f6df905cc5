// Package pipeline runs logstream's stages (goka processors) in one process:
// it creates the topics the topology names, starts every stage under one
// errgroup, reports readiness once every stage has recovered its state, and
// stops them in order.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/parse"
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
	opts    Options
	parse   *parse.Processor
	graphs  []*goka.GroupGraph
	procs   atomic.Pointer[[]*goka.Processor]
	started atomic.Bool
	running atomic.Int32
	done    chan struct{} // closed when Run returns
	runErr  error         // set before done is closed
}

// New builds the stages; nothing connects to Kafka until Run.
func New(opts Options) (*Pipeline, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if opts.ClientID == "" {
		opts.ClientID = "logstream"
	}
	pcfg := opts.Topology.ParseConfig(opts.Codecs)
	pcfg.Cluster = opts.Cluster
	pp, err := parse.New(pcfg)
	if err != nil {
		return nil, err
	}
	p := &Pipeline{opts: opts, parse: pp, done: make(chan struct{})}
	p.graphs = append(p.graphs, opts.Topology.ParseGroup(pp, opts.Codecs))
	for _, g := range p.graphs {
		if err := g.Validate(); err != nil {
			return nil, fmt.Errorf("pipeline: group %s: %w", g.Group(), err)
		}
	}
	return p, nil
}

// Parse returns the parse stage (for its counters).
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
	return broker.EnsureTopics(p.opts.Brokers, p.opts.Tuning, t.StreamPartitions(), t.TablePartitions())
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
	store := p.opts.Storage
	if store == nil {
		store = storage.MemoryBuilder()
	}
	var procs []*goka.Processor
	for _, g := range p.graphs {
		opts := append(broker.ProcessorOptions(p.opts.Tuning),
			goka.WithStorageBuilder(store),
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
