package spans

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/logstream/logstream/schemas"
)

// Resource attributes read into Span.Service and Span.Host, and what
// Service is when the resource names none (the OpenTelemetry default).
const (
	AttrServiceName = "service.name"
	AttrHostName    = "host.name"
	UnknownService  = "unknown_service"
	// AttrStatusMessage holds the span status's message, when it has one
	// (the name OpenTelemetry gives it in formats without a status field).
	AttrStatusMessage = "otel.status_description"
)

const (
	scopeName          = "logstream"
	traceIDBytes       = 16
	spanIDBytes        = 8
	maxStartMicros     = math.MaxUint64 / 1000
	reasonNoTraceID    = "trace id is empty"
	reasonZeroTraceID  = "trace id is all zeros"
	reasonNoSpanID     = "span id is empty"
	reasonZeroSpanID   = "span id is all zeros"
	reasonNotProtoOTLP = "not an OTLP trace export (ExportTraceServiceRequest / TracesData)"
)

// Reject is a span of an OTLP message that cannot become a Span: its ids
// are missing or malformed. Index counts the message's spans from 0 in the
// order they appear (across all ResourceSpans and ScopeSpans); Name is the
// span's name; Reason says what is wrong.
type Reject struct {
	Index  int
	Name   string
	Reason string
}

// String is how a dead letter names the span: `span 3 "GET /x": trace id is empty`.
func (r Reject) String() string {
	return "span " + strconv.Itoa(r.Index) + " " + strconv.Quote(r.Name) + ": " + r.Reason
}

// decoded is FromOTLP's result with the counts the stage reports.
type decoded struct {
	spans             []schemas.Span
	rejects           []Reject
	negativeDurations int
}

// FromOTLP decodes one message of the OpenTelemetry Collector's Kafka
// exporter with encoding otlp_proto: a protobuf ExportTraceServiceRequest,
// whose wire format is that of TracesData. It returns the good spans in the
// order of the message and the spans it rejects (missing, wrong-length or
// all-zero ids). err is set, and nothing else, when data is not such a
// message. Empty data is a valid request with no spans.
//
// A span whose end is before its start gets DurationUs 0.
func FromOTLP(data []byte) (spans []schemas.Span, rejects []Reject, err error) {
	d, err := fromOTLP(data)
	if err != nil {
		return nil, nil, err
	}
	return d.spans, d.rejects, nil
}

func fromOTLP(data []byte) (d decoded, err error) {
	if len(data) == 0 {
		return d, nil
	}
	var td tracepb.TracesData
	if err := proto.Unmarshal(data, &td); err != nil {
		return d, fmt.Errorf("spans: %s: %w", reasonNotProtoOTLP, err)
	}
	// Protobuf reads many byte strings as a message of unknown fields. The
	// request has one field (resource_spans = 1): anything else at the top
	// level, or no resource spans at all, means these bytes are something
	// else.
	if u := td.ProtoReflect().GetUnknown(); len(u) > 0 {
		return d, fmt.Errorf("spans: %s: %d bytes of fields the request does not have", reasonNotProtoOTLP, len(u))
	}
	if len(td.ResourceSpans) == 0 {
		return d, fmt.Errorf("spans: %s: %d bytes hold no resource spans", reasonNotProtoOTLP, len(data))
	}
	n := 0
	for _, rs := range td.ResourceSpans {
		for _, ss := range rs.GetScopeSpans() {
			n += len(ss.GetSpans())
		}
	}
	d.spans = make([]schemas.Span, 0, n)
	index := 0
	for _, rs := range td.ResourceSpans {
		service, host := resourceNames(rs.GetResource())
		for _, ss := range rs.GetScopeSpans() {
			for _, sp := range ss.GetSpans() {
				s, reason, negative := convert(sp, service, host)
				switch {
				case reason != "":
					d.rejects = append(d.rejects, Reject{Index: index, Name: sp.GetName(), Reason: reason})
				default:
					if negative {
						d.negativeDurations++
					}
					d.spans = append(d.spans, s)
				}
				index++
			}
		}
	}
	return d, nil
}

// resourceNames reads service.name and host.name.
func resourceNames(r *resourcepb.Resource) (service, host string) {
	for _, kv := range r.GetAttributes() {
		switch kv.GetKey() {
		case AttrServiceName:
			service = render(kv.GetValue())
		case AttrHostName:
			host = render(kv.GetValue())
		}
	}
	if service == "" {
		service = UnknownService
	}
	return service, host
}

