package parse

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/logstream/logstream/schemas"
)

// lineCase is one table entry: a line and every field ParseLine must give.
// A non-empty want.ParseError must be a substring of the one produced.
type lineCase struct {
	name string
	line string
	want Fields
}

func runLineCases(t *testing.T, cases []lineCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseLine(tc.line)
			checkInvariants(t, tc.line, got)
			assertFields(t, tc.line, got, tc.want)
		})
	}
}

func assertFields(t *testing.T, line string, got, want Fields) {
	t.Helper()
	if !got.Timestamp.Equal(want.Timestamp) {
		t.Errorf("Timestamp = %v, want %v", got.Timestamp, want.Timestamp)
	}
	g, w := got, want
	g.Timestamp, w.Timestamp = time.Time{}, time.Time{}
	if w.Inner == "" {
		// The tables name the content's format only where it matters.
		g.Inner = ""
	}
	if w.ParseError != "" && strings.Contains(g.ParseError, w.ParseError) {
		g.ParseError = w.ParseError
	}
	if len(g.Labels) == 0 && len(w.Labels) == 0 {
		g.Labels, w.Labels = nil, nil
	}
	if reflect.DeepEqual(g, w) {
		return
	}
	gv, wv := reflect.ValueOf(g), reflect.ValueOf(w)
	for i := 0; i < gv.NumField(); i++ {
		if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
			t.Errorf("%s = %#v, want %#v", gv.Type().Field(i).Name, gv.Field(i).Interface(), wv.Field(i).Interface())
		}
	}
	t.Logf("line: %q", line)
}

