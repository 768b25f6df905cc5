package parse

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/logstream/logstream/schemas"
)

// Fields is what a line parser extracts from one log line.
type Fields struct {
	Timestamp    time.Time // zero when the line carries no time; otherwise UTC
	Host         string    // host named by the line itself (syslog hostname, JSON host/hostname field), "" if none
	Service      string    // JSON service/app/logger, syslog app-name, java or python logger, "" if none
	Level        schemas.Level
	Message      string
	EventID      string // producer-supplied id (JSON id/event_id/eventId), "" if none
	TraceID      string // normalised 32 lowercase hex digits, "" if none or invalid
	SpanID       string // normalised 16 lowercase hex, "" if none or invalid
	HTTPStatus   int32  // 0 = none
	LatencyMs    float64
	HasLatency   bool
	K8sNamespace string
	K8sPod       string
	K8sContainer string
	Labels       map[string]string // other fields (nil when none)
	Format       string            // "json","logfmt","cri","combined","alb","syslog3164","syslog5424","java","klog","python","none"
	// Inner is, for a CRI line, the format of its content ("" otherwise):
	// the multi-line join holds no access-log or JSON line inside CRI.
	Inner      string
	ParseError string // set when no format matched or a format was recognised but malformed (an unreadable timestamp included)
}

// Format names, as they appear in Fields.Format.
const (
	formatJSON       = "json"
	formatLogfmt     = "logfmt"
	formatCRI        = "cri"
	formatCombined   = "combined"
	formatALB        = "alb"
	formatSyslog3164 = "syslog3164"
	formatSyslog5424 = "syslog5424"
	formatJava       = "java"
	formatKlog       = "klog"
	formatPython     = "python"
	formatNone       = "none"
)

// errNoFormat is Fields.ParseError of a line that matched no format.
const errNoFormat = "no known log format matched"

// maxLabels caps Fields.Labels. A line with more label-worthy fields keeps
// the first maxLabels of them and gets labelsTruncated="true" on top.
const (
	maxLabels       = 64
	labelsTruncated = "labels_truncated"
)

// setLabel adds one label, respecting maxLabels.
func (f *Fields) setLabel(k, v string) {
	if f.Labels == nil {
		f.Labels = make(map[string]string, 8)
	}
	if len(f.Labels) >= maxLabels {
		if _, ok := f.Labels[k]; !ok {
			f.Labels[labelsTruncated] = "true"
			return
		}
	}
	f.Labels[k] = v
}

// malformed records why a recognised format could not be read in full.
// The first reason wins.
func (f *Fields) malformed(reason string) {
	if f.ParseError == "" {
		f.ParseError = reason
	}
}

// maxErrValue bounds how much of a bad value a ParseError quotes: enough
// to recognise it, not so much that a megabyte of garbage in a time field
// becomes a megabyte of error text in every event.
const maxErrValue = 64

// quoteErrValue quotes v for a ParseError, cut to maxErrValue bytes on a
// UTF-8 boundary, "..." marking the cut.
func quoteErrValue(v string) string {
	if len(v) <= maxErrValue {
		return strconv.Quote(v)
	}
	n := maxErrValue
	for n > 0 && !utf8.RuneStart(v[n]) {
		n--
	}
	return strconv.Quote(v[:n]) + "..."
}

// unreadableTime records that a line carried a time in field (a key of a
// structured line, or the name of a positional one) that does not parse.
// The event keeps everything else that was parsed; with Timestamp left zero
// the stage gives it the time the line was received, and this ParseError
// says why, instead of the receive time passing silently for the line's own.
func (f *Fields) unreadableTime(format, field, value string) {
	f.malformed(format + ": unreadable timestamp " + quoteErrValue(value) + " in field " + strconv.Quote(field))
}

// ---------------------------------------------------------------------------
// Levels

// levelFromName maps a severity name, case-insensitively, to a Level.
func levelFromName(s string) (schemas.Level, bool) {
	if len(s) == 0 || len(s) > 13 {
		return schemas.LevelUnknown, false
	}
	var buf [13]byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	switch string(buf[:len(s)]) {
	case "trace", "trc", "finest", "finer":
		return schemas.LevelTrace, true
	case "debug", "dbg", "fine", "config":
		return schemas.LevelDebug, true
	case "info", "inf", "information", "informational", "notice":
		return schemas.LevelInfo, true
	case "warn", "warning", "wrn":
		return schemas.LevelWarn, true
	case "error", "err", "eror", "severe":
		return schemas.LevelError, true
	case "fatal", "critical", "crit", "alert", "emerg", "emergency", "panic", "dpanic":
		return schemas.LevelFatal, true
	}
	return schemas.LevelUnknown, false
}

