package codecs

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/logstream/logstream/schemas"
)

// roundTrip encodes v every way the codec allows and checks that each
// encoding decodes to a value equal to v.
func roundTrip[T any](t *testing.T, c *Codec[T], v *T, eq func(a, b *T) bool) []byte {
	t.Helper()
	data, err := c.Marshal(v)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	if fp, ok := Fingerprint(data); !ok || fp != c.Fingerprint() {
		t.Fatalf("header fingerprint %x, %v; want %x", fp, ok, c.Fingerprint())
	}
	got, err := c.Unmarshal(data)
	if err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	if !eq(got, v) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, v)
	}
	for _, in := range []any{v, *v} {
		enc, err := c.Encode(in)
		if err != nil {
			t.Fatalf("Encode(%T): %v", in, err)
		}
		dec, err := c.Decode(enc)
		if err != nil {
			t.Fatalf("Decode after Encode(%T): %v", in, err)
		}
		p, ok := dec.(*T)
		if !ok {
			t.Fatalf("Decode returned %T, want *T", dec)
		}
		if !eq(p, v) {
			t.Fatalf("Encode(%T)/Decode:\n got %+v\nwant %+v", in, p, v)
		}
	}
	return data
}

const unicodeText = "ünïcødé ✓ 日本語のログ 🚀 \u0000 tab\tnewline\n"

func TestRawLogRoundTrip(t *testing.T) {
	c := mustSet(t).RawLog
	for name, v := range map[string]*schemas.RawLog{
		"zero":         {},
		"nil labels":   {Host: "h", Source: "stdin", Line: "x", ReceivedAt: 1},
		"empty labels": {Host: "h", Source: "stdin", Line: "x", Labels: map[string]string{}},
		"full":         fullRawLog(),
		"unicode":      {Host: "hôst", Source: "源", Line: unicodeText, Labels: map[string]string{"ключ": "значение", "": ""}},
		"negative ts":  {ReceivedAt: -1},
		"min ts":       {ReceivedAt: math.MinInt64},
		"max ts":       {ReceivedAt: math.MaxInt64},
		"invalid utf8": {Line: "\xff\xfe bad \xc3\x28", Labels: map[string]string{"\xff": "\xfe"}},
		"long line":    {Line: strings.Repeat("x", 1<<20)},
		"many labels":  {Labels: manyLabels(500)},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := c.Unmarshal(roundTrip(t, c, v, rawLogEqual))
			if err != nil {
				t.Fatal(err)
			}
			if got.Labels == nil {
				t.Error("decoded Labels is nil, want an empty map")
			}
		})
	}
}

func manyLabels(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[strings.Repeat("k", i%7)+string(rune('a'+i%26))+string(rune('A'+i/26))] = strings.Repeat("v", i%13)
	}
	return m
}

func TestLogEventRoundTrip(t *testing.T) {
	c := mustSet(t).LogEvent
	allNil := &schemas.LogEvent{EventID: "e", Timestamp: 1767225600000, Host: "h", Message: "m"}
	emptyStrings := fullLogEvent()
	for _, p := range []**string{&emptyStrings.TraceID, &emptyStrings.SpanID, &emptyStrings.K8sNamespace, &emptyStrings.K8sPod, &emptyStrings.K8sContainer, &emptyStrings.ParseError} {
		*p = ptr("")
	}
	emptyStrings.HTTPStatus, emptyStrings.LatencyMs = ptr(int32(0)), ptr(0.0)
	cases := map[string]*schemas.LogEvent{
		"zero":                         {},
		"all optionals nil":            allNil,
		"all set":                      fullLogEvent(),
		"optionals set to zero values": emptyStrings,
		"empty labels":                 {Labels: map[string]string{}},
		"unicode": {
			EventID: "ü", Host: "hôst", Service: "服务", Message: unicodeText,
			TraceID: ptr("träce"), K8sPod: ptr("pöd-🚀"), Labels: map[string]string{"ключ": unicodeText},
			ParseError: ptr("ошибка"), Source: "源", Format: "json",
		},
		"extremes": {
			Timestamp: math.MinInt64, HTTPStatus: ptr(int32(math.MinInt32)), LatencyMs: ptr(math.Inf(-1)),
		},
		"extremes max": {
			Timestamp: math.MaxInt64, HTTPStatus: ptr(int32(math.MaxInt32)), LatencyMs: ptr(math.MaxFloat64),
		},
		"nan latency":   {LatencyMs: ptr(math.NaN())},
		"negative zero": {LatencyMs: ptr(math.Copysign(0, -1))},
		"subnormal":     {LatencyMs: ptr(math.SmallestNonzeroFloat64)},
	}
	for l := schemas.LevelUnknown; l <= schemas.LevelFatal; l++ {
		cases["level "+l.String()] = &schemas.LogEvent{Level: l, Message: l.String()}
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) { roundTrip(t, c, v, logEventEqual) })
	}
}

