package admin

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Lag is what is written minus what the group committed, per partition.
func TestLagPerPartition(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "in"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("in"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		p := int32(0)
		if i >= 7 {
			p = 1
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Partition: p, Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := kadm.NewClient(cl)
	// The group committed 5 of partition 0 and nothing of partition 1.
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "in", Partition: 0, At: 5})
	offs.Add(kadm.Offset{Topic: "in", Partition: 1, At: 0})
	if _, err := adm.CommitOffsets(ctx, "g", offs); err != nil {
		t.Fatal(err)
	}
	lc := NewLagCollector(adm, "g")
	lags, err := lc.Lag(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int32]int64{}
	for _, l := range lags {
		got[l.Partition] = l.Lag
	}
	if got[0] != 2 || got[1] != 3 {
		t.Fatalf("lag %v, want partition 0: 2, partition 1: 3", got)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(lc)
	want := `
# HELP logstream_consumer_lag_records Records in a partition not yet committed by a stage's consumer group (on a topic written in Kafka transactions, the commit marker after the last record is not counted).
# TYPE logstream_consumer_lag_records gauge
logstream_consumer_lag_records{group="g",partition="0",topic="in"} 2
logstream_consumer_lag_records{group="g",partition="1",topic="in"} 3
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "logstream_consumer_lag_records"); err != nil {
		t.Fatal(err)
	}
}
