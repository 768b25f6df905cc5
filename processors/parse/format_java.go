package parse

import "strings"

// Java (logback, log4j, Spring Boot) lines:
//
//	2024-05-01 12:00:00.123 ERROR [http-nio-8080-exec-1] c.e.payments.DbPool - Connection timeout
//	2024-05-01 12:00:00,123 [main] WARN  com.example.App - slow start
//	2024-05-01T12:00:00.123+02:00  INFO 4711 --- [main] c.e.App : Started
//
// A line is Java when an ISO date-time (space or 'T', '.' or ',' before the
// millis, zone optional and UTC when absent) is followed, after an optional
// [thread], by a level name (WARNING and SEVERE included). The logger is the
// word before " - " or " : " (or a word ending in ':'); it becomes Service.
// Labels: thread, pid.

func parseJava(s string, f *Fields, hostOnly bool) bool {
	t, n, st := parseISOPrefix(s)
	if st == isoNone || n >= len(s) || s[n] != ' ' {
		return false
	}
	rest := trimBlank(s[n:])
	thread := ""
	if strings.HasPrefix(rest, "[") {
		th, r, ok := bracketed(rest)
		if !ok {
			return false
		}
		thread, rest = th, trimBlank(r)
	}
	word := firstWord(rest)
	lvl, ok := levelFromName(word)
	if !ok {
		return false
	}
	f.Format = formatJava
	if hostOnly {
		return true
	}
	f.Timestamp = t
	f.Level = lvl
	if st == isoInvalid {
		f.unreadableTime(formatJava, "timestamp", s[:n])
	}
	rest = trimBlank(rest[len(word):])
	// Spring Boot: "<pid> --- [app] [thread] logger : message".
	pid := firstWord(rest)
	if _, isNum := atoiSmall(pid); isNum && strings.HasPrefix(rest[len(pid):], " --- ") {
		f.setLabel("pid", pid)
		rest = rest[len(pid)+5:]
	} else {
		rest = strings.TrimPrefix(rest, "--- ")
	}
	if thread == "" {
		// "[thread]", or Spring Boot 3's "[app] [thread]".
		var groups [2]string
		ng := 0
		for ng < 2 && strings.HasPrefix(rest, "[") {
			g, r, ok := bracketed(rest)
			if !ok {
				break
			}
			groups[ng] = strings.TrimSpace(g)
			ng++
			rest = trimBlank(r)
		}
		switch ng {
		case 1:
			thread = groups[0]
		case 2:
			if groups[0] != "" {
				f.setLabel("app", groups[0])
			}
			thread = groups[1]
		}
	}
	if thread != "" {
		f.setLabel("thread", thread)
	}
	logger := firstWord(rest)
	after := rest[len(logger):]
	sep := trimBlank(after)
	switch {
	case len(logger) > 1 && logger[len(logger)-1] == ':' && isLoggerName(logger[:len(logger)-1]):
		f.Service = logger[:len(logger)-1]
		rest = sep
	case isLoggerName(logger) && len(after) > 0 && len(sep) > 0 && (sep[0] == '-' || sep[0] == ':') &&
		(len(sep) == 1 || isBlank(sep[1])):
		// "logger - message" (logback), "logger   : message" (Spring Boot pads).
		f.Service = logger
		rest = trimBlank(sep[1:])
	}
	f.Message = rest
	return true
}

// isLoggerName reports a plausible logger name: letters, digits and . _ $ -.
func isLoggerName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isLogfmtKeyChar(c) && c != '$' {
			return false
		}
	}
	return true
}

// bracketed splits "[inner] rest"; inner may hold spaces.
func bracketed(s string) (inner, rest string, ok bool) {
	end := strings.IndexByte(s, ']')
	if end < 0 {
		return "", s, false
	}
	return s[1:end], s[end+1:], true
}

func firstWord(s string) string {
	if i := strings.IndexByte(s, ' '); i >= 0 {
		return s[:i]
	}
	return s
}

func trimBlank(s string) string {
	for len(s) > 0 && isBlank(s[0]) {
		s = s[1:]
	}
	return s
}
