package codecs

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"

	"github.com/logstream/logstream/schemas"
)

// resolveCase writes value with writer and reads it as reader.
func resolveCase(t *testing.T, writer, reader string, value any) (any, error) {
	t.Helper()
	wc, err := goavro.NewCodec(writer)
	if err != nil {
		t.Fatalf("writer schema: %v", err)
	}
	body, err := wc.BinaryFromNative(nil, value)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	r, err := NewResolver(writer, reader)
	if err != nil {
		t.Fatal(err)
	}
	return r.Decode(body)
}

func rec(fields string) string {
	return `{"type":"record","name":"R","namespace":"t","fields":[` + fields + `]}`
}

// Each rule of the specification's "Schema Resolution", one case each.
func TestResolveRules(t *testing.T) {
	// These pairs resolve the value given, but some other writer value
	// would not (a branch the reader lacks), so they are not compatible.
	partial := map[string]bool{"union value read as a non-union": true, "null branch": true}
	ts := time.UnixMilli(1767225600123).UTC()
	for _, c := range []struct {
		name           string
		writer, reader string
		value          any
		want           any
	}{
		{"reader-only field takes its default",
			rec(`{"name":"a","type":"int"}`), rec(`{"name":"a","type":"int"},{"name":"b","type":"string","default":"x"},{"name":"c","type":["null","long"],"default":null},{"name":"m","type":{"type":"map","values":"int"},"default":{"k":1}}`),
			map[string]any{"a": int32(1)}, map[string]any{"a": int32(1), "b": "x", "c": nil, "m": map[string]any{"k": int32(1)}}},
		{"writer-only field is skipped",
			rec(`{"name":"a","type":"int"},{"name":"gone","type":{"type":"array","items":"string"}}`), rec(`{"name":"a","type":"int"}`),
			map[string]any{"a": int32(1), "gone": []any{"x", "y"}}, map[string]any{"a": int32(1)}},
		{"fields matched by name, not position",
			rec(`{"name":"a","type":"int"},{"name":"b","type":"string"}`), rec(`{"name":"b","type":"string"},{"name":"a","type":"int"}`),
			map[string]any{"a": int32(1), "b": "x"}, map[string]any{"a": int32(1), "b": "x"}},
		{"field renamed with an alias",
			rec(`{"name":"old","type":"string"}`), rec(`{"name":"new","type":"string","aliases":["old"]}`),
			map[string]any{"old": "v"}, map[string]any{"new": "v"}},
		{"record renamed with an alias",
			`{"type":"record","name":"Old","fields":[{"name":"a","type":"int"}]}`, `{"type":"record","name":"New","aliases":["Old"],"fields":[{"name":"a","type":"int"}]}`,
			map[string]any{"a": int32(1)}, map[string]any{"a": int32(1)}},
		{"int promotes to long, float, double",
			rec(`{"name":"l","type":"int"},{"name":"f","type":"int"},{"name":"d","type":"int"}`), rec(`{"name":"l","type":"long"},{"name":"f","type":"float"},{"name":"d","type":"double"}`),
			map[string]any{"l": int32(-7), "f": int32(3), "d": int32(1 << 30)}, map[string]any{"l": int64(-7), "f": float32(3), "d": float64(1 << 30)}},
		{"long promotes to float, double; float to double",
			rec(`{"name":"f","type":"long"},{"name":"d","type":"long"},{"name":"x","type":"float"}`), rec(`{"name":"f","type":"float"},{"name":"d","type":"double"},{"name":"x","type":"double"}`),
			map[string]any{"f": int64(1 << 40), "d": int64(-5), "x": float32(1.5)}, map[string]any{"f": float32(1 << 40), "d": float64(-5), "x": float64(1.5)}},
		{"string and bytes convert both ways",
			rec(`{"name":"s","type":"string"},{"name":"b","type":"bytes"}`), rec(`{"name":"s","type":"bytes"},{"name":"b","type":"string"}`),
			map[string]any{"s": "héllo", "b": []byte("wörld")}, map[string]any{"s": []byte("héllo"), "b": "wörld"}},
		{"enum symbol the reader lacks becomes its default",
			rec(`{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B","NEW"]}}`), rec(`{"name":"e","type":{"type":"enum","name":"E","symbols":["UNKNOWN","A","B"],"default":"UNKNOWN"}}`),
			map[string]any{"e": "NEW"}, map[string]any{"e": "UNKNOWN"}},
		{"enum symbols matched by name",
			rec(`{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}}`), rec(`{"name":"e","type":{"type":"enum","name":"E","symbols":["B","A"]}}`),
			map[string]any{"e": "B"}, map[string]any{"e": "B"}},
		{"non-union read into a union takes the matching branch",
			rec(`{"name":"a","type":"string"}`), rec(`{"name":"a","type":["null","int","string"]}`),
			map[string]any{"a": "x"}, map[string]any{"a": map[string]any{"string": "x"}}},
		{"union value read as a non-union",
			rec(`{"name":"a","type":["null","int"]}`), rec(`{"name":"a","type":"long","default":0}`),
			map[string]any{"a": goavro.Union("int", int32(4))}, map[string]any{"a": int64(4)}},
		{"union to union, promoted when no exact branch",
			rec(`{"name":"a","type":["null","int"]}`), rec(`{"name":"a","type":["null","double","string"]}`),
			map[string]any{"a": goavro.Union("int", int32(4))}, map[string]any{"a": map[string]any{"double": float64(4)}}},
		{"union to union, exact branch before a promotion",
			rec(`{"name":"a","type":["null","int"]}`), rec(`{"name":"a","type":["null","long","int"]}`),
			map[string]any{"a": goavro.Union("int", int32(4))}, map[string]any{"a": map[string]any{"int": int32(4)}}},
		{"null branch",
			rec(`{"name":"a","type":["null","int"]}`), rec(`{"name":"a","type":["string","null"]}`),
			map[string]any{"a": nil}, map[string]any{"a": nil}},
		{"nested records, arrays and maps resolve recursively",
			rec(`{"name":"n","type":{"type":"array","items":{"type":"record","name":"In","fields":[{"name":"x","type":"int"}]}}},{"name":"m","type":{"type":"map","values":"int"}}`),
			rec(`{"name":"n","type":{"type":"array","items":{"type":"record","name":"In","fields":[{"name":"x","type":"long"},{"name":"y","type":"string","default":"d"}]}}},{"name":"m","type":{"type":"map","values":"double"}}`),
			map[string]any{"n": []any{map[string]any{"x": int32(1)}, map[string]any{"x": int32(2)}}, "m": map[string]any{"k": int32(3)}},
			map[string]any{"n": []any{map[string]any{"x": int64(1), "y": "d"}, map[string]any{"x": int64(2), "y": "d"}}, "m": map[string]any{"k": float64(3)}}},
		{"recursive schema",
			`{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}`,
			`{"type":"record","name":"Node","fields":[{"name":"v","type":"long"},{"name":"next","type":["null","Node"]},{"name":"tag","type":"string","default":""}]}`,
			map[string]any{"v": int32(1), "next": goavro.Union("Node", map[string]any{"v": int32(2), "next": nil})},
			map[string]any{"v": int64(1), "tag": "", "next": map[string]any{"Node": map[string]any{"v": int64(2), "tag": "", "next": nil}}}},
		{"logical timestamp read as plain long and back",
			rec(`{"name":"t","type":{"type":"long","logicalType":"timestamp-millis"}},{"name":"u","type":"long"}`),
			rec(`{"name":"t","type":"long"},{"name":"u","type":{"type":"long","logicalType":"timestamp-millis"}}`),
			map[string]any{"t": ts, "u": ts.UnixMilli()}, map[string]any{"t": ts.UnixMilli(), "u": ts}},
		{"fixed of the same name and size",
			rec(`{"name":"f","type":{"type":"fixed","name":"F","size":2}}`), rec(`{"name":"f","type":{"type":"fixed","name":"F","size":2}}`),
			map[string]any{"f": []byte("ab")}, map[string]any{"f": []byte("ab")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := resolveCase(t, c.writer, c.reader, c.value)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got  %#v\nwant %#v", got, c.want)
			}
			issues, err := Compatibility(c.reader, c.writer)
			if err != nil || (len(issues) != 0) != partial[c.name] {
				t.Fatalf("Compatibility: %v %v (partially compatible: %v)", issues, err, partial[c.name])
			}
		})
	}
}

