package s3

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/parquet-go/parquet-go"

	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/sinks"
)

// Parquet objects: one file per object, one row group, one row per record.
// Every file starts with the columns kafka_topic, kafka_partition and
// kafka_offset, then the record's fields under their JSON names. The
// millisecond times are TIMESTAMP(MILLIS, UTC), Level is its symbol,
// LogEvent.labels is a MAP<string,string>, the signatures and samples are
// LISTs of groups, Avro nulls are optional columns.
//
// The encoding is deterministic: the same lines give the same bytes (the
// deterministic mode overwrites an object with itself on a replay). The
// writer's created_by is fixed (parquet-go's default carries its version),
// map entries are written in key order, and there is no other metadata.

// parquetCreatedBy is the files' created_by.
const parquetCreatedBy = "logstream"

// parquetBatch is how many rows are converted before they go to the writer:
// it bounds the row structs alive at once; the writer holds the columns.
const parquetBatch = 512

type signatureRow struct {
	Signature string `parquet:"signature"`
	Count     int64  `parquet:"count"`
	Example   string `parquet:"example"`
}

type traceSampleRow struct {
	TraceID        string `parquet:"trace_id"`
	EventID        string `parquet:"event_id"`
	Timestamp      int64  `parquet:"timestamp,timestamp(millisecond)"`
	Message        string `parquet:"message"`
	SpanService    string `parquet:"span_service"`
	SpanOperation  string `parquet:"span_operation"`
	SpanDurationUs *int64 `parquet:"span_duration_us,optional"`
}

type logEventRow struct {
	KafkaTopic     string `parquet:"kafka_topic,dict"`
	KafkaPartition int32  `parquet:"kafka_partition"`
	KafkaOffset    int64  `parquet:"kafka_offset,delta"`

	EventID        string            `parquet:"event_id"`
	Timestamp      int64             `parquet:"timestamp,timestamp(millisecond)"`
	Host           string            `parquet:"host,dict"`
	Service        string            `parquet:"service,dict"`
	Level          string            `parquet:"level,dict"`
	Message        string            `parquet:"message"`
	TraceID        *string           `parquet:"trace_id,optional"`
	SpanID         *string           `parquet:"span_id,optional"`
	HTTPStatus     *int32            `parquet:"http_status,optional"`
	LatencyMs      *float64          `parquet:"latency_ms,optional"`
	K8sNamespace   *string           `parquet:"k8s_namespace,optional,dict"`
	K8sPod         *string           `parquet:"k8s_pod,optional"`
	K8sContainer   *string           `parquet:"k8s_container,optional,dict"`
	Labels         map[string]string `parquet:"labels"`
	ParseError     *string           `parquet:"parse_error,optional"`
	Source         string            `parquet:"source,dict"`
	Format         string            `parquet:"format,dict"`
	Cluster        string            `parquet:"cluster,dict"`
	SpanService    string            `parquet:"span_service,dict"`
	SpanOperation  string            `parquet:"span_operation"`
	SpanDurationUs *int64            `parquet:"span_duration_us,optional"`
	SpanStatus     string            `parquet:"span_status,dict"`
	RootOperation  string            `parquet:"root_operation"`
	JoinStatus     string            `parquet:"join_status,dict"`
	Stack          *string           `parquet:"stack,optional"`
	Masked         int32             `parquet:"masked"`
}

type alertRow struct {
	KafkaTopic     string `parquet:"kafka_topic,dict"`
	KafkaPartition int32  `parquet:"kafka_partition"`
	KafkaOffset    int64  `parquet:"kafka_offset,delta"`

	ID          string           `parquet:"id"`
	DedupKey    string           `parquet:"dedup_key"`
	State       string           `parquet:"state,dict"`
	Scope       string           `parquet:"scope,dict"`
	Host        string           `parquet:"host,dict"`
	Rule        string           `parquet:"rule,dict"`
	Rules       []string         `parquet:"rules,list"`
	Summary     string           `parquet:"summary"`
	Rate        float64          `parquet:"rate"`
	FleetRate   float64          `parquet:"fleet_rate"`
	BurnRate    *float64         `parquet:"burn_rate,optional"`
	Events      int64            `parquet:"events"`
	Errors      int64            `parquet:"errors"`
	WindowStart int64            `parquet:"window_start,timestamp(millisecond)"`
	WindowEnd   int64            `parquet:"window_end,timestamp(millisecond)"`
	Signatures  []signatureRow   `parquet:"signatures,list"`
	Samples     []traceSampleRow `parquet:"samples,list"`
	FirstSeen   int64            `parquet:"first_seen,timestamp(millisecond)"`
	LastSeen    int64            `parquet:"last_seen,timestamp(millisecond)"`
	At          int64            `parquet:"at,timestamp(millisecond)"`
}

