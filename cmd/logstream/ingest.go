package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/admin"
	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/ingest"
	"github.com/logstream/logstream/processors/parse"
	"github.com/logstream/logstream/topology"
)

// ingestLong is `logstream ingest --help`'s description.
const ingestLong = `Reads lines from the files (or stdin for "-" or no file) and produces one
Avro RawLog per line to logs.raw, keyed by host so one host's lines stay in
order. The host is --host, else the one the line names (syslog, JSON host),
else this machine's name. On a terminal a progress line shows records and
records/s; a one-line summary ends the run. Without --brokers it connects to
the embedded broker's address (a 'logstream run' on this machine).

A line that is not valid UTF-8 is not sent as a RawLog (its text is an Avro
string): it goes to logs.dlq as a dead letter of stage "ingest" with its
bytes, its host as key, and a reason naming the line, its input and the
offset of the first invalid byte; it counts as dead-lettered, not failed.
A line too long for one record is cut, on a UTF-8 boundary, so that the
whole record fits the brokers' limit (asked at start: max.message.bytes of
logs.raw and logs.dlq, else the broker's message.max.bytes), and carries
the labels truncated=true and original_bytes=N.

SIGINT or SIGTERM stops reading at once; what was read is still delivered
for at most --flush-timeout, then ingest exits 1 saying how many lines were
acknowledged and how many were not (with --follow, an interruption after
which every line read was acknowledged exits 0). When the brokers stop
answering for --delivery-timeout while lines wait, ingest stops and exits
1 naming them; lines without an answer may or may not be on the topic.`

var (
	sFlushTimeout = setting{name: "flush-timeout", env: "LOGSTREAM_FLUSH_TIMEOUT", def: ingest.DefaultFlushTimeout.String(),
		usage: "ingest: after SIGINT or SIGTERM, how long the lines already read may take to be acknowledged before ingest gives up on them and exits 1",
		parse: durationIn(100*time.Millisecond, time.Hour, func(c *Config, d time.Duration) { c.FlushTimeout = d })}
	sDeliveryTimeout = setting{name: "delivery-timeout", env: "LOGSTREAM_DELIVERY_TIMEOUT", def: ingest.DefaultDeliveryTimeout.String(),
		usage: "ingest: how long lines may wait with no answer from the brokers before ingest takes them for gone, stops and exits 1",
		parse: durationIn(time.Second, 24*time.Hour, func(c *Config, d time.Duration) { c.DeliveryTimeout = d })}
	sIngestAdminAddr = func() setting {
		s := withUsage(sAdminAddr, "address of an admin port serving /metrics (logstream_ingest_lines_total by result, ...) while ingest runs, useful with --follow; empty (the default) serves none")
		s.def = ""
		return s
	}()
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
	topics := []string{topology.TopicRaw, topology.TopicDLQ}
	if err := broker.EnsureTopics(brokers, tuning(cfg), map[string]int{
		topology.TopicRaw: topo.Config().Partitions, topology.TopicDLQ: topo.Config().Partitions,
	}, nil); err != nil {
		return err
	}
	limit, err := askRecordLimit(ctx, cfg, brokers, topics)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(tuning(cfg).ClientOpts(brokers),
		kgo.RecordPartitioner(topology.Partitioner()),
		kgo.MaxBufferedRecords(cfg.BatchSize),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProducerBatchCompression(tuning(cfg).KgoCompression()),
		// Batches of many lines must fit the brokers' limit as one long
		// line's record does.
		kgo.ProducerBatchMaxBytes(int32(limit.Bytes)),
		// A dead broker fails records in bounded time, and an interrupted
		// run can give up on records in flight: ingest says how many lines
		// went unacknowledged rather than wait for ever.
		kgo.RecordDeliveryTimeout(cfg.DeliveryTimeout),
		kgo.AllowIdempotentProduceCancellation(),
	)...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	mk, err := masker(cfg)
	if err != nil {
		return err
	}
	ic := ingest.Config{
		Mask:             mk,
		Topic:            topology.TopicRaw,
		DeadLetterTopic:  topology.TopicDLQ,
		Host:             cfg.Host,
		Follow:           cfg.Follow,
		Encode:           set.RawLog.Marshal,
		EncodeDeadLetter: set.DeadLetter.Marshal,
		HostOf:           parse.HostOf,
		MaxRecordBytes:   limit.Bytes,
		FlushTimeout:     cfg.FlushTimeout,
		DeliveryTimeout:  cfg.DeliveryTimeout,
		Metrics:          ingest.NewMetrics(),
	}
	if f, ok := stderr.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		ic.Progress = stderr
	}
	if cfg.AdminAddr != "" {
		stop, err := serveIngestMetrics(ctx, cfg, ic.Metrics, stderr)
		if err != nil {
			return err
		}
		defer stop()
	}
	sum, err := ingest.Run(ctx, ic, cl, inputs)
	fmt.Fprintln(stderr, sum.String())
	return err
}

// serveIngestMetrics serves m on the admin port until stop is called.
func serveIngestMetrics(ctx context.Context, cfg *Config, m *ingest.Metrics, stderr io.Writer) (stop func(), err error) {
	reg := admin.NewRegistry()
	for _, c := range m.Collectors() {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	ready := func() bool { return true }
	srv, err := admin.Listen(cfg.AdminAddr, reg, ready, adminOptions(cfg))
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "admin port at http://%s/metrics\n", srv.Addr())
	// The port outlives an interruption: it stops when ingest returns.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Run(sctx)
	}()
	return func() { cancel(); <-done }, nil
}

// askRecordLimit asks the brokers how large a record may be, with a client
// of its own: the producer's batches are sized by the answer.
func askRecordLimit(ctx context.Context, cfg *Config, brokers, topics []string) (ingest.RecordLimit, error) {
	cl, err := kgo.NewClient(tuning(cfg).ClientOpts(brokers)...)
	if err != nil {
		return ingest.RecordLimit{}, fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	actx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	lim := ingest.AskRecordLimit(actx, kadm.NewClient(cl), topics...)
	// The client refuses a batch limit over its request limit (100 MiB).
	lim.Bytes = min(lim.Bytes, 64<<20)
	return lim, nil
}
