package parse

import (
	"fmt"
	"strings"
	"testing"

	"github.com/logstream/logstream/schemas"
)

func TestJSONLines(t *testing.T) {
	runLineCases(t, []lineCase{
		{
			name: "full",
			line: `{"time":"2024-05-01T12:00:00.123Z","level":"info","msg":"payment ok","service":"payments","host":"web-1","trace_id":"4BF92F3577B34DA6A3CE929D0E0E4736","span_id":"00f067aa0ba902b7","status":200,"latency_ms":12.5,"user_id":42,"ok":true,"id":"evt-9"}`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00.123Z"), Host: "web-1", Service: "payments",
				Level: schemas.LevelInfo, Message: "payment ok", EventID: "evt-9",
				TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7",
				HTTPStatus: 200, LatencyMs: 12.5, HasLatency: true,
				Labels: labels("user_id", "42", "ok", "true"), Format: "json",
			},
		},
		{
			name: "pino",
			line: `{"level":30,"time":1714564800123,"pid":4711,"hostname":"api-7","name":"api","msg":"request completed","responseTime":12}`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00.123Z"), Host: "api-7", Level: schemas.LevelInfo,
				Message: "request completed", Format: "json",
				Labels: labels("pid", "4711", "name", "api", "responseTime", "12"),
			},
		},
		{
			name: "bunyan fatal, epoch seconds with fraction",
			line: `{"name":"x","level":60,"ts":1714564800.25,"msg":"dying"}`,
			want: Fields{Timestamp: ts("2024-05-01T12:00:00.25Z"), Level: schemas.LevelFatal, Message: "dying", Format: "json", Labels: labels("name", "x")},
		},
		{
			name: "epoch micros and nanos as strings",
			line: `{"timestamp":"1714564800123456","lvl":"DEBUG","message":"micro"}`,
			want: Fields{Timestamp: ts("2024-05-01T12:00:00.123456Z"), Level: schemas.LevelDebug, Message: "micro", Format: "json"},
		},
		{
			name: "epoch nanos",
			line: `{"@timestamp":1714564800123456789,"severity":"warning","message":"nano"}`,
			want: Fields{Timestamp: ts("2024-05-01T12:00:00.123456789Z"), Level: schemas.LevelWarn, Message: "nano", Format: "json"},
		},
		{
			name: "elastic common schema, nested",
			line: `{"@timestamp":"2024-05-01T12:00:00+02:00","log":{"level":"WARN","logger":"com.example.App"},"message":"ecs","service":{"name":"checkout"},"host":{"name":"ecs-1"},"trace":{"id":"4bf92f3577b34da6a3ce929d0e0e4736"},"span":{"id":"00f067aa0ba902b7"},"http":{"response":{"status_code":503}},"event":{"duration":1500000}}`,
			want: Fields{
				Timestamp: ts("2024-05-01T10:00:00Z"), Host: "ecs-1", Service: "checkout", Level: schemas.LevelWarn,
				Message: "ecs", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7",
				HTTPStatus: 503, LatencyMs: 1.5, HasLatency: true, Format: "json",
				Labels: labels("log.logger", "com.example.App"),
			},
		},
		{
			name: "dotted keys, OpenTelemetry style",
			line: `{"log.level":"error","message":"otel","service.name":"cart","k8s.namespace.name":"shop","k8s.pod.name":"cart-1","k8s.container.name":"cart","http.status_code":"404"}`,
			want: Fields{
				Level: schemas.LevelError, Message: "otel", Service: "cart", K8sNamespace: "shop",
				K8sPod: "cart-1", K8sContainer: "cart", HTTPStatus: 404, Format: "json",
			},
		},
		{
			name: "docker json-file",
			line: `{"log":"plain text from docker\n","stream":"stderr","time":"2024-05-01T12:00:00.000000001Z"}`,
			want: Fields{Timestamp: ts("2024-05-01T12:00:00.000000001Z"), Message: "plain text from docker", Format: "json", Labels: labels("stream", "stderr")},
		},
		{
			name: "fluent bit kubernetes metadata, traceparent, duration string",
			line: `{"timestamp":1714564800123,"severity":"ERROR","message":"boom","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","duration":"1.5s","kubernetes":{"namespace_name":"shop","pod_name":"cart-5d9f","container_name":"cart","labels":{"app":"cart"}},"tags":["a","b"],"event_id":"evt-1","extra":null}`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00.123Z"), Level: schemas.LevelError, Message: "boom",
				EventID: "evt-1", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7",
				LatencyMs: 1500, HasLatency: true, K8sNamespace: "shop", K8sPod: "cart-5d9f", K8sContainer: "cart",
				Labels: labels("kubernetes.labels.app", "cart", "tags", `["a","b"]`), Format: "json",
			},
		},
		{
			name: "service outranks logger whatever the order",
			line: `{"logger":"c.e.Db","app":"shop","service":"payments","msg":"x"}`,
			want: Fields{Service: "payments", Message: "x", Format: "json", Labels: labels("logger", "c.e.Db", "app", "shop")},
		},
		{
			name: "logger alone is the service",
			line: `{"logger":"c.e.Db","msg":"x","eventId":12345}`,
			want: Fields{Service: "c.e.Db", Message: "x", EventID: "12345", Format: "json"},
		},
		{
			name: "units: request_time seconds, duration_us",
			line: `{"msg":"r","request_time":0.25,"duration_us":99}`,
			want: Fields{Message: "r", LatencyMs: 250, HasLatency: true, Format: "json", Labels: labels("duration_us", "99")},
		},
		{
			name: "unreadable known fields are kept as labels",
			line: `{"time":"yesterday","level":"LOUD","trace_id":"xyz","span_id":"0000000000000000","status":"ok","latency":"fast","host":"","msg":"kept"}`,
			want: Fields{
				Message: "kept", Format: "json", ParseError: `json: unreadable timestamp "yesterday" in field "time"`,
				Labels: labels("time", "yesterday", "level", "LOUD", "trace_id", "xyz", "span_id", "0000000000000000", "status", "ok", "latency", "fast", "host", ""),
			},
		},
		{
			name: "64-bit trace id is padded, UUID spelling accepted",
			line: `{"traceId":"A3CE929D0E0E4736","spanId":"00F067AA0BA902B7","message":"m"}`,
			want: Fields{Message: "m", TraceID: "0000000000000000a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", Format: "json"},
		},
		{
			name: "escapes",
			line: `{"msg":"tab\tquote\" e\u00e9 smile\ud83d\ude00 lone\ud800 slash\/","level":"info"}`,
			want: Fields{Message: "tab\tquote\" eé smile😀 lone\uFFFD slash/", Level: schemas.LevelInfo, Format: "json"},
		},
		{
			name: "no message: the line is the message",
			line: `{"level":"info","event":"user_login","user":"bob"}`,
			want: Fields{Level: schemas.LevelInfo, Message: `{"level":"info","event":"user_login","user":"bob"}`, Format: "json", Labels: labels("event", "user_login", "user", "bob")},
		},
		{
			name: "empty object",
			line: `{}`,
			want: Fields{Message: `{}`, Format: "json"},
		},
		{
			name: "surrounding blanks and CRLF",
			line: "  {\"msg\":\"x\"}\t\r\n",
			want: Fields{Message: "x", Format: "json"},
		},
		{
			name: "first of msg/message wins, the other is a label",
			line: `{"message":"first","msg":"second"}`,
			want: Fields{Message: "first", Format: "json", Labels: labels("msg", "second")},
		},
		{
			name: "level numeric out of bunyan range",
			line: `{"level":5,"msg":"x"}`,
			want: Fields{Message: "x", Format: "json", Labels: labels("level", "5")},
		},
		{
			name: "arrays of objects kept raw",
			line: `{"msg":"x","items":[{"a":1},{"b":[true,null]}]}`,
			want: Fields{Message: "x", Format: "json", Labels: labels("items", `[{"a":1},{"b":[true,null]}]`)},
		},
	})
}

