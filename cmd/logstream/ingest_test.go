package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/ingest"
	"github.com/logstream/logstream/topology"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// logstreamBinary builds the command once per test process: signals are
// tested on the real process.
func logstreamBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "logstream-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "logstream")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// countRecords reads topic from its start until it holds n records (or
// the failure bound passes) and returns how many it found.
func countRecords(t *testing.T, addr, topic string, n int) int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := 0
	for deadline := time.Now().Add(30 * time.Second); got < n && time.Now().Before(deadline); {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		got += cl.PollFetches(ctx).NumRecords()
		cancel()
	}
	return got
}

// The built binary streams lines from a pipe into a broker that the test
// closes mid-stream. Interrupted with SIGTERM, it gives the lines in flight
// --flush-timeout and exits 1 saying what was not acknowledged; left
// alone, it notices the dead broker within --delivery-timeout and exits 1
// naming it. The deadlines below are failure bounds, not speeds.
func TestIngestBinaryBrokerGone(t *testing.T) {
	bin := logstreamBinary(t)
	for _, tc := range []struct {
		name    string
		sigterm bool
		flags   []string
		want    []string
	}{
		{name: "SIGTERM", sigterm: true, flags: []string{"--flush-timeout", "2s", "--delivery-timeout", "10m"},
			want: []string{"logstream ingest: ingest: interrupted: 100 lines acknowledged, ", " without an answer)"}},
		{name: "delivery timeout", flags: []string{"--flush-timeout", "2s", "--delivery-timeout", "3s"},
			want: []string{"logstream ingest: ingest: the brokers did not acknowledge", "100 lines acknowledged, "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			addr := e.Addr()
			cmd := exec.Command(bin, append([]string{"ingest", "--brokers", addr, "--host", "web-1"}, tc.flags...)...)
			var stderr syncBuffer
			cmd.Stderr = &stderr
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			defer func() {
				if cmd.ProcessState == nil {
					cmd.Process.Kill()
				}
			}()
			for i := 1; i <= 100; i++ {
				fmt.Fprintf(stdin, "seq=%d GET /api\n", i)
			}
			if got := countRecords(t, addr, topology.TopicRaw, 100); got != 100 {
				t.Fatalf("%d of 100 lines reached the broker before it was closed; stderr: %s", got, stderr.String())
			}
			e.Close()
			// Lines keep coming; they now wait for a broker that is gone.
			go func() {
				for i := 101; ; i++ {
					if _, err := fmt.Fprintf(stdin, "seq=%d GET /api\n", i); err != nil {
						return
					}
					time.Sleep(time.Millisecond)
				}
			}()
			if tc.sigterm {
				time.Sleep(time.Second)
				if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
			}
			var werr error
			select {
			case werr = <-exited:
			case <-time.After(2 * time.Minute):
				t.Fatalf("ingest still runs long after the broker went away; stderr: %s", stderr.String())
			}
			stdin.Close()
			var ee *exec.ExitError
			if !errors.As(werr, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("exit %v, want status 1; stderr: %s", werr, stderr.String())
			}
			out := stderr.String()
			t.Logf("stderr:\n%s", out)
			for _, w := range append(tc.want, "ingested 100 records") {
				if !strings.Contains(out, w) {
					t.Errorf("stderr does not say %q:\n%s", w, out)
				}
			}
			if !tc.sigterm && !strings.Contains(out, addr) {
				t.Errorf("stderr does not name the broker %s:\n%s", addr, out)
			}
		})
	}
}

// ingest dead-letters a line that is not UTF-8 and cuts a 5 MB line to
// fit the broker's limit, keeping it.
func TestIngestNotUTF8AndLongLine(t *testing.T) {
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	file := filepath.Join(t.TempDir(), "app.log")
	long := "web-3 " + strings.Repeat("ü", 2_500_000) // 5 MB
	lines := "one\ncaf\xe9\n" + long + "\nfour\n"
	if err := os.WriteFile(file, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := runMain([]string{"ingest", "--brokers", e.Addr(), "--host", "web-3", file}, &out, &errb, env(nil))
	if code != 0 || !strings.Contains(errb.String(), "ingested 3 records") || !strings.Contains(errb.String(), "1 not UTF-8 (dead letters)") ||
		!strings.Contains(errb.String(), "1 truncated") {
		t.Fatalf("ingest exit %d: %s", code, errb.String())
	}
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addr()), kgo.ConsumeTopics(topology.TopicRaw, topology.TopicDLQ),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var raws, dls int
	for deadline := time.Now().Add(30 * time.Second); raws+dls < 4 && time.Now().Before(deadline); {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			if r.Topic == topology.TopicDLQ {
				dls++
				dl, err := set.DeadLetter.Unmarshal(r.Value)
				if err != nil || dl.Stage != ingest.Stage || string(dl.OriginalValue) != "caf\xe9" || !strings.Contains(dl.Error, "offset 3 of the line") {
					t.Errorf("dead letter %+v (%v)", dl, err)
				}
				return
			}
			raws++
			raw, err := set.RawLog.Unmarshal(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(raw.Line, "web-3 ") && (raw.Labels[ingest.LabelTruncated] != "true" ||
				raw.Labels[ingest.LabelOriginalBytes] != fmt.Sprint(len(long)) || !strings.HasPrefix(long, raw.Line) || len(r.Value) > ingest.DefaultMaxRecordBytes) {
				t.Errorf("long line: %d bytes, labels %v", len(raw.Line), raw.Labels)
			}
		})
		cancel()
	}
	if raws != 3 || dls != 1 {
		t.Fatalf("%d raw records and %d dead letters, want 3 and 1", raws, dls)
	}
}
