package dlq

import (
	"strings"
	"testing"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/spans"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

func TestDecodeOriginal(t *testing.T) {
	set := newSet(t)
	topo, err := topology.New(topology.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := set.RawLog.Marshal(&schemas.RawLog{Host: "web-3", Source: "/var/log/app.log", Line: "payment declined", ReceivedAt: 1767225600000})
	if err != nil {
		t.Fatal(err)
	}
	rawConfluent, err := set.RawLog.WithWire(codecs.WireConfluent).Marshal(&schemas.RawLog{Host: "web-4", Line: "x"})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := set.LogEvent.Marshal(&schemas.LogEvent{EventID: "e1", Host: "web-1", Level: schemas.LevelError, Message: "db timeout"})
	if err != nil {
		t.Fatal(err)
	}
	otlp, err := spans.ToOTLP([]schemas.Span{{TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331", Service: "checkout", Operation: "GET /pay", Start: 1767225600000000, DurationUs: 1200}})
	if err != nil {
		t.Fatal(err)
	}
	// A RawLog of a schema this build does not know: the parse stage's
	// dead letter after a newer ingest wrote it.
	unknown := append([]byte{0xc3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8}, raw[10:]...)

	for _, tc := range []struct {
		name   string
		topic  string
		value  []byte
		as     string
		check  func(t *testing.T, o Original)
		failed bool // Err set: not decoded as what it claims
	}{
		{"RawLog on logs.raw", topology.TopicRaw, raw, AsAvro, func(t *testing.T, o Original) {
			r, ok := o.Value.(*schemas.RawLog)
			if !ok || r.Host != "web-3" || r.Line != "payment declined" || r.ReceivedAt != 1767225600000 {
				t.Errorf("value %#v", o.Value)
			}
			if o.Schema != "RawLog v1 (single-object)" || o.Note != "" {
				t.Errorf("schema %q, note %q", o.Schema, o.Note)
			}
		}, false},
		{"Confluent-framed RawLog", topology.TopicRaw, rawConfluent, AsAvro, func(t *testing.T, o Original) {
			if r, ok := o.Value.(*schemas.RawLog); !ok || r.Host != "web-4" || !strings.Contains(o.Schema, "confluent") {
				t.Errorf("value %#v, schema %q", o.Value, o.Schema)
			}
		}, false},
		{"LogEvent on logs.parsed", topology.TopicParsed, ev, AsAvro, func(t *testing.T, o Original) {
			if e, ok := o.Value.(*schemas.LogEvent); !ok || e.EventID != "e1" || e.Level != schemas.LevelError {
				t.Errorf("value %#v", o.Value)
			}
		}, false},
		{"a LogEvent where RawLogs belong", topology.TopicRaw, ev, AsAvro, func(t *testing.T, o Original) {
			if !strings.Contains(o.Note, "logs.raw carries RawLog records, not LogEvent") {
				t.Errorf("note %q", o.Note)
			}
		}, false},
		{"OTLP export on otlp.spans", topology.TopicOTLPSpans, otlp, AsOTLP, func(t *testing.T, o Original) {
			e, ok := o.Value.(*OTLPExport)
			if !ok || len(e.Spans) != 1 || e.Spans[0].Operation != "GET /pay" || e.Spans[0].Service != "checkout" {
				t.Errorf("value %#v", o.Value)
			}
		}, false},
		{"text on logs.parsed", topology.TopicParsed, []byte("{}"), AsText, func(t *testing.T, o Original) {
			if !strings.Contains(o.Err.Error(), "logs.parsed carries LogEvent records") {
				t.Errorf("err %v", o.Err)
			}
		}, true},
		{"text on otlp.spans", topology.TopicOTLPSpans, []byte("not protobuf at all"), AsText, nil, true},
		{"plain line", topology.TopicRaw, []byte("Nov  1 12:00:00 web-1 sshd[1]: accepted"), AsText, func(t *testing.T, o Original) {
			if o.Text != "Nov  1 12:00:00 web-1 sshd[1]: accepted" || o.Err != nil {
				t.Errorf("text %q, err %v", o.Text, o.Err)
			}
		}, false},
		{"not UTF-8", topology.TopicRaw, []byte{'a', 0xff, 0xfe, 'b'}, AsHex, func(t *testing.T, o Original) {
			if !strings.Contains(o.Hex, "61 ff fe 62") {
				t.Errorf("hex %q", o.Hex)
			}
		}, false},
		{"unknown fingerprint", topology.TopicRaw, unknown, AsHex, func(t *testing.T, o Original) {
			if o.Schema != "fingerprint 0807060504030201 (single-object)" || !strings.Contains(o.Err.Error(), "0807060504030201") {
				t.Errorf("schema %q, err %v", o.Schema, o.Err)
			}
		}, true},
		{"truncated header", topology.TopicRaw, []byte{0xc3, 0x01, 7}, AsHex, nil, true},
		{"truncated body", topology.TopicParsed, ev[:len(ev)/2], AsHex, nil, true},
		{"tombstone", topology.TopicRaw, nil, AsNone, nil, false},
		{"empty", topology.TopicRaw, []byte{}, AsText, nil, false},
		{"topic not in the topology", "elsewhere", raw, AsAvro, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Decode(set, topo, tc.topic, tc.value)
			if o.As != tc.as {
				t.Fatalf("As = %q, want %q (%+v)", o.As, tc.as, o)
			}
			if (o.Err != nil) != tc.failed {
				t.Errorf("Err = %v, want set: %v", o.Err, tc.failed)
			}
			if tc.check != nil {
				tc.check(t, o)
			}
		})
	}
}

// Whatever the bytes and the topic, Decode returns one of its renderings
// and does not panic.
func FuzzDecode(f *testing.F) {
	set, err := codecs.NewSet()
	if err != nil {
		f.Fatal(err)
	}
	topo, err := topology.New(topology.DefaultConfig())
	if err != nil {
		f.Fatal(err)
	}
	raw, _ := set.RawLog.Marshal(&schemas.RawLog{Host: "h", Line: "l", Labels: map[string]string{"a": "b"}})
	ev, _ := set.LogEvent.Marshal(&schemas.LogEvent{EventID: "e", Host: "h"})
	otlp, _ := spans.ToOTLP([]schemas.Span{{TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331"}})
	for _, s := range []struct {
		topic string
		b     []byte
	}{{topology.TopicRaw, raw}, {topology.TopicParsed, ev}, {topology.TopicOTLPSpans, otlp}, {topology.TopicRaw, []byte("line")}, {topology.TopicSpans, []byte{0, 0, 0, 0, 1, 2}}} {
		f.Add(s.topic, s.b)
	}
	f.Fuzz(func(t *testing.T, topic string, b []byte) {
		o := Decode(set, topo, topic, b)
		switch o.As {
		case AsAvro, AsOTLP:
			if o.Value == nil {
				t.Fatalf("%s without a value", o.As)
			}
		case AsText, AsHex, AsNone:
		default:
			t.Fatalf("As = %q", o.As)
		}
	})
}
