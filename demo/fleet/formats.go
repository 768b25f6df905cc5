package fleet

import (
	"encoding/base64"
	"strconv"
	"time"
	"unicode/utf8"
)

// msg is a log message with the HTTP status its request ended with.
type msg struct {
	text   string
	status int
}

type endpoint struct {
	method, path string
	status       int  // on success
	id           bool // path ends with a numeric id
}

// service is an application that logs about HTTP requests.
type service struct {
	name      string
	container string // Kubernetes container name, for pods
	endpoints []endpoint
	info      []string
	warn      []msg
	fail      []msg  // failures other than the database timeout
	dbPrefix  string // message before "timeout after … ms to 10.0.4.7:3306"
}

var checkoutAPI = service{
	name: "checkout-api",
	endpoints: []endpoint{
		{"POST", "/api/v1/checkout", 201, false},
		{"GET", "/api/v1/cart", 200, false},
		{"POST", "/api/v1/orders", 201, false},
		{"GET", "/api/v1/orders/", 200, true},
	},
	info: []string{"request completed", "cart validated", "order created", "payment intent created", "inventory reserved", "checkout session started"},
	warn: []msg{
		{"slow upstream response from payments", 200},
		{"retrying payment provider call", 200},
		{"cart contains discontinued item", 409},
		{"merchant rate limit exceeded", 429},
		{"invalid postal code for billing address", 422},
	},
	fail: []msg{
		{"payment provider returned 502 Bad Gateway", 502},
		{"order persistence failed: deadlock found when trying to get lock", 500},
	},
	dbPrefix: "db query failed: ",
}

var payments = service{
	name: "payments",
	endpoints: []endpoint{
		{"POST", "/api/v1/payments", 201, false},
		{"GET", "/api/v1/payments/", 200, true},
		{"POST", "/api/v1/refunds", 201, false},
		{"POST", "/api/v1/captures", 201, false},
	},
	info: []string{"authorization approved", "capture settled", "refund issued", "3ds challenge completed", "webhook delivered"},
	warn: []msg{
		{"authorization soft-declined", 402},
		{"provider latency above SLO", 200},
		{"webhook delivery retried", 200},
		{"duplicate idempotency key", 409},
	},
	fail: []msg{
		{"provider call failed: upstream returned 502", 502},
		{"ledger write failed: deadlock detected", 500},
	},
	dbPrefix: "ledger write failed: ",
}

var fraudScorer = service{
	name:      "fraud-scorer",
	container: "scorer",
	endpoints: []endpoint{{"POST", "/v1/score", 200, false}},
	info:      []string{"score computed", "model cache hit", "merchant profile loaded"},
	warn: []msg{
		{"score fell back to rules engine", 200},
		{"feature vector incomplete", 200},
	},
	fail:     []msg{{"model server unavailable", 503}},
	dbPrefix: "feature store query failed: ",
}

var cardVault = service{
	name:      "card-vault",
	container: "vault",
	endpoints: []endpoint{{"POST", "/v1/tokens", 201, false}, {"POST", "/v1/detokenize", 200, false}},
	info:      []string{"card tokenized", "token detokenized", "hsm session reused"},
	warn: []msg{
		{"hsm latency above threshold", 200},
		{"token expired", 410},
	},
	fail:     []msg{{"hsm returned CKR_DEVICE_ERROR", 500}},
	dbPrefix: "vault write failed: ",
}

// accessEndpoints are what the clients call through the load balancer.
var accessEndpoints = []endpoint{
	{"POST", "/api/v1/checkout", 201, false},
	{"GET", "/api/v1/cart", 200, false},
	{"POST", "/api/v1/orders", 201, false},
	{"GET", "/api/v1/orders/", 200, true},
	{"POST", "/api/v1/payments", 201, false},
	{"GET", "/api/v1/payments/", 200, true},
	{"POST", "/api/v1/refunds", 201, false},
	{"GET", "/static/js/app.3f9c1b.js", 200, false},
	{"GET", "/static/css/app.8d41e7.css", 200, false},
}

var (
	userAgents = []string{
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
		"PayGW-iOS/5.12.1 (iPhone14,2; iOS 17.4.1)",
		"PayGW-Android/5.12.0 (Pixel 8; Android 14)",
		"okhttp/4.12.0",
		"python-requests/2.31.0",
		"curl/8.5.0",
	}
	referers   = []string{"-", "-", "https://shop.example.com/checkout", "https://shop.example.com/cart"}
	warnStatus = []int{400, 401, 404, 409, 422, 429}
	failStatus = []int{500, 502, 503, 504}
)

