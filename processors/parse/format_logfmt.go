package parse

import "strconv"

// logfmt lines are space-separated key=value pairs, values optionally in
// double quotes with Go-style escapes:
//
//	ts=2024-05-01T12:00:00Z level=info msg="payment ok" latency=12ms
//
// So that prose with an '=' in it is not taken for logfmt, a line counts as
// logfmt only when every token is a pair, there are at least two pairs and
// at least one key is a well-known one (a time, level, message, trace,
// status or latency name). A quoted value left open at the end of the line
// is still read, and the line is flagged malformed.

// isLogfmtKeyChar reports the bytes a logfmt key is made of.
func isLogfmtKeyChar(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || isDigit(c) ||
		c == '_' || c == '.' || c == '-' || c == '@' || c == '/'
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' }

// parseLogfmt reads a logfmt line into f and reports whether the line is
// logfmt. f is untouched when it is not.
func parseLogfmt(line string, f *Fields, hostOnly bool) bool {
	var buf [32]kv
	kvs := buf[:0]
	known := false
	bad := ""
	i := 0
	for {
		for i < len(line) && isBlank(line[i]) {
			i++
		}
		if i >= len(line) {
			break
		}
		start := i
		for i < len(line) && isLogfmtKeyChar(line[i]) {
			i++
		}
		if i == start || i >= len(line) || line[i] != '=' {
			return false // a bare word or a key that is not one: not logfmt
		}
		key := line[start:i]
		i++ // '='
		var val string
		if i < len(line) && line[i] == '"' {
			end := quotedEnd(line, i)
			if end < 0 {
				val = line[i+1:]
				i = len(line)
				if bad == "" {
					bad = "logfmt: unterminated quoted value for key " + strconv.Quote(key)
				}
			} else {
				val = unquoteLogfmt(line[i : end+1])
				i = end + 1
				if i < len(line) && !isBlank(line[i]) {
					if bad == "" {
						bad = "logfmt: text right after the quoted value of key " + strconv.Quote(key)
					}
					for i < len(line) && !isBlank(line[i]) {
						i++
					}
				}
			}
		} else {
			vs := i
			for i < len(line) && !isBlank(line[i]) {
				i++
			}
			val = line[vs:i]
		}
		kvs = append(kvs, kv{key: key, val: val, kind: kindString})
		if !known {
			switch c, _ := classifyKey(key); c {
			case keyTime, keyLevel, keyMessage, keyTraceID, keySpanID, keyTraceparent, keyStatus, keyLatency:
				known = true
			}
		}
	}
	if len(kvs) < 2 || !known {
		return false
	}
	f.Format = formatLogfmt
	if !hostOnly && bad != "" {
		f.malformed(bad) // before applyKVs: a broken line says so before a bad time does
	}
	if !applyKVs(f, kvs, hostOnly) && !hostOnly {
		f.Message = line
	}
	return true
}

// quotedEnd returns the index of the quote closing the string that opens at
// s[open], or -1.
func quotedEnd(s string, open int) int {
	for i := open + 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// unquoteLogfmt decodes a quoted value; one whose escapes are not Go's is
// kept as written between its quotes.
func unquoteLogfmt(q string) string {
	inner := q[1 : len(q)-1]
	for i := 0; i < len(inner); i++ {
		if inner[i] == '\\' {
			if v, err := strconv.Unquote(q); err == nil {
				return v
			}
			return inner
		}
	}
	return inner
}
