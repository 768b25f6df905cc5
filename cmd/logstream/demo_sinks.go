package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/logstream/logstream/demo"
	"github.com/logstream/logstream/sinks"
	s3sink "github.com/logstream/logstream/sinks/s3"
	"github.com/logstream/logstream/sinks/s3/s3local"
	"github.com/logstream/logstream/topology"
)

// The demo's embedded S3-compatible store: credentials of its own (the
// SDK signs with them; the store checks the access key).
const (
	demoBucket    = "logstream-demo"
	demoAccessKey = "logstream-demo"
	demoSecretKey = "logstream-demo-secret"
)

// demoS3Dir returns the embedded S3 store's directory: setting emptied,
// or, when setting is empty, a new directory under $TMPDIR that only this
// user can read (os.MkdirTemp creates it with mode 0700).
func demoS3Dir(setting string) (string, error) {
	if setting == "" {
		dir, err := os.MkdirTemp("", "logstream-demo-s3-")
		if err != nil {
			return "", fmt.Errorf("demo: S3 directory: %w", err)
		}
		return dir, nil
	}
	if err := os.RemoveAll(setting); err != nil {
		return "", fmt.Errorf("demo: empty the S3 directory %s: %w", setting, err)
	}
	return setting, nil
}

// demoSinks are the sink writers the demo runs beside the pipeline.
type demoSinks struct {
	log     zerolog.Logger
	store   *s3local.Server
	dir     string
	writers []*demoWriter
}

type demoWriter struct {
	name   string
	group  string
	runner *sinks.Runner
	done   chan error
	cancel context.CancelFunc
}

// startDemoSinks starts the embedded S3 store and the S3 writer, plus the
// OpenObserve writer when its URL is set, and prints where the store keeps
// its files. The store's directory is --s3-dir, emptied first (the
// embedded broker starts at offset 0 every run, and objects of an earlier
// run would stand in the new chains' way); by default a new directory
// under $TMPDIR that only this user can read, so that two runs, or two
// users, never share one and nobody else reads the demo's logs.
func startDemoSinks(ctx context.Context, cfg *Config, s *stack, out io.Writer, log zerolog.Logger) (*demoSinks, error) {
	dir, err := demoS3Dir(cfg.DemoS3Dir)
	if err != nil {
		return nil, err
	}
	store, err := s3local.New(dir, s3local.WithCredentials(demoAccessKey), s3local.WithBucket(demoBucket))
	if err != nil {
		return nil, fmt.Errorf("demo: embedded S3 store: %w", err)
	}
	url, err := store.Start("127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: embedded S3 store: %w", err)
	}
	d := &demoSinks{log: log, store: store, dir: dir}
	fmt.Fprintf(out, "embedded S3 store: files under %s\n", dir)
	log.Info().Str("endpoint", url).Str("dir", dir).Str("bucket", demoBucket).Msg("embedded S3-compatible store")

	c := *cfg
	c.Brokers = s.brokers
	c.Sink.Topics = topology.SinkTopics
	c.Sink.S3.Bucket, c.Sink.S3.Endpoint, c.Sink.S3.Prefix = demoBucket, url, "logs"
	// Objects every 5 s of wall clock, so that a one-minute demo shows a
	// few per partition; production defaults are larger.
	c.Sink.MaxAge = 5 * time.Second
	sc := s3Config(&c, s.codecs, log.With().Str("stage", "sink-s3").Logger())
	sc.AccessKey, sc.SecretKey = demoAccessKey, demoSecretKey
	sink, err := s3sink.New(ctx, sc)
	if err != nil {
		return nil, err
	}
	r, err := sinkRunner(ctx, &c, s.codecs, topology.GroupSinkS3, sink, log)
	if err != nil {
		return nil, err
	}
	d.start("s3", topology.GroupSinkS3, r)

	if c.Sink.OpenObserve.URL != "" {
		oo, err := openObserveSink(&c, s.codecs, log)
		if err != nil {
			return nil, err
		}
		r, err := sinkRunner(ctx, &c, s.codecs, topology.GroupSinkOpenObserve, oo, log)
		if err != nil {
			return nil, err
		}
		log.Info().Str("url", c.Sink.OpenObserve.URL).Str("stream", c.Sink.OpenObserve.Stream).Msg("OpenObserve writer runs too")
		d.start("openobserve", topology.GroupSinkOpenObserve, r)
	}
	return d, nil
}

func (d *demoSinks) start(name, group string, r *sinks.Runner) {
	ctx, cancel := context.WithCancel(context.Background())
	w := &demoWriter{name: name, group: group, runner: r, done: make(chan error, 1), cancel: cancel}
	go func() { w.done <- r.Run(ctx) }()
	d.writers = append(d.writers, w)
}

