package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

// The generated traffic: parsed access-log events of five hosts, about
// 260 B of Avro each, with ids as parse.EventID makes them (32 hex digits).

var (
	hosts    = [...]string{"pay-gw-1", "pay-gw-2", "pay-gw-3", "pay-gw-4", "pay-gw-5"}
	paths    = [...]string{"/api/v1/pay", "/api/v1/refund", "/api/v1/items", "/api/v1/cart", "/healthz"}
	statuses = [...]int32{200, 200, 200, 201, 204, 404, 500}
)

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// hexID returns 2×8 bytes of hash of (salt, i) as 32 hex digits.
func hexID(salt uint64, i int) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], splitmix(salt^uint64(i)*0x100000001b3))
	binary.BigEndian.PutUint64(b[8:], splitmix(uint64(i)+salt*0x9e3779b97f4a7c15))
	return hex.EncodeToString(b[:])
}

func ptr[T any](v T) *T { return &v }

// event returns the i-th distinct event of a run whose event time starts
// at base (ms); 1,000 events per millisecond of event time, so even 10M
// ids span 10 s, far inside any TTL.
func event(salt uint64, i int, base int64) *schemas.LogEvent {
	h := splitmix(uint64(i) ^ salt)
	host := hosts[h%uint64(len(hosts))]
	path := paths[(h>>8)%uint64(len(paths))]
	status := statuses[(h>>16)%uint64(len(statuses))]
	lat := float64((h>>24)%50000) / 100
	level := schemas.LevelInfo
	if status >= 500 {
		level = schemas.LevelError
	}
	return &schemas.LogEvent{
		EventID:   hexID(salt, i),
		Timestamp: base + int64(i/1000),
		Host:      host, Service: "payment-gateway", Level: level,
		Message:    fmt.Sprintf("POST %s %d %.2fms req=%d", path, status, lat, h>>40),
		HTTPStatus: ptr(status), LatencyMs: ptr(lat),
		K8sNamespace: ptr("payments"), K8sPod: ptr(host + "-7d9f8b6c5d-x2x9q"), K8sContainer: ptr("gateway"),
		Labels: map[string]string{"method": "POST", "path": path},
		Source: "/var/log/containers/" + host + "_payments_gateway.log", Format: "combined", Cluster: "eu-west-1",
	}
}

// dedupeInput describes a stream of events for dedupe: new ids in order,
// and now and then (with probability dups) a repeat of one of the last
// distance distinct ids, as a retrying shipper sends them.
type dedupeInput struct {
	salt     uint64
	dups     float64
	distance int
	base     int64
}

// plan calls fn(i) for every record in order, i being the distinct
// event's index, and stops after total records (total > 0) or after
// distinct ids (distinct > 0, with no repeat after the last). It returns
// the number of records and of distinct ids.
func (d dedupeInput) plan(total, distinct int, fn func(i int) error) (records, ids int, err error) {
	r := rand.New(rand.NewPCG(d.salt, 7))
	next := 0
	for {
		if total > 0 && records == total || distinct > 0 && next == distinct {
			return records, next, nil
		}
		i := next
		if next > 0 && r.Float64() < d.dups {
			i = next - 1 - r.IntN(min(next, d.distance))
		} else {
			next++
		}
		if err := fn(i); err != nil {
			return records, next, err
		}
		records++
	}
}

// producer writes records placed as goka places keys, and remembers the
// first error.
type producer struct {
	cl    *kgo.Client
	first atomic.Pointer[error]
	bytes atomic.Int64
}

func newProducer(brokers []string) (*producer, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(topology.Partitioner()),
		kgo.MaxBufferedRecords(200000), kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		return nil, err
	}
	return &producer{cl: cl}, nil
}

func (p *producer) produce(ctx context.Context, topic, key string, value []byte, headers ...kgo.RecordHeader) {
	p.bytes.Add(int64(len(value)))
	p.cl.Produce(ctx, &kgo.Record{Topic: topic, Key: []byte(key), Value: value, Headers: headers}, func(_ *kgo.Record, err error) {
		if err != nil {
			p.first.CompareAndSwap(nil, &err)
		}
	})
}