func TestSpanRoundTrip(t *testing.T) {
	c := mustSet(t).Span
	cases := map[string]*schemas.Span{
		"zero":             {},
		"root span":        {TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", Service: "s", Operation: "op", Start: 1, DurationUs: 2},
		"all set":          fullSpan(),
		"empty attributes": {Attributes: map[string]string{}},
		"empty parent":     {ParentSpanID: ptr("")},
		"unicode":          {Service: "服务", Operation: "GET /ü/🚀", Attributes: map[string]string{"ключ": unicodeText}},
		"min start":        {Start: math.MinInt64, DurationUs: math.MinInt64},
		"max start":        {Start: math.MaxInt64, DurationUs: math.MaxInt64},
	}
	for s := schemas.SpanUnset; s <= schemas.SpanError; s++ {
		cases["status "+s.String()] = &schemas.Span{Status: s}
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) { roundTrip(t, c, v, spanEqual) })
	}
}

func TestDeadLetterRoundTrip(t *testing.T) {
	c := mustSet(t).DeadLetter
	for name, v := range map[string]*schemas.DeadLetter{
		"zero":          {},
		"nulls":         {SourceTopic: "logs.raw", Stage: "parse", Error: "e"},
		"empty bytes":   {OriginalKey: []byte{}, OriginalValue: []byte{}},
		"all set":       fullDeadLetter(),
		"tombstone":     {OriginalKey: []byte("k"), OriginalValue: nil},
		"unicode":       {SourceTopic: "logs.ünï", Stage: "парс", Error: unicodeText, OriginalValue: []byte(unicodeText)},
		"extremes":      {SourcePartition: math.MinInt32, SourceOffset: math.MinInt64, Time: math.MinInt64},
		"extremes max":  {SourcePartition: math.MaxInt32, SourceOffset: math.MaxInt64, Time: math.MaxInt64},
		"binary values": {OriginalKey: []byte{0, 0xff, 0x80}, OriginalValue: bytes.Repeat([]byte{0xC3}, 4096)},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := c.Unmarshal(roundTrip(t, c, v, deadLetterEqual))
			if err != nil {
				t.Fatal(err)
			}
			if (got.OriginalKey == nil) != (v.OriginalKey == nil) || (got.OriginalValue == nil) != (v.OriginalValue == nil) {
				t.Errorf("null/empty bytes not preserved: got key %#v value %#v", got.OriginalKey, got.OriginalValue)
			}
		})
	}
}

func TestParseStateRoundTrip(t *testing.T) {
	c := mustSet(t).ParseState
	for name, v := range map[string]*schemas.ParseState{
		"nil":   {},
		"empty": {Pending: map[string]schemas.PendingLine{}},
		"full":  fullParseState(),
		"extremes": {Pending: map[string]schemas.PendingLine{
			"": {Time: math.MinInt64, Parts: math.MaxInt32, LastOffset: math.MaxInt64},
		}},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := c.Unmarshal(roundTrip(t, c, v, parseStateEqual))
			if err != nil {
				t.Fatal(err)
			}
			if got.Pending == nil {
				t.Error("decoded Pending is nil")
			}
		})
	}
}

func TestDecodedValueSharesNoMemoryWithInput(t *testing.T) {
	c := mustSet(t).DeadLetter
	data, err := c.Marshal(fullDeadLetter())
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := headerLen; i < len(data); i++ {
		data[i] ^= 0xff
	}
	if !deadLetterEqual(got, fullDeadLetter()) {
		t.Fatalf("decoded value changed with its input: %+v", got)
	}
}

