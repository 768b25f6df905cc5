package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/pipeline"
	"github.com/logstream/logstream/processors/dedupe"
	"github.com/logstream/logstream/processors/tracejoin"
	"github.com/logstream/logstream/topology"
)

// Settings of the stateful stages in every measurement: ids and traces
// live an hour (nothing expires during a run), and a join partition idle
// for 2 s releases what it holds (nothing waits for the hour).
const (
	benchTTL    = time.Hour
	joinWindow  = time.Hour
	joinIdle    = 2 * time.Second
	joinSweep   = 30 * time.Second
	salt        = 0x5eed
	ratioIndent = 34
)

type throughputConfig struct {
	n, rounds, partitions int
	storages              []string
	dups                  float64
	distance              int
}

// measurement is one kind of run: its name and how to take it once.
type measurement struct {
	name string
	run  func(ctx context.Context) (float64, string, error)
}

// throughput runs every measurement rounds times, rotating their order
// from round to round, and prints each round, then the medians of the
// rates and of the per-round ratios against the passthrough.
func throughput(ctx context.Context, set *codecs.Set, cfg throughputConfig) error {
	base := time.Now().Add(-time.Minute).UnixMilli()
	in := dedupeInput{salt: salt, dups: cfg.dups, distance: cfg.distance, base: base}
	ms := []measurement{{name: "passthrough", run: func(ctx context.Context) (float64, string, error) {
		return measurePassthrough(ctx, set, cfg, in)
	}}}
	for _, s := range cfg.storages {
		s := s
		ms = append(ms, measurement{name: "dedupe/" + s, run: func(ctx context.Context) (float64, string, error) {
			return measureDedupe(ctx, set, cfg, in, s)
		}})
	}
	for _, s := range cfg.storages {
		s := s
		ms = append(ms, measurement{name: "tracejoin/" + s, run: func(ctx context.Context) (float64, string, error) {
			return measureJoin(ctx, set, cfg, base, s)
		}})
	}
	rates := map[string][]float64{}
	ratios := map[string][]float64{}
	notes := map[string]string{}
	for r := 0; r < cfg.rounds; r++ {
		got := map[string]float64{}
		for k := range ms {
			m := ms[(k+r)%len(ms)]
			runtime.GC()
			rate, note, err := m.run(ctx)
			if err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			got[m.name] = rate
			rates[m.name] = append(rates[m.name], rate)
			notes[m.name] = note
			fmt.Fprintf(os.Stderr, "  round %d: %-18s %9.0f records/s  %s\n", r+1, m.name, rate, note)
		}
		var line []string
		for _, m := range ms {
			line = append(line, fmt.Sprintf("%s %.0f", m.name, got[m.name]))
			if m.name != "passthrough" {
				ratios[m.name] = append(ratios[m.name], got[m.name]/got["passthrough"])
			}
		}
		fmt.Printf("round %d: %s (records/s)\n", r+1, strings.Join(line, ", "))
	}
	fmt.Printf("\nthroughput, median of %d rounds (%d records, %d partitions):\n", cfg.rounds, cfg.n, cfg.partitions)
	for _, m := range ms {
		fmt.Printf("  %-*s %10.0f records/s   %s\n", ratioIndent-2, m.name, median(rates[m.name]), notes[m.name])
	}
	for _, m := range ms[1:] {
		fmt.Printf("  %-*s %10.3f   (per round: %s)\n", ratioIndent-2, m.name+"/passthrough", median(ratios[m.name]), fmtList(ratios[m.name]))
	}
	return nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtList(xs []float64) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf("%.3f", x)
	}
	return strings.Join(out, " ")
}

// measurePassthrough: a franz-go consumer reads the dedupe input from
// logs.parsed and a franz-go producer writes every record unchanged to
// bench.passthrough (pipebench's baseline), first fetch to last ack.
func measurePassthrough(ctx context.Context, set *codecs.Set, cfg throughputConfig, in dedupeInput) (float64, string, error) {
	e, err := newEnv(cfg.partitions)
	if err != nil {
		return 0, "", err
	}
	defer e.close()
	n, _, bytes, err := fillParsed(ctx, e.brokers, set, in, cfg.n, 0, false)
	if err != nil {
		return 0, "", err
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(topology.TopicParsed), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return 0, "", err
	}
	defer cons.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.MaxBufferedRecords(100000), kgo.ProducerLinger(time.Millisecond),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return 0, "", err
	}
	defer prod.Close()
	var start time.Time
	read := 0
	for read < n {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return 0, "", err
		}
		if start.IsZero() {
			start = time.Now()
		}
		fs.EachRecord(func(r *kgo.Record) {
			read++
			prod.Produce(ctx, &kgo.Record{Topic: topology.TopicBenchPassthrough, Partition: r.Partition, Key: r.Key, Value: r.Value}, nil)
		})
	}
	if err := prod.Flush(ctx); err != nil {
		return 0, "", err
	}
	return float64(n) / time.Since(start).Seconds(), fmt.Sprintf("(%.0f B/record)", float64(bytes)/float64(n)), nil
}

