package codecs

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/logstream/logstream/schemas"
)

// Tests of the typed codecs against the goavro map path they replace for a
// codec's own version: the same bytes out (but for map order), the same
// values and the same errors in.

// goavroPath returns a copy of c that takes the goavro map path for its
// own version too.
func goavroPath[T any](c *Codec[T]) *Codec[T] {
	d := *c
	d.typed = false
	return &d
}

// exactEqual compares two values field by field, floats by their bits
// (NaN equals itself), and tells nil from empty maps and slices: what the
// typed decoder returns must be exactly what the goavro path returned.
func exactEqual(a, b any) bool { return exactValue(reflect.ValueOf(a), reflect.ValueOf(b)) }

func exactValue(a, b reflect.Value) bool {
	if a.Kind() != b.Kind() || a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Float32, reflect.Float64:
		return math.Float64bits(a.Float()) == math.Float64bits(b.Float())
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return exactValue(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if !exactValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !exactValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			w := b.MapIndex(k)
			if !w.IsValid() || !exactValue(a.MapIndex(k), w) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(a.Interface(), b.Interface())
	}
}

// checkDifferential decodes data with the typed codec and with the goavro
// path: both fail with the same kind of error, or both give exactly the
// same value, which shares no memory with data.
func checkDifferential[T any](t *testing.T, c *Codec[T], data []byte) {
	t.Helper()
	if !c.typed {
		t.Fatalf("%s codec is not typed", c.Name())
	}
	in := bytes.Clone(data)
	got, gerr := c.Unmarshal(in)
	want, werr := goavroPath(c).Unmarshal(data)
	if (gerr == nil) != (werr == nil) {
		t.Fatalf("%x\ntyped: %v, %v\ngoavro: %v, %v", data, got, gerr, want, werr)
	}
	if gerr != nil {
		var g, w *DecodeError
		if !errors.As(gerr, &g) || !errors.As(werr, &w) {
			t.Fatalf("not *DecodeError: typed %T %v, goavro %T %v", gerr, gerr, werr, werr)
		}
		if g.Kind != w.Kind || g.Fingerprint != w.Fingerprint || g.Record != w.Record || got != nil {
			t.Fatalf("%x\ntyped: %v (%+v)\ngoavro: %v (%+v)", data, gerr, g, werr, w)
		}
		return
	}
	for i := range in {
		in[i] = ^in[i]
	}
	if !exactEqual(got, want) {
		t.Fatalf("%x (or the decoded value shares the input's memory)\ntyped:  %+v\ngoavro: %+v", data, got, want)
	}
}

// checkRoundTrips encodes v both ways: the bytes match (the same length
// when a map has more than one entry, whose order varies), each path
// decodes the other's bytes, and every decoding is exactly the same value.
func checkRoundTrips[T any](t *testing.T, c *Codec[T], v *T) {
	t.Helper()
	old := goavroPath(c)
	typedBytes, err := c.Marshal(v)
	if err != nil {
		t.Fatalf("typed encode: %v", err)
	}
	goavroBytes, err := old.Marshal(v)
	if err != nil {
		t.Fatalf("goavro encode: %v", err)
	}
	if len(typedBytes) != len(goavroBytes) {
		t.Fatalf("typed encoding %d bytes %x\ngoavro's %d bytes %x", len(typedBytes), typedBytes, len(goavroBytes), goavroBytes)
	}
	if !bytes.Equal(typedBytes, goavroBytes) && !hasLongMap(reflect.ValueOf(v)) {
		t.Fatalf("typed encoding %x\ngoavro's %x", typedBytes, goavroBytes)
	}
	want, err := old.Unmarshal(goavroBytes)
	if err != nil {
		t.Fatalf("goavro decode: %v", err)
	}
	for name, data := range map[string][]byte{"typed": typedBytes, "goavro": goavroBytes} {
		a, err := old.Unmarshal(data)
		if err != nil {
			t.Fatalf("goavro decoding the %s encoding: %v", name, err)
		}
		b, err := c.Unmarshal(data)
		if err != nil {
			t.Fatalf("typed decoding the %s encoding: %v", name, err)
		}
		if !exactEqual(a, want) || !exactEqual(b, want) {
			t.Fatalf("%s encoding decodes\ngoavro: %+v\ntyped:  %+v\nwant:   %+v", name, a, b, want)
		}
	}
	// MarshalAppend appends to what is there, in both wire formats.
	for _, w := range []Wire{WireSingleObject, WireConfluent} {
		cw := c.WithWire(w)
		prefix := []byte("prefix")
		out, err := cw.MarshalAppend(prefix, v)
		if err != nil {
			t.Fatal(err)
		}
		plain, _ := goavroPath(cw).Marshal(v)
		if !bytes.HasPrefix(out, prefix) || len(out)-len(prefix) != len(plain) {
			t.Fatalf("%v: MarshalAppend gave %x, goavro %x", w, out, plain)
		}
		if got, err := cw.Unmarshal(out[len(prefix):]); err != nil || !exactEqual(got, want) {
			t.Fatalf("%v: %+v, %v", w, got, err)
		}
	}
}

