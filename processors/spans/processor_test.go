package spans_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"strings"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/lovoo/goka/tester"
	"github.com/prometheus/client_golang/prometheus"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/parse"
	"github.com/logstream/logstream/processors/spans"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/watermark"
)

var quiet = log.New(io.Discard, "", 0)

type harness struct {
	tt    *tester.Tester
	p     *spans.Processor
	spans *tester.QueueTracker
	dlq   *tester.QueueTracker
}

var deadLetterTime = time.UnixMilli(1_700_000_000_000)

func newHarness(t *testing.T) *harness { return newHarnessWith(t, nil) }

func newHarnessWith(t *testing.T, edit func(*spans.Config)) *harness {
	t.Helper()
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	cfg := spans.Config{Spans: "spans", DeadLetters: "logs.dlq", Now: func() time.Time { return deadLetterTime }}
	if edit != nil {
		edit(&cfg)
	}
	p, err := spans.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tt := tester.New(t)
	g := goka.DefineGroup("spans-adapter",
		goka.Input("otlp.spans", new(codec.Bytes), p.Process),
		goka.Output("spans", set.Span),
		goka.Output("logs.dlq", set.DeadLetter),
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
	return &harness{tt: tt, p: p, spans: tt.NewQueueTracker("spans"), dlq: tt.NewQueueTracker("logs.dlq")}
}

// emitted returns every span emitted since the last call, checking keys.
func (h *harness) emitted(t *testing.T) []schemas.Span {
	t.Helper()
	var out []schemas.Span
	for {
		key, v, ok := h.spans.Next()
		if !ok {
			return out
		}
		s := v.(*schemas.Span)
		if key != s.TraceID {
			t.Fatalf("span keyed by %q, want its trace id %q", key, s.TraceID)
		}
		out = append(out, *s)
	}
}

func (h *harness) deadLetters(t *testing.T) []*schemas.DeadLetter {
	t.Helper()
	var out []*schemas.DeadLetter
	for {
		_, v, ok := h.dlq.Next()
		if !ok {
			return out
		}
		out = append(out, v.(*schemas.DeadLetter))
	}
}

func checkDeadLetter(t *testing.T, dl *schemas.DeadLetter, value []byte, key string, reason ...string) {
	t.Helper()
	if !bytes.Equal(dl.OriginalValue, value) || string(dl.OriginalKey) != key {
		t.Errorf("dead letter keeps key %q and %d bytes, want %q and %d", dl.OriginalKey, len(dl.OriginalValue), key, len(value))
	}
	if dl.Stage != "spans" || dl.SourceTopic != "otlp.spans" || dl.Time != deadLetterTime.UnixMilli() {
		t.Errorf("dead letter %+v", dl)
	}
	for _, r := range reason {
		if !strings.Contains(dl.Error, r) {
			t.Errorf("dead letter reason %q lacks %q", dl.Error, r)
		}
	}
}

func TestProcessGoodBatch(t *testing.T) {
	h := newHarness(t)
	data := goodBatch(t)
	want, _, err := spans.FromOTLP(data)
	if err != nil {
		t.Fatal(err)
	}
	h.tt.Consume("otlp.spans", "", data)
	got := h.emitted(t)
	if len(got) != 3 {
		t.Fatalf("emitted %d spans, want 3", len(got))
	}
	for i := range got {
		// Avro gives an empty map where FromOTLP has nil.
		if len(got[i].Attributes) == 0 {
			got[i].Attributes = nil
		}
		if got[i].TraceID != want[i].TraceID || got[i].SpanID != want[i].SpanID || got[i].Operation != want[i].Operation ||
			got[i].Start != want[i].Start || got[i].DurationUs != want[i].DurationUs || got[i].Status != want[i].Status ||
			got[i].Service != want[i].Service || got[i].Host != want[i].Host || len(got[i].Attributes) != len(want[i].Attributes) {
			t.Errorf("span %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if dls := h.deadLetters(t); len(dls) != 0 {
		t.Fatalf("dead letters %+v", dls)
	}
	if s := h.p.Stats().Snapshot(); s != (spans.StatsSnapshot{Messages: 1, Spans: 3}) {
		t.Errorf("stats %+v", s)
	}
}

func TestProcessRejectedSpan(t *testing.T) {
	h := newHarness(t)
	data := marshal(t, resourceSpans("checkout-api", "web-1",
		&tracepb.Span{TraceId: id(t, trace1), SpanId: id(t, root1), Name: "POST /api/v1/checkout", StartTimeUnixNano: t0, EndTimeUnixNano: t0 + 2e6},
		&tracepb.Span{SpanId: id(t, child1), ParentSpanId: id(t, root1), Name: "db.query", StartTimeUnixNano: t0, EndTimeUnixNano: t0 + 1e6},
		&tracepb.Span{TraceId: id(t, trace1), SpanId: id(t, root2), ParentSpanId: id(t, root1), Name: "cache.get", StartTimeUnixNano: t0, EndTimeUnixNano: t0 + 1e6},
		&tracepb.Span{TraceId: id(t, trace2), SpanId: make([]byte, 8), Name: "zero", StartTimeUnixNano: t0, EndTimeUnixNano: t0 + 1e6},
	))
	h.tt.Consume("otlp.spans", trace1, data)
	got := h.emitted(t)
	if len(got) != 2 || got[0].Operation != "POST /api/v1/checkout" || got[1].Operation != "cache.get" {
		t.Fatalf("good spans %+v", got)
	}
	dls := h.deadLetters(t)
	if len(dls) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dls))
	}
	checkDeadLetter(t, dls[0], data, trace1,
		"2 of 4 spans rejected", `span 1 "db.query": trace id is empty`, `span 3 "zero": span id is all zeros`)
	if s := h.p.Stats().Snapshot(); s != (spans.StatsSnapshot{Messages: 1, Spans: 2, Rejected: 2, DeadLetters: 1}) {
		t.Errorf("stats %+v", s)
	}
}

