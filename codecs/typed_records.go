package codecs

import (
	"fmt"
	"slices"

	"github.com/logstream/logstream/schemas"
)

// Typed codecs of the records on the per-event paths, for the latest
// version of each schema: field by field in the schema's order. A change to
// one of these schemas (a new version) needs its functions here changed to
// the new layout; the golden, round-trip and differential tests fail until
// they are.

// ---- RawLog (rawlog/v1) ----

func appendRawLog(b []byte, v *schemas.RawLog) ([]byte, error) {
	b = appendString(b, v.Host)
	b = appendString(b, v.Source)
	b = appendString(b, v.Line)
	b = appendLong(b, v.ReceivedAt)
	return appendStringMap(b, v.Labels), nil
}

func readRawLog(body []byte) (*schemas.RawLog, error) {
	r := newReader(body)
	v := &schemas.RawLog{
		Host:       r.str(),
		Source:     r.str(),
		Line:       r.str(),
		ReceivedAt: r.long(),
		Labels:     r.stringMap(),
	}
	if err := r.done(); err != nil {
		return nil, err
	}
	return v, nil
}

// ---- LogEvent (logevent/v4) ----

func appendLogEvent(b []byte, v *schemas.LogEvent) ([]byte, error) {
	if v.Level < 0 || int(v.Level) >= len(levelSymbols) {
		return nil, fmt.Errorf("field level: %d is not a schemas.Level", v.Level)
	}
	b = appendString(b, v.EventID)
	b = appendLong(b, v.Timestamp)
	b = appendString(b, v.Host)
	b = appendString(b, v.Service)
	b = appendLong(b, int64(v.Level))
	b = appendString(b, v.Message)
	b = appendOptString(b, v.TraceID)
	b = appendOptString(b, v.SpanID)
	b = appendOptInt(b, v.HTTPStatus)
	b = appendOptDouble(b, v.LatencyMs)
	b = appendOptString(b, v.K8sNamespace)
	b = appendOptString(b, v.K8sPod)
	b = appendOptString(b, v.K8sContainer)
	b = appendStringMap(b, v.Labels)
	b = appendOptString(b, v.ParseError)
	b = appendString(b, v.Source)
	b = appendString(b, v.Format)
	b = appendString(b, v.Cluster)
	b = appendOptString(b, v.Stack)
	b = appendInt(b, v.Masked)
	return appendJoinFields(b, JoinFields{v.SpanService, v.SpanOperation, v.SpanDurationUs, v.SpanStatus, v.RootOperation, v.JoinStatus}), nil
}

// logEventBox holds a decoded LogEvent and the targets of its optional
// fields, so that one allocation serves them all.
type logEventBox struct {
	v        schemas.LogEvent
	strs     [7]string
	status   int32
	latency  float64
	duration int64
}

func readLogEvent(body []byte) (*schemas.LogEvent, error) {
	r := newReader(body)
	x := new(logEventBox)
	v := &x.v
	v.EventID = r.str()
	v.Timestamp = r.long()
	v.Host = r.str()
	v.Service = r.str()
	v.Level = schemas.Level(r.index(len(levelSymbols)))
	v.Message = r.str()
	v.TraceID = r.optString(&x.strs[0])
	v.SpanID = r.optString(&x.strs[1])
	v.HTTPStatus = r.optInt(&x.status)
	v.LatencyMs = r.optDouble(&x.latency)
	v.K8sNamespace = r.optString(&x.strs[2])
	v.K8sPod = r.optString(&x.strs[3])
	v.K8sContainer = r.optString(&x.strs[4])
	v.Labels = r.stringMap()
	v.ParseError = r.optString(&x.strs[5])
	v.Source = r.str()
	v.Format = r.str()
	v.Cluster = r.str()
	v.Stack = r.optString(&x.strs[6])
	v.Masked = r.int()
	v.SpanService = r.str()
	v.SpanOperation = r.str()
	v.SpanDurationUs = r.optLong(&x.duration)
	v.SpanStatus = r.str()
	v.RootOperation = r.str()
	v.JoinStatus = r.str()
	if err := r.done(); err != nil {
		return nil, err
	}
	return v, nil
}

// ---- Span (span/v1) ----

