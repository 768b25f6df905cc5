package exactlyonce

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// KafkaTail returns a TailFunc that reads output partitions from the
// brokers with franz-go. It reads backwards in growing windows until it
// finds a record of the stage (normally the very last record: guarded
// outputs have one writer).
func KafkaTail(brokers []string, opts ...kgo.Opt) TailFunc {
	return func(ctx context.Context, topic string, partition int32, stage string) (*Landed, error) {
		base := append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)
		admCl, err := kgo.NewClient(base...)
		if err != nil {
			return nil, err
		}
		defer admCl.Close()
		adm := kadm.NewClient(admCl)
		starts, err := adm.ListStartOffsets(ctx, topic)
		if err != nil {
			return nil, err
		}
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return nil, err
		}
		so, ok1 := starts.Lookup(topic, partition)
		eo, ok2 := ends.Lookup(topic, partition)
		if !ok1 || !ok2 || so.Err != nil || eo.Err != nil {
			return nil, fmt.Errorf("no offsets for %s/%d", topic, partition)
		}
		start, end := so.Offset, eo.Offset
		for window := int64(1); end > start; window *= 16 {
			from := max(start, end-window)
			l, err := lastOf(ctx, base, topic, partition, from, end, stage)
			if err != nil || l != nil || from == start {
				return l, err
			}
		}
		return nil, nil
	}
}

// lastOf reads [from, end) of a partition and returns the last record of
// stage in it.
func lastOf(ctx context.Context, base []kgo.Opt, topic string, partition int32, from, end int64, stage string) (*Landed, error) {
	cl, err := kgo.NewClient(append(base, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {partition: kgo.NewOffset().At(from)},
	}))...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var last *Landed
	for next := from; next < end; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("reading %s/%d up to offset %d: %w", topic, partition, end, err)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return nil, ferr
		}
		for _, r := range fs.Records() {
			if r.Offset >= end {
				continue
			}
			next = r.Offset + 1
			l, ok, err := ParseHeaders(stage, func(key string) []byte {
				for _, h := range r.Headers {
					if h.Key == key {
						return h.Value
					}
				}
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("%s/%d@%d: %w", topic, partition, r.Offset, err)
			}
			if ok {
				last = l
			}
		}
	}
	return last, nil
}
