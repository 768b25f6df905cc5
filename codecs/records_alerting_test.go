package codecs

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/logstream/logstream/schemas"
)

// The equality helpers of the alerting records normalise what the codecs
// do not keep apart: an empty slice (array or bytes) decodes as nil, a nil
// map as an empty one. Floats compare by their bits, so NaN equals itself.

func nilIfEmpty[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return s
}

func sameFloat(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }

func sameOptFloat(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return sameFloat(*a, *b)
}

func normSignatures(s []schemas.Signature) []schemas.Signature { return nilIfEmpty(s) }

func normTraceSamples(s []schemas.TraceSample) []schemas.TraceSample { return nilIfEmpty(s) }

func normEmits(e []schemas.Emit) []schemas.Emit {
	out := nilIfEmpty(append([]schemas.Emit(nil), e...))
	for i := range out {
		out[i].Value = nilIfEmpty(out[i].Value)
	}
	return out
}

func hostWindowEqual(a, b *schemas.HostWindow) bool {
	x, y := *a, *b
	if !sameFloat(x.ErrorRate, y.ErrorRate) || !sameOptFloat(x.LatencyP50, y.LatencyP50) ||
		!sameOptFloat(x.LatencyP95, y.LatencyP95) || !sameOptFloat(x.LatencyP99, y.LatencyP99) {
		return false
	}
	x.ErrorRate, y.ErrorRate = 0, 0
	x.LatencyP50, x.LatencyP95, x.LatencyP99 = nil, nil, nil
	y.LatencyP50, y.LatencyP95, y.LatencyP99 = nil, nil, nil
	x.Signatures, y.Signatures = normSignatures(x.Signatures), normSignatures(y.Signatures)
	x.Samples, y.Samples = normTraceSamples(x.Samples), normTraceSamples(y.Samples)
	return reflect.DeepEqual(x, y)
}

func alertEqual(a, b *schemas.Alert) bool {
	x, y := *a, *b
	if !sameFloat(x.Rate, y.Rate) || !sameFloat(x.FleetRate, y.FleetRate) || !sameOptFloat(x.BurnRate, y.BurnRate) {
		return false
	}
	x.Rate, x.FleetRate, x.BurnRate = 0, 0, nil
	y.Rate, y.FleetRate, y.BurnRate = 0, 0, nil
	x.Rules, y.Rules = nilIfEmpty(x.Rules), nilIfEmpty(y.Rules)
	x.Signatures, y.Signatures = normSignatures(x.Signatures), normSignatures(y.Signatures)
	x.Samples, y.Samples = normTraceSamples(x.Samples), normTraceSamples(y.Samples)
	return reflect.DeepEqual(x, y)
}

func normErrorRateState(v schemas.ErrorRateState) schemas.ErrorRateState {
	v.Recent = nilIfEmpty(v.Recent)
	v.Sources = emptyIfNil(v.Sources)
	v.Panes = nilIfEmpty(append([]schemas.Pane(nil), v.Panes...))
	for i := range v.Panes {
		p := &v.Panes[i]
		p.Latency = emptyIfNil(p.Latency)
		p.Signatures = nilIfEmpty(p.Signatures)
		p.Samples = nilIfEmpty(p.Samples)
	}
	v.Emits = normEmits(v.Emits)
	return v
}

func errorRateStateEqual(a, b *schemas.ErrorRateState) bool {
	return reflect.DeepEqual(normErrorRateState(*a), normErrorRateState(*b))
}

func normAlerterState(v schemas.AlerterState) schemas.AlerterState {
	v.Hosts = nilIfEmpty(append([]schemas.HostView(nil), v.Hosts...))
	for i := range v.Hosts {
		h := &v.Hosts[i]
		h.Latest = nilIfEmpty(h.Latest)
		h.Minutes = nilIfEmpty(h.Minutes)
		h.Pending = nilIfEmpty(h.Pending)
	}
	v.Watermark = normWatermark(v.Watermark)
	v.Sources = emptyIfNil(v.Sources)
	v.Incidents = nilIfEmpty(append([]schemas.Incident(nil), v.Incidents...))
	for i := range v.Incidents {
		in := &v.Incidents[i]
		in.Rules = nilIfEmpty(in.Rules)
		in.Fired = nilIfEmpty(in.Fired)
	}
	v.Emits = normEmits(v.Emits)
	return v
}

