package parse

import (
	"strconv"
	"strings"
	"time"
)

// Syslog, both flavours:
//
//	RFC 3164  <34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed
//	RFC 5424  <165>1 2003-10-11T22:14:15.003Z host app procid msgid [sd] msg
//
// For RFC 3164 the PRI is optional (files written by syslog daemons have
// none), and so is the tag. The timestamp may also be an ISO 8601 one, as
// rsyslog writes by default nowadays ("2024-05-01T12:00:00.123+02:00 host
// app[1]: msg", reported as syslog3164); without a PRI such a line needs a
// tag to be taken for syslog. A 3164 timestamp has no year and no zone: it
// is taken as UTC in the current year, or in the previous year when that
// would put it more than a day in the future.
//
// Level comes from the PRI's severity (0-2 FATAL, 3 ERROR, 4 WARN, 5-6
// INFO, 7 DEBUG), UNKNOWN without PRI. Labels: facility (its name), pid for
// 3164; facility, procid, msgid and the structured data as "sdid.param" for
// 5424.

// now is the clock used to place year-less syslog timestamps.
var now = time.Now

var facilityNames = [...]string{
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
	"uucp", "cron", "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
}

// parseSyslog reads a syslog line (s starts with '<', a month name or an
// ISO date) into f and reports whether it is one.
func parseSyslog(s string, f *Fields, hostOnly bool) bool {
	pri := -1
	rest := s
	if s[0] == '<' {
		j, n := 1, 0
		for j < len(s) && j <= 3 && isDigit(s[j]) {
			n = n*10 + int(s[j]-'0')
			j++
		}
		if j == 1 || j >= len(s) || s[j] != '>' || n > 191 {
			return false
		}
		pri = n
		rest = s[j+1:]
		if v := syslogVersion(rest); v > 0 {
			parse5424(pri, rest[v:], f, hostOnly)
			return true
		}
	}
	return parse3164(pri, rest, f, hostOnly)
}

// syslogVersion returns the length of "VERSION SP" when rest starts an RFC
// 5424 header (a version followed by a NILVALUE or an ISO date), else 0.
func syslogVersion(rest string) int {
	i := 0
	for i < len(rest) && i < 3 && isDigit(rest[i]) {
		i++
	}
	if i == 0 || rest[0] == '0' || i >= len(rest) || rest[i] != ' ' {
		return 0
	}
	after := rest[i+1:]
	if strings.HasPrefix(after, "- ") || after == "-" || (len(after) >= 5 && isDigit(after[0]) && after[4] == '-') {
		return i + 1
	}
	return 0
}

func (f *Fields) setPRI(pri int, hostOnly bool) {
	if pri < 0 {
		return
	}
	f.Level = levelFromSyslog(pri % 8)
	if !hostOnly {
		f.setLabel("facility", facilityNames[pri/8])
	}
}

// parse3164 reads what follows the PRI (pri < 0: there was none).
func parse3164(pri int, rest string, f *Fields, hostOnly bool) bool {
	var ts time.Time
	badTS := "" // a timestamp shaped as one but out of range
	n := 0
	iso := false
	if m, ok := parseMonth(rest); ok && len(rest) >= 15 && rest[3] == ' ' {
		t, used, st := parse3164Time(rest, m)
		if st == isoNone {
			if pri < 0 {
				return false
			}
		} else {
			n = used
			ts = t
			if st == isoInvalid {
				badTS = rest[:used]
			}
		}
	} else if t, used, st := parseISOPrefix(rest); st != isoNone && used < len(rest) && rest[used] == ' ' {
		n, ts, iso = used, t, true
		if st == isoInvalid {
			badTS = rest[:used]
		}
	} else if pri < 0 {
		return false
	}
	if n == 0 {
		// A PRI and then no timestamp: the relay rule of RFC 3164 is to
		// keep all of it as the message.
		f.Format = formatSyslog3164
		f.setPRI(pri, hostOnly)
		f.Message = rest
		f.malformed("syslog: missing timestamp after PRI")
		return true
	}
	body := rest[n:]
	for len(body) > 0 && body[0] == ' ' {
		body = body[1:]
	}
	host, tag, pid, msg, hasTag := splitHostTag(body)
	if iso && pri < 0 && !hasTag {
		return false
	}
	f.Format = formatSyslog3164
	f.Timestamp = ts
	f.Host = host
	if hostOnly {
		return true
	}
	f.setPRI(pri, hostOnly)
	f.Service = tag
	f.Message = msg
	if pid != "" {
		f.setLabel("pid", pid)
	}
	if badTS != "" {
		f.unreadableTime("syslog", "timestamp", badTS)
	}
	return true
}

