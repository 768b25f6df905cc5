package fleet

import (
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/logstream/logstream/schemas"
)

// request is what a line says about the request it logs, kept in the Line
// for SpansFor.
type request struct {
	method    string  // HTTP method; "" for a batch job
	route     string  // the endpoint's path ("/api/v1/orders/" for an id endpoint)
	pathID    int     // the id after route, 0 if none
	status    int     // HTTP status of the response
	latencyMs float64 // as written in the line
	timeoutMs int     // the database timeout the line reports, 0 if none
	job       string  // RFC 5424 MSGID of a batch job (SETTLE, SYNC)
}

// Span operations and attributes SpansFor writes.
const (
	OpDBQuery  = "db.query"
	dbAddress  = "10.0.4.7"
	dbPort     = "3306"
	leadMinUs  = 1000 // the root span starts 1–8 ms before its line
	leadSpanUs = 7000
)

// jobOps names the root span of the RFC 5424 batch jobs by their MSGID.
var jobOps = map[string]string{"SETTLE": "settlement-batch", "SYNC": "risk-table-sync"}

// SpansFor returns the spans of the request l logs, as its service's
// OpenTelemetry SDK would export them, or nil when l carries no trace id:
//
//   - the root span, the service's operation ("POST /api/v1/checkout",
//     "GET /api/v1/orders/{id}", or for the payments worker and fraud-sync
//     jobs "settlement-batch" and "risk-table-sync"), whose span id is
//     l.SpanID (every line with a trace id is logged by its root span),
//     service and host those of l, status ERROR when l is an error line;
//   - a child "db.query" span, the database call (10.0.4.7:3306): when the
//     line reports the database timeout (always so on Config.BadHost's
//     failures) it is ERROR and lasts about the timeout the line names,
//     otherwise it takes a few milliseconds.
//
// The root starts 1 to 8 ms before l.Time and lasts the latency the line
// reports, and at least until after l.Time and the end of its child; the
// child starts within 2 ms of the root. The result depends only on
// Config.Seed and l, not on the calls made before: a repeated line
// (Line.Duplicate) has the spans of its original, since the shipper
// retried the log, not the request.
func (g *Generator) SpansFor(l Line) []schemas.Span {
	if l.TraceID == "" || l.SpanID == "" {
		return nil
	}
	r := rand.New(rand.NewPCG(g.cfg.Seed^0x94d049bb133111eb, l.Seq))
	rq := l.req
	lead := int64(leadMinUs + r.IntN(leadSpanUs))
	rootStart := l.Time.UnixMicro() - lead

	// The database call.
	childOff := int64(200 + r.IntN(1800))
	child := schemas.Span{
		TraceID:      l.TraceID,
		SpanID:       childSpanID(r, l.SpanID),
		ParentSpanID: &l.SpanID,
		Service:      l.Service,
		Operation:    OpDBQuery,
		Start:        rootStart + childOff,
		DurationUs:   int64(300 + r.IntN(7700)),
		Host:         l.Host,
		Attributes: map[string]string{
			"db.system.name":    "mysql",
			"db.operation.name": dbOperation(rq),
			"server.address":    dbAddress,
			"server.port":       dbPort,
		},
	}
	if rq.timeoutMs > 0 {
		child.DurationUs = int64(rq.timeoutMs)*1000 + int64(r.IntN(2000))
		child.Status = schemas.SpanError
		child.Attributes["error.type"] = "timeout"
		child.Attributes["otel.status_description"] = "timeout after " + strconv.Itoa(rq.timeoutMs) + " ms to " + dbAddress + ":" + dbPort
	}

	// The request.
	root := schemas.Span{
		TraceID:    l.TraceID,
		SpanID:     l.SpanID,
		Service:    l.Service,
		Start:      rootStart,
		Host:       l.Host,
		Attributes: map[string]string{"request_id": "req-" + strconv.FormatUint(l.Seq, 10)},
	}
	dur := int64(rq.latencyMs * 1000)
	switch {
	case rq.method != "":
		route, path := rq.route, rq.route
		if rq.pathID != 0 {
			route += "{id}"
			path += strconv.Itoa(rq.pathID)
		}
		root.Operation = rq.method + " " + route
		root.Attributes["http.request.method"] = rq.method
		root.Attributes["http.route"] = route
		root.Attributes["url.path"] = path
		root.Attributes["http.response.status_code"] = strconv.Itoa(rq.status)
	case rq.job != "":
		root.Operation = jobOps[rq.job]
		root.Attributes["syslog.msgid"] = rq.job
		dur = int64(50_000 + r.IntN(850_000)) // 50–900 ms
	default: // a Line built by hand
		root.Operation = "request"
	}
	if root.Operation == "" {
		root.Operation = "job " + rq.job
	}
	if l.Level == schemas.LevelError {
		root.Status = schemas.SpanError
	}
	root.DurationUs = max(dur,
		lead+int64(100+r.IntN(900)),                     // the line is written inside its span
		childOff+child.DurationUs+int64(50+r.IntN(500))) // and the span waits for its child
	return []schemas.Span{root, child}
}

// childSpanID draws a span id unlike the root's and not all zeros.
func childSpanID(r *rand.Rand, root string) string {
	for {
		var b [16]byte
		v := r.Uint64()
		for i := range b {
			b[i] = hexDigits[v&15]
			v >>= 4
		}
		if s := string(b[:]); s != root && s != "0000000000000000" {
			return s
		}
	}
}

func dbOperation(rq request) string {
	switch {
	case rq.job != "":
		return "UPDATE"
	case rq.method == "GET":
		return "SELECT"
	}
	return "INSERT"
}

// spanLeadMax is the most a root span starts before its line.
const spanLeadMax = time.Duration(leadMinUs+leadSpanUs) * time.Microsecond
