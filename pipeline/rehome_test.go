package pipeline

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/topology"
)

// TestPartsJoinedWhateverThePartitioner: a shipper that places keys on
// other partitions than goka would (librdkafka's and the Java client's
// partitioners do) still gets its CRI parts and stack traces joined: the
// records go through parse's loop under a key of their partition.
func TestPartsJoinedWhateverThePartitioner(t *testing.T) {
	const parts = 4
	st := startStackWith(t, parts, func(o *Options) { o.Stages = []string{"parse"} })
	cl, err := kgo.NewClient(kgo.SeedBrokers(st.addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	hosts := []string{"node-a", "node-b", "node-c"}
	for _, h := range hosts {
		// Never the partition goka would pick.
		p := (topology.Partition([]byte(h), parts) + 1) % parts
		for _, l := range []string{
			"2026-11-01T12:00:00.000000001Z stdout P first part, ",
			"2026-11-01T12:00:00.000000002Z stdout F second part",
			"2026-11-01 12:00:01,000 ERROR [main] c.s.Pay - charge failed",
			"java.sql.SQLTimeoutException: timed out",
			"\tat c.s.Pay.charge(Pay.java:1)",
			"2026-11-01 12:00:02,000 INFO [main] c.s.Pay - next",
		} {
			recs = append(recs, &kgo.Record{Topic: topology.TopicRaw, Partition: p, Key: []byte(h), Value: []byte(l)})
		}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range consumeAll(t, st.addr, 3*len(hosts), 30*time.Second, topology.TopicParsed) {
		ev := decodeEvent(t, st.set, r)
		got[ev.Host+": "+ev.Message] = true
	}
	for _, h := range hosts {
		for _, m := range []string{"first part, second part", "charge failed\njava.sql.SQLTimeoutException: timed out\n\tat c.s.Pay.charge(Pay.java:1)", "next"} {
			if !got[h+": "+m] {
				t.Errorf("missing %s: %q; got:\n%s", h, m, strings.Join(keys(got), "\n"))
			}
		}
	}
	if len(got) != 3*len(hosts) {
		t.Errorf("%d events, want %d: %v", len(got), 3*len(hosts), keys(got))
	}
	if n := st.pipe.Parse().Stats().Rehomed.Load(); n != int64(len(recs)) {
		t.Errorf("%d records rehomed, want %d", n, len(recs))
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