func alerterStateEqual(a, b *schemas.AlerterState) bool {
	return reflect.DeepEqual(normAlerterState(*a), normAlerterState(*b))
}

// Fixtures: a tumbling window of web-3 failing against its payment
// provider, the alert it fired, and the two stages' states around it.

const (
	alertWindowStart = 1767225600000 // 2026-01-01T00:00:00Z
	alertWindowEnd   = alertWindowStart + 60_000
)

func fullSignatures() []schemas.Signature {
	return []schemas.Signature{
		{Signature: "timeout after <num> ms to <ip>:<num>", Count: 41, Example: "timeout after 3000 ms to 10.0.7.12:8443"},
		{Signature: "upstream returned <num> for POST /v1/charges", Count: 9, Example: "upstream returned 503 for POST /v1/charges"},
	}
}

func fullTraceSamples() []schemas.TraceSample {
	return []schemas.TraceSample{
		{
			TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", EventID: "9f86d081884c7d659a2feaa0c55ad015",
			Timestamp: alertWindowStart + 12_345, Message: "timeout after 3000 ms to 10.0.7.12:8443",
			SpanService: "payments", SpanOperation: "POST /v1/charges", SpanDurationUs: ptr(int64(3_001_250)),
		},
		{
			// Not joined with a span.
			TraceID: "0af7651916cd43dd8448eb211c80319c", EventID: "2c26b46b68ffc68ff99b453c1d304134",
			Timestamp: alertWindowStart + 48_001, Message: "upstream returned 503 for POST /v1/charges",
		},
	}
}

func fullHostWindow() *schemas.HostWindow {
	return &schemas.HostWindow{
		Host:         "web-3",
		Kind:         schemas.WindowTumbling,
		Start:        alertWindowStart,
		End:          alertWindowEnd,
		Emit:         schemas.EmitFinal,
		Version:      1187,
		AsOf:         alertWindowEnd + 5_012,
		Events:       234,
		Errors:       50,
		ErrorRate:    50.0 / 234,
		LatencyCount: 230,
		LatencyP50:   ptr(41.5),
		LatencyP95:   ptr(2950.0),
		LatencyP99:   ptr(3012.75),
		FirstError:   ptr(int64(alertWindowStart + 1_017)),
		Signatures:   fullSignatures(),
		Samples:      fullTraceSamples(),
	}
}

func fullAlert() *schemas.Alert {
	return &schemas.Alert{
		ID:          "logstream/host/web-3/17/FIRING",
		DedupKey:    "logstream/host/web-3/17",
		State:       schemas.AlertFiring,
		Scope:       schemas.ScopeHost,
		Host:        "web-3",
		Rule:        "error-rate-vs-fleet",
		Rules:       []string{"error-rate-vs-fleet", "burn-rate-1h"},
		Summary:     "web-3 error rate 21.4% (fleet median 1.1%): timeout after <num> ms to <ip>:<num>",
		Rate:        50.0 / 234,
		FleetRate:   0.011,
		BurnRate:    ptr(14.4),
		Events:      234,
		Errors:      50,
		WindowStart: alertWindowStart,
		WindowEnd:   alertWindowEnd,
		Signatures:  fullSignatures(),
		Samples:     fullTraceSamples(),
		FirstSeen:   alertWindowStart + 1_017,
		LastSeen:    alertWindowEnd + 5_012,
		At:          alertWindowEnd + 5_012,
	}
}

