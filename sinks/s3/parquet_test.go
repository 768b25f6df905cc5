package s3

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"

	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/sinks"
)

func ptr[T any](v T) *T { return &v }

func parquetLines(values ...any) []line {
	lines := make([]line, len(values))
	for i, v := range values {
		lines[i] = line{offset: int64(100 + i), value: v}
	}
	return lines
}

func testLogEvents() []*schemas.LogEvent {
	labels := map[string]string{}
	for i := range 20 { // enough keys for map iteration order to vary
		labels[fmt.Sprintf("k%02d", i)] = fmt.Sprintf("v%d", i)
	}
	return []*schemas.LogEvent{
		{
			EventID: "e1", Timestamp: 1767225600123, Host: "web-1", Service: "api",
			Level: schemas.LevelError, Message: "boom",
			TraceID: ptr("0123456789abcdef0123456789abcdef"), SpanID: ptr("0123456789abcdef"),
			HTTPStatus: ptr(int32(503)), LatencyMs: ptr(12.5),
			K8sNamespace: ptr("prod"), K8sPod: ptr("api-7d9"), K8sContainer: ptr("api"),
			Labels: labels, ParseError: ptr("bad json"),
			Source: "file", Format: "json", Cluster: "eu-1",
			SpanService: "api", SpanOperation: "GET /x", SpanDurationUs: ptr(int64(4200)),
			SpanStatus: "ERROR", RootOperation: "GET /", JoinStatus: schemas.JoinJoined,
		},
		{
			// Every optional is nil, no labels.
			EventID: "e2", Timestamp: 1767225601000, Host: "web-2", Level: schemas.LevelInfo,
			Message: "ok", Source: "syslog", Format: "rfc5424", Cluster: "eu-1",
		},
		{
			EventID: "e3", Timestamp: 0, Host: "web-2", Level: schemas.Level(42), // out of range: UNKNOWN
			Labels: map[string]string{"only": ""}, HTTPStatus: ptr(int32(0)), LatencyMs: ptr(0.0),
		},
	}
}

func testAlerts() []*schemas.Alert {
	return []*schemas.Alert{
		{
			ID: "a1", DedupKey: "host:web-1:error_rate", State: schemas.AlertFiring, Scope: schemas.ScopeHost,
			Host: "web-1", Rule: "error_rate", Rules: []string{"error_rate", "latency"},
			Summary: "errors up", Rate: 0.25, FleetRate: 0.01, BurnRate: ptr(14.4),
			Events: 400, Errors: 100, WindowStart: 1767225600000, WindowEnd: 1767225660000,
			Signatures: []schemas.Signature{{Signature: "db timeout", Count: 80, Example: "db timeout after 5s"}, {Signature: "oom", Count: 20, Example: "out of memory"}},
			Samples: []schemas.TraceSample{
				{TraceID: "t1", EventID: "e1", Timestamp: 1767225600123, Message: "boom", SpanService: "db", SpanOperation: "query", SpanDurationUs: ptr(int64(5000000))},
				{TraceID: "t2", EventID: "e9", Timestamp: 1767225600999, Message: "boom 2"},
			},
			FirstSeen: 1767225600000, LastSeen: 1767225660000, At: 1767225660500,
		},
		{
			// No burn rate, empty lists.
			ID: "a2", DedupKey: "fleet:error_rate", State: schemas.AlertResolved, Scope: schemas.ScopeFleet,
			Rule: "error_rate", Summary: "back to normal", FirstSeen: 1, LastSeen: 2, At: 3,
		},
	}
}

func testHostWindows() []*schemas.HostWindow {
	return []*schemas.HostWindow{
		{
			Host: "web-1", Kind: schemas.WindowTumbling, Start: 1767225600000, End: 1767225660000,
			Emit: schemas.EmitFinal, Version: 3, AsOf: 1767225661000, Events: 1000, Errors: 10,
			ErrorRate: 0.01, LatencyCount: 900, LatencyP50: ptr(3.5), LatencyP95: ptr(40.0), LatencyP99: ptr(120.25),
			FirstError: ptr(int64(1767225600500)),
			Signatures: []schemas.Signature{{Signature: "s", Count: 10, Example: "ex"}},
			Samples:    []schemas.TraceSample{{TraceID: "t", EventID: "e", Timestamp: 1767225600500, Message: "m", SpanDurationUs: ptr(int64(7))}},
		},
		{
			// No latencies, no errors.
			Host: "web-2", Kind: schemas.WindowHopping, Start: 1767225600000, End: 1767225900000,
			Emit: schemas.EmitUpdate, Version: 1, AsOf: 1767225610000, Events: 5,
		},
	}
}

