package tail

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/watermark"
)

// DefaultLookupTimeout bounds the metadata and offset lookups Run makes
// before it starts reading, when Config.LookupTimeout is zero.
const DefaultLookupTimeout = 15 * time.Second

var (
	// ErrUnknownTopic: the topic does not exist on the cluster.
	ErrUnknownTopic = errors.New("unknown topic")
	// ErrUnknownPartition: a partition in Config.Partitions does not exist.
	ErrUnknownPartition = errors.New("unknown partition")
)

// Config says what Run reads.
type Config struct {
	// Brokers are the seed brokers, host:port. Required.
	Brokers []string
	// Topic is the topic to read. Required.
	Topic string
	// Partitions limits reading to these partitions; nil or empty reads
	// every partition of the topic.
	Partitions []int32
	// FromBeginning starts every partition at its log start; otherwise Run
	// starts at the end offsets it finds at start and prints only records
	// produced after that.
	FromBeginning bool
	// Max stops Run after this many records (every record counts: decoded,
	// plain, failed and tombstones); 0 means no limit.
	Max int
	// ExitAtEnd stops Run when every partition it reads has reached the end
	// offset (high watermark) it had when Run started, like kcat -e.
	// Without FromBeginning that is at once.
	ExitAtEnd bool
	// Codecs decodes Avro values; build it with codecs.WithSource to decode
	// records whose writer schema is not built in. Nil means codecs.NewSet().
	Codecs *codecs.Set
	// ClientOpts are extra franz-go client options (TLS, SASL, a dialer,
	// a logger). Run adds its own consume options after them and must stay
	// read-only, so options that commit, produce or join a group have no
	// place here.
	ClientOpts []kgo.Opt
	// LookupTimeout bounds the topic metadata and offset lookups made before
	// reading starts, so an unreachable cluster fails fast rather than
	// retrying forever; 0 means DefaultLookupTimeout.
	LookupTimeout time.Duration
	// OnStart, if set, is called once, after the start and end offsets are
	// known and before the first fetch, with one Position per partition in
	// partition order. Records produced after it is called are printed even
	// without FromBeginning. It must not block for long.
	OnStart func([]Position)
}