func TestProcessGarbage(t *testing.T) {
	h := newHarness(t)
	data := []byte("<html>502 Bad Gateway</html>")
	h.tt.Consume("otlp.spans", "k", data)
	if got := h.emitted(t); len(got) != 0 {
		t.Fatalf("garbage emitted %+v", got)
	}
	dls := h.deadLetters(t)
	if len(dls) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dls))
	}
	checkDeadLetter(t, dls[0], data, "k", "spans: not an OTLP trace export")
	if s := h.p.Stats().Snapshot(); s != (spans.StatsSnapshot{Messages: 1, DeadLetters: 1}) {
		t.Errorf("stats %+v", s)
	}
}

func TestProcessEmptyMessage(t *testing.T) {
	h := newHarness(t)
	h.tt.Consume("otlp.spans", "", []byte{})
	empty := marshal(t, resourceSpans("svc", "h")) // a resource with no spans
	h.tt.Consume("otlp.spans", "", empty)
	if got := h.emitted(t); len(got) != 0 {
		t.Fatalf("empty message emitted %+v", got)
	}
	dls := h.deadLetters(t)
	if len(dls) != 2 {
		t.Fatalf("%d dead letters, want 2", len(dls))
	}
	checkDeadLetter(t, dls[0], nil, "", spans.ErrNoSpans.Error())
	checkDeadLetter(t, dls[1], empty, "", spans.ErrNoSpans.Error())
	if s := h.p.Stats().Snapshot(); s != (spans.StatsSnapshot{Messages: 2, DeadLetters: 2}) {
		t.Errorf("stats %+v", s)
	}
}

