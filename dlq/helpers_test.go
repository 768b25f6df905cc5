package dlq

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
)

func startBroker(t *testing.T) string {
	t.Helper()
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e.Addr()
}

func createTopics(t *testing.T, addr string, topics map[string]int) {
	t.Helper()
	if err := broker.EnsureTopics([]string{addr}, broker.Tuning{Replication: 1}, topics, nil); err != nil {
		t.Fatal(err)
	}
}

func newSet(t *testing.T, opts ...codecs.Option) *codecs.Set {
	t.Helper()
	set, err := codecs.NewSet(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// encodeLetter encodes a dead letter as the stages write them.
func encodeLetter(t *testing.T, set *codecs.Set, dl *schemas.DeadLetter) []byte {
	t.Helper()
	b, err := set.DeadLetter.Marshal(dl)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// produce writes recs synchronously, each to the partition it names.
func produce(t *testing.T, addr string, recs ...*kgo.Record) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := cl.ProduceSync(ctx, recs...)
	if err := res.FirstErr(); err != nil {
		t.Fatal(err)
	}
	out := make([]*kgo.Record, len(res))
	for i, r := range res {
		out[i] = r.Record
	}
	return out
}

// endOffsets lists topic's high watermarks.
func endOffsets(t *testing.T, addr, topic string) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// readAll reads topic from the start up to its end offsets as of the call
// (read_uncommitted, no consumer group), independently of the package's
// own reader.
func readAll(t *testing.T, addr, topic string) []*kgo.Record {
	t.Helper()
	ends := endOffsets(t, addr, topic)
	remaining := map[int32]int64{}
	for p, e := range ends {
		if e > 0 {
			remaining[p] = e
		}
	}
	if len(remaining) == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.KeepControlRecords())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %d partitions not read to their end", topic, len(remaining))
		}
		for _, r := range fs.Records() {
			if r.Offset >= ends[r.Partition] {
				continue
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
			if r.Offset+1 >= ends[r.Partition] {
				delete(remaining, r.Partition)
			}
		}
	}
	return out
}
