// Command pipebench measures, in one run on one embedded broker, the
// parse stage's throughput against a raw franz-go passthrough (consume a
// record and produce it unchanged: one hop, no work), and prints both and
// their ratio. Both read the same records from logs.raw, so the ratio says
// what parsing costs on top of moving the bytes; machines here are noisy,
// so only the ratio within one run is meaningful.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/demo/fleet"
	"github.com/logstream/logstream/pipeline"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

func main() {
	n := flag.Int("records", 300000, "records to write to logs.raw and process")
	partitions := flag.Int("partitions", 6, "partitions of every topic")
	rounds := flag.Int("rounds", 1, "measure each side this many times (interleaved) and report the best")
	full := flag.Bool("full", false, "run every stage a `logstream run` runs (or -stages) over the records, until every group's lag is 0 and every window is final, against a franz-go passthrough chain of -hops hops")
	stages := flag.String("stages", "parse,spans,dedupe,tracejoin,errorrate,alerter", "with -full: the stages to run; several sets separated by ';' run one after the other, each on a fresh broker (e.g. 'parse;parse,dedupe' to see what dedupe adds)")
	hops := flag.Int("hops", 0, "with -full: hops of the passthrough baseline; 0 means one per stage an event passes (parse, dedupe, tracejoin, errorrate: 4 for every stage)")
	bin := flag.String("bin", "", "with -full: the logstream binary; empty builds ./cmd/logstream")
	timeout := flag.Duration("timeout", 20*time.Minute, "with -full: give up on a side after this long")
	prof := flag.String("cpuprofile", "", "with -full: write a CPU profile of the pipeline's process (from its admin port, which it then starts with --pprof) to this file")
	profFor := flag.Duration("cpuprofile-for", 20*time.Second, "with -full: how long the CPU profile runs")
	heapProf := flag.String("heapprofile", "", "with -full: write the pipeline's heap profile (from its admin port, which it then starts with --pprof) when it has caught up to this file")
	leveldb := flag.Bool("leveldb", false, "with -full: keep the stages' tables in LevelDB (logstream run --state-dir) rather than in memory")
	memLimit := flag.String("memory-limit", "", "with -full: logstream run --memory-limit (empty: its default, auto)")
	compression := flag.String("compression", "none", "with -full: compression of the batches both sides write (logstream run --compression; the passthrough's producer)")
	child := flag.Bool("passthrough-child", false, "internal: run the passthrough chain (the baseline's own process)")
	brokers := flag.String("brokers", "", "internal: with -passthrough-child, the broker")
	flag.Parse()
	var err error
	switch {
	case *child:
		err = passthroughChild([]string{*brokers}, *hops, *n, *compression)
	case *full:
		var sets [][]string
		for _, set := range strings.Split(*stages, ";") {
			sets = append(sets, strings.Split(set, ","))
		}
		h := *hops
		if h <= 0 {
			// One hop per stage an event passes in the largest set.
			for _, s := range []string{"parse", "dedupe", "tracejoin", "errorrate"} {
				if slices.Contains(sets[len(sets)-1], s) {
					h++
				}
			}
		}
		err = runFull(fullConfig{n: *n, partitions: *partitions, sets: sets, hops: max(h, 1), bin: *bin, timeout: *timeout, profile: *prof, profileFor: *profFor, compression: *compression, memoryLimit: *memLimit, heapProfile: *heapProf, leveldb: *leveldb})
	default:
		err = run(*n, *partitions, *rounds)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pipebench:", err)
		os.Exit(1)
	}
}

