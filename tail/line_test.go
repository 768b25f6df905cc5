package tail

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/codecs"
)

func testRecord(key, value []byte) *kgo.Record {
	return &kgo.Record{Topic: "t", Partition: 1, Offset: 2, Key: key, Value: value,
		Timestamp: time.Date(2026, 11, 1, 13, 0, 0, 0, time.FixedZone("CET", 3600))}
}

func TestFormat(t *testing.T) {
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	const head = `{"topic":"t","partition":1,"offset":2,"timestamp":"2026-11-01T12:00:00Z",`
	for _, c := range []struct {
		name       string
		key, value []byte
		decode     decodeFunc
		want       string
		kind       recordKind
	}{
		{"plain", []byte("k"), []byte(`a "quoted" <line> & more`), set.DecodeWriter,
			head + `"key":"k","wire":"plain","value":"a \"quoted\" <line> & more"}`, kindPlain},
		{"plain not utf8", nil, []byte{0xC3}, set.DecodeWriter,
			head + `"key":null,"wire":"plain","value_base64":"ww=="}`, kindPlain},
		{"tombstone", []byte("k"), nil, set.DecodeWriter,
			head + `"key":"k","value":null}`, kindTombstone},
		{"short confluent", []byte("k"), []byte{0, 1}, set.DecodeWriter,
			head + `"key":"k","wire":"confluent","value_base64":"AAE=","error":"2-byte value is shorter than the 5-byte confluent header"}`, kindFailed},
		{"decoder panics", []byte("k"), []byte{0, 0, 0, 0, 1, 9},
			func([]byte) (codecs.Written, error) { panic("boom") },
			head + `"key":"k","schema":"id 1","wire":"confluent","value_base64":"AAAAAAEJ","error":"decoder panicked: boom"}`, kindFailed},
		{"decoder error", []byte("k"), []byte{0xC3, 0x01, 1, 0, 0, 0, 0, 0, 0, 0},
			func([]byte) (codecs.Written, error) { return codecs.Written{}, errors.New("nope") },
			head + `"key":"k","schema":"fingerprint 0000000000000001","wire":"single-object","value_base64":"wwEBAAAAAAAAAA==","error":"nope"}`, kindFailed},
		{"fetched schema", []byte("k"), []byte{0, 0, 0, 0, 42},
			func([]byte) (codecs.Written, error) {
				return codecs.Written{Record: "LogEvent", ID: 42, Fingerprint: 0xabc, Wire: codecs.WireConfluent,
					Schema: `{"type":"record","name":"LogEvent","fields":[{"name":"x","type":["null","bytes"]}]}`,
					Native: map[string]any{"x": map[string]any{"bytes": []byte{0xff}}}}, nil
			},
			head + `"key":"k","schema":"LogEvent id 42","wire":"confluent","value":{"x":{"base64":"/w=="}}}`, kindDecoded},
		{"fetched schema single-object", []byte("k"), []byte{0xC3, 0x01, 0xbc, 0x0a, 0, 0, 0, 0, 0, 0},
			func([]byte) (codecs.Written, error) {
				return codecs.Written{Record: "LogEvent", Fingerprint: 0xabc, Schema: "not json", Native: map[string]any{"n": int64(1)}}, nil
			},
			head + `"key":"k","schema":"LogEvent fingerprint 0000000000000abc","wire":"single-object","value":{"n":1}}`, kindDecoded},
		{"unencodable value", []byte("k"), []byte{0, 0, 0, 0, 1},
			func([]byte) (codecs.Written, error) {
				return codecs.Written{Record: "R", Version: 1, Native: map[string]any{"c": make(chan int)}}, nil
			},
			head + `"key":"k","schema":"R v1","wire":"confluent","value_base64":"AAAAAAE=","error":"cannot render the decoded value as JSON: json: unsupported type: chan int"}`, kindFailed},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, kind := newFormatter(c.decode).format(testRecord(c.key, c.value))
			if string(got) != c.want+"\n" {
				t.Errorf("\n got %s\nwant %s", got, c.want)
			}
			if kind != c.kind {
				t.Errorf("kind %d, want %d", kind, c.kind)
			}
		})
	}
}

// FuzzFormat: whatever a record holds, format prints exactly one line of
// one JSON object, with the coordinates of the record.
func FuzzFormat(f *testing.F) {
	set, err := codecs.NewSet()
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("web-1"), []byte("plain line"))
	f.Add([]byte{0xff}, []byte{0xC3, 0x01, 0, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte(nil), []byte{0, 0, 0, 0, 3, 2, 'a'})
	f.Add([]byte(""), []byte{})
	form := newFormatter(set.DecodeWriter)
	f.Fuzz(func(t *testing.T, key, value []byte) {
		line, _ := form.format(testRecord(key, value))
		if bytes.Count(line, []byte("\n")) != 1 || !bytes.HasSuffix(line, []byte("\n")) {
			t.Fatalf("not one line: %q", line)
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("not JSON: %v: %s", err, line)
		}
		if m["topic"] != "t" || m["offset"] != 2.0 {
			t.Fatalf("coordinates lost: %s", line)
		}
	})
}
