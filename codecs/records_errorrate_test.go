package codecs

import (
	"math"
	"reflect"
	"testing"

	"github.com/logstream/logstream/schemas"
)

// Fixtures and tests of the errorrate stage's own records (partials, the
// per-partition state, the updates for the alerter) and of AlerterState v2.

func normWatermark(w schemas.WatermarkState) schemas.WatermarkState {
	w.Channels = nilIfEmpty(w.Channels)
	w.Groups = nilIfEmpty(w.Groups)
	return w
}

func normDetails(sigs []schemas.SignatureCount, samples []schemas.Sample) ([]schemas.SignatureCount, []schemas.Sample) {
	return nilIfEmpty(sigs), nilIfEmpty(samples)
}

func normErrorRatePartial(v schemas.ErrorRatePartial) schemas.ErrorRatePartial {
	v.Hosts = nilIfEmpty(append([]schemas.PartialHost(nil), v.Hosts...))
	for i := range v.Hosts {
		h := &v.Hosts[i]
		h.Ticks = nilIfEmpty(h.Ticks)
		h.Panes = nilIfEmpty(append([]schemas.PartialPane(nil), h.Panes...))
		for j := range h.Panes {
			p := &h.Panes[j]
			p.Latency = nilIfEmpty(p.Latency)
			p.Signatures, p.Samples = normDetails(p.Signatures, p.Samples)
		}
	}
	return v
}

func errorRatePartialEqual(a, b *schemas.ErrorRatePartial) bool {
	return reflect.DeepEqual(normErrorRatePartial(*a), normErrorRatePartial(*b))
}

func normErrorRatePartition(v schemas.ErrorRatePartition) schemas.ErrorRatePartition {
	v.Watermark = normWatermark(v.Watermark)
	v.Hosts = nilIfEmpty(append([]schemas.PartitionHost(nil), v.Hosts...))
	for i := range v.Hosts {
		h := &v.Hosts[i]
		h.Ticks = nilIfEmpty(h.Ticks)
		h.Sources = emptyIfNil(h.Sources)
		h.Panes = nilIfEmpty(append([]schemas.PartitionPane(nil), h.Panes...))
		for j := range h.Panes {
			p := &h.Panes[j]
			p.Latency = nilIfEmpty(p.Latency)
			p.Signatures, p.Samples = normDetails(p.Signatures, p.Samples)
		}
	}
	v.Emits = nilIfEmpty(append([]schemas.PartitionEmit(nil), v.Emits...))
	for i := range v.Emits {
		v.Emits[i].Value = nilIfEmpty(v.Emits[i].Value)
	}
	return v
}

func errorRatePartitionEqual(a, b *schemas.ErrorRatePartition) bool {
	return reflect.DeepEqual(normErrorRatePartition(*a), normErrorRatePartition(*b))
}

func normWindowUpdate(v schemas.WindowUpdate) schemas.WindowUpdate {
	v.Hosts = nilIfEmpty(append([]schemas.HostTicks(nil), v.Hosts...))
	for i := range v.Hosts {
		v.Hosts[i].Ticks = nilIfEmpty(v.Hosts[i].Ticks)
		v.Hosts[i].Latest = nilIfEmpty(v.Hosts[i].Latest)
	}
	return v
}

func windowUpdateEqual(a, b *schemas.WindowUpdate) bool {
	return reflect.DeepEqual(normWindowUpdate(*a), normWindowUpdate(*b))
}

func fullSignatureCounts() []schemas.SignatureCount {
	return []schemas.SignatureCount{
		{Signature: "timeout after <num> ms to <ip>:<num>", Count: 41, Example: "timeout after 3000 ms to 10.0.7.12:8443"},
		{Signature: "HTTP <num>", Count: 3, Example: "HTTP 503"},
	}
}

func fullSamples() []schemas.Sample {
	return []schemas.Sample{
		{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", EventID: "9f86d081884c7d659a2feaa0c55ad015", Timestamp: alertWindowStart + 4_200,
			Message: "timeout after 3000 ms to 10.0.7.12:8443", SpanService: "payments-db", SpanOperation: "SELECT", SpanDurationUs: 3_001_200},
		{TraceID: "0af7651916cd43dd8448eb211c80319c", EventID: "e3b0c44298fc1c149afbf4c8996fb924", Timestamp: alertWindowStart + 9_000,
			Message: "timeout after 3000 ms to 10.0.7.12:8443", SpanDurationUs: -1},
	}
}