// hasLongMap reports whether v holds a map of two or more entries.
func hasLongMap(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer:
		return !v.IsNil() && hasLongMap(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if hasLongMap(v.Field(i)) {
				return true
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			if hasLongMap(v.Index(i)) {
				return true
			}
		}
	case reflect.Map:
		if v.Len() > 1 {
			return true
		}
		for it := v.MapRange(); it.Next(); {
			if hasLongMap(it.Value()) {
				return true
			}
		}
	}
	return false
}

// Random values: every optional nil or not, maps nil, empty or full,
// strings empty, ASCII, other scripts, invalid UTF-8 or large.

func randString(r *rand.Rand) string {
	switch r.IntN(10) {
	case 0:
		return ""
	case 1:
		return unicodeText
	case 2:
		b := make([]byte, r.IntN(8)+1)
		for i := range b {
			b[i] = byte(0x80 + r.IntN(0x80)) // invalid UTF-8
		}
		return string(b)
	case 3:
		if r.IntN(5) == 0 {
			return strings.Repeat("large ", 5000+r.IntN(10000))
		}
		return strings.Repeat("x", r.IntN(300))
	default:
		b := make([]byte, r.IntN(40))
		for i := range b {
			b[i] = byte(' ' + r.IntN(95))
		}
		return string(b)
	}
}

func randOpt[T any](r *rand.Rand, f func(*rand.Rand) T) *T {
	if r.IntN(3) == 0 {
		return nil
	}
	v := f(r)
	return &v
}

func randLong(r *rand.Rand) int64 {
	switch r.IntN(6) {
	case 0:
		return 0
	case 1:
		return math.MaxInt64
	case 2:
		return math.MinInt64
	case 3:
		return -r.Int64N(1000)
	default:
		return r.Int64()
	}
}

func randInt(r *rand.Rand) int32 {
	switch r.IntN(4) {
	case 0:
		return math.MaxInt32
	case 1:
		return math.MinInt32
	default:
		return int32(r.Uint32())
	}
}

func randDouble(r *rand.Rand) float64 {
	switch r.IntN(6) {
	case 0:
		return math.NaN()
	case 1:
		return math.Inf(-1)
	case 2:
		return math.Copysign(0, -1)
	default:
		return r.NormFloat64() * 1000
	}
}

func randStringMap(r *rand.Rand) map[string]string {
	switch r.IntN(4) {
	case 0:
		return nil
	case 1:
		return map[string]string{}
	}
	m := map[string]string{}
	for range r.IntN(6) + 1 {
		m[randString(r)] = randString(r)
	}
	return m
}

// randBytes is nil, empty or random bytes.
func randBytes(r *rand.Rand) []byte {
	switch r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []byte{}
	}
	b := make([]byte, r.IntN(100)+1)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func randRawLog(r *rand.Rand) *schemas.RawLog {
	return &schemas.RawLog{Host: randString(r), Source: randString(r), Line: randString(r), ReceivedAt: randLong(r), Labels: randStringMap(r)}
}

