package parse_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/lovoo/goka/tester"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/parse"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/watermark"
)

// quiet drops goka's per-test chatter.
var quiet = log.New(io.Discard, "", 0)

const (
	in     = goka.Stream("raw")
	events = goka.Stream("events")
	dlq    = goka.Stream("dlq")
	group  = goka.Group("parse-test")
)

type harness struct {
	tt     *tester.Tester
	p      *parse.Processor
	set    *codecs.Set
	events *tester.QueueTracker
	dlq    *tester.QueueTracker
}

// newHarness runs the parse callback in goka's synchronous tester, which
// has one partition: every key is "at home" there.
func newHarness(t *testing.T, maxPartial int) *harness {
	return newClusterHarness(t, maxPartial, "")
}

func newClusterHarness(t *testing.T, maxPartial int, cluster string) *harness {
	t.Helper()
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	p, err := parse.New(parse.Config{
		Events: events, DeadLetters: dlq,
		PartitionOf:     func([]byte) int32 { return 0 },
		RawLogs:         set.RawLog,
		Encode:          set.LogEvent,
		MaxPartialBytes: maxPartial,
		Now:             func() time.Time { return time.UnixMilli(1_700_000_000_000) },
		Cluster:         cluster,
	})
	if err != nil {
		t.Fatal(err)
	}
	tt := tester.New(t)
	g := goka.DefineGroup(group,
		goka.Input(in, new(codec.Bytes), p.Process),
		goka.Output(events, new(codec.Bytes)),
		goka.Output(dlq, set.DeadLetter),
		goka.Persist(set.ParseState),
	)
	proc, err := goka.NewProcessor(nil, g, goka.WithTester(tt), goka.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- proc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("processor: %v", err)
		}
	})
	return &harness{tt: tt, p: p, set: set, events: tt.NewQueueTracker(string(events)), dlq: tt.NewQueueTracker(string(dlq))}
}

func (h *harness) raw(t *testing.T, r *schemas.RawLog) []byte {
	t.Helper()
	b, err := h.set.RawLog.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (h *harness) nextEvent(t *testing.T) *schemas.LogEvent {
	t.Helper()
	key, v, ok := h.events.Next()
	if !ok {
		t.Fatal("no event emitted")
	}
	ev, err := h.set.LogEvent.Unmarshal(v.([]byte))
	if err != nil {
		t.Fatal(err)
	}
	if key != ev.EventID {
		t.Fatalf("event keyed by %q, want its event id %q", key, ev.EventID)
	}
	return ev
}

func (h *harness) noMore(t *testing.T) {
	t.Helper()
	if _, v, ok := h.events.Next(); ok {
		t.Fatalf("unexpected extra event %+v", v)
	}
	if _, v, ok := h.dlq.Next(); ok {
		t.Fatalf("unexpected extra dead letter %+v", v)
	}
}

func TestAvroRawLogBecomesEvent(t *testing.T) {
	h := newHarness(t, 0)
	line := `{"ts":"2026-11-01T12:00:00.250Z","level":"error","msg":"timeout after 3012 ms to 10.0.4.7:3306","service":"payments","trace_id":"4BF92F3577B34DA6A3CE929D0E0E4736","status":503,"latency_ms":3012.5}`
	h.tt.Consume(string(in), "web-3", h.raw(t, &schemas.RawLog{Host: "web-3", Source: "/var/log/app.log", Line: line, ReceivedAt: 1, Labels: map[string]string{"env": "prod"}}))
	ev := h.nextEvent(t)
	if ev.Host != "web-3" || ev.Level != schemas.LevelError || ev.Service != "payments" || ev.Source != "/var/log/app.log" || ev.Format != "json" {
		t.Fatalf("event fields wrong: %+v", ev)
	}
	if ev.Timestamp != time.Date(2026, 11, 1, 12, 0, 0, 250e6, time.UTC).UnixMilli() {
		t.Errorf("timestamp %d not taken from the line", ev.Timestamp)
	}
	if ev.TraceID == nil || *ev.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("trace id %v", ev.TraceID)
	}
	if ev.HTTPStatus == nil || *ev.HTTPStatus != 503 || ev.LatencyMs == nil || *ev.LatencyMs != 3012.5 {
		t.Errorf("status/latency %v %v", ev.HTTPStatus, ev.LatencyMs)
	}
	if ev.Labels["env"] != "prod" || ev.ParseError != nil {
		t.Errorf("labels %v parse error %v", ev.Labels, ev.ParseError)
	}
	if len(ev.EventID) != 32 {
		t.Errorf("event id %q", ev.EventID)
	}
	h.noMore(t)
	if got := h.p.Stats().In.Load(); got != 1 {
		t.Errorf("in counter %d", got)
	}
}

