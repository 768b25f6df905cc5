package codecs

import (
	"testing"

	"github.com/logstream/logstream/schemas"
)

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

func BenchmarkLogEventEncode(b *testing.B) {
	c := mustSet(b).LogEvent
	v := benchEvent()
	data, err := c.Encode(v)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Encode(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLogEventDecode(b *testing.B) {
	c := mustSet(b).LogEvent
	data, err := c.Encode(benchEvent())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