func fullWatermarkState() schemas.WatermarkState {
	return schemas.WatermarkState{
		Channels: []schemas.WatermarkChannel{
			{Channel: "logs.unique/0", Kind: "time", Time: alertWindowStart + 61_000, Seq: 88_121},
			{Channel: "logs.unique/1", Kind: "idle", Seq: 4_031},
			{Channel: "logs.unique/2", Kind: "hold", Seq: -1, Local: true},
		},
		Groups:    []string{"logs.unique"},
		Watermark: alertWindowStart + 60_500,
		WokeAt:    alertWindowStart - 20_000,
	}
}

func fullErrorRatePartial() *schemas.ErrorRatePartial {
	return &schemas.ErrorRatePartial{Hosts: []schemas.PartialHost{
		{
			Host:  "web-3",
			Ticks: []schemas.TickCount{{Start: alertWindowStart, Events: 41, Errors: 9}, {Start: alertWindowStart + 1_000, Events: 38, Errors: 8}},
			Panes: []schemas.PartialPane{{Start: alertWindowStart, FirstError: alertWindowStart + 17, Latency: []byte{0x96, 0x05, 0x04},
				Signatures: fullSignatureCounts(), Samples: fullSamples()}},
		},
		{Host: "web-4", Future: 2}, // nil ticks and panes
	}}
}

func fullErrorRatePartition() *schemas.ErrorRatePartition {
	return &schemas.ErrorRatePartition{
		Applied: 1_201, AppliedLoop: -1, Watermark: fullWatermarkState(),
		SentTick: alertWindowStart + 60_000, Seq: 61, Status: "time", StatusAt: alertWindowStart + 62_000,
		Late: 3, Future: 1, LateSamples: 2, Migrated: true,
		Hosts: []schemas.PartitionHost{
			{
				Host: "web-3", Version: 17, TumblingClosed: alertWindowStart, HoppingClosed: alertWindowStart, LastEvent: alertWindowStart + 60_400,
				Late: 3, Dirty: true,
				Panes: []schemas.PartitionPane{{Start: alertWindowStart, Events: 234, Errors: 50, FirstError: alertWindowStart + 17,
					Latency: []byte{0x96, 0x05, 0x04}, Signatures: fullSignatureCounts(), Samples: fullSamples()}},
				Ticks:   []schemas.TickCount{{Start: alertWindowStart + 60_000, Events: 4, Errors: 1}},
				Sources: map[int32]int64{0: 77, 5: 90_001},
			},
			{Host: "web-5"},
		},
		Emits: []schemas.PartitionEmit{{Input: "errorrate-partials", Offset: 1_200, Topic: "hosts.error-rate", Key: "web-3", Value: []byte{0xC3, 0x01, 0x00}}},
	}
}

func fullWindowUpdate() *schemas.WindowUpdate {
	return &schemas.WindowUpdate{
		Partition: 4, Seq: 61, Watermark: alertWindowStart + 61_000, Status: "time", TickMs: 1_000, WindowMs: 60_000,
		Hosts: []schemas.HostTicks{
			{Host: "web-3", Ticks: []schemas.TickCount{{Start: alertWindowStart + 59_000, Events: 1, Errors: 0}, {Start: alertWindowStart + 60_000, Events: 4, Errors: 1}},
				Latest: []byte{0xC3, 0x01, 0x42}},
			{Host: "web-5"},
		},
	}
}

func fullAlerterStateV2() *schemas.AlerterState {
	v := fullAlerterState()
	v.Watermark = fullWatermarkState()
	v.Tick, v.TickMs, v.WindowMs = alertWindowStart+61_000, 1_000, 60_000
	v.Sources = map[int32]int64{0: 61, 3: 12}
	v.Hosts[0].Pending = []schemas.TickCount{{Start: alertWindowStart + 61_000, Events: 5, Errors: 2}}
	v.Hosts[0].LastEvent = alertWindowStart + 60_000
	return v
}

