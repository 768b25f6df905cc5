package spans_test

import (
	"bytes"
	"encoding/hex"
	"math"
	"reflect"
	"strings"
	"testing"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/spans"
	"github.com/logstream/logstream/schemas"
)

// --- builders of OTLP messages ----------------------------------------------

func id(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

func kv(k string, v *commonpb.AnyValue) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: v}
}

func resourceSpans(service, host string, sps ...*tracepb.Span) *tracepb.ResourceSpans {
	var attrs []*commonpb.KeyValue
	if service != "" {
		attrs = append(attrs, str("service.name", service))
	}
	if host != "" {
		attrs = append(attrs, str("host.name", host))
	}
	attrs = append(attrs, str("telemetry.sdk.language", "go"))
	return &tracepb.ResourceSpans{
		Resource:   &resourcepb.Resource{Attributes: attrs},
		ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: "test"}, Spans: sps}},
	}
}

func marshal(t testing.TB, rs ...*tracepb.ResourceSpans) []byte {
	t.Helper()
	b, err := proto.Marshal(&tracepb.TracesData{ResourceSpans: rs})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	trace1 = "4bf92f3577b34da6a3ce929d0e0e4736"
	trace2 = "0af7651916cd43dd8448eb211c80319c"
	root1  = "00f067aa0ba902b7"
	child1 = "b7ad6b7169203331"
	root2  = "53995c3f42cd8ad8"
)

// t0 is 2026-11-01T12:00:00Z in ns.
const t0 = uint64(1793534400) * 1e9

func goodBatch(t testing.TB) []byte {
	return marshal(t,
		resourceSpans("payments", "web-3",
			&tracepb.Span{TraceId: id(t, trace1), SpanId: id(t, root1), Name: "POST /api/v1/payments",
				StartTimeUnixNano: t0, EndTimeUnixNano: t0 + 3_050_123_456,
				Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "upstream timeout"},
				Attributes: []*commonpb.KeyValue{
					str("http.request.method", "POST"),
					kv("http.response.status_code", &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: 503}}),
				}},
			&tracepb.Span{TraceId: id(t, trace1), SpanId: id(t, child1), ParentSpanId: id(t, root1), Name: "db.query",
				StartTimeUnixNano: t0 + 1_000_000, EndTimeUnixNano: t0 + 3_013_000_000,
				Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR}},
		),
		resourceSpans("", "",
			&tracepb.Span{TraceId: id(t, trace2), SpanId: id(t, root2), ParentSpanId: make([]byte, 8), Name: "GET /healthz",
				StartTimeUnixNano: t0 + 5000, EndTimeUnixNano: t0 + 5000 + 999, // 0.999 µs: rounds down to 0
				Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_OK}},
		),
	)
}

func ptr(s string) *string { return &s }

func TestFromOTLPMapping(t *testing.T) {
	got, rejects, err := spans.FromOTLP(goodBatch(t))
	if err != nil || len(rejects) != 0 {
		t.Fatalf("err %v, rejects %v", err, rejects)
	}
	want := []schemas.Span{
		{TraceID: trace1, SpanID: root1, Service: "payments", Host: "web-3", Operation: "POST /api/v1/payments",
			Start: int64(t0 / 1000), DurationUs: 3_050_123, Status: schemas.SpanError,
			Attributes: map[string]string{"http.request.method": "POST", "http.response.status_code": "503", "otel.status_description": "upstream timeout"}},
		{TraceID: trace1, SpanID: child1, ParentSpanID: ptr(root1), Service: "payments", Host: "web-3", Operation: "db.query",
			Start: int64(t0/1000) + 1000, DurationUs: 3_012_000, Status: schemas.SpanError},
		{TraceID: trace2, SpanID: root2, Service: "unknown_service", Operation: "GET /healthz",
			Start: int64(t0/1000) + 5, DurationUs: 0, Status: schemas.SpanOK},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%+v\nwant\n%+v", got, want)
	}
}