func TestJSONMalformed(t *testing.T) {
	for _, line := range []string{
		`{"level":"info","msg":"broken"`,
		`{"level":"info",}`,
		`{"level" "info"}`,
		`{level:"info"}`,
		`{"a":tru}`,
		`{"a":nul}`,
		`{"a":"\x"}`,
		`{"a":"\u12G4"}`,
		`{"a":"unterminated}`,
		"{\"a\":\"raw\ttab\"}",
		`{"a":1} trailing`,
		`{"a":01}`,
		`{"a":1.}`,
		`{"a":1e}`,
		`{"a":-}`,
		`{"a":[1,2}`,
		`{"a":[1,]}`,
		`{"a":{"b":1}`,
		`{` + strings.Repeat(`"a":{`, maxJSONDepth+1) + `"b":1` + strings.Repeat(`}`, maxJSONDepth+2),
		`{"a":` + strings.Repeat(`[`, maxJSONDepth+5) + strings.Repeat(`]`, maxJSONDepth+5) + `}`,
		`{`,
	} {
		f := ParseLine(line)
		if f.Format != "none" || !strings.HasPrefix(f.ParseError, "invalid JSON: ") || f.Message != line || f.Level != schemas.LevelUnknown {
			t.Errorf("ParseLine(%q) = %q / %q, want none with invalid JSON", line, f.Format, f.ParseError)
		}
		checkInvariants(t, line, f)
	}
}

