package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

// specCanonicalCases are the Parsing Canonical Form test vectors of Apache
// Avro's share/test/data/schema-tests.txt (cases 000-033), which Avro's Java
// tests check against its own implementation: the input, its canonical form
// and, where the file gives one, its fingerprint (the file writes it as a
// signed 64-bit integer).
var specCanonicalCases = []struct {
	in, canonical string
	fp            int64 // 0: none given
}{
	{`"null"`, `"null"`, 7195948357588979594},
	{`{"type":"null"}`, `"null"`, 0},
	{`"boolean"`, `"boolean"`, -6970731678124411036},
	{`{"type":"boolean"}`, `"boolean"`, 0},
	{`"int"`, `"int"`, 8247732601305521295},
	{`{"type":"int"}`, `"int"`, 0},
	{`"long"`, `"long"`, -3434872931120570953},
	{`{"type":"long"}`, `"long"`, 0},
	{`"float"`, `"float"`, 5583340709985441680},
	{`{"type":"float"}`, `"float"`, 0},
	{`"double"`, `"double"`, -8181574048448539266},
	{`{"type":"double"}`, `"double"`, 0},
	{`"bytes"`, `"bytes"`, 5746618253357095269},
	{`{"type":"bytes"}`, `"bytes"`, 0},
	{`"string"`, `"string"`, -8142146995180207161},
	{`{"type":"string"}`, `"string"`, 0},
	{`[  ]`, `[]`, -1241056759729112623},
	{`[ "int"  ]`, `["int"]`, -5232228896498058493},
	{`[ "int" , {"type":"boolean"} ]`, `["int","boolean"]`, 5392556393470105090},
	{`{"fields":[], "type":"record", "name":"foo"}`, `{"name":"foo","type":"record","fields":[]}`, -4824392279771201922},
	{`{"fields":[], "type":"record", "name":"foo", "namespace":"x.y"}`, `{"name":"x.y.foo","type":"record","fields":[]}`, 5916914534497305771},
	{`{"fields":[], "type":"record", "name":"a.b.foo", "namespace":"x.y"}`, `{"name":"a.b.foo","type":"record","fields":[]}`, -4616218487480524110},
	{`{"fields":[], "type":"record", "name":"foo", "doc":"Useful info"}`, `{"name":"foo","type":"record","fields":[]}`, -4824392279771201922},
	{`{"fields":[], "type":"record", "name":"foo", "aliases":["foo","bar"]}`, `{"name":"foo","type":"record","fields":[]}`, -4824392279771201922},
	{`{"fields":[], "type":"record", "name":"foo", "doc":"foo", "aliases":["foo","bar"]}`, `{"name":"foo","type":"record","fields":[]}`, -4824392279771201922},
	{`{"fields":[{"type":{"type":"boolean"}, "name":"f1"}], "type":"record", "name":"foo"}`, `{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"}]}`, 7843277075252814651},
	{`{ "fields":[{"type":"boolean", "aliases":[], "name":"f1", "default":"true"},
            {"order":"descending","name":"f2","doc":"Hello","type":"int"}],
  "type":"record", "name":"foo"
}`, `{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"},{"name":"f2","type":"int"}]}`, -4860222112080293046},
	{`{"type":"enum", "name":"foo", "symbols":["A1"]}`, `{"name":"foo","type":"enum","symbols":["A1"]}`, -6342190197741309591},
	{`{"namespace":"x.y.z", "type":"enum", "name":"foo", "doc":"foo bar", "symbols":["A1", "A2"]}`, `{"name":"x.y.z.foo","type":"enum","symbols":["A1","A2"]}`, -4448647247586288245},
	{`{"name":"foo","type":"fixed","size":15}`, `{"name":"foo","type":"fixed","size":15}`, 1756455273707447556},
	{`{"namespace":"x.y.z", "type":"fixed", "name":"foo", "doc":"foo bar", "size":32}`, `{"name":"x.y.z.foo","type":"fixed","size":32}`, -3064184465700546786},
	{`{ "items":{"type":"null"}, "type":"array"}`, `{"type":"array","items":"null"}`, -589620603366471059},
	{`{ "values":"string", "type":"map"}`, `{"type":"map","values":"string"}`, -8732877298790414990},
	{`{"name":"PigValue","type":"record",
   "fields":[{"name":"value", "type":["null", "int", "long", "PigValue"]}]}`,
		`{"name":"PigValue","type":"record","fields":[{"name":"value","type":["null","int","long","PigValue"]}]}`, -1759257747318642341},
}

