package main

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
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
	// ttl, window and sweep: dedupe's TTL, the join's window and both
	// stages' sweep interval (0: the package defaults above, under which
	// nothing expires during a run).
	ttl, window, sweep time.Duration
	cpuprofile         string // FILE: each round's CPU profile of a measurement to FILE.<name>.<round>
}

// measurement is one kind of run: its name and how to take it once.
type measurement struct {
	name string
	run  func(ctx context.Context) (erResult, error)
}

// throughput runs every measurement rounds times, rotating their order
// from round to round, and prints each round, then the medians of the
// rates and of the per-round ratios against the passthrough.
func throughput(ctx context.Context, set *codecs.Set, cfg throughputConfig) error {
	base := time.Now().Add(-time.Minute).UnixMilli()
	in := dedupeInput{salt: salt, dups: cfg.dups, distance: cfg.distance, base: base}
	ms := []measurement{{name: "passthrough", run: func(ctx context.Context) (erResult, error) {
		return measurePassthrough(ctx, set, cfg, in)
	}}, {name: "goka-hop", run: func(ctx context.Context) (erResult, error) {
		return measureParsedHop(ctx, set, cfg, in)
	}}}
	for _, s := range cfg.storages {
		s := s
		ms = append(ms, measurement{name: "dedupe/" + s, run: func(ctx context.Context) (erResult, error) {
			return measureDedupe(ctx, set, cfg, in, s)
		}})
	}
	for _, s := range cfg.storages {
		s := s
		ms = append(ms, measurement{name: "tracejoin/" + s, run: func(ctx context.Context) (erResult, error) {
			return measureJoin(ctx, set, cfg, base, s)
		}})
	}
	rates := map[string][]float64{}
	perCPU := map[string][]float64{}
	ratios := map[string][]float64{}
	hopRatios := map[string][]float64{}
	notes := map[string]string{}
	for r := 0; r < cfg.rounds; r++ {
		got := map[string]erResult{}
		for k := range ms {
			m := ms[(k+r)%len(ms)]
			runtime.GC()
			stop := func() {}
			if cfg.cpuprofile != "" {
				f, err := os.Create(fmt.Sprintf("%s.%s.%d", cfg.cpuprofile, strings.ReplaceAll(m.name, "/", "-"), r+1))
				if err != nil {
					return err
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					f.Close()
					return err
				}
				stop = func() { pprof.StopCPUProfile(); f.Close() }
			}
			res, err := m.run(ctx)
			stop()
			if err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			got[m.name] = res
			rates[m.name] = append(rates[m.name], res.rate)
			perCPU[m.name] = append(perCPU[m.name], res.perCPU)
			notes[m.name] = res.note
			fmt.Fprintf(os.Stderr, "  round %d: %-18s %9.0f records/s %9.0f per CPU-s  %s\n", r+1, m.name, res.rate, res.perCPU, res.note)
		}
		var line []string
		for _, m := range ms {
			line = append(line, fmt.Sprintf("%s %.0f (%.0f/CPU-s)", m.name, got[m.name].rate, got[m.name].perCPU))
			if m.name != "passthrough" {
				ratios[m.name] = append(ratios[m.name], got[m.name].rate/got["passthrough"].rate)
			}
			if m.name != "passthrough" && m.name != "goka-hop" {
				hopRatios[m.name] = append(hopRatios[m.name], got[m.name].perCPU/got["goka-hop"].perCPU)
			}
		}
		fmt.Printf("round %d: %s (records/s)\n", r+1, strings.Join(line, ", "))
	}
	fmt.Printf("\nthroughput, median of %d rounds (%d records, %d partitions, ttl %v, window %v, sweep %v):\n",
		cfg.rounds, cfg.n, cfg.partitions, cfg.ttl, cfg.window, cfg.sweep)
	for _, m := range ms {
		fmt.Printf("  %-*s %10.0f records/s %10.0f per CPU-s   %s\n", ratioIndent-2, m.name, median(rates[m.name]), median(perCPU[m.name]), notes[m.name])
	}
	for _, m := range ms[1:] {
		fmt.Printf("  %-*s %10.3f   (per round: %s)\n", ratioIndent-2, m.name+"/passthrough", median(ratios[m.name]), fmtList(ratios[m.name]))
	}
	for _, m := range ms[2:] {
		fmt.Printf("  %-*s %10.3f   (per CPU-s, per round: %s)\n", ratioIndent-2, m.name+"/goka-hop", median(hopRatios[m.name]), fmtList(hopRatios[m.name]))
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
func measurePassthrough(ctx context.Context, set *codecs.Set, cfg throughputConfig, in dedupeInput) (erResult, error) {
	e, err := newEnv(cfg.partitions)
	if err != nil {
		return erResult{}, err
	}
	defer e.close()
	n, _, bytes, err := fillParsed(ctx, e.brokers, set, in, cfg.n, 0, false)
	if err != nil {
		return erResult{}, err
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(topology.TopicParsed), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return erResult{}, err
	}
	defer cons.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.MaxBufferedRecords(100000), kgo.ProducerLinger(time.Millisecond),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return erResult{}, err
	}
	defer prod.Close()
	var start time.Time
	var cpu0 time.Duration
	read := 0
	for read < n {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return erResult{}, err
		}
		if start.IsZero() {
			start, cpu0 = time.Now(), cpuTime()
		}
		fs.EachRecord(func(r *kgo.Record) {
			read++
			prod.Produce(ctx, &kgo.Record{Topic: topology.TopicBenchPassthrough, Partition: r.Partition, Key: r.Key, Value: r.Value}, nil)
		})
	}
	if err := prod.Flush(ctx); err != nil {
		return erResult{}, err
	}
	el, cpu := time.Since(start), cpuTime()-cpu0
	return erResult{rate: float64(n) / el.Seconds(), perCPU: float64(n) / cpu.Seconds(),
		note: fmt.Sprintf("(%.0f B/record)", float64(bytes)/float64(n))}, nil
}

