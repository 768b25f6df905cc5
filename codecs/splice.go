package codecs

import (
	"bytes"
	"errors"

	"github.com/logstream/logstream/schemas"
)

// Encoded is a record already in a codec's wire format: Encode passes it
// through as it is. A stage that writes the bytes it built itself (the
// trace join's spliced events) hands them to goka, or to a fence that
// encodes with the output's codec, as an Encoded.
type Encoded []byte

// JoinFields are the fields of a LogEvent the trace join writes: the last
// six of logevent/v4, so that a join can keep the bytes of every field
// before them and write only these.
type JoinFields struct {
	SpanService    string
	SpanOperation  string
	SpanDurationUs *int64
	SpanStatus     string
	RootOperation  string
	JoinStatus     string
}

// LogEventSplice is what ScanLogEvent found in a LogEvent: where its join
// fields start and the span id it names.
type LogEventSplice struct {
	prefix int    // bytes of data up to the join fields
	SpanID string // "" when absent; aliases the scanned bytes
	HasID  bool   // SpanID was present (possibly empty)
	// Join holds the join fields the record has (its strings alias the
	// scanned bytes).
	Join JoinFields
}

// ScanLogEvent checks that data is a LogEvent written in c's own version
// and framing, well formed to its last byte, without decoding it into a
// value (nothing is allocated), and finds where its join fields start.
// ok is false otherwise: the caller then decodes with c, which reads other
// versions and reports what is wrong with bad bytes.
//
// The trace join uses it to enrich an event without a decode and an
// encode: the bytes of the fields before the join's are the same either
// way, since a record this codec wrote is what decoding and encoding it
// again would write (lengths and varints minimal, map in one block).
func ScanLogEvent(c *Codec[schemas.LogEvent], data []byte) (s LogEventSplice, ok bool) {
	if !c.typed || c.upgrade != nil {
		return s, false
	}
	var want [headerLen]byte
	var hdr []byte
	if c.wire == WireConfluent {
		hdr = appendConfluentHeader(want[:0], c.version.ID)
	} else {
		hdr = appendSingleObjectHeader(want[:0], c.version.Fingerprint)
	}
	if !bytes.HasPrefix(data, hdr) {
		return s, false
	}
	r := reader{b: data, i: len(hdr)}
	r.str()  // event_id
	r.long() // timestamp
	r.str()  // host
	r.str()  // service
	r.index(len(levelSymbols))
	r.str()          // message
	if r.present() { // trace_id
		r.str()
	}
	if s.HasID = r.present(); s.HasID { // span_id
		s.SpanID = r.str()
	}
	if r.present() { // http_status
		r.int()
	}
	if r.present() { // latency_ms
		r.double()
	}
	for range 3 { // k8s_namespace, k8s_pod, k8s_container
		if r.present() {
			r.str()
		}
	}
	r.skipStringMap() // labels
	if r.present() {  // parse_error
		r.str()
	}
	r.str()          // source
	r.str()          // format
	r.str()          // cluster
	if r.present() { // stack
		r.str()
	}
	r.int() // masked
	s.prefix = r.i
	s.Join.SpanService = r.str()
	s.Join.SpanOperation = r.str()
	if r.present() {
		d := r.long()
		s.Join.SpanDurationUs = &d
	}
	s.Join.SpanStatus = r.str()
	s.Join.RootOperation = r.str()
	s.Join.JoinStatus = r.str()
	if r.err != nil || r.i != len(r.b) {
		return LogEventSplice{}, false
	}
	return s, true
}

// AppendLogEvent appends to dst the event ScanLogEvent scanned in data,
// with its join fields set to j.
func (s LogEventSplice) AppendLogEvent(dst, data []byte, j JoinFields) []byte {
	return appendJoinFields(append(dst, data[:s.prefix]...), j)
}

// appendJoinFields writes the last six fields of a LogEvent: the one
// place both the encoder and the splice write them.
func appendJoinFields(b []byte, j JoinFields) []byte {
	b = appendString(b, j.SpanService)
	b = appendString(b, j.SpanOperation)
	b = appendOptLong(b, j.SpanDurationUs)
	b = appendString(b, j.SpanStatus)
	b = appendString(b, j.RootOperation)
	return appendString(b, j.JoinStatus)
}

// Size is an upper bound of what AppendLogEvent appends.
func (s LogEventSplice) Size(j JoinFields) int {
	return s.prefix + 5*binaryMaxVarint + 11 + len(j.SpanService) + len(j.SpanOperation) + len(j.SpanStatus) +
		len(j.RootOperation) + len(j.JoinStatus)
}

const binaryMaxVarint = 10

// errScanMap stops a scan at a map too large to check for repeated keys
// without one: the decode it falls back to checks it.
var errScanMap = errors.New("map too large to scan")

// skipStringMap skips a map of strings with stringMap's checks, a repeated
// key included (looked for among at most 64 keys, without a map: an ALB
// line has 17 labels).
func (r *reader) skipStringMap() {
	var keys [64]string
	n := 0
	for {
		count, end := r.block()
		if count == 0 {
			return
		}
		for ; count > 0 && r.err == nil; count-- {
			k := r.str()
			r.str()
			if n == len(keys) {
				r.fail(errScanMap)
				return
			}
			for _, seen := range keys[:n] {
				if seen == k {
					r.fail(errDuplicateKey)
					return
				}
			}
			keys[n] = k
			n++
		}
		r.blockEnd(end)
	}
}
