package errorrate

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/deadletter"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/watermark"
)

// Defaults of CombineConfig.
const (
	DefaultFlushInterval = 100 * time.Millisecond
	DefaultMaxBatch      = 200_000
)

// CombineConfig configures the stage's first hop. Topic names come from
// topology/.
type CombineConfig struct {
	Brokers []string
	// ClientOpts are added to the hop's franz-go client (security, say).
	ClientOpts []kgo.Opt
	// Group is the hop's consumer group; TransactionalID its producer's
	// transactional id, unique per process.
	Group           string
	TransactionalID string
	Events          string // logs.unique: every event, counted
	// Origins is the topic whose stamps Events carries (logs.raw: parse's
	// origins); stamps of any other topic are ignored. "": any.
	Origins     string
	Joined      string // logs.enriched: joined error events, for samples
	Partials    string // the hop's output
	DeadLetters string
	// Partitions of Partials (every pipeline topic has as many);
	// PartitionOf places a host there as goka does, KeyFor names a key of
	// a partition, and Partitioner places keys as goka does
	// (topology.Partition, KeyFor, Partitioner).
	Partitions      int32
	PartitionOf     func(key []byte) int32
	KeyFor          func(partition int32) string
	Partitioner     kgo.Partitioner
	EventCodec      *codecs.Codec[schemas.LogEvent]
	PartialCodec    *codecs.Codec[schemas.ErrorRatePartial]
	DeadLetterCodec *codecs.Codec[schemas.DeadLetter]
	Classifier      *Classifier
	Windows         Windows
	// Tick is the counts' resolution: UpdateInterval.
	Tick time.Duration
	// MaxFuture: an event further ahead of the wall clock is counted and
	// not windowed.
	MaxFuture time.Duration
	// FlushInterval is how long one transaction gathers records;
	// MaxBatch bounds the events it gathers.
	FlushInterval time.Duration
	MaxBatch      int
	// Idle: an input partition with no records for this long (wall clock)
	// stops holding the watermark back (see package watermark); Every is
	// the watermark's resolution downstream.
	Idle  time.Duration
	Every time.Duration
	// FromOldest makes a group without committed offsets start at the
	// oldest records.
	FromOldest     bool
	SessionTimeout time.Duration
	// UpgradeFrom is a consumer group whose committed offsets on Events
	// and Joined the hop starts from when it has none of its own: the
	// previous version's errorrate group, so that an upgrade neither
	// counts an event twice nor skips one.
	UpgradeFrom string
	// CaughtUp reports whether a partition of Events has nothing left to
	// read; nil asks the brokers (end offsets against the position). A
	// partition is idle only when caught up as well as quiet: one that is
	// merely waiting for its turn in a backlog is not.
	CaughtUp func(partition int32, last int64) bool
	Now      func() time.Time
	Log      zerolog.Logger
}

// Combiner is the errorrate stage's first hop: a franz-go consumer group
// over logs.unique (and logs.enriched, for samples) that counts events per
// host, tick and pane in memory and, every FlushInterval, writes what it
// counted to the partials topic, one record per destination partition
// holding that partition's hosts, in one Kafka transaction with the
// offsets it consumed. A crash or a rebalance aborts the transaction, and
// the records are counted again by whoever owns them next: each event is
// counted exactly once, and the next hop reads only committed records.
// Instead of one loop record per event, the stage writes a few records per
// partition and flush, whatever the event rate.
type Combiner struct {
	cfg   CombineConfig
	stats *Stats

	mu    sync.Mutex // parts, against the group callbacks
	parts map[int32]*inPart
	fan   watermark.Fanout
	b     batch
}

// inPart is an owned partition of Events.
type inPart struct {
	tracker  *watermark.Tracker
	last     int64 // last offset read; -1 before any
	lastWall time.Time
}

type batch struct {
	hosts    map[string]*hostAgg
	events   int
	consumed bool
	dead     []*kgo.Record
}

type hostAgg struct {
	ticks  map[int64]*[2]int64
	panes  map[int64]*paneAgg
	future int64
}

type paneAgg struct {
	firstError int64
	sketch     Sketch
	sigs       []schemas.SignatureCount
	samples    []schemas.Sample
}

