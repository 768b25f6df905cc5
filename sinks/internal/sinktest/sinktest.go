// Package sinktest runs randomised exactly-once trials of a sink writer:
// records on an embedded Kafka broker, writers that crash at random
// points (between an upload and its commit among them), an optional
// second writer on the same partitions, then a clean writer that catches
// up; finally the store is read back and must hold every record of the
// topic's range exactly once, with the records that cannot be stored in
// the dead-letter topic instead.
package sinktest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/sinks"
	"github.com/logstream/logstream/topology"
)

// Key names one stored record.
type Key struct {
	Topic     string
	Partition int32
	Offset    int64
}

func (k Key) String() string { return fmt.Sprintf("%s/%d@%d", k.Topic, k.Partition, k.Offset) }

// Broker is an embedded Kafka cluster with the sink's topics.
type Broker struct {
	Brokers []string
	Client  *kgo.Client
	Codecs  *codecs.Set
	cluster *kfake.Cluster
}

// StartBroker starts kfake with topic (partitions) and the dead-letter
// topic.
func StartBroker(t testing.TB, topic string, partitions int) *Broker {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(int32(partitions), topic), kfake.SeedTopics(1, topology.TopicDLQ))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	return &Broker{Brokers: c.ListenAddrs(), Client: cl, Codecs: set, cluster: c}
}

// Produced is what a trial wrote to the topic.
type Produced struct {
	Topic  string
	End    map[int32]int64 // per partition: the offset after the last record
	Poison map[Key]bool    // records that are not Avro: they must be dead letters
	Count  int
}

// Produce writes n LogEvents spread over the topic's partitions, with
// event times over the hours around base; every poisonEvery-th record
// (0: none) is a value that is no Avro record.
func (b *Broker) Produce(t testing.TB, topic string, partitions, n, poisonEvery int, base time.Time, rng *rand.Rand, into *Produced) {
	t.Helper()
	if into.End == nil {
		into.End, into.Poison, into.Topic = map[int32]int64{}, map[Key]bool{}, topic
	}
	recs := make([]*kgo.Record, 0, n)
	for i := 0; i < n; i++ {
		p := int32(rng.IntN(partitions))
		ev := &schemas.LogEvent{
			EventID:   fmt.Sprintf("ev-%d-%d", into.Count+i, rng.Uint64()),
			Timestamp: base.Add(time.Duration(into.Count+i) * 1700 * time.Millisecond).UnixMilli(),
			Host:      fmt.Sprintf("web-%d", rng.IntN(5)+1),
			Service:   "payments",
			Level:     schemas.LevelInfo,
			Message:   fmt.Sprintf("GET /api/charge %d took %d ms", i, rng.IntN(900)),
			Labels:    map[string]string{"Pod.Name": "api-7f9", "zone": "eu-1a"},
			Source:    "sinktest", Format: "json", Cluster: "test",
		}
		v, err := b.Codecs.LogEvent.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if poisonEvery > 0 && rng.IntN(poisonEvery) == 0 {
			v = []byte("not avro: " + ev.Message)
		}
		recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Key: []byte(ev.EventID), Value: v})
	}
	res := b.Client.ProduceSync(context.Background(), recs...)
	if err := res.FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		rec := r.Record
		if rec.Offset+1 > into.End[rec.Partition] {
			into.End[rec.Partition] = rec.Offset + 1
		}
		if len(rec.Value) > 4 && string(rec.Value[:4]) == "not " {
			into.Poison[Key{rec.Topic, rec.Partition, rec.Offset}] = true
		}
	}
	into.Count += n
}