func TestPlainLineUsesKeyAsHostAndRecordTime(t *testing.T) {
	h := newHarness(t, 0)
	h.tt.Consume(string(in), "web-1", []byte("this is not a known format at all\r\n"))
	ev := h.nextEvent(t)
	if ev.Host != "web-1" || ev.Level != schemas.LevelUnknown || ev.Message != "this is not a known format at all" || ev.ParseError == nil || ev.Format != "none" {
		t.Fatalf("unparsed line handled wrong: %+v", ev)
	}
	if ev.Timestamp == 0 {
		t.Error("no timestamp for a line without one")
	}
	h.noMore(t)
}

func TestHostFromLineWhenNoKey(t *testing.T) {
	h := newHarness(t, 0)
	h.tt.Consume(string(in), "", []byte("<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed for lonvick on /dev/pts/8"))
	ev := h.nextEvent(t)
	if ev.Host != "mymachine" || ev.Format != "syslog3164" {
		t.Fatalf("host %q format %q", ev.Host, ev.Format)
	}
}

func TestUndecodableRecordsAreDeadLettered(t *testing.T) {
	h := newHarness(t, 0)
	good := h.raw(t, &schemas.RawLog{Host: "web-2", Source: "s", Line: "x", ReceivedAt: 1})
	unknownFP := append([]byte(nil), good...)
	unknownFP[2] ^= 0xff
	cases := map[string][]byte{
		"truncated avro":       good[:len(good)-3],
		"unknown fingerprint":  unknownFP,
		"not text":             {0xff, 0xfe, 0x00, 0x80},
		"empty":                {},
		"only newline":         []byte("\n"),
		"bare marker":          {0xC3, 0x01},
		"unknown confluent id": {0, 0, 0, 3, 0xe7, 2, 'h'},
		"short confluent":      {0, 0, 1},
	}
	for name, v := range cases {
		h.tt.Consume(string(in), "web-2", v)
		key, val, ok := h.dlq.Next()
		if !ok {
			t.Fatalf("%s: no dead letter", name)
		}
		dl := val.(*schemas.DeadLetter)
		if key != "web-2" || string(dl.OriginalKey) != "web-2" || string(dl.OriginalValue) != string(v) || dl.Stage != "parse" || dl.SourceTopic != string(in) || dl.Error == "" {
			t.Fatalf("%s: dead letter %+v", name, dl)
		}
		t.Logf("%s: %s", name, dl.Error)
		if name == "unknown fingerprint" {
			fp, _ := codecs.Fingerprint(v)
			if want := fmt.Sprintf("fingerprint %016x", fp); !strings.Contains(dl.Error, want) {
				t.Errorf("reason %q does not name the %s", dl.Error, want)
			}
		}
		if name == "unknown confluent id" && !strings.Contains(dl.Error, "schema id 999") {
			t.Errorf("reason %q does not name schema id 999", dl.Error)
		}
	}
	h.noMore(t)
	if got := h.p.Stats().DeadLetters.Load(); got != int64(len(cases)) {
		t.Errorf("dead-letter counter %d, want %d", got, len(cases))
	}
}

func TestSameLineSameEventID(t *testing.T) {
	h := newHarness(t, 0)
	r := &schemas.RawLog{Host: "web-4", Source: "/var/log/nginx/access.log", ReceivedAt: 5,
		Line: `10.0.0.1 - - [01/Nov/2026:12:00:00 +0000] "GET /pay HTTP/1.1" 200 12 "-" "curl/8" 0.012`}
	h.tt.Consume(string(in), "web-4", h.raw(t, r))
	h.tt.Consume(string(in), "web-4", h.raw(t, r))
	a, b := h.nextEvent(t), h.nextEvent(t)
	if a.EventID != b.EventID {
		t.Fatalf("a re-sent line got a new id: %s vs %s", a.EventID, b.EventID)
	}
	r.Line += " "
	h.tt.Consume(string(in), "web-4", h.raw(t, r))
	if c := h.nextEvent(t); c.EventID == a.EventID {
		t.Fatal("a different line got the same id")
	}
}