// Stats returns the counters the combiner adds to (shared with the
// windows hop when NewCombiner was given its Stats).
func (c *Combiner) Stats() *Stats { return c.stats }

// NewCombiner returns the first hop for cfg; it shares stats with the
// stage's Processor.
func NewCombiner(cfg CombineConfig, stats *Stats) (*Combiner, error) {
	switch {
	case len(cfg.Brokers) == 0 || cfg.Group == "" || cfg.TransactionalID == "":
		return nil, errors.New("errorrate: CombineConfig needs Brokers, Group and TransactionalID")
	case cfg.Events == "" || cfg.Joined == "" || cfg.Partials == "" || cfg.DeadLetters == "" || cfg.Partitions < 1:
		return nil, errors.New("errorrate: CombineConfig needs Events, Joined, Partials, DeadLetters and Partitions")
	case cfg.PartitionOf == nil || cfg.KeyFor == nil || cfg.Partitioner == nil:
		return nil, errors.New("errorrate: CombineConfig needs PartitionOf, KeyFor and Partitioner")
	case cfg.EventCodec == nil || cfg.PartialCodec == nil || cfg.DeadLetterCodec == nil || cfg.Classifier == nil:
		return nil, errors.New("errorrate: CombineConfig needs EventCodec, PartialCodec, DeadLetterCodec and Classifier")
	case cfg.Tick <= 0 || cfg.Windows.pane()%cfg.Tick.Milliseconds() != 0:
		return nil, fmt.Errorf("errorrate: tick %s must divide the windows' pane %s", cfg.Tick, cfg.Windows.Pane())
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.MaxFuture <= 0 {
		cfg.MaxFuture = DefaultMaxFuture
	}
	if cfg.Idle <= 0 {
		cfg.Idle = watermark.DefaultIdle
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if stats == nil {
		stats = newStats()
	}
	c := &Combiner{cfg: cfg, stats: stats, parts: map[int32]*inPart{}}
	c.fan = watermark.Fanout{Every: cfg.Every, Resend: cfg.Idle / 2}
	c.b.reset()
	return c, nil
}

func (b *batch) reset() {
	b.hosts, b.events, b.consumed, b.dead = map[string]*hostAgg{}, 0, false, nil
}

// Run consumes until ctx ends (nil) or the client fails (the error).
func (c *Combiner) Run(ctx context.Context) error {
	reset := kgo.NewOffset().AtEnd()
	if c.cfg.FromOldest {
		reset = kgo.NewOffset().AtStart()
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(c.cfg.Brokers...),
		kgo.ClientID(c.cfg.TransactionalID),
		kgo.ConsumerGroup(c.cfg.Group),
		kgo.ConsumeTopics(c.cfg.Events, c.cfg.Joined),
		kgo.ConsumeResetOffset(reset),
		kgo.TransactionalID(c.cfg.TransactionalID),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Partials are addressed to a partition by KeyFor.
		kgo.RecordPartitioner(c.cfg.Partitioner),
		kgo.OnPartitionsAssigned(c.assigned),
		kgo.OnPartitionsRevoked(c.revoked),
		kgo.OnPartitionsLost(c.revoked),
	}, c.cfg.ClientOpts...)
	if c.cfg.SessionTimeout > 0 {
		opts = append(opts, kgo.SessionTimeout(c.cfg.SessionTimeout), kgo.HeartbeatInterval(c.cfg.SessionTimeout/3),
			kgo.RebalanceTimeout(max(3*c.cfg.SessionTimeout, 3*time.Second)))
	}
	if err := c.upgradeOffsets(ctx); err != nil {
		return err
	}
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return fmt.Errorf("errorrate: combine: %w", err)
	}
	defer sess.Close()
	if c.cfg.CaughtUp == nil {
		c.cfg.CaughtUp = (&endOffsets{adm: kadm.NewClient(sess.Client()), topic: c.cfg.Events, group: c.cfg.Group, every: c.cfg.Idle / 2}).caughtUp
	}
	for ctx.Err() == nil {
		if err := c.cycle(ctx, sess); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}

// upgradeOffsets starts the group where UpgradeFrom left off, when the
// group has no offsets of its own yet.
func (c *Combiner) upgradeOffsets(ctx context.Context) error {
	if c.cfg.UpgradeFrom == "" {
		return nil
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.cfg.Brokers...)}, c.cfg.ClientOpts...)...)
	if err != nil {
		return fmt.Errorf("errorrate: combine: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	own, err := adm.FetchOffsets(ctx, c.cfg.Group)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return fmt.Errorf("errorrate: combine: committed offsets of %s: %w", c.cfg.Group, err)
	}
	topics := map[string]bool{c.cfg.Events: true, c.cfg.Joined: true}
	has := false
	own.Each(func(o kadm.OffsetResponse) { has = has || topics[o.Topic] })
	if has {
		return nil
	}
	old, err := adm.FetchOffsets(ctx, c.cfg.UpgradeFrom)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return nil // a new deployment: nothing to upgrade from
	}
	if err != nil {
		return fmt.Errorf("errorrate: combine: committed offsets of %s: %w", c.cfg.UpgradeFrom, err)
	}
	start := kadm.Offsets{}
	old.Each(func(o kadm.OffsetResponse) {
		if topics[o.Topic] && o.Err == nil && o.At >= 0 {
			start.Add(o.Offset)
		}
	})
	if len(start) == 0 {
		return nil
	}
	if err := adm.CommitAllOffsets(ctx, c.cfg.Group, start); err != nil {
		return fmt.Errorf("errorrate: combine: starting %s where %s stands: %w", c.cfg.Group, c.cfg.UpgradeFrom, err)
	}
	c.cfg.Log.Info().Str("group", c.cfg.Group).Str("from", c.cfg.UpgradeFrom).Msg("errorrate: upgrade: counting from where the previous version's group left off")
	return nil
}

