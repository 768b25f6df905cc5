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
		toNative:   rawLogToNative,
		fromNative: rawLogFromNative,
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
		toNative:   logEventToNative,
		fromNative: logEventFromNative,
		size: func(v *schemas.LogEvent) int {
			return len(v.EventID) + len(v.Host) + len(v.Service) + len(v.Message) +
				len(v.Source) + len(v.Format) + len(v.Cluster) + 7*5 + 10 + 2 +
				optLen(v.TraceID) + optLen(v.SpanID) + 6 + 9 +
				optLen(v.K8sNamespace) + optLen(v.K8sPod) + optLen(v.K8sContainer) +
				optLen(v.ParseError) + stringMapSize(v.Labels)
		},
		enums: map[string][]string{"level": levelSymbols},
	}, opts)
}

func logEventToNative(v *schemas.LogEvent) (map[string]any, error) {
	if v.Level < 0 || int(v.Level) >= len(levelSymbols) {
		return nil, fmt.Errorf("field level: %d is not a schemas.Level", v.Level)
	}
	return map[string]any{
		"event_id":      v.EventID,
		"timestamp":     v.Timestamp,
		"host":          v.Host,
		"service":       v.Service,
		"level":         levelSymbols[v.Level],
		"message":       v.Message,
		"trace_id":      optString(v.TraceID),
		"span_id":       optString(v.SpanID),
		"http_status":   optInt(v.HTTPStatus),
		"latency_ms":    optDouble(v.LatencyMs),
		"k8s_namespace": optString(v.K8sNamespace),
		"k8s_pod":       optString(v.K8sPod),
		"k8s_container": optString(v.K8sContainer),
		"labels":        stringMap(v.Labels),
		"parse_error":   optString(v.ParseError),
		"source":        v.Source,
		"format":        v.Format,
		"cluster":       v.Cluster,
	}, nil
}

func logEventFromNative(m map[string]any) (*schemas.LogEvent, error) {
	f := fields{m: m}
	v := &schemas.LogEvent{
		EventID:      f.str("event_id"),
		Timestamp:    f.millis("timestamp"),
		Host:         f.str("host"),
		Service:      f.str("service"),
		Level:        schemas.Level(f.enum("level", levelSymbols)),
		Message:      f.str("message"),
		TraceID:      f.optString("trace_id"),
		SpanID:       f.optString("span_id"),
		HTTPStatus:   f.optInt32("http_status"),
		LatencyMs:    f.optDouble("latency_ms"),
		K8sNamespace: f.optString("k8s_namespace"),
		K8sPod:       f.optString("k8s_pod"),
		K8sContainer: f.optString("k8s_container"),
		Labels:       f.stringMap("labels"),
		ParseError:   f.optString("parse_error"),
		Source:       f.str("source"),
		Format:       f.str("format"),
		Cluster:      f.str("cluster"),
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
		toNative:   spanToNative,
		fromNative: spanFromNative,
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
		toNative:   deadLetterToNative,
		fromNative: deadLetterFromNative,
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
		toNative:   parseStateToNative,
		fromNative: parseStateFromNative,
		size: func(v *schemas.ParseState) int {
			n := 1
			for k, p := range v.Pending {
				n += len(k) + len(p.Stream) + len(p.Content) + 4*5 + 2*10
			}
			return n
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
		}
	}
	return map[string]any{"pending": pending}, nil
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
		}
		if f.err != nil {
			return nil, fmt.Errorf("field pending[%q]: %w", k, f.err)
		}
	}
	return v, nil
}

// schemas.NameParseState is the record name in parsestate.avsc (package schemas has
// no constant for it).