func toLines[T any](vs []*T) []line {
	values := make([]any, len(vs))
	for i, v := range vs {
		values[i] = v
	}
	return parquetLines(values...)
}

func readParquet[R any](t *testing.T, b []byte) []R {
	t.Helper()
	rows, err := parquet.Read[R](bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	return rows
}

func checkKafka(t *testing.T, i int, topic string, partition int32, offset int64, wantTopic string, wantPartition int32, wantOffset int64) {
	t.Helper()
	if topic != wantTopic || partition != wantPartition || offset != wantOffset {
		t.Errorf("row %d: kafka %s/%d@%d, want %s/%d@%d", i, topic, partition, offset, wantTopic, wantPartition, wantOffset)
	}
}

// eq compares two values; nil and empty maps and slices are the same (a
// Parquet column does not tell them apart).
func eq(t *testing.T, row int, name string, got, want any) {
	t.Helper()
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	if (g.Kind() == reflect.Map || g.Kind() == reflect.Slice) && g.Len() == 0 && w.Len() == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("row %d: %s = %#v, want %#v", row, name, got, want)
	}
}

func TestParquetLogEvent(t *testing.T) {
	events := testLogEvents()
	b, err := encodeParquet("logs.enriched", 7, toLines(events))
	if err != nil {
		t.Fatal(err)
	}
	rows := readParquet[logEventRow](t, b)
	if len(rows) != len(events) {
		t.Fatalf("%d rows, want %d", len(rows), len(events))
	}
	for i, r := range rows {
		e := events[i]
		checkKafka(t, i, r.KafkaTopic, r.KafkaPartition, r.KafkaOffset, "logs.enriched", 7, int64(100+i))
		eq(t, i, "event_id", r.EventID, e.EventID)
		eq(t, i, "timestamp", r.Timestamp, e.Timestamp)
		eq(t, i, "host", r.Host, e.Host)
		eq(t, i, "service", r.Service, e.Service)
		eq(t, i, "level", r.Level, e.Level.String())
		eq(t, i, "message", r.Message, e.Message)
		eq(t, i, "trace_id", r.TraceID, e.TraceID)
		eq(t, i, "span_id", r.SpanID, e.SpanID)
		eq(t, i, "http_status", r.HTTPStatus, e.HTTPStatus)
		eq(t, i, "latency_ms", r.LatencyMs, e.LatencyMs)
		eq(t, i, "k8s_namespace", r.K8sNamespace, e.K8sNamespace)
		eq(t, i, "k8s_pod", r.K8sPod, e.K8sPod)
		eq(t, i, "k8s_container", r.K8sContainer, e.K8sContainer)
		eq(t, i, "labels", r.Labels, e.Labels)
		eq(t, i, "parse_error", r.ParseError, e.ParseError)
		eq(t, i, "source", r.Source, e.Source)
		eq(t, i, "format", r.Format, e.Format)
		eq(t, i, "cluster", r.Cluster, e.Cluster)
		eq(t, i, "span_service", r.SpanService, e.SpanService)
		eq(t, i, "span_operation", r.SpanOperation, e.SpanOperation)
		eq(t, i, "span_duration_us", r.SpanDurationUs, e.SpanDurationUs)
		eq(t, i, "span_status", r.SpanStatus, e.SpanStatus)
		eq(t, i, "root_operation", r.RootOperation, e.RootOperation)
		eq(t, i, "join_status", r.JoinStatus, e.JoinStatus)
		eq(t, i, "stack", r.Stack, e.Stack)
		eq(t, i, "masked", r.Masked, e.Masked)
	}
	// Spot checks that do not go through the conversion under test.
	if rows[0].Level != "ERROR" || rows[2].Level != "UNKNOWN" {
		t.Errorf("levels %q, %q; want ERROR, UNKNOWN", rows[0].Level, rows[2].Level)
	}
	if rows[1].TraceID != nil || rows[1].HTTPStatus != nil || rows[1].LatencyMs != nil || rows[1].SpanDurationUs != nil {
		t.Errorf("row 1: nil optionals read back as values: %+v", rows[1])
	}
	if rows[2].HTTPStatus == nil || *rows[2].HTTPStatus != 0 || rows[2].LatencyMs == nil || *rows[2].LatencyMs != 0 {
		t.Errorf("row 2: zero optionals read back as %v, %v; want 0, 0", rows[2].HTTPStatus, rows[2].LatencyMs)
	}
	if len(rows[0].Labels) != 20 || rows[0].Labels["k07"] != "v7" {
		t.Errorf("row 0: labels %v", rows[0].Labels)
	}
}

