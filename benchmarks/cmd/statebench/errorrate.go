package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/pipeline"
	"github.com/logstream/logstream/processors/errorrate"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/state"
	"github.com/logstream/logstream/topology"
)

// The errorrate stage's throughput: N LogEvents of H hosts (a share of
// them errors) pre-produced to logs.unique, keyed by event id as dedupe
// writes them, read by the errorrate stage alone (stages: errorrate, both
// hops, with its defaults: 1 m tumbling and 5 m hopping windows, 30 s
// grace, a tick a second), from its first record until its windows hop has
// counted every event. Against two baselines over the same records, each
// on a fresh broker, rounds rotating their order:
//
//   - the franz-go passthrough (consume, produce every record unchanged);
//   - a bare goka stateful hop: a goka group reading logs.unique that
//     reads and writes its table once per record (a counter under the
//     record's key): goka's own cost of one stateful hop.
//
// Each measurement reports events/s (first record to last counted) and
// events per CPU-second: the events over the process's user+system time
// over the same interval (the process is the broker and the stage
// together; the records were produced before).

type errorRateConfig struct {
	n, rounds, partitions int
	storages              []string
	hosts                 int
	errors                float64       // share of events that are errors
	span                  time.Duration // event time the N events cover
	cpuprofile            string        // a CPU profile of the whole process per stage run: FILE.errorrate.<state>
}

const errSalt = 0xe77a7e

// errorEvent returns the i-th of n events spread evenly over span (ms)
// from base: host i-th hash mod hosts, an error with probability errs
// (half of them timeouts to a database, at WARN, which only the
// classifier's failure pattern counts; half HTTP 500s at ERROR), the
// rest as event() makes them. Every event has a trace id (errors become
// samples).
func errorEvent(i, n, hosts int, errs float64, base, span int64) *schemas.LogEvent {
	h := splitmix(uint64(i) ^ errSalt)
	ev := event(errSalt, i, base)
	ev.Timestamp = base + int64(i)*span/int64(n)
	ev.Host = fmt.Sprintf("pay-gw-%02d", h%uint64(hosts))
	ev.K8sPod = ptr(ev.Host + "-7d9f8b6c5d-x2x9q")
	ev.Source = "/var/log/containers/" + ev.Host + "_payments_gateway.log"
	ev.TraceID = ptr(hexID(errSalt^0xabcdef, i))
	ev.Level, ev.HTTPStatus = schemas.LevelInfo, ptr(int32(200))
	ev.Message = fmt.Sprintf("POST /api/v1/pay 200 %.2fms req=%d", *ev.LatencyMs, h>>40)
	if u := float64(h>>11) / (1 << 53); u < errs {
		if u < errs/2 {
			ev.Level = schemas.LevelWarn
			ev.Message = fmt.Sprintf("timeout after %d ms to 10.0.4.7:3306", 1000+(h>>20)%4000)
		} else {
			ev.Level, ev.HTTPStatus = schemas.LevelError, ptr(int32(500))
			ev.Message = fmt.Sprintf("POST /api/v1/pay 500 %.2fms req=%d", *ev.LatencyMs, h>>40)
		}
	}
	return ev
}

// fillErrorRate writes the errorrate input to logs.unique; it returns the
// bytes written.
func fillErrorRate(ctx context.Context, brokers []string, set *codecs.Set, cfg errorRateConfig, base int64) (int64, error) {
	p, err := newProducer(brokers)
	if err != nil {
		return 0, err
	}
	for i := 0; i < cfg.n; i++ {
		ev := errorEvent(i, cfg.n, cfg.hosts, cfg.errors, base, cfg.span.Milliseconds())
		v, err := set.LogEvent.Marshal(ev)
		if err != nil {
			p.cl.Close()
			return 0, err
		}
		p.produce(ctx, topology.TopicUnique, ev.EventID, v)
	}
	if err := p.close(ctx); err != nil {
		return 0, err
	}
	return p.bytes.Load(), nil
}

// erResult is one measurement: events/s, events per CPU-second, notes.
type erResult struct {
	rate, perCPU float64
	note         string
}

