package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/ingest"
	"github.com/logstream/logstream/processors/parse"
	"github.com/logstream/logstream/topology"
)

func runIngest(ctx context.Context, cfg *Config, inputs []string, stderr io.Writer) error {
	brokers, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	topo, err := topology.New(topology.Config{Partitions: cfg.Partitions, Replication: cfg.Replication})
	if err != nil {
		return err
	}
	set, err := codecs.NewSet()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(tuning(cfg).ClientOpts(brokers),
		kgo.RecordPartitioner(topology.Partitioner()),
		kgo.MaxBufferedRecords(cfg.BatchSize),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProducerBatchCompression(tuning(cfg).KgoCompression()),
	)...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	if err := broker.EnsureTopics(brokers, tuning(cfg), map[string]int{topology.TopicRaw: topo.Config().Partitions}, nil); err != nil {
		return err
	}
	ic := ingest.Config{
		Topic:  topology.TopicRaw,
		Host:   cfg.Host,
		Follow: cfg.Follow,
		Encode: set.RawLog.Marshal,
		HostOf: parse.HostOf,
	}
	if f, ok := stderr.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		ic.Progress = stderr
	}
	sum, err := ingest.Run(ctx, ic, cl, inputs)
	fmt.Fprintln(stderr, sum.String())
	return err
}
