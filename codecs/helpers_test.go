package codecs

import (
	"math"
	"reflect"
	"testing"

	"github.com/logstream/logstream/schemas"
)

func ptr[T any](v T) *T { return &v }

func mustSet(tb testing.TB) *Set {
	tb.Helper()
	s, err := NewSet()
	if err != nil {
		tb.Fatalf("NewSet: %v", err)
	}
	return s
}

// The equality helpers treat a nil map as equal to an empty one (nil maps
// encode as empty maps and decode as non-nil maps) and compare floats by
// their bits, so NaN equals itself.

func emptyIfNil[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return map[K]V{}
	}
	return m
}

func rawLogEqual(a, b *schemas.RawLog) bool {
	x, y := *a, *b
	x.Labels, y.Labels = emptyIfNil(x.Labels), emptyIfNil(y.Labels)
	return reflect.DeepEqual(x, y)
}

func logEventEqual(a, b *schemas.LogEvent) bool {
	x, y := *a, *b
	x.Labels, y.Labels = emptyIfNil(x.Labels), emptyIfNil(y.Labels)
	if (x.LatencyMs == nil) != (y.LatencyMs == nil) {
		return false
	}
	if x.LatencyMs != nil && math.Float64bits(*x.LatencyMs) != math.Float64bits(*y.LatencyMs) {
		return false
	}
	x.LatencyMs, y.LatencyMs = nil, nil
	return reflect.DeepEqual(x, y)
}

func spanEqual(a, b *schemas.Span) bool {
	x, y := *a, *b
	x.Attributes, y.Attributes = emptyIfNil(x.Attributes), emptyIfNil(y.Attributes)
	return reflect.DeepEqual(x, y)
}

// deadLetterEqual keeps nil and empty bytes apart: they are null and empty
// bytes on the wire.
func deadLetterEqual(a, b *schemas.DeadLetter) bool {
	return reflect.DeepEqual(*a, *b)
}

func parseStateEqual(a, b *schemas.ParseState) bool {
	if len(a.Events) != len(b.Events) {
		return false
	}
	for k, e := range a.Events {
		f, ok := b.Events[k]
		e.Labels, f.Labels = emptyIfNil(e.Labels), emptyIfNil(f.Labels)
		if !ok || !reflect.DeepEqual(e, f) {
			return false
		}
	}
	return reflect.DeepEqual(emptyIfNil(a.Pending), emptyIfNil(b.Pending))
}

// Fixtures.

func fullLogEvent() *schemas.LogEvent {
	return &schemas.LogEvent{
		EventID:      "4f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e",
		Timestamp:    1767225600123,
		Host:         "ip-10-0-3-17.eu-west-1.compute.internal",
		Service:      "checkout",
		Level:        schemas.LevelError,
		Message:      "payment provider timed out after 3 retries",
		TraceID:      ptr("4bf92f3577b34da6a3ce929d0e0e4736"),
		SpanID:       ptr("00f067aa0ba902b7"),
		HTTPStatus:   ptr(int32(504)),
		LatencyMs:    ptr(3012.75),
		K8sNamespace: ptr("shop"),
		K8sPod:       ptr("checkout-7d9f8b6c5d-x2x9q"),
		K8sContainer: ptr("app"),
		Labels: map[string]string{
			"method":  "POST",
			"path":    "/api/v1/pay",
			"client":  "10.0.7.12",
			"cluster": "prod-eu-1",
		},
		ParseError: ptr("partial: missing closing brace"),
		Source:     "/var/log/containers/checkout-7d9f8b6c5d-x2x9q_shop_app-0123.log",
		Format:     "json",
	}
}

func fullRawLog() *schemas.RawLog {
	return &schemas.RawLog{
		Host:       "web-1",
		Source:     "/var/log/nginx/access.log",
		Line:       `10.0.0.1 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8.5.0"`,
		ReceivedAt: 1767225600456,
		Labels:     map[string]string{"env": "prod", "offset": "1048576"},
	}
}

func fullSpan() *schemas.Span {
	return &schemas.Span{
		TraceID:      "4bf92f3577b34da6a3ce929d0e0e4736",
		SpanID:       "00f067aa0ba902b7",
		ParentSpanID: ptr("53995c3f42cd8ad8"),
		Service:      "checkout",
		Operation:    "POST /pay",
		Start:        1767225600123456,
		DurationUs:   3012750,
		Status:       schemas.SpanError,
		Host:         "ip-10-0-3-17",
		Attributes:   map[string]string{"http.method": "POST", "http.status_code": "504"},
	}
}

func fullDeadLetter() *schemas.DeadLetter {
	return &schemas.DeadLetter{
		OriginalKey:     []byte("web-1"),
		OriginalValue:   []byte{0xC3, 0x01, 0xde, 0xad, 0xbe, 0xef, 0x00, 0xff},
		SourceTopic:     "logs.raw",
		SourcePartition: 7,
		SourceOffset:    123456789,
		Stage:           "parse",
		Error:           "decode RawLog: malformed Avro body",
		Time:            1767225600789,
	}
}

func fullParseState() *schemas.ParseState {
	return &schemas.ParseState{Pending: map[string]schemas.PendingLine{
		"/var/log/containers/a.log": {Stream: "stdout", Time: 1767225600001, Content: "first half ", Parts: 1, LastOffset: 42, Updated: 1767225600100, Mark: -1},
		"/var/log/containers/b.log": {Stream: "stderr", Time: 1767225600002, Content: "παρτ ", Parts: 3, LastOffset: 99, Updated: 1767225600200, Mark: 1767225605000},
	}, Events: map[string]schemas.PendingEvent{
		"/var/log/app.log": {Line: "2026-01-01 00:00:00,001 ERROR [main] c.s.Cart - add failed", ReceivedAt: 1767225600003,
			Labels: map[string]string{"env": "prod"}, Stack: "java.lang.IllegalStateException: x\n\tat c.s.Cart.add(Cart.java:42)", Lines: 2,
			LastOffset: 7, Updated: 1767225600300, Mark: -1},
	}}
}