// convert turns one OTLP span into a Span, or returns why it cannot.
func convert(sp *tracepb.Span, service, host string) (s schemas.Span, reason string, negative bool) {
	traceID, reason := checkID(sp.GetTraceId(), traceIDBytes, "trace id", reasonNoTraceID, reasonZeroTraceID)
	if reason != "" {
		return s, reason, false
	}
	spanID, reason := checkID(sp.GetSpanId(), spanIDBytes, "span id", reasonNoSpanID, reasonZeroSpanID)
	if reason != "" {
		return s, reason, false
	}
	var parent *string
	if p := sp.GetParentSpanId(); len(p) > 0 && !allZero(p) {
		if len(p) != spanIDBytes {
			return s, fmt.Sprintf("parent span id has %d bytes, want %d", len(p), spanIDBytes), false
		}
		h := hex.EncodeToString(p)
		parent = &h
	}
	start, end := sp.GetStartTimeUnixNano(), sp.GetEndTimeUnixNano()
	var dur int64
	if end >= start {
		dur = int64((end - start) / 1000)
	} else {
		negative = true
	}
	s = schemas.Span{
		TraceID:      traceID,
		SpanID:       spanID,
		ParentSpanID: parent,
		Service:      service,
		Operation:    sp.GetName(),
		Start:        int64(start / 1000),
		DurationUs:   dur,
		Status:       status(sp.GetStatus().GetCode()),
		Host:         host,
	}
	attrs := sp.GetAttributes()
	msg := sp.GetStatus().GetMessage()
	if len(attrs) > 0 || msg != "" {
		s.Attributes = make(map[string]string, len(attrs)+1)
		for _, kv := range attrs {
			s.Attributes[kv.GetKey()] = render(kv.GetValue())
		}
		if msg != "" {
			s.Attributes[AttrStatusMessage] = msg
		}
	}
	return s, "", negative
}

func checkID(id []byte, size int, what, empty, zero string) (string, string) {
	switch {
	case len(id) == 0:
		return "", empty
	case len(id) != size:
		return "", fmt.Sprintf("%s has %d bytes, want %d", what, len(id), size)
	case allZero(id):
		return "", zero
	}
	return hex.EncodeToString(id), ""
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func status(c tracepb.Status_StatusCode) schemas.SpanStatus {
	switch c {
	case tracepb.Status_STATUS_CODE_OK:
		return schemas.SpanOK
	case tracepb.Status_STATUS_CODE_ERROR:
		return schemas.SpanError
	}
	return schemas.SpanUnset // UNSET, and codes newer than this build
}

// render writes an attribute value as a string: strings as they are,
// numbers and booleans as strconv writes them, bytes in base64, arrays and
// key-value lists as JSON (keys in their order). An empty value is "".
func render(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_BytesValue:
		return base64.StdEncoding.EncodeToString(x.BytesValue)
	case *commonpb.AnyValue_ArrayValue, *commonpb.AnyValue_KvlistValue:
		return string(appendJSON(nil, v, 0))
	}
	return "" // no value, or a profiling string-table index
}

// maxJSONDepth bounds nesting in rendered arrays and lists; protobuf's own
// recursion limit already bounds the input, this keeps the output small.
const maxJSONDepth = 64

// appendJSON writes v as JSON. Doubles that JSON cannot hold (NaN, ±Inf)
// become strings, bytes become base64 strings.
func appendJSON(b []byte, v *commonpb.AnyValue, depth int) []byte {
	if depth > maxJSONDepth {
		return append(b, `"…"`...)
	}
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return appendJSONString(b, x.StringValue)
	case *commonpb.AnyValue_BoolValue:
		return strconv.AppendBool(b, x.BoolValue)
	case *commonpb.AnyValue_IntValue:
		return strconv.AppendInt(b, x.IntValue, 10)
	case *commonpb.AnyValue_DoubleValue:
		f := x.DoubleValue
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return appendJSONString(b, strconv.FormatFloat(f, 'g', -1, 64))
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	case *commonpb.AnyValue_BytesValue:
		return appendJSONString(b, base64.StdEncoding.EncodeToString(x.BytesValue))
	case *commonpb.AnyValue_ArrayValue:
		b = append(b, '[')
		for i, e := range x.ArrayValue.GetValues() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e, depth+1)
		}
		return append(b, ']')
	case *commonpb.AnyValue_KvlistValue:
		b = append(b, '{')
		for i, kv := range x.KvlistValue.GetValues() {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, kv.GetKey())
			b = append(b, ':')
			b = appendJSON(b, kv.GetValue(), depth+1)
		}
		return append(b, '}')
	}
	return append(b, "null"...)
}

