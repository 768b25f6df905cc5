package codecs

import (
	"fmt"

	"github.com/logstream/logstream/schemas"
)

// Enum symbols in the order of the Go constants; newCodec checks that the
// schemas agree.
var (
	levelSymbols      = symbols(int(schemas.LevelFatal)+1, func(i int) string { return schemas.Level(i).String() })
	spanStatusSymbols = symbols(int(schemas.SpanError)+1, func(i int) string { return schemas.SpanStatus(i).String() })
)

func symbols(n int, name func(int) string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = name(i)
	}
	return out
}

func optLen(p *string) int {
	if p == nil {
		return 1
	}
	return len(*p) + 6
}

// ---- RawLog ----

// NewRawLog returns the codec of schemas.RawLog (rawlog/).
func NewRawLog(opts ...Option) (*Codec[schemas.RawLog], error) {
	return newCodec(schemas.NameRawLog, converter[schemas.RawLog]{
		toNative:     rawLogToNative,
		fromNative:   rawLogFromNative,
		appendBody:   appendRawLog,
		typedVersion: 1,
		readBody:     readRawLog,
		size: func(v *schemas.RawLog) int {
			return len(v.Host) + len(v.Source) + len(v.Line) + 3*5 + 10 + stringMapSize(v.Labels)
		},
	}, opts)
}

func rawLogToNative(v *schemas.RawLog) (map[string]any, error) {
	return map[string]any{
		"host":        v.Host,
		"source":      v.Source,
		"line":        v.Line,
		"received_at": v.ReceivedAt,
		"labels":      stringMap(v.Labels),
	}, nil
}

func rawLogFromNative(m map[string]any) (*schemas.RawLog, error) {
	f := fields{m: m}
	v := &schemas.RawLog{
		Host:       f.str("host"),
		Source:     f.str("source"),
		Line:       f.str("line"),
		ReceivedAt: f.millis("received_at"),
		Labels:     f.stringMap("labels"),
	}
	if f.err != nil {
		return nil, f.err
	}
	return v, nil
}

// ---- LogEvent ----

// NewLogEvent returns the codec of schemas.LogEvent (logevent/).
func NewLogEvent(opts ...Option) (*Codec[schemas.LogEvent], error) {
	return newCodec(schemas.NameLogEvent, converter[schemas.LogEvent]{
		toNative:     logEventToNative,
		fromNative:   logEventFromNative,
		appendBody:   appendLogEvent,
		typedVersion: 4,
		readBody:     readLogEvent,
		size: func(v *schemas.LogEvent) int {
			return len(v.EventID) + len(v.Host) + len(v.Service) + len(v.Message) +
				len(v.Source) + len(v.Format) + len(v.Cluster) + 7*5 + 10 + 2 +
				optLen(v.TraceID) + optLen(v.SpanID) + 6 + 9 +
				optLen(v.K8sNamespace) + optLen(v.K8sPod) + optLen(v.K8sContainer) +
				optLen(v.ParseError) + optLen(v.Stack) + 6 + stringMapSize(v.Labels) +
				len(v.SpanService) + len(v.SpanOperation) + len(v.SpanStatus) + len(v.RootOperation) + len(v.JoinStatus) + 5*5 + 11
		},
		enums: map[string][]string{"level": levelSymbols},
	}, opts)
}

func logEventToNative(v *schemas.LogEvent) (map[string]any, error) {
	if v.Level < 0 || int(v.Level) >= len(levelSymbols) {
		return nil, fmt.Errorf("field level: %d is not a schemas.Level", v.Level)
	}
	return map[string]any{
		"event_id":         v.EventID,
		"timestamp":        v.Timestamp,
		"host":             v.Host,
		"service":          v.Service,
		"level":            levelSymbols[v.Level],
		"message":          v.Message,
		"trace_id":         optString(v.TraceID),
		"span_id":          optString(v.SpanID),
		"http_status":      optInt(v.HTTPStatus),
		"latency_ms":       optDouble(v.LatencyMs),
		"k8s_namespace":    optString(v.K8sNamespace),
		"k8s_pod":          optString(v.K8sPod),
		"k8s_container":    optString(v.K8sContainer),
		"labels":           stringMap(v.Labels),
		"parse_error":      optString(v.ParseError),
		"source":           v.Source,
		"format":           v.Format,
		"cluster":          v.Cluster,
		"stack":            optString(v.Stack),
		"masked":           v.Masked,
		"span_service":     v.SpanService,
		"span_operation":   v.SpanOperation,
		"span_duration_us": optLong(v.SpanDurationUs),
		"span_status":      v.SpanStatus,
		"root_operation":   v.RootOperation,
		"join_status":      v.JoinStatus,
	}, nil
}