func TestJSONDepthLimit(t *testing.T) {
	// maxJSONDepth levels of objects are fine.
	line := `{` + strings.Repeat(`"a":{`, maxJSONDepth-1) + `"b":1` + strings.Repeat(`}`, maxJSONDepth)
	f := ParseLine(line)
	if f.Format != "json" || f.Labels[strings.Repeat("a.", maxJSONDepth-1)+"b"] != "1" {
		t.Fatalf("depth %d: %q %q", maxJSONDepth, f.Format, f.ParseError)
	}
}

func TestJSONLabelCap(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"msg":"many"`)
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, `,"k%03d":%d`, i, i)
	}
	b.WriteString(`,"level":"warn"}`)
	f := ParseLine(b.String())
	if f.Format != "json" || f.Level != schemas.LevelWarn || f.Message != "many" {
		t.Fatalf("%+v", f)
	}
	if len(f.Labels) != maxLabels+1 || f.Labels[labelsTruncated] != "true" || f.Labels["k000"] != "0" || f.Labels["k063"] != "63" {
		t.Fatalf("labels: %d, %v", len(f.Labels), f.Labels)
	}
}

func TestJSONLevelAliases(t *testing.T) {
	for _, key := range []string{"level", "severity", "lvl", "log.level", "loglevel"} {
		f := ParseLine(`{"` + key + `":"Warning","msg":"x"}`)
		if f.Level != schemas.LevelWarn {
			t.Errorf("key %q: level %v", key, f.Level)
		}
	}
	for _, key := range []string{"time", "ts", "timestamp", "@timestamp", "datetime"} {
		f := ParseLine(`{"` + key + `":"2024-05-01T12:00:00Z","msg":"x"}`)
		if !f.Timestamp.Equal(ts("2024-05-01T12:00:00Z")) {
			t.Errorf("key %q: time %v", key, f.Timestamp)
		}
	}
	for _, key := range []string{"msg", "message", "log"} {
		if f := ParseLine(`{"` + key + `":"hello"}`); f.Message != "hello" {
			t.Errorf("key %q: message %q", key, f.Message)
		}
	}
	for _, key := range []string{"trace_id", "traceId", "traceID", "trace.id"} {
		if f := ParseLine(`{"` + key + `":"4bf92f3577b34da6a3ce929d0e0e4736"}`); f.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Errorf("key %q: trace %q", key, f.TraceID)
		}
	}
	for _, key := range []string{"status", "status_code", "http_status", "http.status_code"} {
		if f := ParseLine(`{"` + key + `":201}`); f.HTTPStatus != 201 {
			t.Errorf("key %q: status %d", key, f.HTTPStatus)
		}
	}
	for _, key := range []string{"latency", "latency_ms", "duration_ms", "duration", "elapsed", "response_time"} {
		if f := ParseLine(`{"` + key + `":7}`); !f.HasLatency || f.LatencyMs != 7 {
			t.Errorf("key %q: latency %v %v", key, f.LatencyMs, f.HasLatency)
		}
	}
	for _, key := range []string{"host", "hostname"} {
		if f := ParseLine(`{"` + key + `":"h1"}`); f.Host != "h1" {
			t.Errorf("key %q: host %q", key, f.Host)
		}
	}
	for _, key := range []string{"service", "app", "service.name", "logger"} {
		if f := ParseLine(`{"` + key + `":"s1"}`); f.Service != "s1" {
			t.Errorf("key %q: service %q", key, f.Service)
		}
	}
	for _, key := range []string{"id", "event_id", "eventId"} {
		if f := ParseLine(`{"` + key + `":"e1"}`); f.EventID != "e1" {
			t.Errorf("key %q: event id %q", key, f.EventID)
		}
	}
}
