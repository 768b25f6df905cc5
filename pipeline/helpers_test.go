package pipeline

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
	"github.com/logstream/logstream/watermark"
)

// testStack is an embedded broker with the pipeline running on it.
type testStack struct {
	addr string
	pipe *Pipeline
	set  *codecs.Set
	topo *topology.Topology
}

func startStack(t *testing.T, partitions int) *testStack {
	t.Helper()
	return startStackWith(t, partitions, nil)
}

// startStackWith starts the stack with edit applied to the options.
func startStackWith(t *testing.T, partitions int, edit func(*Options)) *testStack {
	t.Helper()
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	topo, err := topology.New(topology.Config{Partitions: partitions, Replication: 1})
	if err != nil {
		t.Fatal(err)
	}
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{
		Brokers:  []string{e.Addr()},
		Topology: topo,
		Codecs:   set,
		Tuning:   broker.Tuning{Replication: 1, BatchSize: 500, MaxConcurrency: 5, FromOldest: true},
		Logger:   zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
	}
	if edit != nil {
		edit(&opts)
	}
	pd := startPod(t, opts)
	t.Cleanup(func() { pd.stop(t) })
	return &testStack{addr: e.Addr(), pipe: pd.p, set: set, topo: topo}
}

// pod is a running Pipeline.
type pod struct {
	p      *Pipeline
	cancel func()
	done   chan error
}

// startPod runs a Pipeline with opts until it is ready; stop it with
// stop.
func startPod(t *testing.T, opts Options) *pod {
	t.Helper()
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.EnsureTopics(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	pd := &pod{p: p, cancel: cancel, done: done}
	rctx, rcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer rcancel()
	if err := p.WaitReady(rctx); err != nil {
		pd.stop(t)
		t.Fatal(err)
	}
	return pd
}

func (p *pod) stop(t *testing.T) {
	t.Helper()
	p.cancel()
	if err := <-p.done; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("pod: %v", err)
	}
}

// consumeAll reads topics from the start until want records arrived or
// the timeout passed, and returns what it read.
func consumeAll(t *testing.T, addr string, want int, timeout time.Duration, topics ...string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fs.EachError(func(topic string, p int32, err error) { t.Logf("fetch %s/%d: %v", topic, p, err) })
		out = append(out, dataRecords(fs.Records())...)
	}
	// Read a little longer: anything beyond want is a duplicate or a stray.
	lctx, lcancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer lcancel()
	out = append(out, dataRecords(cl.PollFetches(lctx).Records())...)
	return out
}

// dataRecords drops watermark records (package watermark): they carry
// event-time progress, no data.
func dataRecords(recs []*kgo.Record) []*kgo.Record {
	out := recs[:0]
	for _, r := range recs {
		wm := false
		for _, h := range r.Headers {
			wm = wm || h.Key == watermark.HeaderKind && string(h.Value) == watermark.KindWatermark
		}
		if !wm {
			out = append(out, r)
		}
	}
	return out
}

func decodeEvent(t *testing.T, set *codecs.Set, r *kgo.Record) *schemas.LogEvent {
	t.Helper()
	ev, err := set.LogEvent.Unmarshal(r.Value)
	if err != nil {
		t.Fatalf("%s/%d@%d does not decode as LogEvent: %v", r.Topic, r.Partition, r.Offset, err)
	}
	return ev
}
