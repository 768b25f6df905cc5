package codecs

import (
	"fmt"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/logstream/logstream/schemas"
)

// The codec benchmarks run each record through the typed codec (the
// default) and, as "goavro", through the map form the codecs used before
// (goavro plus the hand-written converters, which every version but a
// codec's own still takes), so that one run shows both side by side. The
// LogEvent ones also run hamba/avro's struct codec on a mirror struct (no
// conversion to schemas.LogEvent counted: its best case).

// benchEvent is a typical parsed access-log line from a Kubernetes pod.
func benchEvent() *schemas.LogEvent {
	return &schemas.LogEvent{
		EventID:      "9f86d081884c7d659a2feaa0c55ad015",
		Timestamp:    1767225600123,
		Host:         "ip-10-0-3-17.eu-west-1.compute.internal",
		Service:      "checkout",
		Level:        schemas.LevelInfo,
		Message:      "POST /api/v1/pay 200",
		TraceID:      ptr("4bf92f3577b34da6a3ce929d0e0e4736"),
		SpanID:       ptr("00f067aa0ba902b7"),
		HTTPStatus:   ptr(int32(200)),
		LatencyMs:    ptr(12.5),
		K8sNamespace: ptr("shop"),
		K8sPod:       ptr("checkout-7d9f8b6c5d-x2x9q"),
		K8sContainer: ptr("app"),
		Labels: map[string]string{
			"method":     "POST",
			"path":       "/api/v1/pay",
			"client":     "10.0.7.12",
			"user_agent": "okhttp/4.12.0",
		},
		Source: "/var/log/containers/checkout-7d9f8b6c5d-x2x9q_shop_app-0123.log",
		Format: "json",
	}
}

// benchTraceState is a trace join state with three spans and four held
// events.
func benchTraceState(tb testing.TB) *schemas.TraceState {
	ev := mustBytes(mustSet(tb).LogEvent.Marshal(benchEvent()))
	v := &schemas.TraceState{LastActivity: 1767225600123, AppliedSpans: 1234, AppliedLoop: -1}
	for i := range 3 {
		v.Spans = append(v.Spans, schemas.SpanRef{SpanID: "00f067aa0ba902b7", ParentSpanID: ptr("53995c3f42cd8ad8"),
			Service: "checkout", Operation: "POST /pay", DurationUs: int64(1000 * i), Status: "OK", End: 1767225600123})
	}
	for i := range 4 {
		v.Events = append(v.Events, schemas.HeldEvent{EventID: "9f86d081884c7d659a2feaa0c55ad015", Timestamp: 1767225600123,
			Value: ev, EmittedTopic: "spans", EmittedOffset: int64(i)})
	}
	return v
}