// latencyMs is how long a request took.
func (g *Generator) latencyMs(s sev, timeout bool) float64 {
	switch {
	case timeout:
		return 3000 + g.rng.Float64()*60
	case s == sevWarn && g.rng.IntN(2) == 0:
		return 800 + g.rng.Float64()*2000
	case s == sevFail:
		return 20 + g.rng.ExpFloat64()*200
	}
	return 2 + g.rng.ExpFloat64()*40
}

func levelName(s sev) string {
	switch s {
	case sevWarn:
		return "warn"
	case sevFail:
		return "error"
	}
	return "info"
}

// appendAppJSON appends a JSON application log object without its closing
// brace.
func (g *Generator) appendAppJSON(b []byte, t time.Time, h *host, svc *service, s sev, seq uint64) []byte {
	b = append(b, `{"ts":"`...)
	b = t.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"`...)
	b = append(b, levelName(s)...)
	b = append(b, `","msg":"`...)
	ep := pick(g, svc.endpoints)
	b, status, timeout := g.appendMessage(b, h, svc, s, ep.status)
	b = append(b, `","service":"`...)
	b = append(b, svc.name...)
	b = append(b, `","host":"`...)
	b = append(b, h.name...)
	b = append(b, `","request_id":"`...)
	b = appendSeq(b, seq)
	var ts, ss int // where the trace and span ids start
	if g.rng.IntN(5) == 0 {
		b = append(b, `","traceparent":"00-`...)
		ts = len(b)
		b = g.appendRandHex(b, 32)
		b = append(b, '-')
		ss = len(b)
		b = g.appendRandHex(b, 16)
		b = append(b, "-01"...)
	} else {
		b = append(b, `","trace_id":"`...)
		ts = len(b)
		b = g.appendRandHex(b, 32)
		b = append(b, `","span_id":"`...)
		ss = len(b)
		b = g.appendRandHex(b, 16)
	}
	g.traceAt, g.spanAt = ts, ss
	b = append(b, `","method":"`...)
	b = append(b, ep.method...)
	b = append(b, `","path":"`...)
	b = g.appendRequestPath(b, ep)
	b = append(b, `","status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"latency_ms":`...)
	lat := g.latencyMs(s, timeout)
	b = appendFixed(b, lat, 2)
	g.cur.status, g.cur.latencyMs = status, lat
	return b
}

// appendRequestPath is appendPath for an application's own request,
// remembered for its spans.
func (g *Generator) appendRequestPath(b []byte, ep endpoint) []byte {
	g.cur.method, g.cur.route = ep.method, ep.path
	b = append(b, ep.path...)
	if ep.id {
		g.cur.pathID = 100000 + g.rng.IntN(900000) // as appendPath draws it
		b = strconv.AppendInt(b, int64(g.cur.pathID), 10)
	}
	return b
}

// appendMessage appends an app message of severity s for svc, and returns
// the HTTP status it implies (the endpoint's own for info) and whether it is
// a database timeout. Shared by the JSON and logfmt lines so both draw the
// same messages in the same order.
func (g *Generator) appendMessage(b []byte, h *host, svc *service, s sev, status int) ([]byte, int, bool) {
	timeout := false
	switch s {
	case sevInfo:
		b = append(b, pick(g, svc.info)...)
	case sevWarn:
		m := pick(g, svc.warn)
		b, status = append(b, m.text...), m.status
	case sevFail:
		if g.dbTimeout(h) {
			b = append(b, svc.dbPrefix...)
			b = g.appendTimeout(b)
			status, timeout = 503, true
		} else {
			m := pick(g, svc.fail)
			b, status = append(b, m.text...), m.status
		}
	}
	return b, status, timeout
}

func (g *Generator) appendPath(b []byte, ep endpoint) []byte {
	b = append(b, ep.path...)
	if ep.id {
		b = strconv.AppendInt(b, int64(100000+g.rng.IntN(900000)), 10)
	}
	return b
}

// json: checkout-api's own log file.
func (g *Generator) jsonLine(l *Line, h *host, s sev) {
	b := g.appendAppJSON(g.b[:0], l.Time, h, &checkoutAPI, s, l.Seq)
	b = append(b, '}')
	g.b = b
	l.Text, l.Format, l.Source, l.Service, l.Level = string(b), FormatJSON, "/var/log/checkout-api/app.log", checkoutAPI.name, s.level()
}