func TestParquetAlert(t *testing.T) {
	alerts := testAlerts()
	b, err := encodeParquet("alerts", 0, toLines(alerts))
	if err != nil {
		t.Fatal(err)
	}
	rows := readParquet[alertRow](t, b)
	if len(rows) != len(alerts) {
		t.Fatalf("%d rows, want %d", len(rows), len(alerts))
	}
	for i, r := range rows {
		a := alerts[i]
		checkKafka(t, i, r.KafkaTopic, r.KafkaPartition, r.KafkaOffset, "alerts", 0, int64(100+i))
		eq(t, i, "id", r.ID, a.ID)
		eq(t, i, "dedup_key", r.DedupKey, a.DedupKey)
		eq(t, i, "state", r.State, a.State)
		eq(t, i, "scope", r.Scope, a.Scope)
		eq(t, i, "host", r.Host, a.Host)
		eq(t, i, "rule", r.Rule, a.Rule)
		eq(t, i, "rules", r.Rules, a.Rules)
		eq(t, i, "summary", r.Summary, a.Summary)
		eq(t, i, "rate", r.Rate, a.Rate)
		eq(t, i, "fleet_rate", r.FleetRate, a.FleetRate)
		eq(t, i, "burn_rate", r.BurnRate, a.BurnRate)
		eq(t, i, "events", r.Events, a.Events)
		eq(t, i, "errors", r.Errors, a.Errors)
		eq(t, i, "window_start", r.WindowStart, a.WindowStart)
		eq(t, i, "window_end", r.WindowEnd, a.WindowEnd)
		eq(t, i, "signatures", r.Signatures, signatureRows(a.Signatures))
		eq(t, i, "samples", r.Samples, traceSampleRows(a.Samples))
		eq(t, i, "first_seen", r.FirstSeen, a.FirstSeen)
		eq(t, i, "last_seen", r.LastSeen, a.LastSeen)
		eq(t, i, "at", r.At, a.At)
	}
	want := []traceSampleRow{
		{TraceID: "t1", EventID: "e1", Timestamp: 1767225600123, Message: "boom", SpanService: "db", SpanOperation: "query", SpanDurationUs: ptr(int64(5000000))},
		{TraceID: "t2", EventID: "e9", Timestamp: 1767225600999, Message: "boom 2"},
	}
	if !reflect.DeepEqual(rows[0].Samples, want) {
		t.Errorf("row 0: samples %+v, want %+v", rows[0].Samples, want)
	}
	if rows[1].BurnRate != nil || len(rows[1].Rules) != 0 || len(rows[1].Signatures) != 0 || len(rows[1].Samples) != 0 {
		t.Errorf("row 1: %+v, want no burn rate, rules, signatures, samples", rows[1])
	}
}