func TestCanonicalFormSpecVectors(t *testing.T) {
	for i, c := range specCanonicalCases {
		got, err := CanonicalForm(c.in)
		if err != nil {
			t.Errorf("case %03d %s: %v", i, c.in, err)
			continue
		}
		if got != c.canonical {
			t.Errorf("case %03d %s:\ngot  %s\nwant %s", i, c.in, got, c.canonical)
		}
		fp, err := Fingerprint(c.in)
		if err != nil {
			t.Fatal(err)
		}
		if c.fp != 0 && fp != uint64(c.fp) {
			t.Errorf("case %03d %s: fingerprint %016x, want %016x", i, c.in, fp, uint64(c.fp))
		}
	}
}

// TestCanonicalFormRules covers what the vectors do not: logical types
// ([PRIMITIVES]), names nested in namespaces ([FULLNAMES]) and references.
// The expected forms follow the specification; TestJavaOracle in package
// codecs has Apache Avro Java compute the same schemas.
func TestCanonicalFormRules(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"logical types reduce to their primitive",
			`{"type":"record","name":"T","namespace":"n","fields":[
				{"name":"ms","type":{"type":"long","logicalType":"timestamp-millis"}},
				{"name":"us","type":["null",{"type":"long","logicalType":"timestamp-micros","doc":"x"}]},
				{"name":"day","type":{"type":"int","logicalType":"date"}},
				{"name":"id","type":{"type":"string","logicalType":"uuid"}},
				{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
				{"name":"fixed","type":{"type":"fixed","name":"Dec","size":8,"logicalType":"decimal","precision":10,"scale":2}},
				{"name":"custom","type":{"type":"string","java-class":"java.net.URI"}}]}`,
			`{"name":"n.T","type":"record","fields":[{"name":"ms","type":"long"},{"name":"us","type":["null","long"]},` +
				`{"name":"day","type":"int"},{"name":"id","type":"string"},{"name":"amount","type":"bytes"},` +
				`{"name":"fixed","type":{"name":"n.Dec","type":"fixed","size":8}},{"name":"custom","type":"string"}]}`},
		{"a nested enum takes the enclosing record's namespace, and so does a reference to it",
			`{"type":"record","name":"LogEvent","namespace":"logstream","fields":[
				{"name":"level","type":{"type":"enum","name":"Level","symbols":["INFO","WARN"],"default":"INFO","doc":"d"}},
				{"name":"previous","type":["null","Level"],"default":null},
				{"name":"full","type":"logstream.Level"}]}`,
			`{"name":"logstream.LogEvent","type":"record","fields":[` +
				`{"name":"level","type":{"name":"logstream.Level","type":"enum","symbols":["INFO","WARN"]}},` +
				`{"name":"previous","type":["null","logstream.Level"]},{"name":"full","type":"logstream.Level"}]}`},
		{"a record nested in a map's values takes the namespace too",
			`{"type":"record","name":"ParseState","namespace":"logstream","fields":[
				{"name":"pending","type":{"type":"map","values":{"type":"record","name":"PendingLine","fields":[
					{"name":"time","type":{"type":"long","logicalType":"timestamp-millis"}}]}}},
				{"name":"items","type":{"type":"array","items":"PendingLine"}}]}`,
			`{"name":"logstream.ParseState","type":"record","fields":[` +
				`{"name":"pending","type":{"type":"map","values":{"name":"logstream.PendingLine","type":"record","fields":[{"name":"time","type":"long"}]}}},` +
				`{"name":"items","type":{"type":"array","items":"logstream.PendingLine"}}]}`},
		{"a namespace attribute replaces the enclosing one (goavro appended it: a.b.Inner)",
			`{"type":"record","name":"Outer","namespace":"a","fields":[
				{"name":"in","type":{"type":"record","name":"Inner","namespace":"b","fields":[
					{"name":"e","type":{"type":"enum","name":"E","symbols":["X"]}}]}},
				{"name":"again","type":"b.E"}]}`,
			`{"name":"a.Outer","type":"record","fields":[` +
				`{"name":"in","type":{"name":"b.Inner","type":"record","fields":[{"name":"e","type":{"name":"b.E","type":"enum","symbols":["X"]}}]}},` +
				`{"name":"again","type":"b.E"}]}`},
		{"a dotted name is full, ignores the namespace attribute, and gives its own to what it encloses",
			`{"type":"record","name":"Outer","namespace":"a","fields":[
				{"name":"d","type":{"type":"record","name":"c.d.Dotted","namespace":"ignored","fields":[
					{"name":"f","type":{"type":"fixed","name":"F","size":4}}]}},
				{"name":"again","type":"c.d.F"}]}`,
			`{"name":"a.Outer","type":"record","fields":[` +
				`{"name":"d","type":{"name":"c.d.Dotted","type":"record","fields":[{"name":"f","type":{"name":"c.d.F","type":"fixed","size":4}}]}},` +
				`{"name":"again","type":"c.d.F"}]}`},
		{"a null-namespace name is found from inside a namespace, as Java finds it",
			`{"type":"record","name":"Top","fields":[
				{"name":"x","type":{"type":"enum","name":"G","symbols":["A"]}},
				{"name":"n","type":{"type":"record","name":"N","namespace":"q","fields":[{"name":"g","type":"G"}]}}]}`,
			`{"name":"Top","type":"record","fields":[{"name":"x","type":{"name":"G","type":"enum","symbols":["A"]}},` +
				`{"name":"n","type":{"name":"q.N","type":"record","fields":[{"name":"g","type":"G"}]}}]}`},
		{"an empty namespace is the null namespace, for the type and what it encloses",
			// Apache Avro Java 1.8.2 gives E the enclosing a. instead; later
			// releases follow the specification, as this does.
			`{"type":"record","name":"Outer","namespace":"a","fields":[
				{"name":"in","type":{"type":"record","name":"Inner","namespace":"","fields":[
					{"name":"e","type":{"type":"enum","name":"E","symbols":["X"]}}]}}]}`,
			`{"name":"a.Outer","type":"record","fields":[{"name":"in","type":{"name":"Inner","type":"record","fields":[` +
				`{"name":"e","type":{"name":"E","type":"enum","symbols":["X"]}}]}}]}`},
		{"a recursive record, an error and a type given as {\"type\": name}",
			`{"type":"record","name":"Node","namespace":"g","fields":[
				{"name":"next","type":["null","Node"]},
				{"name":"oops","type":{"type":"error","name":"Oops","fields":[]}},
				{"name":"self","type":{"type":"Node"}}]}`,
			`{"name":"g.Node","type":"record","fields":[{"name":"next","type":["null","g.Node"]},` +
				`{"name":"oops","type":{"name":"g.Oops","type":"record","fields":[]}},{"name":"self","type":"g.Node"}]}`},
		{"escaped strings are written unescaped",
			`{"type":"record","name":"\u0052","fields":[{"name":"f\u0031","type":"\u0069nt"}]}`,
			`{"name":"R","type":"record","fields":[{"name":"f1","type":"int"}]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := CanonicalForm(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("\ngot  %s\nwant %s", got, c.want)
			}
			if fp, err := Fingerprint(c.in); err != nil || fp != CRC64Avro([]byte(c.want)) {
				t.Errorf("fingerprint %016x (%v), want the CRC-64-AVRO of the form, %016x", fp, err, CRC64Avro([]byte(c.want)))
			}
		})
	}
}

func TestCanonicalFormErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"type":"record","name":"R","fields":[{"name":"a","type":"Later"}]}`, `type "Later" is neither a primitive nor a named type defined before it`},
		{`{"type":"record","name":"R","namespace":"n","fields":[{"name":"a","type":{"type":"enum","name":"R","symbols":["X"]}}]}`, `n.R is defined twice`},
		{`{"type":"record","name":"R-1","fields":[]}`, `"R-1" is not a valid Avro name`},
		{`{"type":"record","name":"R","namespace":"a..b","fields":[]}`, `"" is not a valid Avro name`},
		{`{"type":"record","name":"R"}`, `record R has no "fields" array`},
		{`{"type":"record","name":"R","fields":[{"name":"a"}]}`, `field a has no "type"`},
		{`{"type":"record","name":"R","fields":[{"name":"a b","type":"int"}]}`, `field name "a b" is not a valid Avro name`},
		{`{"type":"enum","name":"E","symbols":["A","b c"]}`, `symbol "b c" is not a valid Avro name`},
		{`{"type":"fixed","name":"F","size":1.5}`, `"size" 1.5 is not a non-negative integer`},
		{`{"type":"fixed","name":"F","size":-1}`, `"size" -1 is not a non-negative integer`},
		{`{"type":"array"}`, `array has no "items"`},
		{`{"type":"map"}`, `map has no "values"`},
		{`{"type":{"type":"int"}}`, `has no "type" name`},
		{`{"type":"enum","symbols":["A"]}`, `enum has no "name"`},
		{`{"type":"record","name":"int","fields":[]}`, `a primitive type name cannot be defined`},
		{`42`, `42 is not a schema`},
		{`"int" "long"`, `text after the schema`},
		{`{"type":`, `not valid JSON`},
	}
	for _, c := range cases {
		_, err := CanonicalForm(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "schemas: canonical form: ") {
			t.Errorf("%s: error %v, want one containing %q", c.in, err, c.want)
		}
		if _, ferr := Fingerprint(c.in); ferr == nil {
			t.Errorf("%s: Fingerprint has no error", c.in)
		}
	}
}

