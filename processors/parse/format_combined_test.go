package parse

import (
	"strings"
	"testing"

	"github.com/logstream/logstream/schemas"
)

func TestCombinedLines(t *testing.T) {
	runLineCases(t, []lineCase{
		{
			name: "apache combined",
			line: `127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"`,
			want: Fields{
				Timestamp: ts("2000-10-10T20:55:36Z"), Level: schemas.LevelInfo, Message: "GET /apache_pb.gif HTTP/1.0",
				HTTPStatus: 200, Format: "combined",
				Labels: labels("client_ip", "127.0.0.1", "user", "frank", "http_method", "GET", "http_path", "/apache_pb.gif",
					"http_protocol", "HTTP/1.0", "bytes", "2326", "referer", "http://www.example.com/start.html",
					"user_agent", "Mozilla/4.08 [en] (Win98; I ;Nav)"),
			},
		},
		{
			name: "common log format",
			line: `192.168.0.7 - - [01/May/2024:12:00:00 +0000] "DELETE /api/items/7 HTTP/1.1" 404 -`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Level: schemas.LevelWarn, Message: "DELETE /api/items/7 HTTP/1.1",
				HTTPStatus: 404, Format: "combined",
				Labels: labels("client_ip", "192.168.0.7", "http_method", "DELETE", "http_path", "/api/items/7", "http_protocol", "HTTP/1.1"),
			},
		},
		{
			name: "nginx main with x-forwarded-for and $request_time",
			line: `10.0.0.2 - - [01/May/2024:12:00:00 +0200] "POST /api/pay?x=1 HTTP/1.1" 502 157 "-" "curl/8.0" "203.0.113.9" 0.254`,
			want: Fields{
				Timestamp: ts("2024-05-01T10:00:00Z"), Level: schemas.LevelError, Message: "POST /api/pay?x=1 HTTP/1.1",
				HTTPStatus: 502, LatencyMs: 254, HasLatency: true, Format: "combined",
				Labels: labels("client_ip", "10.0.0.2", "http_method", "POST", "http_path", "/api/pay?x=1", "http_protocol", "HTTP/1.1",
					"bytes", "157", "user_agent", "curl/8.0", "forwarded_for", "203.0.113.9"),
			},
		},
		{
			name: "request time as rt= and other key=value fields",
			line: `10.0.0.3 - - [01/May/2024:12:00:00 +0000] "GET /x HTTP/2.0" 200 0 "-" "Go-http-client/2.0" rt=0.003 uct="0.000" urt=0.002`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Level: schemas.LevelInfo, Message: "GET /x HTTP/2.0",
				HTTPStatus: 200, LatencyMs: 3, HasLatency: true, Format: "combined",
				Labels: labels("client_ip", "10.0.0.3", "http_method", "GET", "http_path", "/x", "http_protocol", "HTTP/2.0",
					"bytes", "0", "user_agent", "Go-http-client/2.0", "uct", "0.000", "urt", "0.002"),
			},
		},
		{
			name: "request_time= key",
			line: `10.0.0.3 - - [01/May/2024:12:00:00 +0000] "GET /x HTTP/1.1" 200 5 "-" "-" request_time=1.5`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Level: schemas.LevelInfo, Message: "GET /x HTTP/1.1",
				HTTPStatus: 200, LatencyMs: 1500, HasLatency: true, Format: "combined",
				Labels: labels("client_ip", "10.0.0.3", "http_method", "GET", "http_path", "/x", "http_protocol", "HTTP/1.1", "bytes", "5"),
			},
		},
		{
			name: "IPv6 client, fractional seconds in the time",
			line: `::1 - - [01/May/2024:12:00:00.250 +0000] "GET / HTTP/1.1" 200 612`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00.25Z"), Level: schemas.LevelInfo, Message: "GET / HTTP/1.1",
				HTTPStatus: 200, Format: "combined",
				Labels: labels("client_ip", "::1", "http_method", "GET", "http_path", "/", "http_protocol", "HTTP/1.1", "bytes", "612"),
			},
		},
		{
			name: "host name client, unknown trailing data kept",
			line: `proxy.example.com - - [01/May/2024:12:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "ua" 4711 something`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Level: schemas.LevelInfo, Message: "GET / HTTP/1.1",
				HTTPStatus: 200, Format: "combined",
				Labels: labels("client_ip", "proxy.example.com", "http_method", "GET", "http_path", "/", "http_protocol", "HTTP/1.1",
					"bytes", "1", "user_agent", "ua", "extra", "4711 something"),
			},
		},
		{
			name: "TLS handshake on a plain port: no method",
			line: `192.168.1.1 - - [01/May/2024:12:00:00 +0000] "\x16\x03\x01\x00" 400 157 "-" "-"`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Level: schemas.LevelWarn, Message: `\x16\x03\x01\x00`,
				HTTPStatus: 400, Format: "combined", Labels: labels("client_ip", "192.168.1.1", "bytes", "157"),
			},
		},
		{
			name: "escaped quote in the request",
			line: `1.2.3.4 - - [01/May/2024:12:00:00 +0000] "GET /a\"b HTTP/1.1" 200 1`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Level: schemas.LevelInfo, Message: `GET /a\"b HTTP/1.1`,
				HTTPStatus: 200, Format: "combined",
				Labels: labels("client_ip", "1.2.3.4", "http_method", "GET", "http_path", `/a\"b`, "http_protocol", "HTTP/1.1", "bytes", "1"),
			},
		},
		{
			name: "malformed: status not a number",
			line: `192.168.1.1 - - [01/May/2024:12:00:00 +0000] "GET / HTTP/1.1" abc 1`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Message: "GET / HTTP/1.1", Format: "combined", ParseError: "combined: invalid status",
				Labels: labels("client_ip", "192.168.1.1", "http_method", "GET", "http_path", "/", "http_protocol", "HTTP/1.1"),
			},
		},
		{
			name: "malformed: no request",
			line: `192.168.1.1 - - [01/May/2024:12:00:00 +0000] 200 1`,
			want: Fields{Timestamp: ts("2024-05-01T12:00:00Z"), Message: "200 1", Format: "combined", ParseError: "combined: missing quoted request", Labels: labels("client_ip", "192.168.1.1")},
		},
		{
			name: "malformed: unterminated request",
			line: `192.168.1.1 - - [01/May/2024:12:00:00 +0000] "GET / HTTP/1.1 200 1`,
			want: Fields{Timestamp: ts("2024-05-01T12:00:00Z"), Message: "GET / HTTP/1.1 200 1", Format: "combined", ParseError: "combined: unterminated request", Labels: labels("client_ip", "192.168.1.1")},
		},
		{
			name: "malformed: byte count",
			line: `192.168.1.1 - - [01/May/2024:12:00:00 +0000] "GET / HTTP/1.1" 200 12k`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Level: schemas.LevelInfo, HTTPStatus: 200, Message: "GET / HTTP/1.1", Format: "combined", ParseError: "combined: invalid byte count",
				Labels: labels("client_ip", "192.168.1.1", "http_method", "GET", "http_path", "/", "http_protocol", "HTTP/1.1"),
			},
		},
		{
			name: "malformed: unterminated user agent",
			line: `192.168.1.1 - - [01/May/2024:12:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "Mozilla`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Level: schemas.LevelInfo, HTTPStatus: 200, Message: "GET / HTTP/1.1", Format: "combined", ParseError: "combined: unterminated quoted field",
				Labels: labels("client_ip", "192.168.1.1", "http_method", "GET", "http_path", "/", "http_protocol", "HTTP/1.1", "bytes", "1", "extra", `"Mozilla`),
			},
		},
		{
			name: "malformed: impossible date",
			line: `192.168.1.1 - - [31/Feb/2024:12:00:00 +0000] "GET / HTTP/1.1" 200 1`,
			want: Fields{
				Level: schemas.LevelInfo, HTTPStatus: 200, Message: "GET / HTTP/1.1", Format: "combined", ParseError: `combined: unreadable timestamp "31/Feb/2024:12:00:00 +0000" in field "time"`,
				Labels: labels("client_ip", "192.168.1.1", "http_method", "GET", "http_path", "/", "http_protocol", "HTTP/1.1", "bytes", "1"),
			},
		},
	})
}

