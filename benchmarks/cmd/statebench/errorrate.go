package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/pipeline"
	"github.com/logstream/logstream/processors/errorrate"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

// The errorrate stage's throughput: N LogEvents of H hosts (a share of
// them errors) pre-produced to logs.unique, keyed by event id as dedupe
// writes them, read by the errorrate stage alone (stages: errorrate, with
// its defaults: 1 m tumbling and 5 m hopping windows, 30 s grace, an
// update per host per second of event time), from its first record until
// it has counted every event; against the raw passthrough over the same
// records, on fresh brokers, rounds rotating their order as throughput()
// does.

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

// errorRateThroughput runs the passthrough and the errorrate stage (per
// storage) rounds times, rotating their order, and prints the medians.
func errorRateThroughput(ctx context.Context, set *codecs.Set, cfg errorRateConfig) error {
	// Event time ends a minute before the fill: nothing is ahead of the
	// wall clock, windows close as the stage's clock passes them.
	base := time.Now().Add(-cfg.span - time.Minute).UnixMilli()
	ms := []measurement{{name: "passthrough", run: func(ctx context.Context) (float64, string, error) {
		return measureUniquePassthrough(ctx, set, cfg, base)
	}}}
	for _, s := range cfg.storages {
		s := s
		ms = append(ms, measurement{name: "errorrate/" + s, run: func(ctx context.Context) (float64, string, error) {
			return measureErrorRate(ctx, set, cfg, base, s)
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
		fmt.Printf("errorrate round %d: %s (records/s)\n", r+1, strings.Join(line, ", "))
	}
	fmt.Printf("\nerrorrate throughput, median of %d rounds (%d events of %d hosts, %.0f%% errors, %s of event time, %d partitions):\n",
		cfg.rounds, cfg.n, cfg.hosts, cfg.errors*100, cfg.span, cfg.partitions)
	for _, m := range ms {
		fmt.Printf("  %-*s %10.0f records/s   %s\n", ratioIndent-2, m.name, median(rates[m.name]), notes[m.name])
	}
	for _, m := range ms[1:] {
		fmt.Printf("  %-*s %10.3f   (per round: %s)\n", ratioIndent-2, m.name+"/passthrough", median(ratios[m.name]), fmtList(ratios[m.name]))
	}
	return nil
}

// measureUniquePassthrough is measurePassthrough over the errorrate input
// on logs.unique: a franz-go consumer and producer copy every record to
// bench.passthrough, first fetch to last ack.
func measureUniquePassthrough(ctx context.Context, set *codecs.Set, cfg errorRateConfig, base int64) (float64, string, error) {
	e, err := newEnv(cfg.partitions)
	if err != nil {
		return 0, "", err
	}
	defer e.close()
	bytes, err := fillErrorRate(ctx, e.brokers, set, cfg, base)
	if err != nil {
		return 0, "", err
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.ConsumeTopics(topology.TopicUnique), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
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
	for read < cfg.n {
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
	return float64(cfg.n) / time.Since(start).Seconds(), fmt.Sprintf("(%.0f B/record)", float64(bytes)/float64(cfg.n)), nil
}

// measureErrorRate runs the errorrate stage alone over the input, from its
// first record until it has counted every event (Events + Late + Future,
// plus dead letters, which never reach the loop, equals N). Afterwards, outside the timing, it measures the
// stage's state: the latest ErrorRateState of each host on the table
// topic, the table topic's size, and the LevelDB directory.
func measureErrorRate(ctx context.Context, set *codecs.Set, cfg errorRateConfig, base int64, kind string) (float64, string, error) {
	e, err := newEnv(cfg.partitions)
	if err != nil {
		return 0, "", err
	}
	defer e.close()
	if _, err := fillErrorRate(ctx, e.brokers, set, cfg, base); err != nil {
		return 0, "", err
	}
	st, dir, cleanup, err := storageFor(kind)
	if err != nil {
		return 0, "", err
	}
	defer cleanup()
	r, err := startStage(ctx, e.brokers, e.topo, set, pipeline.Options{Stages: []string{"errorrate"}, Storage: st})
	if err != nil {
		return 0, "", err
	}
	if cfg.cpuprofile != "" {
		f, err := os.Create(cfg.cpuprofile + ".errorrate." + kind)
		if err != nil {
			r.stop()
			return 0, "", err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			r.stop()
			return 0, "", err
		}
		defer pprof.StopCPUProfile()
	}
	es := r.p.ErrorRate().Stats()
	var start, moved time.Time
	last := int64(-1)
	err = r.waitFor(ctx, time.Millisecond, func() (bool, error) {
		if start.IsZero() && es.In.Load() > 0 {
			start = time.Now()
		}
		done := counted(es)
		if done != last {
			last, moved = done, time.Now()
		} else if time.Since(moved) > time.Minute {
			return false, fmt.Errorf("stalled at %d of %d events counted for a minute (events %d, late %d, future %d, relooped %d, dead letters %d)",
				done, cfg.n, es.Events.Load(), es.Late.Load(), es.Future.Load(), es.LegacySkipped.Load(), es.DeadLetters.Load())
		}
		return done >= int64(cfg.n), nil
	})
	elapsed := time.Since(start)
	if err != nil {
		r.stop()
		return 0, "", err
	}
	note := fmt.Sprintf("(windowed %d, errors %d, late %d, future %d, relooped %d, updates %d, closed %d, dead letters %d",
		es.Events.Load(), es.Errors.Load(), es.Late.Load(), es.Future.Load(), es.LegacySkipped.Load(), es.Updates.Load(), es.Closed.Load(), es.DeadLetters.Load())
	sz, serr := errorRateStateSize(ctx, e.brokers, set)
	if serr == nil {
		h := float64(max(sz.hosts, 1))
		note += fmt.Sprintf("; state: %d hosts, latest state %.1f KB/host (max %.1f KB; %.1f panes with %.0f latency buckets, %.1f kept emits of %.1f KB), table topic %d records, %.1f MB",
			sz.hosts, sz.meanBytes/1e3, float64(sz.maxBytes)/1e3, float64(sz.panes)/h, float64(sz.buckets)/h, float64(sz.emits)/h, float64(sz.emitBytes)/h/1e3,
			sz.tableRecords, mb(sz.tableBytes))
	} else {
		note += "; state: " + serr.Error()
	}
	if err := r.stop(); err != nil {
		return 0, "", err
	}
	if dir != "" {
		if d, err := dirSize(dir); err == nil {
			note += fmt.Sprintf(", LevelDB %.1f MB", mb(d))
		}
	}
	return float64(cfg.n) / elapsed.Seconds(), note + ")", nil
}

// counted is the events the stage has dealt with: windowed, late, future
// (each counted in one of these) or dead-lettered (never reach the loop).
func counted(es *errorrate.Stats) int64 {
	return es.Events.Load() + es.Late.Load() + es.Future.Load() + es.DeadLetters.Load()
}

type stateSize struct {
	hosts        int
	meanBytes    float64
	maxBytes     int
	tableRecords int64
	tableBytes   int64
	// Sums over the hosts' latest states: panes, kept emits and their bytes.
	panes, buckets, emits, emitBytes int
}

// errorRateStateSize reads the end of every partition of the errorrate
// table topic (goka writes a host's whole state on every event) and
// returns the size of each host's latest state, with the topic's record
// count and bytes (kfake's DescribeLogDirs: the lz4 batches it holds).
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
			// The last few hundred records of a partition hold the last
			// state of each of its hosts (each host writes per event).
			offsets[o.Partition] = kgo.NewOffset().At(max(0, o.Offset-2000))
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
	latest := map[string][]byte{}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for len(want) > 0 {
		fs := cl.PollFetches(rctx)
		if err := fs.Err0(); err != nil {
			return stateSize{}, err
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Value == nil {
				delete(latest, string(r.Key))
			} else {
				latest[string(r.Key)] = r.Value
			}
			if r.Offset+1 >= want[r.Partition] {
				delete(want, r.Partition)
			}
		})
	}
	sizes := make([]int, 0, len(latest))
	total := 0
	for _, v := range latest {
		sizes = append(sizes, len(v))
		total += len(v)
		st, err := set.ErrorRateState.Unmarshal(v)
		if err != nil {
			return stateSize{}, fmt.Errorf("%s: %w", table, err)
		}
		out.panes += len(st.Panes)
		for _, p := range st.Panes {
			out.buckets += len(p.Latency)
		}
		out.emits += len(st.Emits)
		for _, e := range st.Emits {
			out.emitBytes += len(e.Value)
		}
	}
	out.hosts = len(sizes)
	if len(sizes) > 0 {
		out.meanBytes = float64(total) / float64(len(sizes))
		out.maxBytes = slices.Max(sizes)
	}
	return out, nil
}