// TestEmbeddedFingerprints: every embedded version's fingerprint is that of
// its canonical form, the legacy fingerprint is goavro's, and both name the
// version in the catalog. LogEvent v3's two values are the ones issue 16
// reported: eaeea4d342b9712e from Apache Avro Java's parsingFingerprint64,
// b7684377901cc50c from goavro (what logstream wrote until then).
func TestEmbeddedFingerprints(t *testing.T) {
	cat, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	differ := 0
	for _, s := range cat.Schemas() {
		form, err := CanonicalForm(s.JSON)
		if err != nil {
			t.Fatalf("%s: %v", s.File, err)
		}
		if s.Fingerprint != CRC64Avro([]byte(form)) {
			t.Errorf("%s: fingerprint %016x, CRC-64-AVRO of the canonical form %016x", s.File, s.Fingerprint, CRC64Avro([]byte(form)))
		}
		legacy, err := LegacyFingerprint(s.JSON)
		if err != nil || s.LegacyFingerprint != legacy {
			t.Errorf("%s: legacy fingerprint %016x, goavro's %016x (%v)", s.File, s.LegacyFingerprint, legacy, err)
		}
		// They differ exactly when the schema has a logical type.
		if (s.LegacyFingerprint != s.Fingerprint) != strings.Contains(s.JSON, `"logicalType"`) {
			t.Errorf("%s: fingerprint %016x, legacy %016x: they should differ exactly when the schema has a logical type", s.File, s.Fingerprint, s.LegacyFingerprint)
		}
		if s.LegacyFingerprint != s.Fingerprint {
			differ++
		}
		for _, fp := range []uint64{s.Fingerprint, s.LegacyFingerprint} {
			if got, ok := cat.ByFingerprint(fp); !ok || got.File != s.File {
				t.Errorf("%s: ByFingerprint(%016x) = %s, %v", s.File, fp, got.File, ok)
			}
		}
	}
	if differ == 0 {
		t.Error("no embedded schema has a legacy fingerprint of its own")
	}
	rec, _ := cat.Record(NameLogEvent)
	v3, ok := rec.Version(3)
	if !ok || v3.Fingerprint != 0xeaeea4d342b9712e || v3.LegacyFingerprint != 0xb7684377901cc50c {
		t.Errorf("LogEvent v3: fingerprint %016x, legacy %016x; want eaeea4d342b9712e (Java's), b7684377901cc50c (goavro's)", v3.Fingerprint, v3.LegacyFingerprint)
	}
}