// DeadLetters reads the dead-letter topic: the source keys of the dead
// letters that stage wrote, with repeats.
func (b *Broker) DeadLetters(t testing.TB, stage string) []Key {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := kadm.NewClient(b.Client)
	ends, err := adm.ListEndOffsets(ctx, topology.TopicDLQ)
	if err != nil {
		t.Fatal(err)
	}
	end := ends[topology.TopicDLQ][0].Offset
	if end == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Brokers...), kgo.ConsumeTopics(topology.TopicDLQ), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []Key
	for read := int64(0); read < end; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading the dead-letter topic: %v", ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			read++
			dl, err := b.Codecs.DeadLetter.Unmarshal(r.Value)
			if err != nil {
				t.Fatalf("dead letter @%d: %v", r.Offset, err)
			}
			if dl.Stage == stage {
				out = append(out, Key{dl.SourceTopic, dl.SourcePartition, dl.SourceOffset})
			}
		})
	}
	return out
}

// Committed returns the group's committed offsets for topic.
func (b *Broker) Committed(ctx context.Context, group, topic string) (map[int32]int64, error) {
	offs, err := kadm.NewClient(b.Client).FetchOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil {
			out[o.Partition] = o.At
		}
	})
	return out, nil
}

// Writer is a sink writer under trial.
type Writer struct {
	Runner *sinks.Runner
	done   chan error
	cancel context.CancelFunc
}

// RunnerConfig is what a trial needs to start a writer.
type RunnerConfig struct {
	Broker *Broker
	Group  string
	Topic  string
	Sink   sinks.Sink
	// Fast timeouts for tests.
	MaxConcurrency int
	Logger         zerolog.Logger
}