// levelFromValue maps a level field's value: a name, or a bunyan/pino
// numeric level (10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal;
// values in between round down).
func levelFromValue(s string) (schemas.Level, bool) {
	if l, ok := levelFromName(s); ok {
		return l, true
	}
	n, ok := atoiSmall(s)
	if !ok || n < 10 || n > 60 {
		return schemas.LevelUnknown, false
	}
	switch {
	case n < 20:
		return schemas.LevelTrace, true
	case n < 30:
		return schemas.LevelDebug, true
	case n < 40:
		return schemas.LevelInfo, true
	case n < 50:
		return schemas.LevelWarn, true
	case n < 60:
		return schemas.LevelError, true
	}
	return schemas.LevelFatal, true
}

// levelFromStatus is the level of an access-log line: 5xx ERROR, 4xx WARN,
// anything else INFO.
func levelFromStatus(status int32) schemas.Level {
	switch {
	case status >= 500:
		return schemas.LevelError
	case status >= 400:
		return schemas.LevelWarn
	}
	return schemas.LevelInfo
}

// levelFromSyslog maps a syslog severity (PRI mod 8).
func levelFromSyslog(sev int) schemas.Level {
	switch {
	case sev <= 2:
		return schemas.LevelFatal
	case sev == 3:
		return schemas.LevelError
	case sev == 4:
		return schemas.LevelWarn
	case sev <= 6:
		return schemas.LevelInfo
	}
	return schemas.LevelDebug
}