// Validate reports what is wrong with c.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("no brokers"))
	}
	if c.Topic == "" {
		errs = append(errs, errors.New("no topic"))
	}
	for _, p := range c.Partitions {
		if p < 0 {
			errs = append(errs, fmt.Errorf("partition %d is negative", p))
		}
	}
	if c.Max < 0 {
		errs = append(errs, fmt.Errorf("max %d is negative", c.Max))
	}
	if c.LookupTimeout < 0 {
		errs = append(errs, fmt.Errorf("lookup timeout %v is negative", c.LookupTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("tail: config: %w", err)
	}
	return nil
}

// Position is where Run reads one partition.
type Position struct {
	Partition int32
	// Start is the first offset Run asks for: the log start offset with
	// FromBeginning, the end offset otherwise.
	Start int64
	// End is the partition's end offset (high watermark) when Run started:
	// End-Start records were already there to read.
	End int64
}

// Summary counts what Run printed.
type Summary struct {
	// Records is every record printed; it is the sum of the four counts
	// below.
	Records int
	// Decoded are Avro records decoded with their writer schema.
	Decoded int
	// Plain are values printed as text (or base64): no Avro framing.
	Plain int
	// Failed are Avro records that did not decode, printed with an error.
	Failed int
	// Tombstones are records with a null value.
	Tombstones int
	// Watermarks are records that carry only event-time progress (logs.parsed
	// and logs.unique hold them beside the events; package watermark):
	// skipped, not printed, not in Records.
	Watermarks int
	// OutputClosed reports that Run stopped because out stopped taking
	// writes (its reader went away).
	OutputClosed bool
}

// Run prints the records of cfg.Topic on out, one JSON object per line, until
// ctx is done, cfg.Max records are printed, every partition reaches its end
// (cfg.ExitAtEnd), or out's reader goes away; each of these returns a nil
// error. See the package documentation for the line format and guarantees.
func Run(ctx context.Context, cfg Config, out io.Writer) (Summary, error) {
	if err := cfg.Validate(); err != nil {
		return Summary{}, err
	}
	set := cfg.Codecs
	if set == nil {
		var err error
		if set, err = codecs.NewSet(); err != nil {
			return Summary{}, fmt.Errorf("tail: %w", err)
		}
	}
	return run(ctx, cfg, out, set.DecodeWriter)
}

// decodeFunc decodes an Avro value with its writer schema: Set.DecodeWriter.
type decodeFunc func(value []byte) (codecs.Written, error)

func run(ctx context.Context, cfg Config, out io.Writer, decode decodeFunc) (Summary, error) {
	positions, err := lookup(ctx, cfg)
	if err != nil {
		return Summary{}, err
	}
	if cfg.OnStart != nil {
		cfg.OnStart(slices.Clone(positions))
	}

	// remaining holds, for ExitAtEnd, the partitions that have not yet
	// reached their end offset.
	remaining := map[int32]int64{}
	offsets := map[int32]kgo.Offset{}
	for _, p := range positions {
		if p.End > p.Start {
			remaining[p.Partition] = p.End
		}
		if cfg.FromBeginning {
			// Resolved by the client, so a log start that moved on since the
			// lookup (retention) is not an error.
			offsets[p.Partition] = kgo.NewOffset().AtStart()
		} else {
			offsets[p.Partition] = kgo.NewOffset().At(p.Start)
		}
	}
	w := &lineWriter{w: bufio.NewWriterSize(out, 64<<10), form: newFormatter(decode)}
	if cfg.ExitAtEnd && len(remaining) == 0 {
		return w.sum, nil
	}

	opts := append(slices.Clone(cfg.ClientOpts),
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topic: offsets}),
		// No ConsumeResetOffset: the client's default resumes at the log
		// start when retention overtakes the tail, and rewinds a minute
		// (rather than re-printing the whole partition) after data loss.
		kgo.FetchIsolationLevel(kgo.ReadUncommitted()),
		// Transaction markers take offsets too: seeing them is how ExitAtEnd
		// knows a partition whose last offset is a marker has ended.
		kgo.KeepControlRecords(),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return Summary{}, fmt.Errorf("tail: client: %w", err)
	}
	defer cl.Close()

	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return w.finish(nil)
		}
		for it := fs.RecordIter(); !it.Done(); {
			r := it.Next()
			if !r.Attrs.IsControl() {
				if !w.write(r) {
					return w.finish(nil)
				}
			}
			if end, ok := remaining[r.Partition]; ok && r.Offset+1 >= end {
				delete(remaining, r.Partition)
			}
			if cfg.Max > 0 && w.sum.Records >= cfg.Max || cfg.ExitAtEnd && len(remaining) == 0 {
				return w.finish(nil)
			}
		}
		// Records that came with an error are printed before it ends the tail.
		if err := fetchError(fs); err != nil {
			return w.finish(err)
		}
		if !w.flush() {
			return w.finish(nil)
		}
	}
}

// fetchError returns the first error in fs that ends the tail: not a context
// error (checked by the caller), not a closed client, and not data loss,
// which the client has already recovered from by resuming past it.
func fetchError(fs kgo.Fetches) error {
	var first error
	fs.EachError(func(topic string, p int32, err error) {
		var lost *kgo.ErrDataLoss
		switch {
		case first != nil, errors.As(err, &lost),
			errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, kgo.ErrClientClosed):
			return
		}
		first = fmt.Errorf("tail: reading %s/%d: %w", topic, p, err)
	})
	return first
}