func (c *Combiner) assigned(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	c.Assign(m[c.cfg.Events]...)
}

// Assign adds partitions of Events to the hop's own. Run does it as the
// group assigns them; a test that drives the hop without Kafka calls it,
// Consume and Flush.
func (c *Combiner) Assign(partitions ...int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	for _, p := range partitions {
		if c.parts[p] == nil {
			tr := watermark.NewTracker(c.cfg.Partitions, c.cfg.Idle)
			tr.Expect(c.cfg.Origins)
			c.parts[p] = &inPart{tracker: tr, last: -1, lastWall: now}
		}
	}
}

// Consume counts one record of Events or Joined into the open batch.
func (c *Combiner) Consume(r *kgo.Record) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record(r)
}

// Flush returns the records the open batch makes (what one transaction
// writes) and starts a new batch.
func (c *Combiner) Flush(now time.Time) ([]*kgo.Record, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out, err := c.build(now)
	c.b.reset()
	return out, err
}

func (c *Combiner) revoked(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range m[c.cfg.Events] {
		delete(c.parts, p)
		c.fan.Forget(watermark.Channel(c.cfg.Events, p))
	}
	c.stats.ResetWatermarks("combine")
}

// cycle gathers records for one FlushInterval and writes what they
// counted in one transaction.
func (c *Combiner) cycle(ctx context.Context, sess *kgo.GroupTransactSession) error {
	c.b.reset()
	deadline := c.cfg.Now().Add(c.cfg.FlushInterval)
	for c.b.events < c.cfg.MaxBatch {
		pctx, cancel := context.WithDeadline(ctx, deadline)
		fs := sess.PollRecords(pctx, 10_000)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				c.cfg.Log.Warn().Err(err).Str("topic", t).Int32("partition", p).Msg("errorrate: combine: fetch")
			}
		})
		c.mu.Lock()
		fs.EachRecord(c.record)
		c.mu.Unlock()
		if !c.cfg.Now().Before(deadline) {
			break
		}
	}
	now := c.cfg.Now()
	c.mu.Lock()
	snap := c.fan.Snapshot()
	out, err := c.build(now)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if len(out) == 0 && !c.b.consumed {
		return nil
	}
	if err := sess.Begin(); err != nil {
		return fmt.Errorf("errorrate: combine: begin transaction: %w", err)
	}
	var (
		pmu      sync.Mutex
		firstErr error
	)
	for _, r := range out {
		sess.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil && !errors.Is(err, kgo.ErrAborting) {
				pmu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				pmu.Unlock()
			}
		})
	}
	try := kgo.TryCommit
	if err := sess.Client().Flush(ctx); err != nil {
		try = kgo.TryAbort
	}
	pmu.Lock()
	if firstErr != nil {
		try = kgo.TryAbort
	}
	pmu.Unlock()
	committed, err := sess.End(ctx, try)
	if err != nil {
		return fmt.Errorf("errorrate: combine: end transaction: %w", err)
	}
	if !committed {
		// Rebalanced, or a write failed: nothing of it is visible, and
		// the records are read again from the committed offsets.
		c.mu.Lock()
		c.fan.Restore(snap)
		c.mu.Unlock()
		c.stats.Aborted.Add(1)
		if firstErr != nil {
			c.cfg.Log.Warn().Err(firstErr).Msg("errorrate: combine: transaction aborted, its records will be counted again")
		}
		return nil
	}
	c.stats.Transactions.Add(1)
	c.stats.PartialsOut.Add(int64(len(out)))
	return nil
}

