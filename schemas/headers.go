package schemas

import "strconv"

// Headers a stage may write beside a LogEvent's bytes: what the next
// stages route and key state by, so that a stage that only routes the
// event, or only needs its id and time, does not decode it. A record
// without them is decoded.
const (
	HeaderEventID   = "ls-event-id"
	HeaderEventTime = "ls-event-time" // ms since the epoch, decimal
)

// EventHeaders adds an event's routing headers to h (a new map when h is
// nil) and returns it.
func EventHeaders(h map[string][]byte, id string, ts int64) map[string][]byte {
	if h == nil {
		h = make(map[string][]byte, 2)
	}
	h[HeaderEventID] = []byte(id)
	h[HeaderEventTime] = strconv.AppendInt(nil, ts, 10)
	return h
}

// EventRouting reads an event's routing headers; ok is false without them.
func EventRouting(h map[string][]byte) (id string, ts int64, ok bool) {
	idb, tsb := h[HeaderEventID], h[HeaderEventTime]
	if idb == nil || tsb == nil {
		return "", 0, false
	}
	t, err := strconv.ParseInt(string(tsb), 10, 64)
	if err != nil {
		return "", 0, false
	}
	return string(idb), t, true
}