func fullErrorRateState() *schemas.ErrorRateState {
	return &schemas.ErrorRateState{
		Applied:        88_412,
		StreamTime:     alertWindowEnd + 5_012,
		LastSeen:       alertWindowEnd + 5_400,
		Version:        1187,
		LastUpdate:     alertWindowEnd + 5_000,
		UpdateOffset:   88_409,
		Dirty:          true,
		TumblingClosed: alertWindowEnd,
		HoppingClosed:  alertWindowEnd,
		Late:           3,
		Recent:         []int64{198, 211, 187, 234},
		Silent:         false,
		Committed:      88_400,
		Panes: []schemas.Pane{
			{
				Start: alertWindowEnd, Events: 17, Errors: 4, FirstError: alertWindowEnd + 230,
				Latency: map[int32]int64{-12: 1, 0: 3, 372: 9, 802: 4},
				Signatures: []schemas.SignatureCount{
					{Signature: "timeout after <num> ms to <ip>:<num>", Count: 4, Example: "timeout after 3000 ms to 10.0.7.12:8443"},
				},
				Samples: []schemas.Sample{
					{
						TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", EventID: "e0", Timestamp: alertWindowEnd + 230,
						Message: "timeout after 3000 ms to 10.0.7.12:8443", SpanService: "payments",
						SpanOperation: "POST /v1/charges", SpanDurationUs: 3_001_250,
					},
					{TraceID: "0af7651916cd43dd8448eb211c80319c", EventID: "e1", Timestamp: alertWindowEnd + 901, Message: "boom", SpanDurationUs: -1},
				},
			},
			{Start: alertWindowEnd + 60_000, Events: 2}, // no errors, no latencies yet
		},
		Emits: []schemas.Emit{
			{Offset: 88_398, Value: []byte{0xC3, 0x01, 0x42, 0x38, 0x04, 0x40, 0x08, 0xf9, 0x8d, 0x0a}},
			{Offset: 88_399},
		},
	}
}

func fullAlerterState() *schemas.AlerterState {
	return &schemas.AlerterState{
		Applied: 5_120_007,
		Seq:     17,
		Hosts: []schemas.HostView{
			{
				Host: "web-3", Version: 1187, AsOf: alertWindowEnd + 5_012,
				TStart: alertWindowStart, TEvents: 234, TErrors: 50,
				Latest: []byte{0xC3, 0x01, 0x42, 0x38, 0x04, 0x40, 0x08, 0xf9, 0x8d, 0x0a, 0x0a, 'w', 'e', 'b', '-', '3'},
				Minutes: []schemas.Minute{
					{Start: alertWindowStart - 60_000, Events: 211, Errors: 2},
					{Start: alertWindowStart, Events: 234, Errors: 50},
				},
			},
			{Host: "web-7", Version: 3, AsOf: alertWindowStart - 600_000, Silent: true}, // nil Latest and Minutes
		},
		Incidents: []schemas.Incident{
			{
				Key: "host/web-3", Scope: schemas.ScopeHost, Host: "web-3", Rule: "error-rate-vs-fleet",
				Rules: []string{"error-rate-vs-fleet", "burn-rate-1h"}, State: schemas.IncidentFiring,
				Since: alertWindowStart + 1_017, FirstSeen: alertWindowStart + 1_017, LastSeen: alertWindowEnd + 5_012,
				Number: 17, Fired: []byte{0xC3, 0x01, 0xfe, 0xc7},
			},
			{
				Key: "silent/web-7", Scope: schemas.ScopeSilent, Host: "web-7", Rule: "silence",
				State: schemas.IncidentPending, Since: alertWindowStart - 600_000,
				FirstSeen: alertWindowStart - 600_000, LastSeen: alertWindowStart - 600_000, // nil Rules and Fired
			},
		},
		Emits: []schemas.Emit{{Offset: 5_120_006, Value: []byte{0xC3, 0x01, 0xfe, 0xc7, 0x00}}},
	}
}

