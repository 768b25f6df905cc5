package paging

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/schemas"
)

// The page table (ConsumerConfig.Table) is the consumer's state: for each
// open incident, its FIRING record's value as read from the alerts topic,
// keyed by dedup key, on the partition of the alert; a RESOLVED record
// writes a tombstone. It is compacted, so a member that takes a partition
// reads only the incidents still open, however old the alerts topic's
// history is (its FIRING records may have left it by retention).

// tablePartitioner sends the table's records to the partition they name
// (the alert's), and every other record by other.
type tablePartitioner struct {
	table string
	other kgo.Partitioner
}

func (p tablePartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if topic == p.table {
		return kgo.ManualPartitioner().ForTopic(topic)
	}
	return p.other.ForTopic(topic)
}

// tableError is a table the consumer cannot use: retrying cannot help.
type tableError struct{ msg string }

func (e *tableError) Error() string { return e.msg }

// writeTable records a's change in the table: a FIRING alert's value, or
// a tombstone for a RESOLVED one. It retries until the write is
// acknowledged or ctx ends (then it returns ctx's error, and the record
// stays uncommitted).
func (c *Consumer) writeTable(ctx context.Context, cl *kgo.Client, r *kgo.Record, a *schemas.Alert) error {
	rec := &kgo.Record{Topic: c.cfg.Table, Partition: r.Partition, Key: []byte(a.DedupKey)}
	if a.State == schemas.AlertFiring {
		rec.Value = r.Value
	}
	p := c.retry(func(_ int, err error, wait time.Duration) {
		c.log.Warn().Err(err).Str("topic", c.cfg.Table).Int32("partition", r.Partition).Int64("offset", r.Offset).Dur("retry_in", wait).
			Msg("writing the open alert to the table failed, retrying (the record stays uncommitted)")
	})
	err := p.Do(ctx, func(ctx context.Context) error {
		return cl.ProduceSync(ctx, rec).FirstErr()
	})
	if err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// assigned reads the open incidents of partitions ps from the table and
// hands them to the re-sends. franz-go fetches the partitions only once it
// returns, so no record of theirs is handled before. It retries until it
// succeeds or ctx ends; a table that cannot serve (fewer partitions than
// the topic) ends the run through fail.
func (c *Consumer) assigned(ctx context.Context, cl *kgo.Client, ps []int32, fail context.CancelCauseFunc) {
	if len(ps) == 0 {
		return
	}
	rp := c.retry(func(attempt int, err error, wait time.Duration) {
		ev := c.log.Warn()
		if attempt == 1 && errors.Is(err, kerr.UnknownTopicOrPartition) {
			ev = c.log.Info() // a table just created is not listed everywhere at once
		}
		ev.Err(err).Str("table", c.cfg.Table).Ints32("partitions", ps).Dur("retry_in", wait).
			Msg("reading the open alerts failed, retrying (the partitions' records wait for it)")
	})
	rp.Permanent = func(err error) bool {
		var te *tableError
		return errors.As(err, &te)
	}
	var open map[int32][]*schemas.Alert
	err := rp.Do(ctx, func(ctx context.Context) (err error) {
		open, err = c.readTable(ctx, cl, ps)
		return err
	})
	var te *tableError
	switch {
	case errors.As(err, &te):
		fail(err)
	case err == nil:
		now := time.Now()
		n := 0
		for _, p := range ps {
			c.open.assign(p, open[p], now)
			n += len(open[p])
		}
		c.log.Info().Str("table", c.cfg.Table).Ints32("partitions", ps).Int("open_alerts", n).Msg("open alerts read from the table")
	}
	// Otherwise ctx ended: the partitions are being taken away or the
	// consumer stops.
}

// readTableTimeout bounds one attempt to read the table: it holds only
// open incidents, so a read that takes longer is stuck, and is retried.
const readTableTimeout = 30 * time.Second

// readTable returns, per partition of ps, the incidents the table holds.
func (c *Consumer) readTable(ctx context.Context, cl *kgo.Client, ps []int32) (map[int32][]*schemas.Alert, error) {
	ctx, cancel := context.WithTimeout(ctx, readTableTimeout)
	defer cancel()
	adm := kadm.NewClient(cl)
	if err := c.ensureTable(ctx, adm); err != nil {
		return nil, err
	}
	starts, err := adm.ListStartOffsets(ctx, c.cfg.Table)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("paging: start offsets of %s: %w", c.cfg.Table, err)
	}
	ends, err := adm.ListEndOffsets(ctx, c.cfg.Table)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("paging: end offsets of %s: %w", c.cfg.Table, err)
	}
	from := map[int32]kgo.Offset{}
	end := map[int32]int64{}
	for _, p := range ps {
		s, _ := starts.Lookup(c.cfg.Table, p)
		e, ok := ends.Lookup(c.cfg.Table, p)
		if !ok {
			return nil, fmt.Errorf("paging: %s has no partition %d", c.cfg.Table, p)
		}
		if e.Offset > s.Offset {
			from[p] = kgo.NewOffset().At(s.Offset)
			end[p] = e.Offset
		}
	}
	out := map[int32][]*schemas.Alert{}
	if len(from) == 0 {
		return out, nil
	}
	rd, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(c.cfg.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{c.cfg.Table: from}),
		kgo.FetchMaxWait(500 * time.Millisecond),
	}, c.cfg.KafkaOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("paging: reading %s: %w", c.cfg.Table, err)
	}
	defer rd.Close()
	values := map[int32]map[string][]byte{}
	for len(end) > 0 {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil, fmt.Errorf("paging: reading %s: %w", c.cfg.Table, ctx.Err())
		}
		if err := fetchErr(fs); err != nil {
			return nil, fmt.Errorf("paging: reading %s: %w", c.cfg.Table, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			e, reading := end[r.Partition]
			if !reading {
				return
			}
			m := values[r.Partition]
			if m == nil {
				m = map[string][]byte{}
				values[r.Partition] = m
			}
			if r.Value == nil {
				delete(m, string(r.Key))
			} else {
				m[string(r.Key)] = r.Value
			}
			if r.Offset+1 >= e {
				delete(end, r.Partition)
			}
		})
	}
	for p, m := range values {
		for key, v := range m {
			a, err := c.cfg.Codecs.Alert.Unmarshal(v)
			if err == nil {
				err = checkAlert(a)
			}
			if err != nil {
				// Its RESOLVED record is still delivered; only the
				// re-sends are lost, so say so loudly.
				c.log.Error().Err(err).Str("table", c.cfg.Table).Int32("partition", p).Str("dedup_key", key).
					Msg("open alert in the table does not decode; it is not re-sent and may expire in Alertmanager before it resolves")
				continue
			}
			out[p] = append(out[p], a)
		}
	}
	return out, nil
}

