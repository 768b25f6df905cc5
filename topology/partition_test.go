package topology

import (
	"fmt"
	"testing"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
)

// The franz-go partitioner must place every key where goka's producer
// (sarama's custom hash partitioner over goka's default hasher) places it.
func TestPartitionAgreesWithGoka(t *testing.T) {
	for _, n := range []int32{1, 2, 3, 6, 7, 12, 64} {
		sp := sarama.NewCustomHashPartitioner(goka.DefaultHasher())("t")
		for i := 0; i < 2000; i++ {
			key := fmt.Sprintf("web-%d-%x", i, i*7919)
			want, err := sp.Partition(&sarama.ProducerMessage{Key: sarama.StringEncoder(key)}, n)
			if err != nil {
				t.Fatal(err)
			}
			if got := Partition([]byte(key), n); got != want {
				t.Fatalf("key %q over %d partitions: got %d, goka uses %d", key, n, got, want)
			}
		}
	}
}
