package parse

// Structured formats (JSON, logfmt) name their fields freely; this file maps
// the usual names onto Fields. Names are matched exactly (they are case
// sensitive in the producers too). A nested JSON object is matched by its
// dotted path, so {"log":{"level":"info"}} and {"log.level":"info"} both
// give the level. Whatever is not mapped, or is mapped but cannot be read
// (an unparsable time, an unknown level name, a bad trace id), is kept as a
// label under its own name, so nothing is lost. A time field whose value
// does not parse also sets ParseError, unless another time field of the
// line gave the time: the event would otherwise get its receive time with
// nothing saying so. An empty value counts as no time.
//
// Units assumed for latency fields holding a bare number:
//   - latency, latency_ms, duration, duration_ms, elapsed, elapsed_ms,
//     response_time, response_time_ms, took: milliseconds;
//   - latency_us, duration_us: microseconds;
//   - duration_ns, event.duration (Elastic Common Schema): nanoseconds;
//   - latency_s, duration_s, duration_seconds, elapsed_s, request_time
//     (nginx's $request_time): seconds.
//
// A string with a unit ("12ms", "1.5s", "250µs") is read with
// time.ParseDuration whatever the field's name.

type keyClass uint8

const (
	keyOther keyClass = iota
	keyTime
	keyLevel
	keyMessage
	keyTraceID
	keySpanID
	keyTraceparent
	keyStatus
	keyLatency
	keyHost
	keyService
	keyK8sNamespace
	keyK8sPod
	keyK8sContainer
	keyEventID
)

// classifyKey tells what a field name means. For keyLatency arg is the unit
// of a bare number, as a multiplier to milliseconds; for keyService it is the
// rank of the name (a lower rank wins when a line has several).
func classifyKey(k string) (keyClass, float64) {
	switch k {
	case "time", "ts", "timestamp", "@timestamp", "datetime":
		return keyTime, 0
	case "level", "severity", "lvl", "log.level", "loglevel", "levelname":
		return keyLevel, 0
	case "msg", "message", "log":
		return keyMessage, 0
	case "trace_id", "traceId", "traceID", "trace.id", "trace-id":
		return keyTraceID, 0
	case "span_id", "spanId", "spanID", "span.id", "span-id":
		return keySpanID, 0
	case "traceparent":
		return keyTraceparent, 0
	case "status", "status_code", "statusCode", "http_status", "http.status_code", "http.response.status_code":
		return keyStatus, 0
	case "latency", "latency_ms", "duration", "duration_ms", "elapsed", "elapsed_ms", "response_time", "response_time_ms", "took":
		return keyLatency, unitMs
	case "latency_us", "duration_us":
		return keyLatency, unitUs
	case "duration_ns", "event.duration":
		return keyLatency, unitNs
	case "latency_s", "duration_s", "duration_seconds", "elapsed_s", "request_time":
		return keyLatency, unitSec
	case "host", "hostname", "host.name":
		return keyHost, 0
	case "service", "service.name", "service_name":
		return keyService, 1
	case "app", "application", "app_name":
		return keyService, 2
	case "logger", "logger_name", "log.logger":
		return keyService, 3
	case "kubernetes.namespace_name", "kubernetes.pod_namespace", "kubernetes.namespace", "k8s.namespace.name":
		return keyK8sNamespace, 0
	case "kubernetes.pod_name", "kubernetes.pod", "k8s.pod.name":
		return keyK8sPod, 0
	case "kubernetes.container_name", "kubernetes.container", "k8s.container.name":
		return keyK8sContainer, 0
	case "id", "event_id", "eventId", "eventID":
		return keyEventID, 0
	}
	return keyOther, 0
}

// Kinds of values a structured line holds.
const (
	kindString uint8 = iota
	kindNumber
	kindBool
	kindNull
	kindRaw // a JSON array (or an object nested too deep), kept as its JSON text
)

// kv is one field of a structured line: its (dotted) name and its value,
// unquoted and unescaped.
type kv struct {
	key  string
	val  string
	kind uint8
}

// applyKVs maps the fields of a structured line onto f. It reports whether
// a message field was found. With hostOnly it sets nothing but f.Host (the
// cheap path of HostOf), with exactly the rule the full parse uses.
func applyKVs(f *Fields, kvs []kv, hostOnly bool) bool {
	msgSet := false
	svcRank := 0.0
	svcKey := ""
	badTime := -1 // the first time field whose value does not parse
	for i := range kvs {
		p := &kvs[i]
		if p.kind == kindNull {
			continue
		}
		class, arg := keyOther, 0.0
		if p.kind != kindRaw {
			class, arg = classifyKey(p.key)
		}
		if hostOnly {
			if class == keyHost && f.Host == "" && p.val != "" {
				f.Host = p.val
			}
			continue
		}
		switch class {
		case keyTime:
			if f.Timestamp.IsZero() && p.kind != kindBool {
				if t, ok := parseTimeValue(p.val); ok {
					f.Timestamp = t
					continue
				}
			}
			if badTime < 0 && p.val != "" {
				badTime = i
			}
		case keyLevel:
			if f.Level == 0 {
				if l, ok := levelFromValue(p.val); ok {
					f.Level = l
					continue
				}
			}
		case keyMessage:
			if !msgSet && p.kind == kindString {
				f.Message = trimNewline(p.val)
				msgSet = true
				continue
			}
		case keyTraceID:
			if f.TraceID == "" {
				if t, ok := normTraceID(p.val); ok {
					f.TraceID = t
					continue
				}
			}
		case keySpanID:
			if f.SpanID == "" {
				if s, ok := normSpanID(p.val); ok {
					f.SpanID = s
					continue
				}
			}
		case keyTraceparent:
			if t, s, ok := parseTraceparent(p.val); ok {
				if f.TraceID == "" {
					f.TraceID = t
				}
				if f.SpanID == "" {
					f.SpanID = s
				}
				continue
			}
		case keyStatus:
			if f.HTTPStatus == 0 {
				if st, ok := parseStatus(p.val); ok {
					f.HTTPStatus = st
					continue
				}
			}
		case keyLatency:
			if !f.HasLatency && p.kind != kindBool {
				if ms, ok := parseLatency(p.val, arg); ok {
					f.LatencyMs, f.HasLatency = ms, true
					continue
				}
			}
		case keyHost:
			if f.Host == "" && p.val != "" {
				f.Host = p.val
				continue
			}
		case keyService:
			if p.val == "" {
				break
			}
			if f.Service == "" {
				f.Service, svcRank, svcKey = p.val, arg, p.key
				continue
			}
			if arg < svcRank {
				f.setLabel(svcKey, f.Service)
				f.Service, svcRank, svcKey = p.val, arg, p.key
				continue
			}
		case keyK8sNamespace:
			if f.K8sNamespace == "" && p.val != "" {
				f.K8sNamespace = p.val
				continue
			}
		case keyK8sPod:
			if f.K8sPod == "" && p.val != "" {
				f.K8sPod = p.val
				continue
			}
		case keyK8sContainer:
			if f.K8sContainer == "" && p.val != "" {
				f.K8sContainer = p.val
				continue
			}
		case keyEventID:
			if f.EventID == "" && p.val != "" && p.kind != kindBool {
				f.EventID = p.val
				continue
			}
		}
		f.setLabel(p.key, p.val)
	}
	if badTime >= 0 && f.Timestamp.IsZero() {
		f.unreadableTime(f.Format, kvs[badTime].key, kvs[badTime].val)
	}
	return msgSet
}

// trimNewline drops the line break a shipper may leave at the end of a
// message (Docker's json-file "log" field keeps it).
func trimNewline(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}