// fetchErr returns the first error of fs that is not the end of a context.
func fetchErr(fs kgo.Fetches) error {
	var first error
	fs.EachError(func(_ string, _ int32, err error) {
		if first == nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			first = err
		}
	})
	return first
}

// ensureTable creates the table when it is missing, with the topic's
// partitions and replication, and refuses one whose partitions differ.
func (c *Consumer) ensureTable(ctx context.Context, adm *kadm.Client) error {
	if c.tableChecked.Load() {
		return nil
	}
	for range 2 { // a second look when another member created it meanwhile
		td, err := adm.ListTopics(ctx, c.cfg.Topic, c.cfg.Table)
		if err != nil {
			return fmt.Errorf("paging: listing topics %s and %s: %w", c.cfg.Topic, c.cfg.Table, err)
		}
		src := td[c.cfg.Topic]
		if src.Err != nil || len(src.Partitions) == 0 {
			return fmt.Errorf("paging: topic %s: %v", c.cfg.Topic, src.Err)
		}
		want := len(src.Partitions)
		if tbl := td[c.cfg.Table]; td.Has(c.cfg.Table) {
			if tbl.Err != nil {
				return fmt.Errorf("paging: topic %s: %w", c.cfg.Table, tbl.Err)
			}
			if len(tbl.Partitions) != want {
				return &tableError{fmt.Sprintf("paging: table %s has %d partitions, topic %s has %d: they must match, partition for partition. "+
					"Recreate %s with %d partitions (it then starts empty: alerts open at that moment are not re-sent and expire in Alertmanager unless they fire again)",
					c.cfg.Table, len(tbl.Partitions), c.cfg.Topic, want, c.cfg.Table, want)}
			}
			c.tableChecked.Store(true)
			return nil
		}
		replicas := int16(-1) // the broker's default, unless the topic tells
		if p, ok := src.Partitions[0]; ok && len(p.Replicas) > 0 {
			replicas = int16(len(p.Replicas))
		}
		resp, err := adm.CreateTopic(ctx, int32(want), replicas, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, c.cfg.Table)
		if err == nil {
			err = resp.Err
		}
		if err == nil {
			c.log.Info().Str("table", c.cfg.Table).Int("partitions", want).Int16("replication", replicas).Msg("created the table of open alerts")
			c.tableChecked.Store(true)
			return nil
		}
		if !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("paging: creating %s: %w", c.cfg.Table, err)
		}
	}
	return fmt.Errorf("paging: %s exists but is not listed yet", c.cfg.Table)
}

// resender returns the re-sends of the consumer, or nil when no target
// takes them.
func (c *Consumer) resender(cl *kgo.Client) *resender {
	var ts []resendTarget
	for _, t := range c.cfg.Targets {
		if r, ok := t.Notifier.(Resender); ok {
			ts = append(ts, resendTarget{name: t.Name, r: r, mu: c.sendMu[t.Name]})
		}
	}
	if len(ts) == 0 {
		return nil
	}
	running := c.cfg.SourceRunning
	if running == nil {
		running = groupRunning(kadm.NewClient(cl), c.cfg.SourceGroup)
	}
	return &resender{interval: c.cfg.ResendInterval, targets: ts, open: c.open, clock: wallClock{}, running: running, log: c.log, m: c.m}
}

// groupRunning reports whether a consumer group has a member.
func groupRunning(adm *kadm.Client, group string) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		gs, err := adm.DescribeGroups(ctx, group)
		if err != nil {
			return false, fmt.Errorf("paging: describing group %s: %w", group, err)
		}
		g, ok := gs[group]
		if !ok || errors.Is(g.Err, kerr.GroupIDNotFound) {
			return false, nil
		}
		if g.Err != nil {
			return false, fmt.Errorf("paging: describing group %s: %w", group, g.Err)
		}
		return len(g.Members) > 0, nil
	}
}
