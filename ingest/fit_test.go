package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
)

// avroConfig is baseConfig with the real Avro codecs, so that record sizes
// are the real ones.
func avroConfig(t *testing.T) Config {
	t.Helper()
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	cfg := baseConfig()
	cfg.Encode = set.RawLog.Marshal
	cfg.EncodeDeadLetter = set.DeadLetter.Marshal
	return cfg
}

// readTopic reads n records of topic from its start (or what arrived
// within the timeout).
func readTopic(t *testing.T, addrs []string, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(64<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(10 * time.Second)
	for len(out) < n && time.Now().Before(deadline) {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

func decodeRaw(t *testing.T, r *kgo.Record) *schemas.RawLog {
	t.Helper()
	set, _ := codecs.NewSet()
	raw, err := set.RawLog.Unmarshal(r.Value)
	if err != nil {
		t.Fatalf("record at %d is no RawLog: %v", r.Offset, err)
	}
	return raw
}

// Lines that are not UTF-8 go to the dead-letter topic with their bytes and
// where the first bad byte is; nothing invalid reaches an Avro string, and
// every line is accounted for.
func TestNotUTF8DeadLettered(t *testing.T) {
	addrs := startCluster(t)
	cfg := avroConfig(t)
	cfg.Metrics = NewMetrics()
	first := "host=web-1 seq=1 ok"
	latin1 := "host=web-1 seq=2 caf\xe9 au lait"             // ISO-8859-1 é at offset 20
	cut := "host=web-2 seq=3 \xe2\x82"                       // a rune cut short at offset 17
	last := "host=web-1 seq=4 na\xc3\xafve \xf0\x9f\x98\x80" // valid: ï and an emoji
	input := first + "\n" + latin1 + "\r\n" + cut + "\n\n" + last + "\n"
	cfg.Stdin = strings.NewReader(input)
	sum, err := Run(context.Background(), cfg, newProducer(t, addrs), nil)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Records != 2 || sum.DeadLettered != 2 || sum.Failed != 0 || sum.Unacknowledged != 0 || sum.Read != 4 || sum.Skipped != 1 {
		t.Errorf("summary %+v", sum)
	}
	if !strings.Contains(sum.String(), "2 not UTF-8 (dead letters)") || !strings.Contains(sum.Acks(), "4 lines acknowledged, 0 not") {
		t.Errorf("summary %q / %q", sum.String(), sum.Acks())
	}
	for result, want := range map[string]float64{ResultAcknowledged: 2, ResultDeadLettered: 2, ResultSkipped: 1, ResultFailed: 0} {
		if got := testutil.ToFloat64(cfg.Metrics.lines.WithLabelValues(result)); got != want {
			t.Errorf("lines_total{result=%q} = %v, want %v", result, got, want)
		}
	}

	raws := readTopic(t, addrs, testTopic, 2)
	var lines []string
	for _, r := range raws {
		raw := decodeRaw(t, r)
		if !utf8.ValidString(raw.Line) {
			t.Errorf("invalid UTF-8 on the raw topic: %q", raw.Line)
		}
		lines = append(lines, raw.Line)
	}
	if strings.Join(lines, "|") != first+"|"+last {
		t.Errorf("raw lines %q, want %q and %q", lines, first, last)
	}

	set, _ := codecs.NewSet()
	dls := readTopic(t, addrs, testDLQ, 2)
	if len(dls) != 2 {
		t.Fatalf("%d dead letters, want 2", len(dls))
	}
	want := map[string]struct {
		key, reason string
		offset      int64
	}{
		latin1: {"web-1", "line 2 of stdin is not valid UTF-8: byte 0xE9 at offset 20 of the line", int64(len(first) + 1)},
		cut:    {"web-2", "line 3 of stdin is not valid UTF-8: byte 0xE2 at offset 17 of the line", int64(len(first) + 1 + len(latin1) + 2)},
	}
	for _, r := range dls {
		dl, err := set.DeadLetter.Unmarshal(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		w, ok := want[string(dl.OriginalValue)]
		if !ok {
			t.Errorf("dead letter keeps %q, not one of the bad lines", dl.OriginalValue)
			continue
		}
		if dl.Stage != Stage || !strings.HasPrefix(dl.Error, w.reason) || string(dl.OriginalKey) != w.key || string(r.Key) != w.key ||
			dl.SourceTopic != testTopic || dl.SourcePartition != -1 || dl.SourceOffset != w.offset || dl.Time != testNow.UnixMilli() {
			t.Errorf("dead letter %+v\nwant stage %s, reason %q, key %s, source %s/-1/%d", dl, Stage, w.reason, w.key, testTopic, w.offset)
		}
	}
}

// The record limits the tests below set up, and what each must come from.
func TestLongLineFitsTheRecordLimit(t *testing.T) {
	long := "host=web-1 seq=2 " + strings.Repeat("é€x", 5_000_000/6) // 5 MB, runes of 2, 3 and 1 bytes
	for _, tc := range []struct {
		name      string
		opts      []kfake.Opt
		topicCfg  map[string]*string // max.message.bytes of the raw topic, created by the test
		wantLimit int
		wantFrom  string
	}{
		{name: "broker default", wantLimit: DefaultMaxRecordBytes, wantFrom: "message.max.bytes of broker"},
		{name: "topic max.message.bytes", topicCfg: map[string]*string{"max.message.bytes": kadm.StringPtr("20000")},
			wantLimit: 20000, wantFrom: "max.message.bytes of " + testTopic},
		{name: "broker message.max.bytes", opts: []kfake.Opt{kfake.BrokerConfigs(map[string]string{"message.max.bytes": "30000"})},
			wantLimit: 30000, wantFrom: "message.max.bytes of broker"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(2, testDLQ)}, tc.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			addrs := c.ListenAddrs()
			// The client builds no larger batches than the broker takes,
			// as AskRecordLimit's caller must see to.
			cl := newProducer(t, addrs, kgo.ProducerBatchMaxBytes(int32(tc.wantLimit)))
			if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 2, 1, tc.topicCfg, testTopic); err != nil {
				t.Fatal(err)
			}
			cfg := avroConfig(t)
			cfg.Metrics = NewMetrics()
			bad := "host=web-1 seq=4 \xff" + long[17:]
			cfg.Stdin = strings.NewReader("host=web-1 seq=1 before\n" + long + "\r\nhost=web-1 seq=3 after\n" + bad + "\n")
			sum, err := Run(context.Background(), cfg, cl, nil)
			if err != nil {
				t.Fatal(err)
			}
			if sum.RecordLimit.Bytes != tc.wantLimit || !strings.HasPrefix(sum.RecordLimit.From, tc.wantFrom) {
				t.Errorf("record limit %s, want %d from %s", sum.RecordLimit, tc.wantLimit, tc.wantFrom)
			}
			if sum.Records != 3 || sum.DeadLettered != 1 || sum.Truncated != 1 || sum.Failed != 0 {
				t.Errorf("summary %+v", sum)
			}
			if got := testutil.ToFloat64(cfg.Metrics.truncated); got != 1 {
				t.Errorf("truncated_lines_total %v, want 1", got)
			}
			recs := readTopic(t, addrs, testTopic, 3)
			if len(recs) != 3 {
				t.Fatalf("%d records, want 3: no line may be lost", len(recs))
			}
			for i, r := range recs {
				raw := decodeRaw(t, r)
				if size := len(r.Key) + len(r.Value); size+61 > tc.wantLimit {
					t.Errorf("record %d: %d bytes of key and value do not fit %d", i, size, tc.wantLimit)
				}
				if !utf8.ValidString(raw.Line) {
					t.Errorf("record %d: line is not valid UTF-8", i)
				}
				if seqOf(t, raw.Line) != i+1 {
					t.Errorf("record %d is seq %d: out of order", i, seqOf(t, raw.Line))
				}
				if i != 1 {
					if raw.Labels[LabelTruncated] != "" {
						t.Errorf("a short line is labelled %v", raw.Labels)
					}
					continue
				}
				if raw.Labels[LabelTruncated] != "true" || raw.Labels[LabelOriginalBytes] != strconv.Itoa(len(long)) {
					t.Errorf("labels %v, want truncated=true original_bytes=%d", raw.Labels, len(long))
				}
				if !strings.HasPrefix(long, raw.Line) || len(raw.Line) < tc.wantLimit-1024 {
					t.Errorf("the cut line (%d bytes) is not the line's start, or far shorter than the limit %d allows", len(raw.Line), tc.wantLimit)
				}
			}
			dls := readTopic(t, addrs, testDLQ, 1)
			if len(dls) != 1 {
				t.Fatalf("%d dead letters, want 1", len(dls))
			}
			set, _ := codecs.NewSet()
			dl, err := set.DeadLetter.Unmarshal(dls[0].Value)
			if err != nil {
				t.Fatal(err)
			}
			if len(dls[0].Key)+len(dls[0].Value)+61 > tc.wantLimit || !bytes.HasPrefix([]byte(bad), dl.OriginalValue) || len(dl.OriginalValue) < tc.wantLimit-2048 {
				t.Errorf("dead letter of %d bytes keeps %d bytes of the bad line", len(dls[0].Value), len(dl.OriginalValue))
			}
			if !strings.Contains(dl.Error, "offset 17 of the line") || !strings.Contains(dl.Error, fmt.Sprintf("of the line's %d bytes", len(bad))) {
				t.Errorf("reason %q", dl.Error)
			}
		})
	}
}

// When the brokers go away mid-stream, Run ends within the delivery timeout
// (no interruption needed) or, interrupted, within the flush timeout, and
// says what was not acknowledged. The client is a default one: the bound
// holds whatever its own timeouts are.
func TestBrokerGone(t *testing.T) {
	for _, interrupt := range []bool{false, true} {
		t.Run(fmt.Sprintf("interrupt=%v", interrupt), func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, testTopic, testDLQ))
			if err != nil {
				t.Fatal(err)
			}
			addrs := c.ListenAddrs()
			cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
			if err != nil {
				t.Fatal(err)
			}
			pr, pw := io.Pipe()
			defer pw.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cfg := baseConfig()
			cfg.Stdin = pr
			cfg.DeliveryTimeout = 2 * time.Second
			cfg.FlushTimeout = time.Second
			if interrupt {
				cfg.DeliveryTimeout = time.Hour // only the interruption can end it
			}
			type result struct {
				sum Summary
				err error
			}
			done := make(chan result, 1)
			go func() {
				sum, err := Run(ctx, cfg, cl, nil)
				done <- result{sum, err}
			}()
			for i := 1; i <= 100; i++ {
				fmt.Fprintf(pw, "host=web-1 seq=%d\n", i)
			}
			if got := readTopic(t, addrs, testTopic, 100); len(got) != 100 {
				t.Fatalf("%d records before the broker went away, want 100", len(got))
			}
			c.Close()
			// Keep writing: lines now wait for a broker that is gone.
			go func() {
				for i := 101; ; i++ {
					if _, err := fmt.Fprintf(pw, "host=web-1 seq=%d\n", i); err != nil {
						return
					}
					time.Sleep(time.Millisecond)
				}
			}()
			if interrupt {
				time.Sleep(500 * time.Millisecond)
				cancel()
			}
			var r result
			select {
			case r = <-done:
			case <-time.After(60 * time.Second): // a failure bound, not a speed
				t.Fatal("Run did not return after the broker went away")
			}
			pw.Close()
			want := ErrUndelivered
			if interrupt {
				want = ErrInterrupted
			}
			if !errors.Is(r.err, want) || !strings.Contains(r.err.Error(), "100 lines acknowledged") || r.sum.NotAcknowledged() == 0 {
				t.Fatalf("error %v (summary %+v), want %v saying 100 lines acknowledged and some not", r.err, r.sum, want)
			}
			if !interrupt && !strings.Contains(r.err.Error(), addrs[0]) {
				t.Errorf("error %v does not name the broker %s", r.err, addrs[0])
			}
			if r.sum.Records != 100 || r.sum.Read != r.sum.Acknowledged()+r.sum.NotAcknowledged() {
				t.Errorf("summary %+v does not account for every line", r.sum)
			}
			closed := make(chan struct{})
			go func() { cl.Close(); close(closed) }()
			select {
			case <-closed:
			case <-time.After(60 * time.Second):
				t.Fatal("the client did not close")
			}
		})
	}
}
