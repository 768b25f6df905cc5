package codecs

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/logstream/logstream/schemas"
)

// The Parsing Canonical Form (schemas.CanonicalForm, whose CRC-64-AVRO is
// every single-object header's fingerprint) against hamba/avro's, on every
// embedded schema and on the generated writer and reader schemas of the
// hamba oracle (nested records, enums and fixeds, in namespaces of their
// own or their enclosing type's, unions, arrays, maps, logical types).
//
// hamba's form is not the specification's for logical types: hamba (v2.31)
// writes {"type":"long","logicalType":"timestamp-millis"} where [STRIP]
// and [PRIMITIVES] make "long" (as Apache Avro Java does), and a fixed's
// logical type after its size. So hamba is handed the schema with its
// logical types removed, which does not change the specification's form;
// what hamba then checks is the rest: full names, references, order,
// stripping. TestJavaOracleFingerprints checks logical types against Java.

// withoutLogicalTypes returns the schema text with every logicalType (and
// a decimal's precision and scale) removed from its type objects.
func withoutLogicalTypes(t *testing.T, text string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatal(err)
	}
	var strip func(v any)
	strip = func(v any) {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				strip(e)
			}
		case map[string]any:
			delete(x, "logicalType")
			delete(x, "precision")
			delete(x, "scale")
			for k, e := range x {
				if k != "default" { // a default is data, not a schema
					strip(e)
				}
			}
		}
	}
	strip(v)
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkHambaCanonical compares the two forms of one schema text; it reports
// whether the text had a logical type.
func checkHambaCanonical(t *testing.T, what, text string) bool {
	t.Helper()
	ours, err := schemas.CanonicalForm(text)
	if err != nil {
		t.Errorf("%s: %v\n%s", what, err, text)
		return false
	}
	plain := withoutLogicalTypes(t, text)
	h, err := hambaParse(plain)
	if err != nil {
		t.Errorf("%s: hamba: %v\n%s", what, err, plain)
		return false
	}
	if got := h.String(); got != ours {
		t.Errorf("%s: canonical forms differ\nours:  %s\nhamba: %s\nschema: %s", what, ours, got, text)
	}
	// Without its logical types the schema has the same form.
	if again, err := schemas.CanonicalForm(plain); err != nil || again != ours {
		t.Errorf("%s: removing the logical types changed the form: %s (%v)", what, again, err)
	}
	return plain != compactJSON(t, text)
}

func compactJSON(t *testing.T, text string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHambaOracleCanonicalForm(t *testing.T) {
	cat := mustCatalog(t)
	for _, s := range cat.Schemas() {
		checkHambaCanonical(t, s.File, s.JSON)
	}
	// Names the generator does not make: a nested type stating another
	// namespace (goavro's form made it a.b.Inner), dotted names, a
	// reference by full name and by short name, recursion.
	for _, text := range []string{
		`{"type":"record","name":"Outer","namespace":"a","fields":[
			{"name":"in","type":{"type":"record","name":"Inner","namespace":"b","fields":[
				{"name":"e","type":{"type":"enum","name":"E","symbols":["X","Y"]}}]}},
			{"name":"again","type":"b.E"},
			{"name":"d","type":{"type":"record","name":"c.d.Dotted","fields":[{"name":"f","type":{"type":"fixed","name":"F","size":4}}]}},
			{"name":"f2","type":["null","c.d.F"]},
			{"name":"list","type":{"type":"array","items":{"type":"record","name":"Item","fields":[{"name":"next","type":["null","Item"]}]}}},
			{"name":"byFull","type":{"type":"map","values":"a.Item"}}]}`,
	} {
		checkHambaCanonical(t, "hand-written", text)
	}
	logical := 0
	for _, seed := range hambaSeeds() {
		c := newGen(seed, false).makeCase(seed, 30)
		for _, s := range []struct{ what, text string }{{"writer", c.writerJSON}, {"reader", c.readerJSON}} {
			if checkHambaCanonical(t, fmt.Sprintf("seed %d %s", seed, s.what), s.text) {
				logical++
			}
		}
	}
	if logical == 0 {
		t.Error("no generated schema had a logical type")
	}
	t.Logf("%d embedded and %d generated schemas (%d with logical types) have hamba's canonical form", len(cat.Schemas()), 2*len(hambaSeeds()), logical)
}