// logfmt: the payments service.
func (g *Generator) logfmtLine(l *Line, h *host, s sev) {
	svc := &payments
	b := append(g.b[:0], "ts="...)
	b = l.Time.AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, " level="...)
	b = append(b, levelName(s)...)
	b = append(b, ` msg="`...)
	ep := pick(g, svc.endpoints)
	b, status, timeout := g.appendMessage(b, h, svc, s, ep.status)
	b = append(b, `" service=payments host=`...)
	b = append(b, h.name...)
	b = append(b, " request_id="...)
	b = appendSeq(b, l.Seq)
	b = append(b, " trace_id="...)
	ts := len(b)
	b = g.appendRandHex(b, 32)
	b = append(b, " span_id="...)
	ss := len(b)
	b = g.appendIDHex(b, 16)
	g.traceAt, g.spanAt = ts, ss
	b = append(b, " method="...)
	b = append(b, ep.method...)
	b = append(b, " path="...)
	b = g.appendRequestPath(b, ep)
	b = append(b, " provider="...)
	b = append(b, pick(g, []string{"adyen", "stripe", "worldpay"})...)
	b = append(b, " amount="...)
	b = appendFixed(b, 1+g.rng.ExpFloat64()*60, 2)
	b = append(b, " currency="...)
	b = append(b, pick(g, []string{"EUR", "EUR", "USD", "GBP"})...)
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, " latency_ms="...)
	lat := g.latencyMs(s, timeout)
	b = appendFixed(b, lat, 1)
	g.cur.status, g.cur.latencyMs = status, lat
	g.b = b
	l.Text, l.Format, l.Source, l.Service, l.Level = string(b), FormatLogfmt, "/var/log/payments/payments.log", svc.name, s.level()
}

// cri: a container log line as the kubelet stores it; the content is the
// pod's JSON log. Sometimes a long line split by the runtime.
func (g *Generator) criLine(l *Line, h *host, s sev) {
	p := &h.pods[g.rng.IntN(len(h.pods))]
	l.Format, l.Source, l.Service, l.Level = FormatCRI, p.source, p.svc.name, s.level()
	stream := "stdout"
	if s == sevFail {
		stream = "stderr"
	}
	if g.rng.Float64() < criSplitRatio {
		g.criSplit(l, h, p, s, stream)
		return
	}
	b := l.Time.AppendFormat(g.b[:0], time.RFC3339Nano)
	b = append(b, ' ')
	b = append(b, stream...)
	b = append(b, " F "...)
	b = g.appendAppJSON(b, l.Time, h, p.svc, s, l.Seq)
	b = append(b, '}')
	g.b = b
	l.Text = string(b)
}

// criSplit writes a line longer than 16 KiB as the runtime does: parts
// flagged P of exactly CRIPartBytes content, then a last part flagged F.
// The first part is l; the other two are queued, each with its own Seq.
func (g *Generator) criSplit(l *Line, h *host, p *pod, s sev, stream string) {
	stack := s == sevFail
	header := func(b []byte, t time.Time, flag string) []byte {
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, ' ')
		b = append(b, stream...)
		b = append(b, ' ')
		return append(append(b, flag...), ' ')
	}
	// Part 1: the start of the JSON object and of its long "detail".
	b := header(g.b[:0], l.Time, "P")
	start := len(b)
	b = g.appendAppJSON(b, l.Time, h, p.svc, s, l.Seq)
	b = append(b, `,"detail":"`...)
	b = g.appendFiller(b, start+CRIPartBytes, stack)
	l.Text = string(b)

	for part := 2; part <= 3; part++ {
		g.seq++
		g.now = g.now.Add(time.Duration(5+g.rng.IntN(40)) * time.Microsecond)
		flag := "P"
		if part == 3 {
			flag = "F"
		}
		b = header(b[:0], g.now, flag)
		start := len(b)
		b = append(b, " ["...)
		b = appendSeq(b, g.seq)
		b = append(b, "] "...)
		if part == 2 {
			b = g.appendFiller(b, start+CRIPartBytes, stack)
		} else {
			b = g.appendFiller(b, len(b)+200+g.rng.IntN(4000), stack)
			b = append(b, `"}`...)
		}
		next := *l
		next.Seq, next.Time, next.Text = g.seq, g.now, string(b)
		g.queue = append(g.queue, next)
	}
	g.b = b
}

