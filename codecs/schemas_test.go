package codecs

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/logstream/logstream/schemas"
)

// TestEverySchemaHasACodec fails when a .avsc file is added to package
// schemas without a codec in NewSet.
func TestEverySchemaHasACodec(t *testing.T) {
	s := mustSet(t)
	codecs := map[string]uint64{
		s.RawLog.Name():             s.RawLog.Fingerprint(),
		s.LogEvent.Name():           s.LogEvent.Fingerprint(),
		s.Span.Name():               s.Span.Fingerprint(),
		s.DeadLetter.Name():         s.DeadLetter.Fingerprint(),
		s.ParseState.Name():         s.ParseState.Fingerprint(),
		s.DedupeState.Name():        s.DedupeState.Fingerprint(),
		s.TraceState.Name():         s.TraceState.Fingerprint(),
		s.HostWindow.Name():         s.HostWindow.Fingerprint(),
		s.Alert.Name():              s.Alert.Fingerprint(),
		s.ErrorRateState.Name():     s.ErrorRateState.Fingerprint(),
		s.AlerterState.Name():       s.AlerterState.Fingerprint(),
		s.ErrorRatePartial.Name():   s.ErrorRatePartial.Fingerprint(),
		s.ErrorRatePartition.Name(): s.ErrorRatePartition.Fingerprint(),
		s.WindowUpdate.Name():       s.WindowUpdate.Fingerprint(),
	}
	all, err := schemas.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) == 0 {
		t.Fatal("schemas.All() is empty")
	}
	seen := map[string]bool{}
	for _, sc := range all {
		seen[sc.Name] = true
		fp, ok := codecs[sc.Name]
		if !ok {
			t.Errorf("schema %s (%s) has no codec in NewSet", sc.Name, sc.File)
			continue
		}
		c, err := compile(sc)
		if err != nil {
			t.Fatal(err)
		}
		if c.schema.Fingerprint != fp || sc.Fingerprint != fp {
			t.Errorf("%s: codec fingerprint %016x, compiled %016x, catalog's %016x", sc.Name, fp, c.schema.Fingerprint, sc.Fingerprint)
		}
		// The fingerprint against the specification's algorithm, written
		// out here, over the Parsing Canonical Form.
		form, err := schemas.CanonicalForm(sc.JSON)
		if err != nil {
			t.Fatal(err)
		}
		if want := rabinSpec(form); fp != want {
			t.Errorf("%s: fingerprint %016x, CRC-64-AVRO of the canonical form is %016x", sc.Name, fp, want)
		}
		// The legacy fingerprint is goavro's.
		if want := rabinSpec(c.avro.CanonicalSchema()); sc.LegacyFingerprint != want || c.schema.LegacyFingerprint != want {
			t.Errorf("%s: legacy fingerprint %016x (compiled %016x), CRC-64-AVRO of goavro's canonical form is %016x", sc.Name, sc.LegacyFingerprint, c.schema.LegacyFingerprint, want)
		}
	}
	for name := range codecs {
		if !seen[name] {
			t.Errorf("NewSet has a codec for %s, which schemas.All() does not return", name)
		}
	}
}

// rabinSpec is the 64-bit Rabin fingerprint as given in the Avro
// specification ("Schema Fingerprints").
func rabinSpec(s string) uint64 {
	const empty = 0xc15d213aa4d7a795
	var table [256]uint64
	for i := range table {
		fp := uint64(i)
		for range 8 {
			fp = (fp >> 1) ^ (empty & -(fp & 1))
		}
		table[i] = fp
	}
	fp := uint64(empty)
	for _, b := range []byte(s) {
		fp = (fp >> 8) ^ table[byte(fp)^b]
	}
	return fp
}

func TestRabinSpecKnownValue(t *testing.T) {
	// From the Avro specification's test vectors: "int".
	if got := rabinSpec(`"int"`); got != 0x7275d51a3f395c8f {
		t.Fatalf(`rabin("int") = %016x`, got)
	}
}

// TestSchemaDocs requires a non-empty "doc" on every record, every field and
// every enum, at any depth.
func TestSchemaDocs(t *testing.T) {
	all, err := schemas.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range all {
		t.Run(sc.File, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(sc.JSON), &v); err != nil {
				t.Fatal(err)
			}
			for _, missing := range undocumented(v, sc.Name) {
				t.Errorf("%s: %s has no doc", sc.File, missing)
			}
		})
	}
}