func TestAttributeRendering(t *testing.T) {
	arr := func(vs ...*commonpb.AnyValue) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vs}}}
	}
	s := func(v string) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}
	}
	i := func(v int64) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: v}}
	}
	d := func(v float64) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: v}}
	}
	b := func(v bool) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_BoolValue{BoolValue: v}}
	}
	attrs := []*commonpb.KeyValue{
		kv("s", s("a \"quoted\" value")),
		kv("i", i(-42)),
		kv("d", d(0.25)),
		kv("big", d(1e21)),
		kv("b", b(true)),
		kv("bytes", &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{0xde, 0xad}}}),
		kv("arr", arr(s("x"), i(1), d(math.NaN()), b(false), arr())),
		kv("kv", &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: []*commonpb.KeyValue{
			kv("z", s("tab\there")), kv("a", arr(i(2), i(3))), kv("nil", &commonpb.AnyValue{}),
		}}}}),
		kv("empty", &commonpb.AnyValue{}),
		kv("absent", nil),
	}
	data := marshal(t, resourceSpans("svc", "h", &tracepb.Span{TraceId: id(t, trace1), SpanId: id(t, root1), Name: "op", Attributes: attrs}))
	got, _, err := spans.FromOTLP(data)
	if err != nil || len(got) != 1 {
		t.Fatalf("%v %v", got, err)
	}
	want := map[string]string{
		"s":      `a "quoted" value`,
		"i":      "-42",
		"d":      "0.25",
		"big":    "1e+21",
		"b":      "true",
		"bytes":  "3q0=",
		"arr":    `["x",1,"NaN",false,[]]`,
		"kv":     `{"z":"tab\there","a":[2,3],"nil":null}`,
		"empty":  "",
		"absent": "",
	}
	if !reflect.DeepEqual(got[0].Attributes, want) {
		t.Fatalf("attributes\n%q\nwant\n%q", got[0].Attributes, want)
	}
}

func TestRoundTrip(t *testing.T) {
	in, _, err := spans.FromOTLP(goodBatch(t))
	if err != nil {
		t.Fatal(err)
	}
	// Interleave resources: ToOTLP groups them, FromOTLP returns them by
	// resource, each resource's spans in their order.
	in = append(in, schemas.Span{TraceID: trace2, SpanID: "1111111111111111", ParentSpanID: ptr(root2), Service: "payments", Host: "web-3",
		Operation: "cache.get", Start: 1, DurationUs: 2, Attributes: map[string]string{"k": "v", "otel.status_description": "miss"}})
	data, err := spans.ToOTLP(in)
	if err != nil {
		t.Fatal(err)
	}
	out, rejects, err := spans.FromOTLP(data)
	if err != nil || len(rejects) != 0 {
		t.Fatalf("%v %v", err, rejects)
	}
	want := []schemas.Span{in[0], in[1], in[3], in[2]}
	if !reflect.DeepEqual(out, want) {
		t.Fatalf("round trip\n%+v\nwant\n%+v", out, want)
	}
	// Through the Avro codec too: what the stage emits is what a reader gets.
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	for i := range out {
		b, err := set.Span.Marshal(&out[i])
		if err != nil {
			t.Fatal(err)
		}
		back, err := set.Span.Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if back.TraceID != out[i].TraceID || back.SpanID != out[i].SpanID || back.DurationUs != out[i].DurationUs || back.Status != out[i].Status {
			t.Fatalf("avro round trip: %+v, want %+v", back, out[i])
		}
	}
}

func TestToOTLPErrors(t *testing.T) {
	good := schemas.Span{TraceID: trace1, SpanID: root1, Service: "s", Operation: "op", Start: 1}
	for name, mut := range map[string]func(*schemas.Span){
		"short trace id":  func(s *schemas.Span) { s.TraceID = "abc" },
		"non-hex span id": func(s *schemas.Span) { s.SpanID = "zzzzzzzzzzzzzzzz" },
		"bad parent":      func(s *schemas.Span) { s.ParentSpanID = ptr("12") },
		"negative start":  func(s *schemas.Span) { s.Start = -1 },
		"negative dur":    func(s *schemas.Span) { s.DurationUs = -1 },
		"overflow":        func(s *schemas.Span) { s.Start = math.MaxInt64 },
	} {
		s := good
		mut(&s)
		if _, err := spans.ToOTLP([]schemas.Span{good, s}); err == nil || !strings.HasPrefix(err.Error(), "spans: span 1 ") {
			t.Errorf("%s: err %v", name, err)
		}
	}
	if b, err := spans.ToOTLP(nil); err != nil || len(b) != 0 {
		t.Errorf("no spans: %x %v", b, err)
	}
}

