package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/broker/brokertest"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/sinks/s3/s3local"
	"github.com/logstream/logstream/topology"
)

// freeAddr returns a 127.0.0.1 address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// The commands against an embedded broker that requires TLS and
// SCRAM-SHA-512: `run` starts it (--embedded-tls-*, --embedded-sasl) and
// connects to it as a client would, `ingest` writes lines, `tail` reads
// the parsed events back, `dlq list` and `dlq replay` read and replay a
// dead letter, `page` delivers an alert, `sink s3` writes an object; the password comes from a file or the
// environment, never a flag. Wrong credentials end a command with one
// line naming the broker and the mechanism.
func TestCommandsOverTLSAndSCRAM(t *testing.T) {
	dir := t.TempDir()
	cert, key, err := brokertest.SelfSignedCert(dir)
	if err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte("pipeline-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	client := []string{"--kafka-tls", "--kafka-tls-ca", cert, "--kafka-sasl-mechanism", "SCRAM-SHA-512", "--kafka-sasl-username", "ops"}
	vars := env(map[string]string{"LOGSTREAM_EMBEDDED_SASL": "SCRAM-SHA-512:ops:pipeline-secret", "LOGSTREAM_KAFKA_SASL_PASSWORD_FILE": pwFile})

	runArgs := append([]string{"--embedded-addr", addr, "--embedded-tls-cert", cert, "--embedded-tls-key", key,
		"--stages", "parse", "--partitions", "2", "--admin-addr", "", "--log-level", "warn"}, client...)
	cfg, _, err := parseConfig(cmdByName(t, "run"), runArgs, vars)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var runErr syncBuffer
	done := make(chan error, 1)
	go func() { done <- runPipeline(ctx, cfg, &runErr) }()
	defer func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("run: %v\n%s", err, runErr.String())
		}
	}()
	// Wait for the broker and the parse stage's topics.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(runErr.String(), "embedded Kafka broker listening on "+addr) {
		if time.Now().After(deadline) {
			t.Fatalf("run did not start: %s", runErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	lines := filepath.Join(dir, "app.log")
	var b strings.Builder
	for i := 0; i < 20; i++ {
		fmt.Fprintf(&b, `{"ts":"2026-11-01T12:00:%02dZ","level":"error","msg":"payment %d declined","host":"web-1"}`+"\n", i, i)
	}
	if err := os.WriteFile(lines, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb syncBuffer
	if code := runMain(append([]string{"ingest", lines, "--brokers", addr, "--partitions", "2"}, client...), &out, &errb, vars); code != 0 {
		t.Fatalf("ingest over TLS and SCRAM: exit %d\n%s", code, errb.String())
	}
	out, errb = syncBuffer{}, syncBuffer{}
	deadline = time.Now().Add(60 * time.Second)
	for {
		out, errb = syncBuffer{}, syncBuffer{}
		code := runMain(append([]string{"tail", topology.TopicParsed, "--brokers", addr, "--from-beginning", "--exit-at-end"}, client...), &out, &errb, vars)
		if code != 0 {
			t.Fatalf("tail over TLS and SCRAM: exit %d\n%s", code, errb.String())
		}
		if strings.Count(out.String(), "declined") == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tail printed %d of 20 events:\n%s", strings.Count(out.String(), "declined"), out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}

	// page delivers an alert read over TLS and SCRAM.
	sec, err := broker.NewSecurity(broker.SecurityConfig{TLS: true, CAFile: cert, Mechanism: "SCRAM-SHA-512", Username: "ops", Password: "pipeline-secret"})
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(sec.KgoOpts(), kgo.SeedBrokers(addr))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	// The dlq commands read and replay a dead letter over TLS and SCRAM.
	dl, err := set.DeadLetter.Marshal(&schemas.DeadLetter{OriginalKey: []byte("web-2"), OriginalValue: []byte("payment 99 declined"),
		SourceTopic: topology.TopicRaw, SourcePartition: 0, SourceOffset: 999, Stage: "parse", Error: "a test's", Time: time.Now().UnixMilli()})
	if err != nil {
		t.Fatal(err)
	}
	dctx, dcancel := context.WithTimeout(context.Background(), time.Minute)
	defer dcancel()
	if err := cl.ProduceSync(dctx, &kgo.Record{Topic: topology.TopicDLQ, Key: []byte("web-2"), Value: dl}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"dlq", "list", "--stage", "parse"}, "logs.raw/0/999"},
		{[]string{"dlq", "replay", "--reason", "a test's"}, "replayed 1 to logs.raw"},
	} {
		out, errb = syncBuffer{}, syncBuffer{}
		if code := runMain(append(append(tc.args, "--brokers", addr), client...), &out, &errb, vars); code != 0 || !strings.Contains(out.String()+errb.String(), tc.want) {
			t.Errorf("%v over TLS and SCRAM: exit %d, want %q in\n%s%s", tc.args, code, tc.want, out.String(), errb.String())
		}
	}
	a := &schemas.Alert{ID: "logstream/host/web-1/1/FIRING", DedupKey: "logstream/host/web-1/1", State: schemas.AlertFiring,
		Scope: schemas.ScopeHost, Host: "web-1", Rule: "host_error_rate", Summary: "web-1 is failing", FirstSeen: 1, At: 2}
	v, err := set.Alert.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	pctx, pcancel := context.WithTimeout(context.Background(), time.Minute)
	defer pcancel()
	if err := cl.ProduceSync(pctx, &kgo.Record{Topic: topology.TopicAlerts, Key: []byte("fleet"), Value: v}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	delivered := make(chan string, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case delivered <- string(b):
		default:
		}
	}))
	defer hook.Close()
	pcfg, _, err := parseConfig(cmdByName(t, "page"), append([]string{"--brokers", addr, "--webhook-url", hook.URL, "--admin-addr", ""}, client...), vars)
	if err != nil {
		t.Fatal(err)
	}
	var perr syncBuffer
	pdone := make(chan error, 1)
	go func() { pdone <- runPage(pctx, pcfg, &perr) }()
	select {
	case body := <-delivered:
		if !strings.Contains(body, a.ID) {
			t.Errorf("webhook got %s, want alert %s", body, a.ID)
		}
	case <-pctx.Done():
		t.Fatalf("page delivered nothing over TLS and SCRAM:\n%s", perr.String())
	}
	pcancel()
	if err := <-pdone; err != nil {
		t.Errorf("page: %v", err)
	}

	// sink s3 writes an enriched event read over TLS and SCRAM.
	ev, err := set.LogEvent.Marshal(&schemas.LogEvent{EventID: "ev-1", Timestamp: 1_700_000_000_000, Host: "web-1",
		Level: schemas.LevelError, Message: "payment declined", Source: "stdin", Format: "json", JoinStatus: schemas.JoinNoTrace})
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
	defer scancel()
	if err := cl.ProduceSync(sctx, &kgo.Record{Topic: topology.TopicEnriched, Key: []byte("ev-1"), Value: ev}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	s3dir := filepath.Join(dir, "s3")
	store, err := s3local.New(s3dir, s3local.WithCredentials("test-key"), s3local.WithBucket("logs"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	s3url, err := store.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "test-key")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
	scfg, _, err := parseConfig(cmdByName(t, "sink s3"), append([]string{"--brokers", addr, "--topics", topology.TopicEnriched,
		"--s3-bucket", "logs", "--s3-endpoint", s3url, "--s3-region", "us-east-1", "--s3-max-age", "1s", "--admin-addr", ""}, client...), vars)
	if err != nil {
		t.Fatal(err)
	}
	var serr syncBuffer
	sdone := make(chan error, 1)
	go func() { sdone <- runSinkS3(sctx, scfg, &serr) }()
	for wrote := false; !wrote; {
		filepath.WalkDir(s3dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.Contains(p, topology.TopicEnriched) {
				wrote = true
			}
			return nil
		})
		if sctx.Err() != nil {
			t.Fatalf("sink s3 wrote no object over TLS and SCRAM:\n%s", serr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	scancel()
	if err := <-sdone; err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("sink s3: %v", err)
	}

	// status reads the parse group's health, reprocess plans a reset of
	// the sink's stopped group.
	out, errb = syncBuffer{}, syncBuffer{}
	if code := runMain(append([]string{"status", "--brokers", addr, "--groups", topology.GroupParse, "--interval", "1s", "--format", "json"}, client...),
		&out, &errb, vars); code != 0 || !strings.Contains(out.String(), `"`+topology.GroupParse+`"`) {
		t.Errorf("status over TLS and SCRAM: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	out, errb = syncBuffer{}, syncBuffer{}
	if code := runMain(append([]string{"reprocess", "--brokers", addr, "--group", topology.GroupSinkS3, "--from-offset", "0", "--dry-run"}, client...),
		&out, &errb, vars); code != 0 || !strings.Contains(out.String(), topology.TopicEnriched) {
		t.Errorf("reprocess over TLS and SCRAM: exit %d\n%s\n%s", code, out.String(), errb.String())
	}

	// Wrong credentials, no TLS: one line each, naming the broker and how
	// the client connected, and never the password.
	for _, c := range []struct {
		name string
		args []string
		vars map[string]string
		says string
	}{
		{"wrong password", client, map[string]string{"LOGSTREAM_KAFKA_SASL_PASSWORD": "guess"}, "TLS, SASL SCRAM-SHA-512 as ops"},
		{"no TLS", []string{"--kafka-sasl-mechanism", "SCRAM-SHA-512", "--kafka-sasl-username", "ops"},
			map[string]string{"LOGSTREAM_KAFKA_SASL_PASSWORD": "pipeline-secret"}, "plaintext, SASL SCRAM-SHA-512 as ops"},
	} {
		for _, cmd := range [][]string{{"ingest", lines}, {"tail", topology.TopicParsed, "--exit-at-end"}, {"page", "--webhook-url", hook.URL},
			{"query", "hosts"}, {"sink", "s3", "--s3-bucket", "logs", "--s3-endpoint", s3url}, {"status", "--groups", topology.GroupParse},
			{"reprocess", "--group", topology.GroupSinkS3, "--from-offset", "0", "--dry-run"}} {
			out, errb := syncBuffer{}, syncBuffer{}
			start := time.Now()
			code := runMain(append(append(cmd, "--brokers", addr), c.args...), &out, &errb, env(c.vars))
			msg := strings.TrimSpace(errb.String())
			if code == 0 || !strings.Contains(msg, addr) || !strings.Contains(msg, c.says) {
				t.Errorf("%s, %s: exit %d, said %q; want an error naming %s and %q", cmd[0], c.name, code, msg, addr, c.says)
			}
			if strings.Contains(msg, "guess") || strings.Contains(msg, "pipeline-secret") {
				t.Errorf("%s, %s: the error shows the password: %s", cmd[0], c.name, msg)
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("%s, %s: took %s", cmd[0], c.name, d)
			}
		}
	}
}
