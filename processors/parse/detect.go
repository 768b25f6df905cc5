package parse

// Detection runs per line and is cheap first: the first byte picks the few
// formats that can start with it, each format checks its fixed shape before
// doing real work, and logfmt (the loosest) is tried last of all:
//
//	'{'        JSON
//	'<'        syslog RFC 5424, then RFC 3164 (PRI given)
//	digit      CRI, Java/logback, Python ("asctime - name - LEVEL - msg"),
//	           syslog with an ISO time and no PRI, access log (IPv4 client)
//	letter     klog/glog (I W E F then digits), ALB (type field first),
//	           syslog RFC 3164 (month first), access log (host name or IPv6
//	           client), Python ("LEVEL:name:msg")
//	':'        access log (IPv6 client such as ::1)
//	any        logfmt, else "none"
//
// Within a row the order settles the shapes two formats could share:
// Java before Python (both open with an ISO time; Java follows it with a
// level or [thread], Python with " - "); Python's "LEVEL:name:" last among
// the letters, after the shapes that are stricter. None of them can take a
// logfmt line, whose first token is a key=value pair: a key holds no ':'
// and no blank.
//
// A JSON line that does not parse falls through to the others and, as none
// of them starts with '{', ends as "none" with the JSON error as ParseError.

// errInternal is the ParseError of a line whose parsing hit a bug; the
// line is kept whole as its message.
const errInternal = "internal parser error"

// recoverPanics turns a parser bug into a "none" event instead of taking
// the stage down. Tests switch it off so that fuzzing sees the panic.
var recoverPanics = true

// ParseLine detects the format of one log line and parses it. It never
// panics. A line that matches no format has Format "none", Level UNKNOWN,
// the whole line as Message and ParseError set. A CRI line is parsed with
// ParseCRIContent; a partial one (flag P) gets the label cri_partial=true.
func ParseLine(line string) (f Fields) {
	if recoverPanics {
		defer func() {
			if r := recover(); r != nil {
				f = noneFields(line, errInternal)
			}
		}()
	}
	return parseLine(line, false)
}

// HostOf returns the host a line names itself (syslog hostname, JSON or
// logfmt host/hostname field), "" if none: ParseLine(line).Host, computed
// without building the rest of the event.
func HostOf(line string) (host string) {
	if recoverPanics {
		defer func() {
			if r := recover(); r != nil {
				host = ""
			}
		}()
	}
	return parseLine(line, true).Host
}

// parseLine is ParseLine; with hostOnly only Host is reliable in the result.
func parseLine(line string, hostOnly bool) Fields {
	if len(line) > 0 && isDigit(line[0]) {
		if c, ok := ParseCRI(line); ok {
			return criFields(c, hostOnly)
		}
	}
	return parseContent(line, hostOnly)
}

// parseContent detects and parses every format but CRI (a CRI line's
// content is parsed with it, so CRI does not nest).
func parseContent(line string, hostOnly bool) Fields {
	s := trimSpace(line)
	if s == "" {
		return noneFields(line, errNoFormat)
	}
	var f Fields
	reason := errNoFormat
	switch c := s[0]; {
	case c == '{':
		if e := parseJSONLine(s, &f, hostOnly); e == "" {
			return f
		} else {
			reason = e
		}
	case c == '<':
		if parseSyslog(s, &f, hostOnly) {
			return f
		}
	case isDigit(c):
		if parseJava(s, &f, hostOnly) || parsePythonAsctime(s, &f, hostOnly) || parseSyslog(s, &f, hostOnly) || parseCombined(s, &f, hostOnly) {
			return f
		}
	case ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z'):
		if parseKlog(s, &f, hostOnly) || parseALB(s, &f, hostOnly) || parseSyslog(s, &f, hostOnly) ||
			parseCombined(s, &f, hostOnly) || parsePythonBasic(s, &f, hostOnly) {
			return f
		}
	case c == ':':
		if parseCombined(s, &f, hostOnly) {
			return f
		}
	}
	f = Fields{}
	if parseLogfmt(s, &f, hostOnly) {
		return f
	}
	return noneFields(line, reason)
}

// trimSpace drops blanks and line breaks around a line.
func trimSpace(s string) string {
	for len(s) > 0 {
		if c := s[len(s)-1]; c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			s = s[:len(s)-1]
			continue
		}
		break
	}
	for len(s) > 0 && isBlank(s[0]) {
		s = s[1:]
	}
	return s
}

func noneFields(line, reason string) Fields {
	return Fields{Format: formatNone, Message: line, ParseError: reason}
}
