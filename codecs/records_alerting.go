package codecs

import (
	"fmt"
	"strconv"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/logstream/logstream/schemas"
)

// Codecs of the error-rate and alerting records. Conventions shared by all
// four: a nil slice encodes as an empty array and an empty array decodes as
// nil; a nil []byte in a bytes field encodes as empty bytes and empty bytes
// decode as nil; a nil map encodes as an empty map and decodes as a non-nil
// one.

// ---- HostWindow ----

// NewHostWindow returns the codec of schemas.HostWindow (hostwindow/), the
// errorrate stage's output.
func NewHostWindow(opts ...Option) (*Codec[schemas.HostWindow], error) {
	return newCodec(schemas.NameHostWindow, converter[schemas.HostWindow]{
		toNative:     hostWindowToNative,
		fromNative:   hostWindowFromNative,
		appendBody:   appendHostWindow,
		typedVersion: 1,
		readBody:     readHostWindow,
		size: func(v *schemas.HostWindow) int {
			return len(v.Host) + len(v.Kind) + len(v.Emit) + 3*5 + 7*10 + 8 + 3*9 + 11 + 2*2 +
				signaturesSize(v.Signatures) + traceSamplesSize(v.Samples)
		},
	}, opts)
}

func hostWindowToNative(v *schemas.HostWindow) (map[string]any, error) {
	return map[string]any{
		"host":           v.Host,
		"kind":           v.Kind,
		"start":          v.Start,
		"end":            v.End,
		"emit":           v.Emit,
		"version":        v.Version,
		"as_of":          v.AsOf,
		"events":         v.Events,
		"errors":         v.Errors,
		"error_rate":     v.ErrorRate,
		"latency_count":  v.LatencyCount,
		"latency_p50_ms": optDouble(v.LatencyP50),
		"latency_p95_ms": optDouble(v.LatencyP95),
		"latency_p99_ms": optDouble(v.LatencyP99),
		"first_error":    optMillis(v.FirstError),
		"signatures":     signaturesToNative(v.Signatures),
		"samples":        traceSamplesToNative(v.Samples),
	}, nil
}

func hostWindowFromNative(m map[string]any) (*schemas.HostWindow, error) {
	f := fields{m: m}
	v := &schemas.HostWindow{
		Host:         f.str("host"),
		Kind:         f.str("kind"),
		Start:        f.millis("start"),
		End:          f.millis("end"),
		Emit:         f.str("emit"),
		Version:      f.int64("version"),
		AsOf:         f.millis("as_of"),
		Events:       f.int64("events"),
		Errors:       f.int64("errors"),
		ErrorRate:    f.double("error_rate"),
		LatencyCount: f.int64("latency_count"),
		LatencyP50:   f.optDouble("latency_p50_ms"),
		LatencyP95:   f.optDouble("latency_p95_ms"),
		LatencyP99:   f.optDouble("latency_p99_ms"),
		FirstError:   f.optMillis("first_error"),
		Signatures:   records(&f, "signatures", signatureFromNative),
		Samples:      records(&f, "samples", traceSampleFromNative),
	}
	if f.err != nil {
		return nil, f.err
	}
	return v, nil
}

// Signature and TraceSample are the same records in hostwindow/ and alert/.

func signaturesToNative(s []schemas.Signature) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = map[string]any{
			"signature": x.Signature,
			"count":     x.Count,
			"example":   x.Example,
		}
	}
	return out
}

func signatureFromNative(r *fields) schemas.Signature {
	return schemas.Signature{
		Signature: r.str("signature"),
		Count:     r.int64("count"),
		Example:   r.str("example"),
	}
}

func signaturesSize(s []schemas.Signature) int {
	n := 0
	for _, x := range s {
		n += len(x.Signature) + len(x.Example) + 2*5 + 10
	}
	return n
}

func traceSamplesToNative(s []schemas.TraceSample) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = map[string]any{
			"trace_id":         x.TraceID,
			"event_id":         x.EventID,
			"timestamp":        x.Timestamp,
			"message":          x.Message,
			"span_service":     x.SpanService,
			"span_operation":   x.SpanOperation,
			"span_duration_us": optLong(x.SpanDurationUs),
		}
	}
	return out
}

