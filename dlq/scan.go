package dlq

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

// DefaultLookupTimeout bounds the metadata and offset lookups made before
// reading starts, when Config.LookupTimeout is zero.
const DefaultLookupTimeout = 15 * time.Second

// sinceSlack is how much earlier than Filter.Since a scan starts reading:
// the offsets come from the records' timestamps on logs.dlq, which the
// producer (or, with LogAppendTime, the broker) set, while Since is
// compared with the time in the dead letter, which the stage's clock set
// a moment earlier. The filter on the dead letter's time is exact; this
// only makes sure the read starts early enough.
const sinceSlack = 5 * time.Minute

var (
	// ErrUnknownPartition: an ID names a partition logs.dlq does not have.
	ErrUnknownPartition = errors.New("unknown partition")
	// ErrNotFound: no dead letter at an ID.
	ErrNotFound = errors.New("no dead letter there")
)

// Config says where the dead letters are and how to decode them.
type Config struct {
	// Brokers are the seed brokers, host:port. Required.
	Brokers []string
	// ClientOpts are extra franz-go client options (TLS, SASL, a dialer).
	ClientOpts []kgo.Opt
	// Codecs decodes the DeadLetters (and, for Decode, the originals);
	// build it with codecs.WithSource to read schemas this build does not
	// know. Nil means codecs.NewSet().
	Codecs *codecs.Set
	// LookupTimeout bounds the lookups made before reading starts; 0 means
	// DefaultLookupTimeout.
	LookupTimeout time.Duration
}