func TestParquetHostWindow(t *testing.T) {
	windows := testHostWindows()
	b, err := encodeParquet("hosts.windows", 3, toLines(windows))
	if err != nil {
		t.Fatal(err)
	}
	rows := readParquet[hostWindowRow](t, b)
	if len(rows) != len(windows) {
		t.Fatalf("%d rows, want %d", len(rows), len(windows))
	}
	for i, r := range rows {
		h := windows[i]
		checkKafka(t, i, r.KafkaTopic, r.KafkaPartition, r.KafkaOffset, "hosts.windows", 3, int64(100+i))
		eq(t, i, "host", r.Host, h.Host)
		eq(t, i, "kind", r.Kind, h.Kind)
		eq(t, i, "start", r.Start, h.Start)
		eq(t, i, "end", r.End, h.End)
		eq(t, i, "emit", r.Emit, h.Emit)
		eq(t, i, "version", r.Version, h.Version)
		eq(t, i, "as_of", r.AsOf, h.AsOf)
		eq(t, i, "events", r.Events, h.Events)
		eq(t, i, "errors", r.Errors, h.Errors)
		eq(t, i, "error_rate", r.ErrorRate, h.ErrorRate)
		eq(t, i, "latency_count", r.LatencyCount, h.LatencyCount)
		eq(t, i, "latency_p50_ms", r.LatencyP50, h.LatencyP50)
		eq(t, i, "latency_p95_ms", r.LatencyP95, h.LatencyP95)
		eq(t, i, "latency_p99_ms", r.LatencyP99, h.LatencyP99)
		eq(t, i, "first_error", r.FirstError, h.FirstError)
		eq(t, i, "signatures", r.Signatures, signatureRows(h.Signatures))
		eq(t, i, "samples", r.Samples, traceSampleRows(h.Samples))
	}
	if rows[1].LatencyP50 != nil || rows[1].FirstError != nil {
		t.Errorf("row 1: nil optionals read back as values: %+v", rows[1])
	}
	if len(rows[0].Signatures) != 1 || rows[0].Signatures[0] != (signatureRow{Signature: "s", Count: 10, Example: "ex"}) {
		t.Errorf("row 0: signatures %+v", rows[0].Signatures)
	}
}

func TestParquetDeterministic(t *testing.T) {
	for name, lines := range map[string][]line{
		"logevent":   toLines(testLogEvents()),
		"alert":      toLines(testAlerts()),
		"hostwindow": toLines(testHostWindows()),
	} {
		t.Run(name, func(t *testing.T) {
			first, err := encodeParquet("t", 1, lines)
			if err != nil {
				t.Fatal(err)
			}
			for range 5 {
				again, err := encodeParquet("t", 1, lines)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(first, again) {
					t.Fatalf("two encodings of the same lines differ (%d and %d bytes)", len(first), len(again))
				}
			}
		})
	}
}

// TestParquetManyRows crosses several conversion batches.
func TestParquetManyRows(t *testing.T) {
	const n = 3*parquetBatch + 17
	values := make([]any, n)
	for i := range values {
		values[i] = &schemas.LogEvent{EventID: fmt.Sprint(i), Timestamp: int64(i), Labels: map[string]string{"i": fmt.Sprint(i), "a": "b"}}
	}
	b, err := encodeParquet("logs", 0, parquetLines(values...))
	if err != nil {
		t.Fatal(err)
	}
	rows := readParquet[logEventRow](t, b)
	if len(rows) != n {
		t.Fatalf("%d rows, want %d", len(rows), n)
	}
	for i, r := range rows {
		if r.KafkaOffset != int64(100+i) || r.EventID != fmt.Sprint(i) || r.Labels["i"] != fmt.Sprint(i) {
			t.Fatalf("row %d: %+v", i, r)
		}
	}
}