// measureParsedHop runs a bare goka stateful hop over the dedupe input
// on logs.parsed (one state read and one changelog write per record; see
// measureGokaHop): the baseline of dedupe and the join in the same run.
func measureParsedHop(ctx context.Context, set *codecs.Set, cfg throughputConfig, in dedupeInput) (erResult, error) {
	e, err := newEnv(cfg.partitions)
	if err != nil {
		return erResult{}, err
	}
	defer e.close()
	n, _, _, err := fillParsed(ctx, e.brokers, set, in, cfg.n, 0, false)
	if err != nil {
		return erResult{}, err
	}
	return runGokaHop(ctx, e.brokers, topology.TopicParsed, n)
}

// loopPerEvent is the note of a stage's loop topic: records per event.
func loopPerEvent(ctx context.Context, brokers []string, group string, n int) string {
	a, err := newAdmin(brokers)
	if err != nil {
		return "loop ?"
	}
	defer a.close()
	loop, err := a.records(ctx, topology.LoopTopic(group))
	if err != nil {
		return "loop ?"
	}
	return fmt.Sprintf("loop %d records, %.3f per event", loop, float64(loop)/float64(n))
}

// measureDedupe runs the dedupe stage alone over the dedupe input, from
// its first record until logs.unique holds every distinct event.
func measureDedupe(ctx context.Context, set *codecs.Set, cfg throughputConfig, in dedupeInput, kind string) (erResult, error) {
	e, err := newEnv(cfg.partitions)
	if err != nil {
		return erResult{}, err
	}
	defer e.close()
	n, unique, _, err := fillParsed(ctx, e.brokers, set, in, cfg.n, 0, false)
	if err != nil {
		return erResult{}, err
	}
	st, _, cleanup, err := storageFor(kind)
	if err != nil {
		return erResult{}, err
	}
	defer cleanup()
	r, err := startStage(ctx, e.brokers, e.topo, set, pipeline.Options{
		Stages: []string{"dedupe"}, Storage: st, Dedupe: pipeline.StateOptions{TTL: cmp.Or(cfg.ttl, benchTTL), SweepInterval: cfg.sweep,
			CacheEntries: dedupeCache(kind)},
	})
	if err != nil {
		return erResult{}, err
	}
	cpu0 := cpuTime()
	rate, snap, err := timeDedupe(ctx, r, e.brokers, n, unique)
	cpu := cpuTime() - cpu0
	if serr := r.stop(); err == nil {
		err = serr
	}
	if err != nil {
		return erResult{}, err
	}
	return erResult{rate: rate, perCPU: float64(n) / cpu.Seconds(),
		note: fmt.Sprintf("(unique %d, duplicates %d, expired %d, cache hit ratio %.3f, %s)", snap.Unique, snap.Duplicates, snap.Expired,
			snap.CacheHitRatio, loopPerEvent(ctx, e.brokers, topology.GroupDedupe, n))}, nil
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
func measureJoin(ctx context.Context, set *codecs.Set, cfg throughputConfig, base int64, kind string) (erResult, error) {
	e, err := newEnv(cfg.partitions)
	if err != nil {
		return erResult{}, err
	}
	defer e.close()
	spans, _, err := fillJoin(ctx, e.brokers, set, salt, cfg.n, base)
	if err != nil {
		return erResult{}, err
	}
	st, _, cleanup, err := storageFor(kind)
	if err != nil {
		return erResult{}, err
	}
	defer cleanup()
	r, err := startStage(ctx, e.brokers, e.topo, set, pipeline.Options{
		Stages: []string{"tracejoin"}, Storage: st,
		Join: pipeline.StateOptions{Window: cmp.Or(cfg.window, joinWindow), Idle: joinIdle, SweepInterval: cmp.Or(cfg.sweep, joinSweep)},
	})
	if err != nil {
		return erResult{}, err
	}
	a, err := newAdmin(e.brokers)
	if err != nil {
		r.stop()
		return erResult{}, err
	}
	defer a.close()
	js := r.p.TraceJoin().Stats()
	var start time.Time
	var cpu0 time.Duration
	err = r.waitFor(ctx, time.Millisecond, func() (bool, error) {
		if start.IsZero() && js.Events.Load()+js.Spans.Load() > 0 {
			start, cpu0 = time.Now(), cpuTime()
		}
		return js.Joined.Load()+js.Timeouts.Load()+js.NoTrace.Load() >= int64(cfg.n), nil
	})
	if err == nil {
		err = r.waitFor(ctx, 2*time.Millisecond, func() (bool, error) {
			got, err := a.records(ctx, topology.TopicEnriched)
			return got >= int64(cfg.n), err
		})
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	snap := joinSnapshot(js)
	if serr := r.stop(); err == nil {
		err = serr
	}
	if err != nil {
		return erResult{}, err
	}
	return erResult{rate: float64(cfg.n) / elapsed.Seconds(), perCPU: float64(cfg.n) / cpu.Seconds(),
		note: fmt.Sprintf("(events/s; +%d spans; joined %d, timeouts %d, closed %d, timers %d, %s)", spans, snap.joined, snap.timeouts,
			snap.closed, snap.timers, loopPerEvent(ctx, e.brokers, topology.GroupTraceJoin, cfg.n))}, nil
}

type joinSnap struct{ joined, timeouts, closed, timers int64 }

func joinSnapshot(s *tracejoin.Stats) joinSnap {
	return joinSnap{joined: s.Joined.Load(), timeouts: s.Timeouts.Load(), closed: s.Closed.Load(), timers: s.Timers.Load()}
}