func traceSampleFromNative(r *fields) schemas.TraceSample {
	return schemas.TraceSample{
		TraceID:        r.str("trace_id"),
		EventID:        r.str("event_id"),
		Timestamp:      r.millis("timestamp"),
		Message:        r.str("message"),
		SpanService:    r.str("span_service"),
		SpanOperation:  r.str("span_operation"),
		SpanDurationUs: r.optInt64("span_duration_us"),
	}
}

func traceSamplesSize(s []schemas.TraceSample) int {
	n := 0
	for _, x := range s {
		n += len(x.TraceID) + len(x.EventID) + len(x.Message) + len(x.SpanService) + len(x.SpanOperation) + 5*5 + 10 + 11
	}
	return n
}

// ---- Alert ----

// NewAlert returns the codec of schemas.Alert (alert/), the alerter's
// output.
func NewAlert(opts ...Option) (*Codec[schemas.Alert], error) {
	return newCodec(schemas.NameAlert, converter[schemas.Alert]{
		toNative:   alertToNative,
		fromNative: alertFromNative,
		size: func(v *schemas.Alert) int {
			return len(v.ID) + len(v.DedupKey) + len(v.State) + len(v.Scope) + len(v.Host) + len(v.Rule) + len(v.Summary) + 7*5 +
				2*8 + 9 + 7*10 + 3*2 + stringsSize(v.Rules) + signaturesSize(v.Signatures) + traceSamplesSize(v.Samples)
		},
	}, opts)
}

func alertToNative(v *schemas.Alert) (map[string]any, error) {
	return map[string]any{
		"id":           v.ID,
		"dedup_key":    v.DedupKey,
		"state":        v.State,
		"scope":        v.Scope,
		"host":         v.Host,
		"rule":         v.Rule,
		"rules":        stringsToNative(v.Rules),
		"summary":      v.Summary,
		"rate":         v.Rate,
		"fleet_rate":   v.FleetRate,
		"burn_rate":    optDouble(v.BurnRate),
		"events":       v.Events,
		"errors":       v.Errors,
		"window_start": v.WindowStart,
		"window_end":   v.WindowEnd,
		"signatures":   signaturesToNative(v.Signatures),
		"samples":      traceSamplesToNative(v.Samples),
		"first_seen":   v.FirstSeen,
		"last_seen":    v.LastSeen,
		"at":           v.At,
	}, nil
}

func alertFromNative(m map[string]any) (*schemas.Alert, error) {
	f := fields{m: m}
	v := &schemas.Alert{
		ID:          f.str("id"),
		DedupKey:    f.str("dedup_key"),
		State:       f.str("state"),
		Scope:       f.str("scope"),
		Host:        f.str("host"),
		Rule:        f.str("rule"),
		Rules:       f.strings("rules"),
		Summary:     f.str("summary"),
		Rate:        f.double("rate"),
		FleetRate:   f.double("fleet_rate"),
		BurnRate:    f.optDouble("burn_rate"),
		Events:      f.int64("events"),
		Errors:      f.int64("errors"),
		WindowStart: f.millis("window_start"),
		WindowEnd:   f.millis("window_end"),
		Signatures:  records(&f, "signatures", signatureFromNative),
		Samples:     records(&f, "samples", traceSampleFromNative),
		FirstSeen:   f.millis("first_seen"),
		LastSeen:    f.millis("last_seen"),
		At:          f.millis("at"),
	}
	if f.err != nil {
		return nil, f.err
	}
	return v, nil
}

// ---- ErrorRateState ----

// NewErrorRateState returns the codec of schemas.ErrorRateState
// (errorratestate/), the errorrate stage's table value.
func NewErrorRateState(opts ...Option) (*Codec[schemas.ErrorRateState], error) {
	return newCodec(schemas.NameErrorRateState, converter[schemas.ErrorRateState]{
		toNative:   errorRateStateToNative,
		fromNative: errorRateStateFromNative,
		size: func(v *schemas.ErrorRateState) int {
			n := 10*10 + 2 + 3*2 + 10*len(v.Recent) + emitsSize(v.Emits)
			for _, p := range v.Panes {
				n += 4*10 + 3*2 + 15*len(p.Latency)
				for _, s := range p.Signatures {
					n += len(s.Signature) + len(s.Example) + 2*5 + 10
				}
				for _, s := range p.Samples {
					n += len(s.TraceID) + len(s.EventID) + len(s.Message) + len(s.SpanService) + len(s.SpanOperation) + 5*5 + 2*10
				}
			}
			return n
		},
	}, opts)
}

