package codecs_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/pipeline"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
	"github.com/logstream/logstream/watermark"
)

// Interoperability with Apache Avro Java, the reference implementation,
// from Debian's libavro-java (1.8.2) and a JDK: testdata/oracle/
// AvroJavaOracle.java computes SchemaNormalization.parsingFingerprint64 of
// every schema, and reads with BinaryMessageDecoder<GenericRecord> the
// LogEvents the parse stage writes to logs.parsed. Java's decoder refuses a
// record whose header fingerprint is not one it computed itself, which is
// what issue 16 was about.

// javaJars are what libavro-java's avro.jar needs on the classpath for
// parsing schemas and single-object decoding (its Debian dependencies
// libjackson-json-java and libslf4j-java ship the others; slf4j-nop keeps
// slf4j from warning that it has no logger).
var javaJars = []string{
	"/usr/share/java/avro.jar",
	"/usr/share/java/jackson-core-asl.jar",
	"/usr/share/java/jackson-mapper-asl.jar",
	"/usr/share/java/slf4j-api.jar",
	"/usr/share/java/slf4j-nop.jar",
}

// javaOracle is AvroJavaOracle compiled into a temporary directory.
type javaOracle struct {
	java, classpath, dir string
}

// newJavaOracle compiles AvroJavaOracle.java. Without a JDK or
// libavro-java it skips the test, and fails it in CI (CI set), where
// `make test` installs them (Debian packages default-jdk-headless and
// libavro-java).
func newJavaOracle(t *testing.T) *javaOracle {
	t.Helper()
	var missing []string
	java, err := exec.LookPath("java")
	if err != nil {
		missing = append(missing, "java")
	}
	javac, err := exec.LookPath("javac")
	if err != nil {
		missing = append(missing, "javac")
	}
	for _, jar := range javaJars {
		if _, err := os.Stat(jar); err != nil {
			missing = append(missing, jar)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("no %s: Apache Avro Java needs a JDK and Debian's libavro-java; `make test` installs them (default-jdk-headless, libavro-java)", strings.Join(missing, ", "))
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	o := &javaOracle{java: java, classpath: strings.Join(append(slices.Clone(javaJars), dir), string(os.PathListSeparator)), dir: dir}
	src, err := filepath.Abs(filepath.Join("testdata", "oracle", "AvroJavaOracle.java"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(javac, "-nowarn", "-encoding", "UTF-8", "-d", dir, "-cp", o.classpath, src).CombinedOutput(); err != nil {
		t.Fatalf("javac AvroJavaOracle.java: %v\n%s", err, out)
	}
	return o
}

// run runs the oracle with args and returns its standard output.
func (o *javaOracle) run(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(o.java, append([]string{"-cp", o.classpath, "AvroJavaOracle"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("java AvroJavaOracle %s: %v\n%s", args[0], err, stderr.String())
	}
	return stdout.String()
}

// schemaFile writes a schema's text into the oracle's directory.
func (o *javaOracle) schemaFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(o.dir, name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// javaFingerprint is one line of the oracle's fingerprints output.
type javaFingerprint struct{ fp, form string }

func (o *javaOracle) fingerprints(t *testing.T, files []string) map[string]javaFingerprint {
	t.Helper()
	out := map[string]javaFingerprint{}
	sc := bufio.NewScanner(strings.NewReader(o.run(t, append([]string{"fingerprints"}, files...)...)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		parts := strings.Split(sc.Text(), "\t")
		if len(parts) != 3 {
			t.Fatalf("oracle printed %q", sc.Text())
		}
		out[parts[2]] = javaFingerprint{fp: parts[0], form: parts[1]}
	}
	if len(out) != len(files) {
		t.Fatalf("oracle printed fingerprints of %d files, want %d", len(out), len(files))
	}
	return out
}

// javaNamespaceCases are schemas whose names test [FULLNAMES] beyond what
// logstream's own schemas use: a nested type stating another namespace
// (goavro's form made it a.b.Inner), a dotted name, references by full and
// by short name, a null-namespace name found from inside a namespace,
// recursion, an error type, and logical types on every primitive they
// apply to and on a fixed.
var javaNamespaceCases = []string{
	`{"type":"record","name":"Outer","namespace":"a","fields":[
		{"name":"in","type":{"type":"record","name":"Inner","namespace":"b","fields":[{"name":"e","type":{"type":"enum","name":"E","symbols":["X"]}}]}},
		{"name":"e2","type":"b.E"},
		{"name":"d","type":{"type":"record","name":"c.d.Dotted","namespace":"ignored","fields":[{"name":"f","type":{"type":"fixed","name":"F","size":4}}]}},
		{"name":"f2","type":"c.d.F"},
		{"name":"arr","type":{"type":"array","items":{"type":"record","name":"Item","fields":[{"name":"self","type":["null","Item"]}]}}},
		{"name":"ref","type":{"type":"map","values":"Item"}},
		{"name":"err","type":{"type":"error","name":"Oops","fields":[]}}]}`,
	`{"type":"record","name":"Top","fields":[
		{"name":"x","type":{"type":"enum","name":"G","symbols":["A"]}},
		{"name":"n","type":{"type":"record","name":"N","namespace":"q","fields":[{"name":"g","type":"G"}]}}]}`,
	`{"type":"record","name":"L","namespace":"logstream","fields":[
		{"name":"ms","type":{"type":"long","logicalType":"timestamp-millis"}},
		{"name":"us","type":["null",{"type":"long","logicalType":"timestamp-micros"}]},
		{"name":"tm","type":{"type":"int","logicalType":"time-millis"}},
		{"name":"tu","type":{"type":"long","logicalType":"time-micros"}},
		{"name":"day","type":{"type":"int","logicalType":"date"}},
		{"name":"id","type":{"type":"string","logicalType":"uuid"}},
		{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
		{"name":"fixed","type":{"type":"fixed","name":"Dec","size":8,"logicalType":"decimal","precision":10,"scale":2}}]}`,
}

// TestJavaOracleFingerprints: for every version of every schema in
// schemas/, and the namespace cases, Apache Avro Java's Parsing Canonical
// Form and parsingFingerprint64 are logstream's (schemas.CanonicalForm,
// schemas.Fingerprint), which is what every codec writes.
func TestJavaOracleFingerprints(t *testing.T) {
	o := newJavaOracle(t)
	cat, err := schemas.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		what, text string
		fp         uint64
	}
	byFile := map[string]want{}
	var files []string
	for _, s := range cat.Schemas() {
		f := o.schemaFile(t, strings.ReplaceAll(s.File, "/", "-"), s.JSON)
		files = append(files, f)
		byFile[f] = want{s.File, s.JSON, s.Fingerprint}
	}
	for i, text := range javaNamespaceCases {
		f := o.schemaFile(t, fmt.Sprintf("namespaces-%d.avsc", i), text)
		fp, err := schemas.Fingerprint(text)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
		byFile[f] = want{fmt.Sprintf("namespace case %d", i), text, fp}
	}
	java := o.fingerprints(t, files)
	for _, f := range files {
		w, j := byFile[f], java[f]
		form, err := schemas.CanonicalForm(w.text)
		if err != nil {
			t.Fatal(err)
		}
		if j.form != form {
			t.Errorf("%s: canonical forms differ\nJava: %s\nours: %s", w.what, j.form, form)
		}
		if j.fp != fmt.Sprintf("%016x", w.fp) {
			t.Errorf("%s: Java's fingerprint %s, ours %016x", w.what, j.fp, w.fp)
		}
	}
	// What the codecs write is that fingerprint.
	codecFPs := map[string]uint64{
		set.RawLog.Name(): set.RawLog.Fingerprint(), set.LogEvent.Name(): set.LogEvent.Fingerprint(),
		set.Span.Name(): set.Span.Fingerprint(), set.DeadLetter.Name(): set.DeadLetter.Fingerprint(),
		set.ParseState.Name(): set.ParseState.Fingerprint(), set.DedupeState.Name(): set.DedupeState.Fingerprint(),
		set.TraceState.Name(): set.TraceState.Fingerprint(), set.HostWindow.Name(): set.HostWindow.Fingerprint(),
		set.Alert.Name(): set.Alert.Fingerprint(), set.ErrorRateState.Name(): set.ErrorRateState.Fingerprint(),
		set.AlerterState.Name(): set.AlerterState.Fingerprint(), set.ErrorRatePartial.Name(): set.ErrorRatePartial.Fingerprint(),
		set.ErrorRatePartition.Name(): set.ErrorRatePartition.Fingerprint(), set.WindowUpdate.Name(): set.WindowUpdate.Fingerprint(),
	}
	differs := 0
	for _, r := range cat.Records {
		latest := r.Latest()
		if latest.LegacyFingerprint != latest.Fingerprint {
			differs++
		}
		j := java[filepath.Join(o.dir, strings.ReplaceAll(latest.File, "/", "-"))]
		if got, ok := codecFPs[r.Name]; !ok || fmt.Sprintf("%016x", got) != j.fp {
			t.Errorf("the %s codec writes %016x, Java computes %s", r.Name, got, j.fp)
		}
	}
	t.Logf("%d schemas, %d records whose latest version has a legacy fingerprint of its own", len(files), differs)
}

// parseInputs are what the test sends to logs.raw: plain lines in the
// formats the parse stage detects, each from a host of its own (so no
// multi-line grouping joins two), and RawLog records, one of them under
// RawLog's legacy fingerprint (as logstream ingest wrote it before).
func parseInputs(t *testing.T, set *codecs.Set) []*kgo.Record {
	t.Helper()
	plain := []string{
		`{"ts":"2026-11-21T10:00:01.250Z","level":"error","msg":"payment failed: card declined","service":"checkout","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","status":502,"duration_ms":12.5,"user":"zoë"}`,
		`ts=2026-11-21T10:00:02Z level=warn msg="slow upstream" service=payments latency_ms=830 region=eu-west-1`,
		`203.0.113.9 - - [21/Nov/2026:10:00:03 +0000] "GET /cart?id=7 HTTP/1.1" 200 512 "-" "curl/8.0"`,
		`<34>Nov 21 10:00:04 web-4 sshd[42]: Failed password for root from 198.51.100.7`,
		`2026-11-21 10:00:05.123 INFO [main] c.e.Pay - started in 1.2s ✓`,
		"no format at all: \"quoted\" \\ backslash\ttab",
	}
	var recs []*kgo.Record
	for i, line := range plain {
		recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "java-%d", i+1), Value: []byte(line)})
	}
	for i, raw := range []*schemas.RawLog{
		{Host: "java-avro-1", Source: "/var/log/app.log", Line: `{"level":"info","msg":"from ingest","service":"api"}`, ReceivedAt: 1795255206000,
			Labels: map[string]string{"env": "prod", "k8s_namespace": "shop"}},
		{Host: "java-avro-2", Source: "journald", Line: "level=debug msg=\"legacy header\"", ReceivedAt: 1795255207000},
	} {
		data, err := set.RawLog.Marshal(raw)
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			// As an earlier logstream ingest wrote it.
			binary.LittleEndian.PutUint64(data[2:10], set.RawLog.Version().LegacyFingerprint)
		}
		recs = append(recs, &kgo.Record{Key: []byte(raw.Host), Value: data})
	}
	return recs
}

// runParseStage runs the parse stage alone on an embedded broker, sends it
// inputs and returns the data records it wrote to logs.parsed (watermark
// records left out).
func runParseStage(t *testing.T, set *codecs.Set, inputs []*kgo.Record) []*kgo.Record {
	t.Helper()
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	topo, err := topology.New(topology.Config{Partitions: 3, Replication: 1})
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.New(pipeline.Options{
		Brokers: []string{e.Addr()}, Topology: topo, Codecs: set, Stages: []string{"parse"},
		Tuning: broker.Tuning{Replication: 1, BatchSize: 500, MaxConcurrency: 5, FromOldest: true},
		Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.EnsureTopics(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("parse stage: %v", err)
		}
	})

	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addr()), kgo.RecordPartitioner(topology.Partitioner()),
		kgo.DefaultProduceTopic(topology.TopicRaw), kgo.ConsumeTopics(topology.TopicParsed),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	pctx, pcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer pcancel()
	if err := cl.ProduceSync(pctx, inputs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// Wait for one event per input; the deadline only bounds a broken run.
	cctx, ccancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer ccancel()
	var out []*kgo.Record
	for len(out) < len(inputs) && cctx.Err() == nil {
		fs := cl.PollFetches(cctx)
		fs.EachError(func(topic string, part int32, err error) {
			if cctx.Err() == nil {
				t.Logf("fetch %s/%d: %v", topic, part, err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == watermark.HeaderKind && string(h.Value) == watermark.KindWatermark {
					return
				}
			}
			out = append(out, r)
		})
	}
	if len(out) != len(inputs) {
		t.Fatalf("logs.parsed has %d events for %d inputs", len(out), len(inputs))
	}
	return out
}

// TestJavaOracleDecodesParsedEvents: the LogEvents the parse stage writes
// to logs.parsed decode with Apache Avro Java's BinaryMessageDecoder to the
// values logstream decodes; and what Java's BinaryMessageEncoder writes
// back decodes in logstream to the same values.
func TestJavaOracleDecodesParsedEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the parse stage on the embedded broker")
	}
	o := newJavaOracle(t)
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	cat, err := schemas.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	rec, ok := cat.Record(schemas.NameLogEvent)
	if !ok {
		t.Fatal("no LogEvent record")
	}
	var writers []string
	for _, v := range rec.Versions {
		writers = append(writers, o.schemaFile(t, fmt.Sprintf("logevent-v%d.avsc", v.Version), v.JSON))
	}
	reader := writers[len(writers)-1]

	parsed := runParseStage(t, set, parseInputs(t, set))
	var dataFiles []string
	for i, r := range parsed {
		if fp, _ := codecs.Fingerprint(r.Value); fp != set.LogEvent.Fingerprint() {
			t.Fatalf("event %d has fingerprint %016x, the LogEvent codec's is %016x", i, fp, set.LogEvent.Fingerprint())
		}
		f := filepath.Join(o.dir, fmt.Sprintf("event-%d.bin", i))
		if err := os.WriteFile(f, r.Value, 0o644); err != nil {
			t.Fatal(err)
		}
		dataFiles = append(dataFiles, f)
	}
	results := filepath.Join(o.dir, "decoded.jsonl")
	o.run(t, append([]string{"decode", results, reader, strings.Join(writers, ",")}, dataFiles...)...)
	raw, err := os.ReadFile(results)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	if len(lines) != len(parsed) {
		t.Fatalf("Java decoded %d records, want %d", len(lines), len(parsed))
	}
	hosts := map[string]bool{}
	for i, line := range lines {
		var res struct {
			File   string         `json:"file"`
			OK     bool           `json:"ok"`
			Error  string         `json:"error"`
			Record map[string]any `json:"record"`
		}
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&res); err != nil {
			t.Fatalf("event %d: Java's output %q: %v", i, line, err)
		}
		if !res.OK {
			t.Errorf("event %d: Apache Avro Java's BinaryMessageDecoder: %s", i, res.Error)
			continue
		}
		ev, err := set.LogEvent.Unmarshal(parsed[i].Value)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		hosts[ev.Host] = true
		compareJavaRecord(t, fmt.Sprintf("event %d (%s)", i, ev.Host), ev, res.Record)

		// Java → logstream: Java's encoding, under the fingerprint Java
		// computes, reads back as the same event.
		back, err := os.ReadFile(res.File + ".java")
		if err != nil {
			t.Fatal(err)
		}
		if fp, _ := codecs.Fingerprint(back); fp != set.LogEvent.Fingerprint() {
			t.Errorf("event %d: Java wrote fingerprint %016x, logstream %016x", i, fp, set.LogEvent.Fingerprint())
		}
		again, err := set.LogEvent.Unmarshal(back)
		if err != nil {
			t.Errorf("event %d: logstream reads Java's encoding: %v", i, err)
			continue
		}
		compareJavaRecord(t, fmt.Sprintf("event %d (%s), Java's encoding", i, ev.Host), again, res.Record)
	}
	for _, in := range parseInputs(t, set) {
		if !hosts[string(in.Key)] {
			t.Errorf("no event from host %s", in.Key)
		}
	}
}

// compareJavaRecord compares every field Java decoded (GenericData's JSON:
// a union value bare, an enum its symbol, a timestamp its long) with ev's
// field of the same name (its JSON tag is the Avro field name).
func compareJavaRecord(t *testing.T, what string, ev *schemas.LogEvent, java map[string]any) {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var ours map[string]any
	if err := dec.Decode(&ours); err != nil {
		t.Fatal(err)
	}
	for k := range ours {
		if _, ok := java[k]; !ok {
			t.Errorf("%s: Java's record has no field %s", what, k)
		}
	}
	for k, jv := range java {
		gv, ok := ours[k]
		if !ok {
			// The Go type leaves out (omitempty) a null, an empty
			// string or an empty map.
			if !javaEmpty(jv) {
				t.Errorf("%s: field %s: Java %v, logstream has none", what, k, jv)
			}
			continue
		}
		if !javaEqual(gv, jv) {
			t.Errorf("%s: field %s: Java %#v, logstream %#v", what, k, jv, gv)
		}
	}
}

func javaEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	case json.Number:
		// omitempty leaves out a zero number too (LogEvent.masked).
		return x.String() == "0"
	}
	return false
}

// javaEqual compares two decoded JSON values; numbers by value (Java
// writes 1.0E-4 where Go writes 0.0001).
func javaEqual(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		if x == y {
			return true
		}
		fx, err1 := strconv.ParseFloat(string(x), 64)
		fy, err2 := strconv.ParseFloat(string(y), 64)
		return err1 == nil && err2 == nil && fx == fy
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if !javaEqual(v, y[k]) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !javaEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	}
	return a == b
}