func randLogEvent(r *rand.Rand) *schemas.LogEvent {
	return &schemas.LogEvent{
		EventID: randString(r), Timestamp: randLong(r), Host: randString(r), Service: randString(r),
		Level: schemas.Level(r.IntN(len(levelSymbols))), Message: randString(r),
		TraceID: randOpt(r, randString), SpanID: randOpt(r, randString), HTTPStatus: randOpt(r, randInt),
		LatencyMs: randOpt(r, randDouble), K8sNamespace: randOpt(r, randString), K8sPod: randOpt(r, randString),
		K8sContainer: randOpt(r, randString), Labels: randStringMap(r), ParseError: randOpt(r, randString),
		Source: randString(r), Format: randString(r), Cluster: randString(r), SpanService: randString(r),
		SpanOperation: randString(r), SpanDurationUs: randOpt(r, randLong), SpanStatus: randString(r),
		RootOperation: randString(r), JoinStatus: randString(r), Stack: randOpt(r, randString), Masked: randInt(r),
	}
}

func typedSeeds() []uint64 {
	n := 300
	if testing.Short() {
		n = 60
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i) + 1
	}
	return out
}

func testTyped[T any](t *testing.T, c *Codec[T], gen func(*rand.Rand) *T, fixtures ...*T) {
	t.Run("round trips", func(t *testing.T) {
		for _, v := range fixtures {
			checkRoundTrips(t, c, v)
		}
		for _, seed := range typedSeeds() {
			checkRoundTrips(t, c, gen(rand.New(rand.NewPCG(seed, 14))))
		}
	})
	t.Run("differential", func(t *testing.T) {
		for _, data := range typedCorpus(t, c, gen, fixtures...) {
			checkDifferential(t, c, data)
		}
	})
}