func TestHostWindowRoundTrip(t *testing.T) {
	c := mustSet(t).HostWindow
	optionalsZero := fullHostWindow()
	optionalsZero.LatencyP50, optionalsZero.LatencyP95, optionalsZero.LatencyP99 = ptr(0.0), ptr(math.Copysign(0, -1)), ptr(0.0)
	optionalsZero.FirstError = ptr(int64(0))
	optionalsZero.Samples[0].SpanDurationUs = ptr(int64(0))
	for name, v := range map[string]*schemas.HostWindow{
		"zero": {},
		"full": fullHostWindow(),
		"optionals nil": {
			Host: "web-3", Kind: schemas.WindowHopping, Start: alertWindowStart, End: alertWindowStart + 300_000,
			Emit: schemas.EmitUpdate, Version: 1, AsOf: alertWindowStart + 20_000, Events: 12,
		},
		"optionals set to zero values": optionalsZero,
		"empty slices":                 {Signatures: []schemas.Signature{}, Samples: []schemas.TraceSample{}},
		"silent":                       {Host: "web-7", Kind: schemas.WindowTumbling, Emit: schemas.EmitSilent, Start: alertWindowStart, End: alertWindowEnd},
		"unicode": {
			Host: "hôst-日本", Signatures: []schemas.Signature{{Signature: unicodeText, Example: "ошибка"}},
			Samples: []schemas.TraceSample{{Message: unicodeText, SpanOperation: "GET /ü/🚀"}},
		},
		"extremes": {
			Start: math.MinInt64, End: math.MaxInt64, AsOf: -1, Version: math.MaxInt64, ErrorRate: math.Inf(1),
			LatencyP50: ptr(math.NaN()), LatencyP99: ptr(math.MaxFloat64), FirstError: ptr(int64(math.MinInt64)),
			Samples: []schemas.TraceSample{{Timestamp: math.MaxInt64, SpanDurationUs: ptr(int64(math.MinInt64))}},
		},
		"max first error": {FirstError: ptr(int64(math.MaxInt64))},
		"nan rate":        {ErrorRate: math.NaN()},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := c.Unmarshal(roundTrip(t, c, v, hostWindowEqual))
			if err != nil {
				t.Fatal(err)
			}
			if (got.FirstError == nil) != (v.FirstError == nil) {
				t.Errorf("null/zero first_error not preserved: got %v, want %v", got.FirstError, v.FirstError)
			}
			if len(v.Signatures) == 0 && got.Signatures != nil || len(v.Samples) == 0 && got.Samples != nil {
				t.Errorf("empty arrays decode as %#v, %#v; want nil", got.Signatures, got.Samples)
			}
		})
	}
}

// TestHostWindowNativeForm pins how goavro names the timestamp-millis
// branch of first_error's union, which the codec writes and reads by name.
func TestHostWindowNativeForm(t *testing.T) {
	s := mustSet(t)
	data, err := s.HostWindow.Marshal(fullHostWindow())
	if err != nil {
		t.Fatal(err)
	}
	name, native, err := s.DecodeAny(data)
	if err != nil {
		t.Fatal(err)
	}
	m := native.(map[string]any)
	u, ok := m["first_error"].(map[string]any)
	if name != schemas.NameHostWindow || !ok || len(u) != 1 {
		t.Fatalf("%s first_error: %#v", name, m["first_error"])
	}
	ts, ok := u["long.timestamp-millis"].(time.Time)
	if !ok || ts.UnixMilli() != *fullHostWindow().FirstError {
		t.Errorf("first_error branch: %#v, want long.timestamp-millis %d", u, *fullHostWindow().FirstError)
	}
	if start, ok := m["start"].(time.Time); !ok || start.UnixMilli() != alertWindowStart {
		t.Errorf("start: %#v", m["start"])
	}
}

