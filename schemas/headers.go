package schemas

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Headers a stage may write beside a LogEvent's bytes: what the next
// stages route and key state by, so that a stage that only routes the
// event, or only needs these fields, does not decode it. parse writes them;
// dedupe passes them on with the event; the join reads them. A record
// without HeaderEventID and HeaderEventTime is decoded.
const (
	HeaderEventID   = "ls-event-id"
	HeaderEventTime = "ls-event-time" // ms since the epoch, decimal
	HeaderTraceID   = "ls-trace-id"   // as in the event; absent when it has none
	HeaderSpanID    = "ls-span-id"    // as in the event; absent when it has none
)

// HeaderJoinStatus is written by the join beside every event it emits to
// logs.enriched: the event's join_status, so that a reader that wants
// only joined events (errorrate's trace samples) skips the others without
// decoding them.
const HeaderJoinStatus = "ls-join"

// RoutingHeaders lists the headers above.
var RoutingHeaders = [...]string{HeaderEventID, HeaderEventTime, HeaderTraceID, HeaderSpanID}

// Routing is what the routing headers carry.
type Routing struct {
	EventID         string
	Timestamp       int64
	TraceID, SpanID *string
}

// RoutingOf returns an event's routing.
func RoutingOf(ev *LogEvent) Routing {
	return Routing{EventID: ev.EventID, Timestamp: ev.Timestamp, TraceID: ev.TraceID, SpanID: ev.SpanID}
}

// Headers adds the routing headers to h (a new map when h is nil) and
// returns it.
func (r Routing) Headers(h map[string][]byte) map[string][]byte {
	if h == nil {
		h = make(map[string][]byte, 4)
	}
	h[HeaderEventID] = []byte(r.EventID)
	h[HeaderEventTime] = strconv.AppendInt(nil, r.Timestamp, 10)
	if r.TraceID != nil {
		h[HeaderTraceID] = []byte(*r.TraceID)
	}
	if r.SpanID != nil {
		h[HeaderSpanID] = []byte(*r.SpanID)
	}
	return h
}

// AppendRecordHeaders appends the routing headers to hs as a record's
// headers, their values in one new buffer.
func (r Routing) AppendRecordHeaders(hs []kgo.RecordHeader) []kgo.RecordHeader {
	n := len(r.EventID) + 20
	if r.TraceID != nil {
		n += len(*r.TraceID)
	}
	if r.SpanID != nil {
		n += len(*r.SpanID)
	}
	b := make([]byte, 0, n)
	b = append(b, r.EventID...)
	hs = append(hs, kgo.RecordHeader{Key: HeaderEventID, Value: b[:len(b):len(b)]})
	at := len(b)
	b = strconv.AppendInt(b, r.Timestamp, 10)
	hs = append(hs, kgo.RecordHeader{Key: HeaderEventTime, Value: b[at:len(b):len(b)]})
	if r.TraceID != nil {
		at = len(b)
		b = append(b, *r.TraceID...)
		hs = append(hs, kgo.RecordHeader{Key: HeaderTraceID, Value: b[at:len(b):len(b)]})
	}
	if r.SpanID != nil {
		at = len(b)
		b = append(b, *r.SpanID...)
		hs = append(hs, kgo.RecordHeader{Key: HeaderSpanID, Value: b[at:len(b):len(b)]})
	}
	return hs
}

// PassHeaders adds r's routing headers to h (a new map when h is nil) and
// returns it: the bytes of in, the headers of the record r was read from,
// when they carried it (a stage passing an event on copies them rather
// than encoding them again), else r encoded.
func (r Routing) PassHeaders(h, in map[string][]byte) map[string][]byte {
	if in[HeaderEventID] == nil || in[HeaderEventTime] == nil {
		return r.Headers(h)
	}
	if h == nil {
		h = make(map[string][]byte, 4)
	}
	CopyRouting(h, in)
	return h
}

// AppendPassHeaders is PassHeaders for a record's headers: in's routing
// headers as they are when it has them, else r's.
func (r Routing) AppendPassHeaders(hs []kgo.RecordHeader, in map[string][]byte) []kgo.RecordHeader {
	if in[HeaderEventID] == nil || in[HeaderEventTime] == nil {
		return r.AppendRecordHeaders(hs)
	}
	for _, k := range RoutingHeaders {
		if v, ok := in[k]; ok {
			hs = append(hs, kgo.RecordHeader{Key: k, Value: v})
		}
	}
	return hs
}

// EventRouting reads an event's routing headers; ok is false without them.
func EventRouting(h map[string][]byte) (r Routing, ok bool) {
	idb, tsb := h[HeaderEventID], h[HeaderEventTime]
	if idb == nil || tsb == nil {
		return Routing{}, false
	}
	t, err := strconv.ParseInt(string(tsb), 10, 64)
	if err != nil {
		return Routing{}, false
	}
	r = Routing{EventID: string(idb), Timestamp: t}
	if v, ok := h[HeaderTraceID]; ok {
		s := string(v)
		r.TraceID = &s
	}
	if v, ok := h[HeaderSpanID]; ok {
		s := string(v)
		r.SpanID = &s
	}
	return r, true
}

// CopyRouting copies the routing headers present in from into to.
func CopyRouting(to, from map[string][]byte) {
	for _, k := range RoutingHeaders {
		if v, ok := from[k]; ok {
			to[k] = v
		}
	}
}