// typedValid is the golden files of the record and encodings of the
// fixtures and of random values.
func typedValid[T any](t testing.TB, c *Codec[T], gen func(*rand.Rand) *T, fixtures ...*T) [][]byte {
	var valid [][]byte
	files, _ := filepath.Glob(filepath.Join("testdata", strings.ToLower(c.Name()), "*.bin"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		valid = append(valid, b)
	}
	for _, v := range fixtures {
		valid = append(valid, mustBytes(c.Marshal(v)))
	}
	for seed := range uint64(20) {
		valid = append(valid, mustBytes(c.Marshal(gen(rand.New(rand.NewPCG(seed, 41))))))
	}
	return valid
}

// typedCorpus is typedValid and corruptions of each: every cut, every byte
// flipped, trailing bytes.
func typedCorpus[T any](t testing.TB, c *Codec[T], gen func(*rand.Rand) *T, fixtures ...*T) [][]byte {
	var out [][]byte
	for _, v := range typedValid(t, c, gen, fixtures...) {
		out = append(out, v, cat(v, []byte{0}), cat(v, v))
		if len(v) > 4096 {
			continue
		}
		for i := range v {
			out = append(out, v[:i])
			for _, x := range []byte{0x80, 0x01, 0xff} {
				c := bytes.Clone(v)
				c[i] ^= x
				out = append(out, c)
			}
		}
	}
	return out
}

func TestTypedRawLog(t *testing.T) {
	s := mustSet(t)
	testTyped(t, s.RawLog, randRawLog, fullRawLog(), goldenRawLog(), &schemas.RawLog{},
		&schemas.RawLog{Line: unicodeText, Labels: map[string]string{"a": ""}})
}

func TestTypedLogEvent(t *testing.T) {
	s := mustSet(t)
	testTyped(t, s.LogEvent, randLogEvent, fullLogEvent(), goldenLogEvent(), benchEvent(), &schemas.LogEvent{},
		&schemas.LogEvent{Level: schemas.LevelFatal, HTTPStatus: ptr(int32(-1)), Labels: map[string]string{"k": "v"}})
}

// TestTypedOnlyOwnVersion: a codec pinned to an older version, and records
// of older versions, take the goavro path.
func TestTypedOnlyOwnVersion(t *testing.T) {
	latest := mustSet(t).LogEvent
	if !latest.typed {
		t.Fatal("the latest LogEvent codec is not typed")
	}
	pinned, err := NewLogEvent(WithVersion(schemas.NameLogEvent, 2))
	if err != nil {
		t.Fatal(err)
	}
	if pinned.typed {
		t.Fatal("a codec pinned to LogEvent v2 is typed")
	}
}

// fuzzTyped is the differential fuzz target of one typed record.
func fuzzTyped[T any](f *testing.F, c *Codec[T], gen func(*rand.Rand) *T, fixtures ...*T) {
	seedCorpus(f, typedValid(f, c, gen, fixtures...)...)
	f.Fuzz(func(t *testing.T, data []byte) { checkDifferential(t, c, data) })
}

func FuzzTypedRawLog(f *testing.F) {
	fuzzTyped(f, mustSet(f).RawLog, randRawLog, fullRawLog(), goldenRawLog())
}

func FuzzTypedLogEvent(f *testing.F) {
	fuzzTyped(f, mustSet(f).LogEvent, randLogEvent, fullLogEvent(), goldenLogEvent())
}

func randSpan(r *rand.Rand) *schemas.Span {
	return &schemas.Span{
		TraceID: randString(r), SpanID: randString(r), ParentSpanID: randOpt(r, randString), Service: randString(r),
		Operation: randString(r), Start: randLong(r), DurationUs: randLong(r),
		Status: schemas.SpanStatus(r.IntN(len(spanStatusSymbols))), Host: randString(r), Attributes: randStringMap(r),
	}
}

func randDeadLetter(r *rand.Rand) *schemas.DeadLetter {
	return &schemas.DeadLetter{
		OriginalKey: randBytes(r), OriginalValue: randBytes(r), SourceTopic: randString(r), SourcePartition: randInt(r),
		SourceOffset: randLong(r), Stage: randString(r), Error: randString(r), Time: randLong(r),
	}
}

func randParseState(r *rand.Rand) *schemas.ParseState {
	v := &schemas.ParseState{}
	switch r.IntN(4) {
	case 0:
		return v
	case 1:
		v.Pending = map[string]schemas.PendingLine{}
		return v
	}
	v.Pending = map[string]schemas.PendingLine{}
	for range r.IntN(4) + 1 {
		v.Pending[randString(r)] = schemas.PendingLine{Stream: randString(r), Time: randLong(r), Content: randString(r),
			Parts: randInt(r), LastOffset: randLong(r), Updated: randLong(r), Mark: randLong(r), Masked: randInt(r)}
	}
	if r.IntN(2) == 0 {
		v.Events = map[string]schemas.PendingEvent{}
		for range r.IntN(3) + 1 {
			v.Events[randString(r)] = schemas.PendingEvent{Line: randString(r), ReceivedAt: randLong(r), Labels: randStringMap(r),
				Stack: randString(r), Lines: randInt(r), LastOffset: randLong(r), Updated: randLong(r), Mark: randLong(r), Masked: randInt(r)}
		}
	}
	return v
}

func randDedupeState(r *rand.Rand) *schemas.DedupeState {
	return &schemas.DedupeState{FirstTopic: randString(r), FirstOffset: randLong(r), FirstSeen: randLong(r),
		LastInputOffset: randLong(r), LastLoopOffset: randLong(r)}
}

func randTraceState(r *rand.Rand) *schemas.TraceState {
	v := &schemas.TraceState{LastActivity: randLong(r), AppliedSpans: randLong(r), AppliedLoop: randLong(r)}
	if r.IntN(4) == 0 {
		v.Spans = []schemas.SpanRef{}
	}
	for range r.IntN(5) {
		v.Spans = append(v.Spans, schemas.SpanRef{SpanID: randString(r), ParentSpanID: randOpt(r, randString),
			Service: randString(r), Operation: randString(r), DurationUs: randLong(r), Status: randString(r), End: randLong(r)})
	}
	for range r.IntN(5) {
		v.Events = append(v.Events, schemas.HeldEvent{EventID: randString(r), Timestamp: randLong(r), Value: randBytes(r),
			EmittedTopic: randString(r), EmittedOffset: randLong(r)})
	}
	return v
}

func TestTypedSpan(t *testing.T) {
	testTyped(t, mustSet(t).Span, randSpan, fullSpan(), goldenSpan(), &schemas.Span{})
}

func TestTypedDeadLetter(t *testing.T) {
	testTyped(t, mustSet(t).DeadLetter, randDeadLetter, fullDeadLetter(), goldenDeadLetter(), &schemas.DeadLetter{},
		&schemas.DeadLetter{OriginalKey: []byte{}, OriginalValue: []byte{}})
}

func TestTypedParseState(t *testing.T) {
	testTyped(t, mustSet(t).ParseState, randParseState, fullParseState(), goldenParseState(2), &schemas.ParseState{})
}

func TestTypedDedupeState(t *testing.T) {
	testTyped(t, mustSet(t).DedupeState, randDedupeState, &schemas.DedupeState{},
		&schemas.DedupeState{FirstTopic: "logs.parsed", FirstOffset: 1, FirstSeen: 2, LastInputOffset: 3, LastLoopOffset: -1})
}

func TestTypedTraceState(t *testing.T) {
	testTyped(t, mustSet(t).TraceState, randTraceState, benchTraceState(t), &schemas.TraceState{})
}

func FuzzTypedSpan(f *testing.F) {
	fuzzTyped(f, mustSet(f).Span, randSpan, fullSpan(), goldenSpan())
}

func FuzzTypedDeadLetter(f *testing.F) {
	fuzzTyped(f, mustSet(f).DeadLetter, randDeadLetter, fullDeadLetter(), goldenDeadLetter())
}

func FuzzTypedParseState(f *testing.F) {
	fuzzTyped(f, mustSet(f).ParseState, randParseState, fullParseState(), goldenParseState(2))
}

func FuzzTypedDedupeState(f *testing.F) {
	fuzzTyped(f, mustSet(f).DedupeState, randDedupeState, &schemas.DedupeState{FirstTopic: "logs.parsed", LastLoopOffset: -1})
}

func FuzzTypedTraceState(f *testing.F) {
	fuzzTyped(f, mustSet(f).TraceState, randTraceState, benchTraceState(f))
}

// randSlice is nil, empty or n random items.
func randSlice[E any](r *rand.Rand, max int, f func(*rand.Rand) E) []E {
	switch r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []E{}
	}
	out := make([]E, r.IntN(max)+1)
	for i := range out {
		out[i] = f(r)
	}
	return out
}