func TestCombinedRejects(t *testing.T) {
	for _, line := range []string{
		`127.0.0.1 - - 10/Oct/2000:13:55:36 -0700 "GET / HTTP/1.1" 200 1`,
		`127.0.0.1 - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1`,
		`client@x - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1`,
		// Brackets that hold no time make an access log only when a quoted
		// request and a status follow them (TestCombinedUnreadableTime).
		`127.0.0.1 - - [not a time] and then some prose about it`,
		`127.0.0.1 - - [10/Oct/2000:13:55:36] "GET / HTTP/1.1" but no status`,
		`127.0.0.1 - - [10/Oct/2000:13:55:36] "GET / HTTP/1.1" 999 1`,
		`alice - - [INFO] "quoted words" 200 times`,
	} {
		if f := ParseLine(line); f.Format != "none" {
			t.Errorf("ParseLine(%q) = %q, want none", line, f.Format)
		}
	}
}

// Raw double quotes inside the request, as nginx writes them with
// escape=none and some proxies always do: the request still ends before the
// status, so status, bytes, referer and user agent are kept.
func TestCombinedQuotesInRequest(t *testing.T) {
	runLineCases(t, []lineCase{
		{
			name: "nginx escape=none, quoted search term",
			line: `203.0.113.7 - - [01/May/2024:12:00:00 +0000] "GET /search?q="a b" HTTP/1.1" 200 512 "https://shop.example.com/" "Mozilla/5.0 (X11; Linux x86_64)"`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Level: schemas.LevelInfo, Message: `GET /search?q="a b" HTTP/1.1`,
				HTTPStatus: 200, Format: "combined",
				Labels: labels("client_ip", "203.0.113.7", "http_method", "GET", "http_path", `/search?q="a b"`, "http_protocol", "HTTP/1.1",
					"bytes", "512", "referer", "https://shop.example.com/", "user_agent", "Mozilla/5.0 (X11; Linux x86_64)"),
			},
		},
		{
			name: "common log format, quote at the end of the path",
			line: `10.0.0.9 - - [01/May/2024:12:00:00 +0000] "GET /a" HTTP/1.1" 404 -`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Level: schemas.LevelWarn, Message: `GET /a" HTTP/1.1`,
				HTTPStatus: 404, Format: "combined",
				Labels: labels("client_ip", "10.0.0.9", "http_method", "GET", "http_path", `/a"`, "http_protocol", "HTTP/1.1"),
			},
		},
		{
			name: "the URL itself holds quote, space, three digits",
			line: `10.0.0.9 - - [01/May/2024:12:00:00 +0000] "GET /x?a=" 200 1" HTTP/1.1" 500 7 "-" "curl/8.0"`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Level: schemas.LevelError, Message: `GET /x?a=" 200 1" HTTP/1.1`,
				HTTPStatus: 500, Format: "combined",
				Labels: labels("client_ip", "10.0.0.9", "http_method", "GET", "http_path", `/x?a=" 200 1"`, "http_protocol", "HTTP/1.1",
					"bytes", "7", "user_agent", "curl/8.0"),
			},
		},
		{
			name: "no protocol (probe), raw quote",
			line: `198.51.100.4 - - [01/May/2024:12:00:00 +0000] "GET /a"b" 400 0 "-" "-"`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Level: schemas.LevelWarn, Message: `GET /a"b`,
				HTTPStatus: 400, Format: "combined",
				Labels: labels("client_ip", "198.51.100.4", "http_method", "GET", "http_path", `/a"b`, "bytes", "0"),
			},
		},
		{
			name: "escape=none, path ending in a backslash",
			line: `198.51.100.4 - - [01/May/2024:12:00:00 +0000] "GET /dir\" 200 5`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Level: schemas.LevelInfo, Message: `GET /dir\`,
				HTTPStatus: 200, Format: "combined",
				Labels: labels("client_ip", "198.51.100.4", "http_method", "GET", "http_path", `/dir\`, "bytes", "5"),
			},
		},
		{
			name: "apache escapes and raw quotes together",
			line: `192.0.2.8 - bob [01/May/2024:12:00:00 +0000] "POST /api/\"x\"?q="y" HTTP/1.0" 201 33 "-" "ua"`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Level: schemas.LevelInfo, Message: `POST /api/\"x\"?q="y" HTTP/1.0`,
				HTTPStatus: 201, Format: "combined",
				Labels: labels("client_ip", "192.0.2.8", "user", "bob", "http_method", "POST", "http_path", `/api/\"x\"?q="y"`,
					"http_protocol", "HTTP/1.0", "bytes", "33", "user_agent", "ua"),
			},
		},
		{
			name: "malformed: status and then nothing",
			line: `10.0.0.9 - - [01/May/2024:12:00:00 +0000] "GET /q="x" HTTP/1.1" 304`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Level: schemas.LevelInfo, Message: `GET /q="x" HTTP/1.1`,
				HTTPStatus: 304, Format: "combined", ParseError: "combined: missing byte count",
				Labels: labels("client_ip", "10.0.0.9", "http_method", "GET", "http_path", `/q="x"`, "http_protocol", "HTTP/1.1"),
			},
		},
		{
			name: "malformed: raw quote and no status anywhere",
			line: `10.0.0.9 - - [01/May/2024:12:00:00 +0000] "GET /q="x" HTTP/1.1" ok`,
			want: Fields{
				Timestamp: ts("2024-05-01T12:00:00Z"), Message: `GET /q=`, Format: "combined", ParseError: "combined: missing status",
				Labels: labels("client_ip", "10.0.0.9", "http_method", "GET", "http_path", `/q=`),
			},
		},
	})
}

