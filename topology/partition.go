package topology

import (
	"hash/fnv"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Partition returns the partition goka assigns key to among n partitions:
// sarama's hash partitioner over FNV-1a 32 (goka's default hasher), with
// sarama's sign rule. Every producer that writes a topic a goka stage reads
// must place keys this way, or a key's state would live in one partition
// while its records arrive in another.
func Partition(key []byte, n int32) int32 {
	h := fnv.New32a()
	h.Write(key)
	p := int32(h.Sum32()) % n
	if p < 0 {
		p = -p
	}
	return p
}

// Partitioner is a franz-go partitioner that agrees with Partition. Records
// without a key are spread round-robin, as sarama does with random placement.
func Partitioner() kgo.Partitioner {
	return kgo.BasicConsistentPartitioner(func(string) func(r *kgo.Record, n int) int {
		var next int
		return func(r *kgo.Record, n int) int {
			if r.Key == nil {
				next++
				return next % n
			}
			return int(Partition(r.Key, int32(n)))
		}
	})
}

// KeyFor returns a key that Partition places on partition p of n: the
// first of "~p<p>", "~p<p>.1", "~p<p>.2", ... that lands there. Records
// addressed to a partition rather than to a key (watermark records, and
// the errorrate partials, whose key stands for every host of a partition)
// use it, so that any producer partitioning like goka places them right.
func KeyFor(p, n int32) string {
	base := "~p" + strconv.FormatInt(int64(p), 10)
	if Partition([]byte(base), n) == p {
		return base
	}
	for i := 1; ; i++ {
		k := base + "." + strconv.Itoa(i)
		if Partition([]byte(k), n) == p {
			return k
		}
	}
}