func TestRejects(t *testing.T) {
	good := func(name string, span string) *tracepb.Span {
		return &tracepb.Span{TraceId: id(t, trace1), SpanId: id(t, span), Name: name, StartTimeUnixNano: t0, EndTimeUnixNano: t0 + 1000}
	}
	bad := func(name string, mut func(*tracepb.Span)) *tracepb.Span {
		s := good(name, root2)
		mut(s)
		return s
	}
	data := marshal(t,
		resourceSpans("a", "h1",
			good("first", root1),
			bad("no trace", func(s *tracepb.Span) { s.TraceId = nil }),
			bad("short trace", func(s *tracepb.Span) { s.TraceId = s.TraceId[:8] }),
		),
		resourceSpans("b", "h2",
			bad("zero trace", func(s *tracepb.Span) { s.TraceId = make([]byte, 16) }),
			bad("no span", func(s *tracepb.Span) { s.SpanId = nil }),
			bad("zero span", func(s *tracepb.Span) { s.SpanId = make([]byte, 8) }),
			bad("long span", func(s *tracepb.Span) { s.SpanId = make([]byte, 9) }),
			bad("bad parent", func(s *tracepb.Span) { s.ParentSpanId = []byte{1, 2, 3} }),
			good("last", child1),
		),
	)
	got, rejects, err := spans.FromOTLP(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Operation != "first" || got[1].Operation != "last" || got[1].Service != "b" {
		t.Fatalf("good spans %+v", got)
	}
	want := []spans.Reject{
		{1, "no trace", "trace id is empty"},
		{2, "short trace", "trace id has 8 bytes, want 16"},
		{3, "zero trace", "trace id is all zeros"},
		{4, "no span", "span id is empty"},
		{5, "zero span", "span id is all zeros"},
		{6, "long span", "span id has 9 bytes, want 8"},
		{7, "bad parent", "parent span id has 3 bytes, want 8"},
	}
	if !reflect.DeepEqual(rejects, want) {
		t.Fatalf("rejects\n%+v\nwant\n%+v", rejects, want)
	}
	if s := want[0].String(); s != `span 1 "no trace": trace id is empty` {
		t.Errorf("Reject.String() = %s", s)
	}
}

func TestNegativeDuration(t *testing.T) {
	data := marshal(t, resourceSpans("a", "", &tracepb.Span{TraceId: id(t, trace1), SpanId: id(t, root1), Name: "clock skew",
		StartTimeUnixNano: t0 + 5_000_000, EndTimeUnixNano: t0}))
	got, rejects, err := spans.FromOTLP(data)
	if err != nil || len(rejects) != 0 || len(got) != 1 {
		t.Fatalf("%v %v %v", got, rejects, err)
	}
	if got[0].DurationUs != 0 || got[0].Start != int64(t0/1000)+5000 {
		t.Fatalf("span %+v", got[0])
	}
}

func TestNotOTLP(t *testing.T) {
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	avro, err := set.Span.Marshal(&schemas.Span{TraceID: trace1, SpanID: root1})
	if err != nil {
		t.Fatal(err)
	}
	valid := goodBatch(t)
	for name, data := range map[string][]byte{
		"text":            []byte("hello world, this is not protobuf"),
		"json":            []byte(`{"resourceSpans":[]}`),
		"avro span":       avro,
		"truncated":       valid[:len(valid)/2],
		"trailing junk":   append(append([]byte(nil), valid...), 0xff),
		"unknown field":   {0x10, 0x01}, // field 2 varint: TracesData has none
		"unknown fields":  {0x10, 0x01, 0x18, 0x02},
		"gzip magic":      {0x1f, 0x8b, 0x08, 0x00},
		"bad utf8 string": marshalBadUTF8(t),
	} {
		got, rejects, err := spans.FromOTLP(data)
		if err == nil || !strings.HasPrefix(err.Error(), "spans: ") || got != nil || rejects != nil {
			t.Errorf("%s: spans %v rejects %v err %v", name, got, rejects, err)
		}
	}
}

// marshalBadUTF8 is a span whose name is not UTF-8, which proto3 forbids.
func marshalBadUTF8(t *testing.T) []byte {
	good := marshal(t, resourceSpans("a", "", &tracepb.Span{TraceId: id(t, trace1), SpanId: id(t, root1), Name: "NAME"}))
	i := bytes.Index(good, []byte("NAME"))
	bad := append([]byte(nil), good...)
	bad[i] = 0xff
	return bad
}

func TestEmpty(t *testing.T) {
	for _, data := range [][]byte{nil, {}} {
		got, rejects, err := spans.FromOTLP(data)
		if got != nil || rejects != nil || err != nil {
			t.Errorf("FromOTLP(%v) = %v %v %v", data, got, rejects, err)
		}
	}
	// A request with one empty ResourceSpans is valid and holds nothing.
	got, rejects, err := spans.FromOTLP(marshal(t, &tracepb.ResourceSpans{}))
	if len(got) != 0 || rejects != nil || err != nil {
		t.Errorf("empty resource: %v %v %v", got, rejects, err)
	}
}
