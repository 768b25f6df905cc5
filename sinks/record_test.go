package sinks_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/sinks"
	"github.com/logstream/logstream/topology"
)

var (
	setOnce sync.Once
	testSet *codecs.Set
	setErr  error
)

func codecSet(t testing.TB) *codecs.Set {
	t.Helper()
	setOnce.Do(func() { testSet, setErr = codecs.NewSet() })
	if setErr != nil {
		t.Fatal(setErr)
	}
	return testSet
}

func ptrTo[T any](v T) *T { return &v }

// kafkaTime is the records' Kafka timestamp: never the record's own time
// in these tests, so a Doc.Time taken from it is noticed.
var kafkaTime = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func record(topic string, partition int32, offset int64, value []byte) *kgo.Record {
	return &kgo.Record{Topic: topic, Partition: partition, Offset: offset, Timestamp: kafkaTime, Value: value}
}

// jsonKeys returns the top-level member names of a JSON object, in order.
func jsonKeys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		t.Fatalf("%s: not a JSON object (%v, %v)", b, tok, err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("%s: member %v: %v", b, tok, err)
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		t.Fatalf("%s: object not closed (%v, %v)", b, tok, err)
	}
	if dec.More() {
		t.Fatalf("%s: trailing data after the object", b)
	}
	return keys
}

// checkDoc checks the JSON of doc: valid, kafka_* first with the record's
// coordinates, then exactly the members of the value's own JSON, in the
// same order and with the same values.
func checkDoc(t *testing.T, doc sinks.Doc, topic string, partition int32, offset int64) {
	t.Helper()
	if doc.Topic != topic || doc.Partition != partition || doc.Offset != offset {
		t.Fatalf("doc is %s/%d@%d, want %s/%d@%d", doc.Topic, doc.Partition, doc.Offset, topic, partition, offset)
	}
	if bytes.HasSuffix(doc.JSON, []byte("\n")) {
		t.Fatalf("JSON has a trailing newline: %q", doc.JSON)
	}
	prefix := fmt.Sprintf(`{"kafka_topic":%q,"kafka_partition":%d,"kafka_offset":%d,`, topic, partition, offset)
	if !bytes.HasPrefix(doc.JSON, []byte(prefix)) {
		t.Fatalf("JSON does not start with %s:\n%s", prefix, doc.JSON)
	}
	own, err := json.Marshal(doc.Value)
	if err != nil {
		t.Fatal(err)
	}
	keys := jsonKeys(t, doc.JSON)
	ownKeys := jsonKeys(t, own)
	if want := append([]string{"kafka_topic", "kafka_partition", "kafka_offset"}, ownKeys...); !reflect.DeepEqual(keys, want) {
		t.Fatalf("members %v, want %v", keys, want)
	}
	var got, want map[string]any
	if err := json.Unmarshal(doc.JSON, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(own, &want); err != nil {
		t.Fatal(err)
	}
	want["kafka_topic"], want["kafka_partition"], want["kafka_offset"] = topic, float64(partition), float64(offset)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("JSON %s\nwant the members of %s", doc.JSON, own)
	}
}

func TestDecoderLogEvent(t *testing.T) {
	set := codecSet(t)
	ts := time.Date(2026, 11, 21, 9, 41, 7, 123e6, time.UTC)
	ev := &schemas.LogEvent{
		EventID: "ev-1", Timestamp: ts.UnixMilli(), Host: "web-1", Service: "payments",
		Level: schemas.LevelError, Message: `GET /api "charge" failed`,
		HTTPStatus: ptrTo(int32(503)), LatencyMs: ptrTo(12.5),
		Labels: map[string]string{"zone": "eu-1a"}, Source: "file", Format: "json", Cluster: "c1",
	}
	v, err := set.LogEvent.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := sinks.NewDecoder(set).Decode(record("logs.enriched", 3, 42, v))
	if err != nil {
		t.Fatal(err)
	}
	checkDoc(t, doc, "logs.enriched", 3, 42)
	if !doc.Time.Equal(ts) || doc.Time.Location() != time.UTC {
		t.Fatalf("Time %v, want the event's timestamp %v (UTC)", doc.Time, ts)
	}
	got, ok := doc.Value.(*schemas.LogEvent)
	if !ok {
		t.Fatalf("Value is a %T, want *schemas.LogEvent", doc.Value)
	}
	if got.EventID != ev.EventID || got.Message != ev.Message || got.Timestamp != ev.Timestamp || *got.HTTPStatus != 503 || got.Labels["zone"] != "eu-1a" {
		t.Fatalf("decoded %+v, want %+v", got, ev)
	}
	if keys := jsonKeys(t, doc.JSON); keys[3] != "event_id" {
		t.Fatalf("the record's fields do not follow kafka_offset: %v", keys)
	}

	// Without a time of its own (0), the Kafka timestamp is the time.
	ev.Timestamp = 0
	v, err = set.LogEvent.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	doc, err = sinks.NewDecoder(set).Decode(record("logs.enriched", 0, 0, v))
	if err != nil {
		t.Fatal(err)
	}
	checkDoc(t, doc, "logs.enriched", 0, 0)
	if !doc.Time.Equal(kafkaTime) {
		t.Fatalf("Time %v of an event without a timestamp, want the Kafka timestamp %v", doc.Time, kafkaTime)
	}
}

