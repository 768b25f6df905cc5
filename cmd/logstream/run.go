package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/logstream/logstream/admin"
	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/pipeline"
	"github.com/logstream/logstream/query"
	"github.com/logstream/logstream/state"
	"github.com/logstream/logstream/topology"
)

func newLogger(cfg *Config, w io.Writer) zerolog.Logger {
	console := cfg.LogFormat == "console"
	if cfg.LogFormat == "auto" {
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			console = true
		}
	}
	if console {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Level(cfg.LogLevel).With().Timestamp().Logger()
}

func tuning(cfg *Config) broker.Tuning {
	return broker.Tuning{
		Replication:    cfg.Replication,
		BatchSize:      cfg.BatchSize,
		MaxConcurrency: cfg.MaxConcurrency,
		FromOldest:     true,
		Compression:    cfg.Compression,
		Security:       cfg.security,
	}
}

// stack is what run and demo share: a broker (embedded or not), the
// pipeline, and the admin port.
type stack struct {
	brokers  []string
	embedded *broker.Embedded
	topo     *topology.Topology
	codecs   *codecs.Set
	pipe     *pipeline.Pipeline
	admin    *admin.Server
	query    *query.Hosts // views of the window state for /query/hosts
	adm      *kadm.Client
	kcl      *kgo.Client
	log      zerolog.Logger
}

func startStack(cfg *Config, stderr io.Writer, log zerolog.Logger) (*stack, error) {
	applyMemoryLimit(cfg.MemoryLimit, log)
	applyGCPercent(cfg.GCPercent, log)
	topo, err := newTopology(cfg)
	if err != nil {
		return nil, err
	}
	opts, err := codecOptions(cfg)
	if err != nil {
		return nil, err
	}
	set, err := codecs.NewSet(opts...)
	if err != nil {
		return nil, err
	}
	mk, err := masker(cfg)
	if err != nil {
		return nil, err
	}
	s := &stack{topo: topo, codecs: set, brokers: cfg.Brokers, log: log}
	if len(s.brokers) == 0 {
		if cfg.Replication > 1 {
			return nil, usagef("logstream: invalid setting replication: the embedded broker is a single broker, replication must be 1")
		}
		ec, err := embeddedConfig(cfg)
		if err != nil {
			return nil, err
		}
		e, err := broker.StartEmbedded(ec)
		if err != nil {
			return nil, err
		}
		s.embedded = e
		s.brokers = []string{e.Addr()}
		persist := "in memory"
		if cfg.EmbeddedData != "" {
			persist = "data in " + cfg.EmbeddedData
		}
		fmt.Fprintf(stderr, "embedded Kafka broker listening on %s (%s); attach with: kcat -b %s -L\n", e.Addr(), persist, e.Addr())
	}
	// One line naming the brokers and how they were dialed when they
	// cannot be reached (a wrong password, an untrusted certificate).
	if err := broker.Check(context.Background(), s.brokers, cfg.security, 15*time.Second); err != nil {
		s.close()
		return nil, err
	}
	kcl, err := kgo.NewClient(tuning(cfg).ClientOpts(s.brokers)...)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	s.kcl = kcl
	s.adm = kadm.NewClient(kcl)
	erOpts, rules, err := errorRateOptions(cfg)
	if err != nil {
		s.close()
		return nil, err
	}
	store, err := state.Builder(cfg.StateDir)
	if err != nil {
		s.close()
		return nil, err
	}
	s.pipe, err = pipeline.New(pipeline.Options{
		Brokers:   s.brokers,
		Topology:  topo,
		Codecs:    set,
		Tuning:    tuning(cfg),
		Storage:   store,
		Logger:    log,
		Cluster:   cfg.Cluster,
		HoldIdle:  cfg.HoldIdle,
		Stages:    cfg.Stages,
		Dedupe:    pipeline.StateOptions{TTL: cfg.DedupeTTL, MaxFuture: cfg.MaxFuture, CacheEntries: cacheEntries(cfg.DedupeCache, cfg.StateDir)},
		Join:      pipeline.StateOptions{Window: cfg.JoinWindow, MaxFuture: cfg.MaxFuture, Idle: cfg.joinIdle, MaxHeld: cfg.JoinMaxHeld},
		Watermark: pipeline.WatermarkOptions{Idle: cfg.Alerting.IdleTimeout},
		ErrorRate: erOpts,
		Rules:     rules,
		Mask:      mk,
	})
	if err != nil {
		s.close()
		return nil, err
	}
	if err := s.pipe.EnsureTopics(); err != nil {
		s.close()
		return nil, err
	}
	if cfg.AdminAddr != "" {
		reg := admin.NewRegistry()
		reg.MustRegister(admin.ReadyGauge(s.pipe.Ready))
		if p := s.pipe.Parse(); p != nil {
			reg.MustRegister(p.Stats().Collector())
		}
		if p := s.pipe.Spans(); p != nil {
			reg.MustRegister(p.Stats().Collector())
		}
		if p := s.pipe.Dedupe(); p != nil {
			reg.MustRegister(p.Stats().Collector())
		}
		if p := s.pipe.TraceJoin(); p != nil {
			reg.MustRegister(p.Stats().Collector())
		}
		if p := s.pipe.ErrorRate(); p != nil {
			reg.MustRegister(p.Stats().Collectors()...)
		}
		if p := s.pipe.Alerter(); p != nil {
			reg.MustRegister(p.Stats().Collectors()...)
		}
		reg.MustRegister(admin.NewLagCollector(s.adm, s.pipe.Groups()...).Transactional(s.pipe.TransactionalTopics()...))
		// Interactive queries: views read the window state of every
		// partition, whichever stages and partitions this pod runs.
		s.query, err = query.New(s.brokers, set, erOpts.Windows, query.Options{Tuning: tuning(cfg), ClientID: "logstream-query", Logger: log})
		if err != nil {
			s.close()
			return nil, err
		}
		s.admin, err = admin.Listen(cfg.AdminAddr, reg, s.pipe.Ready, adminOptions(cfg))
		if err != nil {
			s.close()
			return nil, err
		}
		s.admin.Handle(query.Path, s.query.Handler())
		log.Info().Str("addr", s.admin.Addr()).Strs("endpoints", s.admin.Endpoints()).Msg("admin port")
	}
	return s, nil
}