// record counts one record into the batch; c.mu is held.
func (c *Combiner) record(r *kgo.Record) {
	c.b.consumed = true
	if r.Topic == c.cfg.Joined {
		c.joined(r)
		return
	}
	part := c.parts[r.Partition]
	if part == nil {
		// Not ours any more (revoked while buffered): the transaction
		// aborts and its next owner reads it.
		return
	}
	part.last, part.lastWall = r.Offset, c.cfg.Now()
	if r.Value == nil {
		// A tombstone (franz-go reads a null value as nil, an empty one
		// as an empty slice): read, so the offset moves on, and a dead
		// letter, not a codec error.
		c.stats.In.Add(1)
		c.deadLetter(r, deadletter.ErrTombstone)
		return
	}
	at := r.Timestamp
	kind, stamp := "", []byte(nil)
	for _, h := range r.Headers {
		switch h.Key {
		case watermark.HeaderKind:
			kind = string(h.Value)
		case watermark.HeaderStamp:
			stamp = h.Value
		}
	}
	var stamps []watermark.Stamp
	if stamp != nil {
		s, err := watermark.Decode(stamp)
		if err != nil {
			c.stats.BadStamps.Add(1)
		}
		stamps = s
	}
	if kind == watermark.KindWatermark {
		c.stats.Watermarks.Add(1)
		part.tracker.Observe(at, stamps...)
		return
	}
	c.stats.In.Add(1)
	ev, err := c.cfg.EventCodec.Unmarshal(r.Value)
	if err != nil {
		c.deadLetter(r, err)
		return
	}
	future := watermark.Future(ev.Timestamp, r.Timestamp, c.cfg.Now(), c.cfg.MaxFuture)
	switch {
	case len(stamps) > 0:
		part.tracker.Observe(at, stamps...)
	case !future:
		part.tracker.ObserveLocal(watermark.Channel(c.cfg.Events, r.Partition), ev.Timestamp, r.Offset, at)
	}
	host := strings.TrimSpace(ev.Host)
	if host == "" {
		// Parse always names a host ("unknown" at worst); an event
		// without one was written by something else.
		c.deadLetter(r, ErrNoHost)
		return
	}
	h := c.b.host(host)
	if future {
		// A clock gone wrong: counted, never windowed, never moves time.
		h.future++
		c.stats.Future.Add(1)
		return
	}
	c.b.events++
	tick := floorTo(ev.Timestamp, c.cfg.Tick.Milliseconds())
	t := h.ticks[tick]
	if t == nil {
		t = new([2]int64)
		h.ticks[tick] = t
	}
	t[0]++
	pane := h.pane(floorTo(ev.Timestamp, c.cfg.Windows.pane()))
	if ms, ok := Latency(ev); ok {
		pane.sketch.Add(ms)
	}
	if !c.cfg.Classifier.IsError(ev) {
		return
	}
	t[1]++
	c.stats.Errors.Add(1)
	if pane.firstError == 0 || ev.Timestamp < pane.firstError {
		pane.firstError = ev.Timestamp
	}
	msg := ev.Message
	if msg == "" && ev.HTTPStatus != nil {
		msg = "HTTP " + itoa(int64(*ev.HTTPStatus))
	}
	pane.sigs = addSignature(pane.sigs, Signature(msg), msg, 1)
	if ev.TraceID != nil && *ev.TraceID != "" {
		pane.samples, _ = addSample(pane.samples, sampleOf(ev, msg))
	}
}