func TestErrorRateRecordsRoundTrip(t *testing.T) {
	s := mustSet(t)
	for name, v := range map[string]*schemas.ErrorRatePartial{
		"zero": {}, "full": fullErrorRatePartial(),
		"extremes": {Hosts: []schemas.PartialHost{{Host: "хост-🚀", Future: math.MaxInt64, Ticks: []schemas.TickCount{{Start: math.MinInt64, Events: math.MaxInt64}}}}},
	} {
		t.Run("partial/"+name, func(t *testing.T) { roundTrip(t, s.ErrorRatePartial, v, errorRatePartialEqual) })
	}
	for name, v := range map[string]*schemas.ErrorRatePartition{
		"zero": {}, "new": {Applied: -1, AppliedLoop: -1, Status: "unknown"}, "full": fullErrorRatePartition(),
	} {
		t.Run("partition/"+name, func(t *testing.T) { roundTrip(t, s.ErrorRatePartition, v, errorRatePartitionEqual) })
	}
	for name, v := range map[string]*schemas.WindowUpdate{
		"zero": {}, "full": fullWindowUpdate(),
	} {
		t.Run("update/"+name, func(t *testing.T) { roundTrip(t, s.WindowUpdate, v, windowUpdateEqual) })
	}
}

// TestAlerterStateV1ReadAsV2: a v1 state (the previous alerter's) decodes
// with the new fields at their defaults.
func TestAlerterStateV1ReadAsV2(t *testing.T) {
	v1, err := NewAlerterState(WithVersion(schemas.NameAlerterState, 1))
	if err != nil {
		t.Fatal(err)
	}
	b, err := v1.Marshal(fullAlerterState())
	if err != nil {
		t.Fatal(err)
	}
	got, err := mustSet(t).AlerterState.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if !alerterStateEqual(got, fullAlerterState()) || got.Tick != 0 || len(got.Watermark.Channels) != 0 || len(got.Hosts[0].Pending) != 0 {
		t.Fatalf("v1 read as v2: %+v", got)
	}
}

func TestGoldenErrorRate(t *testing.T) {
	t.Run("ErrorRatePartial", func(t *testing.T) {
		golden(t, NewErrorRatePartial, func(int) *schemas.ErrorRatePartial {
			v := fullErrorRatePartial()
			v.Hosts = v.Hosts[:1] // one order of everything
			return v
		}, errorRatePartialEqual)
	})
	t.Run("ErrorRatePartition", func(t *testing.T) {
		golden(t, NewErrorRatePartition, func(int) *schemas.ErrorRatePartition {
			v := fullErrorRatePartition()
			v.Hosts[0].Sources = map[int32]int64{5: 90_001} // one map order
			return v
		}, errorRatePartitionEqual)
	})
	t.Run("WindowUpdate", func(t *testing.T) {
		golden(t, NewWindowUpdate, func(int) *schemas.WindowUpdate { return fullWindowUpdate() }, windowUpdateEqual)
	})
}

func FuzzDecodeErrorRatePartial(f *testing.F) {
	s := mustSet(f)
	seedCorpus(f, mustBytes(s.ErrorRatePartial.Marshal(fullErrorRatePartial())), mustBytes(s.ErrorRatePartial.Marshal(&schemas.ErrorRatePartial{})))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, s.ErrorRatePartial, data, errorRatePartialEqual) })
}

func FuzzDecodeErrorRatePartition(f *testing.F) {
	s := mustSet(f)
	seedCorpus(f, mustBytes(s.ErrorRatePartition.Marshal(fullErrorRatePartition())), mustBytes(s.ErrorRatePartition.Marshal(&schemas.ErrorRatePartition{})))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, s.ErrorRatePartition, data, errorRatePartitionEqual) })
}

func FuzzDecodeWindowUpdate(f *testing.F) {
	s := mustSet(f)
	seedCorpus(f, mustBytes(s.WindowUpdate.Marshal(fullWindowUpdate())), mustBytes(s.WindowUpdate.Marshal(&schemas.WindowUpdate{})))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, s.WindowUpdate, data, windowUpdateEqual) })
}
