package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/lovoo/goka/storage"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/pipeline"
	"github.com/logstream/logstream/state"
	"github.com/logstream/logstream/topology"
)

// tuning is what pipebench uses.
func tuning() broker.Tuning {
	return broker.Tuning{Replication: 1, BatchSize: 1000, MaxConcurrency: 5, FromOldest: true}
}

// env is one fresh embedded broker with every topic of the topology (and
// the passthrough's) created.
type env struct {
	e       *broker.Embedded
	brokers []string
	topo    *topology.Topology
}

func newEnv(partitions int) (*env, error) {
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		return nil, err
	}
	topo, err := topology.New(topology.Config{Partitions: partitions, Replication: 1})
	if err != nil {
		e.Close()
		return nil, err
	}
	streams := topo.StreamPartitions()
	streams[topology.TopicBenchPassthrough] = partitions
	brokers := []string{e.Addr()}
	if err := broker.EnsureTopics(brokers, tuning(), streams, topo.TablePartitions()); err != nil {
		e.Close()
		return nil, err
	}
	return &env{e: e, brokers: brokers, topo: topo}, nil
}

func (e *env) close() { e.e.Close() }

// storageFor returns the stage's local store: memory, or LevelDB in a
// fresh temporary directory (removed by cleanup).
func storageFor(kind string) (b storage.Builder, dir string, cleanup func(), err error) {
	switch kind {
	case "memory":
		return state.Memory(), "", func() {}, nil
	case "leveldb":
		dir, err := os.MkdirTemp("", "statebench-leveldb-")
		if err != nil {
			return nil, "", nil, err
		}
		b, err := state.Builder(dir)
		if err != nil {
			os.RemoveAll(dir)
			return nil, "", nil, err
		}
		return b, dir, func() { os.RemoveAll(dir) }, nil
	}
	return nil, "", nil, fmt.Errorf("unknown storage %q (leveldb or memory)", kind)
}

// dedupeCache is dedupe's hot-id cache for a storage kind, as logstream
// run sets it: none in front of a memory table (it would only copy it).
func dedupeCache(kind string) int64 {
	if kind == "memory" {
		return -1
	}
	return 0 // the stage's default
}

// running is a pipeline started in the background.
type running struct {
	p      *pipeline.Pipeline
	cancel context.CancelFunc
	done   chan error
}

// startStage builds the pipeline with opts (filled in with the common
// settings), runs it, and waits until it is ready.
func startStage(ctx context.Context, brokers []string, topo *topology.Topology, set *codecs.Set, opts pipeline.Options) (*running, error) {
	opts.Brokers, opts.Topology, opts.Codecs, opts.Tuning = brokers, topo, set, tuning()
	opts.Logger = zerolog.New(os.Stderr).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	p, err := pipeline.New(opts)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	r := &running{p: p, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- p.Run(rctx) }()
	wctx, wcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer wcancel()
	if err := p.WaitReady(wctx); err != nil {
		cancel()
		<-r.done
		return nil, err
	}
	return r, nil
}

// stop cancels the pipeline and waits for it (goka commits and closes its
// stores).
func (r *running) stop() error {
	r.cancel()
	err := <-r.done
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

// waitFor polls cond every interval until it holds, the pipeline stops or
// ctx ends.
func (r *running) waitFor(ctx context.Context, interval time.Duration, cond func() (bool, error)) error {
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		select {
		case err := <-r.done:
			r.done <- err
			return fmt.Errorf("stage stopped: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// admin is a kadm client with helpers.
type admin struct {
	cl  *kgo.Client
	adm *kadm.Client
}

func newAdmin(brokers []string) (*admin, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	return &admin{cl: cl, adm: kadm.NewClient(cl)}, nil
}

func (a *admin) close() { a.cl.Close() }

// records returns the sum of a topic's end offsets.
func (a *admin) records(ctx context.Context, topic string) (int64, error) {
	ends, err := a.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	if err := ends.Error(); err != nil {
		return 0, err
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n, nil
}

// topicBytes returns the bytes the broker holds for each topic (kfake
// answers DescribeLogDirs with the wire size of the record batches it
// keeps, compression included).
func (a *admin) topicBytes(ctx context.Context, topics ...string) (map[string]int64, error) {
	ds, err := a.adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	want := map[string]bool{}
	for _, t := range topics {
		want[t] = true
	}
	ds.Each(func(d kadm.DescribedLogDir) {
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			if want[p.Topic] {
				out[p.Topic] += p.Size
			}
		})
	})
	return out, nil
}