// Incompatibilities are found statically, named with Confluent's rules,
// and a record that reaches one fails with ErrIncompatible-worthy errors
// rather than a wrong value.
func TestResolveIncompatible(t *testing.T) {
	for _, c := range []struct {
		name, writer, reader, rule, field string
		value                             any
	}{
		{"reader field without default", rec(`{"name":"a","type":"int"}`), rec(`{"name":"a","type":"int"},{"name":"b","type":"string"}`),
			RuleMissingDefault, "b", map[string]any{"a": int32(1)}},
		{"type change", rec(`{"name":"a","type":"string"}`), rec(`{"name":"a","type":"int"}`), RuleTypeMismatch, "a", map[string]any{"a": "x"}},
		{"no demotion", rec(`{"name":"a","type":"long"}`), rec(`{"name":"a","type":"int"}`), RuleTypeMismatch, "a", map[string]any{"a": int64(1)}},
		{"enum symbol without default", rec(`{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}}`), rec(`{"name":"e","type":{"type":"enum","name":"E","symbols":["A"]}}`),
			RuleMissingEnumSymbol, "e", map[string]any{"e": "B"}},
		{"fixed size", rec(`{"name":"f","type":{"type":"fixed","name":"F","size":2}}`), rec(`{"name":"f","type":{"type":"fixed","name":"F","size":3}}`),
			RuleFixedSize, "f", map[string]any{"f": []byte("ab")}},
		{"record renamed without alias", `{"type":"record","name":"Old","fields":[]}`, `{"type":"record","name":"New","fields":[]}`,
			RuleNameMismatch, "", map[string]any{}},
		{"union branch the reader lacks", rec(`{"name":"a","type":["null","string","int"]}`), rec(`{"name":"a","type":["null","string"]}`),
			RuleMissingUnion, "a", map[string]any{"a": goavro.Union("int", int32(3))}},
		{"writer union read as non-union, null branch", rec(`{"name":"a","type":["null","string"]}`), rec(`{"name":"a","type":"string"}`),
			RuleTypeMismatch, "a", map[string]any{"a": nil}},
	} {
		t.Run(c.name, func(t *testing.T) {
			issues, err := Compatibility(c.reader, c.writer)
			if err != nil {
				t.Fatal(err)
			}
			if len(issues) != 1 || issues[0].Rule != c.rule || issues[0].Field != c.field {
				t.Fatalf("issues %v, want one %s on field %q", issues, c.rule, c.field)
			}
			if _, err := resolveCase(t, c.writer, c.reader, c.value); err == nil {
				t.Fatalf("a record that reaches the incompatibility resolved")
			}
		})
	}
	// A record that does not reach the incompatible part still reads.
	got, err := resolveCase(t, rec(`{"name":"a","type":["null","string","int"]}`), rec(`{"name":"a","type":["null","string"]}`),
		map[string]any{"a": goavro.Union("string", "ok")})
	if err != nil || !reflect.DeepEqual(got, map[string]any{"a": map[string]any{"string": "ok"}}) {
		t.Fatalf("got %v, %v", got, err)
	}
}