type hostWindowRow struct {
	KafkaTopic     string `parquet:"kafka_topic,dict"`
	KafkaPartition int32  `parquet:"kafka_partition"`
	KafkaOffset    int64  `parquet:"kafka_offset,delta"`

	Host         string           `parquet:"host,dict"`
	Kind         string           `parquet:"kind,dict"`
	Start        int64            `parquet:"start,timestamp(millisecond)"`
	End          int64            `parquet:"end,timestamp(millisecond)"`
	Emit         string           `parquet:"emit,dict"`
	Version      int64            `parquet:"version"`
	AsOf         int64            `parquet:"as_of,timestamp(millisecond)"`
	Events       int64            `parquet:"events"`
	Errors       int64            `parquet:"errors"`
	ErrorRate    float64          `parquet:"error_rate"`
	LatencyCount int64            `parquet:"latency_count"`
	LatencyP50   *float64         `parquet:"latency_p50_ms,optional"`
	LatencyP95   *float64         `parquet:"latency_p95_ms,optional"`
	LatencyP99   *float64         `parquet:"latency_p99_ms,optional"`
	FirstError   *int64           `parquet:"first_error,optional,timestamp(millisecond)"`
	Signatures   []signatureRow   `parquet:"signatures,list"`
	Samples      []traceSampleRow `parquet:"samples,list"`
}

// Schemas of the three row kinds, built once; the root is named after the
// record.
var (
	logEventSchema   = parquet.NewSchema(schemas.NameLogEvent, parquet.SchemaOf(new(logEventRow)))
	alertSchema      = parquet.NewSchema(schemas.NameAlert, parquet.SchemaOf(new(alertRow)))
	hostWindowSchema = parquet.NewSchema(schemas.NameHostWindow, parquet.SchemaOf(new(hostWindowRow)))
)

// encodeParquet encodes one object's lines as a Parquet file. All lines
// must hold the same kind of decoded record (one object is one topic's).
func encodeParquet(topic string, partition int32, lines []line) ([]byte, error) {
	if len(lines) == 0 {
		return nil, errors.New("s3 sink: parquet: no records to encode")
	}
	switch lines[0].value.(type) {
	case *schemas.LogEvent:
		return writeParquet(topic, partition, lines, logEventSchema, logEventRowOf)
	case *schemas.Alert:
		return writeParquet(topic, partition, lines, alertSchema, alertRowOf)
	case *schemas.HostWindow:
		return writeParquet(topic, partition, lines, hostWindowSchema, hostWindowRowOf)
	default:
		return nil, badValue(topic, partition, lines[0])
	}
}

// badValue is the error for a line whose value is not a record the Parquet
// encoder knows, or nil.
func badValue(topic string, partition int32, l line) error {
	if l.value == nil {
		return &sinks.Permanent{Err: fmt.Errorf("s3 sink: parquet: record %s/%d@%d has no decoded value", topic, partition, l.offset)}
	}
	return &sinks.Permanent{Err: fmt.Errorf("s3 sink: parquet: record %s/%d@%d is a %T; Parquet objects hold *schemas.LogEvent, *schemas.Alert or *schemas.HostWindow records", topic, partition, l.offset, l.value)}
}

