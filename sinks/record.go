package sinks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/logstream/logstream/deadletter"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

// Doc is one Kafka record made ready for a store: a flat JSON object that
// carries the record's fields plus kafka_topic, kafka_partition and
// kafka_offset, and the record's own time.
type Doc struct {
	Topic     string
	Partition int32
	Offset    int64
	// Time is the record's own time: a log event's timestamp, an alert's
	// at, a host window's end; the Kafka timestamp for other records.
	Time time.Time
	// JSON is one JSON object, no trailing newline. Its first three
	// members are kafka_topic, kafka_partition and kafka_offset.
	JSON []byte
	// Value is the decoded record (*schemas.LogEvent, *schemas.Alert,
	// *schemas.HostWindow), for encoders that want columns (Parquet).
	Value any
}

// Decoder turns Kafka records of the pipeline's Avro topics into Docs. It
// is where every sink checks that a record is what its topic carries.
type Decoder struct {
	set *codecs.Set
}

// NewDecoder returns a decoder over set's codecs.
func NewDecoder(set *codecs.Set) *Decoder { return &Decoder{set: set} }

// Reasons a record is rejected (RecordError.Reason), the values of
// logstream_sink_rejected_records_total's reason label.
const (
	ReasonTombstone   = "tombstone"    // a null value
	ReasonNotAvro     = "not_avro"     // no single-object marker nor Confluent header
	ReasonWrongRecord = "wrong_record" // a record its topic does not carry, or none a sink stores
	ReasonUndecodable = "undecodable"  // an unknown schema, or bytes that do not decode
	ReasonUnencodable = "unencodable"  // decoded, but has no JSON form (a NaN, say)
)

// RecordError is why Decode rejected a record: such a record can never be
// stored, so the writers send it to the dead-letter topic and move on.
type RecordError struct {
	Reason string // one of the Reason* constants
	Err    error
}

func (e *RecordError) Error() string { return e.Err.Error() }
func (e *RecordError) Unwrap() error { return e.Err }

func reject(reason string, err error) error { return &RecordError{Reason: reason, Err: err} }

// ErrTombstone is the cause of a record with a null value: the reason
// every stage gives a tombstone (package deadletter).
var ErrTombstone = deadletter.ErrTombstone

// Decode decodes r by the record its schema fingerprint or Confluent
// schema id names (the codecs answer which record that is). The record
// must be the one r's topic carries (topology.ValueRecord: a LogEvent on
// alerts is rejected); on a topic that is not the pipeline's it must be a
// LogEvent, an Alert or a HostWindow. Anything else (a tombstone, a value
// that is not Avro, an unknown schema, bytes that do not decode) is a
// *RecordError that names the record; the writers send such records to the
// dead-letter topic.
func (d *Decoder) Decode(r *kgo.Record) (Doc, error) {
	doc := Doc{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Time: r.Timestamp}
	if r.Value == nil {
		return doc, reject(ReasonTombstone, ErrTombstone)
	}
	if !codecs.IsAvro(r.Value) {
		return doc, reject(ReasonNotAvro, fmt.Errorf("value of %d bytes is not Avro (no single-object marker or Confluent header)", len(r.Value)))
	}
	name, err := d.set.RecordName(r.Value)
	if err != nil {
		return doc, reject(ReasonUndecodable, err)
	}
	if want, ok := topology.ValueRecord(r.Topic); ok && name != want {
		return doc, reject(ReasonWrongRecord, fmt.Errorf("record is %s %s, but %s carries %s records", article(name), name, r.Topic, want))
	}
	var (
		value any
		ms    int64
	)
	switch name {
	case schemas.NameLogEvent:
		v, err := d.set.LogEvent.Unmarshal(r.Value)
		if err != nil {
			return doc, reject(ReasonUndecodable, err)
		}
		value, ms = v, v.Timestamp
	case schemas.NameAlert:
		v, err := d.set.Alert.Unmarshal(r.Value)
		if err != nil {
			return doc, reject(ReasonUndecodable, err)
		}
		value, ms = v, v.At
	case schemas.NameHostWindow:
		v, err := d.set.HostWindow.Unmarshal(r.Value)
		if err != nil {
			return doc, reject(ReasonUndecodable, err)
		}
		value, ms = v, v.End
	default:
		return doc, reject(ReasonWrongRecord, fmt.Errorf("record is %s %s; the sinks store LogEvent, Alert and HostWindow records", article(name), name))
	}
	if ms > 0 {
		doc.Time = time.UnixMilli(ms).UTC()
	}
	body, err := json.Marshal(value)
	if err != nil {
		return doc, reject(ReasonUnencodable, fmt.Errorf("encode %s as JSON: %w", name, err))
	}
	doc.Value = value
	doc.JSON = withKafka(r, body)
	return doc, nil
}

// article is "an" before a record name that starts with a vowel, else "a".
func article(name string) string {
	if name != "" && strings.ContainsRune("AEIOU", rune(name[0])) {
		return "an"
	}
	return "a"
}

// withKafka prepends the kafka_* members to the JSON object body.
func withKafka(r *kgo.Record, body []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(body) + 80)
	b.WriteString(`{"kafka_topic":`)
	t, _ := json.Marshal(r.Topic)
	b.Write(t)
	b.WriteString(`,"kafka_partition":`)
	b.WriteString(strconv.FormatInt(int64(r.Partition), 10))
	b.WriteString(`,"kafka_offset":`)
	b.WriteString(strconv.FormatInt(r.Offset, 10))
	rest := bytes.TrimSpace(body)
	if len(rest) > 2 { // more than "{}"
		b.WriteByte(',')
		b.Write(rest[1:])
	} else {
		b.WriteByte('}')
	}
	return b.Bytes()
}
