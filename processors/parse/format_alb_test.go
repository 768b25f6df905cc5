package parse

import (
	"testing"

	"github.com/logstream/logstream/schemas"
)

const albTG = "arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067"

func TestALBLines(t *testing.T) {
	runLineCases(t, []lineCase{
		{
			name: "http entry (AWS documentation)",
			line: `http 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET http://www.example.com:80/ HTTP/1.1" "curl/7.46.0" - - ` + albTG + ` "Root=1-58337262-36d228ad5d99923122bbe354" "-" "-" 0 2018-07-02T22:22:48.364000Z "forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1234abcd5678ef90`,
			want: Fields{
				Timestamp: ts("2018-07-02T22:23:00.186641Z"), Level: schemas.LevelInfo, Message: "GET http://www.example.com:80/ HTTP/1.1",
				HTTPStatus: 200, LatencyMs: 1, HasLatency: true, Format: "alb",
				Labels: labels("type", "http", "elb", "app/my-loadbalancer/50dc6c495c0c9188", "client_ip", "192.168.131.39",
					"target", "10.0.0.1:80", "target_status_code", "200", "received_bytes", "34", "sent_bytes", "366",
					"http_method", "GET", "http_path", "/", "http_protocol", "HTTP/1.1", "user_agent", "curl/7.46.0",
					"target_group_arn", albTG, "amzn_trace_id", "1-58337262-36d228ad5d99923122bbe354", "actions_executed", "forward"),
			},
		},
		{
			name: "h2 entry with TLS, Self and Root in the trace header",
			line: `h2 2015-11-07T18:45:33.575333Z app/my-loadbalancer/50dc6c495c0c9188 10.0.1.252:48160 10.0.0.66:9000 0.000 0.002 0.000 502 502 5 257 "GET https://10.0.2.105:773/?x=1 HTTP/2.0" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 ` + albTG + ` "Self=1-58337327-72bd00b0343d75b906739c42;Root=1-58337327-72bd00b0343d75b906739c41" "-" "-" 1 2018-07-02T22:22:48.364000Z "redirect" "https://example.com:80/" "-" "10.0.0.66:9000" "502" "-" "-"`,
			want: Fields{
				Timestamp: ts("2015-11-07T18:45:33.575333Z"), Level: schemas.LevelError, Message: "GET https://10.0.2.105:773/?x=1 HTTP/2.0",
				HTTPStatus: 502, LatencyMs: 2, HasLatency: true, Format: "alb",
				Labels: labels("type", "h2", "elb", "app/my-loadbalancer/50dc6c495c0c9188", "client_ip", "10.0.1.252",
					"target", "10.0.0.66:9000", "target_status_code", "502", "received_bytes", "5", "sent_bytes", "257",
					"http_method", "GET", "http_path", "/?x=1", "http_protocol", "HTTP/2.0", "user_agent", "curl/7.46.0",
					"ssl_cipher", "ECDHE-RSA-AES128-GCM-SHA256", "ssl_protocol", "TLSv1.2",
					"target_group_arn", albTG, "amzn_trace_id", "1-58337327-72bd00b0343d75b906739c41", "actions_executed", "redirect"),
			},
		},
		{
			name: "wss entry, all processing times -1",
			line: `wss 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 10.0.0.140:44244 10.0.0.171:8010 -1 -1 -1 101 101 218 587 "GET wss://10.0.0.30:443/ HTTP/1.1" "-" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 - "-"`,
			want: Fields{
				Timestamp: ts("2018-07-02T22:23:00.186641Z"), Level: schemas.LevelInfo, Message: "GET wss://10.0.0.30:443/ HTTP/1.1",
				HTTPStatus: 101, Format: "alb",
				Labels: labels("type", "wss", "elb", "app/my-loadbalancer/50dc6c495c0c9188", "client_ip", "10.0.0.140",
					"target", "10.0.0.171:8010", "target_status_code", "101", "received_bytes", "218", "sent_bytes", "587",
					"http_method", "GET", "http_path", "/", "http_protocol", "HTTP/1.1",
					"ssl_cipher", "ECDHE-RSA-AES128-GCM-SHA256", "ssl_protocol", "TLSv1.2"),
			},
		},
		{
			name: "client closed before the target answered",
			line: `https 2018-07-02T22:23:00.186641Z app/lb/1 192.0.2.1:1 - 0.001 -1 -1 460 - 100 0 "POST https://x.example.com:443/upload HTTP/1.1" "ua" TLS_AES_128_GCM_SHA256 TLSv1.3 - "Root=1-5759e988-bd862e3fe1be46a994272793" "x.example.com" "-" 0 2018-07-02T22:22:48.364000Z "forward" "-" "-" "-" "-" "-" "-"`,
			want: Fields{
				Timestamp: ts("2018-07-02T22:23:00.186641Z"), Level: schemas.LevelWarn, Message: "POST https://x.example.com:443/upload HTTP/1.1",
				HTTPStatus: 460, LatencyMs: 1, HasLatency: true, Format: "alb",
				Labels: labels("type", "https", "elb", "app/lb/1", "client_ip", "192.0.2.1", "received_bytes", "100", "sent_bytes", "0",
					"http_method", "POST", "http_path", "/upload", "http_protocol", "HTTP/1.1", "user_agent", "ua",
					"ssl_cipher", "TLS_AES_128_GCM_SHA256", "ssl_protocol", "TLSv1.3",
					"amzn_trace_id", "1-5759e988-bd862e3fe1be46a994272793", "domain_name", "x.example.com", "actions_executed", "forward"),
			},
		},
		{
			name: "grpcs entry with error reason",
			line: `grpcs 2018-07-02T22:23:00.186641Z app/lb/1 192.0.2.1:1 10.0.0.1:50051 0.000 0.010 0.000 200 200 10 20 "POST https://g.example.com:443/pkg.Svc/Call HTTP/2.0" "grpc-go/1.60" - - - "-" "-" "-" 0 2018-07-02T22:22:48.364000Z "forward" "-" "TargetResponseError"`,
			want: Fields{
				Timestamp: ts("2018-07-02T22:23:00.186641Z"), Level: schemas.LevelInfo, Message: "POST https://g.example.com:443/pkg.Svc/Call HTTP/2.0",
				HTTPStatus: 200, LatencyMs: 10, HasLatency: true, Format: "alb",
				Labels: labels("type", "grpcs", "elb", "app/lb/1", "client_ip", "192.0.2.1", "target", "10.0.0.1:50051",
					"target_status_code", "200", "received_bytes", "10", "sent_bytes", "20",
					"http_method", "POST", "http_path", "/pkg.Svc/Call", "http_protocol", "HTTP/2.0", "user_agent", "grpc-go/1.60",
					"actions_executed", "forward", "error_reason", "TargetResponseError"),
			},
		},
		{
			name: "malformed: truncated",
			line: `https 2018-07-02T22:23:00.186641Z app/lb 1.2.3.4:5`,
			want: Fields{
				Timestamp: ts("2018-07-02T22:23:00.186641Z"), Level: schemas.LevelInfo, Format: "alb", ParseError: "alb: too few fields",
				Labels: labels("type", "https", "elb", "app/lb", "client_ip", "1.2.3.4"),
			},
		},
		{
			name: "malformed: bad status",
			line: `http 2018-07-02T22:23:00Z app/lb 1.2.3.4:5 - 0.1 0.1 0.1 2000 - 1 2 "GET http://h/ HTTP/1.1" "ua"`,
			want: Fields{
				Timestamp: ts("2018-07-02T22:23:00Z"), Level: schemas.LevelInfo, Message: "GET http://h/ HTTP/1.1", LatencyMs: 300, HasLatency: true,
				Format: "alb", ParseError: "alb: invalid elb_status_code",
				Labels: labels("type", "http", "elb", "app/lb", "client_ip", "1.2.3.4", "received_bytes", "1", "sent_bytes", "2",
					"http_method", "GET", "http_path", "/", "http_protocol", "HTTP/1.1", "user_agent", "ua"),
			},
		},
		{
			name: "malformed: unterminated request",
			line: `http 2018-07-02T22:23:00Z app/lb 1.2.3.4:5 - 0 0 0 200 - 1 2 "GET http://h/ HTTP/1.1`,
			want: Fields{
				Timestamp: ts("2018-07-02T22:23:00Z"), Level: schemas.LevelInfo, HTTPStatus: 200, Message: "GET http://h/ HTTP/1.1", HasLatency: true,
				Format: "alb", ParseError: "alb: unterminated quoted field",
				Labels: labels("type", "http", "elb", "app/lb", "client_ip", "1.2.3.4", "received_bytes", "1", "sent_bytes", "2",
					"http_method", "GET", "http_path", "/", "http_protocol", "HTTP/1.1"),
			},
		},
	})
}

func TestALBRejects(t *testing.T) {
	for _, line := range []string{
		`http is a protocol`,
		`https://example.com is down`,
		`h2 2018-07-02 22:23:00 app/lb`, // not an RFC 3339 time
		`ftp 2018-07-02T22:23:00.186641Z app/lb 1.2.3.4:5`,
	} {
		if f := ParseLine(line); f.Format != "none" {
			t.Errorf("ParseLine(%q) = %q, want none", line, f.Format)
		}
	}
}
