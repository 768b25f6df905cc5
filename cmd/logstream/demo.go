package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/admin"
	"github.com/logstream/logstream/demo"
	"github.com/logstream/logstream/pipeline"
	"github.com/logstream/logstream/topology"
)

func runDemo(ctx context.Context, cfg *Config, stdout, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	if len(cfg.Stages) != len(pipeline.StageNames()) {
		return usagef("logstream demo: runs every stage; --stages is for `logstream run`")
	}
	// At the end the demo waits for the join to release the events whose
	// spans never came: a silent partition does so after this, not after
	// a whole join window.
	cfg.joinIdle = 3 * time.Second
	// The demo replays 18 minutes of traffic in one: events that pass
	// through different partitions reach their host's window up to a few
	// wall-clock seconds apart, which is a minute of event time. A grace of
	// 2 m of event time (7 s of wall clock) keeps them in their windows.
	cfg.Alerting.Grace = max(cfg.Alerting.Grace, 2*time.Minute)
	s, err := startStack(cfg, stderr, log)
	if err != nil {
		return err
	}
	defer s.close()

	runCtx, stopStack := context.WithCancel(ctx)
	defer stopStack()
	stackErr := make(chan error, 1)
	go func() { stackErr <- s.run(runCtx) }()

	readyCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	err = s.pipe.WaitReady(readyCtx)
	cancel()
	if err != nil {
		stopStack()
		if serr := <-stackErr; serr != nil && !errors.Is(serr, context.Canceled) {
			return serr
		}
		return err
	}
	log.Info().Msg("pipeline ready; the fleet starts writing")
	sinkWriters, err := startDemoSinks(ctx, cfg, s, stdout, log)
	if err != nil {
		stopStack()
		<-stackErr
		return err
	}

	prod, err := kgo.NewClient(append(tuning(cfg).ClientOpts(s.brokers),
		kgo.RecordPartitioner(topology.Partitioner()),
		kgo.MaxBufferedRecords(cfg.BatchSize*10),
		kgo.ProducerBatchCompression(tuning(cfg).KgoCompression()),
	)...)
	if err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	defer prod.Close()

	dc := demo.DefaultConfig()
	dc.Duration, dc.Rate, dc.Seed = cfg.Duration, cfg.Rate, cfg.Seed
	dc.Drain.Stall, dc.Drain.Limit = cfg.DrainStall, cfg.DrainLimit
	dc.Status, dc.Alerts = stderr, stdout
	if f, ok := stderr.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		dc.Terminal = true
	}
	lag := admin.NewLagCollector(s.adm, s.pipe.Groups()...).Transactional(s.pipe.TransactionalTopics()...)
	demoErr := make(chan error, 1)
	var sum *demo.Summary
	go func() {
		var err error
		sum, err = demo.Run(runCtx, dc, demo.Deps{
			Client:     prod,
			Brokers:    s.brokers,
			ClientOpts: cfg.security.KgoOpts(),
			ErrorRate:  s.pipe.ErrorRate().Stats(),
			Admin:      s.adm,
			Codecs:     s.codecs,
			Parse:      s.pipe.Parse().Stats(),
			Spans:      s.pipe.Spans().Stats(),
			Dedupe:     s.pipe.Dedupe().Stats(),
			Join:       s.pipe.TraceJoin().Stats(),
			Watermarks: s.pipe.WatermarkRecords,
			Lag: func(ctx context.Context) ([]demo.GroupLag, error) {
				ls, err := lag.Lag(ctx)
				return groupLags(ls), err
			},
		})
		demoErr <- err
	}()

	select {
	case err = <-demoErr:
	case err = <-stackErr:
		if err == nil {
			err = errors.New("pipeline stopped before the demo finished")
		}
		return err
	}
	var sinkText bytes.Buffer
	if sum != nil {
		// The writers copy what the pipeline wrote: wait for them, then
		// list the objects, before the broker stops.
		if serr := sinkWriters.finish(ctx, s.adm, sum, &sinkText, dc.Drain); serr != nil && err == nil {
			err = serr
		}
	}
	stopStack()
	<-stackErr
	if sum != nil {
		fmt.Fprint(stdout, sum.Text())
		fmt.Fprint(stdout, sinkText.String())
		if cfg.SummaryJSON != "" {
			if werr := sum.WriteJSON(cfg.SummaryJSON); werr != nil && err == nil {
				err = werr
			}
		}
	}
	return err
}

// groupLags adds up partition lags per group and topic, in the order the
// collector returns them.
func groupLags(ls []admin.PartitionLag) []demo.GroupLag {
	var out []demo.GroupLag
	at := map[[2]string]int{}
	for _, l := range ls {
		k := [2]string{l.Group, l.Topic}
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, demo.GroupLag{Group: l.Group, Topic: l.Topic})
		}
		out[i].Records += l.Lag
	}
	return out
}