// Defaults goavro lets through are still checked against their type.
func TestSchemaDefaultsChecked(t *testing.T) {
	for _, c := range []struct{ field, want string }{
		{`{"name":"a","type":"int","default":1.5}`, "want an integer"},
		{`{"name":"a","type":"int","default":4294967296}`, "out of range"},
		{`{"name":"a","type":["null","int"],"default":3}`, "first branch"},
		{`{"name":"a","type":"bytes","default":"\u0100"}`, "code point"},
		{`{"name":"a","type":{"type":"enum","name":"E","symbols":["A"]},"default":"B"}`, "symbols"},
		{`{"name":"a","type":{"type":"record","name":"In","fields":[{"name":"x","type":"int"}]},"default":{}}`, "field x is missing"},
	} {
		_, err := parseSchema(rec(c.field))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "field a") {
			t.Errorf("%s: error %v, want one naming field a and saying %q", c.field, err, c.want)
		}
	}
}

// The codec path: the latest LogEvent codec reads v1 bytes with the new
// field at its default; a v1-pinned codec reads v2 bytes only with a
// source, and otherwise names the fingerprint.
func TestCodecReadsEveryVersion(t *testing.T) {
	latest, err := NewLogEvent()
	if err != nil {
		t.Fatal(err)
	}
	old, err := NewLogEvent(WithVersion(schemas.NameLogEvent, 1))
	if err != nil {
		t.Fatal(err)
	}
	ev := goldenLogEventV(2)
	v2bytes, err := latest.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	v1bytes, err := old.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if fp, _ := Fingerprint(v1bytes); fp != old.Fingerprint() || old.Version().Version != 1 {
		t.Fatalf("the pinned codec wrote fingerprint %016x", fp)
	}
	got, err := latest.Unmarshal(v1bytes)
	if err != nil || !logEventEqual(got, goldenLogEventV(1)) {
		t.Fatalf("v1 read as v2: %+v, %v", got, err)
	}
	_, err = old.Unmarshal(v2bytes)
	var de *DecodeError
	if !errors.Is(err, ErrUnknownSchema) || !errors.As(err, &de) || de.Fingerprint != latest.Fingerprint() ||
		!strings.Contains(err.Error(), latest.Version().Label()) && !strings.Contains(err.Error(), "no schema registry") {
		t.Fatalf("v2 read by a v1 pod without a source: %v", err)
	}
	withSource, err := NewLogEvent(WithVersion(schemas.NameLogEvent, 1), WithSource(catalogSource{}))
	if err != nil {
		t.Fatal(err)
	}
	got, err = withSource.Unmarshal(v2bytes)
	if err != nil || !logEventEqual(got, goldenLogEventV(1)) {
		t.Fatalf("v2 read by a v1 pod with a source: %+v, %v", got, err)
	}
	// Confluent framing, both ways.
	conf := latest.WithWire(WireConfluent)
	cb, err := conf.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if cb[0] != 0 || int(cb[1])<<24|int(cb[2])<<16|int(cb[3])<<8|int(cb[4]) != latest.ID() {
		t.Fatalf("Confluent header %x, want 0 and id %d", cb[:5], latest.ID())
	}
	if got, err := latest.Unmarshal(cb); err != nil || !logEventEqual(got, ev) {
		t.Fatalf("Confluent read back: %+v, %v", got, err)
	}
	if got, err := withSource.Unmarshal(cb); err != nil || !logEventEqual(got, goldenLogEventV(1)) {
		t.Fatalf("Confluent v2 read by a v1 pod with a source: %+v, %v", got, err)
	}
	if _, err := old.Unmarshal(cb); !errors.Is(err, ErrUnknownSchema) || !strings.Contains(err.Error(), "schema id") {
		t.Fatalf("Confluent v2 read by a v1 pod without a source: %v", err)
	}
}

// catalogSource serves the embedded catalog, as a registry would.
type catalogSource struct{}

func (catalogSource) SchemaByID(_ context.Context, id int) (string, error) {
	cat, _ := schemas.Embedded()
	if s, ok := cat.ByID(id); ok {
		return s.JSON, nil
	}
	return "", ErrSchemaNotFound
}

func (catalogSource) SchemaByFingerprint(_ context.Context, fp uint64) (string, error) {
	cat, _ := schemas.Embedded()
	if s, ok := cat.ByFingerprint(fp); ok {
		return s.JSON, nil
	}
	return "", ErrSchemaNotFound
}