func TestAlertRoundTrip(t *testing.T) {
	c := mustSet(t).Alert
	resolved := fullAlert()
	resolved.ID, resolved.State, resolved.BurnRate = "logstream/host/web-3/17/RESOLVED", schemas.AlertResolved, nil
	resolved.Samples[0].SpanDurationUs = nil
	for name, v := range map[string]*schemas.Alert{
		"zero":     {},
		"firing":   fullAlert(),
		"resolved": resolved,
		"fleet, optionals nil": {
			ID: "logstream/fleet/fleet/18/FIRING", DedupKey: "logstream/fleet/fleet/18", State: schemas.AlertFiring,
			Scope: schemas.ScopeFleet, Host: "fleet", Rule: "fleet-error-rate", Summary: "62% of hosts failing",
			Rate: 0.31, FleetRate: 0.31, Events: 10_000, Errors: 3_100, WindowStart: alertWindowStart, WindowEnd: alertWindowEnd,
			FirstSeen: alertWindowStart, LastSeen: alertWindowEnd, At: alertWindowEnd,
		},
		"empty slices":  {Rules: []string{}, Signatures: []schemas.Signature{}, Samples: []schemas.TraceSample{}},
		"empty strings": {Rules: []string{"", ""}, Signatures: []schemas.Signature{{}}, Samples: []schemas.TraceSample{{}}},
		"unicode":       {Summary: unicodeText, Rules: []string{"règle-🚀"}, Host: "хост"},
		"extremes": {
			Rate: math.NaN(), FleetRate: math.Inf(-1), BurnRate: ptr(math.SmallestNonzeroFloat64),
			Events: math.MinInt64, Errors: math.MaxInt64, WindowStart: math.MinInt64, WindowEnd: math.MaxInt64,
			FirstSeen: -1, LastSeen: math.MaxInt64, At: math.MinInt64,
		},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := c.Unmarshal(roundTrip(t, c, v, alertEqual))
			if err != nil {
				t.Fatal(err)
			}
			if (got.BurnRate == nil) != (v.BurnRate == nil) {
				t.Errorf("burn_rate null not preserved: got %v", got.BurnRate)
			}
			if len(v.Rules) == 0 && got.Rules != nil {
				t.Errorf("empty rules decode as %#v, want nil", got.Rules)
			}
		})
	}
}

func TestErrorRateStateRoundTrip(t *testing.T) {
	c := mustSet(t).ErrorRateState
	for name, v := range map[string]*schemas.ErrorRateState{
		"zero": {},
		"new host": {
			Applied: -1, UpdateOffset: -1, Committed: -1, StreamTime: alertWindowStart + 17, LastSeen: alertWindowStart + 20,
			Panes: []schemas.Pane{{Start: alertWindowStart, Events: 1}},
		},
		"full":         fullErrorRateState(),
		"empty slices": {Recent: []int64{}, Panes: []schemas.Pane{{Latency: map[int32]int64{}, Signatures: []schemas.SignatureCount{}, Samples: []schemas.Sample{}}}, Emits: []schemas.Emit{{Value: []byte{}}}},
		"extreme buckets": {Panes: []schemas.Pane{{Latency: map[int32]int64{
			math.MinInt32: math.MaxInt64, -1: -1, 0: 0, 1: 1, math.MaxInt32: math.MinInt64,
		}}}},
		"many buckets": {Panes: []schemas.Pane{{Latency: manyBuckets(2000)}}},
		"extremes": {
			Applied: math.MinInt64, StreamTime: math.MinInt64, LastSeen: math.MaxInt64, Recent: []int64{math.MinInt64, 0, math.MaxInt64},
			Emits: []schemas.Emit{{Offset: math.MaxInt64, Value: []byte{0}}},
		},
		"unicode": {Panes: []schemas.Pane{{
			Signatures: []schemas.SignatureCount{{Signature: unicodeText, Example: "日本語"}},
			Samples:    []schemas.Sample{{Message: unicodeText, SpanService: "服务"}},
		}}},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := c.Unmarshal(roundTrip(t, c, v, errorRateStateEqual))
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range got.Panes {
				if p.Latency == nil {
					t.Errorf("pane %d: decoded Latency is nil, want a map", i)
				}
			}
			if len(v.Recent) == 0 && got.Recent != nil || len(v.Panes) == 0 && got.Panes != nil || len(v.Emits) == 0 && got.Emits != nil {
				t.Errorf("empty arrays decode as %#v, %#v, %#v; want nil", got.Recent, got.Panes, got.Emits)
			}
		})
	}
}