func errorRateStateToNative(v *schemas.ErrorRateState) (map[string]any, error) {
	recent := make([]any, len(v.Recent))
	for i, n := range v.Recent {
		recent[i] = n
	}
	panes := make([]any, len(v.Panes))
	for i, p := range v.Panes {
		panes[i] = paneToNative(&p)
	}
	return map[string]any{
		"applied":         v.Applied,
		"stream_time":     v.StreamTime,
		"last_seen":       v.LastSeen,
		"version":         v.Version,
		"last_update":     v.LastUpdate,
		"update_offset":   v.UpdateOffset,
		"dirty":           v.Dirty,
		"tumbling_closed": v.TumblingClosed,
		"hopping_closed":  v.HoppingClosed,
		"late":            v.Late,
		"recent":          recent,
		"silent":          v.Silent,
		"committed":       v.Committed,
		"sources":         bucketsToNative(v.Sources),
		"panes":           panes,
		"emits":           emitsToNative(v.Emits),
	}, nil
}

// bucketsToNative writes a map keyed by int32 as an Avro map (decimal keys).
func bucketsToNative(m map[int32]int64) map[string]any {
	out := make(map[string]any, len(m))
	for k, n := range m {
		out[strconv.FormatInt(int64(k), 10)] = n
	}
	return out
}

func paneToNative(p *schemas.Pane) map[string]any {
	return map[string]any{
		"start":       p.Start,
		"events":      p.Events,
		"errors":      p.Errors,
		"first_error": p.FirstError,
		"latency":     bucketsToNative(p.Latency),
		"signatures":  signatureCountsToNative(p.Signatures),
		"samples":     samplesToNative(p.Samples),
	}
}

func errorRateStateFromNative(m map[string]any) (*schemas.ErrorRateState, error) {
	f := fields{m: m}
	v := &schemas.ErrorRateState{
		Applied:        f.int64("applied"),
		StreamTime:     f.millis("stream_time"),
		LastSeen:       f.int64("last_seen"),
		Version:        f.int64("version"),
		LastUpdate:     f.int64("last_update"),
		UpdateOffset:   f.int64("update_offset"),
		Dirty:          f.boolean("dirty"),
		TumblingClosed: f.int64("tumbling_closed"),
		HoppingClosed:  f.int64("hopping_closed"),
		Late:           f.int64("late"),
		Recent:         f.int64s("recent"),
		Silent:         f.boolean("silent"),
		Committed:      f.int64("committed"),
		Sources:        f.bucketCounts("sources"),
		Panes:          records(&f, "panes", paneFromNative),
		Emits:          records(&f, "emits", emitFromNative),
	}
	if f.err != nil {
		return nil, f.err
	}
	return v, nil
}

func paneFromNative(r *fields) schemas.Pane {
	return schemas.Pane{
		Start:      r.int64("start"),
		Events:     r.int64("events"),
		Errors:     r.int64("errors"),
		FirstError: r.int64("first_error"),
		Latency:    r.bucketCounts("latency"),
		Signatures: records(r, "signatures", signatureCountFromNative),
		Samples:    records(r, "samples", sampleFromNative),
	}
}

// Emit is the same record in errorratestate/ and alerterstate/.

func emitsToNative(e []schemas.Emit) []any {
	out := make([]any, len(e))
	for i, x := range e {
		out[i] = map[string]any{
			"offset": x.Offset,
			"value":  nonNilBytes(x.Value),
		}
	}
	return out
}

func emitFromNative(r *fields) schemas.Emit {
	return schemas.Emit{
		Offset: r.int64("offset"),
		Value:  r.bytes("value"),
	}
}

func emitsSize(e []schemas.Emit) int {
	n := 0
	for _, x := range e {
		n += len(x.Value) + 5 + 10
	}
	return n
}

// ---- AlerterState ----

