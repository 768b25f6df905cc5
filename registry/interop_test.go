package registry

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
)

// pythonModules are what the interop test imports: Debian's
// python3-confluent-kafka and python3-avro.
const pythonModules = "import confluent_kafka.schema_registry, avro.io, avro.schema"

// confluentPython finds a python3 that has the Debian packages' modules:
// /usr/bin/python3 first, as a python3 earlier on PATH (pyenv, a venv)
// does not see Debian's dist-packages.
func confluentPython(t *testing.T) string {
	t.Helper()
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	for _, p := range candidates {
		if exec.Command(p, "-c", pythonModules).Run() == nil {
			return p
		}
	}
	const msg = "no python3 with confluent_kafka and avro; `make test` installs them (Debian packages python3-confluent-kafka, python3-avro)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// The registry as a Python consumer sees it: confluent-kafka's
// SchemaRegistryClient fetches the schema of a LogEvent that logstream
// wrote in the Confluent wire format, and Apache Avro decodes the record
// with it.
func TestConfluentPythonInterop(t *testing.T) {
	py := confluentPython(t)
	cat := embedded(t)
	ev := record(t, cat, schemas.NameLogEvent)
	latest := ev.Latest()

	ctx, cancel := context.WithCancel(context.Background())
	addrc, done := make(chan net.Addr, 1), make(chan error, 1)
	go func() { done <- Serve(ctx, "127.0.0.1:0", newHandler(t, cat), func(a net.Addr) { addrc <- a }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	var url string
	select {
	case a := <-addrc:
		url = "http://" + a.String()
	case err := <-done:
		t.Fatal(err)
	}

	trace, status, latency := "4bf92f3577b34da6a3ce929d0e0e4736", int32(503), 12.5
	want := &schemas.LogEvent{
		EventID:    "c0ffee00c0ffee00c0ffee00c0ffee00",
		Timestamp:  time.Date(2026, 11, 1, 12, 0, 7, 123e6, time.UTC).UnixMilli(),
		Host:       "web-3",
		Service:    "payments",
		Level:      schemas.LevelWarn,
		Message:    "upstream timed out: ünïcödé ✓",
		TraceID:    &trace,
		HTTPStatus: &status,
		LatencyMs:  &latency,
		Labels:     map[string]string{"method": "POST", "path": "/pay"},
		Source:     "/var/log/pods/payments.log",
		Format:     "json",
		Cluster:    "eu-west-1",
	}
	codec, err := codecs.NewLogEvent(codecs.WithWire(codecs.WireConfluent))
	if err != nil {
		t.Fatal(err)
	}
	data, err := codec.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 5 || data[0] != 0 || int(binary.BigEndian.Uint32(data[1:5])) != latest.ID {
		t.Fatalf("not the Confluent wire format with id %d: % x", latest.ID, data[:min(len(data), 8)])
	}
	file := filepath.Join(t.TempDir(), "logevent.bin")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}

	cmd := exec.CommandContext(ctx, py, filepath.Join("testdata", "confluent_interop.py"), url, file, subjParsed)
	cmd.Env = append(os.Environ(), "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, stderr.Bytes())
	}
	type refusal struct {
		HTTPStatus int    `json:"http_status"`
		ErrorCode  int    `json:"error_code"`
		Message    string `json:"message"`
	}
	var got struct {
		ID         int    `json:"id"`
		SchemaType string `json:"schema_type"`
		Latest     struct {
			Subject    string `json:"subject"`
			Version    int    `json:"version"`
			ID         int    `json:"id"`
			SameSchema bool   `json:"same_schema"`
		} `json:"latest"`
		Lookup struct {
			Subject string `json:"subject"`
			Version int    `json:"version"`
			ID      int    `json:"id"`
		} `json:"lookup"`
		RegisteredID    int            `json:"registered_id"`
		RefusedRegister *refusal       `json:"refused_register"`
		RefusedDelete   *refusal       `json:"refused_delete"`
		UnknownID       *refusal       `json:"unknown_id"`
		Subjects        []string       `json:"subjects"`
		Versions        []int          `json:"versions"`
		Compatibility   string         `json:"compatibility"`
		UnreadBytes     int            `json:"unread_bytes"`
		Record          map[string]any `json:"record"`
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("the script printed no JSON: %v\n%s\n%s", err, out, stderr.Bytes())
	}

	// The registry, through SchemaRegistryClient.
	if got.ID != latest.ID || got.SchemaType != "AVRO" {
		t.Errorf("schema id %d type %q, want %d AVRO", got.ID, got.SchemaType, latest.ID)
	}
	if got.Latest.Subject != subjParsed || got.Latest.Version != latest.Version || got.Latest.ID != latest.ID || !got.Latest.SameSchema {
		t.Errorf("get_latest_version = %+v, want %s version %d id %d", got.Latest, subjParsed, latest.Version, latest.ID)
	}
	if got.Lookup.Subject != subjParsed || got.Lookup.Version != latest.Version || got.Lookup.ID != latest.ID {
		t.Errorf("lookup_schema = %+v", got.Lookup)
	}
	if got.RegisteredID != latest.ID {
		t.Errorf("register_schema of a schema the subject has = %d, want %d", got.RegisteredID, latest.ID)
	}
	for name, r := range map[string]*refusal{"register_schema of a new schema": got.RefusedRegister, "delete_subject": got.RefusedDelete} {
		if r == nil || r.HTTPStatus != 422 || r.ErrorCode != CodeOperationNotPermitted {
			t.Errorf("%s: %+v, want a 422 with error code 42205", name, r)
		}
	}
	if r := got.UnknownID; r == nil || r.HTTPStatus != 404 || r.ErrorCode != CodeSchemaNotFound {
		t.Errorf("get_schema of an unknown id: %+v, want 404 with error code 40403", r)
	}
	wantSubjects := subjectNames(t, cat)
	if !reflect.DeepEqual(got.Subjects, wantSubjects) {
		t.Errorf("get_subjects = %v, want %v", got.Subjects, wantSubjects)
	}
	if len(got.Versions) != len(ev.Versions) || got.Versions[len(got.Versions)-1] != latest.Version {
		t.Errorf("get_versions = %v", got.Versions)
	}
	if got.Compatibility != string(ev.Mode) {
		t.Errorf("get_compatibility = %q, want %q", got.Compatibility, ev.Mode)
	}

	// The record, through Apache Avro.
	if got.UnreadBytes != 0 {
		t.Errorf("Avro left %d bytes of the body unread", got.UnreadBytes)
	}
	r := got.Record
	str := func(field, want string) {
		if s, ok := r[field].(string); !ok || s != want {
			t.Errorf("%s = %#v, want %q", field, r[field], want)
		}
	}
	num := func(field, want string) {
		if n, ok := r[field].(json.Number); !ok || n.String() != want {
			t.Errorf("%s = %#v, want %s", field, r[field], want)
		}
	}
	null := func(field string) {
		if v, ok := r[field]; !ok || v != nil {
			t.Errorf("%s = %#v, want null", field, v)
		}
	}
	str("event_id", want.EventID)
	num("timestamp", "1793534407123")
	str("host", want.Host)
	str("service", want.Service)
	str("level", "WARN")
	str("message", want.Message)
	str("trace_id", trace)
	null("span_id")
	num("http_status", "503")
	num("latency_ms", "12.5")
	null("k8s_namespace")
	null("k8s_pod")
	null("k8s_container")
	null("parse_error")
	str("source", want.Source)
	str("format", want.Format)
	str("cluster", want.Cluster)
	if labels, _ := r["labels"].(map[string]any); !reflect.DeepEqual(labels, map[string]any{"method": "POST", "path": "/pay"}) {
		t.Errorf("labels = %#v", r["labels"])
	}
	// Every field of the schema was read and checked above.
	var schema struct {
		Fields []struct {
			Name string `json:"name"`
		} `json:"fields"`
	}
	if err := json.Unmarshal([]byte(latest.JSON), &schema); err != nil {
		t.Fatal(err)
	}
	if len(r) != len(schema.Fields) {
		t.Errorf("Avro read %d fields, %s has %d", len(r), latest.File, len(schema.Fields))
	}
}