func TestParquetErrors(t *testing.T) {
	ev := testLogEvents()[0]
	al := testAlerts()[0]
	for _, tc := range []struct {
		name  string
		lines []line
		want  string
	}{
		{"mixed", parquetLines(ev, ev, al), "is a *schemas.Alert but the object's first record (offset 100) is a *schemas.LogEvent"},
		{"nil value", parquetLines(ev, nil), "logs/2@101 has no decoded value"},
		{"nil first", parquetLines(nil, ev), "logs/2@100 has no decoded value"},
		{"typed nil", parquetLines(ev, (*schemas.LogEvent)(nil)), "logs/2@101 has a nil *schemas.LogEvent value"},
		{"typed nil first", parquetLines((*schemas.HostWindow)(nil)), "logs/2@100 has a nil *schemas.HostWindow value"},
		{"unknown kind", parquetLines(&schemas.Span{}), "logs/2@100 is a *schemas.Span"},
		{"value not pointer", parquetLines(*ev), "is a schemas.LogEvent"},
		{"no lines", nil, "no records"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := encodeParquet("logs", 2, tc.lines)
			if err == nil {
				t.Fatalf("no error (%d bytes)", len(b))
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if len(tc.lines) > 0 {
				var p *sinks.Permanent
				if !errors.As(err, &p) {
					t.Errorf("error %q is not Permanent", err)
				}
			}
		})
	}
}

// TestParquetSchema reads the files back without the row structs: column
// names, logical types, the file's metadata.
func isA[T any](v any) bool { _, ok := v.(T); return ok }

func isString(lt *format.LogicalType) bool { return lt != nil && isA[*format.StringType](lt.Value) }

func isTimestampMillis(lt *format.LogicalType) bool {
	if lt == nil {
		return false
	}
	ts, ok := lt.Value.(*format.TimestampType)
	return ok && ts.IsAdjustedToUTC && isA[*format.MilliSeconds](ts.Unit.Value)
}

