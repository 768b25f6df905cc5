package tail

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/watermark"
)

const topic = "logs.parsed"

var eventTime = time.Date(2026, 11, 1, 12, 0, 0, 123e6, time.UTC)

func ptr[T any](v T) *T { return &v }

func event(id, host string) *schemas.LogEvent {
	return &schemas.LogEvent{
		EventID:    id,
		Timestamp:  eventTime.UnixMilli(),
		Host:       host,
		Service:    "payments",
		Level:      schemas.LevelError,
		Message:    "card declined <visa> & retried",
		TraceID:    ptr("4bf92f3577b34da6a3ce929d0e0e4736"),
		HTTPStatus: ptr[int32](402),
		LatencyMs:  ptr(12.5),
		// A label named like a union branch: must stay a map entry.
		Labels:  map[string]string{"string": "x", "method": "POST"},
		Source:  "app.log",
		Format:  "json",
		Cluster: "eu-1",
	}
}

func mustSet(t *testing.T, opts ...codecs.Option) *codecs.Set {
	t.Helper()
	s, err := codecs.NewSet(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func marshal(t *testing.T, s *codecs.Set, ev *schemas.LogEvent) []byte {
	t.Helper()
	b, err := s.LogEvent.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixture is what populate writes to partition 0; partition 1 gets
// p1Lines plain lines and partition 2 stays empty.
type fixture struct {
	v2, corrupt, malformed, short, unknownID []byte
}

const p1Lines = 3

func populate(t *testing.T, addr string) fixture {
	t.Helper()
	var f fixture
	f.v2 = marshal(t, mustSet(t), event("ev-2", "web-1"))
	v1 := marshal(t, mustSet(t, codecs.WithVersion("LogEvent", 1)), event("ev-1", "web-2"))
	confluent := marshal(t, mustSet(t, codecs.WithWire(codecs.WireConfluent)), event("ev-c", "web-3"))
	if confluent[0] != 0 {
		t.Fatalf("WithWire(WireConfluent) wrote % x, not a Confluent frame", confluent[:5])
	}
	f.corrupt = binary.LittleEndian.AppendUint64([]byte{0xC3, 0x01}, 0x0123456789abcdef)
	f.corrupt = append(f.corrupt, "junk"...)
	f.malformed = append(append([]byte(nil), f.v2[:10]...), 0xff, 0xff, 0xff)
	f.short = []byte{0xC3, 0x01, 0x05}
	f.unknownID = []byte{0, 0, 0, 0, 99, 2, 3}

	rec := func(p int32, key, value []byte) *kgo.Record {
		return &kgo.Record{Topic: topic, Partition: p, Key: key, Value: value, Timestamp: eventTime}
	}
	r0 := rec(0, []byte("web-1"), f.v2)
	r0.Headers = []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-abc-01")}, {Key: "raw", Value: []byte{0xff}}}
	recs := []*kgo.Record{
		r0,                          // 0
		rec(0, []byte("web-2"), v1), // 1
		rec(0, nil, confluent),      // 2
		rec(0, []byte("web-1"), []byte("GET /index.html <b>&amp; 200")), // 3
		rec(0, []byte{0xff, 0x00}, []byte{0xff, 0xfe, 'x'}),             // 4
		rec(0, []byte("web-1"), f.corrupt),                              // 5
		rec(0, []byte("web-1"), f.malformed),                            // 6
		rec(0, []byte("gone"), nil),                                     // 7: tombstone
		rec(0, []byte("web-1"), f.short),                                // 8
		rec(0, []byte("web-1"), f.unknownID),                            // 9
		rec(0, []byte(""), []byte{}),                                    // 10: empty key, empty value
	}
	for i := range p1Lines {
		recs = append(recs, rec(1, []byte("web-9"), fmt.Appendf(nil, "p1 line %d", i)))
	}
	produce(t, addr, recs...)
	return f
}

func TestFromBeginningToEnd(t *testing.T) {
	addr := startBroker(t, topic, 3)
	f := populate(t, addr)

	var started []Position
	out, sum, err := runTail(t, Config{
		Brokers: []string{addr}, Topic: topic, FromBeginning: true, ExitAtEnd: true,
		Codecs:  mustSet(t),
		OnStart: func(ps []Position) { started = ps },
	})
	if err != nil {
		t.Fatal(err)
	}
	wantStart := []Position{{0, 0, 11}, {1, 0, p1Lines}, {2, 0, 0}}
	if fmt.Sprint(started) != fmt.Sprint(wantStart) {
		t.Errorf("OnStart got %v, want %v", started, wantStart)
	}
	t.Logf("output:\n%s", out)
	lines := parseLines(t, out)
	want := Summary{Records: 11 + p1Lines, Decoded: 3, Plain: 3 + p1Lines, Failed: 4, Tombstones: 1}
	if sum != want {
		t.Errorf("summary %+v, want %+v", sum, want)
	}
	if len(lines) != want.Records {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), want.Records, out)
	}

	byOffset := map[int64]line{}
	var p1 []line
	for _, l := range lines {
		if l.str("topic") != topic {
			t.Errorf("line for topic %q", l.str("topic"))
		}
		if l.str("timestamp") != "2026-11-01T12:00:00.123Z" {
			t.Errorf("timestamp %q", l.str("timestamp"))
		}
		switch l.num("partition") {
		case 0:
			byOffset[l.num("offset")] = l
		case 1:
			p1 = append(p1, l)
		default:
			t.Errorf("line from partition %d", l.num("partition"))
		}
	}
	for i, l := range p1 {
		if l.num("offset") != int64(i) || l.str("value") != fmt.Sprintf("p1 line %d", i) || l.str("wire") != "plain" {
			t.Errorf("partition 1 line %d: %v", i, l)
		}
	}
	if len(byOffset) != 11 {
		t.Fatalf("partition 0 offsets %v, want 0-10 once each", len(byOffset))
	}

	// 0: LogEvent v2, single-object, with headers.
	l := byOffset[0]
	expect(t, l, "key", "web-1")
	expect(t, l, "wire", "single-object")
	expect(t, l, "schema", latestLogEvent)
	v := l.value()
	for k, want := range map[string]string{
		"event_id": "ev-2", "host": "web-1", "level": "ERROR", "cluster": "eu-1",
		"timestamp": "2026-11-01T12:00:00.123Z", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
		"message": "card declined <visa> & retried",
	} {
		if v[k] != want {
			t.Errorf("offset 0 value.%s = %#v, want %q", k, v[k], want)
		}
	}
	if n, _ := v["http_status"].(json.Number); n != "402" {
		t.Errorf("http_status %#v, want 402", v["http_status"])
	}
	if n, _ := v["latency_ms"].(json.Number); n != "12.5" {
		t.Errorf("latency_ms %#v, want 12.5", v["latency_ms"])
	}
	if v["span_id"] != nil {
		t.Errorf("span_id %#v, want null", v["span_id"])
	}
	if _, ok := v["span_id"]; !ok {
		t.Error("span_id missing; a null field must be printed as null")
	}
	if labels, _ := v["labels"].(map[string]any); labels["string"] != "x" || labels["method"] != "POST" || len(labels) != 2 {
		t.Errorf("labels %#v: a label named string must stay a map entry", v["labels"])
	}
	hs, _ := l["headers"].([]any)
	if len(hs) != 2 || fmt.Sprint(hs[0]) != "map[key:traceparent value:00-abc-01]" ||
		fmt.Sprint(hs[1]) != "map[key:raw value:map[base64:/w==]]" {
		t.Errorf("headers %v", l["headers"])
	}
	if !strings.Contains(out, "<visa> & retried") {
		t.Error("HTML characters were escaped; the output must show log text as is")
	}

	// 1: LogEvent v1 has no cluster.
	l = byOffset[1]
	expect(t, l, "schema", "LogEvent v1")
	expect(t, l, "wire", "single-object")
	if _, ok := l.value()["cluster"]; ok {
		t.Errorf("v1 record shows a cluster field: %v", l.value())
	}
	if l.value()["event_id"] != "ev-1" {
		t.Errorf("v1 event_id %v", l.value()["event_id"])
	}

	// 2: Confluent-framed v2, null key.
	l = byOffset[2]
	expect(t, l, "wire", "confluent")
	expect(t, l, "schema", latestLogEvent)
	if k, ok := l["key"]; !ok || k != nil {
		t.Errorf("null key printed as %#v (present %v), want null", k, ok)
	}
	if l.value()["cluster"] != "eu-1" || l.value()["event_id"] != "ev-c" {
		t.Errorf("confluent value %v", l.value())
	}

	// 3: plain text.
	l = byOffset[3]
	expect(t, l, "wire", "plain")
	expect(t, l, "value", "GET /index.html <b>&amp; 200")
	if _, ok := l["schema"]; ok {
		t.Errorf("plain line has a schema: %v", l)
	}

	// 4: plain, neither key nor value UTF-8.
	l = byOffset[4]
	expect(t, l, "wire", "plain")
	expect(t, l, "key_base64", base64.StdEncoding.EncodeToString([]byte{0xff, 0x00}))
	expect(t, l, "value_base64", base64.StdEncoding.EncodeToString([]byte{0xff, 0xfe, 'x'}))
	for _, k := range []string{"key", "value", "error"} {
		if _, ok := l[k]; ok {
			t.Errorf("offset 4 has %s: %v", k, l)
		}
	}

	// 5-9: failures, each with its reason and the raw bytes.
	for off, c := range map[int64]struct {
		raw          []byte
		wire, schema string
		errHas       string
	}{
		5: {f.corrupt, "single-object", "fingerprint 0123456789abcdef", "0123456789abcdef"},
		6: {f.malformed, "single-object", latestLogEvent, "malformed"},
		8: {f.short, "single-object", "", "shorter than the 10-byte"},
		9: {f.unknownID, "confluent", "id 99", "99"},
	} {
		l := byOffset[off]
		expect(t, l, "wire", c.wire)
		expect(t, l, "schema", c.schema)
		expect(t, l, "value_base64", base64.StdEncoding.EncodeToString(c.raw))
		if !strings.Contains(l.str("error"), c.errHas) {
			t.Errorf("offset %d error %q lacks %q", off, l.str("error"), c.errHas)
		}
		if _, ok := l["value"]; ok {
			t.Errorf("offset %d failed but has a value: %v", off, l)
		}
	}

	// 7: tombstone.
	l = byOffset[7]
	expect(t, l, "key", "gone")
	if v, ok := l["value"]; !ok || v != nil {
		t.Errorf("tombstone value %#v (present %v), want null", v, ok)
	}
	for _, k := range []string{"wire", "schema", "error"} {
		if _, ok := l[k]; ok {
			t.Errorf("tombstone has %s: %v", k, l)
		}
	}

	// 10: empty key and empty value are empty strings, not null.
	l = byOffset[10]
	if k, ok := l["key"]; !ok || k != "" {
		t.Errorf("empty key %#v (present %v), want \"\"", k, ok)
	}
	if v, ok := l["value"]; !ok || v != "" {
		t.Errorf("empty value %#v (present %v), want \"\"", v, ok)
	}
	expect(t, l, "wire", "plain")
}

// expect checks a string field; want "" means the field is absent.
func expect(t *testing.T, l line, key, want string) {
	t.Helper()
	got, ok := l[key]
	if want == "" {
		if ok {
			t.Errorf("offset %d: %s = %#v, want it absent", l.num("offset"), key, got)
		}
		return
	}
	if got != want {
		t.Errorf("offset %d: %s = %#v, want %q", l.num("offset"), key, got, want)
	}
}

func TestMax(t *testing.T) {
	addr := startBroker(t, topic, 3)
	populate(t, addr)
	out, sum, err := runTail(t, Config{Brokers: []string{addr}, Topic: topic, FromBeginning: true, Max: 5, Partitions: []int32{0}})
	if err != nil {
		t.Fatal(err)
	}
	lines := parseLines(t, out)
	if len(lines) != 5 || sum.Records != 5 {
		t.Fatalf("%d lines, summary %+v; want 5:\n%s", len(lines), sum, out)
	}
	for i, l := range lines {
		if l.num("offset") != int64(i) {
			t.Errorf("line %d is offset %d", i, l.num("offset"))
		}
	}
	// Max with more partitions than records left: stops at the count, not
	// at the end of the first fetch.
	out, sum, err = runTail(t, Config{Brokers: []string{addr}, Topic: topic, FromBeginning: true, Max: 12})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(parseLines(t, out)); n != 12 || sum.Records != 12 {
		t.Errorf("Max 12: %d lines, summary %+v", n, sum)
	}
}

func TestPartition(t *testing.T) {
	addr := startBroker(t, topic, 3)
	populate(t, addr)
	out, sum, err := runTail(t, Config{Brokers: []string{addr}, Topic: topic, FromBeginning: true, ExitAtEnd: true, Partitions: []int32{1}})
	if err != nil {
		t.Fatal(err)
	}
	lines := parseLines(t, out)
	if len(lines) != p1Lines || sum != (Summary{Records: p1Lines, Plain: p1Lines}) {
		t.Fatalf("partition 1: %d lines, summary %+v:\n%s", len(lines), sum, out)
	}
	for _, l := range lines {
		if l.num("partition") != 1 {
			t.Errorf("line from partition %d", l.num("partition"))
		}
	}

	// An empty partition with ExitAtEnd ends at once.
	out, sum, err = runTail(t, Config{Brokers: []string{addr}, Topic: topic, FromBeginning: true, ExitAtEnd: true, Partitions: []int32{2}})
	if err != nil || out != "" || sum.Records != 0 {
		t.Errorf("empty partition: %v, %+v, %q", err, sum, out)
	}

	_, _, err = runTail(t, Config{Brokers: []string{addr}, Topic: topic, Partitions: []int32{7}})
	if !errors.Is(err, ErrUnknownPartition) {
		t.Fatalf("partition 7: %v, want ErrUnknownPartition", err)
	}
	for _, s := range []string{topic, "0-2", "7"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func TestUnknownTopic(t *testing.T) {
	addr := startBroker(t, topic, 1)
	_, _, err := runTail(t, Config{Brokers: []string{addr}, Topic: "logs.nope", FromBeginning: true})
	if !errors.Is(err, ErrUnknownTopic) || !strings.Contains(err.Error(), `"logs.nope"`) {
		t.Fatalf("got %v, want ErrUnknownTopic naming logs.nope", err)
	}
	// Asking about it did not create it.
	_, _, err = runTail(t, Config{Brokers: []string{addr}, Topic: "logs.nope"})
	if !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("second look: %v; the first lookup created the topic?", err)
	}
}

func TestStartAtEnd(t *testing.T) {
	addr := startBroker(t, topic, 3)
	populate(t, addr) // 11 old records in partition 0, 3 in partition 1

	// With ExitAtEnd and no FromBeginning there is nothing to read.
	out, sum, err := runTail(t, Config{Brokers: []string{addr}, Topic: topic, ExitAtEnd: true})
	if err != nil || out != "" || sum.Records != 0 {
		t.Fatalf("start at end with ExitAtEnd: %v, %+v, %q", err, sum, out)
	}

	// Records produced after OnStart are read, the old ones are not.
	set := mustSet(t)
	const fresh = 4
	cfg := Config{Brokers: []string{addr}, Topic: topic, Max: fresh, Codecs: set}
	cfg.OnStart = func([]Position) {
		go func() {
			var recs []*kgo.Record
			for i := range fresh {
				recs = append(recs, &kgo.Record{Topic: topic, Partition: int32(i % 2), Key: []byte("new"),
					Value: marshal(t, set, event(fmt.Sprintf("new-%d", i), "web-1"))})
			}
			produce(t, addr, recs...)
		}()
	}
	out, sum, err = runTail(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	lines := parseLines(t, out)
	if len(lines) != fresh || sum != (Summary{Records: fresh, Decoded: fresh}) {
		t.Fatalf("%d lines, summary %+v:\n%s", len(lines), sum, out)
	}
	oldEnd := map[int64]int64{0: 11, 1: p1Lines}
	for _, l := range lines {
		if l.str("key") != "new" || !strings.HasPrefix(l.value()["event_id"].(string), "new-") {
			t.Errorf("read an old record: %v", l)
		}
		if l.num("offset") < oldEnd[l.num("partition")] {
			t.Errorf("offset %d of partition %d is before the end at start", l.num("offset"), l.num("partition"))
		}
	}
}

func TestCancelEndsCleanly(t *testing.T) {
	addr := startBroker(t, topic, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := Config{Brokers: []string{addr}, Topic: topic, OnStart: func([]Position) { cancel() }}
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, cfg, io.Discard)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
}

// closingWriter takes n writes, then fails as a pipe whose reader left.
type closingWriter struct {
	n   atomic.Int32
	err error
}

func (w *closingWriter) Write(p []byte) (int, error) {
	if w.n.Add(-1) < 0 {
		return 0, w.err
	}
	return len(p), nil
}

func TestOutputClosed(t *testing.T) {
	addr := startBroker(t, topic, 3)
	populate(t, addr)
	for _, werr := range []error{syscall.EPIPE, io.ErrClosedPipe, fmt.Errorf("write |1: %w", syscall.EPIPE)} {
		w := &closingWriter{err: werr}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		sum, err := Run(ctx, Config{Brokers: []string{addr}, Topic: topic, FromBeginning: true}, w)
		if ctx.Err() != nil {
			t.Fatalf("%v: Run went on after its output closed", werr)
		}
		cancel()
		if err != nil || !sum.OutputClosed {
			t.Errorf("%v: got %v, %+v; want a nil error and OutputClosed", werr, err, sum)
		}
	}

	// Any other write error is reported.
	disk := errors.New("no space left on device")
	w := &closingWriter{err: disk}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sum, err := Run(ctx, Config{Brokers: []string{addr}, Topic: topic, FromBeginning: true}, w)
	if !errors.Is(err, disk) || sum.OutputClosed {
		t.Errorf("disk full: %v, %+v; want the write error", err, sum)
	}
}

func TestValidate(t *testing.T) {
	ok := Config{Brokers: []string{"b:9092"}, Topic: "t"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("minimal config: %v", err)
	}
	for name, c := range map[string]Config{
		"brokers":   {Topic: "t"},
		"topic":     {Brokers: []string{"b"}},
		"partition": {Brokers: []string{"b"}, Topic: "t", Partitions: []int32{-1}},
		"max":       {Brokers: []string{"b"}, Topic: "t", Max: -1},
		"timeout":   {Brokers: []string{"b"}, Topic: "t", LookupTimeout: -time.Second},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
		if _, err := Run(context.Background(), c, io.Discard); err == nil {
			t.Errorf("%s: Run accepted the config", name)
		}
	}
}

func TestUnreachableBrokerFailsFast(t *testing.T) {
	start := time.Now()
	_, err := Run(context.Background(), Config{Brokers: []string{"127.0.0.1:1"}, Topic: topic, LookupTimeout: time.Second}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("got %v, want an error naming the broker", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v despite a 1s lookup timeout", d)
	}
}

// A transaction ends with a marker that takes an offset but is no record:
// ExitAtEnd must still see the partition end, and the marker is not printed.
func TestExitAtEndAfterTransactions(t *testing.T) {
	addr := startBroker(t, topic, 1)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.TransactionalID("tail-test"), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, commit := range []kgo.TransactionEndTry{kgo.TryAbort, kgo.TryCommit} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if err := cl.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "line %d commit=%v", i, commit)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.EndTransaction(ctx, commit); err != nil {
			t.Fatal(err)
		}
	}

	var end int64
	out, sum, err := runTail(t, Config{Brokers: []string{addr}, Topic: topic, FromBeginning: true, ExitAtEnd: true,
		OnStart: func(ps []Position) { end = ps[0].End }})
	if err != nil {
		t.Fatal(err)
	}
	if end != 6 {
		t.Errorf("end offset %d, want 6 (4 records, 2 markers)", end)
	}
	// read_uncommitted: the aborted records are printed too.
	lines := parseLines(t, out)
	if len(lines) != 4 || sum.Records != 4 {
		t.Fatalf("%d lines, summary %+v:\n%s", len(lines), sum, out)
	}
}

// latestLogEvent labels the LogEvent version this build writes.
var latestLogEvent = func() string {
	c, err := codecs.NewLogEvent()
	if err != nil {
		panic(err)
	}
	return c.Version().Label()
}()

// TestWatermarkRecordsSkipped: the watermark records beside the events
// on logs.parsed and logs.unique are counted, not printed.
func TestWatermarkRecordsSkipped(t *testing.T) {
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := broker.EnsureTopics([]string{e.Addr()}, broker.Tuning{Replication: 1}, map[string]int{"logs.unique": 1}, nil); err != nil {
		t.Fatal(err)
	}
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addr()), kgo.DefaultProduceTopic("logs.unique"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ev, _ := set.LogEvent.Marshal(&schemas.LogEvent{EventID: "a", Timestamp: 1, Host: "web-1", Message: "hello"})
	v, h := watermark.Record(watermark.Stamp{Channel: "logs.raw/0", Kind: watermark.Time, Time: 1, Seq: 0})
	wm := &kgo.Record{Value: v}
	for k, x := range h {
		wm.Headers = append(wm.Headers, kgo.RecordHeader{Key: k, Value: x})
	}
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: ev}, wm, &kgo.Record{Value: ev}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sum, err := Run(context.Background(), Config{Brokers: []string{e.Addr()}, Topic: "logs.unique", FromBeginning: true, ExitAtEnd: true, Codecs: set}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Records != 2 || sum.Watermarks != 1 || strings.Count(out.String(), "\n") != 2 || strings.Contains(out.String(), "logs.raw/0") {
		t.Fatalf("summary %+v, output:\n%s", sum, out.String())
	}
}
