package paging

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/deadletter"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

// A tombstone on the alerts topic is a dead letter with the tombstone
// reason and a null value, counted, and skipped: the alert after it is
// delivered and the offsets are committed past both.
func TestConsumerTombstone(t *testing.T) {
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addr()), kgo.RecordPartitioner(topology.Partitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, topic := range []string{topology.TopicAlerts, topology.TopicDLQ} {
		if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	a := testAlert(schemas.AlertFiring)
	v, err := set.Alert.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	tomb := &kgo.Record{Topic: topology.TopicAlerts, Key: []byte("eu")}
	if err := cl.ProduceSync(ctx, tomb, &kgo.Record{Topic: topology.TopicAlerts, Key: []byte("eu"), Value: v}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	h := newHook(t, 0)
	run := startConsumer(t, e.Addr(), set, h.URL)
	waitFor(t, 20*time.Second, "the alert after the tombstone delivered", func() bool {
		acc, _ := h.snapshot()
		return acc[a.ID] == 1
	})
	waitFor(t, 10*time.Second, "offsets committed past both records", func() bool {
		offs, err := adm.FetchOffsets(ctx, topology.GroupPage)
		if err != nil {
			return false
		}
		o, ok := offs.Lookup(topology.TopicAlerts, tomb.Partition)
		return ok && o.At > tomb.Offset+1
	})
	if n := testutil.ToFloat64(run.c.Metrics().deadLetters); n != 1 {
		t.Errorf("dead letters = %v, want 1", n)
	}
	dl := readOne(t, e.Addr(), topology.TopicDLQ)
	d, err := set.DeadLetter.Unmarshal(dl.Value)
	if err != nil {
		t.Fatal(err)
	}
	if d.Error != deadletter.ErrTombstone.Error() {
		t.Errorf("dead letter reason %q, want %q", d.Error, deadletter.ErrTombstone)
	}
	if d.Stage != Stage || d.SourceTopic != topology.TopicAlerts || d.SourcePartition != tomb.Partition || d.SourceOffset != tomb.Offset {
		t.Errorf("dead letter from %s %s/%d@%d, want %s %s/%d@%d", d.Stage, d.SourceTopic, d.SourcePartition, d.SourceOffset,
			Stage, topology.TopicAlerts, tomb.Partition, tomb.Offset)
	}
	if d.OriginalValue != nil || string(d.OriginalKey) != "eu" {
		t.Errorf("dead letter value %#v key %q, want null and \"eu\"", d.OriginalValue, d.OriginalKey)
	}
}
