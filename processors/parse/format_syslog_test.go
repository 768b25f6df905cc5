package parse

import (
	"testing"

	"github.com/logstream/logstream/schemas"
)

// The tests' clock is testNow, 2024-06-15T12:00:00Z (see TestMain).

func TestSyslog3164Lines(t *testing.T) {
	runLineCases(t, []lineCase{
		{
			name: "RFC 3164 example with pid",
			line: `<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed for lonvick on /dev/pts/8`,
			want: Fields{
				Timestamp: ts("2023-10-11T22:14:15Z"), Host: "mymachine", Service: "su", Level: schemas.LevelFatal,
				Message: "'su root' failed for lonvick on /dev/pts/8", Format: "syslog3164", Labels: labels("facility", "auth", "pid", "123"),
			},
		},
		{
			name: "no tag, padded day",
			line: `<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!`,
			want: Fields{
				Timestamp: ts("2024-02-05T17:32:18Z"), Host: "10.0.0.99", Level: schemas.LevelInfo,
				Message: "Use the BFG!", Format: "syslog3164", Labels: labels("facility", "user"),
			},
		},
		{
			name: "file format without PRI",
			line: `Jun 15 11:59:00 web-1 sshd[4711]: Accepted publickey for deploy from 203.0.113.5 port 50022 ssh2`,
			want: Fields{
				Timestamp: ts("2024-06-15T11:59:00Z"), Host: "web-1", Service: "sshd",
				Message: "Accepted publickey for deploy from 203.0.113.5 port 50022 ssh2", Format: "syslog3164", Labels: labels("pid", "4711"),
			},
		},
		{
			name: "tag without pid, fractional seconds",
			line: `<6>Jun  1 08:00:00.123 node-3 kernel: [12345.678] eth0: link up`,
			want: Fields{
				Timestamp: ts("2024-06-01T08:00:00.123Z"), Host: "node-3", Service: "kernel", Level: schemas.LevelInfo,
				Message: "[12345.678] eth0: link up", Format: "syslog3164", Labels: labels("facility", "kern"),
			},
		},
		{
			name: "no host, tag right after the time",
			line: `<86>Jun 15 10:00:00 CRON[99]: (root) CMD (run-parts /etc/cron.hourly)`,
			want: Fields{
				Timestamp: ts("2024-06-15T10:00:00Z"), Service: "CRON", Level: schemas.LevelInfo,
				Message: "(root) CMD (run-parts /etc/cron.hourly)", Format: "syslog3164", Labels: labels("facility", "authpriv", "pid", "99"),
			},
		},
		{
			name: "tomorrow is still this year",
			line: `<15>Jun 16 11:00:00 h app: soon`,
			want: Fields{Timestamp: ts("2024-06-16T11:00:00Z"), Host: "h", Service: "app", Level: schemas.LevelDebug, Message: "soon", Format: "syslog3164", Labels: labels("facility", "user")},
		},
		{
			name: "more than a day ahead is last year",
			line: `<15>Dec 31 23:59:59 h app: new year's eve`,
			want: Fields{Timestamp: ts("2023-12-31T23:59:59Z"), Host: "h", Service: "app", Level: schemas.LevelDebug, Message: "new year's eve", Format: "syslog3164", Labels: labels("facility", "user")},
		},
		{
			name: "rsyslog high-precision time with PRI",
			line: `<30>2024-05-01T12:00:00.123456+02:00 myhost systemd[1]: Started Session 42.`,
			want: Fields{
				Timestamp: ts("2024-05-01T10:00:00.123456Z"), Host: "myhost", Service: "systemd", Level: schemas.LevelInfo,
				Message: "Started Session 42.", Format: "syslog3164", Labels: labels("facility", "daemon", "pid", "1"),
			},
		},
		{
			name: "rsyslog high-precision time in a file",
			line: `2024-05-01T12:00:00.123456+02:00 myhost systemd-logind[812]: New session 42 of user bob.`,
			want: Fields{
				Timestamp: ts("2024-05-01T10:00:00.123456Z"), Host: "myhost", Service: "systemd-logind",
				Message: "New session 42 of user bob.", Format: "syslog3164", Labels: labels("pid", "812"),
			},
		},
		{
			name: "local7 warning",
			line: `<188>Jun 15 11:00:00 fw1 %ASA-4-106023: Deny tcp src outside:1.2.3.4/1 dst inside:10.0.0.1/22`,
			want: Fields{
				Timestamp: ts("2024-06-15T11:00:00Z"), Host: "fw1", Service: "%ASA-4-106023", Level: schemas.LevelWarn,
				Message: "Deny tcp src outside:1.2.3.4/1 dst inside:10.0.0.1/22", Format: "syslog3164", Labels: labels("facility", "local7"),
			},
		},
		{
			name: "malformed: PRI then no timestamp",
			line: `<11>garbage after pri`,
			want: Fields{Level: schemas.LevelError, Message: "garbage after pri", Format: "syslog3164", ParseError: "syslog: missing timestamp", Labels: labels("facility", "user")},
		},
		{
			name: "malformed: impossible date",
			line: `<14>Feb 30 10:00:00 h app: x`,
			want: Fields{Host: "h", Service: "app", Level: schemas.LevelInfo, Message: "x", Format: "syslog3164", ParseError: `syslog: unreadable timestamp "Feb 30 10:00:00" in field "timestamp"`, Labels: labels("facility", "user")},
		},
		{
			name: "malformed: empty after PRI",
			line: `<0>`,
			want: Fields{Level: schemas.LevelFatal, Format: "syslog3164", ParseError: "syslog: missing timestamp", Labels: labels("facility", "kern")},
		},
	})
}