func logEventFromNative(m map[string]any) (*schemas.LogEvent, error) {
	f := fields{m: m}
	v := &schemas.LogEvent{
		EventID:        f.str("event_id"),
		Timestamp:      f.millis("timestamp"),
		Host:           f.str("host"),
		Service:        f.str("service"),
		Level:          schemas.Level(f.enum("level", levelSymbols)),
		Message:        f.str("message"),
		TraceID:        f.optString("trace_id"),
		SpanID:         f.optString("span_id"),
		HTTPStatus:     f.optInt32("http_status"),
		LatencyMs:      f.optDouble("latency_ms"),
		K8sNamespace:   f.optString("k8s_namespace"),
		K8sPod:         f.optString("k8s_pod"),
		K8sContainer:   f.optString("k8s_container"),
		Labels:         f.stringMap("labels"),
		ParseError:     f.optString("parse_error"),
		Source:         f.str("source"),
		Format:         f.str("format"),
		Cluster:        f.str("cluster"),
		Stack:          f.optString("stack"),
		Masked:         f.int32("masked"),
		SpanService:    f.str("span_service"),
		SpanOperation:  f.str("span_operation"),
		SpanDurationUs: f.optInt64("span_duration_us"),
		SpanStatus:     f.str("span_status"),
		RootOperation:  f.str("root_operation"),
		JoinStatus:     f.str("join_status"),
	}
	if f.err != nil {
		return nil, f.err
	}
	return v, nil
}

// ---- Span ----

// NewSpan returns the codec of schemas.Span (span/).
func NewSpan(opts ...Option) (*Codec[schemas.Span], error) {
	return newCodec(schemas.NameSpan, converter[schemas.Span]{
		toNative:     spanToNative,
		fromNative:   spanFromNative,
		appendBody:   appendSpan,
		typedVersion: 1,
		readBody:     readSpan,
		size: func(v *schemas.Span) int {
			return len(v.TraceID) + len(v.SpanID) + len(v.Service) + len(v.Operation) +
				len(v.Host) + 5*5 + 2*10 + 2 + optLen(v.ParentSpanID) + stringMapSize(v.Attributes)
		},
		enums: map[string][]string{"status": spanStatusSymbols},
	}, opts)
}

func spanToNative(v *schemas.Span) (map[string]any, error) {
	if v.Status < 0 || int(v.Status) >= len(spanStatusSymbols) {
		return nil, fmt.Errorf("field status: %d is not a schemas.SpanStatus", v.Status)
	}
	return map[string]any{
		"trace_id":       v.TraceID,
		"span_id":        v.SpanID,
		"parent_span_id": optString(v.ParentSpanID),
		"service":        v.Service,
		"operation":      v.Operation,
		"start":          v.Start,
		"duration_us":    v.DurationUs,
		"status":         spanStatusSymbols[v.Status],
		"host":           v.Host,
		"attributes":     stringMap(v.Attributes),
	}, nil
}

func spanFromNative(m map[string]any) (*schemas.Span, error) {
	f := fields{m: m}
	v := &schemas.Span{
		TraceID:      f.str("trace_id"),
		SpanID:       f.str("span_id"),
		ParentSpanID: f.optString("parent_span_id"),
		Service:      f.str("service"),
		Operation:    f.str("operation"),
		Start:        f.micros("start"),
		DurationUs:   f.int64("duration_us"),
		Status:       schemas.SpanStatus(f.enum("status", spanStatusSymbols)),
		Host:         f.str("host"),
		Attributes:   f.stringMap("attributes"),
	}
	if f.err != nil {
		return nil, f.err
	}
	return v, nil
}

// ---- DeadLetter ----

// NewDeadLetter returns the codec of schemas.DeadLetter (deadletter/).
// A nil OriginalKey or OriginalValue is Avro null; a non-nil empty one is
// empty bytes, and each decodes back to what was encoded.
func NewDeadLetter(opts ...Option) (*Codec[schemas.DeadLetter], error) {
	return newCodec(schemas.NameDeadLetter, converter[schemas.DeadLetter]{
		toNative:     deadLetterToNative,
		fromNative:   deadLetterFromNative,
		appendBody:   appendDeadLetter,
		typedVersion: 1,
		readBody:     readDeadLetter,
		size: func(v *schemas.DeadLetter) int {
			return len(v.OriginalKey) + len(v.OriginalValue) + len(v.SourceTopic) +
				len(v.Stage) + len(v.Error) + 2*6 + 3*5 + 5 + 2*10
		},
	}, opts)
}

func deadLetterToNative(v *schemas.DeadLetter) (map[string]any, error) {
	return map[string]any{
		"original_key":     optBytes(v.OriginalKey),
		"original_value":   optBytes(v.OriginalValue),
		"source_topic":     v.SourceTopic,
		"source_partition": v.SourcePartition,
		"source_offset":    v.SourceOffset,
		"stage":            v.Stage,
		"error":            v.Error,
		"time":             v.Time,
	}, nil
}