func TestParquetSchema(t *testing.T) {
	kafka := []string{"kafka_topic", "kafka_partition", "kafka_offset"}
	for _, tc := range []struct {
		name       string
		lines      []line
		root       string
		fields     []string
		timestamps [][]string
		optional   []string
		lists      []string
		maps       []string
	}{
		{
			name: "logevent", lines: toLines(testLogEvents()), root: "LogEvent",
			fields: append(kafka, "event_id", "timestamp", "host", "service", "level", "message",
				"trace_id", "span_id", "http_status", "latency_ms", "k8s_namespace", "k8s_pod", "k8s_container",
				"labels", "parse_error", "source", "format", "cluster",
				"span_service", "span_operation", "span_duration_us", "span_status", "root_operation", "join_status",
				"stack", "masked"),
			timestamps: [][]string{{"timestamp"}},
			optional:   []string{"trace_id", "span_id", "http_status", "latency_ms", "k8s_namespace", "k8s_pod", "k8s_container", "parse_error", "span_duration_us", "stack"},
			maps:       []string{"labels"},
		},
		{
			name: "alert", lines: toLines(testAlerts()), root: "Alert",
			fields: append(kafka, "id", "dedup_key", "state", "scope", "host", "rule", "rules", "summary",
				"rate", "fleet_rate", "burn_rate", "events", "errors", "window_start", "window_end",
				"signatures", "samples", "first_seen", "last_seen", "at"),
			timestamps: [][]string{{"window_start"}, {"window_end"}, {"first_seen"}, {"last_seen"}, {"at"},
				{"samples", "list", "element", "timestamp"}},
			optional: []string{"burn_rate"},
			lists:    []string{"rules", "signatures", "samples"},
		},
		{
			name: "hostwindow", lines: toLines(testHostWindows()), root: "HostWindow",
			fields: append(kafka, "host", "kind", "start", "end", "emit", "version", "as_of", "events", "errors",
				"error_rate", "latency_count", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "first_error",
				"signatures", "samples"),
			timestamps: [][]string{{"start"}, {"end"}, {"as_of"}, {"first_error"}, {"samples", "list", "element", "timestamp"}},
			optional:   []string{"latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "first_error"},
			lists:      []string{"signatures", "samples"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := encodeParquet("topic", 4, tc.lines)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				t.Fatal(err)
			}
			if f.NumRows() != int64(len(tc.lines)) {
				t.Errorf("%d rows, want %d", f.NumRows(), len(tc.lines))
			}
			if n := len(f.RowGroups()); n != 1 {
				t.Errorf("%d row groups, want 1", n)
			}
			md := f.Metadata()
			if md.CreatedBy != parquetCreatedBy {
				t.Errorf("created_by %q, want %q", md.CreatedBy, parquetCreatedBy)
			}
			if len(md.KeyValueMetadata) != 0 {
				t.Errorf("key/value metadata %v, want none", md.KeyValueMetadata)
			}
			s := f.Schema()
			if s.Name() != tc.root {
				t.Errorf("schema name %q, want %q", s.Name(), tc.root)
			}
			var names []string
			for _, fl := range s.Fields() {
				names = append(names, fl.Name())
			}
			if !reflect.DeepEqual(names, tc.fields) {
				t.Errorf("columns\n got %v\nwant %v", names, tc.fields)
			}
			field := func(name string) parquet.Field {
				for _, fl := range s.Fields() {
					if fl.Name() == name {
						return fl
					}
				}
				t.Fatalf("no field %q", name)
				return nil
			}
			for _, path := range tc.timestamps {
				col, ok := s.Lookup(path...)
				if !ok {
					t.Errorf("no column %v", path)
					continue
				}
				if !isTimestampMillis(col.Node.Type().LogicalType()) {
					t.Errorf("column %v: logical type %v, want TIMESTAMP(MILLIS, UTC)", path, col.Node.Type().LogicalType())
				}
				if k := col.Node.Type().Kind(); k != parquet.Int64 {
					t.Errorf("column %v: physical type %v, want INT64", path, k)
				}
			}
			optional := map[string]bool{}
			for _, name := range tc.optional {
				optional[name] = true
			}
			for _, fl := range s.Fields() {
				if fl.Optional() != optional[fl.Name()] {
					t.Errorf("column %s: optional %v, want %v", fl.Name(), fl.Optional(), optional[fl.Name()])
				}
				if fl.Leaf() && fl.Type().Kind() == parquet.ByteArray {
					if lt := fl.Type().LogicalType(); !isString(lt) {
						t.Errorf("column %s: logical type %v, want STRING", fl.Name(), lt)
					}
				}
			}
			for _, name := range tc.lists {
				if lt := field(name).Type().LogicalType(); lt == nil || !isA[*format.ListType](lt.Value) {
					t.Errorf("column %s: logical type %v, want LIST", name, lt)
				}
			}
			for _, name := range tc.maps {
				if lt := field(name).Type().LogicalType(); lt == nil || !isA[*format.MapType](lt.Value) {
					t.Errorf("column %s: logical type %v, want MAP", name, lt)
				}
				for _, p := range [][]string{{name, "key_value", "key"}, {name, "key_value", "value"}} {
					col, ok := s.Lookup(p...)
					if !ok {
						t.Errorf("no column %v", p)
						continue
					}
					if lt := col.Node.Type().LogicalType(); !isString(lt) {
						t.Errorf("column %v: logical type %v, want STRING", p, lt)
					}
				}
			}
			if kp, ok := s.Lookup("kafka_partition"); !ok || kp.Node.Type().Kind() != parquet.Int32 {
				t.Errorf("kafka_partition is not INT32")
			}
			if ko, ok := s.Lookup("kafka_offset"); !ok || ko.Node.Type().Kind() != parquet.Int64 {
				t.Errorf("kafka_offset is not INT64")
			}
			// The footer as other readers see it.
			elems := map[string]format.SchemaElement{}
			for _, e := range md.Schema {
				elems[e.Name] = e // leaf names repeat (timestamp); the top level's come first
			}
			for _, path := range tc.timestamps {
				if len(path) > 1 {
					continue
				}
				e := elems[path[0]]
				if ct, ok := e.ConvertedType.Get(); !isTimestampMillis(&e.LogicalType) || !ok || ct != deprecated.TimestampMillis {
					t.Errorf("footer %s: logical type %v, converted type %v; want TIMESTAMP(MILLIS, UTC), TIMESTAMP_MILLIS", path[0], &e.LogicalType, e.ConvertedType)
				}
			}
			for _, rg := range md.RowGroups {
				for _, c := range rg.Columns {
					if c.MetaData.Codec != format.Zstd {
						t.Errorf("column %v: codec %v, want ZSTD", c.MetaData.PathInSchema, c.MetaData.Codec)
					}
				}
			}
		})
	}
}