// measureDedupe runs the dedupe stage alone over the dedupe input, from
// its first record until logs.unique holds every distinct event.
func measureDedupe(ctx context.Context, set *codecs.Set, cfg throughputConfig, in dedupeInput, kind string) (float64, string, error) {
	e, err := newEnv(cfg.partitions)
	if err != nil {
		return 0, "", err
	}
	defer e.close()
	n, unique, _, err := fillParsed(ctx, e.brokers, set, in, cfg.n, 0, false)
	if err != nil {
		return 0, "", err
	}
	st, _, cleanup, err := storageFor(kind)
	if err != nil {
		return 0, "", err
	}
	defer cleanup()
	r, err := startStage(ctx, e.brokers, e.topo, set, pipeline.Options{
		Stages: []string{"dedupe"}, Storage: st, Dedupe: pipeline.StateOptions{TTL: benchTTL},
	})
	if err != nil {
		return 0, "", err
	}
	rate, snap, err := timeDedupe(ctx, r, e.brokers, n, unique)
	if serr := r.stop(); err == nil {
		err = serr
	}
	if err != nil {
		return 0, "", err
	}
	return rate, fmt.Sprintf("(unique %d, duplicates %d, cache hit ratio %.3f)", snap.Unique, snap.Duplicates, snap.CacheHitRatio), nil
}

// timeDedupe waits for a running dedupe stage to read n records and for
// logs.unique to hold unique records, and returns records/s from its
// first record.
func timeDedupe(ctx context.Context, r *running, brokers []string, n, unique int) (float64, dedupe.Snapshot, error) {
	a, err := newAdmin(brokers)
	if err != nil {
		return 0, dedupe.Snapshot{}, err
	}
	defer a.close()
	st := r.p.Dedupe().Stats()
	var start time.Time
	err = r.waitFor(ctx, time.Millisecond, func() (bool, error) {
		in := st.In.Load()
		if start.IsZero() && in > 0 {
			start = time.Now()
		}
		return in >= int64(n) && st.Unique.Load() >= int64(unique), nil
	})
	if err != nil {
		return 0, dedupe.Snapshot{}, err
	}
	err = r.waitFor(ctx, 2*time.Millisecond, func() (bool, error) {
		got, err := a.records(ctx, topology.TopicUnique)
		return got >= int64(unique), err
	})
	if err != nil {
		return 0, dedupe.Snapshot{}, err
	}
	return float64(n) / time.Since(start).Seconds(), st.Snapshot(), nil
}

// measureJoin runs the trace join alone over n events on logs.unique
// (and their spans), from its first record until logs.enriched holds n
// records. The rate is events/s (spans not counted).
func measureJoin(ctx context.Context, set *codecs.Set, cfg throughputConfig, base int64, kind string) (float64, string, error) {
	e, err := newEnv(cfg.partitions)
	if err != nil {
		return 0, "", err
	}
	defer e.close()
	spans, _, err := fillJoin(ctx, e.brokers, set, salt, cfg.n, base)
	if err != nil {
		return 0, "", err
	}
	st, _, cleanup, err := storageFor(kind)
	if err != nil {
		return 0, "", err
	}
	defer cleanup()
	r, err := startStage(ctx, e.brokers, e.topo, set, pipeline.Options{
		Stages: []string{"tracejoin"}, Storage: st,
		Join: pipeline.StateOptions{Window: joinWindow, Idle: joinIdle, SweepInterval: joinSweep},
	})
	if err != nil {
		return 0, "", err
	}
	a, err := newAdmin(e.brokers)
	if err != nil {
		r.stop()
		return 0, "", err
	}
	defer a.close()
	js := r.p.TraceJoin().Stats()
	var start time.Time
	err = r.waitFor(ctx, time.Millisecond, func() (bool, error) {
		if start.IsZero() && js.Events.Load()+js.Spans.Load() > 0 {
			start = time.Now()
		}
		return js.Joined.Load()+js.Timeouts.Load()+js.NoTrace.Load() >= int64(cfg.n), nil
	})
	if err == nil {
		err = r.waitFor(ctx, 2*time.Millisecond, func() (bool, error) {
			got, err := a.records(ctx, topology.TopicEnriched)
			return got >= int64(cfg.n), err
		})
	}
	elapsed := time.Since(start)
	snap := joinSnapshot(js)
	if serr := r.stop(); err == nil {
		err = serr
	}
	if err != nil {
		return 0, "", err
	}
	return float64(cfg.n) / elapsed.Seconds(),
		fmt.Sprintf("(events/s; +%d spans; joined %d, timeouts %d, sweeps' timers %d)", spans, snap.joined, snap.timeouts, snap.timers), nil
}

type joinSnap struct{ joined, timeouts, timers int64 }

func joinSnapshot(s *tracejoin.Stats) joinSnap {
	return joinSnap{joined: s.Joined.Load(), timeouts: s.Timeouts.Load(), timers: s.Timers.Load()}
}