func TestEncodeRejects(t *testing.T) {
	s := mustSet(t)
	for name, tc := range map[string]struct {
		enc  func() ([]byte, error)
		want string
	}{
		"wrong type":          {func() ([]byte, error) { return s.LogEvent.Encode(fullRawLog()) }, "got *schemas.RawLog, want schemas.LogEvent or *schemas.LogEvent"},
		"nil interface":       {func() ([]byte, error) { return s.LogEvent.Encode(nil) }, "got <nil>"},
		"string":              {func() ([]byte, error) { return s.RawLog.Encode("line") }, "got string"},
		"nil pointer":         {func() ([]byte, error) { return s.Span.Encode((*schemas.Span)(nil)) }, "nil *schemas.Span"},
		"nil marshal":         {func() ([]byte, error) { return s.DeadLetter.Marshal(nil) }, "nil *schemas.DeadLetter"},
		"level too big":       {func() ([]byte, error) { return s.LogEvent.Marshal(&schemas.LogEvent{Level: schemas.LevelFatal + 1}) }, "field level: 7 is not a schemas.Level"},
		"level negative":      {func() ([]byte, error) { return s.LogEvent.Marshal(&schemas.LogEvent{Level: -1}) }, "field level"},
		"status out of range": {func() ([]byte, error) { return s.Span.Marshal(&schemas.Span{Status: 3}) }, "field status: 3 is not a schemas.SpanStatus"},
	} {
		t.Run(name, func(t *testing.T) {
			data, err := tc.enc()
			if err == nil {
				t.Fatalf("no error; encoded %x", data)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestCodecIdentity(t *testing.T) {
	s := mustSet(t)
	check := func(name, gotName, schema string, fp uint64) {
		t.Helper()
		want, err := schemas.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		if gotName != name || schema != want.JSON || fp == 0 {
			t.Errorf("%s codec: Name %q, schema match %v, fingerprint %x", name, gotName, schema == want.JSON, fp)
		}
	}
	check(schemas.NameRawLog, s.RawLog.Name(), s.RawLog.Schema(), s.RawLog.Fingerprint())
	check(schemas.NameLogEvent, s.LogEvent.Name(), s.LogEvent.Schema(), s.LogEvent.Fingerprint())
	check(schemas.NameSpan, s.Span.Name(), s.Span.Schema(), s.Span.Fingerprint())
	check(schemas.NameDeadLetter, s.DeadLetter.Name(), s.DeadLetter.Schema(), s.DeadLetter.Fingerprint())
	check(schemas.NameParseState, s.ParseState.Name(), s.ParseState.Schema(), s.ParseState.Fingerprint())
}

// TestConcurrentUse runs encoders and decoders of one codec in parallel; run
// it with -race.
func TestConcurrentUse(t *testing.T) {
	c := mustSet(t).LogEvent
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				v := fullLogEvent()
				v.HTTPStatus = ptr(int32(g*1000 + i))
				data, err := c.Encode(v)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := c.Decode(data)
				if err != nil {
					t.Error(err)
					return
				}
				if !logEventEqual(got.(*schemas.LogEvent), v) {
					t.Errorf("goroutine %d: mismatch", g)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestDecodeAny(t *testing.T) {
	s := mustSet(t)
	encode := func(data []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{schemas.NameRawLog, encode(s.RawLog.Marshal(fullRawLog()))},
		{schemas.NameLogEvent, encode(s.LogEvent.Marshal(fullLogEvent()))},
		{schemas.NameSpan, encode(s.Span.Marshal(fullSpan()))},
		{schemas.NameDeadLetter, encode(s.DeadLetter.Marshal(fullDeadLetter()))},
		{schemas.NameParseState, encode(s.ParseState.Marshal(fullParseState()))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name, native, err := s.DecodeAny(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if name != tc.name {
				t.Errorf("name %q, want %q", name, tc.name)
			}
			m, ok := native.(map[string]any)
			if !ok || len(m) == 0 {
				t.Fatalf("native %T %v", native, native)
			}
			js, err := json.Marshal(native)
			if err != nil {
				t.Fatalf("native form does not marshal to JSON: %v", err)
			}
			if !json.Valid(js) {
				t.Fatalf("invalid JSON %s", js)
			}
			// The whole record survives a trip through DecodeAny's output.
			trailing := append(append([]byte(nil), tc.data...), 0)
			if _, _, err := s.DecodeAny(trailing); !errors.Is(err, ErrMalformed) {
				t.Errorf("trailing byte: %v", err)
			}
		})
	}
	name, native, err := s.DecodeAny(encode(s.LogEvent.Marshal(fullLogEvent())))
	if err != nil {
		t.Fatal(err)
	}
	m := native.(map[string]any)
	if name != "LogEvent" || m["level"] != "ERROR" || m["trace_id"].(map[string]any)["string"] != *fullLogEvent().TraceID {
		t.Errorf("LogEvent native form: %v", m)
	}

	if _, _, err := s.DecodeAny([]byte("plain text line")); !errors.Is(err, ErrNotSingleObject) {
		t.Errorf("plain text: %v", err)
	}
	unknown := []byte{0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0}
	if _, _, err := s.DecodeAny(unknown); !errors.Is(err, ErrUnknownSchema) || !strings.Contains(err.Error(), "0807060504030201") {
		t.Errorf("unknown fingerprint: %v", err)
	}
}