func deadLetterFromNative(m map[string]any) (*schemas.DeadLetter, error) {
	f := fields{m: m}
	v := &schemas.DeadLetter{
		OriginalKey:     f.optBytes("original_key"),
		OriginalValue:   f.optBytes("original_value"),
		SourceTopic:     f.str("source_topic"),
		SourcePartition: f.int32("source_partition"),
		SourceOffset:    f.int64("source_offset"),
		Stage:           f.str("stage"),
		Error:           f.str("error"),
		Time:            f.millis("time"),
	}
	if f.err != nil {
		return nil, f.err
	}
	return v, nil
}

// ---- ParseState ----

// NewParseState returns the codec of schemas.ParseState (parsestate/),
// the parse stage's table value.
func NewParseState(opts ...Option) (*Codec[schemas.ParseState], error) {
	return newCodec(schemas.NameParseState, converter[schemas.ParseState]{
		toNative:     parseStateToNative,
		fromNative:   parseStateFromNative,
		appendBody:   appendParseState,
		typedVersion: 2,
		readBody:     readParseState,
		size: func(v *schemas.ParseState) int {
			n := 1
			for k, p := range v.Pending {
				n += len(k) + len(p.Stream) + len(p.Content) + 5*5 + 4*10
			}
			for k, e := range v.Events {
				n += len(k) + len(e.Line) + len(e.Stack) + stringMapSize(e.Labels) + 4*5 + 5*10
			}
			return n + 1
		},
	}, opts)
}

func parseStateToNative(v *schemas.ParseState) (map[string]any, error) {
	pending := make(map[string]any, len(v.Pending))
	for k, p := range v.Pending {
		pending[k] = map[string]any{
			"stream":      p.Stream,
			"time":        p.Time,
			"content":     p.Content,
			"parts":       p.Parts,
			"last_offset": p.LastOffset,
			"updated":     p.Updated,
			"mark":        p.Mark,
			"masked":      p.Masked,
		}
	}
	events := make(map[string]any, len(v.Events))
	for k, e := range v.Events {
		events[k] = map[string]any{
			"line":        e.Line,
			"received_at": e.ReceivedAt,
			"labels":      stringMap(e.Labels),
			"stack":       e.Stack,
			"lines":       e.Lines,
			"last_offset": e.LastOffset,
			"updated":     e.Updated,
			"mark":        e.Mark,
			"masked":      e.Masked,
		}
	}
	return map[string]any{"pending": pending, "events": events}, nil
}

func parseStateFromNative(m map[string]any) (*schemas.ParseState, error) {
	pm, ok := m["pending"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("field pending: goavro decoded %T, want a map", m["pending"])
	}
	v := &schemas.ParseState{Pending: make(map[string]schemas.PendingLine, len(pm))}
	for k, x := range pm {
		f, err := asRecord("field pending["+k+"]", x)
		if err != nil {
			return nil, err
		}
		v.Pending[k] = schemas.PendingLine{
			Stream:     f.str("stream"),
			Time:       f.millis("time"),
			Content:    f.str("content"),
			Parts:      f.int32("parts"),
			LastOffset: f.int64("last_offset"),
			Updated:    f.int64("updated"),
			Mark:       f.int64("mark"),
			Masked:     f.int32("masked"),
		}
		if f.err != nil {
			return nil, fmt.Errorf("field pending[%q]: %w", k, f.err)
		}
	}
	em, ok := m["events"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("field events: goavro decoded %T, want a map", m["events"])
	}
	v.Events = make(map[string]schemas.PendingEvent, len(em))
	for k, x := range em {
		f, err := asRecord("field events["+k+"]", x)
		if err != nil {
			return nil, err
		}
		v.Events[k] = schemas.PendingEvent{
			Line:       f.str("line"),
			ReceivedAt: f.millis("received_at"),
			Labels:     f.stringMap("labels"),
			Stack:      f.str("stack"),
			Lines:      f.int32("lines"),
			LastOffset: f.int64("last_offset"),
			Updated:    f.int64("updated"),
			Mark:       f.int64("mark"),
			Masked:     f.int32("masked"),
		}
		if f.err != nil {
			return nil, fmt.Errorf("field events[%q]: %w", k, f.err)
		}
	}
	return v, nil
}

// schemas.NameParseState is the record name in parsestate.avsc (package schemas has
// no constant for it).

// ---- DedupeState ----