// Validate reports what is wrong with c.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("no brokers"))
	}
	if c.LookupTimeout < 0 {
		errs = append(errs, fmt.Errorf("lookup timeout %v is negative", c.LookupTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("dlq: config: %w", err)
	}
	return nil
}

func (c *Config) codecs() (*codecs.Set, error) {
	if c.Codecs != nil {
		return c.Codecs, nil
	}
	return codecs.NewSet()
}

// Filter selects dead letters. A zero field selects everything; set fields
// must all match.
type Filter struct {
	Stage       string // the stage that wrote the dead letter, exactly
	Reason      string // a substring of the reason, ignoring case
	SourceTopic string // the topic the record was read from, exactly
	// Since and Until bound the time the stage dead-lettered the record:
	// Since <= time < Until. A zero time is no bound.
	Since, Until time.Time
	// IDs, when not empty, selects only these dead letters.
	IDs []ID
}

// Selects reports whether f selects anything short of every dead letter.
func (f Filter) Selects() bool {
	return f.Stage != "" || f.Reason != "" || f.SourceTopic != "" || !f.Since.IsZero() || !f.Until.IsZero() || len(f.IDs) > 0
}

// matches tests everything but the IDs.
func (f Filter) matches(dl *schemas.DeadLetter) bool {
	t := time.UnixMilli(dl.Time)
	switch {
	case f.Stage != "" && dl.Stage != f.Stage,
		f.SourceTopic != "" && dl.SourceTopic != f.SourceTopic,
		f.Reason != "" && !strings.Contains(strings.ToLower(dl.Error), strings.ToLower(f.Reason)),
		!f.Since.IsZero() && t.Before(f.Since),
		!f.Until.IsZero() && !t.Before(f.Until):
		return false
	}
	return true
}

// Letter is one dead letter and where it is on logs.dlq.
type Letter struct {
	ID ID
	// Timestamp is the record's timestamp on logs.dlq.
	Timestamp time.Time
	schemas.DeadLetter
}

// At is when the stage dead-lettered the record (DeadLetter.Time).
func (l *Letter) At() time.Time { return time.UnixMilli(l.Time) }

// Source names the original record: "topic/partition/offset".
func (l *Letter) Source() string {
	return position(l.SourceTopic, l.SourcePartition, l.SourceOffset)
}

// Undecodable is a record on logs.dlq that is no DeadLetter this build can
// read (a newer version's without --registry, or bytes another writer put
// there).
type Undecodable struct {
	ID  ID
	Err error
}

// Summary says what Scan read.
type Summary struct {
	// Read counts the records read on logs.dlq.
	Read int
	// Matched counts the dead letters passed to the callback.
	Matched int
	// Undecodable lists the records that are no DeadLetter.
	Undecodable []Undecodable
	// Missing lists the Filter.IDs that name no record: an offset past the
	// end, deleted by retention, or holding a transaction marker or a
	// record of an aborted transaction.
	Missing []ID
	// Ends are the end offsets read to, per partition.
	Ends map[int32]int64
}

// Scan reads logs.dlq as the package documentation describes and calls fn
// with every dead letter f selects, each partition's in offset order. fn
// must not keep l after it returns. An error from fn ends the scan with
// that error.
func Scan(ctx context.Context, cfg Config, f Filter, fn func(l *Letter) error) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	set, err := cfg.codecs()
	if err != nil {
		return Summary{}, fmt.Errorf("dlq: %w", err)
	}
	cl, err := kgo.NewClient(append(slices.Clone(cfg.ClientOpts), kgo.SeedBrokers(cfg.Brokers...))...)
	if err != nil {
		return Summary{}, fmt.Errorf("dlq: kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	spans, want, err := plan(ctx, cfg, adm, f)
	if err != nil {
		return Summary{}, fmt.Errorf("dlq: %w", err)
	}
	sum := Summary{Ends: map[int32]int64{}}
	for p, s := range spans {
		sum.Ends[p] = s.end
	}
	seen := map[ID]bool{}
	base := append(slices.Clone(cfg.ClientOpts), kgo.SeedBrokers(cfg.Brokers...))
	var l Letter
	err = readSpans(ctx, base, adm, topology.TopicDLQ, spans, true, func(r *kgo.Record) error {
		id := ID{Partition: r.Partition, Offset: r.Offset}
		if want != nil {
			if !want[id] {
				return nil
			}
			seen[id] = true
		}
		sum.Read++
		dl, err := decodeLetter(set, r.Value)
		if err != nil {
			sum.Undecodable = append(sum.Undecodable, Undecodable{ID: id, Err: err})
			return nil
		}
		if !f.matches(dl) {
			return nil
		}
		sum.Matched++
		l = Letter{ID: id, Timestamp: r.Timestamp, DeadLetter: *dl}
		return fn(&l)
	})
	if err != nil {
		return sum, fmt.Errorf("dlq: %w", err)
	}
	for id := range want {
		if !seen[id] {
			sum.Missing = append(sum.Missing, id)
		}
	}
	slices.SortFunc(sum.Missing, func(a, b ID) int {
		if a.Less(b) {
			return -1
		}
		return 1
	})
	return sum, nil
}

// plan lists what to read of logs.dlq for f, and the IDs it names (nil for
// none).
func plan(ctx context.Context, cfg Config, adm *kadm.Client, f Filter) (map[int32]span, map[ID]bool, error) {
	timeout := cfg.LookupTimeout
	if timeout == 0 {
		timeout = DefaultLookupTimeout
	}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	b, err := listBounds(lctx, adm, cfg.Brokers, topology.TopicDLQ, true)
	if err != nil {
		return nil, nil, err
	}
	if len(f.IDs) > 0 {
		want := map[ID]bool{}
		spans := map[int32]span{}
		for _, id := range f.IDs {
			pb, ok := b[id.Partition]
			if !ok {
				return nil, nil, fmt.Errorf("dead letter %s: %s has partitions %s, not %d: %w",
					id, topology.TopicDLQ, b.describe(), id.Partition, ErrUnknownPartition)
			}
			want[id] = true
			if id.Offset < pb.from || id.Offset >= pb.end {
				continue // reported missing
			}
			s, ok := spans[id.Partition]
			if !ok {
				s = span{from: id.Offset, end: id.Offset + 1}
			}
			s.from, s.end = min(s.from, id.Offset), max(s.end, id.Offset+1)
			spans[id.Partition] = s
		}
		return spans, want, nil
	}
	if !f.Since.IsZero() {
		if err := after(lctx, adm, topology.TopicDLQ, b, f.Since.Add(-sinceSlack)); err != nil {
			return nil, nil, err
		}
	}
	return b, nil, nil
}

// Get reads the dead letter at id. Its errors say why there is none:
// ErrUnknownPartition, or ErrNotFound with the partition's offsets.
func Get(ctx context.Context, cfg Config, id ID) (*Letter, error) {
	var got *Letter
	sum, err := Scan(ctx, cfg, Filter{IDs: []ID{id}}, func(l *Letter) error {
		c := *l
		got = &c
		return nil
	})
	if err != nil {
		return nil, err
	}
	if got != nil {
		return got, nil
	}
	if len(sum.Undecodable) > 0 {
		return nil, fmt.Errorf("dlq: %s/%s holds no DeadLetter this build can read: %w", topology.TopicDLQ, id, sum.Undecodable[0].Err)
	}
	return nil, fmt.Errorf("dlq: %w at %s/%s: %s", ErrNotFound, topology.TopicDLQ, id, whyMissing(ctx, cfg, id))
}

// whyMissing explains an ID that named no record, from the partition's
// offsets now.
func whyMissing(ctx context.Context, cfg Config, id ID) string {
	cl, err := kgo.NewClient(append(slices.Clone(cfg.ClientOpts), kgo.SeedBrokers(cfg.Brokers...))...)
	if err != nil {
		return "the partition's offsets cannot be listed"
	}
	defer cl.Close()
	lctx, cancel := context.WithTimeout(ctx, DefaultLookupTimeout)
	defer cancel()
	b, err := listBounds(lctx, kadm.NewClient(cl), cfg.Brokers, topology.TopicDLQ, true)
	if err != nil {
		return "the partition's offsets cannot be listed"
	}
	s := b[id.Partition]
	switch {
	case s.from >= s.end:
		return fmt.Sprintf("partition %d holds no records now (next offset %d)", id.Partition, s.end)
	case id.Offset < s.from:
		return fmt.Sprintf("offset %d was deleted by retention (partition %d now holds offsets %d-%d)", id.Offset, id.Partition, s.from, s.end-1)
	case id.Offset >= s.end:
		return fmt.Sprintf("offset %d is not written yet (partition %d holds offsets %d-%d)", id.Offset, id.Partition, s.from, s.end-1)
	}
	return fmt.Sprintf("offset %d holds a transaction marker or a record of an aborted transaction", id.Offset)
}

// decodeLetter decodes a DeadLetter, never panicking on odd bytes.
func decodeLetter(set *codecs.Set, b []byte) (dl *schemas.DeadLetter, err error) {
	defer func() {
		if r := recover(); r != nil {
			dl, err = nil, fmt.Errorf("decoder panicked: %v", r)
		}
	}()
	if b == nil {
		return nil, errors.New("null value (a tombstone), not a DeadLetter")
	}
	return set.DeadLetter.Unmarshal(b)
}
