package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/deadletter"
	"github.com/logstream/logstream/registry"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
	"github.com/logstream/logstream/watermark"
)

// TestRollingSchemaUpgrade is a rolling deploy of LogEvent v2 on the
// embedded broker. A pod built before v2 (its LogEvent codec pinned to v1,
// knowing no later fingerprint) parses the first half of the lines; then a
// v2 pod parses the second half, so logs.parsed holds records of both
// versions, as it does mid-deploy. Three downstream readers then consume
// the whole topic, each a goka processor that decodes its input itself and
// dead-letters what it cannot read (as every logstream stage does):
//
//   - a v2 reader reads every record; v1 records have the default cluster "";
//   - a v1 reader with a schema registry fetches v2's schema by fingerprint
//     and reads every record as v1 (the cluster field skipped);
//   - a v1 reader without a registry reads the v1 records and dead-letters
//     each v2 record with a reason naming v2's fingerprint: nothing is
//     dropped silently and nothing crashes.
func TestRollingSchemaUpgrade(t *testing.T) {
	if testing.Short() {
		t.Skip("runs goka processors on the embedded broker")
	}
	const half = 300
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	addr := e.Addr()
	topo, err := topology.New(topology.Config{Partitions: 3, Replication: 1})
	if err != nil {
		t.Fatal(err)
	}
	tuning := broker.Tuning{Replication: 1, BatchSize: 500, MaxConcurrency: 5, FromOldest: true}
	oldSet, err := codecs.NewSet(codecs.WithVersion(schemas.NameLogEvent, 1))
	if err != nil {
		t.Fatal(err)
	}
	// The step under test is v1 → v2 (v2 added cluster); later versions
	// only add the join's fields.
	newSet, err := codecs.NewSet(codecs.WithVersion(schemas.NameLogEvent, 2))
	if err != nil {
		t.Fatal(err)
	}
	v1, v2 := oldSet.LogEvent.Version(), newSet.LogEvent.Version()
	if v1.Version != 1 || v2.Version != 2 {
		t.Fatalf("codec versions %d and %d, want 1 and 2", v1.Version, v2.Version)
	}

	// Phase 1: the old pod parses the first half; phase 2: the new one.
	for phase, set := range []*codecs.Set{oldSet, newSet} {
		p, err := New(Options{Brokers: []string{addr}, Topology: topo, Codecs: set, Tuning: tuning, Cluster: "eu-west-1",
			Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.EnsureTopics(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		produceLines(t, addr, phase*half, half)
		got := consumeAll(t, addr, (phase+1)*half, 60*time.Second, topology.TopicParsed)
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("phase %d pipeline: %v", phase+1, err)
		}
		if len(got) != (phase+1)*half {
			t.Fatalf("phase %d: logs.parsed has %d records, want %d", phase+1, len(got), (phase+1)*half)
		}
	}
	// The topic now holds both versions, told apart by fingerprint.
	byFP := map[uint64]int{}
	for _, r := range consumeAll(t, addr, 2*half, 30*time.Second, topology.TopicParsed) {
		fp, _ := codecs.Fingerprint(r.Value)
		byFP[fp]++
	}
	if byFP[v1.Fingerprint] != half || byFP[v2.Fingerprint] != half || len(byFP) != 2 {
		t.Fatalf("logs.parsed by fingerprint: %v; want %d of v1 (%016x) and %d of v2 (%016x)", byFP, half, v1.Fingerprint, half, v2.Fingerprint)
	}

	cat, err := schemas.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	h, err := registry.NewHandler(cat, registry.Subjects(topo.Topics(), cat))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	client, err := registry.NewClient(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	oldWithRegistry, err := codecs.NewSet(codecs.WithVersion(schemas.NameLogEvent, 1), codecs.WithSource(client))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("v2 reader reads v1 records", func(t *testing.T) {
		evs, dead := readParsed(t, addr, "evolution-v2", newSet, tuning, 2*half)
		if len(dead) != 0 || len(evs) != 2*half {
			t.Fatalf("read %d events and %d dead letters, want %d and 0: %v", len(evs), len(dead), 2*half, dead)
		}
		clusters := map[string]int{}
		for _, ev := range evs {
			clusters[ev.Cluster]++
			checkEvent(t, ev)
		}
		if clusters[""] != half || clusters["eu-west-1"] != half {
			t.Fatalf("clusters %v: want %d v1 records with the default \"\" and %d v2 records with eu-west-1", clusters, half, half)
		}
	})
	t.Run("v1 reader with registry reads v2 records", func(t *testing.T) {
		evs, dead := readParsed(t, addr, "evolution-v1-registry", oldWithRegistry, tuning, 2*half)
		if len(dead) != 0 || len(evs) != 2*half {
			t.Fatalf("read %d events and %d dead letters, want %d and 0: %v", len(evs), len(dead), 2*half, dead)
		}
		for _, ev := range evs {
			if ev.Cluster != "" {
				t.Fatalf("a v1 reader saw cluster %q: v1 has no such field", ev.Cluster)
			}
			checkEvent(t, ev)
		}
	})
	t.Run("v1 reader without registry dead-letters v2 records", func(t *testing.T) {
		evs, dead := readParsed(t, addr, "evolution-v1-alone", oldSet, tuning, 2*half)
		if len(evs) != half || len(dead) != half {
			t.Fatalf("read %d events and %d dead letters, want %d and %d", len(evs), len(dead), half, half)
		}
		want := fmt.Sprintf("fingerprint %016x", v2.Fingerprint)
		for _, d := range dead {
			if !strings.Contains(d.Error, want) || d.Stage != "evolution-reader" || d.SourceTopic != topology.TopicParsed {
				t.Fatalf("dead letter %+v: want stage evolution-reader, source %s and a reason naming %s", d, topology.TopicParsed, want)
			}
			if fp, _ := codecs.Fingerprint(d.OriginalValue); fp != v2.Fingerprint {
				t.Fatalf("dead letter keeps bytes of fingerprint %016x, want v2's", fp)
			}
		}
	})
}

func checkEvent(t *testing.T, ev *schemas.LogEvent) {
	t.Helper()
	if !strings.HasPrefix(ev.Host, "web-") || !strings.Contains(ev.Message, "req-") || ev.EventID == "" {
		t.Fatalf("event decoded wrong: %+v", ev)
	}
}

// produceLines writes n plain JSON lines, numbered from first, to logs.raw.
func produceLines(t *testing.T, addr string, first, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(topology.Partitioner()), kgo.DefaultProduceTopic(topology.TopicRaw))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := first; i < first+n; i++ {
		host := fmt.Sprintf("web-%d", i%5+1)
		line := fmt.Sprintf(`{"ts":"2026-11-21T10:00:%02d.%03dZ","level":"info","msg":"served req-%d","service":"checkout"}`, i%60, i%1000, i)
		recs = append(recs, &kgo.Record{Key: []byte(host), Value: []byte(line)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// readParsed runs a goka processor in its own group over logs.parsed, as a
// downstream stage would, until it has handled want records; it returns
// what it decoded and the dead letters it wrote.
func readParsed(t *testing.T, addr, group string, set *codecs.Set, tuning broker.Tuning, want int) ([]*schemas.LogEvent, []*schemas.DeadLetter) {
	t.Helper()
	var (
		mu     sync.Mutex
		events []*schemas.LogEvent
		dlqOff = map[int64]bool{}
	)
	dlq := &deadletter.Writer{Stage: "evolution-reader", Topic: goka.Stream(topology.TopicDLQ)}
	g := goka.DefineGroup(goka.Group(group),
		goka.Input(goka.Stream(topology.TopicParsed), new(codec.Bytes), func(ctx goka.Context, msg any) {
			if string(ctx.Headers()[watermark.HeaderKind]) == watermark.KindWatermark {
				return // event-time progress, not an event
			}
			ev, ok := deadletter.Decode(ctx, msg, set.LogEvent, dlq)
			mu.Lock()
			defer mu.Unlock()
			if ok {
				events = append(events, ev)
			} else {
				dlqOff[int64(ctx.Partition())<<40|ctx.Offset()] = true
			}
		}),
		goka.Output(goka.Stream(topology.TopicDLQ), set.DeadLetter),
	)
	proc, err := goka.NewProcessor([]string{addr}, g, broker.ProcessorOptions(tuning)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- proc.Run(ctx) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(events) + len(dlqOff)
		mu.Unlock()
		if n >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("reader %s: %v", group, err)
	}
	// The dead letters this reader wrote, read back from the topic.
	var dead []*schemas.DeadLetter
	mu.Lock()
	nDead := len(dlqOff)
	mu.Unlock()
	if nDead > 0 {
		// Only this test's last reader writes dead letters.
		for _, r := range consumeAll(t, addr, nDead, 30*time.Second, topology.TopicDLQ) {
			d, err := set.DeadLetter.Unmarshal(r.Value)
			if err != nil {
				t.Fatalf("dead letter does not decode: %v", err)
			}
			if d.Stage == "evolution-reader" {
				dead = append(dead, d)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return events, dead
}
