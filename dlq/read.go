package dlq

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/tail"
)

// ErrUnknownTopic: a topic does not exist on the cluster.
var ErrUnknownTopic = errors.New("unknown topic")

// span is what to read of one partition: offsets [from, end).
type span struct{ from, end int64 }

// bounds are a topic's partitions with their log start and end offsets.
type bounds map[int32]span

// partitions lists the partitions, in order.
func (b bounds) partitions() []int32 {
	ps := make([]int32, 0, len(b))
	for p := range b {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

// describe renders the partitions: "0-5", or a list.
func (b bounds) describe() string { return tail.DescribePartitions(b.partitions()) }

// listBounds checks that topic exists and lists each partition's log start
// and end. committed lists the last stable offset as the end (what a
// read_committed reader can reach: records of a transaction still open are
// not), else the high watermark.
func listBounds(ctx context.Context, adm *kadm.Client, brokers []string, topic string, committed bool) (bounds, error) {
	md, err := adm.Metadata(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("metadata of topic %s from %s: %w", topic, strings.Join(brokers, ","), err)
	}
	td, ok := md.Topics[topic]
	if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		return nil, fmt.Errorf("topic %s does not exist on %s: %w", topic, strings.Join(brokers, ","), ErrUnknownTopic)
	}
	if td.Err != nil {
		return nil, fmt.Errorf("topic %s: %w", topic, td.Err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("start offsets of %s: %w", topic, err)
	}
	list := adm.ListEndOffsets
	if committed {
		list = adm.ListCommittedOffsets
	}
	ends, err := list(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	b := bounds{}
	for p := range td.Partitions {
		s, ok1 := starts.Lookup(topic, p)
		e, ok2 := ends.Lookup(topic, p)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("no offsets listed for %s/%d", topic, p)
		}
		b[p] = span{from: s.Offset, end: e.Offset}
	}
	return b, nil
}

// after moves each partition's start of b to the first offset whose
// record timestamp is at or after t (Kafka's time index: every record at or
// after t is at or after that offset).
func after(ctx context.Context, adm *kadm.Client, topic string, b bounds, t time.Time) error {
	if t.UnixMilli() <= 0 {
		// Negative timestamps are the protocol's special values (-1 the
		// end, -2 the start, ...), not times: every record is after t.
		return nil
	}
	listed, err := adm.ListOffsetsAfterMilli(ctx, t.UnixMilli(), topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return fmt.Errorf("offsets of %s after %s: %w", topic, t.UTC().Format(time.RFC3339), err)
	}
	for p, s := range b {
		if o, ok := listed.Lookup(topic, p); ok && o.Offset > s.from {
			s.from = o.Offset
			b[p] = s
		}
	}
	return nil
}

// stallCheck is how long a read waits without a record before it checks
// whether retention deleted what it was waiting for.
const stallCheck = 3 * time.Second

// readSpans reads the records of topic in spans and calls fn with each
// data record (each partition's in offset order); it returns when
// every span is read, fn fails, or ctx ends. committed reads with
// isolation read_committed (records of aborted transactions are skipped).
func readSpans(ctx context.Context, base []kgo.Opt, adm *kadm.Client, topic string, spans map[int32]span, committed bool, fn func(*kgo.Record) error) error {
	remaining := map[int32]int64{}
	offsets := map[int32]kgo.Offset{}
	for p, s := range spans {
		if s.from < s.end {
			remaining[p] = s.end
			offsets[p] = kgo.NewOffset().At(s.from)
		}
	}
	if len(remaining) == 0 {
		return nil
	}
	iso := kgo.ReadUncommitted()
	if committed {
		iso = kgo.ReadCommitted()
	}
	cl, err := kgo.NewClient(append(slices.Clone(base),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchIsolationLevel(iso),
		// Transaction markers take offsets too: seeing them is how a read
		// knows a partition whose last offset is a marker has ended.
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	done := func(p int32) {
		delete(remaining, p)
		cl.PauseFetchPartitions(map[string][]int32{topic: {p}})
	}
	for len(remaining) > 0 {
		pctx, cancel := context.WithTimeout(ctx, stallCheck)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := fetchError(fs); err != nil {
			return err
		}
		got := false
		for it := fs.RecordIter(); !it.Done(); {
			r := it.Next()
			end, ok := remaining[r.Partition]
			if !ok {
				continue
			}
			if r.Offset >= end {
				// Past the end without a record at end-1: the offsets
				// before it held records of aborted transactions, which
				// read_committed skips.
				done(r.Partition)
				continue
			}
			got = true
			if !r.Attrs.IsControl() {
				if err := fn(r); err != nil {
					return err
				}
			}
			if r.Offset+1 >= end {
				done(r.Partition)
			}
		}
		if !got {
			// Nothing came for a while: retention may have deleted the rest
			// of a span (the client then resumes at the new log start, past
			// the span's end, and no record of it will ever come).
			if err := dropDeleted(ctx, adm, topic, remaining, done); err != nil {
				return err
			}
		}
	}
	return nil
}

// dropDeleted ends the reads of partitions whose log start has passed
// the end they were read to.
func dropDeleted(ctx context.Context, adm *kadm.Client, topic string, remaining map[int32]int64, done func(int32)) error {
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("start offsets of %s: %w", topic, err)
	}
	ps := make([]int32, 0, len(remaining))
	for p := range remaining {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	for _, p := range ps {
		if s, ok := starts.Lookup(topic, p); ok && s.Offset >= remaining[p] {
			done(p)
		}
	}
	return nil
}

// fetchError returns the first error in fs that ends a read: not a
// context error (the caller checks ctx), not a closed client, and not data
// loss, which the client recovers from by resuming past it.
func fetchError(fs kgo.Fetches) error {
	var first error
	fs.EachError(func(topic string, p int32, err error) {
		var lost *kgo.ErrDataLoss
		switch {
		case first != nil, errors.As(err, &lost),
			errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, kgo.ErrClientClosed):
			return
		}
		first = fmt.Errorf("reading %s/%d: %w", topic, p, err)
	})
	return first
}