func benchPaths[T any](b *testing.B, c *Codec[T], v *T) {
	paths := []struct {
		name string
		c    *Codec[T]
	}{{"typed", c}, {"goavro", goavroPath(c)}}
	if !c.typed {
		paths = paths[1:]
	}
	for _, p := range paths {
		data, err := p.c.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(p.name+"/encode", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.c.Marshal(v); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(p.name+"/decode", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.c.Unmarshal(data); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(p.name+"/roundtrip", func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				w, err := p.c.Unmarshal(data)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := p.c.Marshal(w); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkLogEvent(b *testing.B) {
	c := mustSet(b).LogEvent
	benchPaths(b, c, benchEvent())
	benchHambaLogEvent(b, c)
}

func BenchmarkRawLog(b *testing.B) { benchPaths(b, mustSet(b).RawLog, fullRawLog()) }

func BenchmarkSpan(b *testing.B) { benchPaths(b, mustSet(b).Span, fullSpan()) }

func BenchmarkDedupeState(b *testing.B) {
	benchPaths(b, mustSet(b).DedupeState, &schemas.DedupeState{FirstTopic: "logs.parsed", FirstOffset: 123456,
		FirstSeen: 1767225600123, LastInputOffset: 123456, LastLoopOffset: -1})
}

func BenchmarkTraceState(b *testing.B) { benchPaths(b, mustSet(b).TraceState, benchTraceState(b)) }

// The errorrate stage's and the alerter's records are written once per
// tick or transaction, not per event; these show what they cost.

func BenchmarkHostWindow(b *testing.B) { benchPaths(b, mustSet(b).HostWindow, fullHostWindow()) }

func BenchmarkWindowUpdate(b *testing.B) { benchPaths(b, mustSet(b).WindowUpdate, fullWindowUpdate()) }

func BenchmarkErrorRatePartial(b *testing.B) {
	benchPaths(b, mustSet(b).ErrorRatePartial, fullErrorRatePartial())
}

// BenchmarkErrorRatePartition uses a state of statebench's size (about 35
// KB: four hosts of three panes with a 474-byte sketch each, 60 ticks, 30
// records kept for replays).
func BenchmarkErrorRatePartition(b *testing.B) {
	v := fullErrorRatePartition()
	pane := v.Hosts[0].Panes[0]
	pane.Latency = make([]byte, 474)
	v.Hosts = nil
	for h := range 4 {
		host := schemas.PartitionHost{Host: fmt.Sprintf("web-%d", h), Sources: map[int32]int64{0: 77, 5: 90_001}}
		for range 3 {
			host.Panes = append(host.Panes, pane)
		}
		for t := range 60 {
			host.Ticks = append(host.Ticks, schemas.TickCount{Start: int64(t) * 1000, Events: 100, Errors: 5})
		}
		v.Hosts = append(v.Hosts, host)
	}
	for i := range 30 {
		v.Emits = append(v.Emits, schemas.PartitionEmit{Input: "errorrate-partials", Offset: int64(i), Topic: "hosts.error-rate",
			Key: "web-3", Value: make([]byte, 800)})
	}
	benchPaths(b, mustSet(b).ErrorRatePartition, v)
}

// BenchmarkAlerterState uses the alerter's state for 20 hosts, each with
// its latest HostWindow and an hour of minutes.
func BenchmarkAlerterState(b *testing.B) {
	s := mustSet(b)
	v := fullAlerterStateV2()
	host := v.Hosts[0]
	host.Latest = mustBytes(s.HostWindow.Marshal(fullHostWindow()))
	host.Minutes = nil
	for m := range 60 {
		host.Minutes = append(host.Minutes, schemas.Minute{Start: int64(m) * 60_000, Events: 1000, Errors: 12})
	}
	v.Hosts = nil
	for h := range 20 {
		host.Host = fmt.Sprintf("web-%d", h)
		v.Hosts = append(v.Hosts, host)
	}
	benchPaths(b, s.AlerterState, v)
}

// hambaLogEvent mirrors schemas.LogEvent with hamba's tags (the level as
// its symbol).
type hambaLogEvent struct {
	EventID        string            `avro:"event_id"`
	Timestamp      int64             `avro:"timestamp"`
	Host           string            `avro:"host"`
	Service        string            `avro:"service"`
	Level          string            `avro:"level"`
	Message        string            `avro:"message"`
	TraceID        *string           `avro:"trace_id"`
	SpanID         *string           `avro:"span_id"`
	HTTPStatus     *int32            `avro:"http_status"`
	LatencyMs      *float64          `avro:"latency_ms"`
	K8sNamespace   *string           `avro:"k8s_namespace"`
	K8sPod         *string           `avro:"k8s_pod"`
	K8sContainer   *string           `avro:"k8s_container"`
	Labels         map[string]string `avro:"labels"`
	ParseError     *string           `avro:"parse_error"`
	Source         string            `avro:"source"`
	Format         string            `avro:"format"`
	Cluster        string            `avro:"cluster"`
	SpanService    string            `avro:"span_service"`
	SpanOperation  string            `avro:"span_operation"`
	SpanDurationUs *int64            `avro:"span_duration_us"`
	SpanStatus     string            `avro:"span_status"`
	RootOperation  string            `avro:"root_operation"`
	JoinStatus     string            `avro:"join_status"`
}

func benchHambaLogEvent(b *testing.B, c *Codec[schemas.LogEvent]) {
	schema, err := avro.Parse(c.Schema())
	if err != nil {
		b.Fatal(err)
	}
	e := benchEvent()
	v := &hambaLogEvent{EventID: e.EventID, Timestamp: e.Timestamp, Host: e.Host, Service: e.Service,
		Level: e.Level.String(), Message: e.Message, TraceID: e.TraceID, SpanID: e.SpanID, HTTPStatus: e.HTTPStatus,
		LatencyMs: e.LatencyMs, K8sNamespace: e.K8sNamespace, K8sPod: e.K8sPod, K8sContainer: e.K8sContainer,
		Labels: e.Labels, Source: e.Source, Format: e.Format}
	api := avro.Config{}.Freeze()
	body, err := api.Marshal(schema, v)
	if err != nil {
		b.Fatal(err)
	}
	if got, err := c.Unmarshal(cat(sohHeader(c.Fingerprint()), body)); err != nil || !logEventEqual(got, e) {
		b.Fatalf("hamba's encoding decodes to %+v, %v", got, err)
	}
	b.Run("hamba/encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := api.Marshal(schema, v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hamba/decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var w hambaLogEvent
			if err := api.Unmarshal(schema, body, &w); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hamba/roundtrip", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var w hambaLogEvent
			if err := api.Unmarshal(schema, body, &w); err != nil {
				b.Fatal(err)
			}
			if _, err := api.Marshal(schema, &w); err != nil {
				b.Fatal(err)
			}
		}
	})
}