var (
	frames = []string{
		"com.example.fraud.FeatureStore.query(FeatureStore.java:",
		"com.example.fraud.Scorer.score(Scorer.java:",
		"com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:",
		"org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:",
		"java.base/java.lang.Thread.run(Thread.java:",
	}
	features = []string{"txn_amount_zscore", "merchant_risk_30d", "card_velocity_1h", "ip_distance_km", "device_age_days", "bin_country_mismatch", "email_age_days"}
)

// appendFiller appends JSON-string-safe text (a stack trace, or a feature
// dump) until b is exactly target bytes long.
func (g *Generator) appendFiller(b []byte, target int, stack bool) []byte {
	for len(b) < target {
		if stack {
			b = append(b, `\n\tat `...)
			b = append(b, pick(g, frames)...)
			b = strconv.AppendInt(b, int64(20+g.rng.IntN(900)), 10)
			b = append(b, ')')
		} else {
			b = append(b, pick(g, features)...)
			b = append(b, ':')
			b = appendFixed(b, g.rng.Float64()*4-2, 4)
			b = append(b, ',')
		}
	}
	b = b[:target]
	// Do not leave half of an escape at the cut.
	if n := len(b); n > 0 && b[n-1] == '\\' {
		b[n-1] = ' '
	}
	return b
}

// accessStatus picks an access log status and latency (ms) for s.
func (g *Generator) accessStatus(h *host, ep endpoint, s sev) (status int, ms float64) {
	switch s {
	case sevWarn:
		return pick(g, warnStatus), 1 + g.rng.ExpFloat64()*10
	case sevFail:
		if g.dbTimeout(h) {
			return pick(g, []int{502, 504}), 3000 + g.rng.Float64()*60
		}
		return pick(g, failStatus), 20 + g.rng.ExpFloat64()*200
	}
	status = ep.status
	if ep.path[1] == 's' && g.rng.IntN(3) == 0 { // /static: cached
		status = 304
	}
	return status, 2 + g.rng.ExpFloat64()*40
}

func (g *Generator) bodyBytes(status int) int {
	switch {
	case status == 304 || status == 204:
		return 0
	case status >= 500:
		return 150 + g.rng.IntN(450)
	case status >= 400:
		return 60 + g.rng.IntN(140)
	}
	return 200 + g.rng.IntN(3800)
}

func (g *Generator) appendClientIP(b []byte) []byte {
	b = append(b, pick(g, []string{"203.0.113.", "198.51.100.", "192.0.2."})...)
	return strconv.AppendInt(b, int64(1+g.rng.IntN(254)), 10)
}

func accessLevel(status int) sev {
	switch {
	case status >= 500:
		return sevFail
	case status >= 400:
		return sevWarn
	}
	return sevInfo
}

// combined: the nginx front of each host, log_format combined plus
// $request_time (clients' addresses restored by the realip module).
func (g *Generator) combinedLine(l *Line, h *host, s sev) {
	b := g.b[:0]
	health := s == sevInfo && g.rng.IntN(20) == 0 // the load balancer's health check
	ep := endpoint{"GET", "/healthz", 200, false}
	if health {
		b = append(b, "10.0.0."...)
		b = strconv.AppendInt(b, int64(pick(g, []int{23, 87, 142})), 10)
	} else {
		b = g.appendClientIP(b)
		ep = pick(g, accessEndpoints)
	}
	b = append(b, " - - ["...)
	b = l.Time.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, `] "`...)
	b = append(b, ep.method...)
	b = append(b, ' ')
	b = g.appendPath(b, ep)
	if health {
		b = g.finishCombined(b, l, 200, 2, "-", "ELB-HealthChecker/2.0", 0.2+g.rng.Float64())
	} else {
		status, ms := g.accessStatus(h, ep, s)
		b = g.finishCombined(b, l, status, g.bodyBytes(status), pick(g, referers), pick(g, userAgents), ms)
		s = accessLevel(status)
	}
	g.b = b
	l.Text, l.Format, l.Source, l.Service, l.Level = string(b), FormatCombined, "/var/log/nginx/access.log", "nginx", s.level()
}

