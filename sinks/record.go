package sinks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
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

// Decoder turns Kafka records of the pipeline's Avro topics into Docs.
type Decoder struct {
	set *codecs.Set
}

// NewDecoder returns a decoder over set's codecs.
func NewDecoder(set *codecs.Set) *Decoder { return &Decoder{set: set} }

// Decode decodes r by the record name its schema fingerprint names. A
// value that is not a LogEvent, an Alert or a HostWindow, or not Avro at
// all, is an error that names the record; the writers send such records to
// the dead-letter topic.
func (d *Decoder) Decode(r *kgo.Record) (Doc, error) {
	doc := Doc{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Time: r.Timestamp}
	name, err := d.name(r.Value)
	if err != nil {
		return doc, err
	}
	var (
		value any
		ms    int64
	)
	switch name {
	case schemas.NameLogEvent:
		v, err := d.set.LogEvent.Unmarshal(r.Value)
		if err != nil {
			return doc, err
		}
		value, ms = v, v.Timestamp
	case schemas.NameAlert:
		v, err := d.set.Alert.Unmarshal(r.Value)
		if err != nil {
			return doc, err
		}
		value, ms = v, v.At
	case schemas.NameHostWindow:
		v, err := d.set.HostWindow.Unmarshal(r.Value)
		if err != nil {
			return doc, err
		}
		value, ms = v, v.End
	default:
		return doc, fmt.Errorf("record is a %s; the sinks store LogEvent, Alert and HostWindow records", name)
	}
	if ms > 0 {
		doc.Time = time.UnixMilli(ms).UTC()
	}
	body, err := json.Marshal(value)
	if err != nil {
		return doc, fmt.Errorf("encode %s as JSON: %w", name, err)
	}
	doc.Value = value
	doc.JSON = withKafka(r, body)
	return doc, nil
}

func (d *Decoder) name(v []byte) (string, error) {
	if !codecs.IsAvro(v) {
		return "", fmt.Errorf("value of %d bytes is not Avro (no single-object marker or Confluent header)", len(v))
	}
	return d.set.RecordName(v)
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