func randTick(r *rand.Rand) schemas.TickCount {
	return schemas.TickCount{Start: randLong(r), Events: randLong(r), Errors: randLong(r)}
}

func randSignatureCount(r *rand.Rand) schemas.SignatureCount {
	return schemas.SignatureCount{Signature: randString(r), Count: randLong(r), Example: randString(r)}
}

func randSample(r *rand.Rand) schemas.Sample {
	return schemas.Sample{TraceID: randString(r), EventID: randString(r), Timestamp: randLong(r), Message: randString(r),
		SpanService: randString(r), SpanOperation: randString(r), SpanDurationUs: randLong(r)}
}

func randBuckets(r *rand.Rand) map[int32]int64 {
	switch r.IntN(4) {
	case 0:
		return nil
	case 1:
		return map[int32]int64{}
	}
	m := map[int32]int64{}
	for range r.IntN(5) + 1 {
		m[randInt(r)] = randLong(r)
	}
	return m
}

func randErrorRatePartial(r *rand.Rand) *schemas.ErrorRatePartial {
	return &schemas.ErrorRatePartial{Hosts: randSlice(r, 3, func(r *rand.Rand) schemas.PartialHost {
		return schemas.PartialHost{Host: randString(r), Ticks: randSlice(r, 4, randTick), Future: randLong(r),
			Panes: randSlice(r, 3, func(r *rand.Rand) schemas.PartialPane {
				return schemas.PartialPane{Start: randLong(r), FirstError: randLong(r), Latency: randBytes(r),
					Signatures: randSlice(r, 3, randSignatureCount), Samples: randSlice(r, 3, randSample)}
			})}
	})}
}