// lookup checks that the topic and partitions exist and lists their start
// and end offsets.
func lookup(ctx context.Context, cfg Config) ([]Position, error) {
	timeout := cfg.LookupTimeout
	if timeout == 0 {
		timeout = DefaultLookupTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cl, err := kgo.NewClient(append(slices.Clone(cfg.ClientOpts), kgo.SeedBrokers(cfg.Brokers...))...)
	if err != nil {
		return nil, fmt.Errorf("tail: client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	md, err := adm.Metadata(ctx, cfg.Topic)
	if err != nil {
		return nil, fmt.Errorf("tail: metadata of topic %q from %s: %w", cfg.Topic, strings.Join(cfg.Brokers, ","), err)
	}
	td, ok := md.Topics[cfg.Topic]
	if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		return nil, fmt.Errorf("tail: topic %q does not exist on %s: %w", cfg.Topic, strings.Join(cfg.Brokers, ","), ErrUnknownTopic)
	}
	if td.Err != nil {
		return nil, fmt.Errorf("tail: topic %q: %w", cfg.Topic, td.Err)
	}
	all := make([]int32, 0, len(td.Partitions))
	for p := range td.Partitions {
		all = append(all, p)
	}
	slices.Sort(all)
	parts := all
	if len(cfg.Partitions) > 0 {
		parts = slices.Clone(cfg.Partitions)
		slices.Sort(parts)
		parts = slices.Compact(parts)
		for _, p := range parts {
			if _, ok := td.Partitions[p]; !ok {
				return nil, fmt.Errorf("tail: topic %q has partitions %s, not %d: %w", cfg.Topic, DescribePartitions(all), p, ErrUnknownPartition)
			}
		}
	}

	starts, err := adm.ListStartOffsets(ctx, cfg.Topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("tail: start offsets of topic %q: %w", cfg.Topic, err)
	}
	ends, err := adm.ListEndOffsets(ctx, cfg.Topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("tail: end offsets of topic %q: %w", cfg.Topic, err)
	}
	positions := make([]Position, 0, len(parts))
	for _, p := range parts {
		s, ok1 := starts.Lookup(cfg.Topic, p)
		e, ok2 := ends.Lookup(cfg.Topic, p)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("tail: no offsets listed for %s/%d", cfg.Topic, p)
		}
		pos := Position{Partition: p, Start: s.Offset, End: e.Offset}
		if !cfg.FromBeginning {
			pos.Start = e.Offset
		}
		positions = append(positions, pos)
	}
	return positions, nil
}

// DescribePartitions renders a sorted partition list for messages: "0-5",
// "0,2,7", or "none".
func DescribePartitions(ps []int32) string {
	switch {
	case len(ps) == 0:
		return "none"
	case int(ps[len(ps)-1]-ps[0]) == len(ps)-1:
		if len(ps) == 1 {
			return fmt.Sprint(ps[0])
		}
		return fmt.Sprintf("%d-%d", ps[0], ps[len(ps)-1])
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, ",")
}

// lineWriter formats records onto a buffered out and counts them.
type lineWriter struct {
	w    *bufio.Writer
	form *formatter
	sum  Summary
	err  error // the first write error
}

// write prints r; false means out is gone (or failed) and Run must stop.
func (lw *lineWriter) write(r *kgo.Record) bool {
	if lw.err != nil {
		return false
	}
	for _, h := range r.Headers {
		if h.Key == watermark.HeaderKind && string(h.Value) == watermark.KindWatermark {
			lw.sum.Watermarks++
			return true
		}
	}
	line, kind := lw.form.format(r)
	if _, err := lw.w.Write(line); err != nil {
		lw.err = err
		return false
	}
	lw.sum.Records++
	switch kind {
	case kindDecoded:
		lw.sum.Decoded++
	case kindPlain:
		lw.sum.Plain++
	case kindFailed:
		lw.sum.Failed++
	case kindTombstone:
		lw.sum.Tombstones++
	}
	return true
}

func (lw *lineWriter) flush() bool {
	if lw.err != nil {
		return false
	}
	if err := lw.w.Flush(); err != nil {
		lw.err = err
		return false
	}
	return true
}

// finish flushes what is buffered and returns the summary, with err, or with
// the write error unless it only says the reader went away.
func (lw *lineWriter) finish(err error) (Summary, error) {
	lw.flush()
	if lw.err != nil {
		if readerGone(lw.err) {
			lw.sum.OutputClosed = true
		} else if err == nil {
			err = fmt.Errorf("tail: writing output: %w", lw.err)
		}
	}
	return lw.sum, err
}

// readerGone reports whether a write error means the reading end went away:
// a broken pipe, a closed io.Pipe, a reset connection.
func readerGone(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrClosedPipe) || errors.Is(err, syscall.ECONNRESET)
}
