package dlq

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/topology"
)

// Headers of a replayed record.
const (
	// HeaderReplay names the dead letter a record replays: "logs.dlq/P/O".
	HeaderReplay = "ls-dlq-replay"
	// HeaderSource names the record the dead letter kept:
	// "<topic>/<partition>/<offset>". A later replay finds it and skips the
	// dead letters of that record.
	HeaderSource = "ls-dlq-source"
)

// ErrBadTarget: a topic that a dead letter cannot be replayed to.
var ErrBadTarget = errors.New("not a topic to replay to")

// Decision is what Replay does with one selected dead letter.
type Decision int

const (
	// Send: the original record is written to the target.
	Send Decision = iota
	// SkipReplayed: a record on the target topic already replays the same
	// source record (Planned.Found names it).
	SkipReplayed
	// SkipDuplicate: another selected dead letter of the same source
	// record, an earlier one, is replayed instead (Planned.Instead).
	SkipDuplicate
	// SkipNoValue: the record had no value (a tombstone) or an empty one;
	// no stage makes anything of it but another dead letter.
	SkipNoValue
)

func (d Decision) String() string {
	switch d {
	case Send:
		return "send"
	case SkipReplayed:
		return "already replayed"
	case SkipDuplicate:
		return "duplicate"
	case SkipNoValue:
		return "no value"
	}
	return "unknown"
}

// Planned is one selected dead letter and what Replay does with it.
type Planned struct {
	ID     ID
	At     time.Time // when it was dead-lettered; the replayed record's timestamp
	Stage  string
	Reason string
	Source string // the original record, "topic/partition/offset"
	Target string // the topic it goes to
	Key    []byte // the original key; nil for none
	Size   int    // bytes of the original value
	Decision
	Found   string // SkipReplayed: the record on Target that replays Source
	Instead ID     // SkipDuplicate: the dead letter replayed instead
}

// ReplayConfig says what Replay writes where.
type ReplayConfig struct {
	Config
	// Topology names the topics; required.
	Topology *topology.Topology
	// To, when set, is the one topic every dead letter goes to; else each
	// goes to its source topic.
	To string
	// DryRun decides everything, calls OnPlan, and writes nothing.
	DryRun bool
	// OnPlan, when set, is called for every selected dead letter in ID
	// order once all are decided, before anything is written.
	OnPlan func(*Planned)
	// OnSearch, when set, is called before Replay reads a target topic
	// for earlier replays, with the time it reads from and the number of
	// records that holds: on a busy topic, the search takes a while.
	OnSearch func(target string, from time.Time, records int64)
	// OnSent, when set, is called with the number of records the broker
	// has acknowledged so far, after each acknowledgement, from the
	// producer's goroutine: it must be quick.
	OnSent func(sent int64)
}

// ReplaySummary says what Replay did.
type ReplaySummary struct {
	Selected   int // dead letters the filter selected
	Sent       int // records written and acknowledged (DryRun: to write)
	Replayed   int // skipped: already replayed to their target
	Duplicates int // skipped: another dead letter of the same record is replayed
	NoValue    int // skipped: no value to replay
	// Undecodable are records on logs.dlq the scan could not read; they
	// might have matched the filter.
	Undecodable []Undecodable
	// Targets are the topics written to (DryRun: to be written to).
	Targets []string
	// Shared names, for each target that more than one stage or writer
	// reads, those readers: each of them gets the replayed records,
	// including any that had read the original.
	Shared map[string][]string
}

// CheckTarget reports whether name is a topic of topo that dead letters
// may be replayed to: any stream of the pipeline but logs.dlq itself. A
// group table is refused: writing it would change a stage's state behind
// its back.
func CheckTarget(topo *topology.Topology, name string) error {
	tp, ok := topo.Topic(name)
	if !ok {
		return fmt.Errorf("%w: %q is no topic of the pipeline (streams: %s)", ErrBadTarget, name, strings.Join(streams(topo), ", "))
	}
	if tp.Kind == topology.Table {
		return fmt.Errorf("%w: %s is a stage's group table; writing it would change the stage's state behind its back", ErrBadTarget, name)
	}
	if name == topology.TopicDLQ {
		return fmt.Errorf("%w: %s is the dead-letter topic itself", ErrBadTarget, name)
	}
	return nil
}

