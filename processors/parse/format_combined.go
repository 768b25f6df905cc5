package parse

import (
	"strings"
	"time"
)

// nginx/Apache access logs, combined and common log format:
//
//	127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 2326 "http://ref/" "Mozilla/4.08"
//
// Common log format stops after the byte count. nginx's default "main"
// format adds "$http_x_forwarded_for" (label forwarded_for). After these,
// a bare decimal with a point is nginx's $request_time in seconds, and
// key=value fields are read as such: rt= and request_time= (seconds) give the
// latency, any other key becomes a label. Anything else there is kept in the
// label extra.
//
// A line is taken for an access log once "client ident user [time]" parses,
// or, when what is in the brackets is not a time, once a quoted request
// starting with a method and a status follow them (the time is then
// reported unreadable); what is wrong after that makes it a malformed access
// log.
//
// Level: 5xx ERROR, 4xx WARN, else INFO. Labels: client_ip, user,
// http_method, http_path, http_protocol, bytes, referer, user_agent.
//
// The request may hold raw double quotes (GET /search?q="a b" HTTP/1.1):
// nginx escapes them as \x22 unless the log_format says escape=none, Apache
// as \", but not every server or proxy does. So the request does not simply
// end at its first closing quote: it ends at the quote followed by a status,
// preferring one right after the protocol (see requestEnd).

// isClientToken reports a plausible client address or host name.
func isClientToken(s string) bool {
	if len(s) == 0 || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isDigit(c) || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || c == '.' || c == ':' || c == '-' || c == '_' || c == '%') {
			return false
		}
	}
	return true
}

func parseCombined(s string, f *Fields, hostOnly bool) bool {
	i := strings.IndexByte(s, ' ')
	if i <= 0 || !isClientToken(s[:i]) {
		return false
	}
	client := s[:i]
	rest := s[i+1:]
	j := strings.IndexByte(rest, ' ')
	if j <= 0 {
		return false
	}
	rest = rest[j+1:] // ident, unused
	k := strings.IndexByte(rest, ' ')
	if k <= 0 {
		return false
	}
	user := rest[:k]
	rest = rest[k+1:]
	if len(rest) < 28 || rest[0] != '[' {
		return false
	}
	end := strings.IndexByte(rest[:min(len(rest), 48)], ']')
	if end < 0 {
		return false
	}
	t, st := parseCLFTime(rest[1:end])
	if st == isoNone && !requestAndStatus(rest[end+1:]) {
		return false
	}
	f.Format = formatCombined
	if hostOnly {
		return true
	}
	f.Timestamp = t
	if st != isoOK {
		f.unreadableTime(formatCombined, "time", rest[1:end])
	}
	f.setLabel("client_ip", client)
	if user != "-" {
		f.setLabel("user", user)
	}
	rest = rest[end+1:]
	if !strings.HasPrefix(rest, " \"") {
		f.Message = trimBlank(rest)
		f.malformed("combined: missing quoted request")
		return true
	}
	qend := requestEnd(rest)
	if qend < 0 {
		f.Message = rest[2:]
		f.malformed("combined: unterminated request")
		return true
	}
	req := rest[2:qend]
	f.Message = req
	setRequestLabels(f, req)
	rest = rest[qend+1:]

	if !strings.HasPrefix(rest, " ") {
		f.malformed("combined: missing status")
		return true
	}
	rest = rest[1:]
	stTok := firstWord(rest)
	status, ok := parseStatus(stTok)
	if !ok {
		f.malformed("combined: invalid status")
		return true
	}
	f.HTTPStatus = status
	f.Level = levelFromStatus(status)
	rest = rest[len(stTok):]
	if !strings.HasPrefix(rest, " ") {
		f.malformed("combined: missing byte count")
		return true
	}
	rest = rest[1:]
	bytesTok := firstWord(rest)
	if bytesTok != "-" {
		if !isDigits(bytesTok) {
			f.malformed("combined: invalid byte count")
			return true
		}
		f.setLabel("bytes", bytesTok)
	}
	rest = rest[len(bytesTok):]
	parseAccessTail(f, rest)
	return true
}

// parseAccessTail reads what follows the byte count.
func parseAccessTail(f *Fields, tail string) {
	quotedNames := [...]string{"referer", "user_agent", "forwarded_for"}
	nq := 0
	extraFrom := -1 // where the first field kept in the label extra starts
	for i := 0; ; {
		start := i
		fld, next, kind := nextField(tail, i)
		if kind == fieldEnd {
			break
		}
		i = next
		known := true
		switch {
		case kind == fieldOpenQuote:
			f.malformed("combined: unterminated quoted field")
			known = false
		case kind == fieldQuoted && nq < len(quotedNames) && extraFrom < 0:
			if fld != "-" && fld != "" {
				f.setLabel(quotedNames[nq], fld)
			}
			nq++
		case kind == fieldQuoted:
			known = false
		case strings.IndexByte(fld, '=') > 0:
			nq = len(quotedNames)
			eq := strings.IndexByte(fld, '=')
			key, val := fld[:eq], fld[eq+1:]
			if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
				val = val[1 : len(val)-1]
			}
			if (key == "rt" || key == "request_time") && !f.HasLatency {
				if v, ok := parseNonNegFloat(val); ok {
					f.LatencyMs, f.HasLatency = v*1000, true
					continue
				}
			}
			f.setLabel(key, val)
		case !f.HasLatency && strings.IndexByte(fld, '.') > 0 && isDecimal(fld):
			nq = len(quotedNames)
			v, _ := parseNonNegFloat(fld)
			f.LatencyMs, f.HasLatency = v*1000, true
		default:
			known = false
		}
		if !known && extraFrom < 0 {
			extraFrom = start
		}
	}
	if extraFrom >= 0 {
		f.setLabel("extra", trimSpace(tail[extraFrom:]))
	}
}