func randErrorRatePartition(r *rand.Rand) *schemas.ErrorRatePartition {
	return &schemas.ErrorRatePartition{
		Applied: randLong(r), AppliedLoop: randLong(r),
		Watermark: schemas.WatermarkState{
			Channels: randSlice(r, 3, func(r *rand.Rand) schemas.WatermarkChannel {
				return schemas.WatermarkChannel{Channel: randString(r), Kind: randString(r), Time: randLong(r), Seq: randLong(r), Local: r.IntN(2) == 0}
			}),
			Groups: randSlice(r, 3, randString), Watermark: randLong(r), WokeAt: randLong(r),
		},
		SentTick: randLong(r), Seq: randLong(r), Status: randString(r), StatusAt: randLong(r), Late: randLong(r),
		Future: randLong(r), LateSamples: randLong(r), Migrated: r.IntN(2) == 0,
		Hosts: randSlice(r, 3, func(r *rand.Rand) schemas.PartitionHost {
			return schemas.PartitionHost{Host: randString(r), Version: randLong(r), TumblingClosed: randLong(r),
				HoppingClosed: randLong(r), LastEvent: randLong(r), Late: randLong(r), Dirty: r.IntN(2) == 0,
				Panes: randSlice(r, 3, func(r *rand.Rand) schemas.PartitionPane {
					return schemas.PartitionPane{Start: randLong(r), Events: randLong(r), Errors: randLong(r),
						FirstError: randLong(r), Latency: randBytes(r), Signatures: randSlice(r, 3, randSignatureCount),
						Samples: randSlice(r, 3, randSample)}
				}),
				Ticks: randSlice(r, 4, randTick), Sources: randBuckets(r)}
		}),
		Emits: randSlice(r, 3, func(r *rand.Rand) schemas.PartitionEmit {
			return schemas.PartitionEmit{Input: randString(r), Offset: randLong(r), Topic: randString(r), Key: randString(r), Value: randBytes(r)}
		}),
	}
}

func randWindowUpdate(r *rand.Rand) *schemas.WindowUpdate {
	return &schemas.WindowUpdate{Partition: randInt(r), Seq: randLong(r), Watermark: randLong(r), Status: randString(r),
		TickMs: randLong(r), WindowMs: randLong(r), Hosts: randSlice(r, 3, func(r *rand.Rand) schemas.HostTicks {
			return schemas.HostTicks{Host: randString(r), Ticks: randSlice(r, 4, randTick), Latest: randBytes(r)}
		})}
}

func randHostWindow(r *rand.Rand) *schemas.HostWindow {
	return &schemas.HostWindow{
		Host: randString(r), Kind: randString(r), Start: randLong(r), End: randLong(r), Emit: randString(r),
		Version: randLong(r), AsOf: randLong(r), Events: randLong(r), Errors: randLong(r), ErrorRate: randDouble(r),
		LatencyCount: randLong(r), LatencyP50: randOpt(r, randDouble), LatencyP95: randOpt(r, randDouble),
		LatencyP99: randOpt(r, randDouble), FirstError: randOpt(r, randLong),
		Signatures: randSlice(r, 3, func(r *rand.Rand) schemas.Signature {
			return schemas.Signature{Signature: randString(r), Count: randLong(r), Example: randString(r)}
		}),
		Samples: randSlice(r, 3, func(r *rand.Rand) schemas.TraceSample {
			return schemas.TraceSample{TraceID: randString(r), EventID: randString(r), Timestamp: randLong(r),
				Message: randString(r), SpanService: randString(r), SpanOperation: randString(r),
				SpanDurationUs: randOpt(r, randLong)}
		}),
	}
}