// A time that is present but unreadable is reported, and the rest of the
// line is still read.
func TestCombinedUnreadableTime(t *testing.T) {
	runLineCases(t, []lineCase{
		{
			name: "not a time at all",
			line: `127.0.0.1 - - [not a time] "GET / HTTP/1.1" 200 1`,
			want: Fields{
				Level: schemas.LevelInfo, HTTPStatus: 200, Message: "GET / HTTP/1.1", Format: "combined",
				ParseError: `combined: unreadable timestamp "not a time" in field "time"`,
				Labels:     labels("client_ip", "127.0.0.1", "http_method", "GET", "http_path", "/", "http_protocol", "HTTP/1.1", "bytes", "1"),
			},
		},
		{
			name: "no zone",
			line: `127.0.0.1 - - [10/Oct/2000:13:55:36] "GET / HTTP/1.1" 502 1 "-" "ua"`,
			want: Fields{
				Level: schemas.LevelError, HTTPStatus: 502, Message: "GET / HTTP/1.1", Format: "combined",
				ParseError: `combined: unreadable timestamp "10/Oct/2000:13:55:36" in field "time"`,
				Labels: labels("client_ip", "127.0.0.1", "http_method", "GET", "http_path", "/", "http_protocol", "HTTP/1.1",
					"bytes", "1", "user_agent", "ua"),
			},
		},
	})
}