func TestProcessNegativeDuration(t *testing.T) {
	h := newHarness(t)
	data := marshal(t, resourceSpans("svc", "h",
		&tracepb.Span{TraceId: id(t, trace1), SpanId: id(t, root1), Name: "skewed", StartTimeUnixNano: t0 + 1e6, EndTimeUnixNano: t0},
		&tracepb.Span{TraceId: id(t, trace1), SpanId: id(t, child1), Name: "fine", StartTimeUnixNano: t0, EndTimeUnixNano: t0 + 1e6},
	))
	h.tt.Consume("otlp.spans", "", data)
	got := h.emitted(t)
	if len(got) != 2 || got[0].DurationUs != 0 || got[1].DurationUs != 1000 {
		t.Fatalf("spans %+v", got)
	}
	if dls := h.deadLetters(t); len(dls) != 0 {
		t.Fatalf("dead letters %+v", dls)
	}
	if s := h.p.Stats().Snapshot(); s != (spans.StatsSnapshot{Messages: 1, Spans: 2, NegativeDurations: 1}) {
		t.Errorf("stats %+v", s)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []spans.Config{
		{DeadLetters: "dlq"},
		{Spans: "spans"},
		{Spans: "x", DeadLetters: "x"},
	} {
		if _, err := spans.New(c); err == nil || !strings.HasPrefix(err.Error(), "spans: ") {
			t.Errorf("%+v: err %v", c, err)
		}
	}
	if _, err := spans.New(spans.Config{Spans: "spans", DeadLetters: "dlq"}); err != nil {
		t.Error(err)
	}
}

// The stage's metrics share names with the parse stage's: one registry must
// take both collectors.
func TestCollectorBesideParse(t *testing.T) {
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	pp, err := parse.New(parse.Config{Events: "e", DeadLetters: "d", PartitionOf: func([]byte) int32 { return 0 }, RawLogs: set.RawLog, Encode: set.LogEvent})
	if err != nil {
		t.Fatal(err)
	}
	sp, err := spans.New(spans.Config{Spans: "s", DeadLetters: "d"})
	if err != nil {
		t.Fatal(err)
	}
	sp.Stats().Spans.Add(7)
	reg := prometheus.NewRegistry()
	if err := reg.Register(pp.Stats().Collector()); err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(sp.Stats().Collector()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() != "logstream_stage_records_out_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["stage"] == "spans" && labels["output"] == "spans" && m.GetCounter().GetValue() == 7 {
				found = true
			}
		}
	}
	if !found {
		t.Error("logstream_stage_records_out_total{stage=spans,output=spans} 7 not gathered")
	}
}

// With Origins, every message's spans are followed by the progress of its
// partition (the latest span end read there) on each partition of the
// spans topic, once per second of event time: the join holds its event
// time at the slowest partition of the Collector's topic.
func TestProcessWritesProgress(t *testing.T) {
	const out = 3
	keyFor := func(p int32) string { return fmt.Sprintf("key-of-%d", p) }
	h := newHarnessWith(t, func(c *spans.Config) {
		c.Origins, c.KeyFor = watermark.NewOrigins("otlp.spans", out, time.Second), keyFor
	})
	data := goodBatch(t)
	got, _, err := spans.FromOTLP(data)
	if err != nil {
		t.Fatal(err)
	}
	var end int64
	for _, s := range got {
		end = max(end, (s.Start+s.DurationUs)/1000)
	}
	progress := func(offset int64) {
		t.Helper()
		var n int
		for {
			hd, key, v, ok := h.spans.NextRawWithHeaders()
			if !ok {
				break
			}
			if string(hd[watermark.HeaderKind]) != watermark.KindWatermark {
				if n > 0 {
					t.Fatalf("a span (key %q) after the watermark records", key)
				}
				continue
			}
			want := fmt.Sprintf("otlp.spans/0:%d:%d", end, offset)
			if key != keyFor(int32(n)) || string(v) != want || string(hd[watermark.HeaderStamp]) != want {
				t.Fatalf("watermark record %d: key %q value %q stamp %q; want key %q and stamp %q", n, key, v, hd[watermark.HeaderStamp], keyFor(int32(n)), want)
			}
			n++
		}
		if n != out {
			t.Fatalf("%d watermark records, want one per partition (%d)", n, out)
		}
	}
	h.tt.Consume("otlp.spans", "", data)
	progress(0)
	// The same progress again: nothing new to say.
	h.tt.Consume("otlp.spans", "", data)
	for {
		hd, _, _, ok := h.spans.NextRawWithHeaders()
		if !ok {
			break
		}
		if string(hd[watermark.HeaderKind]) == watermark.KindWatermark {
			t.Fatal("a watermark record for progress every partition had heard")
		}
	}
	if s := h.p.Stats().Snapshot(); s.Watermarks != out || s.Spans != 2*int64(len(got)) {
		t.Fatalf("stats %+v", s)
	}
}