// Start starts a writer.
func Start(t testing.TB, rc RunnerConfig) *Writer {
	t.Helper()
	r, err := sinks.NewRunner(sinks.Config{
		Brokers:        rc.Broker.Brokers,
		Group:          rc.Group,
		Topics:         []string{rc.Topic},
		Sink:           rc.Sink,
		Codecs:         rc.Broker.Codecs,
		MaxConcurrency: max(rc.MaxConcurrency, 1),
		Breaker:        sinks.BreakerConfig{MaxFailures: 5, Timeout: time.Second},
		RetryInitial:   20 * time.Millisecond,
		RetryMax:       200 * time.Millisecond,
		RevokeTimeout:  10 * time.Second,
		Logger:         rc.Logger,
		KafkaOpts: []kgo.Opt{
			kgo.SessionTimeout(6 * time.Second),
			kgo.HeartbeatInterval(300 * time.Millisecond),
			kgo.RebalanceTimeout(15 * time.Second),
			kgo.FetchMaxWait(100 * time.Millisecond),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Writer{Runner: r, done: make(chan error, 1), cancel: cancel}
	go func() { w.done <- r.Run(ctx) }()
	return w
}

// Kill stops the writer as a crash would.
func (w *Writer) Kill() error {
	w.Runner.Abort()
	w.cancel()
	return <-w.done
}

// Stop stops it gracefully.
func (w *Writer) Stop() error {
	w.cancel()
	return <-w.done
}

// WaitCommitted waits until group has committed every partition's end;
// it fails at once when w stops on its own.
func (b *Broker) WaitCommitted(t testing.TB, group string, p *Produced, w *Writer, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last map[int32]int64
	for time.Now().Before(deadline) {
		select {
		case err := <-w.done:
			t.Fatalf("writer of group %s stopped before committing the end: %v", group, err)
		default:
		}
		c, err := b.Committed(context.Background(), group, p.Topic)
		if err == nil {
			last = c
			done := true
			for part, end := range p.End {
				if c[part] < end {
					done = false
				}
			}
			if done {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("group %s did not commit the topic's end within %s: committed %v, end %v", group, timeout, last, p.End)
}

// Verify checks exactly once: stored holds every record of the produced
// range once, except the poison records, which are dead letters (at least
// once: a replay may send one again) and never stored.
func Verify(t testing.TB, p *Produced, stored []Key, dead []Key) {
	t.Helper()
	seen := make(map[Key]int, len(stored))
	var problems []string
	for _, k := range stored {
		seen[k]++
	}
	deadSet := map[Key]bool{}
	for _, k := range dead {
		deadSet[k] = true
	}
	missing, doubled := 0, 0
	parts := make([]int32, 0, len(p.End))
	for part := range p.End {
		parts = append(parts, part)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	for _, part := range parts {
		for off := int64(0); off < p.End[part]; off++ {
			k := Key{p.Topic, part, off}
			n := seen[k]
			delete(seen, k)
			switch {
			case p.Poison[k]:
				if n != 0 {
					problems = append(problems, fmt.Sprintf("%v is poison but stored %d times", k, n))
				}
				if !deadSet[k] {
					problems = append(problems, fmt.Sprintf("%v is poison but not in the dead letters", k))
				}
			case n == 0:
				missing++
				if missing <= 5 {
					problems = append(problems, fmt.Sprintf("%v missing", k))
				}
			case n > 1:
				doubled++
				if doubled <= 5 {
					problems = append(problems, fmt.Sprintf("%v stored %d times", k, n))
				}
			}
		}
	}
	for k, n := range seen {
		problems = append(problems, fmt.Sprintf("%v stored %d times but never produced", k, n))
	}
	if len(problems) > 0 {
		t.Fatalf("exactly once broken: %d missing, %d doubled, %d stored in all:\n%s", missing, doubled, len(stored), strings.Join(problems, "\n"))
	}
}

// Trial is one randomised run's plan.
type Trial struct {
	Seed       uint64
	Partitions int
	Records    int
	Crashes    int  // writers killed at random points
	Zombie     bool // a second writer (another group) on the same partitions
}

// Plan draws a trial from seed.
func Plan(seed uint64) (Trial, *rand.Rand) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return Trial{
		Seed:       seed,
		Partitions: 1 + rng.IntN(3),
		Records:    300 + rng.IntN(1500),
		Crashes:    rng.IntN(4),
		Zombie:     rng.IntN(3) == 0,
	}, rng
}

// Crasher kills writers at random points: Hook is called by a sink
// wrapper after each successful flush (the upload is done, its commit not
// yet); it kills the current writer with probability p.
type Crasher struct {
	mu    sync.Mutex
	rng   *rand.Rand
	p     float64
	kill  func()
	Kills int
}

// NewCrasher returns a crasher drawing from rng.
func NewCrasher(rng *rand.Rand, p float64) *Crasher {
	return &Crasher{rng: rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())), p: p}
}

// Arm sets what a kill does (the current writer's Abort); nil disarms.
func (c *Crasher) Arm(kill func()) {
	c.mu.Lock()
	c.kill = kill
	c.mu.Unlock()
}

// AfterFlush maybe kills the writer; it reports whether it did, so the
// wrapper fails the flush (no commit follows a kill).
func (c *Crasher) AfterFlush() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kill == nil || c.rng.Float64() >= c.p {
		return false
	}
	c.kill()
	c.kill = nil
	c.Kills++
	return true
}

// CrashingSink wraps a sink so that the crasher may kill the writer right
// after a flush succeeded and before the runner commits it.
type CrashingSink struct {
	sinks.Sink
	Crasher *Crasher
}

// NewPartition wraps the partition writer.
func (s *CrashingSink) NewPartition(topic string, partition int32, dead sinks.DeadLetters) (sinks.PartitionWriter, error) {
	pw, err := s.Sink.NewPartition(topic, partition, dead)
	if err != nil {
		return nil, err
	}
	return &crashingWriter{PartitionWriter: pw, c: s.Crasher}, nil
}

type crashingWriter struct {
	sinks.PartitionWriter
	c *Crasher
}

func (w *crashingWriter) Flush(ctx context.Context, all bool) error {
	if err := w.PartitionWriter.Flush(ctx, all); err != nil {
		return err
	}
	if w.c.AfterFlush() {
		return fmt.Errorf("sinktest: killed between upload and commit")
	}
	return nil
}

// Env is what RunTrial needs from a sink's test.
type Env struct {
	Broker *Broker
	Topic  string
	Group  string
	// Stage is the dead letters' stage ("sink-s3").
	Stage string
	// NewSink returns a sink for one writer (faults on, as the test set
	// them up).
	NewSink func() sinks.Sink
	// ReadBack lists every record the store holds, with repeats.
	ReadBack func() []Key
	// PoisonEvery: one record in about this many is no Avro (0: none).
	PoisonEvery int
	// ZombieGroup is the second writer's group: "" means a group of its
	// own (a writer that copies everything again: the store alone must
	// refuse the repeats); the writers' group makes it a second member
	// that rebalances the partitions with the first.
	ZombieGroup string
	Logger      zerolog.Logger
}

// Stats are what a trial did, for the test's log.
type Stats struct {
	Records, Poison int
	Kills           int // writers killed
	KillsAfterWrite int // of which between a write and its commit
}

// Add sums o into s.
func (s *Stats) Add(o Stats) {
	s.Records += o.Records
	s.Poison += o.Poison
	s.Kills += o.Kills
	s.KillsAfterWrite += o.KillsAfterWrite
}

// RunTrial runs one trial and verifies the store.
func RunTrial(t testing.TB, e Env, tr Trial, rng *rand.Rand) Stats {
	kills := 0
	t.Helper()
	base := time.Date(2026, 11, 21, 9, 40, 0, 0, time.UTC)
	var p Produced
	first := tr.Records / 2
	e.Broker.Produce(t, e.Topic, tr.Partitions, first, e.PoisonEvery, base, rng, &p)
	crasher := NewCrasher(rng, 0.25)
	start := func(group string, crash bool) *Writer {
		var s sinks.Sink = e.NewSink()
		if crash {
			s = &CrashingSink{Sink: s, Crasher: crasher}
		}
		return Start(t, RunnerConfig{Broker: e.Broker, Group: group, Topic: e.Topic, Sink: s, MaxConcurrency: 1 + rng.IntN(3), Logger: e.Logger})
	}
	var zombie *Writer
	zgroup := e.ZombieGroup
	if zgroup == "" {
		zgroup = e.Group + "-zombie"
	}
	if tr.Zombie {
		zombie = start(zgroup, false)
	}
	produced := false
	for i := 0; i < tr.Crashes; i++ {
		w := start(e.Group, true)
		crasher.Arm(w.Runner.Abort)
		wait := time.Duration(200+rng.IntN(1500)) * time.Millisecond
		select {
		case err := <-w.done:
			w.done <- err
		case <-time.After(wait):
		}
		if !produced && i >= tr.Crashes/2 {
			e.Broker.Produce(t, e.Topic, tr.Partitions, tr.Records-first, e.PoisonEvery, base, rng, &p)
			produced = true
		}
		crasher.Arm(nil)
		if err := w.Kill(); err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
		kills++
	}
	if !produced {
		e.Broker.Produce(t, e.Topic, tr.Partitions, tr.Records-first, e.PoisonEvery, base, rng, &p)
	}
	w := start(e.Group, false)
	e.Broker.WaitCommitted(t, e.Group, &p, w, 90*time.Second)
	if zombie != nil {
		e.Broker.WaitCommitted(t, zgroup, &p, zombie, 90*time.Second)
	}
	if err := w.Stop(); err != nil {
		t.Fatal(err)
	}
	if zombie != nil {
		if err := zombie.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	Verify(t, &p, e.ReadBack(), e.Broker.DeadLetters(t, e.Stage))
	t.Logf("trial %d: %d partitions, %d records (%d poison), %d writers killed (%d between upload and commit), zombie %v",
		tr.Seed, tr.Partitions, p.Count, len(p.Poison), kills, crasher.Kills, tr.Zombie)
	return Stats{Records: p.Count, Poison: len(p.Poison), Kills: kills, KillsAfterWrite: crasher.Kills}
}