// NewAlerterState returns the codec of schemas.AlerterState
// (alerterstate/), the alerter's table value.
func NewAlerterState(opts ...Option) (*Codec[schemas.AlerterState], error) {
	return newCodec(schemas.NameAlerterState, converter[schemas.AlerterState]{
		toNative:     alerterStateToNative,
		fromNative:   alerterStateFromNative,
		appendBody:   appendAlerterState,
		typedVersion: 2,
		readBody:     readAlerterState,
		size: func(v *schemas.AlerterState) int {
			n := 5*10 + 3*2 + emitsSize(v.Emits) + watermarkSize(&v.Watermark) + 15*len(v.Sources)
			for _, h := range v.Hosts {
				n += len(h.Host) + len(h.Latest) + 2*5 + 6*10 + 1 + 3 + 3*10*(len(h.Minutes)+len(h.Pending))
			}
			for _, in := range v.Incidents {
				n += len(in.Key) + len(in.Scope) + len(in.Host) + len(in.Rule) + len(in.State) + len(in.Fired) + 6*5 +
					4*10 + 2 + stringsSize(in.Rules)
			}
			return n
		},
	}, opts)
}

func alerterStateToNative(v *schemas.AlerterState) (map[string]any, error) {
	hosts := make([]any, len(v.Hosts))
	for i, h := range v.Hosts {
		minutes := make([]any, len(h.Minutes))
		for j, m := range h.Minutes {
			minutes[j] = map[string]any{
				"start":  m.Start,
				"events": m.Events,
				"errors": m.Errors,
			}
		}
		hosts[i] = map[string]any{
			"host":       h.Host,
			"version":    h.Version,
			"as_of":      h.AsOf,
			"silent":     h.Silent,
			"t_start":    h.TStart,
			"t_events":   h.TEvents,
			"t_errors":   h.TErrors,
			"latest":     nonNilBytes(h.Latest),
			"minutes":    minutes,
			"pending":    ticksToNative(h.Pending),
			"last_event": h.LastEvent,
		}
	}
	incidents := make([]any, len(v.Incidents))
	for i, in := range v.Incidents {
		incidents[i] = map[string]any{
			"key":        in.Key,
			"scope":      in.Scope,
			"host":       in.Host,
			"rule":       in.Rule,
			"rules":      stringsToNative(in.Rules),
			"state":      in.State,
			"since":      in.Since,
			"first_seen": in.FirstSeen,
			"last_seen":  in.LastSeen,
			"number":     in.Number,
			"fired":      nonNilBytes(in.Fired),
		}
	}
	return map[string]any{
		"applied":   v.Applied,
		"seq":       v.Seq,
		"hosts":     hosts,
		"watermark": watermarkToNative(&v.Watermark),
		"tick":      v.Tick,
		"tick_ms":   v.TickMs,
		"window_ms": v.WindowMs,
		"sources":   bucketsToNative(v.Sources),
		"incidents": incidents,
		"emits":     emitsToNative(v.Emits),
	}, nil
}

func alerterStateFromNative(m map[string]any) (*schemas.AlerterState, error) {
	f := fields{m: m}
	v := &schemas.AlerterState{
		Applied:   f.int64("applied"),
		Seq:       f.int64("seq"),
		Hosts:     records(&f, "hosts", hostViewFromNative),
		Watermark: watermarkFromNative(&f, "watermark"),
		Tick:      f.int64("tick"),
		TickMs:    f.int64("tick_ms"),
		WindowMs:  f.int64("window_ms"),
		Sources:   f.bucketCounts("sources"),
		Incidents: records(&f, "incidents", incidentFromNative),
		Emits:     records(&f, "emits", emitFromNative),
	}
	if f.err != nil {
		return nil, f.err
	}
	return v, nil
}

func hostViewFromNative(r *fields) schemas.HostView {
	return schemas.HostView{
		Host:    r.str("host"),
		Version: r.int64("version"),
		AsOf:    r.int64("as_of"),
		Silent:  r.boolean("silent"),
		TStart:  r.int64("t_start"),
		TEvents: r.int64("t_events"),
		TErrors: r.int64("t_errors"),
		Latest:  r.bytes("latest"),
		Minutes: records(r, "minutes", func(m *fields) schemas.Minute {
			return schemas.Minute{
				Start:  m.int64("start"),
				Events: m.int64("events"),
				Errors: m.int64("errors"),
			}
		}),
		Pending:   records(r, "pending", tickFromNative),
		LastEvent: r.int64("last_event"),
	}
}

func incidentFromNative(r *fields) schemas.Incident {
	return schemas.Incident{
		Key:       r.str("key"),
		Scope:     r.str("scope"),
		Host:      r.str("host"),
		Rule:      r.str("rule"),
		Rules:     r.strings("rules"),
		State:     r.str("state"),
		Since:     r.int64("since"),
		FirstSeen: r.int64("first_seen"),
		LastSeen:  r.int64("last_seen"),
		Number:    r.int64("number"),
		Fired:     r.bytes("fired"),
	}
}