// finish waits until every writer has committed the ends of its topics
// (for as long as it makes progress, within drain's limits), stops them,
// and lists the objects written.
func (d *demoSinks) finish(ctx context.Context, adm *kadm.Client, sum *demo.Summary, out io.Writer, drain demo.Drain) error {
	defer d.store.Close()
	var firstErr error
	for _, w := range d.writers {
		if err := waitCaughtUp(ctx, adm, w, drain); err != nil && firstErr == nil {
			firstErr = err
		}
		w.cancel()
		if err := <-w.done; err != nil && firstErr == nil {
			firstErr = fmt.Errorf("sink %s: %w", w.name, err)
		}
	}
	objs, err := d.store.Objects(demoBucket)
	if err != nil {
		return err
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
	var records int64
	for _, o := range objs {
		md := o.Metadata
		first, _ := strconv.ParseInt(md[s3sink.MetaStartOffset], 10, 64)
		last, _ := strconv.ParseInt(md[s3sink.MetaEndOffset], 10, 64)
		n, _ := strconv.ParseInt(md[s3sink.MetaRecords], 10, 64)
		p, _ := strconv.Atoi(md[s3sink.MetaPartition])
		if md[s3sink.MetaTopic] == "" {
			continue // not an object of a chain
		}
		sum.S3Objects = append(sum.S3Objects, demo.S3Object{Key: o.Key, Topic: md[s3sink.MetaTopic], Partition: int32(p),
			Records: n, FirstOffset: first, LastOffset: last, Bytes: o.Size})
		records += n
	}
	fmt.Fprintf(out, "\nS3 (embedded store, bucket %s, files under %s): %d objects, %d records\n", demoBucket, d.dir, len(sum.S3Objects), records)
	if err := checkChains(ctx, adm, sum.S3Objects, records); err != nil {
		fmt.Fprintf(out, "  NOT exactly once: %v\n", err)
		if firstErr == nil {
			firstErr = err
		}
	} else {
		fmt.Fprintf(out, "  every record of %v is in exactly one object: each partition's objects run from offset 0 to its end without gap or overlap\n", topology.SinkTopics)
	}
	for i, o := range sum.S3Objects {
		if i == 12 && len(sum.S3Objects) > 14 {
			fmt.Fprintf(out, "  ... %d more (all in the summary JSON's s3_objects)\n", len(sum.S3Objects)-12)
			break
		}
		fmt.Fprintf(out, "  %-100s %6d records  offsets %d..%d  %7d bytes\n", o.Key, o.Records, o.FirstOffset, o.LastOffset, o.Bytes)
	}
	return firstErr
}

// waitCaughtUp waits until w's group has committed every partition's end
// offset of its topics.
func waitCaughtUp(ctx context.Context, adm *kadm.Client, w *demoWriter, drain demo.Drain) error {
	drain.Progress = nil
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stopped error
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		// A writer that stops cannot catch up: end the wait.
		select {
		case err := <-w.done:
			stopped = fmt.Errorf("sink %s stopped before it caught up: %v", w.name, err)
			w.done <- err // for finish
			cancel()
		case <-ctx.Done():
		}
	}()
	err := drain.Wait(ctx, "sink "+w.name, func(ctx context.Context) demo.Backlog {
		ends, err := adm.ListEndOffsets(ctx, topology.SinkTopics...)
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			return demo.Backlog{Err: "end offsets: " + err.Error()}
		}
		committed, err := adm.FetchOffsets(ctx, w.group)
		if err != nil {
			return demo.Backlog{Err: "committed offsets of " + w.group + ": " + err.Error()}
		}
		behind := map[string]int64{}
		ends.Each(func(e kadm.ListedOffset) {
			at := int64(0)
			if c, ok := committed.Lookup(e.Topic, e.Partition); ok {
				at = c.At
			}
			if e.Offset > at {
				behind[e.Topic] += e.Offset - at
			}
		})
		var b demo.Backlog
		for _, t := range topology.SinkTopics {
			if behind[t] > 0 {
				b.Lags = append(b.Lags, demo.GroupLag{Group: w.group, Topic: t, Records: behind[t]})
			}
		}
		return b
	})
	cancel()
	<-watching
	if stopped != nil {
		return stopped
	}
	return err
}

// checkChains checks that each partition's objects cover its offsets from
// 0 to the end once: sorted by first offset, each starts right after the
// previous one's last. (The topics the demo copies have no record the
// writer dead-letters, so there are no holes.)
func checkChains(ctx context.Context, adm *kadm.Client, objs []demo.S3Object, records int64) error {
	ends, err := adm.ListEndOffsets(ctx, topology.SinkTopics...)
	if err != nil {
		return err
	}
	type tp struct {
		t string
		p int32
	}
	chains := map[tp][]demo.S3Object{}
	for _, o := range objs {
		chains[tp{o.Topic, o.Partition}] = append(chains[tp{o.Topic, o.Partition}], o)
	}
	var want int64
	var problem error
	ends.Each(func(e kadm.ListedOffset) {
		want += e.Offset
		c := chains[tp{e.Topic, e.Partition}]
		sort.Slice(c, func(i, j int) bool { return c[i].FirstOffset < c[j].FirstOffset })
		next := int64(0)
		for _, o := range c {
			if o.FirstOffset != next && problem == nil {
				problem = fmt.Errorf("%s partition %d: object %s starts at %d, expected %d", e.Topic, e.Partition, o.Key, o.FirstOffset, next)
			}
			next = o.LastOffset + 1
		}
		if next != e.Offset && problem == nil {
			problem = fmt.Errorf("%s partition %d: objects end at offset %d, the partition at %d", e.Topic, e.Partition, next, e.Offset)
		}
	})
	if problem == nil && want != records {
		problem = fmt.Errorf("objects hold %d records, the topics %d", records, want)
	}
	return problem
}