func appendSpan(b []byte, v *schemas.Span) ([]byte, error) {
	if v.Status < 0 || int(v.Status) >= len(spanStatusSymbols) {
		return nil, fmt.Errorf("field status: %d is not a schemas.SpanStatus", v.Status)
	}
	b = appendString(b, v.TraceID)
	b = appendString(b, v.SpanID)
	b = appendOptString(b, v.ParentSpanID)
	b = appendString(b, v.Service)
	b = appendString(b, v.Operation)
	b = appendLong(b, v.Start)
	b = appendLong(b, v.DurationUs)
	b = appendLong(b, int64(v.Status))
	b = appendString(b, v.Host)
	return appendStringMap(b, v.Attributes), nil
}

type spanBox struct {
	v      schemas.Span
	parent string
}

func readSpan(body []byte) (*schemas.Span, error) {
	r := newReader(body)
	x := new(spanBox)
	v := &x.v
	v.TraceID = r.str()
	v.SpanID = r.str()
	v.ParentSpanID = r.optString(&x.parent)
	v.Service = r.str()
	v.Operation = r.str()
	v.Start = r.long()
	v.DurationUs = r.long()
	v.Status = schemas.SpanStatus(r.index(len(spanStatusSymbols)))
	v.Host = r.str()
	v.Attributes = r.stringMap()
	if err := r.done(); err != nil {
		return nil, err
	}
	return v, nil
}

// ---- DeadLetter (deadletter/v1) ----

func appendDeadLetter(b []byte, v *schemas.DeadLetter) ([]byte, error) {
	b = appendOptBytes(b, v.OriginalKey)
	b = appendOptBytes(b, v.OriginalValue)
	b = appendString(b, v.SourceTopic)
	b = appendInt(b, v.SourcePartition)
	b = appendLong(b, v.SourceOffset)
	b = appendString(b, v.Stage)
	b = appendString(b, v.Error)
	return appendLong(b, v.Time), nil
}

func readDeadLetter(body []byte) (*schemas.DeadLetter, error) {
	r := newReader(body)
	v := &schemas.DeadLetter{
		OriginalKey:     r.optBytes(),
		OriginalValue:   r.optBytes(),
		SourceTopic:     r.str(),
		SourcePartition: r.int(),
		SourceOffset:    r.long(),
		Stage:           r.str(),
		Error:           r.str(),
		Time:            r.long(),
	}
	if err := r.done(); err != nil {
		return nil, err
	}
	return v, nil
}

// ---- ParseState (parsestate/v2) ----

func appendParseState(b []byte, v *schemas.ParseState) ([]byte, error) {
	if len(v.Pending) > 0 {
		b = appendLong(b, int64(len(v.Pending)))
		for k, p := range v.Pending {
			b = appendString(b, k)
			b = appendString(b, p.Stream)
			b = appendLong(b, p.Time)
			b = appendString(b, p.Content)
			b = appendInt(b, p.Parts)
			b = appendLong(b, p.LastOffset)
			b = appendLong(b, p.Updated)
			b = appendLong(b, p.Mark)
			b = appendInt(b, p.Masked)
		}
	}
	b = append(b, 0)
	if len(v.Events) > 0 {
		b = appendLong(b, int64(len(v.Events)))
		for k, e := range v.Events {
			b = appendString(b, k)
			b = appendString(b, e.Line)
			b = appendLong(b, e.ReceivedAt)
			b = appendStringMap(b, e.Labels)
			b = appendString(b, e.Stack)
			b = appendInt(b, e.Lines)
			b = appendLong(b, e.LastOffset)
			b = appendLong(b, e.Updated)
			b = appendLong(b, e.Mark)
			b = appendInt(b, e.Masked)
		}
	}
	return append(b, 0), nil
}

func readParseState(body []byte) (*schemas.ParseState, error) {
	r := newReader(body)
	var m map[string]schemas.PendingLine
	for {
		n, end := r.block()
		if n == 0 {
			break
		}
		if m == nil {
			// An entry takes at least nine bytes: its key and eight fields.
			m = make(map[string]schemas.PendingLine, min(n, r.left()/9))
		}
		for ; n > 0 && r.err == nil; n-- {
			k := r.str()
			had := len(m)
			m[k] = schemas.PendingLine{Stream: r.str(), Time: r.long(), Content: r.str(), Parts: r.int(), LastOffset: r.long(),
				Updated: r.long(), Mark: r.long(), Masked: r.int()}
			if len(m) == had {
				r.fail(errDuplicateKey)
			}
		}
		r.blockEnd(end)
	}
	var ev map[string]schemas.PendingEvent
	for {
		n, end := r.block()
		if n == 0 {
			break
		}
		if ev == nil {
			// An entry takes at least ten bytes: its key and nine fields.
			ev = make(map[string]schemas.PendingEvent, min(n, r.left()/10))
		}
		for ; n > 0 && r.err == nil; n-- {
			k := r.str()
			had := len(ev)
			ev[k] = schemas.PendingEvent{Line: r.str(), ReceivedAt: r.long(), Labels: r.stringMap(), Stack: r.str(), Lines: r.int(),
				LastOffset: r.long(), Updated: r.long(), Mark: r.long(), Masked: r.int()}
			if len(ev) == had {
				r.fail(errDuplicateKey)
			}
		}
		r.blockEnd(end)
	}
	if err := r.done(); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]schemas.PendingLine{}
	}
	if ev == nil {
		ev = map[string]schemas.PendingEvent{}
	}
	return &schemas.ParseState{Pending: m, Events: ev}, nil
}

