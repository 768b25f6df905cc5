package parse

import "strings"

// AWS Application Load Balancer access logs: space-separated, some fields
// double-quoted, in this order (later fields are optional; AWS appends new
// ones at the end):
//
//	 0 type (http https h2 grpcs ws wss)  1 time  2 elb  3 client:port
//	 4 target:port  5 request_processing_time  6 target_processing_time
//	 7 response_processing_time  8 elb_status_code  9 target_status_code
//	10 received_bytes  11 sent_bytes  12 "request"  13 "user_agent"
//	14 ssl_cipher  15 ssl_protocol  16 target_group_arn  17 "trace_id"
//	18 "domain_name"  19 "chosen_cert_arn"  20 matched_rule_priority
//	21 request_creation_time  22 "actions_executed"  23 "redirect_url"
//	24 "error_reason"  25 "target:port_list"  26 "target_status_code_list"
//	27 "classification"  28 "classification_reason"  29 conn_trace_id
//
// A line is ALB when its first field is one of the types and its second
// an RFC 3339 time (one with fields out of range is reported unreadable);
// fewer than 13 fields make it malformed. Latency is the
// sum of the three processing times (seconds in the log, -1 when the stage
// did not happen; those are left out), in milliseconds. The trace field is
// an X-Amzn-Trace-Id, not a W3C id: its Root goes into the label
// amzn_trace_id and TraceID stays empty.

func isALBType(s string) bool {
	switch s {
	case "http", "https", "h2", "grpcs", "ws", "wss":
		return true
	}
	return false
}

// albLabels names the fields kept as labels, by position; "" skips one.
var albLabels = [...]string{
	0: "type", 2: "elb", 4: "target", 9: "target_status_code",
	10: "received_bytes", 11: "sent_bytes", 13: "user_agent", 14: "ssl_cipher",
	15: "ssl_protocol", 16: "target_group_arn", 18: "domain_name",
	22: "actions_executed", 24: "error_reason", 27: "classification",
	28: "classification_reason",
}

func parseALB(s string, f *Fields, hostOnly bool) bool {
	sp := strings.IndexByte(s, ' ')
	if sp < 0 || !isALBType(s[:sp]) {
		return false
	}
	// The time must be RFC 3339 in shape; one whose fields are out of range
	// still makes the line ALB, with the time unreadable.
	ts := firstWord(s[sp+1:])
	t, used, st := parseISOPrefix(ts)
	if st == isoNone || used != len(ts) || ts[10] != 'T' {
		return false
	}
	f.Format = formatALB
	if hostOnly {
		return true
	}
	f.Timestamp = t
	if st == isoInvalid {
		f.unreadableTime(formatALB, "time", ts)
	}
	f.Labels = make(map[string]string, 24)
	var fields [len(albLabels) + 1]string
	n := 0
	for i := 0; n < len(fields); n++ {
		fld, next, kind := nextField(s, i)
		if kind == fieldEnd {
			break
		}
		if kind == fieldOpenQuote {
			f.malformed("alb: unterminated quoted field")
		}
		fields[n] = fld
		i = next
	}
	if n < 13 {
		f.malformed("alb: too few fields")
	}
	var ms float64
	seen := false
	for _, p := range fields[5:8] {
		if v, ok := parseNonNegFloat(p); ok {
			ms += v * 1000
			seen = true
		}
	}
	if seen {
		f.LatencyMs, f.HasLatency = ms, true
	}
	if st := fields[8]; st != "" && st != "-" {
		if status, ok := parseStatus(st); ok {
			f.HTTPStatus = status
		} else {
			f.malformed("alb: invalid elb_status_code")
		}
	}
	f.Level = levelFromStatus(f.HTTPStatus)
	if c := fields[3]; c != "" && c != "-" {
		if i := strings.LastIndexByte(c, ':'); i > 0 {
			c = c[:i]
		}
		f.setLabel("client_ip", c)
	}
	for i, name := range albLabels {
		if name != "" && fields[i] != "" && fields[i] != "-" {
			f.setLabel(name, fields[i])
		}
	}
	req := fields[12]
	f.Message = req
	if sp := strings.IndexByte(req, ' '); sp > 0 && isMethod(req[:sp]) {
		f.setLabel("http_method", req[:sp])
		url := req[sp+1:]
		if last := strings.LastIndexByte(url, ' '); last >= 0 && strings.HasPrefix(url[last+1:], "HTTP/") {
			f.setLabel("http_protocol", url[last+1:])
			url = url[:last]
		}
		if url != "" && url != "-" {
			f.setLabel("http_path", urlPath(url))
		}
	}
	if tr := fields[17]; tr != "" && tr != "-" {
		f.setLabel("amzn_trace_id", amznRoot(tr))
	}
	return true
}

// urlPath drops the scheme and authority of an absolute URL.
func urlPath(u string) string {
	i := strings.Index(u, "://")
	if i < 0 {
		return u
	}
	rest := u[i+3:]
	if j := strings.IndexAny(rest, "/?"); j >= 0 {
		if rest[j] == '?' {
			return "/" + rest[j:]
		}
		return rest[j:]
	}
	return "/"
}

// amznRoot returns the Root of an X-Amzn-Trace-Id ("Self=...;Root=1-...;
// Parent=..."), or the whole value when it has none.
func amznRoot(v string) string {
	for part := range strings.SplitSeq(v, ";") {
		if r, ok := strings.CutPrefix(part, "Root="); ok && r != "" {
			return r
		}
	}
	return v
}