func TestTypedErrorRatePartial(t *testing.T) {
	testTyped(t, mustSet(t).ErrorRatePartial, randErrorRatePartial, fullErrorRatePartial(), &schemas.ErrorRatePartial{})
}

func TestTypedErrorRatePartition(t *testing.T) {
	testTyped(t, mustSet(t).ErrorRatePartition, randErrorRatePartition, fullErrorRatePartition(), &schemas.ErrorRatePartition{})
}

func TestTypedWindowUpdate(t *testing.T) {
	testTyped(t, mustSet(t).WindowUpdate, randWindowUpdate, fullWindowUpdate(), &schemas.WindowUpdate{})
}

func TestTypedHostWindow(t *testing.T) {
	testTyped(t, mustSet(t).HostWindow, randHostWindow, fullHostWindow(), &schemas.HostWindow{})
}

// TestTypedBucketKeys: a sources key that is not a canonical decimal int32
// is malformed on both paths.
func TestTypedBucketKeys(t *testing.T) {
	c := mustSet(t).ErrorRatePartition
	v := &schemas.ErrorRatePartition{Hosts: []schemas.PartitionHost{{Host: "h", Sources: map[int32]int64{7: 1}}}}
	good := mustBytes(c.Marshal(v))
	i := bytes.Index(good, []byte{2, '7', 2})
	if i < 0 {
		t.Fatalf("no key 7 in %x", good)
	}
	for _, key := range []string{"7", "07", "+7", "-0", "x", "2147483648", ""} {
		data := cat(good[:i], str(key), good[i+2:])
		checkDifferential(t, c, data)
		_, err := c.Unmarshal(data)
		if key == "7" && err != nil {
			t.Fatalf("the unchanged record: %v", err)
		}
		if key != "7" && !errors.Is(err, ErrMalformed) {
			t.Errorf("key %q: %v", key, err)
		}
	}
}

func FuzzTypedErrorRatePartial(f *testing.F) {
	fuzzTyped(f, mustSet(f).ErrorRatePartial, randErrorRatePartial, fullErrorRatePartial())
}

func FuzzTypedErrorRatePartition(f *testing.F) {
	fuzzTyped(f, mustSet(f).ErrorRatePartition, randErrorRatePartition, fullErrorRatePartition())
}

func FuzzTypedWindowUpdate(f *testing.F) {
	fuzzTyped(f, mustSet(f).WindowUpdate, randWindowUpdate, fullWindowUpdate())
}

func FuzzTypedHostWindow(f *testing.F) {
	fuzzTyped(f, mustSet(f).HostWindow, randHostWindow, fullHostWindow())
}

// TestTypedEncodeErrors: a value the schema cannot hold fails as on the
// goavro path, Marshal returns nil and MarshalAppend dst unchanged.
func TestTypedEncodeErrors(t *testing.T) {
	s := mustSet(t)
	ev := &schemas.LogEvent{Level: 99}
	sp := &schemas.Span{Status: -1}
	for name, marshal := range map[string]func(dst []byte) ([]byte, error){
		"LogEvent":        func(dst []byte) ([]byte, error) { return s.LogEvent.MarshalAppend(dst, ev) },
		"LogEvent goavro": func(dst []byte) ([]byte, error) { return goavroPath(s.LogEvent).MarshalAppend(dst, ev) },
		"Span":            func(dst []byte) ([]byte, error) { return s.Span.MarshalAppend(dst, sp) },
		"Span goavro":     func(dst []byte) ([]byte, error) { return goavroPath(s.Span).MarshalAppend(dst, sp) },
	} {
		dst := []byte("kept")
		out, err := marshal(dst)
		if err == nil || !bytes.Equal(out, dst) {
			t.Errorf("%s: %x, %v", name, out, err)
		}
	}
	if b, err := s.LogEvent.Marshal(ev); err == nil || b != nil {
		t.Errorf("Marshal: %x, %v", b, err)
	}
	if b, err := s.Span.Marshal(sp); err == nil || b != nil {
		t.Errorf("Marshal: %x, %v", b, err)
	}
}

