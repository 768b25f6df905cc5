package parse

import (
	"strconv"
	"strings"
	"time"

	"github.com/logstream/logstream/schemas"
)

// klog (Kubernetes components) and glog lines:
//
//	I0501 12:00:00.123456    4711 server.go:42] Starting kubelet
//	E0501 12:00:00.123456    4711 pod_workers.go:1300] "Error syncing pod, skipping" err="failed to \"StartContainer\"" pod="kube-system/coredns-5d78c9869d-abcde"
//	W20240501 12:00:00.123456 139876 file.cc:42] glog from 0.7 on writes the year
//
// The header is a severity letter (I W E F: INFO WARN ERROR FATAL), the
// month and day (glog 0.7+: year, month and day), the time with a fraction,
// a thread id right-aligned with spaces (Go's klog writes its process id
// there), file:line and ']'. A header without a year is placed in a year as
// an RFC 3164 syslog time is (yearlessTime); the time has no zone and is
// taken as UTC, as everywhere in this package. Labels: thread, and caller
// for file:line, the name klog's own JSON output, zap and go-kit give it, so
// a component's text and JSON lines agree.
//
// klog v2 structured logging (InfoS, ErrorS) writes the message as a Go
// quoted string followed by key=value pairs, string values quoted the same
// way: the message is unquoted and the pairs become labels, but trace ids
// (trace_id, traceID and the other spellings JSON accepts), span ids and
// traceparent fill TraceID and SpanID. Values klog printed with %+v may hold
// blanks inside brackets ([a b], map[k:v], {A:1 B:2}); they are read up to
// their closing bracket. A tail that turns out not to be pairs is kept as it
// stands in the label extra. A message that starts with a quote but is not
// followed by pairs is plain text, kept as written.

// klogLevel maps a klog severity letter.
func klogLevel(c byte) (schemas.Level, bool) {
	switch c {
	case 'I':
		return schemas.LevelInfo, true
	case 'W':
		return schemas.LevelWarn, true
	case 'E':
		return schemas.LevelError, true
	case 'F':
		return schemas.LevelFatal, true
	}
	return schemas.LevelUnknown, false
}