func (g *Generator) finishCombined(b []byte, l *Line, status, bytes int, referer, ua string, ms float64) []byte {
	b = append(b, "?request_id="...)
	b = appendSeq(b, l.Seq)
	b = append(b, ` HTTP/1.1" `...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(bytes), 10)
	b = append(b, ` "`...)
	b = append(b, referer...)
	b = append(b, `" "`...)
	b = append(b, ua...)
	b = append(b, `" `...)
	return appendFixed(b, ms/1000, 3)
}

// alb: the load balancer's access log (https listener), attributed to the
// target host that served the request.
func (g *Generator) albLine(l *Line, h *host, s sev) {
	ep := pick(g, accessEndpoints)
	status, ms := g.accessStatus(h, ep, s)
	targetStatus := strconv.Itoa(status)
	targetTime := ms / 1000
	if status == 504 { // the target did not answer in time
		targetStatus, targetTime = "-", -1
	}
	reqTime, respTime := float64(g.rng.IntN(3))/1000, 0.0
	total := time.Duration((reqTime + max(targetTime, 0) + respTime) * float64(time.Second))
	if status == 504 {
		total = time.Duration(ms * float64(time.Millisecond))
	}

	b := append(g.b[:0], "https "...)
	b = l.Time.AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	b = append(b, " app/pay-gw-prod/50dc6c495c0c9188 "...)
	b = g.appendClientIP(b)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(1024+g.rng.IntN(64511)), 10)
	b = append(b, ' ')
	b = append(b, h.ip...)
	b = append(b, ":80 "...)
	b = appendFixed(b, reqTime, 3)
	b = append(b, ' ')
	b = appendFixed(b, targetTime, 3)
	b = append(b, ' ')
	b = appendFixed(b, respTime, 3)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, targetStatus...)
	b = append(b, ' ')
	recv := 180 + g.rng.IntN(900)
	if ep.method == "GET" {
		recv = 90 + g.rng.IntN(300)
	}
	b = strconv.AppendInt(b, int64(recv), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(g.bodyBytes(status)+180), 10)
	b = append(b, ` "`...)
	b = append(b, ep.method...)
	b = append(b, " https://pay.example.com:443"...)
	b = g.appendPath(b, ep)
	b = append(b, "?request_id="...)
	b = appendSeq(b, l.Seq)
	tls13 := g.rng.IntN(3) > 0
	if tls13 {
		b = append(b, ` HTTP/2.0" "`...)
	} else {
		b = append(b, ` HTTP/1.1" "`...)
	}
	b = append(b, pick(g, userAgents)...)
	if tls13 {
		b = append(b, `" TLS_AES_128_GCM_SHA256 TLSv1.3 `...)
	} else {
		b = append(b, `" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 `...)
	}
	b = append(b, `arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/pay-gw-web/73e2d6bc24d8a067 "Root=1-`...)
	b = append(b, strconv.FormatInt(l.Time.Unix(), 16)...)
	b = append(b, '-')
	b = g.appendRandHex(b, 24)
	b = append(b, `" "pay.example.com" "arn:aws:acm:eu-west-1:123456789012:certificate/3f1c2a7e-9b4d-4e0a-8c6f-2d5b7a9e1f30" 0 `...)
	b = l.Time.Add(-total).AppendFormat(b, "2006-01-02T15:04:05.000000Z")
	b = append(b, ` "forward" "-" "-" "`...)
	b = append(b, h.ip...)
	b = append(b, `:80" "`...)
	b = append(b, targetStatus...)
	b = append(b, `" "-" "-" TID_`...)
	b = g.appendRandHex(b, 32)
	g.b = b
	l.Text, l.Format, l.Source, l.Service, l.Level = string(b), FormatALB, g.albSource(l.Time), "alb", accessLevel(status).level()
}

// albSource names the S3 object the line came from: the load balancer
// writes one per node every 5 minutes.
func (g *Generator) albSource(t time.Time) string {
	win := t.Truncate(5 * time.Minute)
	if g.albSrc == "" || !win.Equal(g.albWin) {
		g.albWin = win
		g.albSrc = "s3://pay-gw-alb-logs/AWSLogs/123456789012/elasticloadbalancing/eu-west-1/" +
			win.UTC().Format("2006/01/02") +
			"/123456789012_elasticloadbalancing_eu-west-1_app.pay-gw-prod.50dc6c495c0c9188_" +
			win.UTC().Format("20060102T1504Z") + "_52.18.44.7_2et2e1mx.log.gz"
	}
	return g.albSrc
}