func TestSyslogSeverities(t *testing.T) {
	want := []schemas.Level{
		schemas.LevelFatal, schemas.LevelFatal, schemas.LevelFatal, schemas.LevelError,
		schemas.LevelWarn, schemas.LevelInfo, schemas.LevelInfo, schemas.LevelDebug,
	}
	for facility := 0; facility < 24; facility++ {
		for sev := 0; sev < 8; sev++ {
			pri := facility*8 + sev
			f := ParseLine("<" + itoa(pri) + ">Jun 15 11:00:00 h app: x")
			if f.Level != want[sev] || f.Labels["facility"] != facilityNames[facility] {
				t.Errorf("PRI %d: level %v facility %q", pri, f.Level, f.Labels["facility"])
			}
		}
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func TestSyslog5424Lines(t *testing.T) {
	runLineCases(t, []lineCase{
		{
			name: "RFC 5424 example 1: no structured data, BOM",
			line: "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \ufeff'su root' failed for lonvick on /dev/pts/8",
			want: Fields{
				Timestamp: ts("2003-10-11T22:14:15.003Z"), Host: "mymachine.example.com", Service: "su", Level: schemas.LevelFatal,
				Message: "'su root' failed for lonvick on /dev/pts/8", Format: "syslog5424", Labels: labels("facility", "auth", "msgid", "ID47"),
			},
		},
		{
			name: "RFC 5424 example 2: zone offset, procid",
			line: `<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.`,
			want: Fields{
				Timestamp: ts("2003-08-24T12:14:15.000003Z"), Host: "192.0.2.1", Service: "myproc", Level: schemas.LevelInfo,
				Message: "%% It's time to make the do-nuts.", Format: "syslog5424", Labels: labels("facility", "local4", "procid", "8710"),
			},
		},
		{
			name: "RFC 5424 example 3: structured data and message",
			line: `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event log entry...`,
			want: Fields{
				Timestamp: ts("2003-10-11T22:14:15.003Z"), Host: "mymachine.example.com", Service: "evntslog", Level: schemas.LevelInfo,
				Message: "An application event log entry...", Format: "syslog5424",
				Labels: labels("facility", "local4", "msgid", "ID47", "exampleSDID@32473.iut", "3",
					"exampleSDID@32473.eventSource", "Application", "exampleSDID@32473.eventID", "1011"),
			},
		},
		{
			name: "RFC 5424 example 4: two SD elements, no message",
			line: `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`,
			want: Fields{
				Timestamp: ts("2003-10-11T22:14:15.003Z"), Host: "mymachine.example.com", Service: "evntslog", Level: schemas.LevelInfo,
				Format: "syslog5424",
				Labels: labels("facility", "local4", "msgid", "ID47", "exampleSDID@32473.iut", "3",
					"exampleSDID@32473.eventSource", "Application", "exampleSDID@32473.eventID", "1011", "examplePriority@32473.class", "high"),
			},
		},
		{
			name: "all nil values",
			line: `<14>1 - - - - - -`,
			want: Fields{Level: schemas.LevelInfo, Format: "syslog5424", Labels: labels("facility", "user")},
		},
		{
			name: "escapes in SD values, SD element without params",
			line: `<14>1 2024-05-01T12:00:00Z h a - - [meta a="q\"b\\c\]d\n"][empty] msg`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Host: "h", Service: "a", Level: schemas.LevelInfo, Message: "msg", Format: "syslog5424",
				Labels: labels("facility", "user", "meta.a", `q"b\c]d\n`),
			},
		},
		{
			name: "malformed: bad SD",
			line: `<165>1 2003-10-11T22:14:15.003Z host app - - [bad sd`,
			want: Fields{
				Timestamp: ts("2003-10-11T22:14:15.003Z"), Host: "host", Service: "app", Level: schemas.LevelInfo,
				Message: "[bad sd", Format: "syslog5424", ParseError: "syslog5424: invalid SD-PARAM", Labels: labels("facility", "local4"),
			},
		},
		{
			name: "malformed: unterminated SD value",
			line: `<165>1 2003-10-11T22:14:15.003Z host app - - [x@1 a="open] rest`,
			want: Fields{
				Timestamp: ts("2003-10-11T22:14:15.003Z"), Host: "host", Service: "app", Level: schemas.LevelInfo,
				Message: `[x@1 a="open] rest`, Format: "syslog5424", ParseError: "syslog5424: unterminated SD-PARAM value", Labels: labels("facility", "local4"),
			},
		},
		{
			name: "malformed: SD not followed by a space",
			line: `<165>1 2003-10-11T22:14:15.003Z host app - - [x@1 a="b"]msg`,
			want: Fields{
				Timestamp: ts("2003-10-11T22:14:15.003Z"), Host: "host", Service: "app", Level: schemas.LevelInfo,
				Message: "msg", Format: "syslog5424", ParseError: "syslog5424: no space after structured data", Labels: labels("facility", "local4", "x@1.a", "b"),
			},
		},
		{
			name: "malformed: truncated header",
			line: `<165>1 2003-10-11T22:14:15.003Z host app`,
			want: Fields{
				Timestamp: ts("2003-10-11T22:14:15.003Z"), Host: "host", Service: "app", Level: schemas.LevelInfo,
				Format: "syslog5424", ParseError: "syslog5424: truncated header", Labels: labels("facility", "local4"),
			},
		},
		{
			name: "malformed: invalid timestamp",
			line: `<165>1 2003-10-11T25:14:15.003Z host app - - - msg`,
			want: Fields{
				Host: "host", Service: "app", Level: schemas.LevelInfo, Message: "msg",
				Format: "syslog5424", ParseError: `syslog5424: unreadable timestamp "2003-10-11T25:14:15.003Z" in field "timestamp"`, Labels: labels("facility", "local4"),
			},
		},
	})
}

func TestSyslogRejects(t *testing.T) {
	for _, line := range []string{
		`<999>Oct 11 22:14:15 host app: x`,
		`<>Oct 11 22:14:15 host app: x`,
		`<1234>Oct 11 22:14:15 host app: x`,
		`<html><body>hello</body></html>`,
		`Oct 11 is my birthday`,
		`Oct 11 22:14 host app: no seconds`,
		`2024-05-01T12:00:00Z some words without a tag`, // ISO time and no PRI needs a tag
	} {
		if f := ParseLine(line); f.Format != "none" {
			t.Errorf("ParseLine(%q) = %q, want none", line, f.Format)
		}
	}
}

// Trace context in RFC 5424 structured data reaches the event's trace and
// span ids (and stays in the labels too).
func TestSyslog5424TraceContext(t *testing.T) {
	line := `<14>1 2026-11-01T12:00:00.000Z web-3 payments 812 - [meta@32473 trace_id="4BF92F3577B34DA6A3CE929D0E0E4736" span_id="00f067aa0ba902b7"] charge declined`
	f := ParseLine(line)
	if f.Format != "syslog5424" || f.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" || f.SpanID != "00f067aa0ba902b7" {
		t.Fatalf("format %s trace %q span %q", f.Format, f.TraceID, f.SpanID)
	}
	if f.Labels["meta@32473.trace_id"] == "" {
		t.Errorf("labels lost the parameter: %v", f.Labels)
	}
	bad := ParseLine(`<14>1 2026-11-01T12:00:00.000Z web-3 payments 812 - [meta@32473 trace_id="xyz"] charge declined`)
	if bad.TraceID != "" || bad.Labels["meta@32473.trace_id"] != "xyz" {
		t.Errorf("an invalid trace id: trace %q labels %v", bad.TraceID, bad.Labels)
	}
}