func isAlnum(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// parseKlog reads a klog/glog line into f and reports whether it is one.
func parseKlog(s string, f *Fields, hostOnly bool) bool {
	lvl, ok := klogLevel(s[0])
	if !ok {
		return false
	}
	i := 1
	for i < len(s) && i <= 9 && isDigit(s[i]) {
		i++
	}
	date := s[1:i]
	if (len(date) != 4 && len(date) != 8) || i >= len(s) || s[i] != ' ' {
		return false
	}
	// hh:mm:ss.fraction
	c := i + 1
	if len(s) < c+10 || s[c+2] != ':' || s[c+5] != ':' || s[c+8] != '.' {
		return false
	}
	hour, ok1 := d2(s[c:])
	minute, ok2 := d2(s[c+3:])
	sec, ok3 := d2(s[c+6:])
	nsec, j := fraction(s, c+9)
	if !ok1 || !ok2 || !ok3 || j == c+9 {
		return false
	}
	stamp := s[1:j]
	// Thread id, right-aligned: at least one blank before it.
	k := j
	for k < len(s) && s[k] == ' ' {
		k++
	}
	th := k
	for k < len(s) && isAlnum(s[k]) {
		k++
	}
	if k == j || k == th || k >= len(s) || s[k] != ' ' {
		return false
	}
	thread := s[th:k]
	k++
	// file:line]
	e := k
	for e < len(s) && s[e] != ']' && !isBlank(s[e]) {
		e++
	}
	if e >= len(s) || s[e] != ']' {
		return false
	}
	caller := s[k:e]
	if colon := strings.LastIndexByte(caller, ':'); colon <= 0 || !isDigits(caller[colon+1:]) {
		return false
	}
	msg := s[e+1:]
	if msg != "" {
		if msg[0] != ' ' {
			return false
		}
		msg = msg[1:]
	}
	f.Format = formatKlog
	if hostOnly {
		return true
	}
	f.Level = lvl
	month, _ := d2(date[len(date)-4:])
	day, _ := d2(date[len(date)-2:])
	var t time.Time
	valid := false
	if len(date) == 8 {
		year, _ := d4(date)
		if valid = validDateTime(year, month, day, hour, minute, sec); valid {
			t = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
		}
	} else {
		t, valid = yearlessTime(month, day, hour, minute, sec, nsec)
	}
	if valid {
		f.Timestamp = t
	} else {
		f.unreadableTime(formatKlog, "timestamp", stamp)
	}
	parseKlogMessage(msg, f)
	// The header's labels last: they describe the line for certain, a pair
	// of the same name is what the program chose to log.
	f.setLabel("thread", thread)
	f.setLabel("caller", caller)
	return true
}

// parseKlogMessage reads what follows the header: a structured message
// ("msg" key=value...) or plain text.
func parseKlogMessage(msg string, f *Fields) {
	f.Message = msg
	if len(msg) < 2 || msg[0] != '"' {
		return
	}
	end := quotedEnd(msg, 0)
	if end < 0 {
		return
	}
	rest := msg[end+1:]
	if rest != "" && (rest[0] != ' ' || !startsWithKey(rest[1:])) {
		return // prose that happens to open with a quotation
	}
	text, err := strconv.Unquote(msg[:end+1])
	if err != nil {
		return
	}
	f.Message = text
	parseKlogPairs(rest, f)
}

// startsWithKey reports whether s opens with "key=".
func startsWithKey(s string) bool {
	i := 0
	for i < len(s) && isLogfmtKeyChar(s[i]) {
		i++
	}
	return i > 0 && i < len(s) && s[i] == '='
}

// parseKlogPairs reads the key=value pairs of a structured klog line.
func parseKlogPairs(s string, f *Fields) {
	i := 0
	for {
		for i < len(s) && isBlank(s[i]) {
			i++
		}
		if i >= len(s) {
			return
		}
		start := i
		for i < len(s) && isLogfmtKeyChar(s[i]) {
			i++
		}
		if i == start || i >= len(s) || s[i] != '=' {
			f.setLabel("extra", s[start:])
			return
		}
		key := s[start:i]
		i++
		var val string
		if i < len(s) && s[i] == '"' {
			end := quotedEnd(s, i)
			if end < 0 {
				f.malformed("klog: unterminated quoted value for key " + strconv.Quote(key))
				val, i = s[i+1:], len(s)
			} else if end+1 < len(s) && !isBlank(s[end+1]) {
				f.setLabel("extra", s[start:])
				return
			} else {
				val, i = unquoteLogfmt(s[i:end+1]), end+1
			}
		} else {
			vs, depth := i, 0
		value:
			for ; i < len(s); i++ {
				switch s[i] {
				case ' ', '\t':
					if depth == 0 {
						break value
					}
				case '[', '{':
					depth++
				case ']', '}':
					if depth > 0 {
						depth--
					}
				}
			}
			val = s[vs:i]
		}
		klogPair(f, key, val)
	}
}

// klogPair files one pair: trace context where it belongs, the rest as a
// label.
func klogPair(f *Fields, key, val string) {
	switch class, _ := classifyKey(key); class {
	case keyTraceID:
		if t, ok := normTraceID(val); ok && f.TraceID == "" {
			f.TraceID = t
			return
		}
	case keySpanID:
		if sp, ok := normSpanID(val); ok && f.SpanID == "" {
			f.SpanID = sp
			return
		}
	case keyTraceparent:
		if t, sp, ok := parseTraceparent(val); ok {
			if f.TraceID == "" {
				f.TraceID = t
			}
			if f.SpanID == "" {
				f.SpanID = sp
			}
			return
		}
	}
	f.setLabel(key, val)
}