func randAlerterState(r *rand.Rand) *schemas.AlerterState {
	return &schemas.AlerterState{
		Applied: randLong(r), Seq: randLong(r),
		Hosts: randSlice(r, 3, func(r *rand.Rand) schemas.HostView {
			return schemas.HostView{Host: randString(r), Version: randLong(r), AsOf: randLong(r), Silent: r.IntN(2) == 0,
				TStart: randLong(r), TEvents: randLong(r), TErrors: randLong(r), Latest: randBytes(r),
				Minutes: randSlice(r, 3, func(r *rand.Rand) schemas.Minute {
					return schemas.Minute{Start: randLong(r), Events: randLong(r), Errors: randLong(r)}
				}),
				Pending: randSlice(r, 3, randTick), LastEvent: randLong(r)}
		}),
		Watermark: randErrorRatePartition(r).Watermark,
		Tick:      randLong(r), TickMs: randLong(r), WindowMs: randLong(r), Sources: randBuckets(r),
		Incidents: randSlice(r, 3, func(r *rand.Rand) schemas.Incident {
			return schemas.Incident{Key: randString(r), Scope: randString(r), Host: randString(r), Rule: randString(r),
				Rules: randSlice(r, 3, randString), State: randString(r), Since: randLong(r), FirstSeen: randLong(r),
				LastSeen: randLong(r), Number: randLong(r), Fired: randBytes(r)}
		}),
		Emits: randSlice(r, 3, func(r *rand.Rand) schemas.Emit { return schemas.Emit{Offset: randLong(r), Value: randBytes(r)} }),
	}
}

func TestTypedAlerterState(t *testing.T) {
	testTyped(t, mustSet(t).AlerterState, randAlerterState, fullAlerterStateV2(), fullAlerterState(), &schemas.AlerterState{})
}

func FuzzTypedAlerterState(f *testing.F) {
	fuzzTyped(f, mustSet(f).AlerterState, randAlerterState, fullAlerterStateV2())
}

// TestTypedCodecsAreLatest fails when a record's latest schema version is
// newer than the typed code written for it: the codec still works (it
// falls back to goavro), but the hot path lost its typed encoder and
// decoder until typed_records.go (or typed_errorrate.go) is updated.
func TestTypedCodecsAreLatest(t *testing.T) {
	set, err := NewSet()
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, typed bool) {
		t.Helper()
		if !typed {
			t.Errorf("%s: the typed codec is not in use; its typedVersion is not the latest schema version: update its typed encoder and decoder", name)
		}
	}
	check("RawLog", set.RawLog.typed)
	check("LogEvent", set.LogEvent.typed)
	check("Span", set.Span.typed)
	check("DeadLetter", set.DeadLetter.typed)
	check("ParseState", set.ParseState.typed)
	check("DedupeState", set.DedupeState.typed)
	check("TraceState", set.TraceState.typed)
	check("HostWindow", set.HostWindow.typed)
	check("AlerterState", set.AlerterState.typed)
	check("ErrorRatePartial", set.ErrorRatePartial.typed)
	check("ErrorRatePartition", set.ErrorRatePartition.typed)
	check("WindowUpdate", set.WindowUpdate.typed)

	// And a codec whose typed code is for another version than the
	// latest does not use it.
	conv := converter[schemas.RawLog]{toNative: rawLogToNative, fromNative: rawLogFromNative,
		size: func(*schemas.RawLog) int { return 64 }, appendBody: appendRawLog, readBody: readRawLog, typedVersion: 99}
	c, err := newCodec(schemas.NameRawLog, conv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.typed {
		t.Fatal("a typed codec written for another version is in use")
	}
	b, err := c.Marshal(&schemas.RawLog{Host: "h", Line: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := set.RawLog.Unmarshal(b); err != nil || v.Host != "h" || v.Line != "x" {
		t.Fatalf("goavro fallback: %+v %v", v, err)
	}
}