func manyBuckets(n int) map[int32]int64 {
	m := make(map[int32]int64, n)
	for i := range n {
		m[int32(i*7-n)] = int64(i * i)
	}
	return m
}

// TestErrorRateStateRejectsBadBucketKeys: the encoder writes only canonical
// decimal int32 keys, so anything else (which could name a bucket twice, or
// none) is a malformed record.
func TestErrorRateStateRejectsBadBucketKeys(t *testing.T) {
	c := mustSet(t).ErrorRateState
	for _, key := range []string{"", "x", "01", "+1", "-0", " 1", "1.5", "2147483648", "-2147483649"} {
		t.Run(key, func(t *testing.T) {
			native, err := errorRateStateToNative(&schemas.ErrorRateState{Panes: []schemas.Pane{{Start: 1}}})
			if err != nil {
				t.Fatal(err)
			}
			native["panes"].([]any)[0].(map[string]any)["latency"] = map[string]any{key: int64(1)}
			data, err := c.avro.SingleFromNative(nil, native)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Unmarshal(data)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "panes[0]") || !strings.Contains(err.Error(), "bucket index") {
				t.Errorf("key %q: %v", key, err)
			}
		})
	}
}

func TestAlerterStateRoundTrip(t *testing.T) {
	c := mustSet(t).AlerterState
	for name, v := range map[string]*schemas.AlerterState{
		"zero":         {},
		"new fleet":    {Applied: -1},
		"full":         fullAlerterState(),
		"full v2":      fullAlerterStateV2(),
		"empty slices": {Hosts: []schemas.HostView{{Latest: []byte{}, Minutes: []schemas.Minute{}}}, Incidents: []schemas.Incident{{Rules: []string{}, Fired: []byte{}}}, Emits: []schemas.Emit{}},
		"unicode": {
			Hosts:     []schemas.HostView{{Host: "хост-🚀", Latest: []byte(unicodeText)}},
			Incidents: []schemas.Incident{{Key: "host/хост-🚀", Host: "хост-🚀", Rules: []string{unicodeText}}},
		},
		"extremes": {
			Applied: math.MinInt64, Seq: math.MaxInt64,
			Hosts:     []schemas.HostView{{Version: math.MaxInt64, AsOf: math.MinInt64, Minutes: []schemas.Minute{{Start: math.MinInt64, Events: math.MaxInt64, Errors: -1}}}},
			Incidents: []schemas.Incident{{Since: math.MinInt64, Number: math.MaxInt64, Fired: []byte{0xff, 0x00}}},
		},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := c.Unmarshal(roundTrip(t, c, v, alerterStateEqual))
			if err != nil {
				t.Fatal(err)
			}
			for i, h := range got.Hosts {
				if len(v.Hosts[i].Latest) == 0 && h.Latest != nil {
					t.Errorf("host %d: empty latest decodes as %#v, want nil", i, h.Latest)
				}
			}
		})
	}
}

func TestAlertingDecodedValuesShareNoMemoryWithInput(t *testing.T) {
	c := mustSet(t).AlerterState
	data, err := c.Marshal(fullAlerterStateV2())
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
	if !alerterStateEqual(got, fullAlerterStateV2()) {
		t.Fatalf("decoded value changed with its input: %+v", got)
	}
}