func appendJSONString(b []byte, s string) []byte {
	const hexd = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&15])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// ToOTLP encodes spans as one OTLP trace export (TracesData, the wire
// format of ExportTraceServiceRequest): one ResourceSpans per service and
// host, in the order they first appear, each with the spans of that
// resource in their order. Attributes become string attributes, except
// otel.status_description, which becomes the status message. It fails on
// ids that are not hex of the right length, and on negative or overflowing
// times. FromOTLP(ToOTLP(s)) gives s back when its ids are lowercase (as
// FromOTLP writes them) and none is all zeros; an empty attribute map comes
// back nil. Attributes are written sorted by key.
func ToOTLP(spans []schemas.Span) ([]byte, error) {
	type resource struct{ service, host string }
	var (
		td    tracepb.TracesData
		index = map[resource]*tracepb.ScopeSpans{}
	)
	for i := range spans {
		s := &spans[i]
		sp, err := toProto(s)
		if err != nil {
			return nil, fmt.Errorf("spans: span %d %q: %w", i, s.Operation, err)
		}
		key := resource{s.Service, s.Host}
		ss := index[key]
		if ss == nil {
			ss = &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: scopeName}}
			attrs := []*commonpb.KeyValue{stringKV(AttrServiceName, s.Service)}
			if s.Host != "" {
				attrs = append(attrs, stringKV(AttrHostName, s.Host))
			}
			td.ResourceSpans = append(td.ResourceSpans, &tracepb.ResourceSpans{
				Resource:   &resourcepb.Resource{Attributes: attrs},
				ScopeSpans: []*tracepb.ScopeSpans{ss},
			})
			index[key] = ss
		}
		ss.Spans = append(ss.Spans, sp)
	}
	out, err := proto.Marshal(&td)
	if err != nil {
		return nil, fmt.Errorf("spans: encode OTLP: %w", err)
	}
	return out, nil
}

func toProto(s *schemas.Span) (*tracepb.Span, error) {
	traceID, err := decodeID(s.TraceID, traceIDBytes, "trace id")
	if err != nil {
		return nil, err
	}
	spanID, err := decodeID(s.SpanID, spanIDBytes, "span id")
	if err != nil {
		return nil, err
	}
	var parent []byte
	if s.ParentSpanID != nil {
		if parent, err = decodeID(*s.ParentSpanID, spanIDBytes, "parent span id"); err != nil {
			return nil, err
		}
	}
	switch {
	case s.Start < 0:
		return nil, fmt.Errorf("start %d µs is before 1970", s.Start)
	case s.DurationUs < 0:
		return nil, fmt.Errorf("duration %d µs is negative", s.DurationUs)
	case uint64(s.Start) > maxStartMicros || uint64(s.DurationUs) > maxStartMicros-uint64(s.Start):
		return nil, errors.New("start + duration overflows nanoseconds")
	}
	sp := &tracepb.Span{
		TraceId:           traceID,
		SpanId:            spanID,
		ParentSpanId:      parent,
		Name:              s.Operation,
		StartTimeUnixNano: uint64(s.Start) * 1000,
		EndTimeUnixNano:   uint64(s.Start+s.DurationUs) * 1000,
	}
	st := &tracepb.Status{}
	switch s.Status {
	case schemas.SpanOK:
		st.Code = tracepb.Status_STATUS_CODE_OK
	case schemas.SpanError:
		st.Code = tracepb.Status_STATUS_CODE_ERROR
	}
	for _, k := range slices.Sorted(maps.Keys(s.Attributes)) {
		v := s.Attributes[k]
		if k == AttrStatusMessage {
			st.Message = v
			continue
		}
		sp.Attributes = append(sp.Attributes, stringKV(k, v))
	}
	if st.Code != tracepb.Status_STATUS_CODE_UNSET || st.Message != "" {
		sp.Status = st
	}
	return sp, nil
}

func decodeID(s string, size int, what string) ([]byte, error) {
	if len(s) != 2*size {
		return nil, fmt.Errorf("%s %q: want %d hex digits", what, s, 2*size)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", what, s, err)
	}
	return b, nil
}

func stringKV(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}