func TestDecoderAlert(t *testing.T) {
	set := codecSet(t)
	at := time.Date(2026, 11, 21, 23, 59, 59, 500e6, time.UTC)
	a := &schemas.Alert{
		ID: "a1", DedupKey: "host:web-1:error_rate", State: schemas.AlertFiring, Scope: schemas.ScopeHost,
		Host: "web-1", Rule: "error_rate", Rules: []string{"error_rate"}, Summary: "errors up",
		Rate: 0.25, FleetRate: 0.01, BurnRate: ptrTo(14.4), Events: 400, Errors: 100,
		WindowStart: at.Add(-time.Minute).UnixMilli(), WindowEnd: at.Add(-time.Second).UnixMilli(),
		Signatures: []schemas.Signature{{Signature: "db timeout", Count: 80, Example: "db timeout after 5s"}},
		FirstSeen:  at.Add(-time.Hour).UnixMilli(), LastSeen: at.Add(-time.Second).UnixMilli(), At: at.UnixMilli(),
	}
	v, err := set.Alert.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := sinks.NewDecoder(set).Decode(record("alerts", 0, 7, v))
	if err != nil {
		t.Fatal(err)
	}
	checkDoc(t, doc, "alerts", 0, 7)
	if !doc.Time.Equal(at) {
		t.Fatalf("Time %v, want the alert's at %v", doc.Time, at)
	}
	got, ok := doc.Value.(*schemas.Alert)
	if !ok || got.ID != "a1" || got.At != a.At || len(got.Signatures) != 1 {
		t.Fatalf("Value %#v", doc.Value)
	}
	if keys := jsonKeys(t, doc.JSON); keys[3] != "id" {
		t.Fatalf("the record's fields do not follow kafka_offset: %v", keys)
	}
}

func TestDecoderHostWindow(t *testing.T) {
	set := codecSet(t)
	start := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	end := start.Add(time.Minute)
	h := &schemas.HostWindow{
		Host: "web-1", Kind: schemas.WindowTumbling, Start: start.UnixMilli(), End: end.UnixMilli(),
		Emit: schemas.EmitFinal, Version: 3, AsOf: end.Add(5 * time.Second).UnixMilli(), Events: 1000, Errors: 10,
		ErrorRate: 0.01, LatencyCount: 900, LatencyP50: ptrTo(3.5),
	}
	v, err := set.HostWindow.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := sinks.NewDecoder(set).Decode(record("errorrate.windows", 5, 1<<40, v))
	if err != nil {
		t.Fatal(err)
	}
	checkDoc(t, doc, "errorrate.windows", 5, 1<<40)
	if !doc.Time.Equal(end) {
		t.Fatalf("Time %v, want the window's end %v (not its start %v, nor as_of)", doc.Time, end, start)
	}
	got, ok := doc.Value.(*schemas.HostWindow)
	if !ok || got.Host != "web-1" || got.End != h.End || got.LatencyP50 == nil || *got.LatencyP50 != 3.5 {
		t.Fatalf("Value %#v", doc.Value)
	}
	if keys := jsonKeys(t, doc.JSON); keys[3] != "host" {
		t.Fatalf("the record's fields do not follow kafka_offset: %v", keys)
	}
}