// parse3164Time reads "Mmm dd hh:mm:ss" (day padded with a space or a
// zero, optional fraction) given the month already read.
func parse3164Time(s string, month int) (time.Time, int, int) {
	var day int
	switch {
	case s[4] == ' ' && isDigit(s[5]):
		day = int(s[5] - '0')
	case isDigit(s[4]) && isDigit(s[5]):
		day = int(s[4]-'0')*10 + int(s[5]-'0')
	default:
		return time.Time{}, 0, isoNone
	}
	if s[6] != ' ' || s[9] != ':' || s[12] != ':' {
		return time.Time{}, 0, isoNone
	}
	hour, ok1 := d2(s[7:])
	minute, ok2 := d2(s[10:])
	sec, ok3 := d2(s[13:])
	if !ok1 || !ok2 || !ok3 {
		return time.Time{}, 0, isoNone
	}
	i := 15
	nsec := 0
	if i+1 < len(s) && s[i] == '.' && isDigit(s[i+1]) {
		nsec, i = fraction(s, i+1)
	}
	if i < len(s) && s[i] != ' ' {
		return time.Time{}, 0, isoNone
	}
	t, ok := yearlessTime(month, day, hour, minute, sec, nsec)
	if !ok {
		return time.Time{}, i, isoInvalid
	}
	return t, i, isoOK
}

