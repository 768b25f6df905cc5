package pipeline

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logstream/logstream/topology"
)

// kcat, a librdkafka client, attaches to the embedded broker, produces
// plain raw lines keyed by host, and reads the pipeline's Avro output back.
func TestKcatInterop(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("kcat is not installed; `make test` installs it (Debian package kcat)")
		}
		t.Skip("kcat is not installed; run `make test`, which installs it")
	}
	s := startStack(t, 3)

	// kcat sees the broker and the pipeline's topics.
	out, err := exec.Command(kcat, "-b", s.addr, "-L").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat -L: %v\n%s", err, out)
	}
	for _, topic := range []string{topology.TopicRaw, topology.TopicParsed, topology.TopicDLQ} {
		if !strings.Contains(string(out), `topic "`+topic+`"`) {
			t.Fatalf("kcat -L does not list %s:\n%s", topic, out)
		}
	}

	const n = 200
	var lines bytes.Buffer
	for i := 0; i < n; i++ {
		host := fmt.Sprintf("web-%d", i%5+1)
		switch i % 4 {
		case 0:
			fmt.Fprintf(&lines, "%s:{\"ts\":\"2026-11-01T12:00:%02d.000Z\",\"level\":\"error\",\"msg\":\"kcat line %d\"}\n", host, i%60, i)
		case 1:
			fmt.Fprintf(&lines, "%s:level=warn msg=\"kcat line %d\" service=payments\n", host, i)
		case 2:
			fmt.Fprintf(&lines, "%s:2026-11-01 12:00:00.123 INFO [main] c.e.Pay - kcat line %d\n", host, i)
		case 3:
			fmt.Fprintf(&lines, "%s:kcat line %d in no format\n", host, i)
		}
	}
	file := filepath.Join(t.TempDir(), "lines.txt")
	if err := os.WriteFile(file, lines.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(kcat, "-b", s.addr, "-t", topology.TopicRaw, "-P", "-K:", "-l", file)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat -P: %v\n%s", err, out)
	}

	recs := consumeAll(t, s.addr, n, 60*time.Second, topology.TopicParsed)
	seen := map[string]int{}
	for _, r := range recs {
		ev := decodeEvent(t, s.set, r)
		var i int
		if _, err := fmt.Sscanf(ev.Message[strings.Index(ev.Message, "kcat line"):], "kcat line %d", &i); err != nil {
			t.Fatalf("event message %q lacks its line number", ev.Message)
		}
		seen[ev.Message]++
		if want := fmt.Sprintf("web-%d", i%5+1); ev.Host != want {
			t.Errorf("line %d: host %q, want %q (from the kcat key)", i, ev.Host, want)
		}
		wantLevel := map[int]string{0: "ERROR", 1: "WARN", 2: "INFO", 3: "UNKNOWN"}[i%4]
		if ev.Level.String() != wantLevel {
			t.Errorf("line %d: level %s, want %s", i, ev.Level, wantLevel)
		}
	}
	if len(recs) != n || len(seen) != n {
		t.Fatalf("got %d events (%d distinct), want %d", len(recs), len(seen), n)
	}

	// And kcat reads the pipeline's output: Avro single-object records.
	out, err = exec.Command(kcat, "-b", s.addr, "-t", topology.TopicParsed, "-C", "-e", "-o", "beginning", "-c", "5", "-f", "%k\t%S\n").CombinedOutput()
	if err != nil {
		t.Fatalf("kcat -C: %v\n%s", err, out)
	}
	if got := strings.Count(strings.TrimSpace(string(out)), "\n") + 1; got != 5 {
		t.Fatalf("kcat -C read %d records:\n%s", got, out)
	}
}
