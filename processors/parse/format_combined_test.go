package parse

import (
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
				Level: schemas.LevelInfo, HTTPStatus: 200, Message: "GET / HTTP/1.1", Format: "combined", ParseError: "combined: invalid time",
				Labels: labels("client_ip", "192.168.1.1", "http_method", "GET", "http_path", "/", "http_protocol", "HTTP/1.1", "bytes", "1"),
			},
		},
	})
}

func TestCombinedRejects(t *testing.T) {
	for _, line := range []string{
		`127.0.0.1 - - [not a time] "GET / HTTP/1.1" 200 1`,
		`127.0.0.1 - - 10/Oct/2000:13:55:36 -0700 "GET / HTTP/1.1" 200 1`,
		`127.0.0.1 - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1`,
		`client@x - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1`,
		`127.0.0.1 - - [10/Oct/2000:13:55:36] "GET / HTTP/1.1" 200 1`,
	} {
		if f := ParseLine(line); f.Format != "none" {
			t.Errorf("ParseLine(%q) = %q, want none", line, f.Format)
		}
	}
}
