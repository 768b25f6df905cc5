package codecs

import (
	"fmt"

	"github.com/logstream/logstream/schemas"
)

// Typed codecs of the records on the per-event paths, for the latest
// version of each schema: field by field in the schema's order. A change to
// one of these schemas (a new version) needs its functions here changed to
// the new layout; the golden, round-trip and differential tests fail until
// they are.

// ---- RawLog (rawlog/v1) ----

func appendRawLog(b []byte, v *schemas.RawLog) ([]byte, error) {
	b = appendString(b, v.Host)
	b = appendString(b, v.Source)
	b = appendString(b, v.Line)
	b = appendLong(b, v.ReceivedAt)
	return appendStringMap(b, v.Labels), nil
}

func readRawLog(body []byte) (*schemas.RawLog, error) {
	r := newReader(body)
	v := &schemas.RawLog{
		Host:       r.str(),
		Source:     r.str(),
		Line:       r.str(),
		ReceivedAt: r.long(),
		Labels:     r.stringMap(),
	}
	if err := r.done(); err != nil {
		return nil, err
	}
	return v, nil
}

// ---- LogEvent (logevent/v3) ----

func appendLogEvent(b []byte, v *schemas.LogEvent) ([]byte, error) {
	if v.Level < 0 || int(v.Level) >= len(levelSymbols) {
		return nil, fmt.Errorf("field level: %d is not a schemas.Level", v.Level)
	}
	b = appendString(b, v.EventID)
	b = appendLong(b, v.Timestamp)
	b = appendString(b, v.Host)
	b = appendString(b, v.Service)
	b = appendLong(b, int64(v.Level))
	b = appendString(b, v.Message)
	b = appendOptString(b, v.TraceID)
	b = appendOptString(b, v.SpanID)
	b = appendOptInt(b, v.HTTPStatus)
	b = appendOptDouble(b, v.LatencyMs)
	b = appendOptString(b, v.K8sNamespace)
	b = appendOptString(b, v.K8sPod)
	b = appendOptString(b, v.K8sContainer)
	b = appendStringMap(b, v.Labels)
	b = appendOptString(b, v.ParseError)
	b = appendString(b, v.Source)
	b = appendString(b, v.Format)
	b = appendString(b, v.Cluster)
	b = appendString(b, v.SpanService)
	b = appendString(b, v.SpanOperation)
	b = appendOptLong(b, v.SpanDurationUs)
	b = appendString(b, v.SpanStatus)
	b = appendString(b, v.RootOperation)
	return appendString(b, v.JoinStatus), nil
}

// logEventBox holds a decoded LogEvent and the targets of its optional
// fields, so that one allocation serves them all.
type logEventBox struct {
	v        schemas.LogEvent
	strs     [6]string
	status   int32
	latency  float64
	duration int64
}

func readLogEvent(body []byte) (*schemas.LogEvent, error) {
	r := newReader(body)
	x := new(logEventBox)
	v := &x.v
	v.EventID = r.str()
	v.Timestamp = r.long()
	v.Host = r.str()
	v.Service = r.str()
	v.Level = schemas.Level(r.index(len(levelSymbols)))
	v.Message = r.str()
	v.TraceID = r.optString(&x.strs[0])
	v.SpanID = r.optString(&x.strs[1])
	v.HTTPStatus = r.optInt(&x.status)
	v.LatencyMs = r.optDouble(&x.latency)
	v.K8sNamespace = r.optString(&x.strs[2])
	v.K8sPod = r.optString(&x.strs[3])
	v.K8sContainer = r.optString(&x.strs[4])
	v.Labels = r.stringMap()
	v.ParseError = r.optString(&x.strs[5])
	v.Source = r.str()
	v.Format = r.str()
	v.Cluster = r.str()
	v.SpanService = r.str()
	v.SpanOperation = r.str()
	v.SpanDurationUs = r.optLong(&x.duration)
	v.SpanStatus = r.str()
	v.RootOperation = r.str()
	v.JoinStatus = r.str()
	if err := r.done(); err != nil {
		return nil, err
	}
	return v, nil
}