func hasDoc(m map[string]any) bool {
	d, ok := m["doc"].(string)
	return ok && strings.TrimSpace(d) != ""
}

// undocumented lists the paths of records, fields and enums without a doc.
func undocumented(v any, path string) []string {
	var out []string
	switch t := v.(type) {
	case []any: // union
		for i, b := range t {
			out = append(out, undocumented(b, fmt.Sprintf("%s[%d]", path, i))...)
		}
	case map[string]any:
		switch typ := t["type"].(type) {
		case string:
			switch typ {
			case "record", "error":
				if !hasDoc(t) {
					out = append(out, "record "+path)
				}
				fields, _ := t["fields"].([]any)
				for _, f := range fields {
					fm, _ := f.(map[string]any)
					name, _ := fm["name"].(string)
					fp := path + "." + name
					if !hasDoc(fm) {
						out = append(out, "field "+fp)
					}
					out = append(out, undocumented(fm["type"], fp)...)
				}
			case "enum":
				if !hasDoc(t) {
					out = append(out, "enum "+path)
				}
			case "map":
				out = append(out, undocumented(t["values"], path+"{}")...)
			case "array":
				out = append(out, undocumented(t["items"], path+"[]")...)
			}
		default:
			out = append(out, undocumented(typ, path)...)
		}
	}
	return out
}

func TestUndocumentedFindsGaps(t *testing.T) {
	var v any
	_ = json.Unmarshal([]byte(`{"type":"record","name":"R","fields":[
		{"name":"a","type":"string","doc":"ok"},
		{"name":"b","type":"string"},
		{"name":"c","doc":"ok","type":{"type":"enum","name":"E","symbols":["X"]}},
		{"name":"d","doc":"ok","type":{"type":"map","values":{"type":"record","name":"N","doc":"ok","fields":[{"name":"x","type":"int"}]}}},
		{"name":"e","doc":"ok","type":["null",{"type":"enum","name":"F","symbols":["Y"],"doc":" "}]}
	]}`), &v)
	got := undocumented(v, "R")
	want := []string{"record R", "field R.b", "enum R.c", "field R.d{}.x", "enum R.e[1]"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("undocumented = %q, want %q", got, want)
	}
}

func TestParseShapeRejects(t *testing.T) {
	for _, s := range []string{
		`not json`,
		`{"type":"record","name":"R","fields":[{"name":"a","type":"Missing"}]}`,
		`{"type":"enum","name":"E","symbols":[]}`,
		`[]`,
		`{"name":"x"}`,
	} {
		if _, err := parseShape(s); err == nil {
			t.Errorf("parseShape(%s) succeeded", s)
		}
	}
	// Named types are found by full and by short name; recursion is fine.
	sh, err := parseShape(`{"type":"record","name":"L","namespace":"n","fields":[
		{"name":"next","type":["null","n.L"]},{"name":"prev","type":["null","L"]},
		{"name":"f","type":{"type":"fixed","name":"F","size":2}},{"name":"g","type":"F"},
		{"name":"a","type":{"type":"array","items":"boolean"}},{"name":"x","type":"float"}]}`)
	if err != nil {
		t.Fatal(err)
	}
	// next: L{next:null, prev:null, f, g, a:[true], x}, prev: null, f, g, a: [], x
	inner := cat(zz(0), zz(0), []byte("ab"), []byte("cd"), zz(1), []byte{1}, zz(0), []byte{0, 0, 0, 0})
	body := cat(zz(1), inner, zz(0), []byte("ef"), []byte("gh"), zz(0), []byte{0, 0, 0, 0})
	if err := sh.check(body); err != nil {
		t.Fatalf("check: %v", err)
	}
	if err := sh.check(cat(zz(1), inner[:len(inner)-1])); err == nil {
		t.Fatal("check accepted a truncated body")
	}
	bad := cat(zz(1), zz(0), zz(0), []byte("ab"), []byte("cd"), zz(1), []byte{2}, zz(0), []byte{0, 0, 0, 0})
	if err := sh.check(cat(bad, zz(0), []byte("efgh"), zz(0), []byte{0, 0, 0, 0})); err == nil {
		t.Fatal("check accepted boolean 2")
	}
	// Deep recursion is bounded.
	deep := []byte{}
	for range maxDepth + 10 {
		deep = append(deep, 2) // next: union branch 1
	}
	if err := sh.check(deep); err == nil || !strings.Contains(err.Error(), "deeper") {
		t.Fatalf("deep: %v", err)
	}
}