func (p *producer) close(ctx context.Context) error {
	defer p.cl.Close()
	if err := p.cl.Flush(ctx); err != nil {
		return err
	}
	if e := p.first.Load(); e != nil {
		return *e
	}
	return nil
}

// fillParsed writes a dedupe input to logs.parsed and returns its counts.
func fillParsed(ctx context.Context, brokers []string, set *codecs.Set, in dedupeInput, total, distinct int, progress bool) (records, ids int, bytes int64, err error) {
	p, err := newProducer(brokers)
	if err != nil {
		return 0, 0, 0, err
	}
	start, last := time.Now(), time.Now()
	records, ids, err = in.plan(total, distinct, func(i int) error {
		ev := event(in.salt, i, in.base)
		v, err := set.LogEvent.Marshal(ev)
		if err != nil {
			return err
		}
		// With the routing headers parse writes beside each event.
		var hs []kgo.RecordHeader
		for k, v := range schemas.RoutingOf(ev).Headers(nil) {
			hs = append(hs, kgo.RecordHeader{Key: k, Value: v})
		}
		p.produce(ctx, topology.TopicParsed, ev.EventID, v, hs...)
		if progress && i%100000 == 0 && time.Since(last) > 5*time.Second {
			last = time.Now()
			fmt.Fprintf(os.Stderr, "  fill: %d ids written (%.0f/s)\n", i, float64(i)/time.Since(start).Seconds())
		}
		return nil
	})
	if err != nil {
		p.cl.Close()
		return 0, 0, 0, err
	}
	if err := p.close(ctx); err != nil {
		return 0, 0, 0, err
	}
	return records, ids, p.bytes.Load(), nil
}

// fillJoin writes n events with trace ids to logs.unique (keyed by event
// id, as dedupe writes them) and their traces' spans to the spans topic:
// four events per trace, a root span and one child span per trace; the
// first event names no span (it joins the root), the second the root, the
// last two the child. The spans are written after the trace's second
// event, so some events arrive before their span and some after. Every
// event finds its span: nothing waits for the window.
func fillJoin(ctx context.Context, brokers []string, set *codecs.Set, salt uint64, n int, base int64) (spans int, bytes int64, err error) {
	p, err := newProducer(brokers)
	if err != nil {
		return 0, 0, err
	}
	for i := 0; i < n; i++ {
		t := i / 4
		trace := hexID(salt^0xabcdef, t)
		root, child := trace[:16], trace[16:]
		ev := event(salt, i, base)
		ev.TraceID = ptr(trace)
		switch i % 4 {
		case 1:
			ev.SpanID = ptr(root)
		case 2, 3:
			ev.SpanID = ptr(child)
		}
		v, err := set.LogEvent.Marshal(ev)
		if err != nil {
			p.cl.Close()
			return 0, 0, err
		}
		// With the routing headers dedupe passes on from parse.
		var hs []kgo.RecordHeader
		for k, v := range schemas.RoutingOf(ev).Headers(nil) {
			hs = append(hs, kgo.RecordHeader{Key: k, Value: v})
		}
		p.produce(ctx, topology.TopicUnique, ev.EventID, v, hs...)
		if i%4 == 1 || i == n-1 && i%4 == 0 {
			start := ev.Timestamp*1000 - 9000
			for _, sp := range []*schemas.Span{
				{TraceID: trace, SpanID: root, Service: "payment-gateway", Operation: "POST /api/v1/pay",
					Start: start, DurationUs: 8000, Status: schemas.SpanOK, Host: ev.Host},
				{TraceID: trace, SpanID: child, ParentSpanID: ptr(root), Service: "ledger", Operation: "INSERT entries",
					Start: start + 1000, DurationUs: 3000, Status: schemas.SpanOK, Host: ev.Host},
			} {
				v, err := set.Span.Marshal(sp)
				if err != nil {
					p.cl.Close()
					return 0, 0, err
				}
				p.produce(ctx, topology.TopicSpans, trace, v)
				spans++
			}
		}
	}
	if err := p.close(ctx); err != nil {
		return 0, 0, err
	}
	return spans, p.bytes.Load(), nil
}
