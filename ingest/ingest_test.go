package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/logstream/logstream/processors/parse/mask"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

const (
	testTopic = topology.TopicRaw
	testDLQ   = topology.TopicDLQ
)

var testNow = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// jsonEncode stands in for the Avro codec.
func jsonEncode(r *schemas.RawLog) ([]byte, error) { return json.Marshal(r) }

func jsonEncodeDL(d *schemas.DeadLetter) ([]byte, error) { return json.Marshal(d) }

// hostOf takes the host from a leading "host=NAME " field.
func hostOf(line string) string {
	rest, ok := strings.CutPrefix(line, "host=")
	if !ok {
		return ""
	}
	h, _, _ := strings.Cut(rest, " ")
	return h
}

func baseConfig() Config {
	return Config{
		Topic:            testTopic,
		DeadLetterTopic:  testDLQ,
		Encode:           jsonEncode,
		EncodeDeadLetter: jsonEncodeDL,
		HostOf:           hostOf,
		Now:              func() time.Time { return testNow },
		Poll:             10 * time.Millisecond,
	}
}

func startCluster(t *testing.T) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, testTopic, testDLQ))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func newProducer(t *testing.T, addrs []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addrs...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

type got struct {
	key   string
	part  int32
	value []byte
	raw   schemas.RawLog
}

type consumer struct {
	cl  *kgo.Client
	all []got
}

func newConsumer(t *testing.T, addrs []string) *consumer {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(testTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &consumer{cl: cl}
}

// waitFor polls until at least n records arrived in total or the timeout
// passes, and returns everything received so far.
func (c *consumer) waitFor(t *testing.T, n int, timeout time.Duration) []got {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for len(c.all) < n && time.Now().Before(deadline) {
		c.poll(t, time.Until(deadline))
	}
	return c.all
}

// settle polls once more for a short while, so duplicates would show.
func (c *consumer) settle(t *testing.T) []got {
	t.Helper()
	c.poll(t, 300*time.Millisecond)
	return c.all
}

func (c *consumer) poll(t *testing.T, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	fs := c.cl.PollFetches(ctx)
	for _, e := range fs.Errors() {
		if !errors.Is(e.Err, context.DeadlineExceeded) {
			t.Fatalf("fetch: %v", e.Err)
		}
	}
	fs.EachRecord(func(r *kgo.Record) {
		g := got{key: string(r.Key), part: r.Partition, value: r.Value}
		if err := json.Unmarshal(r.Value, &g.raw); err != nil {
			t.Fatalf("decode %q: %v", r.Value, err)
		}
		c.all = append(c.all, g)
	})
}

var seqRE = regexp.MustCompile(`seq=(\d+)`)

func seqOf(t *testing.T, line string) int {
	t.Helper()
	m := seqRE.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no seq in %q", line)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// checkExactlyOnceInOrder asserts that the records are exactly want (by
// line), each once, and that within one key they arrived in seq order.
func checkExactlyOnceInOrder(t *testing.T, recs []got, want []string) {
	t.Helper()
	seen := map[string]int{}
	for _, g := range recs {
		seen[g.raw.Line]++
	}
	for _, w := range want {
		if seen[w] != 1 {
			t.Errorf("line %q arrived %d times, want 1", w, seen[w])
		}
		delete(seen, w)
	}
	for l, n := range seen {
		t.Errorf("unexpected line %q (%d times)", l, n)
	}
	// Records of one partition are consumed in offset order; a key lives in
	// one partition, so per key the seq must increase.
	last := map[string]int{}
	partOf := map[string]int32{}
	for _, g := range recs {
		if p, ok := partOf[g.key]; ok && p != g.part {
			t.Errorf("key %q in partitions %d and %d", g.key, p, g.part)
		}
		partOf[g.key] = g.part
		s := seqOf(t, g.raw.Line)
		if s <= last[g.key] {
			t.Errorf("key %q: seq %d after %d", g.key, s, last[g.key])
		}
		last[g.key] = s
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestFilesExactlyOnceInOrder(t *testing.T) {
	addrs := startCluster(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")

	// File a: LF and CRLF lines, empty lines (also "\r\n"), a line with no
	// host (falls back to the hostname). File b: a last line without newline.
	var wantA, wantB []string
	var sa, sb strings.Builder
	seq := 0
	for i := range 300 {
		seq++
		l := fmt.Sprintf("host=web-%d seq=%d GET /api/%d", i%3+1, seq, i)
		wantA = append(wantA, l)
		switch i % 50 {
		case 7:
			sa.WriteString(l + "\r\n\r\n")
		case 9:
			sa.WriteString(l + "\n\n")
		default:
			sa.WriteString(l + "\n")
		}
	}
	seq++
	noHost := fmt.Sprintf("no host here seq=%d", seq)
	wantA = append(wantA, noHost)
	sa.WriteString(noHost + "\r\n")
	for i := range 200 {
		seq++
		l := fmt.Sprintf("host=web-%d seq=%d POST /pay", i%4+1, seq)
		wantB = append(wantB, l)
		sb.WriteString(l)
		if i < 199 {
			sb.WriteString("\n")
		}
	}
	writeFile(t, a, sa.String())
	writeFile(t, b, sb.String())

	cfg := baseConfig()
	cfg.Labels = map[string]string{"env": "test"}
	sum, err := Run(context.Background(), cfg, newProducer(t, addrs), []string{a, b})
	if err != nil {
		t.Fatal(err)
	}
	want := append(append([]string{}, wantA...), wantB...)
	recs := newConsumer(t, addrs).waitFor(t, len(want), 10*time.Second)
	checkExactlyOnceInOrder(t, recs, want)

	hostname, _ := os.Hostname()
	inA := map[string]bool{}
	for _, l := range wantA {
		inA[l] = true
	}
	var bytes int64
	for _, g := range recs {
		wantHost := hostOf(g.raw.Line)
		if wantHost == "" {
			wantHost = hostname
		}
		if g.key != wantHost || g.raw.Host != wantHost {
			t.Errorf("line %q: key %q host %q, want %q", g.raw.Line, g.key, g.raw.Host, wantHost)
		}
		wantSrc := b
		if inA[g.raw.Line] {
			wantSrc = a
		}
		if g.raw.Source != wantSrc {
			t.Errorf("line %q: source %q, want %q", g.raw.Line, g.raw.Source, wantSrc)
		}
		if g.raw.ReceivedAt != testNow.UnixMilli() {
			t.Errorf("received_at %d, want %d", g.raw.ReceivedAt, testNow.UnixMilli())
		}
		if len(g.raw.Labels) != 1 || g.raw.Labels["env"] != "test" {
			t.Errorf("labels %v", g.raw.Labels)
		}
		if strings.ContainsAny(g.raw.Line, "\r\n") {
			t.Errorf("line %q keeps a line ending", g.raw.Line)
		}
		bytes += int64(len(g.raw.Line))
	}
	if sum.Records != int64(len(want)) || sum.Failed != 0 || sum.Files != 2 || sum.Bytes != bytes || sum.Truncated != 0 {
		t.Errorf("summary %+v, want %d records, %d bytes, 2 files", sum, len(want), bytes)
	}
	if sum.Skipped != 12 { // 6 "\r\n\r\n" and 6 "\n\n" blanks
		t.Errorf("skipped %d, want 12", sum.Skipped)
	}
}

func TestStdin(t *testing.T) {
	hostname, _ := os.Hostname()
	for _, tc := range []struct {
		name     string
		inputs   []string
		host     string
		hostOf   func(string) string
		wantHost string
	}{
		{"no inputs, --host", nil, "box-1", hostOf, "box-1"},
		{"dash, host from line", []string{"-"}, "", hostOf, "web-9"},
		{"dash, hostname", []string{"-"}, "", nil, hostname},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addrs := startCluster(t)
			cfg := baseConfig()
			cfg.Host, cfg.HostOf = tc.host, tc.hostOf
			var in strings.Builder
			var want []string
			for i := 1; i <= 50; i++ {
				l := fmt.Sprintf("host=web-9 seq=%d", i)
				want = append(want, l)
				in.WriteString(l + "\r\n")
			}
			cfg.Stdin = strings.NewReader(in.String())
			sum, err := Run(context.Background(), cfg, newProducer(t, addrs), tc.inputs)
			if err != nil {
				t.Fatal(err)
			}
			recs := newConsumer(t, addrs).waitFor(t, len(want), 10*time.Second)
			checkExactlyOnceInOrder(t, recs, want)
			for _, g := range recs {
				if g.raw.Source != StdinSource || g.key != tc.wantHost || g.raw.Host != tc.wantHost {
					t.Fatalf("got source %q key %q host %q, want stdin/%q", g.raw.Source, g.key, g.raw.Host, tc.wantHost)
				}
			}
			if sum.Records != 50 || sum.Files != 1 || sum.Skipped != 0 {
				t.Errorf("summary %+v", sum)
			}
		})
	}
}

func TestMissingFileProducesNothing(t *testing.T) {
	addrs := startCluster(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.log")
	writeFile(t, good, "host=web-1 seq=1\n")
	missing := filepath.Join(dir, "nope.log")

	sum, err := Run(context.Background(), baseConfig(), newProducer(t, addrs), []string{good, missing})
	if err == nil {
		t.Fatal("no error for a missing file")
	}
	if !strings.HasPrefix(err.Error(), "ingest: ") || !strings.Contains(err.Error(), missing) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %q should start with ingest:, name %s and be ErrNotExist", err, missing)
	}
	if sum != (Summary{}) {
		t.Errorf("summary %+v, want zero", sum)
	}
	if recs := newConsumer(t, addrs).settle(t); len(recs) != 0 {
		t.Errorf("%d records produced despite the error", len(recs))
	}

	_, err = Run(context.Background(), baseConfig(), newProducer(t, addrs), []string{dir})
	if err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("directory input: error %v", err)
	}
}

func TestLongLinesTruncated(t *testing.T) {
	addrs := startCluster(t)
	path := filepath.Join(t.TempDir(), "long.log")
	exact := "host=a seq=1 xxx" // 16 bytes
	long := "host=a seq=2 " + strings.Repeat("y", 100)
	multi := "host=a seq=3 ab€€€€" // the cut falls inside a 3-byte rune
	writeFile(t, path, exact+"\r\n"+long+"\n"+multi+"\n"+"host=a seq=4\n")

	cfg := baseConfig()
	cfg.MaxLineBytes = 16
	sum, err := Run(context.Background(), cfg, newProducer(t, addrs), []string{path})
	if err != nil {
		t.Fatal(err)
	}
	recs := newConsumer(t, addrs).waitFor(t, 4, 10*time.Second)
	want := map[int]struct {
		line  string
		trunc bool
	}{
		1: {exact, false},
		2: {long[:16], true},
		3: {"host=a seq=3 ab", true},
		4: {"host=a seq=4", false},
	}
	if len(recs) != 4 {
		t.Fatalf("%d records, want 4", len(recs))
	}
	for _, g := range recs {
		w := want[seqOf(t, g.raw.Line)]
		if g.raw.Line != w.line || (g.raw.Labels[LabelTruncated] == "true") != w.trunc {
			t.Errorf("got %q labels %v, want %q truncated=%v", g.raw.Line, g.raw.Labels, w.line, w.trunc)
		}
	}
	if sum.Truncated != 2 || sum.Records != 4 {
		t.Errorf("summary %+v", sum)
	}
}

func TestFollow(t *testing.T) {
	addrs := startCluster(t)
	path := filepath.Join(t.TempDir(), "app.log")
	writeFile(t, path, "host=web-1 seq=1\nhost=web-2 seq=2\n")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := baseConfig()
	cfg.Follow = true
	type result struct {
		sum Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := Run(ctx, cfg, newProducer(t, addrs), []string{path})
		done <- result{sum, err}
	}()
	c := newConsumer(t, addrs)
	expect := func(n int) {
		t.Helper()
		if recs := c.waitFor(t, n, 10*time.Second); len(recs) < n {
			t.Fatalf("got %d records, want %d", len(recs), n)
		}
	}
	expect(2)

	// Appended lines; one written in two pieces must arrive whole.
	appendFile(t, path, "host=web-1 seq=3\nhost=web-1 se")
	time.Sleep(5 * cfg.Poll)
	appendFile(t, path, "q=4\n")
	expect(4)

	// copytruncate: truncated in place, then written again (shorter).
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, "host=web-2 seq=5\n")
	expect(5)

	// Rotation: renamed, a late write to the old file, then a new file.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path+".1", "host=web-3 seq=6\n")
	writeFile(t, path, "host=web-3 seq=7\nhost=web-1 seq=8\n")
	expect(8)

	select {
	case r := <-done:
		t.Fatalf("Run returned before cancellation: %+v %v", r.sum, r.err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	var want []string
	for i := 1; i <= 8; i++ {
		want = append(want, fmt.Sprintf("host=web-%d seq=%d", []int{0, 1, 2, 1, 1, 2, 3, 3, 1}[i], i))
	}
	recs := c.settle(t)
	checkExactlyOnceInOrder(t, recs, want)
	for _, g := range recs {
		if g.raw.Source != path {
			t.Errorf("source %q, want %q", g.raw.Source, path)
		}
	}
	if r.sum.Records != 8 || r.sum.Files != 1 || r.sum.Failed != 0 {
		t.Errorf("summary %+v", r.sum)
	}
}

func TestFollowStdinWaitsForCancel(t *testing.T) {
	addrs := startCluster(t)
	ctx, cancel := context.WithCancel(context.Background())
	cfg := baseConfig()
	cfg.Follow = true
	cfg.Stdin = strings.NewReader("host=web-1 seq=1\n")
	done := make(chan Summary, 1)
	go func() {
		sum, _ := Run(ctx, cfg, newProducer(t, addrs), nil)
		done <- sum
	}()
	newConsumer(t, addrs).waitFor(t, 1, 10*time.Second)
	select {
	case <-done:
		t.Fatal("--follow returned at the end of stdin")
	case <-time.After(100 * time.Millisecond):
	}
	cancel()
	if sum := <-done; sum.Records != 1 {
		t.Errorf("summary %+v", sum)
	}
}

// lockedBuffer is a bytes.Buffer that the test may read while Run writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestProgress(t *testing.T) {
	addrs := startCluster(t)
	pr, pw := io.Pipe()
	var out lockedBuffer
	cfg := baseConfig()
	cfg.Now = time.Now
	cfg.Progress = &out
	cfg.Stdin = pr
	done := make(chan Summary, 1)
	go func() {
		sum, err := Run(context.Background(), cfg, newProducer(t, addrs), nil)
		if err != nil {
			t.Error(err)
		}
		done <- sum
	}()
	for i := 1; i <= 1234; i++ {
		fmt.Fprintf(pw, "host=web-1 seq=%d\n", i)
	}
	// Let a few refreshes happen while the input is still open.
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(out.String(), "\r") < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	pw.Close()
	sum := <-done
	s := out.String()
	if n := strings.Count(s, "\r"); n < 3 {
		t.Errorf("%d progress refreshes, want at least 3: %q", n, s)
	}
	if !regexp.MustCompile(`^\r  [0-9,]+ records  [0-9,]+ rec/s`).MatchString(s) {
		t.Errorf("progress output %q does not look like a progress line", s)
	}
	if !strings.Contains(s, "\r  1,234 records  ") || !strings.HasSuffix(s, "\n") {
		t.Errorf("final progress line missing in %q", s)
	}
	if sum.Records != 1234 {
		t.Errorf("summary %+v", sum)
	}
}

func TestCancelFlushesWhatWasRead(t *testing.T) {
	addrs := startCluster(t)
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	cfg := baseConfig()
	cfg.Stdin = pr // never closed while Run runs: the read blocks
	type result struct {
		sum Summary
		err error
	}
	done := make(chan result, 1)
	go func() {
		sum, err := Run(ctx, cfg, newProducer(t, addrs), []string{"-"})
		done <- result{sum, err}
	}()
	for i := 1; i <= 5; i++ {
		fmt.Fprintf(pw, "host=web-%d seq=%d\n", i%2+1, i)
	}
	c := newConsumer(t, addrs)
	c.waitFor(t, 5, 10*time.Second)
	cancel()
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
	// Stdin was not read to its end: an interruption, with the account.
	if !errors.Is(r.err, ErrInterrupted) || !strings.Contains(r.err.Error(), "5 lines acknowledged, 0 not") {
		t.Fatalf("error %v, want ErrInterrupted with 5 lines acknowledged, 0 not", r.err)
	}
	if r.sum.Records != 5 || r.sum.Failed != 0 || r.sum.Unacknowledged != 0 {
		t.Errorf("summary %+v", r.sum)
	}
	var want []string
	for i := 1; i <= 5; i++ {
		want = append(want, fmt.Sprintf("host=web-%d seq=%d", i%2+1, i))
	}
	checkExactlyOnceInOrder(t, c.settle(t), want)
}

func TestEncodeFailureCounted(t *testing.T) {
	addrs := startCluster(t)
	cfg := baseConfig()
	cfg.Encode = func(r *schemas.RawLog) ([]byte, error) {
		if strings.Contains(r.Line, "bad") {
			return nil, errors.New("cannot encode")
		}
		return jsonEncode(r)
	}
	cfg.Stdin = strings.NewReader("host=a seq=1\nhost=a seq=2 bad\nhost=a seq=3\n")
	sum, err := Run(context.Background(), cfg, newProducer(t, addrs), nil)
	if err == nil || !strings.HasPrefix(err.Error(), "ingest: ") || !strings.Contains(err.Error(), "cannot encode") {
		t.Errorf("error %v", err)
	}
	if sum.Records != 2 || sum.Failed != 1 {
		t.Errorf("summary %+v", sum)
	}
	checkExactlyOnceInOrder(t, newConsumer(t, addrs).waitFor(t, 2, 10*time.Second), []string{"host=a seq=1", "host=a seq=3"})
}

func TestProduceFailureCounted(t *testing.T) {
	addrs := startCluster(t)
	cfg := baseConfig()
	cfg.Topic = "no.such.topic"
	cfg.Stdin = strings.NewReader("host=a seq=1\nhost=a seq=2\n")
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordDeliveryTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	sum, err := Run(context.Background(), cfg, cl, nil)
	if err == nil || sum.Failed != 2 || sum.Records != 0 {
		t.Errorf("summary %+v, error %v; want 2 failed and an error", sum, err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Topic = "" }, "Topic"},
		{func(c *Config) { c.DeadLetterTopic = "" }, "DeadLetterTopic"},
		{func(c *Config) { c.Encode = nil }, "Encode"},
		{func(c *Config) { c.EncodeDeadLetter = nil }, "EncodeDeadLetter"},
		{func(c *Config) { c.MaxRecordBytes = -1 }, "MaxRecordBytes"},
		{func(c *Config) { c.MaxRecordBytes = 100 }, "MaxRecordBytes"},
		{func(c *Config) { c.DeliveryTimeout = -1 }, "DeliveryTimeout"},
		{func(c *Config) { c.Host = "h\xff" }, "UTF-8"},
		{func(c *Config) { c.Labels = map[string]string{"k": "\xc3"} }, "UTF-8"},
		{func(c *Config) { c.MaxLineBytes = -1 }, "MaxLineBytes"},
		{func(c *Config) { c.Poll = -1 }, "Poll"},
		{func(c *Config) { c.FlushTimeout = -1 }, "FlushTimeout"},
	} {
		cfg := baseConfig()
		tc.mod(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "ingest: ") {
			t.Errorf("Validate() = %v, want an error about %s", err, tc.want)
		}
		if _, err := Run(context.Background(), cfg, nil, nil); err == nil {
			t.Errorf("Run accepted an invalid config (%s)", tc.want)
		}
	}
	cfg := baseConfig()
	if err := cfg.Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
	if _, err := Run(context.Background(), cfg, nil, nil); err == nil {
		t.Error("Run accepted a nil client")
	}
}

func TestSummaryString(t *testing.T) {
	s := Summary{Records: 10000, Bytes: 1_234_567, Files: 2, Elapsed: 410 * time.Millisecond}
	if got, want := s.String(), "ingested 10,000 records (1.2 MB) from 2 files in 0.41s (24,390 rec/s), 0 failed"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	s = Summary{Records: 1, Bytes: 12, Files: 1, Failed: 1234, Skipped: 3, Truncated: 1, Elapsed: time.Second}
	if got, want := s.String(), "ingested 1 record (12 B) from 1 file in 1.00s (1 rec/s), 1,234 failed, 3 empty lines skipped, 1 truncated"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestFormatting(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567", 123456789: "123,456,789"} {
		if got := commas(n); got != want {
			t.Errorf("commas(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 999_999: "1.0 MB", 1_500_000_000: "1.5 GB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// Card numbers never reach logs.raw readable: masked in lines (and in the
// dead letter of a line that is not UTF-8), with the configured patterns.
func TestLinesMasked(t *testing.T) {
	addrs := startCluster(t)
	cfg := baseConfig()
	cfg.Host = "pay-1"
	m, err := mask.New([]mask.Pattern{{Name: "email", Regexp: `[a-z]+@[a-z.]+`}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Mask = m
	cfg.Stdin = strings.NewReader("card 4111111111111111 declined for bob@example.com\nplain line\n")
	if _, err := Run(context.Background(), cfg, newProducer(t, addrs), nil); err != nil {
		t.Fatal(err)
	}
	recs := newConsumer(t, addrs).waitFor(t, 2, 10*time.Second)
	got := map[string]bool{}
	for _, r := range recs {
		got[r.raw.Line] = true
	}
	if len(recs) != 2 || !got["card 411111******1111 declined for [MASKED:email]"] || !got["plain line"] {
		t.Fatalf("lines written: %v", got)
	}
}