func TestCRIPartialLinesJoined(t *testing.T) {
	h := newHarness(t, 0)
	src := "/var/log/containers/checkout_payments_app-1.log"
	send := func(line string) {
		h.tt.Consume(string(in), "web-5", h.raw(t, &schemas.RawLog{Host: "web-5", Source: src, Line: line, ReceivedAt: 9}))
	}
	send(`2026-11-01T12:00:00.000000001Z stdout P {"level":"warn","msg":"slow `)
	send(`2026-11-01T12:00:00.000000002Z stdout P query on `)
	if _, _, ok := h.events.Next(); ok {
		t.Fatal("a partial line was emitted before its end")
	}
	if v := h.tt.TableValue(goka.GroupTable(group), "web-5"); v == nil {
		t.Fatal("partial parts not held in the group table")
	}
	send(`2026-11-01T12:00:00.000000003Z stdout F orders"}`)
	ev := h.nextEvent(t)
	if ev.Message != "slow query on orders" || ev.Level != schemas.LevelWarn || ev.Format != "cri" {
		t.Fatalf("joined event wrong: %+v", ev)
	}
	if v := h.tt.TableValue(goka.GroupTable(group), "web-5"); v != nil {
		t.Fatalf("state not cleared after the line completed: %+v", v)
	}
	// A complete line on its own needs no state.
	send(`2026-11-01T12:00:01Z stderr F plain error text`)
	if ev := h.nextEvent(t); !strings.Contains(ev.Message, "plain error text") {
		t.Fatalf("single F line: %+v", ev)
	}
	h.noMore(t)
}

func TestCRIPartialOverflowIsEmittedNotLost(t *testing.T) {
	h := newHarness(t, 64)
	for i := 0; i < 3; i++ {
		h.tt.Consume(string(in), "web-5", h.raw(t, &schemas.RawLog{Host: "web-5", Source: "c", ReceivedAt: 1,
			Line: "2026-11-01T12:00:00Z stdout P " + strings.Repeat("x", 40)}))
	}
	ev := h.nextEvent(t)
	if ev.Labels["cri_truncated"] != "true" || len(ev.Message) < 64 {
		t.Fatalf("overflow event %+v", ev)
	}
}

