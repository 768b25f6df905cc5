package broker_test

import (
	"fmt"
	"hash/fnv"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/topology"
)

// The stages' producer must place every key where goka (and every other
// writer, through topology.Partitioner) places it, or a key's records and
// its state would live in different partitions.
func TestHashPartitionerAgreesWithTopology(t *testing.T) {
	part := broker.HashPartitioner(fnv.New32a).ForTopic("t")
	for _, n := range []int{1, 2, 3, 6, 7, 12, 64} {
		for i := 0; i < 2000; i++ {
			key := []byte(fmt.Sprintf("key-%d", i))
			if i%7 == 0 {
				key = []byte{}
			}
			got := part.Partition(&kgo.Record{Key: key}, n)
			if want := int(topology.Partition(key, int32(n))); got != want {
				t.Fatalf("key %q of %d partitions: producer places it on %d, goka on %d", key, n, got, want)
			}
		}
	}
}