// ---------------------------------------------------------------------------
// Numbers

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// atoiSmall parses a non-negative decimal integer of at most 9 digits.
func atoiSmall(s string) (int, bool) {
	if len(s) == 0 || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// parseStatus reads an HTTP status code, 100..599.
func parseStatus(s string) (int32, bool) {
	if len(s) != 3 {
		return 0, false
	}
	n, ok := atoiSmall(s)
	if !ok || n < 100 || n > 599 {
		return 0, false
	}
	return int32(n), true
}

// parseNonNegFloat parses a finite, non-negative decimal number.
func parseNonNegFloat(s string) (float64, bool) {
	if len(s) == 0 || len(s) > 64 {
		return 0, false
	}
	// Reject what strconv accepts but a log number never is: inf, nan, hex, '_'.
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isDigit(c) && c != '.' && c != 'e' && c != 'E' && c != '+' && c != '-' {
			return 0, false
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}

// latency units, as multipliers to milliseconds.
const (
	unitNs  = 1e-6
	unitUs  = 1e-3
	unitMs  = 1
	unitSec = 1e3
)

// parseLatency reads a latency value: a duration with units ("12ms",
// "1.5s", "250µs"), or a bare number in the unit the field's name implies.
func parseLatency(s string, unit float64) (float64, bool) {
	if v, ok := parseNonNegFloat(s); ok {
		v *= unit
		if math.IsInf(v, 0) {
			return 0, false
		}
		return v, true
	}
	if len(s) < 2 || len(s) > 64 || !(isDigit(s[0]) || s[0] == '.') {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, false
	}
	return float64(d) / float64(time.Millisecond), true
}

// ---------------------------------------------------------------------------
// Trace context

func isHex(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// lowerHex returns s in lowercase if it is n hex digits and not all zero.
func lowerHex(s string, n int) (string, bool) {
	if len(s) != n {
		return "", false
	}
	upper, zero := false, true
	for i := 0; i < n; i++ {
		c := s[i]
		if !isHex(c) {
			return "", false
		}
		if 'A' <= c && c <= 'F' {
			upper = true
		}
		if c != '0' {
			zero = false
		}
	}
	if zero {
		return "", false
	}
	if upper {
		return strings.ToLower(s), true
	}
	return s, true
}

// normTraceID normalises a trace id to 32 lowercase hex digits. It accepts
// 32 hex digits in either case, a UUID spelling of them (8-4-4-4-12) and a
// 64-bit id of 16 hex digits, which W3C says to left-pad with zeros.
func normTraceID(s string) (string, bool) {
	switch len(s) {
	case 32:
		return lowerHex(s, 32)
	case 16:
		if v, ok := lowerHex(s, 16); ok {
			return "0000000000000000" + v, true
		}
	case 36:
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return "", false
		}
		var buf [32]byte
		n := 0
		for i := 0; i < 36; i++ {
			if i == 8 || i == 13 || i == 18 || i == 23 {
				continue
			}
			buf[n] = s[i]
			n++
		}
		return lowerHex(string(buf[:]), 32)
	}
	return "", false
}

// normSpanID normalises a span id to 16 lowercase hex digits.
func normSpanID(s string) (string, bool) { return lowerHex(s, 16) }

// parseTraceparent reads a W3C traceparent header,
// "<version>-<trace-id>-<parent-id>-<flags>".
func parseTraceparent(s string) (trace, span string, ok bool) {
	if len(s) < 55 || s[2] != '-' || s[35] != '-' || s[52] != '-' {
		return "", "", false
	}
	if !isHex(s[0]) || !isHex(s[1]) || !isHex(s[53]) || !isHex(s[54]) {
		return "", "", false
	}
	if s[0] == 'f' && s[1] == 'f' { // version ff is invalid
		return "", "", false
	}
	if s[0] == '0' && s[1] == '0' && len(s) != 55 {
		return "", "", false
	}
	if len(s) > 55 && s[55] != '-' {
		return "", "", false
	}
	trace, ok1 := lowerHex(s[3:35], 32)
	span, ok2 := lowerHex(s[36:52], 16)
	if !ok1 || !ok2 {
		return "", "", false
	}
	return trace, span, true
}

// ---------------------------------------------------------------------------
// Times. Every parser returns times in UTC; a time written without a zone
// is taken to be UTC.

func d2(s string) (int, bool) {
	if len(s) < 2 || !isDigit(s[0]) || !isDigit(s[1]) {
		return 0, false
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), true
}

func d4(s string) (int, bool) {
	a, ok1 := d2(s)
	if !ok1 || len(s) < 4 {
		return 0, false
	}
	b, ok2 := d2(s[2:])
	return a*100 + b, ok2
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// validDateTime reports whether the calendar fields are in range.
func validDateTime(year, month, day, hour, minute, sec int) bool {
	return year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= daysIn(month, year) &&
		hour <= 23 && minute <= 59 && sec <= 59
}

// Results of parseISOPrefix.
const (
	isoNone    = iota // not an ISO 8601 date-time
	isoOK             // parsed
	isoInvalid        // shaped like one, but a field is out of range
)

// parseISOPrefix reads an ISO 8601 / RFC 3339 date-time at the start of s:
// "YYYY-MM-DD[T| ]hh:mm:ss[(.|,)fraction][Z|±hh:mm|±hhmm|±hh]". It returns
// the time in UTC, how many bytes it used and whether it matched.
func parseISOPrefix(s string) (time.Time, int, int) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' {
		return time.Time{}, 0, isoNone
	}
	if c := s[10]; c != 'T' && c != 't' && c != ' ' {
		return time.Time{}, 0, isoNone
	}
	year, ok1 := d4(s)
	month, ok2 := d2(s[5:])
	day, ok3 := d2(s[8:])
	hour, ok4 := d2(s[11:])
	minute, ok5 := d2(s[14:])
	sec, ok6 := d2(s[17:])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, 0, isoNone
	}
	i := 19
	nsec := 0
	if i+1 < len(s) && (s[i] == '.' || s[i] == ',') && isDigit(s[i+1]) {
		nsec, i = fraction(s, i+1)
	}
	offset := 0
	if i < len(s) {
		switch s[i] {
		case 'Z', 'z':
			i++
		case '+', '-':
			sign := 1
			if s[i] == '-' {
				sign = -1
			}
			oh, ok := d2(s[i+1:])
			if !ok {
				break // a '-' or '+' that starts something else
			}
			j := i + 3
			om := 0
			if j < len(s) && s[j] == ':' {
				if m, ok := d2(s[j+1:]); ok {
					om = m
					j += 3
				}
			} else if m, ok := d2(s[j:]); ok {
				om = m
				j += 2
			}
			if oh > 23 || om > 59 {
				return time.Time{}, j, isoInvalid
			}
			offset = sign * (oh*3600 + om*60)
			i = j
		}
	}
	if !validDateTime(year, month, day, hour, minute, sec) {
		return time.Time{}, i, isoInvalid
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if offset != 0 {
		t = t.Add(-time.Duration(offset) * time.Second)
	}
	return t, i, isoOK
}

// parseISOTime parses s, which must be an ISO 8601 date-time and nothing else.
func parseISOTime(s string) (time.Time, bool) {
	t, n, st := parseISOPrefix(s)
	return t, st == isoOK && n == len(s)
}

// parseEpoch reads a Unix time given as a decimal number, guessing its unit
// from its magnitude: below 1e11 seconds, below 1e14 milliseconds, below
// 1e17 microseconds, else nanoseconds. A fraction is kept to the nanosecond.
func parseEpoch(s string) (time.Time, bool) {
	i := 0
	var ip int64
	for i < len(s) && isDigit(s[i]) {
		if i >= 19 {
			return time.Time{}, false
		}
		ip = ip*10 + int64(s[i]-'0')
		i++
	}
	if i == 0 {
		return time.Time{}, false
	}
	var frac int64 // fraction in units of 1e-9 of the integer's unit
	if i < len(s) {
		if s[i] != '.' {
			return epochFloat(s)
		}
		i++
		digits := 0
		for i < len(s) && isDigit(s[i]) {
			if digits < 9 {
				frac = frac*10 + int64(s[i]-'0')
				digits++
			}
			i++
		}
		if i < len(s) {
			return epochFloat(s)
		}
		for ; digits < 9; digits++ {
			frac *= 10
		}
	}
	var sec, nsec int64
	switch {
	case ip < 1e11:
		sec, nsec = ip, frac
	case ip < 1e14:
		sec, nsec = ip/1e3, (ip%1e3)*1e6+frac/1e3
	case ip < 1e17:
		sec, nsec = ip/1e6, (ip%1e6)*1e3+frac/1e6
	default:
		sec, nsec = ip/1e9, ip%1e9
	}
	if sec == 0 && nsec == 0 {
		return time.Time{}, false
	}
	return time.Unix(sec, nsec).UTC(), true
}

// epochFloat handles epoch numbers in exponent notation, e.g. 1.7e9.
func epochFloat(s string) (time.Time, bool) {
	v, ok := parseNonNegFloat(s)
	if !ok || v < 1 || v >= 9.2e18 {
		return time.Time{}, false
	}
	switch {
	case v < 1e11:
		sec, f := math.Modf(v)
		return time.Unix(int64(sec), int64(f*1e9)).UTC(), true
	case v < 1e14:
		return time.UnixMilli(int64(v)).UTC(), true
	case v < 1e17:
		return time.UnixMicro(int64(v)).UTC(), true
	}
	return time.Unix(0, int64(v)).UTC(), true
}

// parseTimeValue reads a time field of a JSON or logfmt line: ISO 8601 /
// RFC 3339 (any fraction, any zone, 'T' or space) or an epoch number.
func parseTimeValue(s string) (time.Time, bool) {
	if len(s) == 0 {
		return time.Time{}, false
	}
	if len(s) >= 19 && s[4] == '-' {
		return parseISOTime(s)
	}
	return parseEpoch(s)
}

var monthAbbrev = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// parseMonth reads a three-letter English month abbreviation (as syslog and
// access logs write it) and returns 1..12.
func parseMonth(s string) (int, bool) {
	if len(s) < 3 {
		return 0, false
	}
	for i, m := range monthAbbrev {
		if s[0] == m[0] && s[1] == m[1] && s[2] == m[2] {
			return i + 1, true
		}
	}
	return 0, false
}

// fraction reads the digits of a fractional second starting at s[i] and
// returns them as nanoseconds (digits past the ninth are ignored) and the
// index after the last digit.
func fraction(s string, i int) (nsec, next int) {
	digits := 0
	for i < len(s) && isDigit(s[i]) {
		if digits < 9 {
			nsec = nsec*10 + int(s[i]-'0')
			digits++
		}
		i++
	}
	for ; digits < 9; digits++ {
		nsec *= 10
	}
	return nsec, i
}