// cpuTime is the process's user+system time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// errorRateThroughput runs the baselines and the errorrate stage (per
// storage) rounds times, rotating their order, and prints the medians and
// the ratios.
func errorRateThroughput(ctx context.Context, set *codecs.Set, cfg errorRateConfig) error {
	// Event time ends a minute before the fill: nothing is ahead of the
	// wall clock.
	base := time.Now().Add(-cfg.span - time.Minute).UnixMilli()
	type m struct {
		name string
		run  func(ctx context.Context) (erResult, error)
	}
	ms := []m{
		{name: "passthrough", run: func(ctx context.Context) (erResult, error) { return measureUniquePassthrough(ctx, set, cfg, base) }},
		{name: "goka stateful hop", run: func(ctx context.Context) (erResult, error) { return measureGokaHop(ctx, set, cfg, base) }},
	}
	for _, s := range cfg.storages {
		s := s
		ms = append(ms, m{name: "errorrate/" + s, run: func(ctx context.Context) (erResult, error) {
			return measureErrorRate(ctx, set, cfg, base, s)
		}})
	}
	rates, cpus := map[string][]float64{}, map[string][]float64{}
	ratios := map[string][]float64{}
	notes := map[string]string{}
	for r := 0; r < cfg.rounds; r++ {
		got := map[string]erResult{}
		for k := range ms {
			x := ms[(k+r)%len(ms)]
			runtime.GC()
			res, err := x.run(ctx)
			if err != nil {
				return fmt.Errorf("%s: %w", x.name, err)
			}
			got[x.name] = res
			rates[x.name] = append(rates[x.name], res.rate)
			cpus[x.name] = append(cpus[x.name], res.perCPU)
			notes[x.name] = res.note
			fmt.Fprintf(os.Stderr, "  round %d: %-18s %9.0f events/s %9.0f events/CPU-s  %s\n", r+1, x.name, res.rate, res.perCPU, res.note)
		}
		for _, x := range ms[2:] {
			ratios[x.name+" rate/passthrough"] = append(ratios[x.name+" rate/passthrough"], got[x.name].rate/got["passthrough"].rate)
			ratios[x.name+" rate/goka hop"] = append(ratios[x.name+" rate/goka hop"], got[x.name].rate/got["goka stateful hop"].rate)
			ratios[x.name+" CPU/passthrough"] = append(ratios[x.name+" CPU/passthrough"], got[x.name].perCPU/got["passthrough"].perCPU)
			ratios[x.name+" CPU/goka hop"] = append(ratios[x.name+" CPU/goka hop"], got[x.name].perCPU/got["goka stateful hop"].perCPU)
		}
		ratios["goka stateful hop rate/passthrough"] = append(ratios["goka stateful hop rate/passthrough"], got["goka stateful hop"].rate/got["passthrough"].rate)
	}
	fmt.Printf("\nerrorrate throughput, median of %d rounds (%d events of %d hosts, %.0f%% errors, %s of event time, %d partitions; one process: broker and stage):\n",
		cfg.rounds, cfg.n, cfg.hosts, cfg.errors*100, cfg.span, cfg.partitions)
	for _, x := range ms {
		fmt.Printf("  %-*s %10.0f events/s %10.0f events per CPU-second   %s\n", ratioIndent-2, x.name, median(rates[x.name]), median(cpus[x.name]), notes[x.name])
	}
	names := []string{"goka stateful hop rate/passthrough"}
	for _, x := range ms[2:] {
		names = append(names, x.name+" rate/passthrough", x.name+" rate/goka hop", x.name+" CPU/passthrough", x.name+" CPU/goka hop")
	}
	for _, n := range names {
		fmt.Printf("  %-*s %10.3f   (per round: %s)\n", ratioIndent+14, n, median(ratios[n]), fmtList(ratios[n]))
	}
	return nil
}