// syslog facilities and severities (RFC 5424 numbering).
const (
	facKern     = 0
	facDaemon   = 3
	facCron     = 9
	facAuthpriv = 10
	facLocal0   = 16
	facLocal1   = 17

	sevErr     = 3
	sevWarning = 4
	sevInfoNum = 6
)

func appendPRI(b []byte, facility, severity int) []byte {
	b = append(b, '<')
	b = strconv.AppendInt(b, int64(facility*8+severity), 10)
	return append(b, '>')
}

// syslog3164: system daemons and the payments worker, through rsyslog.
func (g *Generator) syslog3164Line(l *Line, h *host, s sev) {
	b := g.b[:0]
	source := "/var/log/syslog"
	head := func(fac, severity int, prog string, pid int) {
		b = appendPRI(b, fac, severity)
		b = l.Time.AppendFormat(b, time.Stamp)
		b = append(b, ' ')
		b = append(b, h.name...)
		b = append(b, ' ')
		b = append(b, prog...)
		if pid > 0 {
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(pid), 10)
			b = append(b, ']')
		}
		b = append(b, ": "...)
		l.Service = prog
	}
	switch {
	case s == sevFail && (g.curBad || g.rng.IntN(2) == 0):
		head(facLocal0, sevErr, "payments-worker", h.workerPID)
		b = append(b, "settlement batch "...)
		b = appendSeq(b, l.Seq)
		b = append(b, " failed: "...)
		b = g.appendTimeout(b)
	case s == sevFail:
		head(facDaemon, sevErr, "systemd", 1)
		b = append(b, "payments-worker.service: Main process exited, code=exited, status=1/FAILURE (job "...)
		b = appendSeq(b, l.Seq)
		b = append(b, ')')
	case s == sevWarn && g.rng.IntN(2) == 0:
		source = "/var/log/auth.log"
		head(facAuthpriv, sevWarning, "sshd", h.sshdPID+int(l.Seq%977))
		b = append(b, "Connection closed by authenticating user root 198.51.100."...)
		b = strconv.AppendInt(b, int64(1+g.rng.IntN(254)), 10)
		b = append(b, " port "...)
		b = strconv.AppendInt(b, int64(1024+g.rng.IntN(64511)), 10)
		b = append(b, " [preauth] (session "...)
		b = appendSeq(b, l.Seq)
		b = append(b, ')')
	case s == sevWarn:
		head(facLocal0, sevWarning, "payments-worker", h.workerPID)
		b = append(b, "settlement batch "...)
		b = appendSeq(b, l.Seq)
		b = append(b, " slow: "...)
		b = appendFixed(b, 2+g.rng.Float64()*6, 1)
		b = append(b, " s"...)
	default:
		switch g.rng.IntN(5) {
		case 0:
			source = "/var/log/auth.log"
			head(facAuthpriv, sevInfoNum, "sshd", h.sshdPID+int(l.Seq%977))
			b = append(b, "Accepted publickey for deploy from 10.0.9."...)
			b = strconv.AppendInt(b, int64(2+g.rng.IntN(20)), 10)
			b = append(b, " port "...)
			b = strconv.AppendInt(b, int64(1024+g.rng.IntN(64511)), 10)
			b = append(b, " ssh2 (session "...)
			b = appendSeq(b, l.Seq)
			b = append(b, ')')
		case 1:
			head(facCron, sevInfoNum, "CRON", h.cronPID+int(l.Seq%499))
			b = append(b, "(root) CMD (/usr/local/bin/settle-batches --batch-id "...)
			b = appendSeq(b, l.Seq)
			b = append(b, ')')
		case 2:
			head(facDaemon, sevInfoNum, "systemd", 1)
			b = append(b, "Started logrotate.service - Rotate log files (job "...)
			b = appendSeq(b, l.Seq)
			b = append(b, ")."...)
		case 3:
			head(facKern, sevInfoNum, "kernel", 0)
			b = append(b, '[')
			b = appendFixed(b, 86400+l.Time.Sub(g.cfg.Start).Seconds(), 6)
			b = append(b, "] eth0: renewed DHCP lease (transaction "...)
			b = appendSeq(b, l.Seq)
			b = append(b, ')')
		default:
			head(facLocal0, sevInfoNum, "payments-worker", h.workerPID)
			b = append(b, "settlement batch "...)
			b = appendSeq(b, l.Seq)
			b = append(b, " closed: "...)
			b = strconv.AppendInt(b, int64(50+g.rng.IntN(900)), 10)
			b = append(b, " transactions, 0 rejected"...)
		}
	}
	g.b = b
	l.Text, l.Format, l.Source, l.Level = string(b), FormatSyslog3164, source, s.level()
}