// FuzzCombinedRequest puts any path, raw quotes included, in an access log
// line: the status, byte count and user agent after it must survive.
func FuzzCombinedRequest(f *testing.F) {
	f.Add(`/search?q="a b"`)
	f.Add(`/x?a=" 200 1"`)
	f.Add(`/a"`)
	f.Add(`"`)
	f.Add(`/plain`)
	f.Fuzz(func(t *testing.T, path string) {
		// A backslash is an escape to Apache's format, and a path holding
		// `HTTP/1.1" 404 ` is a second request line: both are ambiguous.
		if path == "" || strings.ContainsAny(path, "\\\r\n") || strings.Contains(path, "HTTP/") {
			return
		}
		line := `192.0.2.1 - - [01/May/2024:12:00:00 +0000] "GET ` + path + ` HTTP/1.1" 404 12 "-" "ua"`
		got := ParseLine(line)
		checkInvariants(t, line, got)
		if got.Format != "combined" || got.ParseError != "" || got.HTTPStatus != 404 {
			t.Fatalf("%q: format %q error %q status %d", line, got.Format, got.ParseError, got.HTTPStatus)
		}
		if got.Labels["http_path"] != path || got.Labels["bytes"] != "12" || got.Labels["user_agent"] != "ua" {
			t.Fatalf("%q: labels %v", line, got.Labels)
		}
	})
}