// NewDedupeState returns the codec of schemas.DedupeState (dedupestate/),
// the dedupe stage's table value.
func NewDedupeState(opts ...Option) (*Codec[schemas.DedupeState], error) {
	return newCodec(schemas.NameDedupeState, converter[schemas.DedupeState]{
		appendBody:   appendDedupeState,
		typedVersion: 1,
		readBody:     readDedupeState,
		toNative: func(v *schemas.DedupeState) (map[string]any, error) {
			return map[string]any{
				"first_topic":       v.FirstTopic,
				"first_offset":      v.FirstOffset,
				"first_seen":        v.FirstSeen,
				"last_input_offset": v.LastInputOffset,
				"last_loop_offset":  v.LastLoopOffset,
			}, nil
		},
		fromNative: func(m map[string]any) (*schemas.DedupeState, error) {
			f := fields{m: m}
			v := &schemas.DedupeState{
				FirstTopic:      f.str("first_topic"),
				FirstOffset:     f.int64("first_offset"),
				FirstSeen:       f.millis("first_seen"),
				LastInputOffset: f.int64("last_input_offset"),
				LastLoopOffset:  f.int64("last_loop_offset"),
			}
			if f.err != nil {
				return nil, f.err
			}
			return v, nil
		},
		size: func(v *schemas.DedupeState) int { return len(v.FirstTopic) + 5 + 4*10 },
	}, opts)
}

// ---- TraceState ----

// NewTraceState returns the codec of schemas.TraceState (tracestate/), the
// trace join's table value.
func NewTraceState(opts ...Option) (*Codec[schemas.TraceState], error) {
	return newCodec(schemas.NameTraceState, converter[schemas.TraceState]{
		toNative:     traceStateToNative,
		fromNative:   traceStateFromNative,
		appendBody:   appendTraceState,
		typedVersion: 1,
		readBody:     readTraceState,
		size: func(v *schemas.TraceState) int {
			n := 2 + 3*10
			for _, s := range v.Spans {
				n += len(s.SpanID) + len(s.Service) + len(s.Operation) + len(s.Status) + optLen(s.ParentSpanID) + 4*5 + 2*10
			}
			for _, e := range v.Events {
				n += len(e.EventID) + len(e.Value) + len(e.EmittedTopic) + 3*5 + 2*10
			}
			return n
		},
	}, opts)
}

func traceStateToNative(v *schemas.TraceState) (map[string]any, error) {
	spans := make([]any, len(v.Spans))
	for i, s := range v.Spans {
		spans[i] = map[string]any{
			"span_id":        s.SpanID,
			"parent_span_id": optString(s.ParentSpanID),
			"service":        s.Service,
			"operation":      s.Operation,
			"duration_us":    s.DurationUs,
			"status":         s.Status,
			"end":            s.End,
		}
	}
	events := make([]any, len(v.Events))
	for i, e := range v.Events {
		value := e.Value
		if value == nil {
			value = []byte{}
		}
		events[i] = map[string]any{
			"event_id":       e.EventID,
			"timestamp":      e.Timestamp,
			"value":          value,
			"emitted_topic":  e.EmittedTopic,
			"emitted_offset": e.EmittedOffset,
		}
	}
	return map[string]any{
		"spans":         spans,
		"events":        events,
		"last_activity": v.LastActivity,
		"applied_spans": v.AppliedSpans,
		"applied_loop":  v.AppliedLoop,
	}, nil
}

func traceStateFromNative(m map[string]any) (*schemas.TraceState, error) {
	f := fields{m: m}
	v := &schemas.TraceState{
		LastActivity: f.millis("last_activity"),
		AppliedSpans: f.int64("applied_spans"),
		AppliedLoop:  f.int64("applied_loop"),
	}
	spans, _ := m["spans"].([]any)
	for i, x := range spans {
		r, err := asRecord(fmt.Sprintf("field spans[%d]", i), x)
		if err != nil {
			return nil, err
		}
		v.Spans = append(v.Spans, schemas.SpanRef{
			SpanID:       r.str("span_id"),
			ParentSpanID: r.optString("parent_span_id"),
			Service:      r.str("service"),
			Operation:    r.str("operation"),
			DurationUs:   r.int64("duration_us"),
			Status:       r.str("status"),
			End:          r.millis("end"),
		})
		if r.err != nil {
			return nil, fmt.Errorf("field spans[%d]: %w", i, r.err)
		}
	}
	events, _ := m["events"].([]any)
	for i, x := range events {
		r, err := asRecord(fmt.Sprintf("field events[%d]", i), x)
		if err != nil {
			return nil, err
		}
		b, _ := r.m["value"].([]byte)
		v.Events = append(v.Events, schemas.HeldEvent{
			EventID:       r.str("event_id"),
			Timestamp:     r.millis("timestamp"),
			Value:         append([]byte(nil), b...),
			EmittedTopic:  r.str("emitted_topic"),
			EmittedOffset: r.int64("emitted_offset"),
		})
		if r.err != nil {
			return nil, fmt.Errorf("field events[%d]: %w", i, r.err)
		}
	}
	if f.err != nil {
		return nil, f.err
	}
	return v, nil
}
