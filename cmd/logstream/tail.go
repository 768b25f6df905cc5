package main

import (
	"context"
	"fmt"
	"io"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/tail"
)

func runTail(ctx context.Context, cfg *Config, args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 {
		return usagef("tail: name one topic (logstream tail TOPIC)")
	}
	brokers, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	opts, err := codecOptions(cfg)
	if err != nil {
		return err
	}
	set, err := codecs.NewSet(opts...)
	if err != nil {
		return err
	}
	tc := tail.Config{Brokers: brokers, ClientOpts: cfg.security.KgoOpts(), Topic: args[0], FromBeginning: cfg.FromBeginning, Max: cfg.Max, ExitAtEnd: cfg.ExitAtEnd, Codecs: set}
	if cfg.Partition >= 0 {
		tc.Partitions = []int32{int32(cfg.Partition)}
	}
	sum, err := tail.Run(ctx, tc, stdout)
	if err != nil {
		return err
	}
	if sum.Failed > 0 {
		fmt.Fprintf(stderr, "logstream tail: %d records did not decode (printed with their error)\n", sum.Failed)
	}
	if sum.Watermarks > 0 {
		fmt.Fprintf(stderr, "logstream tail: %d watermark records (event-time progress, no events) skipped\n", sum.Watermarks)
	}
	return nil
}
