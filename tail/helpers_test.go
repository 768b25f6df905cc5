package tail

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
)

// startBroker starts an embedded broker with topic created with partitions
// partitions, and returns its address.
func startBroker(t *testing.T, topic string, partitions int32) string {
	t.Helper()
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	return e.Addr()
}

// produce writes recs synchronously, each to the partition it names.
func produce(t *testing.T, addr string, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// line is one parsed output line.
type line map[string]any

func (l line) str(key string) string {
	s, _ := l[key].(string)
	return s
}

func (l line) num(key string) int64 {
	n, _ := l[key].(json.Number)
	i, _ := n.Int64()
	return i
}

func (l line) value() map[string]any {
	m, _ := l["value"].(map[string]any)
	return m
}

// parseLines parses out, failing on anything that is not one JSON object
// per line.
func parseLines(t *testing.T, out string) []line {
	t.Helper()
	var lines []line
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		var l line
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("output line %q is not a JSON object: %v", sc.Text(), err)
		}
		if dec.More() {
			t.Fatalf("output line %q holds more than one JSON value", sc.Text())
		}
		lines = append(lines, l)
	}
	if out != "" && !strings.HasSuffix(out, "\n") {
		t.Fatalf("output does not end with a newline: %q", out)
	}
	return lines
}

// syncBuffer is a bytes.Buffer safe to read while Run writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runTail runs Run with a deadline that a hung test cannot outlive.
func runTail(t *testing.T, cfg Config) (string, Summary, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out syncBuffer
	sum, err := Run(ctx, cfg, &out)
	if ctx.Err() != nil {
		t.Fatalf("Run did not stop on its own before the test's deadline; output so far:\n%s", out.String())
	}
	return out.String(), sum, err
}