func streams(topo *topology.Topology) []string {
	var out []string
	for _, t := range topo.Topics() {
		if t.Kind == topology.Stream && t.Name != topology.TopicDLQ {
			out = append(out, t.Name)
		}
	}
	return out
}

// Readers names the consumer groups of topo that read topic (a stage by
// its name), in pipeline order.
func Readers(topo *topology.Topology, topic string) []string {
	var out []string
	for _, g := range topo.Groups() {
		if slices.Contains(g.Topics(), topic) {
			name := g.Name
			if g.Kind == topology.KindStage {
				name = g.Stage
			}
			out = append(out, name)
		}
	}
	return out
}

// Replay writes the original records of the dead letters f selects back
// into the pipeline, as the package documentation describes: each source
// record once, and none that an earlier replay already wrote to the same
// topic. It decides everything before it writes anything, so that an
// unknown ID or a topic that cannot be written fails the whole replay.
func Replay(ctx context.Context, cfg ReplayConfig, f Filter) (ReplaySummary, error) {
	if cfg.Topology == nil {
		return ReplaySummary{}, errors.New("dlq: ReplayConfig.Topology is nil")
	}
	if cfg.To != "" {
		if err := CheckTarget(cfg.Topology, cfg.To); err != nil {
			return ReplaySummary{}, err
		}
	}
	plans, sum, err := selectLetters(ctx, cfg, f)
	if err != nil {
		return sum, err
	}
	if err := decide(ctx, cfg, plans, &sum); err != nil {
		return sum, err
	}
	if cfg.OnPlan != nil {
		for _, p := range plans {
			cfg.OnPlan(p)
		}
	}
	if cfg.DryRun || sum.Sent == 0 {
		return sum, nil
	}
	sent, err := send(ctx, cfg, plans)
	sum.Sent = int(sent)
	return sum, err
}

// selectLetters is the first pass over logs.dlq: what f selects, without
// the values (a replay of millions of dead letters holds their positions,
// not their bytes).
func selectLetters(ctx context.Context, cfg ReplayConfig, f Filter) ([]*Planned, ReplaySummary, error) {
	var plans []*Planned
	scan, err := Scan(ctx, cfg.Config, f, func(l *Letter) error {
		target := cfg.To
		if target == "" {
			target = l.SourceTopic
		}
		p := &Planned{
			ID: l.ID, At: replayTime(l), Stage: l.Stage, Reason: l.Error, Source: l.Source(),
			Target: target, Key: l.OriginalKey, Size: len(l.OriginalValue),
		}
		if len(l.OriginalValue) == 0 {
			p.Decision = SkipNoValue
		}
		plans = append(plans, p)
		return nil
	})
	sum := ReplaySummary{Selected: len(plans), Undecodable: scan.Undecodable}
	if err != nil {
		return nil, sum, err
	}
	if len(scan.Missing) > 0 {
		ids := make([]string, len(scan.Missing))
		for i, id := range scan.Missing {
			ids[i] = id.String()
		}
		return nil, sum, fmt.Errorf("dlq: %w at %s (on %s): nothing replayed", ErrNotFound, strings.Join(ids, ", "), topology.TopicDLQ)
	}
	if len(f.IDs) > 0 && len(scan.Undecodable) > 0 {
		u := scan.Undecodable[0]
		return nil, sum, fmt.Errorf("dlq: %s/%s holds no DeadLetter this build can read (%v): nothing replayed", topology.TopicDLQ, u.ID, u.Err)
	}
	slices.SortFunc(plans, func(a, b *Planned) int {
		if a.ID.Less(b.ID) {
			return -1
		}
		return 1
	})
	return plans, sum, nil
}