// ---- Conversion helpers these records add to those in native.go ----

// millisBranch is goavro's name for the timestamp-millis branch of a union.
const millisBranch = "long.timestamp-millis"

// optMillis is a ["null", timestamp-millis] value.
func optMillis(p *int64) any {
	if p == nil {
		return nil
	}
	return goavro.Union(millisBranch, *p)
}

// nonNilBytes makes a nil slice empty bytes: goavro rejects a nil []byte.
func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// stringsToNative converts an array of strings; nil becomes empty.
func stringsToNative(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

func stringsSize(s []string) int {
	n := 2
	for _, x := range s {
		n += len(x) + 5
	}
	return n
}

func (f *fields) boolean(name string) bool {
	v, ok := f.m[name].(bool)
	if !ok {
		f.fail(name, "bool", f.m[name])
	}
	return v
}

func (f *fields) double(name string) float64 {
	v, ok := f.m[name].(float64)
	if !ok {
		f.fail(name, "float64", f.m[name])
	}
	return v
}

// bytes returns a copy of a bytes field (goavro's bytes alias the input),
// nil when empty.
func (f *fields) bytes(name string) []byte {
	b, ok := f.m[name].([]byte)
	if !ok {
		f.fail(name, "[]byte", f.m[name])
		return nil
	}
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// optMillis reads a ["null", timestamp-millis] field as milliseconds since
// the epoch, or nil for null.
func (f *fields) optMillis(name string) *int64 {
	x, ok := f.branch(name, millisBranch)
	if !ok {
		return nil
	}
	switch t := x.(type) {
	case time.Time:
		ms := t.UnixMilli()
		return &ms
	case int64:
		return &t
	default:
		f.fail(name, "time.Time", x)
		return nil
	}
}

// array returns the items of an array field.
func (f *fields) array(name string) []any {
	v, ok := f.m[name].([]any)
	if !ok {
		f.fail(name, "array", f.m[name])
	}
	return v
}

// strings reads an array of strings; empty gives nil.
func (f *fields) strings(name string) []string {
	var out []string
	for i, x := range f.array(name) {
		s, ok := x.(string)
		if !ok {
			f.fail(fmt.Sprintf("%s[%d]", name, i), "string", x)
			return nil
		}
		out = append(out, s)
	}
	return out
}

// int64s reads an array of longs; empty gives nil.
func (f *fields) int64s(name string) []int64 {
	var out []int64
	for i, x := range f.array(name) {
		n, ok := x.(int64)
		if !ok {
			f.fail(fmt.Sprintf("%s[%d]", name, i), "int64", x)
			return nil
		}
		out = append(out, n)
	}
	return out
}

// bucketCounts reads a map<long> keyed by decimal int32 bucket indexes, as
// the encoder writes them (canonical form only, so no two keys name one
// bucket); the result is non-nil.
func (f *fields) bucketCounts(name string) map[int32]int64 {
	m, ok := f.m[name].(map[string]any)
	if !ok {
		f.fail(name, "map", f.m[name])
		return map[int32]int64{}
	}
	out := make(map[int32]int64, len(m))
	for k, x := range m {
		i, err := strconv.ParseInt(k, 10, 32)
		if err != nil || strconv.FormatInt(i, 10) != k {
			if f.err == nil {
				f.err = fmt.Errorf("field %s: key %q is not a decimal int32 bucket index", name, k)
			}
			continue
		}
		n, ok := x.(int64)
		if !ok {
			f.fail(name+"["+k+"]", "int64", x)
			continue
		}
		out[int32(i)] = n
	}
	return out
}

// records converts the items of an array-of-records field with conv; empty
// gives nil. The first failure is recorded in f, with the item's index.
func records[T any](f *fields, name string, conv func(*fields) T) []T {
	var out []T
	for i, x := range f.array(name) {
		r, err := asRecord(fmt.Sprintf("field %s[%d]", name, i), x)
		if err != nil {
			if f.err == nil {
				f.err = err
			}
			return nil
		}
		v := conv(r)
		if r.err != nil {
			if f.err == nil {
				f.err = fmt.Errorf("field %s[%d]: %w", name, i, r.err)
			}
			return nil
		}
		out = append(out, v)
	}
	return out
}