// syslog5424: the payments worker and the fraud-sync job, RFC 5424 with
// structured data.
func (g *Generator) syslog5424Line(l *Line, h *host, s sev) {
	app, fac, msgid, pid := "payments-worker", facLocal0, "SETTLE", h.workerPID
	if g.rng.IntN(3) == 0 {
		app, fac, msgid, pid = "fraud-sync", facLocal1, "SYNC", h.workerPID+113
	}
	severity := sevInfoNum
	switch s {
	case sevWarn:
		severity = sevWarning
	case sevFail:
		severity = sevErr
	}
	b := appendPRI(g.b[:0], fac, severity)
	b = append(b, "1 "...)
	b = l.Time.AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
	b = append(b, ' ')
	b = append(b, h.name...)
	b = append(b, ' ')
	b = append(b, app...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(pid), 10)
	b = append(b, ' ')
	b = append(b, msgid...)
	b = append(b, ` [meta@32473 request_id="`...)
	b = appendSeq(b, l.Seq)
	b = append(b, `" trace_id="`...)
	ts := len(b)
	b = g.appendRandHex(b, 32)
	b = append(b, `" span_id="`...)
	ss := len(b)
	b = g.appendIDHex(b, 16)
	b = append(b, `"] `...)
	g.traceAt, g.spanAt, g.cur.job = ts, ss, msgid
	switch {
	case s == sevFail && app == "fraud-sync":
		b = append(b, "merchant risk table sync failed: "...)
		b = g.appendTimeout(b)
	case s == sevFail:
		b = append(b, "settlement batch failed: "...)
		b = g.appendTimeout(b)
	case s == sevWarn && app == "fraud-sync":
		b = append(b, "merchant risk table sync slow: "...)
		b = strconv.AppendInt(b, int64(20+g.rng.IntN(100)), 10)
		b = append(b, " s"...)
	case s == sevWarn:
		b = append(b, "settlement batch over deadline by "...)
		b = strconv.AppendInt(b, int64(1+g.rng.IntN(30)), 10)
		b = append(b, " s"...)
	case app == "fraud-sync":
		b = append(b, "merchant risk table synced: "...)
		b = strconv.AppendInt(b, int64(1000+g.rng.IntN(9000)), 10)
		b = append(b, " rows"...)
	default:
		b = append(b, "settlement batch closed: "...)
		b = strconv.AppendInt(b, int64(50+g.rng.IntN(900)), 10)
		b = append(b, " transactions"...)
	}
	g.b = b
	l.Text, l.Format, l.Source, l.Service, l.Level = string(b), FormatSyslog5424, "/var/log/"+app+".log", app, s.level()
}