// replayTime is the replayed record's timestamp: when the record was
// dead-lettered, the same on every replay (see the package documentation);
// the dead letter's own record timestamp when its time is missing.
func replayTime(l *Letter) time.Time {
	if l.Time > 0 {
		return time.UnixMilli(l.Time)
	}
	return l.Timestamp
}

// decide checks the targets, skips duplicates within the selection and
// what earlier replays wrote, and fills sum's counts.
func decide(ctx context.Context, cfg ReplayConfig, plans []*Planned, sum *ReplaySummary) error {
	type key struct{ target, source string }
	first := map[key]ID{}
	since := map[string]time.Time{} // target → earliest dead letter to send there
	for _, p := range plans {
		if p.Decision != Send {
			continue
		}
		k := key{p.Target, p.Source}
		if id, ok := first[k]; ok {
			p.Decision, p.Instead = SkipDuplicate, id
			continue
		}
		first[k] = p.ID
		if t, ok := since[p.Target]; !ok || p.At.Before(t) {
			since[p.Target] = p.At
		}
	}
	var bad []string
	for target := range since {
		if err := CheckTarget(cfg.Topology, target); err != nil {
			n := 0
			for _, p := range plans {
				if p.Target == target && p.Decision == Send {
					n++
				}
			}
			bad = append(bad, fmt.Sprintf("%d dead letters come from %s: %v", n, target, err))
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return fmt.Errorf("dlq: %s; narrow the selection (--source-topic) or name a target (--to): nothing replayed", strings.Join(bad, "; "))
	}
	targets := make([]string, 0, len(since))
	for t := range since {
		targets = append(targets, t)
	}
	slices.Sort(targets)
	for _, target := range targets {
		found, err := findReplayed(ctx, cfg, target, since[target].Add(-sinceSlack), func(source string) bool {
			_, ok := first[key{target, source}]
			return ok
		})
		if err != nil {
			return err
		}
		for _, p := range plans {
			if p.Target == target && p.Decision == Send {
				if at, ok := found[p.Source]; ok {
					p.Decision, p.Found = SkipReplayed, at
				}
			}
		}
	}
	sum.Shared = map[string][]string{}
	for _, p := range plans {
		switch p.Decision {
		case Send:
			sum.Sent++
			if !slices.Contains(sum.Targets, p.Target) {
				sum.Targets = append(sum.Targets, p.Target)
				if r := Readers(cfg.Topology, p.Target); len(r) > 1 {
					sum.Shared[p.Target] = r
				}
			}
		case SkipReplayed:
			sum.Replayed++
		case SkipDuplicate:
			sum.Duplicates++
		case SkipNoValue:
			sum.NoValue++
		}
	}
	slices.Sort(sum.Targets)
	return nil
}

// findReplayed reads target from the first offsets at or after from to its
// end and returns, for each source record wanted, the position of a record
// that carries it in HeaderSource: an earlier replay of it.
func findReplayed(ctx context.Context, cfg ReplayConfig, target string, from time.Time, wanted func(source string) bool) (map[string]string, error) {
	base := append(slices.Clone(cfg.ClientOpts), kgo.SeedBrokers(cfg.Brokers...))
	cl, err := kgo.NewClient(base...)
	if err != nil {
		return nil, fmt.Errorf("dlq: kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	timeout := cfg.LookupTimeout
	if timeout == 0 {
		timeout = DefaultLookupTimeout
	}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	b, err := listBounds(lctx, adm, cfg.Brokers, target, false)
	if err == nil {
		err = after(lctx, adm, target, b, from)
	}
	cancel()
	if err != nil {
		return nil, fmt.Errorf("dlq: replay target: %w", err)
	}
	if cfg.OnSearch != nil {
		var n int64
		for _, s := range b {
			n += max(s.end-s.from, 0)
		}
		cfg.OnSearch(target, from, n)
	}
	found := map[string]string{}
	err = readSpans(ctx, base, adm, target, b, false, func(r *kgo.Record) error {
		for _, h := range r.Headers {
			if h.Key == HeaderSource && wanted(string(h.Value)) {
				if _, ok := found[string(h.Value)]; !ok {
					found[string(h.Value)] = position(r.Topic, r.Partition, r.Offset)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dlq: looking for earlier replays on %s: %w", target, err)
	}
	return found, nil
}

// send is the second pass over logs.dlq: it reads the dead letters to send
// and writes their records, and returns how many the broker acknowledged.
func send(ctx context.Context, cfg ReplayConfig, plans []*Planned) (int64, error) {
	todo := map[ID]*Planned{}
	spans := map[int32]span{}
	for _, p := range plans {
		if p.Decision != Send {
			continue
		}
		todo[p.ID] = p
		s, ok := spans[p.ID.Partition]
		if !ok {
			s = span{from: p.ID.Offset, end: p.ID.Offset + 1}
		}
		s.from, s.end = min(s.from, p.ID.Offset), max(s.end, p.ID.Offset+1)
		spans[p.ID.Partition] = s
	}
	set, err := cfg.codecs()
	if err != nil {
		return 0, fmt.Errorf("dlq: %w", err)
	}
	base := append(slices.Clone(cfg.ClientOpts), kgo.SeedBrokers(cfg.Brokers...))
	prod, err := kgo.NewClient(append(slices.Clone(base),
		// Where goka looks for a key's records and state; keyless records
		// are spread round-robin, as they were by the writers that sent
		// them without a key.
		kgo.RecordPartitioner(topology.Partitioner()),
		kgo.ProducerLinger(5*time.Millisecond),
		// No kgo.RecordDeliveryTimeout: franz-go measures it from the
		// record's timestamp, which is the dead letter's time, long past,
		// so every record would time out at once. A cluster that is gone
		// is left with ctx (^C); the next run skips what got through.
	)...)
	if err != nil {
		return 0, fmt.Errorf("dlq: kafka client: %w", err)
	}
	defer prod.Close()
	adm := kadm.NewClient(prod)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		acked    atomic.Int64
		mu       sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}
	err = readSpans(ctx, base, adm, topology.TopicDLQ, spans, true, func(r *kgo.Record) error {
		id := ID{Partition: r.Partition, Offset: r.Offset}
		p := todo[id]
		if p == nil {
			return nil
		}
		dl, err := decodeLetter(set, r.Value)
		if err != nil {
			// It decoded in the first pass: the record changed under us.
			return fmt.Errorf("dead letter %s no longer decodes: %w", id, err)
		}
		rec := &kgo.Record{
			Topic:     p.Target,
			Key:       dl.OriginalKey,
			Value:     dl.OriginalValue,
			Timestamp: p.At,
			Headers: []kgo.RecordHeader{
				{Key: HeaderReplay, Value: []byte(position(topology.TopicDLQ, id.Partition, id.Offset))},
				{Key: HeaderSource, Value: []byte(p.Source)},
			},
		}
		prod.Produce(ctx, rec, func(r *kgo.Record, err error) {
			if err != nil {
				fail(fmt.Errorf("writing dead letter %s to %s: %w", id, r.Topic, err))
				return
			}
			n := acked.Add(1)
			if cfg.OnSent != nil {
				cfg.OnSent(n)
			}
		})
		return nil
	})
	if ferr := prod.Flush(context.WithoutCancel(ctx)); ferr != nil && err == nil {
		err = ferr
	}
	mu.Lock()
	if firstErr != nil {
		err = firstErr
	}
	mu.Unlock()
	if err != nil {
		return acked.Load(), fmt.Errorf("dlq: replay stopped after %d records: %w", acked.Load(), err)
	}
	return acked.Load(), nil
}