// writeParquet writes lines as rows of type R, converting each value (a *V)
// with conv.
func writeParquet[R, V any](topic string, partition int32, lines []line, schema *parquet.Schema, conv func(*V) R) ([]byte, error) {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[R](&buf, schema,
		parquet.Compression(&parquet.Zstd),
		&parquet.WriterConfig{CreatedBy: parquetCreatedBy},
	)
	rows := make([]R, 0, min(len(lines), parquetBatch))
	flush := func() error {
		if _, err := w.Write(rows); err != nil {
			return fmt.Errorf("s3 sink: parquet: write rows of %s/%d: %w", topic, partition, err)
		}
		clear(rows) // drop the references to the records
		rows = rows[:0]
		return nil
	}
	first := lines[0]
	for _, l := range lines {
		v, ok := l.value.(*V)
		if !ok {
			if l.value == nil {
				return nil, badValue(topic, partition, l)
			}
			return nil, &sinks.Permanent{Err: fmt.Errorf("s3 sink: parquet: record %s/%d@%d is a %T but the object's first record (offset %d) is a %T: one object holds one kind of record",
				topic, partition, l.offset, l.value, first.offset, first.value)}
		}
		if v == nil {
			return nil, &sinks.Permanent{Err: fmt.Errorf("s3 sink: parquet: record %s/%d@%d has a nil %T value", topic, partition, l.offset, l.value)}
		}
		r := conv(v)
		setKafka(&r, topic, partition, l.offset)
		rows = append(rows, r)
		if len(rows) == cap(rows) {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if len(rows) > 0 {
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("s3 sink: parquet: close file of %s/%d: %w", topic, partition, err)
	}
	return buf.Bytes(), nil
}

// setKafka fills the kafka_* columns of a row.
func setKafka(r any, topic string, partition int32, offset int64) {
	switch r := r.(type) {
	case *logEventRow:
		r.KafkaTopic, r.KafkaPartition, r.KafkaOffset = topic, partition, offset
	case *alertRow:
		r.KafkaTopic, r.KafkaPartition, r.KafkaOffset = topic, partition, offset
	case *hostWindowRow:
		r.KafkaTopic, r.KafkaPartition, r.KafkaOffset = topic, partition, offset
	}
}

func logEventRowOf(e *schemas.LogEvent) logEventRow {
	return logEventRow{
		EventID:        e.EventID,
		Timestamp:      e.Timestamp,
		Host:           e.Host,
		Service:        e.Service,
		Level:          e.Level.String(),
		Message:        e.Message,
		TraceID:        e.TraceID,
		SpanID:         e.SpanID,
		HTTPStatus:     e.HTTPStatus,
		LatencyMs:      e.LatencyMs,
		K8sNamespace:   e.K8sNamespace,
		K8sPod:         e.K8sPod,
		K8sContainer:   e.K8sContainer,
		Labels:         e.Labels,
		ParseError:     e.ParseError,
		Source:         e.Source,
		Format:         e.Format,
		Cluster:        e.Cluster,
		SpanService:    e.SpanService,
		SpanOperation:  e.SpanOperation,
		SpanDurationUs: e.SpanDurationUs,
		SpanStatus:     e.SpanStatus,
		RootOperation:  e.RootOperation,
		JoinStatus:     e.JoinStatus,
		Stack:          e.Stack,
		Masked:         e.Masked,
	}
}

func alertRowOf(a *schemas.Alert) alertRow {
	return alertRow{
		ID:          a.ID,
		DedupKey:    a.DedupKey,
		State:       a.State,
		Scope:       a.Scope,
		Host:        a.Host,
		Rule:        a.Rule,
		Rules:       a.Rules,
		Summary:     a.Summary,
		Rate:        a.Rate,
		FleetRate:   a.FleetRate,
		BurnRate:    a.BurnRate,
		Events:      a.Events,
		Errors:      a.Errors,
		WindowStart: a.WindowStart,
		WindowEnd:   a.WindowEnd,
		Signatures:  signatureRows(a.Signatures),
		Samples:     traceSampleRows(a.Samples),
		FirstSeen:   a.FirstSeen,
		LastSeen:    a.LastSeen,
		At:          a.At,
	}
}

func hostWindowRowOf(h *schemas.HostWindow) hostWindowRow {
	return hostWindowRow{
		Host:         h.Host,
		Kind:         h.Kind,
		Start:        h.Start,
		End:          h.End,
		Emit:         h.Emit,
		Version:      h.Version,
		AsOf:         h.AsOf,
		Events:       h.Events,
		Errors:       h.Errors,
		ErrorRate:    h.ErrorRate,
		LatencyCount: h.LatencyCount,
		LatencyP50:   h.LatencyP50,
		LatencyP95:   h.LatencyP95,
		LatencyP99:   h.LatencyP99,
		FirstError:   h.FirstError,
		Signatures:   signatureRows(h.Signatures),
		Samples:      traceSampleRows(h.Samples),
	}
}

func signatureRows(s []schemas.Signature) []signatureRow {
	if len(s) == 0 {
		return nil
	}
	out := make([]signatureRow, len(s))
	for i, x := range s {
		out[i] = signatureRow(x) // same fields, in the same order
	}
	return out
}

func traceSampleRows(s []schemas.TraceSample) []traceSampleRow {
	if len(s) == 0 {
		return nil
	}
	out := make([]traceSampleRow, len(s))
	for i, x := range s {
		out[i] = traceSampleRow(x)
	}
	return out
}