// java: the db-pool JVM, logback pattern
// "%d{yyyy-MM-dd HH:mm:ss.SSS} %-5level [%thread] %logger{20} - %msg [%X{requestId}]".
func (g *Generator) javaLine(l *Line, h *host, s sev) {
	b := l.Time.AppendFormat(g.b[:0], "2006-01-02 15:04:05.000")
	switch s {
	case sevWarn:
		b = append(b, " WARN  ["...)
	case sevFail:
		b = append(b, " ERROR ["...)
	default:
		b = append(b, " INFO  ["...)
	}
	if g.rng.IntN(8) == 0 {
		b = append(b, "HikariPool-1 housekeeper"...)
	} else {
		b = append(b, "http-nio-8080-exec-"...)
		b = strconv.AppendInt(b, int64(1+g.rng.IntN(50)), 10)
	}
	b = append(b, "] "...)
	switch {
	case s == sevFail && g.dbTimeout(h):
		b = append(b, "c.e.payments.DbPool - Connection timeout after "...)
		b = strconv.AppendInt(b, int64(3000+g.rng.IntN(60)), 10)
		b = append(b, " ms to 10.0.4.7:3306"...)
	case s == sevFail:
		b = append(b, "o.h.e.j.spi.SqlExceptionHelper - Deadlock found when trying to get lock; try restarting transaction"...)
	case s == sevWarn && g.rng.IntN(2) == 0:
		b = append(b, "c.z.hikari.pool.HikariPool - HikariPool-1 - Thread starvation or clock leap detected (housekeeper delta="...)
		b = strconv.AppendInt(b, int64(45+g.rng.IntN(60)), 10)
		b = append(b, "s)."...)
	case s == sevWarn:
		b = append(b, "c.e.payments.DbPool - Slow query took "...)
		b = strconv.AppendInt(b, int64(1000+g.rng.IntN(4000)), 10)
		b = append(b, " ms on ledger_entries"...)
	default:
		active := 2 + g.rng.IntN(16)
		switch g.rng.IntN(3) {
		case 0:
			b = append(b, "c.e.payments.DbPool - Connection acquired in "...)
			b = strconv.AppendInt(b, int64(g.rng.IntN(8)), 10)
			b = append(b, " ms (active="...)
			b = strconv.AppendInt(b, int64(active), 10)
			b = append(b, ", idle="...)
			b = strconv.AppendInt(b, int64(20-active), 10)
			b = append(b, ", waiting=0)"...)
		case 1:
			b = append(b, "c.e.payments.LedgerClient - Ledger entry committed in "...)
			b = strconv.AppendInt(b, int64(3+g.rng.IntN(40)), 10)
			b = append(b, " ms"...)
		default:
			b = append(b, "c.z.hikari.pool.HikariPool - HikariPool-1 - Pool stats (total=20, active="...)
			b = strconv.AppendInt(b, int64(active), 10)
			b = append(b, ", idle="...)
			b = strconv.AppendInt(b, int64(20-active), 10)
			b = append(b, ", waiting=0)"...)
		}
	}
	b = append(b, " ["...)
	b = appendSeq(b, l.Seq)
	b = append(b, ']')
	g.b = b
	l.Text, l.Format, l.Source, l.Service, l.Level = string(b), FormatJava, "/var/log/db-pool/db-pool.log", "db-pool", s.level()
}

// garbageLine writes a line that matches no format; its token is at the tail.
func (g *Generator) garbageLine(l *Line) {
	l.Format = FormatNone
	b := g.b[:0]
	switch g.rng.IntN(4) {
	case 0: // binary-ish: control characters and Latin-1 noise, valid UTF-8
		l.Source = "stdin"
		for range 20 + g.rng.IntN(100) {
			var r rune
			switch g.rng.IntN(4) {
			case 0:
				r = pick(g, []rune{0x01, 0x02, 0x03, 0x04, 0x07, 0x08, 0x0b, 0x0c, 0x0e, 0x1b, 0x1f, 0x7f})
			case 1:
				r = utf8.RuneError
			default:
				r = rune(0x80 + g.rng.IntN(0x80))
			}
			b = utf8.AppendRune(b, r)
		}
		b = append(b, ' ')
		b = appendSeq(b, l.Seq)
	case 1: // JSON cut off after the request id
		l.Source = "/var/log/checkout-api/app.log"
		b = append(b, `{"ts":"`...)
		b = l.Time.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","level":"info","msg":"order created","service":"checkout-api","request_id":"`...)
		b = appendSeq(b, l.Seq)
		b = append(b, `","trace_id":"`...)
		b = g.appendRandHex(b, 32)
		b = append(b, `","status":201}`...)
		keep := len(b) - 1 - g.rng.IntN(48) // never the closing brace
		b = b[:keep]
	case 2: // an HTML error page logged as a response body
		l.Source = "/var/log/checkout-api/app.log"
		b = append(b, "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html> "...)
		b = appendSeq(b, l.Seq)
	default: // a gzip blob someone printed as base64
		l.Source = "stdin"
		raw := make([]byte, 30+g.rng.IntN(120))
		for i := range raw {
			raw[i] = byte(g.rng.Uint32())
		}
		raw[0], raw[1] = 0x1f, 0x8b
		b = base64.RawStdEncoding.AppendEncode(b, raw)
		b = append(b, ' ')
		b = appendSeq(b, l.Seq)
	}
	g.b = b
	l.Text = string(b)
}

// SeqOf finds the "req-<Seq>" token in a generated line's text.
func SeqOf(text string) (uint64, bool) {
	for i := 0; i+4 < len(text); i++ {
		if text[i] != 'r' || text[i+1] != 'e' || text[i+2] != 'q' || text[i+3] != '-' {
			continue
		}
		j := i + 4
		for j < len(text) && text[j] >= '0' && text[j] <= '9' {
			j++
		}
		if j == i+4 {
			continue
		}
		n, err := strconv.ParseUint(text[i+4:j], 10, 64)
		return n, err == nil
	}
	return 0, false
}