// joined takes an error event the trace join wrote, joined with its span,
// as a sample trace of its pane (the event was counted from Events).
func (c *Combiner) joined(r *kgo.Record) {
	for _, h := range r.Headers {
		if h.Key == schemas.HeaderJoinStatus && string(h.Value) != schemas.JoinJoined {
			return // not joined: no sample, and no decode to find it out
		}
	}
	ev, err := c.cfg.EventCodec.Unmarshal(r.Value)
	if err != nil {
		// The join wrote it; the event was counted (or dead-lettered)
		// from logs.unique. A sample is not worth a dead letter, and
		// neither is a tombstone here (nil decodes to an error too).
		c.stats.BadSamples.Add(1)
		return
	}
	host := strings.TrimSpace(ev.Host)
	if ev.JoinStatus != schemas.JoinJoined || host == "" || ev.TraceID == nil || !c.cfg.Classifier.IsError(ev) {
		return
	}
	c.stats.Joined.Add(1)
	pane := c.b.host(host).pane(floorTo(ev.Timestamp, c.cfg.Windows.pane()))
	pane.samples, _ = addSample(pane.samples, sampleOf(ev, ev.Message))
}

func (b *batch) host(name string) *hostAgg {
	h := b.hosts[name]
	if h == nil {
		h = &hostAgg{ticks: map[int64]*[2]int64{}, panes: map[int64]*paneAgg{}}
		b.hosts[name] = h
	}
	return h
}

func (h *hostAgg) pane(start int64) *paneAgg {
	p := h.panes[start]
	if p == nil {
		p = &paneAgg{sketch: Sketch{}}
		h.panes[start] = p
	}
	return p
}

func (c *Combiner) deadLetter(r *kgo.Record, err error) {
	dl := &schemas.DeadLetter{
		OriginalKey: r.Key, OriginalValue: r.Value,
		SourceTopic: r.Topic, SourcePartition: r.Partition, SourceOffset: r.Offset,
		Stage: StageName, Error: err.Error(), Time: c.cfg.Now().UnixMilli(),
	}
	b, encErr := c.cfg.DeadLetterCodec.Marshal(dl)
	if encErr != nil {
		c.cfg.Log.Error().Err(encErr).Msg("errorrate: combine: encoding a dead letter")
		return
	}
	c.b.dead = append(c.b.dead, &kgo.Record{Topic: c.cfg.DeadLetters, Key: r.Key, Value: b})
	c.stats.DeadLetters.Add(1)
}

// stamp is what the hop vouches for partition k of Events.
func (c *Combiner) stamp(k int32, part *inPart, now time.Time) watermark.Stamp {
	s := watermark.Stamp{Channel: watermark.Channel(c.cfg.Events, k), Seq: part.last, Kind: watermark.Hold}
	quiet := now.Sub(part.lastWall) >= c.cfg.Idle && c.cfg.CaughtUp != nil && c.cfg.CaughtUp(k, part.last)
	if quiet {
		// Nothing arrived for a while: a partition read directly (no
		// stamps) stops holding the watermark back.
		part.tracker.MarkIdle(watermark.Channel(c.cfg.Events, k), part.last, now)
	}
	wm, kind := part.tracker.Watermark()
	c.stats.SetWatermark("combine", k, wm, kind)
	switch kind {
	case watermark.Time:
		s.Kind, s.Time = watermark.Time, wm
	case watermark.Idle:
		s.Kind, s.Time = watermark.Idle, wm
	case watermark.Unknown:
		if quiet {
			s.Kind = watermark.Idle
		}
	}
	return s
}