// requestEnd returns the index of the quote closing the request in rest,
// which starts with ` "`, or -1 when the request is not closed. The quote
// that closes it is followed by " <status>" and a blank or the end of the
// line; among such quotes, one preceded by the protocol ("HTTP/1.1") wins,
// as a URL can hold `" 200 ` but not after a protocol.
func requestEnd(rest string) int {
	end := quotedEnd(rest, 1)
	if end >= 0 && statusFollows(rest, end) && endsWithProtocol(rest[2:end]) {
		return end // the usual line: nothing to search
	}
	first := -1
	for i := 2; i < len(rest); i++ {
		if rest[i] != '"' || !statusFollows(rest, i) {
			continue
		}
		if endsWithProtocol(rest[2:i]) {
			return i
		}
		if first < 0 {
			first = i
		}
	}
	switch {
	case end >= 0 && statusFollows(rest, end):
		return end
	case first >= 0:
		return first
	}
	return end
}

// statusFollows reports whether s[q] (a quote) is followed by " NNN" with
// NNN an HTTP status, then a blank or the end of s.
func statusFollows(s string, q int) bool {
	if q+5 > len(s) || s[q+1] != ' ' {
		return false
	}
	if _, ok := parseStatus(s[q+2 : q+5]); !ok {
		return false
	}
	return q+5 == len(s) || isBlank(s[q+5])
}

// endsWithProtocol reports a request line that ends with " HTTP/" and a
// version (digits and dots).
func endsWithProtocol(req string) bool {
	i := len(req)
	for i > 0 && (isDigit(req[i-1]) || req[i-1] == '.') {
		i--
	}
	return i < len(req) && i >= 6 && req[i-6:i] == " HTTP/"
}

// requestAndStatus reports whether s, what follows "[time]", starts with a
// quoted request that names a method and a status: the rest of an access
// log line, evidence enough when the brackets hold no time.
func requestAndStatus(s string) bool {
	if !strings.HasPrefix(s, " \"") {
		return false
	}
	end := requestEnd(s)
	if end < 0 || !statusFollows(s, end) {
		return false
	}
	sp := strings.IndexByte(s[2:end], ' ')
	return sp > 0 && isMethod(s[2:2+sp])
}

// setRequestLabels splits "METHOD path PROTOCOL" into labels.
func setRequestLabels(f *Fields, req string) {
	sp := strings.IndexByte(req, ' ')
	if sp <= 0 || !isMethod(req[:sp]) {
		return
	}
	f.setLabel("http_method", req[:sp])
	path := req[sp+1:]
	if last := strings.LastIndexByte(path, ' '); last >= 0 && strings.HasPrefix(path[last+1:], "HTTP/") {
		f.setLabel("http_protocol", path[last+1:])
		path = path[:last]
	}
	if path != "" {
		f.setLabel("http_path", path)
	}
}

func isMethod(s string) bool {
	if len(s) == 0 || len(s) > 20 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('A' <= c && c <= 'Z') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// isDecimal reports digits with at most one '.'.
func isDecimal(s string) bool {
	dot := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case isDigit(c):
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return len(s) > 0
}

// Kinds of fields nextField returns.
const (
	fieldEnd       = iota // no more fields
	fieldBare             // a run of non-blank bytes
	fieldQuoted           // a double-quoted field, returned without its quotes
	fieldOpenQuote        // a quoted field left open: the rest of the line
)

// nextField returns the field of s at or after i and where the next one
// may start. Escapes in a quoted field are kept as written.
func nextField(s string, i int) (field string, next int, kind int) {
	for i < len(s) && isBlank(s[i]) {
		i++
	}
	if i >= len(s) {
		return "", len(s), fieldEnd
	}
	if s[i] == '"' {
		end := quotedEnd(s, i)
		if end < 0 {
			return s[i+1:], len(s), fieldOpenQuote
		}
		return s[i+1 : end], end + 1, fieldQuoted
	}
	j := i
	for j < len(s) && !isBlank(s[j]) {
		j++
	}
	return s[i:j], j, fieldBare
}

// parseCLFTime reads "10/Oct/2000:13:55:36 -0700" (optional fraction after
// the seconds).
func parseCLFTime(s string) (time.Time, int) {
	if len(s) < 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' || s[17] != ':' {
		return time.Time{}, isoNone
	}
	day, ok1 := d2(s)
	month, ok2 := parseMonth(s[3:])
	year, ok3 := d4(s[7:])
	hour, ok4 := d2(s[12:])
	minute, ok5 := d2(s[15:])
	sec, ok6 := d2(s[18:])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, isoNone
	}
	i := 20
	nsec := 0
	if s[i] == '.' {
		nsec, i = fraction(s, i+1)
	}
	if len(s) != i+6 || s[i] != ' ' || (s[i+1] != '+' && s[i+1] != '-') {
		return time.Time{}, isoNone
	}
	oh, ok7 := d2(s[i+2:])
	om, ok8 := d2(s[i+4:])
	if !ok7 || !ok8 {
		return time.Time{}, isoNone
	}
	if oh > 23 || om > 59 || !validDateTime(year, month, day, hour, minute, sec) {
		return time.Time{}, isoInvalid
	}
	off := time.Duration(oh)*time.Hour + time.Duration(om)*time.Minute
	if s[i+1] == '-' {
		off = -off
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC).Add(-off), isoOK
}