// measureUniquePassthrough is measurePassthrough over the errorrate input
// on logs.unique: a franz-go consumer and producer copy every record to
// bench.passthrough, first fetch to last ack.
func measureUniquePassthrough(ctx context.Context, set *codecs.Set, cfg errorRateConfig, base int64) (erResult, error) {
	e, err := newEnv(cfg.partitions)
	if err != nil {
		return erResult{}, err
	}
	defer e.close()
	bytes, err := fillErrorRate(ctx, e.brokers, set, cfg, base)
	if err != nil {
		return erResult{}, err
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(topology.TopicUnique), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
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
	for read < cfg.n {
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
	return erResult{rate: float64(cfg.n) / el.Seconds(), perCPU: float64(cfg.n) / cpu.Seconds(),
		note: fmt.Sprintf("(%.0f B/record, %.2f CPU-s)", float64(bytes)/float64(cfg.n), cpu.Seconds())}, nil
}

// measureGokaHop runs a bare goka stateful hop over the input: a group
// reading logs.unique whose callback reads its table value and writes it
// back plus one (a counter under the record's key: every record one state
// read and one changelog write), from its first record to the N-th.
func measureGokaHop(ctx context.Context, set *codecs.Set, cfg errorRateConfig, base int64) (erResult, error) {
	e, err := newEnv(cfg.partitions)
	if err != nil {
		return erResult{}, err
	}
	defer e.close()
	if _, err := fillErrorRate(ctx, e.brokers, set, cfg, base); err != nil {
		return erResult{}, err
	}
	return runGokaHop(ctx, e.brokers, topology.TopicUnique, cfg.n)
}

// runGokaHop runs the bare goka stateful hop over n records of topic.
func runGokaHop(ctx context.Context, brokers []string, topic string, total int) (erResult, error) {
	var n atomic.Int64
	g := goka.DefineGroup("bench-goka-hop",
		goka.Input(goka.Stream(topic), new(codec.Bytes), func(ctx goka.Context, _ any) {
			c, _ := ctx.Value().(int64)
			ctx.SetValue(c + 1)
			n.Add(1)
		}),
		goka.Persist(new(codec.Int64)),
	)
	proc, err := goka.NewProcessor(brokers, g, append(broker.ProcessorOptions(tuning()), goka.WithStorageBuilder(state.Memory()),
		goka.WithLogger(log.New(io.Discard, "", 0)))...)
	if err != nil {
		return erResult{}, err
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- proc.Run(pctx) }()
	defer func() { cancel(); <-done }()
	var start time.Time
	var cpu0 time.Duration
	for deadline := time.Now().Add(5 * time.Minute); n.Load() < int64(total); time.Sleep(time.Millisecond) {
		if start.IsZero() && n.Load() > 0 {
			start, cpu0 = time.Now(), cpuTime()
		}
		if time.Now().After(deadline) {
			return erResult{}, fmt.Errorf("goka hop: %d of %d records in 5 minutes", n.Load(), total)
		}
	}
	el, cpu := time.Since(start), cpuTime()-cpu0
	return erResult{rate: float64(total) / el.Seconds(), perCPU: float64(total) / cpu.Seconds(),
		note: fmt.Sprintf("(%.2f CPU-s)", cpu.Seconds())}, nil
}

// measureErrorRate runs the errorrate stage alone over the input, from its
// first record until its windows hop has counted every event (in a
// window, late or far-future; plus dead letters). Afterwards, outside the
// timing, it measures the stage's state: the latest value of each
// partition on the table topic, the table topic's size, and the LevelDB
// directory.
func measureErrorRate(ctx context.Context, set *codecs.Set, cfg errorRateConfig, base int64, kind string) (erResult, error) {
	e, err := newEnv(cfg.partitions)
	if err != nil {
		return erResult{}, err
	}
	defer e.close()
	if _, err := fillErrorRate(ctx, e.brokers, set, cfg, base); err != nil {
		return erResult{}, err
	}
	st, dir, cleanup, err := storageFor(kind)
	if err != nil {
		return erResult{}, err
	}
	defer cleanup()
	r, err := startStage(ctx, e.brokers, e.topo, set, pipeline.Options{Stages: []string{"errorrate"}, Storage: st})
	if err != nil {
		return erResult{}, err
	}
	if cfg.cpuprofile != "" {
		f, err := os.Create(cfg.cpuprofile + ".errorrate." + kind)
		if err != nil {
			r.stop()
			return erResult{}, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			r.stop()
			return erResult{}, err
		}
		defer pprof.StopCPUProfile()
	}
	es := r.p.ErrorRate().Stats()
	var start, moved time.Time
	var cpu0 time.Duration
	last := int64(-1)
	err = r.waitFor(ctx, time.Millisecond, func() (bool, error) {
		if start.IsZero() && es.In.Load() > 0 {
			start, cpu0 = time.Now(), cpuTime()
		}
		done := counted(es)
		if done != last {
			last, moved = done, time.Now()
		} else if time.Since(moved) > time.Minute {
			return false, fmt.Errorf("stalled at %d of %d events counted for a minute (events %d, late %d, future %d, dead letters %d)",
				done, cfg.n, es.Events.Load(), es.Late.Load(), es.Future.Load(), es.DeadLetters.Load())
		}
		return done >= int64(cfg.n), nil
	})
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	if err != nil {
		r.stop()
		return erResult{}, err
	}
	note := fmt.Sprintf("(%.2f CPU-s; windowed %d, errors %d, late %d, future %d, dead letters %d; %d transactions, %d partials, %d updates, %d windows closed",
		cpu.Seconds(), es.Events.Load(), es.Errors.Load(), es.Late.Load(), es.Future.Load(), es.DeadLetters.Load(),
		es.Transactions.Load(), es.Partials.Load(), es.Updates.Load(), es.Closed.Load())
	sz, serr := errorRateStateSize(ctx, e.brokers, set)
	if serr == nil {
		note += fmt.Sprintf("; state: %d partitions, %d hosts, latest value %.1f KB/partition (max %.1f KB), %.1f panes/host, %.0f B of latency sketch/pane, %.1f kept records/partition; table topic %d records, %.1f MB",
			sz.partitions, sz.hosts, sz.meanBytes/1e3, float64(sz.maxBytes)/1e3, float64(sz.panes)/float64(max(sz.hosts, 1)),
			float64(sz.sketchBytes)/float64(max(sz.panes, 1)), float64(sz.emits)/float64(max(sz.partitions, 1)), sz.tableRecords, mb(sz.tableBytes))
	} else {
		note += "; state: " + serr.Error()
	}
	if err := r.stop(); err != nil {
		return erResult{}, err
	}
	if dir != "" {
		if d, err := dirSize(dir); err == nil {
			note += fmt.Sprintf(", LevelDB %.1f MB", mb(d))
		}
	}
	return erResult{rate: float64(cfg.n) / elapsed.Seconds(), perCPU: float64(cfg.n) / cpu.Seconds(), note: note + ")"}, nil
}

// counted is the events the stage has dealt with: windowed, late, future
// (each counted in one of these) or dead-lettered.
func counted(es *errorrate.Stats) int64 {
	return es.Events.Load() + es.Late.Load() + es.Future.Load() + es.DeadLetters.Load()
}

type stateSize struct {
	partitions   int
	hosts        int
	meanBytes    float64
	maxBytes     int
	tableRecords int64
	tableBytes   int64
	// Sums over the partitions' latest states.
	panes, sketchBytes, emits int
}

// errorRateStateSize reads the end of every partition of the errorrate
// table topic and returns the size of each partition's latest state, with
// the topic's record count and bytes (kfake's DescribeLogDirs: the lz4
// batches it holds).
func errorRateStateSize(ctx context.Context, brokers []string, set *codecs.Set) (stateSize, error) {
	table := topology.TableTopic(topology.GroupErrorRate)
	a, err := newAdmin(brokers)
	if err != nil {
		return stateSize{}, err
	}
	defer a.close()
	ends, err := a.adm.ListEndOffsets(ctx, table)
	if err != nil {
		return stateSize{}, err
	}
	var out stateSize
	offsets := map[int32]kgo.Offset{}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		out.tableRecords += o.Offset
		if o.Offset > 0 {
			// One state per partition: its last record.
			offsets[o.Partition] = kgo.NewOffset().At(o.Offset - 1)
			want[o.Partition] = o.Offset
		}
	})
	if b, err := a.topicBytes(ctx, table); err == nil {
		out.tableBytes = b[table]
	}
	if len(offsets) == 0 {
		return out, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{table: offsets}))
	if err != nil {
		return stateSize{}, err
	}
	defer cl.Close()
	var sizes []int
	total := 0
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for len(want) > 0 {
		fs := cl.PollFetches(rctx)
		if err := fs.Err0(); err != nil {
			return stateSize{}, err
		}
		fs.EachRecord(func(r *kgo.Record) {
			delete(want, r.Partition)
			st, err := set.ErrorRatePartition.Unmarshal(r.Value)
			if err != nil {
				return
			}
			sizes = append(sizes, len(r.Value))
			total += len(r.Value)
			out.hosts += len(st.Hosts)
			for _, h := range st.Hosts {
				out.panes += len(h.Panes)
				for _, p := range h.Panes {
					out.sketchBytes += len(p.Latency)
				}
			}
			out.emits += len(st.Emits)
		})
	}
	out.partitions = len(sizes)
	if len(sizes) > 0 {
		out.meanBytes = float64(total) / float64(len(sizes))
		out.maxBytes = slices.Max(sizes)
	}
	return out, nil
}