// yearlessTime places a time written without a year (RFC 3164 syslog,
// klog) in UTC: in the current year, or in the previous one when that would
// put it more than a day in the future (a line from December 31 read on
// January 1). It reports false when the fields are out of range.
func yearlessTime(month, day, hour, minute, sec, nsec int) (time.Time, bool) {
	cur := now().UTC()
	year := cur.Year()
	if month == 2 && day == 29 && daysIn(2, year) == 28 {
		year-- // only a leap year has it; the most recent one is the best guess
		for daysIn(2, year) == 28 {
			year--
		}
	}
	if !validDateTime(year, month, day, hour, minute, sec) {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Sub(cur) > 24*time.Hour {
		t = t.AddDate(-1, 0, 0)
	}
	return t, true
}

// splitHostTag splits "host tag[pid]: message". A first word that is
// itself a tag (ends with ':') means the line has no host.
func splitHostTag(body string) (host, tag, pid, msg string, hasTag bool) {
	word := body
	if i := strings.IndexByte(body, ' '); i >= 0 {
		word = body[:i]
	}
	if t, p, m, ok := splitTag(body); ok && strings.HasSuffix(word, ":") {
		return "", t, p, m, true
	}
	host = word
	rest := body[len(word):]
	for len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	if t, p, m, ok := splitTag(rest); ok {
		return host, t, p, m, true
	}
	return host, "", "", rest, false
}

// splitTag reads "tag[pid]: message" or "tag: message".
func splitTag(s string) (tag, pid, msg string, ok bool) {
	i := 0
	for i < len(s) && i <= 64 {
		c := s[i]
		if c == '[' || c == ':' || c == ' ' || c < 0x21 || c == 0x7f {
			break
		}
		i++
	}
	if i == 0 || i > 64 || i >= len(s) {
		return "", "", "", false
	}
	tag = s[:i]
	if s[i] == '[' {
		end := strings.IndexByte(s[i:], ']')
		if end < 0 {
			return "", "", "", false
		}
		pid = s[i+1 : i+end]
		i += end + 1
		if i >= len(s) || strings.ContainsAny(pid, " [") {
			return "", "", "", false
		}
	}
	if s[i] != ':' {
		return "", "", "", false
	}
	i++
	if i < len(s) && s[i] == ' ' {
		i++
	}
	return tag, pid, s[i:], true
}

// parse5424 reads an RFC 5424 line after "<PRI>VERSION SP".
func parse5424(pri int, rest string, f *Fields, hostOnly bool) {
	f.Format = formatSyslog5424
	var hdr [5]string // timestamp, hostname, app-name, procid, msgid
	n := 0
	for n < len(hdr) {
		i := strings.IndexByte(rest, ' ')
		if i < 0 {
			hdr[n] = rest
			rest = ""
			n++
			break
		}
		hdr[n] = rest[:i]
		rest = rest[i+1:]
		n++
	}
	if hdr[1] != "-" {
		f.Host = hdr[1]
	}
	if hostOnly {
		return
	}
	f.setPRI(pri, false)
	if hdr[0] != "-" && hdr[0] != "" {
		if t, ok := parseISOTime(hdr[0]); ok {
			f.Timestamp = t
		} else {
			f.unreadableTime(formatSyslog5424, "timestamp", hdr[0])
		}
	}
	if hdr[2] != "-" {
		f.Service = hdr[2]
	}
	if hdr[3] != "-" && hdr[3] != "" {
		f.setLabel("procid", hdr[3])
	}
	if hdr[4] != "-" && hdr[4] != "" {
		f.setLabel("msgid", hdr[4])
	}
	if n < len(hdr) || rest == "" {
		f.malformed("syslog5424: truncated header, no structured data")
		return
	}
	msg, err := parseSD(rest, f)
	if err != "" {
		f.malformed(err)
	}
	f.Message = strings.TrimPrefix(msg, "\ufeff")
}

// parseSD reads STRUCTURED-DATA and returns the message after it, or the
// reason it is malformed (the message is then the unread rest).
func parseSD(s string, f *Fields) (string, string) {
	switch {
	case s == "" || s == "-":
		return "", ""
	case strings.HasPrefix(s, "- "):
		return s[2:], ""
	case s[0] != '[':
		return s, "syslog5424: invalid structured data"
	}
	i := 0
	for i < len(s) && s[i] == '[' {
		j := i + 1
		for j < len(s) && s[j] != ' ' && s[j] != ']' && s[j] != '=' && s[j] != '"' {
			j++
		}
		if j == i+1 || j >= len(s) || s[j] == '=' || s[j] == '"' {
			return s[i:], "syslog5424: invalid SD-ID"
		}
		id := s[i+1 : j]
		for j < len(s) && s[j] == ' ' {
			j++
			k := j
			for k < len(s) && s[k] != '=' && s[k] != ' ' && s[k] != ']' && s[k] != '"' {
				k++
			}
			if k == j || k+1 >= len(s) || s[k] != '=' || s[k+1] != '"' {
				return s[i:], "syslog5424: invalid SD-PARAM in " + strconv.Quote(id)
			}
			name := s[j:k]
			k += 2
			vs, esc := k, false
			for k < len(s) && s[k] != '"' {
				if s[k] == '\\' {
					esc = true
					k++
				}
				k++
			}
			if k >= len(s) {
				return s[i:], "syslog5424: unterminated SD-PARAM value in " + strconv.Quote(id)
			}
			val := s[vs:k]
			if esc {
				val = unescapeSD(val)
			}
			// Trace context in structured data (as OpenTelemetry's syslog
			// exporters and many loggers write it) feeds the trace join.
			switch class, _ := classifyKey(name); {
			case class == keyTraceID && f.TraceID == "":
				if t, ok := normTraceID(val); ok {
					f.TraceID = t
				}
			case class == keySpanID && f.SpanID == "":
				if sp, ok := normSpanID(val); ok {
					f.SpanID = sp
				}
			}
			f.setLabel(id+"."+name, val)
			j = k + 1
		}
		if j >= len(s) || s[j] != ']' {
			return s[i:], "syslog5424: unterminated SD-ELEMENT " + strconv.Quote(id)
		}
		i = j + 1
	}
	switch {
	case i == len(s):
		return "", ""
	case s[i] == ' ':
		return s[i+1:], ""
	}
	return s[i:], "syslog5424: no space after structured data"
}

// unescapeSD removes the backslash of \" \\ and \] in a PARAM-VALUE; any
// other backslash is kept, as RFC 5424 says.
func unescapeSD(v string) string {
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) && (v[i+1] == '"' || v[i+1] == '\\' || v[i+1] == ']') {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}