// build turns the batch into the transaction's records: one partial per
// destination partition that has hosts or is due a stamp, and the dead
// letters. c.mu is held.
func (c *Combiner) build(now time.Time) ([]*kgo.Record, error) {
	owned := make([]int32, 0, len(c.parts))
	for k := range c.parts {
		owned = append(owned, k)
	}
	sort.Slice(owned, func(i, j int) bool { return owned[i] < owned[j] })
	stamps := make([]watermark.Stamp, len(owned))
	for i, k := range owned {
		stamps[i] = c.stamp(k, c.parts[k], now)
	}
	byPart := map[int32][]string{}
	for h := range c.b.hosts {
		p := c.cfg.PartitionOf([]byte(h))
		byPart[p] = append(byPart[p], h)
	}
	out := append([]*kgo.Record(nil), c.b.dead...)
	for p := int32(0); p < c.cfg.Partitions; p++ {
		hosts := byPart[p]
		due := len(hosts) > 0
		for _, s := range stamps {
			due = due || c.fan.Due(p, s, now)
		}
		if !due {
			continue
		}
		for _, s := range stamps {
			c.fan.Sent(p, s, now)
		}
		sort.Strings(hosts)
		partial := &schemas.ErrorRatePartial{Hosts: make([]schemas.PartialHost, 0, len(hosts))}
		for _, name := range hosts {
			partial.Hosts = append(partial.Hosts, c.b.hosts[name].partial(name))
		}
		v, err := c.cfg.PartialCodec.Marshal(partial)
		if err != nil {
			// Every field is ours: a failure is a bug, not bad input.
			return nil, fmt.Errorf("errorrate: combine: encoding a partial: %w", err)
		}
		out = append(out, &kgo.Record{
			Topic: c.cfg.Partials, Key: []byte(c.cfg.KeyFor(p)), Value: v,
			Headers: []kgo.RecordHeader{{Key: watermark.HeaderStamp, Value: watermark.Encode(stamps...)}},
		})
	}
	return out, nil
}

// partial renders a host's counts, ticks and panes by start.
func (h *hostAgg) partial(name string) schemas.PartialHost {
	ph := schemas.PartialHost{Host: name, Future: h.future, Ticks: make([]schemas.TickCount, 0, len(h.ticks))}
	for start, n := range h.ticks {
		ph.Ticks = append(ph.Ticks, schemas.TickCount{Start: start, Events: n[0], Errors: n[1]})
	}
	sort.Slice(ph.Ticks, func(i, j int) bool { return ph.Ticks[i].Start < ph.Ticks[j].Start })
	for start, p := range h.panes {
		ph.Panes = append(ph.Panes, schemas.PartialPane{Start: start, FirstError: p.firstError,
			Latency: p.sketch.AppendBinary(nil), Signatures: p.sigs, Samples: p.samples})
	}
	sort.Slice(ph.Panes, func(i, j int) bool { return ph.Panes[i].Start < ph.Panes[j].Start })
	return ph
}

// Watermarks reports each owned partition of Events: its watermark, its
// status and its channels, for metrics.
func (c *Combiner) Watermarks(fn func(partition int32, wm int64, kind watermark.Kind)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, p := range c.parts {
		wm, kind := p.tracker.Watermark()
		fn(k, wm, kind)
	}
}

func sampleOf(ev *schemas.LogEvent, msg string) schemas.Sample {
	s := schemas.Sample{TraceID: *ev.TraceID, EventID: ev.EventID, Timestamp: ev.Timestamp, Message: clip(msg, 200),
		SpanService: ev.SpanService, SpanOperation: ev.SpanOperation, SpanDurationUs: -1}
	if ev.SpanDurationUs != nil {
		s.SpanDurationUs = *ev.SpanDurationUs
	}
	return s
}

// endOffsets answers CaughtUp from the brokers, asking at most every
// every: end offsets of the topic against the position (the last offset
// read, or the group's committed offset for a partition not read yet).
type endOffsets struct {
	adm   *kadm.Client
	topic string
	group string
	every time.Duration
	at    time.Time
	ends  map[int32]int64
	comm  map[int32]int64
}

func (e *endOffsets) caughtUp(partition int32, last int64) bool {
	if time.Since(e.at) >= e.every {
		e.at = time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ends, err := e.adm.ListEndOffsets(ctx, e.topic)
		if err != nil {
			e.ends = nil
			return false
		}
		e.ends, e.comm = map[int32]int64{}, map[int32]int64{}
		ends.Each(func(o kadm.ListedOffset) {
			if o.Err == nil {
				e.ends[o.Partition] = o.Offset
			}
		})
		if offs, err := e.adm.FetchOffsets(ctx, e.group); err == nil {
			offs.Each(func(o kadm.OffsetResponse) {
				if o.Topic == e.topic && o.Err == nil {
					e.comm[o.Partition] = o.At
				}
			})
		}
	}
	end, ok := e.ends[partition]
	if !ok {
		return false
	}
	return end <= max(last+1, e.comm[partition])
}