func TestDecoderErrors(t *testing.T) {
	set := codecSet(t)
	d := sinks.NewDecoder(set)

	dl, err := set.DeadLetter.Marshal(&schemas.DeadLetter{
		OriginalValue: []byte("x"), SourceTopic: topology.TopicRaw, Stage: "parse", Error: "boom", Time: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := set.LogEvent.Marshal(&schemas.LogEvent{EventID: "e", Timestamp: 1, Host: "h", Message: "a long enough message to be cut"})
	if err != nil {
		t.Fatal(err)
	}
	evConfluent, err := set.LogEvent.WithWire(codecs.WireConfluent).Marshal(&schemas.LogEvent{EventID: "e", Timestamp: 1, Host: "h", Message: "m"})
	if err != nil {
		t.Fatal(err)
	}
	alert, err := set.Alert.Marshal(&schemas.Alert{ID: "a", DedupKey: "k", Rules: []string{}, Signatures: []schemas.Signature{}, At: 1})
	if err != nil {
		t.Fatal(err)
	}
	unknownFP := append([]byte{0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8}, ev[10:]...)
	for _, tc := range []struct {
		name   string
		topic  string
		value  []byte
		reason string
		want   []string
	}{
		{"not avro", topology.TopicEnriched, []byte("not avro: hello"), sinks.ReasonNotAvro, []string{"not Avro", "15 bytes"}},
		{"empty", topology.TopicEnriched, []byte{}, sinks.ReasonNotAvro, []string{"not Avro", "0 bytes"}},
		{"tombstone", topology.TopicAlerts, nil, sinks.ReasonTombstone, []string{"null value (tombstone)"}},
		{"json", topology.TopicEnriched, []byte(`{"event_id":"e"}`), sinks.ReasonNotAvro, []string{"not Avro"}},
		{"dead letter", topology.TopicEnriched, dl, sinks.ReasonWrongRecord, []string{"record is a DeadLetter, but logs.enriched carries LogEvent records"}},
		{"dead letter, other topic", "archive.events", dl, sinks.ReasonWrongRecord, []string{"DeadLetter", "LogEvent, Alert and HostWindow"}},
		{"log event on alerts", topology.TopicAlerts, ev, sinks.ReasonWrongRecord, []string{"record is a LogEvent, but alerts carries Alert records"}},
		{"log event on alerts, Confluent", topology.TopicAlerts, evConfluent, sinks.ReasonWrongRecord, []string{"LogEvent", "alerts carries Alert"}},
		{"alert on logs.enriched", topology.TopicEnriched, alert, sinks.ReasonWrongRecord, []string{"record is an Alert, but logs.enriched carries LogEvent"}},
		{"unknown fingerprint", topology.TopicEnriched, unknownFP, sinks.ReasonUndecodable, nil},
		{"truncated", topology.TopicEnriched, ev[:len(ev)-10], sinks.ReasonUndecodable, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := d.Decode(record(tc.topic, 1, 9, tc.value))
			if err == nil {
				t.Fatalf("decoded %q into %s", tc.value, doc.JSON)
			}
			var re *sinks.RecordError
			if !errors.As(err, &re) || re.Reason != tc.reason {
				t.Fatalf("error %v (%T), want a RecordError with reason %s", err, err, tc.reason)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not mention %q", err, w)
				}
			}
			if doc.JSON != nil || doc.Value != nil {
				t.Fatalf("a failed decode returned a document: %s %v", doc.JSON, doc.Value)
			}
			// The coordinates are there, for the dead letter's log line.
			if doc.Topic != tc.topic || doc.Partition != 1 || doc.Offset != 9 {
				t.Fatalf("doc %s/%d@%d", doc.Topic, doc.Partition, doc.Offset)
			}
		})
	}
	// The record its topic carries, in either wire format, decodes.
	if _, err := d.Decode(record(topology.TopicAlerts, 0, 1, alert)); err != nil {
		t.Fatalf("an Alert on alerts: %v", err)
	}
	if _, err := d.Decode(record(topology.TopicEnriched, 0, 1, evConfluent)); err != nil {
		t.Fatalf("a Confluent-framed LogEvent on logs.enriched: %v", err)
	}
}
