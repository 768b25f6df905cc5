package tail

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
)

// A schema with every shape friendly treats specially.
const kitchenSink = `{
  "type": "record", "name": "Sink", "namespace": "test",
  "fields": [
    {"name": "opt_string", "type": ["null", "string"]},
    {"name": "opt_null", "type": ["null", "string"]},
    {"name": "opt_ts", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}]},
    {"name": "opt_rec", "type": ["null", {"type": "record", "name": "Inner", "fields": [
        {"name": "n", "type": "int"},
        {"name": "next", "type": ["null", "Inner"]}
    ]}]},
    {"name": "opt_enum", "type": ["null", {"type": "enum", "name": "Color", "namespace": "paint", "symbols": ["RED", "BLUE"]}]},
    {"name": "again", "type": ["null", "paint.Color"]},
    {"name": "two_way", "type": ["null", "int", "string"]},
    {"name": "labels", "type": {"type": "map", "values": "string"}},
    {"name": "opt_labels", "type": ["null", {"type": "map", "values": ["null", "long"]}]},
    {"name": "list", "type": {"type": "array", "items": ["null", "double"]}},
    {"name": "text_bytes", "type": "bytes"},
    {"name": "raw_bytes", "type": "bytes"},
    {"name": "hash", "type": {"type": "fixed", "name": "Hash", "size": 2}},
    {"name": "nan", "type": "double"},
    {"name": "inf", "type": "double"},
    {"name": "ninf", "type": "float"},
    {"name": "f32", "type": "float"},
    {"name": "day", "type": {"type": "int", "logicalType": "date"}},
    {"name": "micros", "type": {"type": "long", "logicalType": "timestamp-micros"}},
    {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
    {"name": "big", "type": "long"},
    {"name": "ok", "type": "boolean"}
  ]
}`

func TestFriendly(t *testing.T) {
	codec, err := goavro.NewCodec(kitchenSink)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 11, 1, 12, 0, 0, 123e6, time.UTC)
	native := map[string]any{
		"opt_string": goavro.Union("string", "hello"),
		"opt_null":   nil,
		"opt_ts":     goavro.Union("long.timestamp-millis", ts),
		"opt_rec": goavro.Union("test.Inner", map[string]any{
			"n": int32(1), "next": goavro.Union("test.Inner", map[string]any{"n": int32(2), "next": nil}),
		}),
		"opt_enum":   goavro.Union("paint.Color", "BLUE"),
		"again":      goavro.Union("paint.Color", "RED"),
		"two_way":    goavro.Union("int", int32(7)),
		"labels":     map[string]any{"string": "x", "null": "y"},
		"opt_labels": goavro.Union("map", map[string]any{"a": goavro.Union("long", int64(5)), "b": nil}),
		"list":       []any{goavro.Union("double", 1.5), nil},
		"text_bytes": []byte("héllo"),
		"raw_bytes":  []byte{0xff, 0x00},
		"hash":       []byte{0xC3, 0x28},
		"nan":        math.NaN(),
		"inf":        math.Inf(1),
		"ninf":       float32(math.Inf(-1)),
		"f32":        float32(0.25),
		"day":        ts,
		"micros":     ts.Add(456 * time.Microsecond),
		"price":      big.NewRat(-12345, 100),
		"big":        int64(1) << 60,
		"ok":         true,
	}
	bin, err := codec.BinaryFromNative(nil, native)
	if err != nil {
		t.Fatal(err)
	}
	decoded, _, err := codec.NativeFromBinary(bin)
	if err != nil {
		t.Fatal(err)
	}
	typ, err := parseSchema(kitchenSink)
	if err != nil {
		t.Fatal(err)
	}
	got := marshalFriendly(t, friendly(typ, decoded))
	want := `{"again":"RED","big":1152921504606846976,"day":"2026-11-01","f32":0.25,"hash":{"base64":"wyg="},` +
		`"inf":"Infinity","labels":{"null":"y","string":"x"},"list":[1.5,null],"micros":"2026-11-01T12:00:00.123456Z",` +
		`"nan":"NaN","ninf":"-Infinity","ok":true,"opt_enum":"BLUE","opt_labels":{"a":5,"b":null},"opt_null":null,` +
		`"opt_rec":{"n":1,"next":{"n":2,"next":null}},"opt_string":"hello","opt_ts":"2026-11-01T12:00:00.123Z",` +
		`"price":-123.45,"raw_bytes":{"base64":"/wA="},"text_bytes":"héllo","two_way":7}`
	if got != want {
		t.Errorf("friendly:\n got %s\nwant %s", got, want)
	}

	// Without a schema nothing is lost and everything still encodes; unions
	// stay wrapped, since a one-entry map cannot be told from a union.
	got = marshalFriendly(t, friendly(nil, decoded))
	var back map[string]any
	if err := json.Unmarshal([]byte(got), &back); err != nil {
		t.Fatal(err)
	}
	if back["nan"] != "NaN" || back["opt_string"].(map[string]any)["string"] != "hello" {
		t.Errorf("schemaless: %s", got)
	}
}

func marshalFriendly(t *testing.T, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("friendly value does not encode: %v", err)
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

func TestParseSchemaErrors(t *testing.T) {
	for _, s := range []string{
		``,
		`{`,
		`{"type": "record", "fields": []}`,
		`{"type": "record", "name": "R", "fields": [{"name": "a", "type": "Missing"}]}`,
		`{"type": "array", "items": 3}`,
	} {
		if _, err := parseSchema(s); err == nil {
			t.Errorf("parseSchema(%q) succeeded", s)
		}
	}
}
