package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

// syncBuffer is a bytes.Buffer safe to read while a command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// `logstream registry` serves the schemas with Confluent's API, and
// `logstream tail` prints a topic holding a v1 and a v2 LogEvent, a
// Confluent-framed one and a plain line, each with its writer schema.
func TestTailAndRegistryCommands(t *testing.T) {
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := broker.EnsureTopics([]string{e.Addr()}, broker.Tuning{Replication: 1}, map[string]int{topology.TopicParsed: 2}, nil); err != nil {
		t.Fatal(err)
	}
	v2, err := codecs.NewLogEvent()
	if err != nil {
		t.Fatal(err)
	}
	v1, err := codecs.NewLogEvent(codecs.WithVersion(schemas.NameLogEvent, 1))
	if err != nil {
		t.Fatal(err)
	}
	ev := &schemas.LogEvent{EventID: "e1", Timestamp: 1767225600000, Host: "web-3", Level: schemas.LevelError, Message: "timeout after 3012 ms", Cluster: "eu-west-1"}
	var values [][]byte
	for _, c := range []*codecs.Codec[schemas.LogEvent]{v1, v2, v2.WithWire(codecs.WireConfluent)} {
		b, err := c.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, b)
	}
	values = append(values, []byte("a plain line"))
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addr()), kgo.DefaultProduceTopic(topology.TopicParsed), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Key: []byte("e1"), Value: v, Partition: 1}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()

	// The registry command, on a free port.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	regErr := &syncBuffer{}
	regDone := make(chan error, 1)
	cfg, _, err := parseConfig(cmdByName(t, "registry"), []string{"--addr", "127.0.0.1:0", "--log-level", "error"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	go func() { regDone <- runRegistry(ctx, cfg, regErr) }()
	var url string
	addrRE := regexp.MustCompile(`at (http://\S+)`)
	for deadline := time.Now().Add(10 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := addrRE.FindStringSubmatch(regErr.String()); m != nil {
			url = m[1]
		}
	}
	if url == "" {
		t.Fatalf("registry did not start: %s", regErr.String())
	}
	resp, err := http.Get(url + "/subjects/" + topology.TopicParsed + "-value/versions/latest")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var latest struct {
		Subject string `json:"subject"`
		Version int    `json:"version"`
		ID      int    `json:"id"`
	}
	if err := json.Unmarshal(body, &latest); err != nil || latest.Version != v2.Version().Version || latest.ID != v2.ID() ||
		resp.Header.Get("Content-Type") != "application/vnd.schemaregistry.v1+json" {
		t.Fatalf("latest: %s %s (%v)", resp.Header.Get("Content-Type"), body, err)
	}

	var out, errb bytes.Buffer
	code := runMain([]string{"tail", topology.TopicParsed, "--brokers", e.Addr(), "--from-beginning", "--exit-at-end",
		"--partition", "1", "--registry", url}, &out, &errb, env(nil))
	if code != 0 {
		t.Fatalf("tail exit %d: %s", code, errb.String())
	}
	var lines []map[string]any
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("tail printed a line that is not JSON: %q", sc.Text())
		}
		lines = append(lines, m)
	}
	if len(lines) != 4 {
		t.Fatalf("tail printed %d lines, want 4:\n%s", len(lines), out.String())
	}
	for i, want := range []struct{ schema, wire, cluster string }{
		{"LogEvent v1", "single-object", ""}, {v2.Version().Label(), "single-object", "eu-west-1"}, {v2.Version().Label(), "confluent", "eu-west-1"},
	} {
		l := lines[i]
		val, _ := l["value"].(map[string]any)
		if l["schema"] != want.schema || l["wire"] != want.wire || l["offset"] != float64(i) || l["partition"] != float64(1) || l["key"] != "e1" ||
			val["host"] != "web-3" || val["level"] != "ERROR" {
			t.Errorf("line %d: %v", i, l)
		}
		if c, has := val["cluster"]; (want.cluster == "") == has || has && c != want.cluster {
			t.Errorf("line %d: cluster %v, want %q", i, val["cluster"], want.cluster)
		}
	}
	if lines[3]["wire"] != "plain" || lines[3]["value"] != "a plain line" {
		t.Errorf("plain line: %v", lines[3])
	}
	// Bad invocations are usage errors.
	for _, args := range [][]string{{"tail"}, {"tail", "a", "b"}, {"tail", "x", "--registry", "ftp://x"}, {"tail", "x", "--partition", "-2"}} {
		out.Reset()
		errb.Reset()
		if code := runMain(args, &out, &errb, env(nil)); code != 2 {
			t.Errorf("%v: exit %d, want 2: %s", args, code, errb.String())
		}
	}
	errb.Reset()
	if code := runMain([]string{"tail", "no.such.topic", "--brokers", e.Addr(), "--exit-at-end"}, &out, &errb, env(nil)); code != 1 || !strings.Contains(errb.String(), "no.such.topic") {
		t.Errorf("unknown topic: exit %d: %s", code, errb.String())
	}
	cancel()
	if err := <-regDone; err != nil {
		t.Fatalf("registry: %v", err)
	}
}
