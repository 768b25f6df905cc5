// Package fleet generates realistic, deterministic log lines from a small
// payment-gateway fleet, for `logstream demo`, the integration tests and the
// benchmarks. It lives under demo/ because the binary's demo runs it; the
// benchmarks import it from here, so the binary links no benchmark code.
//
// The fleet: hosts web-1 … web-5 behind an AWS application load balancer.
// Every host runs an nginx front, the checkout-api (JSON logs), the payments
// service (logfmt), the db-pool JVM (logback), two Kubernetes pods
// (fraud-scorer and card-vault, CRI container logs with JSON content) and
// the usual system daemons (syslog RFC 3164, and RFC 5424 from the
// payments-worker). Each generated line is one of:
//
//	json        {"ts":"2024-05-01T12:00:00.123456789Z","level":"info","msg":"order created","service":"checkout-api","host":"web-1","request_id":"req-17",...}
//	logfmt      ts=2024-05-01T12:00:00.123Z level=info msg="capture settled" service=payments host=web-1 request_id=req-17 trace_id=... span_id=...
//	cri         2024-05-01T12:00:00.123456789Z stdout F {"ts":...,"request_id":"req-17",...}
//	combined    203.0.113.7 - - [01/May/2024:12:00:00 +0000] "POST /api/v1/checkout?request_id=req-17 HTTP/1.1" 201 512 "-" "okhttp/4.12.0" 0.087
//	alb         https 2024-05-01T12:00:00.123456Z app/pay-gw-prod/50dc6c495c0c9188 203.0.113.7:51324 10.0.1.11:80 0.000 0.087 0.000 201 201 ... "POST https://pay.example.com:443/api/v1/checkout?request_id=req-17 HTTP/1.1" ...
//	syslog3164  <86>May  1 12:00:00 web-1 sshd[4121]: Accepted publickey for deploy from 10.0.9.4 port 52314 ssh2 (session req-17)
//	syslog5424  <134>1 2024-05-01T12:00:00.123456Z web-1 payments-worker 812 SETTLE [meta@32473 request_id="req-17" trace_id="..." span_id="..."] settlement batch closed
//	java        2024-05-01 12:00:00.123 ERROR [http-nio-8080-exec-1] c.e.payments.DbPool - Connection timeout after 3012 ms to 10.0.4.7:3306 [req-17]
//	none        garbage that matches no format: binary-ish text, truncated JSON, an HTML error page, a base64 blob
//
// The format names are the ones the parse stage reports in LogEvent.format;
// garbage is "none", as the parse stage calls a line that matches no format.
//
// # Finding a line again
//
// Every line's Text contains the token "req-<Seq>" (Seq in decimal, no
// padding) exactly once, and the text contains "req-" nowhere else. The
// character after the digits is never a digit, so "req-1" is not found in a
// line carrying "req-12": SeqOf(text) returns it. Where it sits:
//
//	json, cri   the field "request_id":"req-<Seq>" (in cri, inside the JSON content)
//	logfmt      the pair request_id=req-<Seq>
//	combined    the request URI's query: ?request_id=req-<Seq> (also for /healthz)
//	alb         the request URL's query: ?request_id=req-<Seq>
//	syslog3164  in the message, as the id of the session, batch or job it is about
//	syslog5424  the structured-data parameter request_id="req-<Seq>" of [meta@32473 ...]
//	java        the end of the message: " [req-<Seq>]"
//	none        the tail of the garbage: " req-<Seq>" (truncated JSON: inside the cut-off text)
//
// A CRI line the runtime split (flags P, P, F: three Lines, consecutive, same
// host and source) carries one token per part, so the joined line carries
// three, in order.
//
// Seq starts at 1 and increases by one per Line (a repeat, below, carries
// its original's Seq). The same Config (Seed included) always yields the
// same lines.
//
// # Traces and spans
//
// The application lines carry W3C trace context, which Line.TraceID and
// Line.SpanID repeat: JSON and CRI lines as "trace_id" and "span_id" or as
// a "traceparent", logfmt lines as trace_id= and span_id=, RFC 5424 lines as
// the structured-data parameters trace_id and span_id (which the parse
// stage keeps as labels). The span id is that of the span that wrote the
// line, the root span of its request. Access logs, logback, RFC 3164 and
// garbage lines carry none (a cut-off JSON line may show part of one, but
// nothing can read it). Generator.SpansFor gives the spans of a line's
// trace: the root span and its database call, as the Collector would
// deliver them to the spans topic (spans.ToOTLP encodes them as the
// Collector's Kafka exporter does). The span ids of logfmt and RFC 5424
// lines are drawn apart from the rest, so every other line is the same as
// before they were added.
//
// # Duplicates
//
// A shipper that retries a batch sends its lines again. With
// Config.DuplicateRatio set, that share of lines is returned a second time
// a few lines (usually fewer than ten) after the original: the identical Line,
// with Line.Duplicate set. A CRI line split in parts is repeated whole, its
// parts consecutive, and no repeat falls between the parts of a line. The
// original lines are those of the same Config without duplicates, drawn
// from the same source, so a repeat changes nothing else.
//
// # Health
//
// A healthy host writes mostly INFO, about 4% WARN (4xx in access logs) and
// about 1.2% ERROR (5xx). Config.BadHost names a host with a failing
// database connection: about 20% of its lines are failures — "timeout after
// 3012 ms to 10.0.4.7:3306" in its application logs, 502/504 in its nginx
// and ALB access logs — which Line.Level reports as schemas.LevelError.
package fleet