func TestAlertingDecodeAny(t *testing.T) {
	s := mustSet(t)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{schemas.NameHostWindow, mustBytes(s.HostWindow.Marshal(fullHostWindow()))},
		{schemas.NameAlert, mustBytes(s.Alert.Marshal(fullAlert()))},
		{schemas.NameErrorRateState, mustBytes(s.ErrorRateState.Marshal(fullErrorRateState()))},
		{schemas.NameAlerterState, mustBytes(s.AlerterState.Marshal(fullAlerterStateV2()))},
		{schemas.NameErrorRatePartial, mustBytes(s.ErrorRatePartial.Marshal(fullErrorRatePartial()))},
		{schemas.NameErrorRatePartition, mustBytes(s.ErrorRatePartition.Marshal(fullErrorRatePartition()))},
		{schemas.NameWindowUpdate, mustBytes(s.WindowUpdate.Marshal(fullWindowUpdate()))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name, native, err := s.DecodeAny(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if m, ok := native.(map[string]any); name != tc.name || !ok || len(m) == 0 {
				t.Errorf("DecodeAny: %q, %T", name, native)
			}
		})
	}
}

// Golden records of the alerting schemas; fixed values, as in
// golden_test.go.

func goldenHostWindow() *schemas.HostWindow {
	v := fullHostWindow()
	v.LatencyP95 = nil // one null among the optionals
	return v
}

func goldenAlert() *schemas.Alert { return fullAlert() }

func goldenErrorRateState() *schemas.ErrorRateState {
	v := fullErrorRateState()
	// One latency bucket, so the golden bytes have one map order.
	v.Panes[0].Latency = map[int32]int64{372: 9}
	return v
}

// goldenAlerterState is the fixture as version v holds it: v1 has no
// watermark, ticks or pending counts.
func goldenAlerterState(v int) *schemas.AlerterState {
	if v == 1 {
		return fullAlerterState()
	}
	return fullAlerterStateV2()
}

func TestGoldenAlerting(t *testing.T) {
	t.Run("HostWindow", func(t *testing.T) {
		golden(t, NewHostWindow, func(int) *schemas.HostWindow { return goldenHostWindow() }, hostWindowEqual)
	})
	t.Run("Alert", func(t *testing.T) {
		golden(t, NewAlert, func(int) *schemas.Alert { return goldenAlert() }, alertEqual)
	})
	t.Run("ErrorRateState", func(t *testing.T) {
		golden(t, NewErrorRateState, func(int) *schemas.ErrorRateState { return goldenErrorRateState() }, errorRateStateEqual)
	})
	t.Run("AlerterState", func(t *testing.T) {
		golden(t, NewAlerterState, goldenAlerterState, alerterStateEqual)
	})
}

func FuzzDecodeHostWindow(f *testing.F) {
	s := mustSet(f)
	seedCorpus(f,
		mustBytes(s.HostWindow.Marshal(fullHostWindow())),
		mustBytes(s.HostWindow.Marshal(&schemas.HostWindow{})),
	)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, s.HostWindow, data, hostWindowEqual) })
}

func FuzzDecodeAlert(f *testing.F) {
	s := mustSet(f)
	seedCorpus(f,
		mustBytes(s.Alert.Marshal(fullAlert())),
		mustBytes(s.Alert.Marshal(&schemas.Alert{})),
	)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, s.Alert, data, alertEqual) })
}

func FuzzDecodeErrorRateState(f *testing.F) {
	s := mustSet(f)
	seedCorpus(f,
		mustBytes(s.ErrorRateState.Marshal(fullErrorRateState())),
		mustBytes(s.ErrorRateState.Marshal(&schemas.ErrorRateState{})),
	)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, s.ErrorRateState, data, errorRateStateEqual) })
}

func FuzzDecodeAlerterState(f *testing.F) {
	s := mustSet(f)
	seedCorpus(f,
		mustBytes(s.AlerterState.Marshal(fullAlerterStateV2())),
		mustBytes(s.AlerterState.Marshal(&schemas.AlerterState{})),
	)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, s.AlerterState, data, alerterStateEqual) })
}
