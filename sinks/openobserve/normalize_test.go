package openobserve

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/logstream/logstream/sinks"
)

// flattenCase is one case of testdata/flatten.json, shared with o2test's
// tests: most come from OpenObserve's own tests of flatten.rs.
type flattenCase struct {
	Name string          `json:"name"`
	In   json.RawMessage `json:"in"`
	Out  json.RawMessage `json:"out"`
}

func loadFlattenCases(t *testing.T) []flattenCase {
	t.Helper()
	b, err := os.ReadFile("testdata/flatten.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []flattenCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

func decodeNumbers(t *testing.T, b []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFlattenAsOpenObserve(t *testing.T) {
	for _, c := range loadFlattenCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			in, want := decodeNumbers(t, c.In), decodeNumbers(t, c.Out)
			got := map[string]any{}
			flattenObject(in, "", 0, got)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("flatten(%s)\n got %v\nwant %v", c.In, got, want)
			}
		})
	}
}

func TestDocument(t *testing.T) {
	in := `{"kafka_topic":"t","kafka_partition":2,"kafka_offset":7,"Message":"a\u2028<b>","gone":null,` +
		`"labels":{"Env.Name":"prod","x":null},"tags":["a",null],"_timestamp":"2020-01-01T00:00:00Z","n":1.50}`
	got, fields, err := document([]byte(in), 1_700_000_000_123_456)
	if err != nil {
		t.Fatal(err)
	}
	// Nulls are dropped (also flattened ones), the array kept whole with
	// its null, numbers as written, keys sorted, _timestamp replaced.
	want := `{"_timestamp":1700000000123456,"kafka_offset":7,"kafka_partition":2,"kafka_topic":"t",` +
		`"labels_env_name":"prod","message":"a` + "\u2028" + `<b>","n":1.50,"tags":"[\"a\",null]"}`
	if string(got) != want {
		t.Errorf("document:\n got %s\nwant %s", got, want)
	}
	if fields != 8 {
		t.Errorf("fields = %d, want 8", fields)
	}
	for _, bad := range []string{`[1]`, `{"a":1} {}`, `{`, `"s"`} {
		if _, _, err := document([]byte(bad), 1); err == nil {
			t.Errorf("document(%s) accepted", bad)
		}
	}
}

// TestDocumentOfLogEvent runs the real decoder: a LogEvent becomes the
// fields OpenObserve shows for it.
func TestDocumentOfLogEvent(t *testing.T) {
	at := time.Date(2026, 11, 21, 10, 0, 0, 123_000_000, time.UTC)
	doc, err := sinks.NewDecoder(testCodecs(t)).Decode(record(t, 3, 42, event(3, 42, at)))
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := document(doc.JSON, doc.Time.UnixMicro())
	if err != nil {
		t.Fatal(err)
	}
	got := decodeNumbers(t, b)
	for k, v := range map[string]any{
		"kafka_topic": testTopic, "kafka_partition": json.Number("3"), "kafka_offset": json.Number("42"),
		"event_id": "ev-3-42", "labels_env_name": "prod", "labels_team": "payments", "level": "INFO",
		"http_status": json.Number("202"), "_timestamp": json.Number("1795255200123000"),
	} {
		if !reflect.DeepEqual(got[k], v) {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	for _, absent := range []string{"labels", "trace_id", "Labels"} {
		if _, ok := got[absent]; ok {
			t.Errorf("document has %s", absent)
		}
	}
}

func TestFormatStreamName(t *testing.T) {
	for in, want := range map[string]string{
		"logs":               "logs",
		"Logs.Enriched":      "logs_enriched",
		"a--b..c":            "a_b_c",
		"k8s:app":            "k8s:app",
		"ümlaut stream/2026": "_mlaut_stream_2026",
	} {
		if got := formatStreamName(in); got != want {
			t.Errorf("formatStreamName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFormatKey(t *testing.T) {
	for in, want := range map[string]string{
		"already_ok_1": "already_ok_1",
		"CamelCase":    "camelcase",
		"a-b.c d":      "a_b_c_d",
		"ÄÖÜ":          "äöü",
		"ª":            "ª", // Other_Lowercase, as Rust's is_lowercase
		"Ⓐ":            "ⓐ", // Other_Uppercase
		"":             "",
	} {
		if got := formatKey(in); got != want {
			t.Errorf("formatKey(%q) = %q, want %q", in, got, want)
		}
	}
}