// cacheEntries maps --dedupe-cache (0 = none) to the stage's setting
// (negative = none). The cache saves LevelDB reads; with the tables in
// memory (no --state-dir) it would only copy them, at about 300 bytes and
// a ristretto admission per id (5% of dedupe's CPU in pipebench -full).
func cacheEntries(n int, stateDir string) int64 {
	if n == 0 || stateDir == "" {
		return -1
	}
	return int64(n)
}

// run runs the pipeline and the admin port until ctx ends or one fails.
func (s *stack) run(ctx context.Context) error {
	eg, ctx := errgroup.WithContext(ctx)
	eg.Go(func() error { return s.pipe.Run(ctx) })
	if s.admin != nil {
		eg.Go(func() error { return s.admin.Run(ctx) })
	}
	if s.query != nil {
		// The query API is no stage: if its views fail, the pipeline
		// goes on and /query/hosts answers 503.
		eg.Go(func() error {
			if err := s.query.Run(ctx); err != nil {
				s.log.Error().Err(err).Msg("query views stopped: " + query.Path + " is unavailable")
			}
			return nil
		})
	}
	return eg.Wait()
}

func (s *stack) close() {
	if s.query != nil {
		s.query.Close()
	}
	if s.kcl != nil {
		s.kcl.Close()
	}
	if s.embedded != nil {
		s.embedded.Close()
	}
}

func runPipeline(ctx context.Context, cfg *Config, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	s, err := startStack(cfg, stderr, log)
	if err != nil {
		return err
	}
	defer s.close()
	go func() {
		if err := s.pipe.WaitReady(ctx); err == nil {
			log.Info().Strs("brokers", s.brokers).Msg("pipeline ready: state recovered, consuming")
		}
	}()
	err = s.run(ctx)
	// Canceled is a clean stop only when a signal asked for it: a stage
	// that failed can return an error holding goka's own Canceled.
	if err != nil && (ctx.Err() == nil || !errors.Is(err, context.Canceled)) {
		return err
	}
	log.Info().Msg("stopped")
	return nil
}

// newTopology builds the topology of the settings, with --encoding.
func newTopology(cfg *Config) (*topology.Topology, error) {
	tc := topology.Config{Partitions: cfg.Partitions, Replication: cfg.Replication}
	for topic, name := range cfg.Encodings {
		w, _ := codecs.ParseWire(name) // checked when the setting was parsed
		if tc.Wires == nil {
			tc.Wires = map[string]codecs.Wire{}
		}
		tc.Wires[topic] = w
	}
	topo, err := topology.New(tc)
	if err != nil && len(cfg.Encodings) > 0 {
		return nil, usagef("logstream: invalid setting encoding: %v", err)
	}
	return topo, err
}

func topologyDescribe(cfg *Config, w io.Writer) error {
	topo, err := newTopology(cfg)
	if err != nil {
		return err
	}
	switch cfg.Format {
	case "dot":
		fmt.Fprint(w, topo.DOT())
	case "mermaid":
		fmt.Fprint(w, topo.Mermaid())
	case "strimzi":
		fmt.Fprint(w, topo.Strimzi())
	default:
		fmt.Fprint(w, topo.Describe())
	}
	return nil
}
