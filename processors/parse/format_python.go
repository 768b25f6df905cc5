package parse

import (
	"strings"

	"github.com/logstream/logstream/schemas"
)

// Python's logging module, in the two formats its documentation shows:
//
//	ERROR:payments.db:connection lost: retrying in 5 s
//	2026-05-01 12:00:00,123 - payments.db - ERROR - connection lost - retrying
//
// The first is logging.basicConfig()'s default,
// "%(levelname)s:%(name)s:%(message)s"; the second the cookbook's
// "%(asctime)s - %(name)s - %(levelname)s - %(message)s", read also without
// its name ("%(asctime)s - %(levelname)s - %(message)s"). The level must be
// one of logging's own names as it writes them, in capitals (DEBUG INFO
// WARNING ERROR CRITICAL), and the logger name a dotted name starting with a
// letter or '_': so "WARNING: disk full" or "ERROR:x=1" are not taken for
// Python. The logger name becomes Service, as a Java logger does. asctime is
// local time without a zone and is taken as UTC, as everywhere in this
// package; it is read wherever an ISO 8601 time is ('T' or ' ', ',' or '.').
//
// Detection order matters only against Java/logback, whose lines also open
// with an ISO time but follow it with a level or [thread], never with " - ".

// pythonLevel maps one of the level names Python's logging writes.
func pythonLevel(s string) (schemas.Level, bool) {
	switch s {
	case "DEBUG":
		return schemas.LevelDebug, true
	case "INFO":
		return schemas.LevelInfo, true
	case "WARNING":
		return schemas.LevelWarn, true
	case "ERROR":
		return schemas.LevelError, true
	case "CRITICAL":
		return schemas.LevelFatal, true
	}
	return schemas.LevelUnknown, false
}

// isPythonLogger reports a plausible logger name: a logger name as
// isLoggerName has it, starting as a Python identifier does.
func isPythonLogger(s string) bool {
	if s == "" {
		return false
	}
	c := s[0]
	return (c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')) && isLoggerName(s)
}

// parsePythonBasic reads "LEVEL:logger:message" (s starts with a letter).
func parsePythonBasic(s string, f *Fields, hostOnly bool) bool {
	c := strings.IndexByte(s, ':')
	if c < 4 || c > 8 {
		return false
	}
	lvl, ok := pythonLevel(s[:c])
	if !ok {
		return false
	}
	rest := s[c+1:]
	n := strings.IndexByte(rest, ':')
	if n <= 0 || !isPythonLogger(rest[:n]) {
		return false
	}
	f.Format = formatPython
	if hostOnly {
		return true
	}
	f.Level = lvl
	f.Service = rest[:n]
	f.Message = rest[n+1:]
	return true
}

// parsePythonAsctime reads "asctime - [logger - ]LEVEL - message" (s starts
// with a digit).
func parsePythonAsctime(s string, f *Fields, hostOnly bool) bool {
	t, n, st := parseISOPrefix(s)
	if st == isoNone || !strings.HasPrefix(s[n:], " - ") {
		return false
	}
	// Fields may be padded (%(levelname)-8s), so blanks before a " - "
	// separator are skipped.
	logger := ""
	first, after, _ := strings.Cut(s[n+3:], " ")
	after = trimBlank(after)
	lvl, ok := pythonLevel(first)
	if !ok {
		// "logger - LEVEL": the logger name holds no blank.
		if !isPythonLogger(first) || !strings.HasPrefix(after, "- ") {
			return false
		}
		logger = first
		first, after, _ = strings.Cut(after[2:], " ")
		after = trimBlank(after)
		if lvl, ok = pythonLevel(first); !ok {
			return false
		}
	}
	// "- message", or a lone "-" when the message is empty (the line's
	// trailing blank is gone).
	msg := ""
	switch {
	case strings.HasPrefix(after, "- "):
		msg = after[2:]
	case after == "-":
	default:
		return false
	}
	f.Format = formatPython
	if hostOnly {
		return true
	}
	f.Level = lvl
	f.Service = logger
	f.Message = msg
	if st == isoOK {
		f.Timestamp = t
	} else {
		f.unreadableTime(formatPython, "asctime", s[:n])
	}
	return true
}