func run(n, partitions, rounds int) error {
	ctx := context.Background()
	set, err := codecs.NewSet()
	if err != nil {
		return err
	}
	fmt.Printf("pipebench: %d records, %d partitions, GOMAXPROCS=%d, %s\n", n, partitions, runtime.GOMAXPROCS(0), runtime.Version())
	var best [2]float64
	for r := 0; r < rounds; r++ {
		// A fresh broker per round keeps rounds independent.
		e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
		if err != nil {
			return err
		}
		brokers := []string{e.Addr()}
		topo, err := topology.New(topology.Config{Partitions: partitions, Replication: 1})
		if err != nil {
			return err
		}
		tun := broker.Tuning{Replication: 1, BatchSize: 1000, MaxConcurrency: 5, FromOldest: true}
		streams := topo.StreamPartitions()
		streams[topology.TopicBenchPassthrough] = partitions
		if err := broker.EnsureTopics(brokers, tun, streams, topo.TablePartitions()); err != nil {
			return err
		}
		bytes, err := fill(ctx, brokers, set, n)
		if err != nil {
			return err
		}
		if r == 0 {
			fmt.Printf("input: %d records, %.1f MB of Avro RawLog (%.0f B/record)\n", n, float64(bytes)/1e6, float64(bytes)/float64(n))
		}
		pass, err := passthrough(ctx, brokers, n)
		if err != nil {
			return err
		}
		parse, err := parseStage(ctx, brokers, topo, set, tun, n)
		if err != nil {
			return err
		}
		e.Close()
		fmt.Printf("round %d: passthrough %.0f records/s, parse %.0f records/s, ratio %.2f\n", r+1, pass, parse, parse/pass)
		best[0], best[1] = max(best[0], pass), max(best[1], parse)
	}
	fmt.Printf("\nfranz-go raw passthrough (consume+produce, one hop): %10.0f records/s\n", best[0])
	fmt.Printf("parse stage (goka, decode+parse+encode, same data):   %10.0f records/s\n", best[1])
	fmt.Printf("ratio parse/passthrough:                              %10.2f\n", best[1]/best[0])
	return nil
}

// fill writes n mixed-format RawLog records to logs.raw.
func fill(ctx context.Context, brokers []string, set *codecs.Set, n int) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(topology.Partitioner()), kgo.MaxBufferedRecords(100000))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	gen := fleet.New(fleet.Config{Seed: 42, Start: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)})
	var total int64
	for i := 0; i < n; i++ {
		l := gen.Next()
		v, err := set.RawLog.Marshal(&schemas.RawLog{Host: l.Host, Source: l.Source, Line: l.Text, ReceivedAt: time.Now().UnixMilli()})
		if err != nil {
			return 0, err
		}
		total += int64(len(v))
		cl.Produce(ctx, &kgo.Record{Topic: topology.TopicRaw, Key: []byte(l.Host), Value: v}, nil)
	}
	return total, cl.Flush(ctx)
}

// passthrough consumes logs.raw and produces every record unchanged, and
// returns records/s from the first record read to the last one acked.
func passthrough(ctx context.Context, brokers []string, n int) (float64, error) {
	cons, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topology.TopicRaw), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return 0, err
	}
	defer cons.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.MaxBufferedRecords(100000), kgo.ProducerLinger(time.Millisecond))
	if err != nil {
		return 0, err
	}
	defer prod.Close()
	var start time.Time
	read := 0
	for read < n {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return 0, err
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
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// parseStage runs the parse stage over logs.raw and returns records/s from
// the moment it is ready (state recovered, partitions assigned) until it
// has read every record and its outputs are acknowledged.
func parseStage(ctx context.Context, brokers []string, topo *topology.Topology, set *codecs.Set, tun broker.Tuning, n int) (float64, error) {
	p, err := pipeline.New(pipeline.Options{Brokers: brokers, Topology: topo, Codecs: set, Tuning: tun, Logger: zerolog.Nop()})
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	if err := p.WaitReady(ctx); err != nil {
		return 0, err
	}
	st := p.Parse().Stats()
	var start time.Time
	for st.In.Load() < int64(n) {
		if start.IsZero() && st.In.Load() > 0 {
			start = time.Now()
		}
		select {
		case err := <-done:
			return 0, fmt.Errorf("parse stage stopped: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	if start.IsZero() {
		start = time.Now()
	}
	// Count the outputs as done once the broker has them, as the
	// passthrough's Flush does.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	want := st.Events.Load() + st.DeadLetters.Load()
	for {
		ends, err := adm.ListEndOffsets(ctx, topology.TopicParsed, topology.TopicDLQ)
		if err != nil {
			return 0, err
		}
		var got int64
		ends.Each(func(o kadm.ListedOffset) { got += o.Offset })
		if got >= want {
			break
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	cancel()
	<-done // goka waits for pending emits before it returns
	return float64(n) / elapsed.Seconds(), nil
}
