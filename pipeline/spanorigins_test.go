package pipeline

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/processors/spans"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

// A backlog in which the spans of one partition of the Collector's topic
// come late: the spans stage has read partition 0 to the end (five minutes
// of spans) when the events reach the join, and partition 1 not at all.
// Every partition of the spans topic has read spans five minutes ahead of
// every event, but the join must not take that for the spans' progress:
// the events whose spans are on partition 1 wait, and join when those
// come, as they would have live. (The previous join held its event time
// at the latest span end read per partition, and timed them out.)
func TestJoinWaitsForTheSlowestSpansPartition(t *testing.T) {
	const n = 3000 // events, 100 ms apart, one span each
	t0 := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0", MinSessionTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	addr := e.Addr()
	options := func(stages ...string) Options {
		o := fleetOptions(t, addr, stages...)
		// Nothing goes idle during the test: the wait is the spans' doing.
		o.Watermark.Idle = time.Minute
		o.Join.Idle = 2 * time.Minute
		o.Join.SweepInterval = 100 * time.Millisecond
		return o
	}
	setup, err := New(options())
	if err != nil {
		t.Fatal(err)
	}
	if err := setup.EnsureTopics(); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produce := func(rs []*kgo.Record) {
		t.Helper()
		if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	n32 := int32(fleetOptions(t, addr).Topology.Config().Partitions)
	// One host per partition of logs.raw: every origin of the events'
	// watermark moves, so that it passes the events' windows.
	hosts := map[int32]string{}
	for k := 1; len(hosts) < int(n32); k++ {
		h := fmt.Sprintf("web-%d", k)
		if p := topology.Partition([]byte(h), n32); hosts[p] == "" {
			hosts[p] = h
		}
	}
	var lines []*kgo.Record
	exports := map[int32][]*kgo.Record{} // by partition of otlp.spans
	batch := make([][]schemas.Span, n32)
	flush := func(part int32) {
		if len(batch[part]) == 0 {
			return
		}
		b, err := spans.ToOTLP(batch[part])
		if err != nil {
			t.Fatal(err)
		}
		exports[part] = append(exports[part], &kgo.Record{Topic: topology.TopicOTLPSpans, Partition: part, Value: b})
		batch[part] = nil
	}
	for i := 0; i < n; i++ {
		at := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		host := hosts[int32(i)%n32]
		trace, span := fmt.Sprintf("%032x", i+1), fmt.Sprintf("%016x", i+1)
		v := fmt.Sprintf(`{"ts":%q,"level":"info","msg":"GET /api/pay/%d 200","service":"payments","trace_id":%q,"span_id":%q}`,
			at.Format(time.RFC3339Nano), i, trace, span)
		lines = append(lines, &kgo.Record{Topic: topology.TopicRaw, Partition: topology.Partition([]byte(host), n32), Key: []byte(host),
			Value: []byte(v), Timestamp: at})
		part := int32(i) % n32
		batch[part] = append(batch[part], schemas.Span{TraceID: trace, SpanID: span, Service: "payments", Operation: "POST /v1/charges",
			Start: at.UnixMicro() - 3000, DurationUs: 2000, Status: schemas.SpanOK, Host: host})
		if len(batch[part]) == 50 {
			flush(part)
		}
	}
	slow := n32 - 1
	for part := range n32 {
		flush(part)
	}

	// The spans stage reads every partition's exports to the end but the
	// last one's, of which it reads only the first.
	spanPod := startPod(t, options("spans"))
	defer spanPod.stop(t)
	var early []*kgo.Record
	for part := range slow {
		early = append(early, exports[part]...)
	}
	early = append(early, exports[slow][0])
	produce(early)
	first := n - n/int(n32) + 50
	waitFor(t, "the early spans", func() bool { return spanPod.p.Spans().Stats().Spans.Load() == int64(first) })

	// The events reach the join, and wait there while the sweeps run.
	front := startPod(t, options("parse", "dedupe", "tracejoin"))
	defer front.stop(t)
	produce(lines)
	js := front.p.TraceJoin().Stats()
	waitFor(t, "the events of the early spans to join", func() bool { return js.Joined.Load() == int64(first) && js.Rekeyed.Load() == n })
	// The events' watermark has passed most of their windows: without the
	// spans' progress, the sweeps would time out the events still waiting.
	var ahead bool
	for part := range n32 {
		ahead = ahead || front.p.joinWM.StreamTime(part) > t0.Add(4*time.Minute).UnixMilli()
	}
	if !ahead {
		t.Fatal("the events' watermark did not pass their windows: the test proves nothing")
	}
	time.Sleep(time.Second) // ten sweep intervals
	if got := js.Timeouts.Load(); got != 0 {
		t.Fatalf("%d events timed out while their spans were still queued on partition %d of %s", got, slow, topology.TopicOTLPSpans)
	}
	t.Logf("held %d events for a second while their spans were queued", n-js.Joined.Load())

	// The slow partition's spans come: every event joins.
	produce(exports[slow][1:])
	waitFor(t, "every event to leave the join", func() bool { return js.Joined.Load()+js.Timeouts.Load() == n })
	if got := js.Timeouts.Load(); got != 0 {
		t.Fatalf("%d of %d events timed out, want every one joined", got, n)
	}
	set := front.p.opts.Codecs
	joined := 0
	for _, r := range consumeAll(t, addr, n, 30*time.Second, topology.TopicEnriched) {
		if ev := decodeEvent(t, set, r); ev.JoinStatus == schemas.JoinJoined {
			joined++
		}
	}
	if joined != n {
		t.Fatalf("logs.enriched holds %d joined events, want %d", joined, n)
	}
}

// waitFor polls cond for up to a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
