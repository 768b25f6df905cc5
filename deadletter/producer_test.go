package deadletter

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/internal/retry"
	"github.com/logstream/logstream/schemas"
)

// Test topics; the dead-letter topic exists only where a test creates it.
const (
	testSource = "test.source"
	testDLQ    = "test.dlq"
)

type fixture struct {
	cluster *kfake.Cluster
	cl      *kgo.Client
	codec   *codecs.Codec[schemas.DeadLetter]
}

// newFixture starts an embedded broker, with the dead-letter topic when
// withDLQ is set, and a client that gives up quickly on a missing topic
// (so that the Producer's own retries run).
func newFixture(t *testing.T, withDLQ bool) *fixture {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	if withDLQ {
		opts = append(opts, kfake.SeedTopics(1, testDLQ))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.UnknownTopicRetries(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	codec, err := codecs.NewDeadLetter()
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{cluster: c, cl: cl, codec: codec}
}

// read returns the dead letters on the dead-letter topic, with their keys.
func (f *fixture) read(t *testing.T, want int) ([]*schemas.DeadLetter, [][]byte) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.cluster.ListenAddrs()...), kgo.ConsumeTopics(testDLQ),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var dls []*schemas.DeadLetter
	var keys [][]byte
	for len(dls) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d dead letters, want %d", len(dls), want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			dl, err := f.codec.Unmarshal(r.Value)
			if err != nil {
				t.Fatalf("dead letter at offset %d does not decode: %v", r.Offset, err)
			}
			dls = append(dls, dl)
			keys = append(keys, r.Key)
		})
	}
	return dls, keys
}

func TestProducerSend(t *testing.T) {
	f := newFixture(t, true)
	now := time.UnixMilli(1_700_000_000_123)
	var counted []error
	p := &Producer{Topic: testDLQ, Stage: "sink-test", Codec: f.codec, Now: func() time.Time { return now },
		Count: func(src *kgo.Record, cause error) { counted = append(counted, cause) }}
	cause := errors.New("not Avro: magic byte 0x7b")
	srcs := []*kgo.Record{
		{Topic: testSource, Partition: 3, Offset: 41, Key: []byte("web-1"), Value: []byte("{json}")},
		{Topic: testSource, Partition: 0, Offset: 7, Key: []byte("web-2"), Value: nil},      // tombstone
		{Topic: testSource, Partition: 1, Offset: 9, Key: []byte("web-3"), Value: []byte{}}, // empty, not a tombstone
	}
	for _, src := range srcs {
		if err := p.Send(context.Background(), f.cl, src, cause); err != nil {
			t.Fatalf("Send %s/%d@%d: %v", src.Topic, src.Partition, src.Offset, err)
		}
	}
	if len(counted) != len(srcs) {
		t.Fatalf("counted %d dead letters, want %d", len(counted), len(srcs))
	}
	dls, keys := f.read(t, len(srcs))
	for i, src := range srcs {
		dl := dls[i]
		if dl.SourceTopic != src.Topic || dl.SourcePartition != src.Partition || dl.SourceOffset != src.Offset {
			t.Errorf("dead letter %d names %s/%d@%d, want %s/%d@%d", i, dl.SourceTopic, dl.SourcePartition, dl.SourceOffset, src.Topic, src.Partition, src.Offset)
		}
		if dl.Stage != "sink-test" || dl.Error != cause.Error() || dl.Time != now.UnixMilli() {
			t.Errorf("dead letter %d: stage %q, error %q, time %d", i, dl.Stage, dl.Error, dl.Time)
		}
		if !bytes.Equal(dl.OriginalKey, src.Key) || !bytes.Equal(keys[i], src.Key) {
			t.Errorf("dead letter %d: original key %q, record key %q, want %q", i, dl.OriginalKey, keys[i], src.Key)
		}
		if (dl.OriginalValue == nil) != (src.Value == nil) || !bytes.Equal(dl.OriginalValue, src.Value) {
			t.Errorf("dead letter %d: original value %#v, want %#v (a tombstone stays null, an empty value empty)", i, dl.OriginalValue, src.Value)
		}
	}
}

// TestProducerRetries: a produce that fails (the topic is missing) is
// retried, paced by the policy, until the broker acknowledges it; the
// dead letter is counted once.
func TestProducerRetries(t *testing.T) {
	f := newFixture(t, false)
	var sleeps, retries atomic.Int32
	var count atomic.Int32
	p := &Producer{Topic: testDLQ, Stage: "page", Codec: f.codec,
		Retry: retry.Policy{
			Initial: time.Millisecond, Max: 10 * time.Millisecond,
			OnRetry: func(_ int, err error, _ time.Duration) {
				if err == nil {
					t.Error("OnRetry without an error")
				}
				retries.Add(1)
			},
			Sleep: func(ctx context.Context, d time.Duration) bool {
				if sleeps.Add(1) == 1 {
					// The topic appears while the producer waits.
					if _, err := kadm.NewClient(f.cl).CreateTopic(ctx, 1, 1, nil, testDLQ); err != nil {
						t.Errorf("create %s: %v", testDLQ, err)
					}
				}
				return retry.Sleep(ctx, d)
			},
		},
		Count: func(*kgo.Record, error) { count.Add(1) },
	}
	src := &kgo.Record{Topic: testSource, Partition: 2, Offset: 5, Key: []byte("k"), Value: []byte("v")}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Send(ctx, f.cl, src, errors.New("bad")); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if retries.Load() < 1 || count.Load() != 1 {
		t.Fatalf("%d retries, counted %d; want at least one retry and one count", retries.Load(), count.Load())
	}
	dls, _ := f.read(t, 1)
	if dls[0].SourceOffset != 5 || dls[0].Stage != "page" {
		t.Errorf("dead letter %+v", dls[0])
	}
}

// TestProducerCancel: when ctx ends before the broker acknowledges, Send
// returns an error matching ctx's, and nothing is counted: the caller must
// not commit the record.
func TestProducerCancel(t *testing.T) {
	f := newFixture(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var count atomic.Int32
	p := &Producer{Topic: testDLQ, Stage: "page", Codec: f.codec,
		Retry: retry.Policy{Sleep: func(context.Context, time.Duration) bool { cancel(); return false }},
		Count: func(*kgo.Record, error) { count.Add(1) },
	}
	src := &kgo.Record{Topic: testSource, Key: []byte("k"), Value: []byte("v")}
	err := p.Send(ctx, f.cl, src, errors.New("bad"))
	if !errors.Is(err, context.Canceled) || count.Load() != 0 {
		t.Fatalf("Send = %v, counted %d; want context.Canceled, nothing counted", err, count.Load())
	}
	if err := p.Send(context.Background(), f.cl, src, nil); err == nil {
		t.Fatal("a dead letter without a reason was sent")
	}
}