// ---- DedupeState (dedupestate/v1) ----

func appendDedupeState(b []byte, v *schemas.DedupeState) ([]byte, error) {
	b = appendString(b, v.FirstTopic)
	b = appendLong(b, v.FirstOffset)
	b = appendLong(b, v.FirstSeen)
	b = appendLong(b, v.LastInputOffset)
	return appendLong(b, v.LastLoopOffset), nil
}

func readDedupeState(body []byte) (*schemas.DedupeState, error) {
	r := newReader(body)
	v := &schemas.DedupeState{
		FirstTopic:      r.str(),
		FirstOffset:     r.long(),
		FirstSeen:       r.long(),
		LastInputOffset: r.long(),
		LastLoopOffset:  r.long(),
	}
	if err := r.done(); err != nil {
		return nil, err
	}
	return v, nil
}

// ---- TraceState (tracestate/v1) ----

func appendTraceState(b []byte, v *schemas.TraceState) ([]byte, error) {
	b = appendBlockCount(b, len(v.Spans))
	for i := range v.Spans {
		s := &v.Spans[i]
		b = appendString(b, s.SpanID)
		b = appendOptString(b, s.ParentSpanID)
		b = appendString(b, s.Service)
		b = appendString(b, s.Operation)
		b = appendLong(b, s.DurationUs)
		b = appendString(b, s.Status)
		b = appendLong(b, s.End)
	}
	b = appendBlocksEnd(b)
	b = appendBlockCount(b, len(v.Events))
	for i := range v.Events {
		e := &v.Events[i]
		b = appendString(b, e.EventID)
		b = appendLong(b, e.Timestamp)
		b = appendBytes(b, e.Value)
		b = appendString(b, e.EmittedTopic)
		b = appendLong(b, e.EmittedOffset)
	}
	b = appendBlocksEnd(b)
	b = appendLong(b, v.LastActivity)
	b = appendLong(b, v.AppliedSpans)
	return appendLong(b, v.AppliedLoop), nil
}

// readTraceState decodes as the goavro path did: an empty array is a nil
// slice, an empty value nil.
func readTraceState(body []byte) (*schemas.TraceState, error) {
	r := newReader(body)
	v := new(schemas.TraceState)
	for {
		n, end := r.block()
		if n == 0 {
			break
		}
		// A SpanRef takes at least seven bytes, one per field.
		v.Spans = slices.Grow(v.Spans, min(n, r.left()/7))
		var parents []string
		for ; n > 0 && r.err == nil; n-- {
			s := schemas.SpanRef{SpanID: r.str()}
			if r.present() {
				if len(parents) == 0 {
					parents = make([]string, n)
				}
				parents[0] = r.str()
				s.ParentSpanID = &parents[0]
				parents = parents[1:]
			}
			s.Service = r.str()
			s.Operation = r.str()
			s.DurationUs = r.long()
			s.Status = r.str()
			s.End = r.long()
			v.Spans = append(v.Spans, s)
		}
		r.blockEnd(end)
	}
	for {
		n, end := r.block()
		if n == 0 {
			break
		}
		// A HeldEvent takes at least five bytes.
		v.Events = slices.Grow(v.Events, min(n, r.left()/5))
		for ; n > 0 && r.err == nil; n-- {
			e := schemas.HeldEvent{EventID: r.str(), Timestamp: r.long(), Value: r.bytes()}
			if len(e.Value) == 0 {
				e.Value = nil
			}
			e.EmittedTopic = r.str()
			e.EmittedOffset = r.long()
			v.Events = append(v.Events, e)
		}
		r.blockEnd(end)
	}
	v.LastActivity = r.long()
	v.AppliedSpans = r.long()
	v.AppliedLoop = r.long()
	if err := r.done(); err != nil {
		return nil, err
	}
	return v, nil
}