func TestCRC64AvroEmpty(t *testing.T) {
	// The specification: the fingerprint of the empty string is the
	// polynomial's EMPTY constant.
	if got := CRC64Avro(nil); got != 0xc15d213aa4d7a795 {
		t.Errorf("CRC64Avro(\"\") = %016x", got)
	}
}

func BenchmarkFingerprint(b *testing.B) {
	cat, err := Embedded()
	if err != nil {
		b.Fatal(err)
	}
	rec, _ := cat.Record(NameLogEvent)
	text := rec.Latest().JSON
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Fingerprint(text); err != nil {
			b.Fatal(err)
		}
	}
}

// TestManifestFromLegacy: a manifest written before fingerprints followed
// the specification (each version's goavro fingerprint as "fingerprint",
// no legacy_fingerprint) fails the check with a message saying so, and
// `schemas manifest --write` turns it into the current manifest keeping
// every id: the registry's schema ids do not move.
func TestManifestFromLegacy(t *testing.T) {
	cur, err := fs.ReadFile(FS(), ManifestFile)
	if err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := json.Unmarshal(cur, &m); err != nil {
		t.Fatal(err)
	}
	legacy := 0
	for i, e := range m.Schemas {
		if e.LegacyFingerprint != "" {
			m.Schemas[i].Fingerprint, m.Schemas[i].LegacyFingerprint = e.LegacyFingerprint, ""
			legacy++
		}
	}
	if legacy == 0 {
		t.Fatal("the manifest lists no legacy fingerprint")
	}
	old, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{ManifestFile: {Data: old}}
	err = fs.WalkDir(FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == ManifestFile {
			return err
		}
		b, err := fs.ReadFile(FS(), path)
		fsys[path] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Load(fsys)
	var le *LoadError
	if !errors.As(err, &le) || len(le.Problems) != legacy {
		t.Fatalf("Load of the old manifest: %v, want %d problems", err, legacy)
	}
	for _, p := range le.Problems {
		if !strings.Contains(p.Msg, "lists its legacy (goavro) fingerprint") || !strings.Contains(p.Msg, "schemas manifest --write") {
			t.Errorf("problem %s", p)
		}
	}
	regenerated, err := Manifest(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(regenerated, cur) {
		t.Fatalf("regenerated from the old manifest:\n%s\nwant the current one:\n%s", regenerated, cur)
	}
}