func TestCRIPartialWithForeignKeyIsEmittedAlone(t *testing.T) {
	set, _ := codecs.NewSet()
	p, err := parse.New(parse.Config{Events: events, DeadLetters: dlq, RawLogs: set.RawLog, Encode: set.LogEvent,
		PartitionOf: func([]byte) int32 { return 7 }}) // never the tester's partition
	if err != nil {
		t.Fatal(err)
	}
	tt := tester.New(t)
	g := goka.DefineGroup(group, goka.Input(in, new(codec.Bytes), p.Process), goka.Output(events, new(codec.Bytes)), goka.Output(dlq, set.DeadLetter), goka.Persist(set.ParseState))
	proc, _ := goka.NewProcessor(nil, g, goka.WithTester(tt), goka.WithLogger(quiet))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go proc.Run(ctx)
	q := tt.NewQueueTracker(string(events))
	tt.Consume(string(in), "web-1", []byte("2026-11-01T12:00:00Z stdout P half a line"))
	_, v, ok := q.Next()
	if !ok {
		t.Fatal("partial with a foreign key was dropped")
	}
	if ev, err := set.LogEvent.Unmarshal(v.([]byte)); err != nil || ev.Labels["cri_partial"] != "true" {
		t.Fatalf("labels %v, %v", ev, err)
	}
	if p.Stats().PartialUnjoinable.Load() != 1 {
		t.Error("unjoinable counter not incremented")
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := parse.New(parse.Config{}); err == nil {
		t.Fatal("empty config accepted")
	}
}

// LogEvent.cluster (v2) comes from the shipper's labels, else the
// configured cluster.
func TestClusterFromLabelsOrConfig(t *testing.T) {
	h := newClusterHarness(t, 0, "eu-west-1")
	h.tt.Consume(string(in), "web-1", h.raw(t, &schemas.RawLog{Host: "web-1", Source: "s", Line: "x", ReceivedAt: 1, Labels: map[string]string{"k8s_cluster": "prod-a"}}))
	if ev := h.nextEvent(t); ev.Cluster != "prod-a" {
		t.Fatalf("cluster %q, want the label's prod-a", ev.Cluster)
	}
	h.tt.Consume(string(in), "web-1", []byte(`{"msg":"hi","cluster":"prod-b"}`))
	if ev := h.nextEvent(t); ev.Cluster != "prod-b" {
		t.Fatalf("cluster %q, want the line's prod-b", ev.Cluster)
	}
	h.tt.Consume(string(in), "web-1", []byte("plain"))
	if ev := h.nextEvent(t); ev.Cluster != "eu-west-1" {
		t.Fatalf("cluster %q, want the configured eu-west-1", ev.Cluster)
	}
}

// TestOriginStamps: with Origins, parse stamps every event with its input
// partition's event-time progress (the highest event time parsed there,
// events far ahead of the clock left out), and writes watermark records
// to the output partitions that have not heard it.
func TestOriginStamps(t *testing.T) {
	set, _ := codecs.NewSet()
	now := time.Date(2026, 11, 1, 13, 0, 0, 0, time.UTC)
	origins := watermark.NewOrigins("raw", 2, time.Second)
	p, err := parse.New(parse.Config{Events: events, DeadLetters: dlq, RawLogs: set.RawLog, Encode: set.LogEvent,
		PartitionOf: func(k []byte) int32 { return int32(len(k) % 2) }, Origins: origins,
		KeyFor: func(p int32) string { return fmt.Sprintf("~p%d", p) }, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	tt := tester.New(t)
	g := goka.DefineGroup(group, goka.Input(in, new(codec.Bytes), p.Process), goka.Output(events, new(codec.Bytes)),
		goka.Output(dlq, set.DeadLetter), goka.Persist(set.ParseState))
	proc, _ := goka.NewProcessor(nil, g, goka.WithTester(tt), goka.WithLogger(quiet))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go proc.Run(ctx)
	q := tt.NewQueueTracker(string(events))
	type out struct {
		wm    bool
		stamp string
	}
	next := func() []out {
		var o []out
		for {
			h, _, _, ok := q.NextRawWithHeaders()
			if !ok {
				return o
			}
			o = append(o, out{string(h[watermark.HeaderKind]) == watermark.KindWatermark, string(h[watermark.HeaderStamp])})
		}
	}
	line := func(ts string) []byte { return []byte(`{"ts":"` + ts + `","msg":"x` + ts + `"}`) }
	tt.Consume(string(in), "web-1", line("2026-11-01T12:00:00Z"))
	got := next()
	ms := func(s string) string {
		tm, _ := time.Parse(time.RFC3339, s)
		return strconv.FormatInt(tm.UnixMilli(), 10)
	}
	if len(got) != 2 || got[0].wm || got[0].stamp != "raw/0:"+ms("2026-11-01T12:00:00Z")+":0" || !got[1].wm || got[1].stamp != got[0].stamp {
		t.Fatalf("first record: %+v", got)
	}
	// Half a second later: no partition is due; an older line does not
	// move the stamp; a line from the far future neither.
	tt.Consume(string(in), "web-1", line("2026-11-01T12:00:00.500Z"))
	tt.Consume(string(in), "web-1", line("2026-11-01T11:59:00Z"))
	tt.Consume(string(in), "web-1", line("2026-11-01T15:00:00Z"))
	got = next()
	want := ms("2026-11-01T12:00:00Z")
	if len(got) != 3 || got[0].stamp != "raw/0:"+ms("2026-11-01T12:00:00.500Z")+":1" || !strings.Contains(got[1].stamp, ":2") ||
		!strings.HasPrefix(got[2].stamp, "raw/0:"+ms("2026-11-01T12:00:00.500Z")+":3") || want == "" {
		t.Fatalf("later records: %+v", got)
	}
	// A second on, the other partition hears it.
	tt.Consume(string(in), "web-1", line("2026-11-01T12:00:02Z"))
	if got = next(); len(got) != 2 || !got[1].wm {
		t.Fatalf("a second on: %+v", got)
	}
}
