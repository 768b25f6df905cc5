package dlq

import (
	"encoding/hex"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/spans"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

// How an original value was rendered (Original.As).
const (
	AsNone = "none" // a null value: the record was a tombstone
	AsAvro = "avro" // decoded with the codec of its record type
	AsOTLP = "otlp" // an OTLP trace export, decoded as the spans stage does
	AsText = "text" // valid UTF-8, shown as it is
	AsHex  = "hex"  // anything else
)

// Original is a dead letter's original value, decoded where possible.
type Original struct {
	// As says how the value is rendered: AsAvro or AsOTLP (Value holds
	// it), AsText (Text holds it), AsHex (Hex holds a dump) or AsNone.
	As string
	// Schema names the writer schema of an Avro value: "RawLog v1
	// (single-object)"; with AsText or AsHex, the schema the value claimed
	// when decoding it failed.
	Schema string
	// Value is the decoded record (a *schemas.RawLog, *schemas.LogEvent,
	// ...) or, for OTLP, an OTLPExport; it marshals to JSON.
	Value any
	Text  string
	Hex   string
	// Err says why the value could not be decoded as what its topic
	// carries, when it could not; the value is then shown as text or hex.
	Err error
	// Note adds what a reader should know: the record type differs from
	// the one its topic carries.
	Note string
}

// OTLPExport is an OTLP trace export as the spans stage reads it: the
// spans it would write and the ones it would reject.
type OTLPExport struct {
	Spans   []schemas.Span `json:"spans"`
	Rejects []string       `json:"rejects,omitempty"`
}

// Decode decodes a dead letter's original value: with the codec of its
// record type when it is Avro (the type its fingerprint or schema id names,
// which is the source topic's record type in topo unless another writer
// put a stranger there), as an OTLP trace export when it comes from the
// topic the OpenTelemetry Collector writes, else as text when it is valid
// UTF-8, else as a hex dump. It never panics, whatever the bytes.
func Decode(set *codecs.Set, topo *topology.Topology, sourceTopic string, value []byte) Original {
	if value == nil {
		return Original{As: AsNone}
	}
	var o Original
	tp, known := topo.Topic(sourceTopic)
	switch {
	case sourceTopic == topology.TopicOTLPSpans:
		exp, err := decodeOTLP(value)
		if err == nil {
			return Original{As: AsOTLP, Value: exp}
		}
		o.Err = err
	case looksAvro(value):
		name, schema, v, err := decodeAvro(set, value)
		o.Schema = schema
		if err == nil {
			o.As, o.Value = AsAvro, v
			if known && tp.Record != "" && tp.Record != name {
				o.Note = fmt.Sprintf("%s carries %s records, not %s", sourceTopic, tp.Record, name)
			}
			return o
		}
		o.Err = err
	case known && tp.Record != "" && !tp.Plain:
		o.Err = fmt.Errorf("not Avro (no C3 01 marker or Confluent zero byte), though %s carries %s records", sourceTopic, tp.Record)
	}
	if utf8.Valid(value) {
		o.As, o.Text = AsText, string(value)
		return o
	}
	o.As, o.Hex = AsHex, hex.Dump(value)
	return o
}

// looksAvro: the single-object marker or the Confluent zero byte, as the
// parse stage decides (a text line starts with neither).
func looksAvro(b []byte) bool {
	return len(b) > 0 && b[0] == 0 || len(b) >= 2 && b[0] == 0xC3 && b[1] == 0x01
}

// decodeAvro finds the record type and writer schema of b and decodes it
// with that type's codec.
func decodeAvro(set *codecs.Set, b []byte) (name, schema string, v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, fmt.Errorf("decoder panicked: %v", r)
		}
	}()
	w, err := set.DecodeWriter(b)
	if fp, ok := codecs.Fingerprint(b); ok && w.Record == "" {
		schema = fmt.Sprintf("fingerprint %016x (single-object)", fp)
	}
	if w.Record != "" {
		name = w.Record
		schema = w.Record
		if w.Version > 0 {
			schema = fmt.Sprintf("%s v%d", w.Record, w.Version)
		}
		schema += " (" + w.Wire.String() + ")"
	}
	if err != nil {
		return name, schema, nil, err
	}
	v, err = decodeTyped(set, name, b)
	return name, schema, v, err
}

// decodeTyped decodes b with the Set's codec of the named record.
func decodeTyped(set *codecs.Set, name string, b []byte) (any, error) {
	switch name {
	case schemas.NameRawLog:
		return typed(set.RawLog.Unmarshal(b))
	case schemas.NameLogEvent:
		return typed(set.LogEvent.Unmarshal(b))
	case schemas.NameSpan:
		return typed(set.Span.Unmarshal(b))
	case schemas.NameDeadLetter:
		return typed(set.DeadLetter.Unmarshal(b))
	case schemas.NameHostWindow:
		return typed(set.HostWindow.Unmarshal(b))
	case schemas.NameAlert:
		return typed(set.Alert.Unmarshal(b))
	case schemas.NameErrorRatePartial:
		return typed(set.ErrorRatePartial.Unmarshal(b))
	case schemas.NameWindowUpdate:
		return typed(set.WindowUpdate.Unmarshal(b))
	case schemas.NameParseState:
		return typed(set.ParseState.Unmarshal(b))
	case schemas.NameDedupeState:
		return typed(set.DedupeState.Unmarshal(b))
	case schemas.NameTraceState:
		return typed(set.TraceState.Unmarshal(b))
	case schemas.NameErrorRateState:
		return typed(set.ErrorRateState.Unmarshal(b))
	case schemas.NameErrorRatePartition:
		return typed(set.ErrorRatePartition.Unmarshal(b))
	case schemas.NameAlerterState:
		return typed(set.AlerterState.Unmarshal(b))
	}
	return nil, fmt.Errorf("%s is no record this build has a codec for", name)
}

// typed turns a codec's (*T, error) into (any, error) without a non-nil
// interface holding a nil pointer.
func typed[T any](v *T, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return v, nil
}

// decodeOTLP decodes an OTLP trace export as the spans stage does.
func decodeOTLP(b []byte) (exp *OTLPExport, err error) {
	defer func() {
		if r := recover(); r != nil {
			exp, err = nil, fmt.Errorf("decoder panicked: %v", r)
		}
	}()
	sp, rejects, err := spans.FromOTLP(b)
	if err != nil {
		return nil, err
	}
	if len(sp) == 0 && len(rejects) == 0 {
		// Any bytes that happen to parse as an empty message would do
		// that; an export without spans is no decoding worth showing.
		return nil, errors.New("no spans in the OTLP export")
	}
	exp = &OTLPExport{Spans: sp}
	for _, r := range rejects {
		exp.Rejects = append(exp.Rejects, r.String())
	}
	return exp, nil
}