// ts parses an RFC 3339 time for expectations.
func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// labels builds a label map from key, value pairs.
func labels(kv ...string) map[string]string {
	m := make(map[string]string, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func TestLevelNames(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want schemas.Level
		ok   bool
	}{
		{"trace", schemas.LevelTrace, true},
		{"TRACE", schemas.LevelTrace, true},
		{"Debug", schemas.LevelDebug, true},
		{"dbg", schemas.LevelDebug, true},
		{"info", schemas.LevelInfo, true},
		{"INFORMATION", schemas.LevelInfo, true},
		{"Informational", schemas.LevelInfo, true},
		{"notice", schemas.LevelInfo, true},
		{"warn", schemas.LevelWarn, true},
		{"WARNING", schemas.LevelWarn, true},
		{"error", schemas.LevelError, true},
		{"ERR", schemas.LevelError, true},
		{"severe", schemas.LevelError, true},
		{"fatal", schemas.LevelFatal, true},
		{"CRITICAL", schemas.LevelFatal, true},
		{"crit", schemas.LevelFatal, true},
		{"alert", schemas.LevelFatal, true},
		{"emerg", schemas.LevelFatal, true},
		{"panic", schemas.LevelFatal, true},
		{"FINE", schemas.LevelDebug, true},
		{"FINEST", schemas.LevelTrace, true},
		{"", schemas.LevelUnknown, false},
		{"loud", schemas.LevelUnknown, false},
		{"informationalxx", schemas.LevelUnknown, false},
		{"infoo", schemas.LevelUnknown, false},
	} {
		got, ok := levelFromName(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("levelFromName(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestLevelValues(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want schemas.Level
		ok   bool
	}{
		{"10", schemas.LevelTrace, true},
		{"20", schemas.LevelDebug, true},
		{"30", schemas.LevelInfo, true},
		{"35", schemas.LevelInfo, true},
		{"40", schemas.LevelWarn, true},
		{"50", schemas.LevelError, true},
		{"60", schemas.LevelFatal, true},
		{"9", schemas.LevelUnknown, false},
		{"61", schemas.LevelUnknown, false},
		{"-30", schemas.LevelUnknown, false},
		{"30.5", schemas.LevelUnknown, false},
		{"warn", schemas.LevelWarn, true},
	} {
		got, ok := levelFromValue(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("levelFromValue(%q) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	for sev, want := range []schemas.Level{
		schemas.LevelFatal, schemas.LevelFatal, schemas.LevelFatal, schemas.LevelError,
		schemas.LevelWarn, schemas.LevelInfo, schemas.LevelInfo, schemas.LevelDebug,
	} {
		if got := levelFromSyslog(sev); got != want {
			t.Errorf("levelFromSyslog(%d) = %v, want %v", sev, got, want)
		}
	}
	for status, want := range map[int32]schemas.Level{0: schemas.LevelInfo, 101: schemas.LevelInfo, 200: schemas.LevelInfo, 302: schemas.LevelInfo, 404: schemas.LevelWarn, 499: schemas.LevelWarn, 500: schemas.LevelError, 503: schemas.LevelError} {
		if got := levelFromStatus(status); got != want {
			t.Errorf("levelFromStatus(%d) = %v, want %v", status, got, want)
		}
	}
}

func TestParseTimeValue(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // RFC 3339 in UTC; "" = rejected
	}{
		{"2024-05-01T12:00:00Z", "2024-05-01T12:00:00Z"},
		{"2024-05-01T12:00:00.123456789Z", "2024-05-01T12:00:00.123456789Z"},
		{"2024-05-01T12:00:00.1234567891234Z", "2024-05-01T12:00:00.123456789Z"},
		{"2024-05-01T12:00:00+02:00", "2024-05-01T10:00:00Z"},
		{"2024-05-01T12:00:00-0530", "2024-05-01T17:30:00Z"},
		{"2024-05-01T12:00:00+01", "2024-05-01T11:00:00Z"},
		{"2024-05-01 12:00:00,250", "2024-05-01T12:00:00.25Z"},
		{"2024-05-01t12:00:00z", "2024-05-01T12:00:00Z"},
		{"2024-05-01T12:00:00", "2024-05-01T12:00:00Z"},
		{"2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z"},
		{"1714564800", "2024-05-01T12:00:00Z"},
		{"1714564800.5", "2024-05-01T12:00:00.5Z"},
		{"1714564800123", "2024-05-01T12:00:00.123Z"},
		{"1714564800123.5", "2024-05-01T12:00:00.1235Z"},
		{"1714564800123456", "2024-05-01T12:00:00.123456Z"},
		{"1714564800123456789", "2024-05-01T12:00:00.123456789Z"},
		{"1.7145648e9", "2024-05-01T12:00:00Z"},
		{"2023-02-29T00:00:00Z", ""},
		{"2024-13-01T00:00:00Z", ""},
		{"2024-05-01T24:00:00Z", ""},
		{"2024-05-01T12:00:00+25:00", ""},
		{"2024-05-01T12:00:00Zjunk", ""},
		{"2024-05-01", ""},
		{"yesterday", ""},
		{"0", ""},
		{"-1714564800", ""},
		{"17145648001234567890123", ""},
		{"", ""},
	} {
		got, ok := parseTimeValue(tc.in)
		switch {
		case tc.want == "" && ok:
			t.Errorf("parseTimeValue(%q) = %v, want rejection", tc.in, got)
		case tc.want != "" && (!ok || !got.Equal(ts(tc.want)) || got.Location() != time.UTC):
			t.Errorf("parseTimeValue(%q) = %v, %v; want %s", tc.in, got, ok, tc.want)
		}
	}
}

func TestTraceIDs(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"4bf92f3577b34da6a3ce929d0e0e4736", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"4BF92F3577B34DA6A3CE929D0E0E4736", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"4bf92f35-77b3-4da6-a3ce-929d0e0e4736", "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"a3ce929d0e0e4736", "0000000000000000a3ce929d0e0e4736"},
		{"00000000000000000000000000000000", ""},
		{"4bf92f3577b34da6a3ce929d0e0e473", ""},
		{"4bf92f3577b34da6a3ce929d0e0e473g", ""},
		{"4bf92f35_77b3_4da6_a3ce_929d0e0e4736", ""},
		{"1-5759e988-bd862e3fe1be46a994272793", ""},
		{"", ""},
	} {
		got, ok := normTraceID(tc.in)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("normTraceID(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"00f067aa0ba902b7", "00f067aa0ba902b7"},
		{"00F067AA0BA902B7", "00f067aa0ba902b7"},
		{"0000000000000000", ""},
		{"00f067aa0ba902b", ""},
	} {
		got, ok := normSpanID(tc.in)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("normSpanID(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
	for _, tc := range []struct{ in, trace, span string }{
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"},
		{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-00", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"},
		{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x", "", ""}, // version 00 has no extra fields
		{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "", ""},
		{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", "", ""},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "", ""},
		{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "", ""},
	} {
		trace, span, ok := parseTraceparent(tc.in)
		if trace != tc.trace || span != tc.span || ok != (tc.trace != "") {
			t.Errorf("parseTraceparent(%q) = %q, %q, %v", tc.in, trace, span, ok)
		}
	}
}

func TestParseLatency(t *testing.T) {
	for _, tc := range []struct {
		in   string
		unit float64
		want float64 // -1: rejected
	}{
		{"12", unitMs, 12},
		{"12.5", unitMs, 12.5},
		{"0.25", unitSec, 250},
		{"1500", unitUs, 1.5},
		{"1500000", unitNs, 1.5},
		{"12ms", unitSec, 12},
		{"1.5s", unitMs, 1500},
		{"250µs", unitMs, 0.25},
		{"1m2s", unitMs, 62000},
		{"-5", unitMs, -1},
		{"-5ms", unitMs, -1},
		{"NaN", unitMs, -1},
		{"Inf", unitMs, -1},
		{"0x10", unitMs, -1},
		{"fast", unitMs, -1},
		{"", unitMs, -1},
		{"1e400", unitMs, -1},
	} {
		got, ok := parseLatency(tc.in, tc.unit)
		if tc.want < 0 {
			if ok {
				t.Errorf("parseLatency(%q) = %v, want rejection", tc.in, got)
			}
			continue
		}
		if !ok || math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("parseLatency(%q, %v) = %v, %v; want %v", tc.in, tc.unit, got, ok, tc.want)
		}
	}
}

func TestLabelCap(t *testing.T) {
	var f Fields
	for i := 0; i < maxLabels+10; i++ {
		f.setLabel(fmt.Sprintf("k%d", i), "v")
	}
	if len(f.Labels) != maxLabels+1 || f.Labels[labelsTruncated] != "true" {
		t.Fatalf("%d labels, truncated=%q", len(f.Labels), f.Labels[labelsTruncated])
	}
	f.setLabel("k0", "new") // an existing key may still be overwritten
	if f.Labels["k0"] != "new" {
		t.Fatal("existing label not updated at the cap")
	}
}

// A time that is present but does not parse sets ParseError naming the
// field and the value; the rest of the line is parsed as usual and the
// format stays the detected one.
func TestUnreadableTimestamps(t *testing.T) {
	long := strings.Repeat("x", 200)
	runLineCases(t, []lineCase{
		{
			name: "json time",
			line: `{"time":"yesterday","level":"warn","msg":"kept"}`,
			want: Fields{
				Level: schemas.LevelWarn, Message: "kept", Format: "json", Labels: labels("time", "yesterday"),
				ParseError: `json: unreadable timestamp "yesterday" in field "time"`,
			},
		},
		{
			name: "json epoch zero",
			line: `{"ts":0,"msg":"kept"}`,
			want: Fields{Message: "kept", Format: "json", Labels: labels("ts", "0"), ParseError: `json: unreadable timestamp "0" in field "ts"`},
		},
		{
			name: "json boolean",
			line: `{"@timestamp":true,"msg":"kept"}`,
			want: Fields{Message: "kept", Format: "json", Labels: labels("@timestamp", "true"), ParseError: `json: unreadable timestamp "true" in field "@timestamp"`},
		},
		{
			name: "json Go time.String()",
			line: `{"timestamp":"2024-05-01 12:00:00.123 +0000 UTC","msg":"kept"}`,
			want: Fields{
				Message: "kept", Format: "json", Labels: labels("timestamp", "2024-05-01 12:00:00.123 +0000 UTC"),
				ParseError: `json: unreadable timestamp "2024-05-01 12:00:00.123 +0000 UTC" in field "timestamp"`,
			},
		},
		{
			name: "json: another time field gave the time, no error",
			line: `{"time":"yesterday","ts":1714564800,"msg":"kept"}`,
			want: Fields{Timestamp: ts("2024-05-01T12:00:00Z"), Message: "kept", Format: "json", Labels: labels("time", "yesterday")},
		},
		{
			name: "json: empty and null times are no time",
			line: `{"time":"","timestamp":null,"msg":"kept"}`,
			want: Fields{Message: "kept", Format: "json", Labels: labels("time", "")},
		},
		{
			name: "json: a long value is cut",
			line: `{"time":"` + long + `","msg":"kept"}`,
			want: Fields{
				Message: "kept", Format: "json", Labels: labels("time", long),
				ParseError: `json: unreadable timestamp "` + long[:maxErrValue] + `"... in field "time"`,
			},
		},
		{
			name: "logfmt ts",
			line: `ts=2024-05-01T25:00:00Z level=error msg="kept"`,
			want: Fields{
				Level: schemas.LevelError, Message: "kept", Format: "logfmt", Labels: labels("ts", "2024-05-01T25:00:00Z"),
				ParseError: `logfmt: unreadable timestamp "2024-05-01T25:00:00Z" in field "ts"`,
			},
		},
		{
			name: "logfmt: an unterminated quote is reported first",
			line: `time=noon level=error msg="open`,
			want: Fields{
				Level: schemas.LevelError, Message: "open", Format: "logfmt", Labels: labels("time", "noon"),
				ParseError: `logfmt: unterminated quoted value for key "msg"`,
			},
		},
		{
			name: "alb time out of range",
			line: `http 2018-13-02T22:23:00.186641Z app/lb 192.0.2.1:1 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET http://x/ HTTP/1.1" "curl/8"`,
			want: Fields{
				Level: schemas.LevelInfo, HTTPStatus: 200, LatencyMs: 1, HasLatency: true, Message: "GET http://x/ HTTP/1.1", Format: "alb",
				ParseError: `alb: unreadable timestamp "2018-13-02T22:23:00.186641Z" in field "time"`,
				Labels: labels("type", "http", "elb", "app/lb", "client_ip", "192.0.2.1", "target", "10.0.0.1:80", "target_status_code", "200",
					"received_bytes", "34", "sent_bytes", "366", "user_agent", "curl/8", "http_method", "GET", "http_path", "/", "http_protocol", "HTTP/1.1"),
			},
		},
		{
			name: "syslog ISO time out of range",
			line: `2024-05-01T12:61:00Z myhost systemd[1]: Started`,
			want: Fields{
				Host: "myhost", Service: "systemd", Message: "Started", Format: "syslog3164", Labels: labels("pid", "1"),
				ParseError: `syslog: unreadable timestamp "2024-05-01T12:61:00Z" in field "timestamp"`,
			},
		},
		{
			name: "json inside CRI: the CRI time is used, the error kept",
			line: `2024-05-01T12:00:00.5Z stdout F {"time":"yesterday","msg":"kept"}`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00.5Z"), Message: "kept", Format: "cri", Labels: labels("stream", "stdout", "time", "yesterday"),
				ParseError: `json: unreadable timestamp "yesterday" in field "time"`,
			},
		},
	})
}

func TestQuoteErrValue(t *testing.T) {
	euro := strings.Repeat("€", 30) // 90 bytes, 3 per rune
	got := quoteErrValue(euro)
	if !utf8.ValidString(got) || got != `"`+strings.Repeat("€", maxErrValue/3)+`"...` {
		t.Fatalf("quoteErrValue cut a rune: %q", got)
	}
	if got := quoteErrValue("a\"b\n"); got != `"a\"b\n"` {
		t.Fatalf("quoteErrValue(%q) = %s", "a\"b\n", got)
	}
}

// The stage falls back to the receive time for a line whose time is
// unreadable, and the event says why.
func TestUnreadableTimestampEvent(t *testing.T) {
	line := `{"time":"yesterday","level":"error","msg":"kept"}`
	raw := &schemas.RawLog{Host: "web-1", Source: "app.log", Line: line, ReceivedAt: 1714564800123}
	ev := Event(raw, line, ParseLine(line))
	if ev.Timestamp != raw.ReceivedAt || ev.Format != "json" || ev.Level != schemas.LevelError || ev.Message != "kept" {
		t.Fatalf("event %+v", ev)
	}
	if ev.ParseError == nil || *ev.ParseError != `json: unreadable timestamp "yesterday" in field "time"` {
		t.Fatalf("parse error %v", ev.ParseError)
	}
}
