package sinks_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/sinks"
	"github.com/logstream/logstream/sinks/internal/sinktest"
	"github.com/logstream/logstream/topology"
)

const (
	testTopic = topology.TopicEnriched
	fakeName  = "fake"
	fakeStage = "sink-" + fakeName
)

// runnerBase is the time of the records the tests produce.
var runnerBase = time.Date(2026, 11, 21, 9, 40, 0, 0, time.UTC)

func runnerLogger() zerolog.Logger {
	if os.Getenv("LOGSTREAM_TEST_LOG") == "" {
		return zerolog.Nop()
	}
	return zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr}).With().Timestamp().Logger()
}

// fakeStore is an in-memory store shared by the fake sinks of a test. It
// is not idempotent: a record stored twice is counted twice, so the
// runner alone must keep every record exactly once.
type fakeStore struct {
	mu      sync.Mutex
	stored  map[sinktest.Key]int
	dead    map[sinktest.Key]bool // dead-lettered by a writer (Send returned)
	byOwner map[string]int        // records stored, by sink id
	opened  map[string]int        // partition writers opened, by sink id
	added   int                   // records buffered
	fail    bool                  // Flush fails
	block   bool                  // Flush blocks until its context ends, storing nothing
	blocked chan struct{}         // signalled when a Flush blocks
	delay   time.Duration         // each successful Flush takes this long

	flushes, failed   int
	inflight, maxBusy int
}

func newFakeStore() *fakeStore {
	return &fakeStore{
		stored: map[sinktest.Key]int{}, dead: map[sinktest.Key]bool{},
		byOwner: map[string]int{}, opened: map[string]int{},
		blocked: make(chan struct{}, 1),
	}
}

func (s *fakeStore) set(f func(s *fakeStore)) {
	s.mu.Lock()
	f(s)
	s.mu.Unlock()
}

func (s *fakeStore) get(f func(s *fakeStore) int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return f(s)
}

// keys returns every stored record, with repeats.
func (s *fakeStore) keys() []sinktest.Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sinktest.Key
	for k, n := range s.stored {
		for i := 0; i < n; i++ {
			out = append(out, k)
		}
	}
	return out
}

func (s *fakeStore) has(k sinktest.Key) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stored[k] > 0 || s.dead[k]
}

// fakeSink buffers batch records per flush; values that are not Avro
// (sinktest's poison) are dead-lettered.
type fakeSink struct {
	id     string
	store  *fakeStore
	batch  int
	maxAge time.Duration
	checks atomic.Int32
	check  func(n int) error // the n-th Check's answer (1-based); nil: ok
	// onOpen, if set, is called (under the store's lock) when a partition
	// writer is opened.
	onOpen func(st *fakeStore)
}

func (s *fakeSink) Name() string { return fakeName }

func (s *fakeSink) Check(ctx context.Context) error {
	n := int(s.checks.Add(1))
	if s.check != nil {
		return s.check(n)
	}
	return nil
}

func (s *fakeSink) NewPartition(topic string, partition int32, dead sinks.DeadLetters) (sinks.PartitionWriter, error) {
	s.store.set(func(st *fakeStore) {
		st.opened[s.id]++
		if s.onOpen != nil {
			s.onOpen(st)
		}
	})
	return &fakeWriter{s: s, topic: topic, partition: partition, dl: dead, next: -1}, nil
}

type fakeWriter struct {
	s         *fakeSink
	topic     string
	partition int32
	dl        sinks.DeadLetters
	buf       []*kgo.Record
	opened    time.Time
	next      int64
}

func isPoison(r *kgo.Record) bool { return strings.HasPrefix(string(r.Value), "not avro") }

func (w *fakeWriter) Add(ctx context.Context, r *kgo.Record) error {
	if isPoison(r) {
		if err := w.dl.Send(ctx, r, fmt.Errorf("fake sink: record %d is not a LogEvent", r.Offset)); err != nil {
			return err
		}
		w.s.store.set(func(st *fakeStore) {
			st.dead[sinktest.Key{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}] = true
		})
		w.next = r.Offset + 1
		return nil
	}
	if len(w.buf) == 0 {
		w.opened = time.Now()
	}
	w.buf = append(w.buf, r)
	w.next = r.Offset + 1
	w.s.store.set(func(st *fakeStore) { st.added++ })
	return nil
}

// Full reports a complete batch and the next one started: like the S3
// writer's closed objects and the one being filled, Flush(false) writes
// the complete batches only, so the writer holds records after it and
// Committable is behind the last record added.
func (w *fakeWriter) Full() bool { return len(w.buf) > w.s.batch }

func (w *fakeWriter) Due() time.Time {
	if len(w.buf) == 0 {
		return time.Time{}
	}
	return w.opened.Add(w.s.maxAge)
}

func (w *fakeWriter) Flush(ctx context.Context, all bool) error {
	st := w.s.store
	st.mu.Lock()
	st.flushes++
	st.inflight++
	st.maxBusy = max(st.maxBusy, st.inflight)
	fail, block, delay := st.fail, st.block, st.delay
	if fail {
		st.failed++
	}
	st.mu.Unlock()
	defer st.set(func(st *fakeStore) { st.inflight-- })
	if block {
		select {
		case st.blocked <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return ctx.Err()
	}
	if fail {
		return errors.New("fake store: 503 Service Unavailable")
	}
	n := len(w.buf)
	if !all {
		n -= n % w.s.batch
	}
	if n == 0 {
		return nil
	}
	if delay > 0 {
		time.Sleep(delay)
	}
	st.set(func(st *fakeStore) {
		for _, r := range w.buf[:n] {
			st.stored[sinktest.Key{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}]++
			st.byOwner[w.s.id]++
		}
	})
	w.buf = w.buf[n:]
	if len(w.buf) > 0 {
		w.opened = time.Now()
	}
	return nil
}

func (w *fakeWriter) Committable() int64 {
	if len(w.buf) > 0 {
		return w.buf[0].Offset
	}
	return w.next
}

func (w *fakeWriter) Close() { w.buf = nil }

// testRunner is one running sinks.Runner with its own metrics registry.
type testRunner struct {
	r      *sinks.Runner
	reg    *prometheus.Registry
	done   chan error
	cancel context.CancelFunc
	ended  bool
}

func baseConfig(b *sinktest.Broker, group string, s sinks.Sink) sinks.Config {
	return sinks.Config{
		Brokers:        b.Brokers,
		Group:          group,
		Topics:         []string{testTopic},
		Sink:           s,
		Codecs:         b.Codecs,
		MaxConcurrency: 2,
		Breaker:        sinks.BreakerConfig{MaxFailures: 3, Timeout: time.Second},
		RetryInitial:   10 * time.Millisecond,
		RetryMax:       50 * time.Millisecond,
		RevokeTimeout:  5 * time.Second,
		Logger:         runnerLogger(),
		KafkaOpts: []kgo.Opt{
			kgo.SessionTimeout(6 * time.Second),
			kgo.HeartbeatInterval(300 * time.Millisecond),
			kgo.RebalanceTimeout(15 * time.Second),
			kgo.FetchMaxWait(100 * time.Millisecond),
		},
	}
}

func startRunner(t *testing.T, cfg sinks.Config) *testRunner {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Metrics = sinks.NewMetrics()
	if err := cfg.Metrics.Register(reg); err != nil {
		t.Fatal(err)
	}
	r, err := sinks.NewRunner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tr := &testRunner{r: r, reg: reg, done: make(chan error, 1), cancel: cancel}
	go func() { tr.done <- r.Run(ctx) }()
	t.Cleanup(func() {
		if !tr.ended {
			r.Abort()
			cancel()
			<-tr.done
		}
	})
	return tr
}

func (tr *testRunner) wait(t *testing.T, what string) {
	t.Helper()
	select {
	case err := <-tr.done:
		tr.ended = true
		if err != nil {
			t.Fatalf("%s: Run: %v", what, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: Run did not return within 20 s", what)
	}
}

// stop stops the runner gracefully: it writes and commits what it holds.
func (tr *testRunner) stop(t *testing.T) {
	t.Helper()
	tr.cancel()
	tr.wait(t, "stop")
}

// kill stops it as a crash would.
func (tr *testRunner) kill(t *testing.T) {
	t.Helper()
	tr.r.Abort()
	tr.wait(t, "abort")
	tr.cancel()
}

// running fails the test when the runner returned on its own.
func (tr *testRunner) running(t *testing.T) {
	t.Helper()
	select {
	case err := <-tr.done:
		tr.ended = true
		t.Fatalf("runner stopped on its own: %v", err)
	default:
	}
}

// metric returns the value of the gauge or counter name whose labels
// include want; ok is false when there is none.
func (tr *testRunner) metric(t *testing.T, name string, want map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := tr.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue metrics
				}
			}
			return metricValue(m), true
		}
	}
	return 0, false
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

func (tr *testRunner) gauge(t *testing.T, name string) float64 {
	t.Helper()
	v, ok := tr.metric(t, name, map[string]string{"sink": fakeName})
	if !ok {
		t.Fatalf("no %s{sink=%q}", name, fakeName)
	}
	return v
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func committed(t *testing.T, b *sinktest.Broker, group string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := b.Committed(ctx, group, testTopic)
	if err != nil {
		if strings.Contains(err.Error(), "GROUP_ID_NOT_FOUND") {
			return map[int32]int64{} // the group has not committed yet
		}
		t.Fatal(err)
	}
	return c
}

// waitCommitted waits until the group committed every partition's end,
// with the runners still running, and checks the commit is exactly the
// end (a commit past it would skip records produced later).
func waitCommitted(t *testing.T, b *sinktest.Broker, group string, p *sinktest.Produced, timeout time.Duration, rs ...*testRunner) {
	t.Helper()
	var last map[int32]int64
	deadline := time.Now().Add(timeout)
	for {
		for _, r := range rs {
			r.running(t)
		}
		last = committed(t, b, group)
		done := true
		for part, end := range p.End {
			if last[part] < end {
				done = false
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s did not commit the end within %s: committed %v, end %v", group, timeout, last, p.End)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for part, c := range last {
		if c != p.End[part] {
			t.Fatalf("partition %d committed at %d, the end is %d", part, c, p.End[part])
		}
	}
}

// commitWatch samples the group's commits while the runners run and
// checks that every record before a committed offset was in the store (or
// dead-lettered) by then: a commit never runs ahead of the store.
type commitWatch struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	bad  []string
	n    int
}

func watchCommits(b *sinktest.Broker, group string, st *fakeStore) *commitWatch {
	w := &commitWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(25 * time.Millisecond):
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			c, err := b.Committed(ctx, group, testTopic)
			cancel()
			if err != nil {
				continue
			}
			// Read after the commit: what was stored before it is in.
			for part, off := range c {
				for o := int64(0); o < off; o++ {
					k := sinktest.Key{Topic: testTopic, Partition: part, Offset: o}
					if !st.has(k) {
						w.mu.Lock()
						w.bad = append(w.bad, fmt.Sprintf("partition %d committed at %d but %v is not in the store", part, off, k))
						w.mu.Unlock()
						break
					}
				}
			}
			w.mu.Lock()
			w.n++
			w.mu.Unlock()
		}
	}()
	return w
}

func (w *commitWatch) check(t *testing.T) {
	t.Helper()
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.bad) > 0 {
		t.Fatalf("commits ran ahead of the store (%d samples):\n%s", w.n, strings.Join(w.bad[:min(len(w.bad), 10)], "\n"))
	}
	if w.n == 0 {
		t.Fatal("the commit watch took no sample")
	}
}

func newRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed*31+7)) }

// TestRunnerExactlyOnce: every record stored exactly once, the committed
// offsets equal the end offsets, every commit is behind the store, no
// more flushes in flight than MaxConcurrency, and the per-partition
// committed/lag gauges follow.
func TestRunnerExactlyOnce(t *testing.T) {
	t.Parallel()
	const parts = 4
	b := sinktest.StartBroker(t, testTopic, parts)
	rng := newRNG(1)
	var p sinktest.Produced
	b.Produce(t, testTopic, parts, 600, 0, runnerBase, rng, &p)

	st := newFakeStore()
	st.delay = 2 * time.Millisecond
	group := "sink-fake-once"
	watch := watchCommits(b, group, st)
	cfg := baseConfig(b, group, &fakeSink{id: "w1", store: st, batch: 25, maxAge: 100 * time.Millisecond})
	cfg.QueueRecords = 30 // the partitions pause and resume
	w := startRunner(t, cfg)
	waitCommitted(t, b, group, &p, 30*time.Second, w)
	// More records, after the first commit.
	b.Produce(t, testTopic, parts, 300, 0, runnerBase, rng, &p)
	waitCommitted(t, b, group, &p, 30*time.Second, w)
	watch.check(t)

	for part, end := range p.End {
		labels := map[string]string{"sink": fakeName, "topic": testTopic, "partition": strconv.Itoa(int(part))}
		if v, ok := w.metric(t, "logstream_sink_committed_offset", labels); !ok || int64(v) != end {
			t.Errorf("logstream_sink_committed_offset %v (%v) for partition %d, want %d", v, ok, part, end)
		}
		if v, ok := w.metric(t, "logstream_sink_lag_records", labels); !ok || v != 0 {
			t.Errorf("logstream_sink_lag_records %v (%v) for partition %d, want 0", v, ok, part)
		}
	}
	if v, _ := w.metric(t, "logstream_sink_records_consumed_total", map[string]string{"sink": fakeName, "topic": testTopic}); int(v) != p.Count {
		t.Errorf("logstream_sink_records_consumed_total %v, want %d", v, p.Count)
	}
	if v := w.gauge(t, "logstream_sink_circuit_state"); v != 0 {
		t.Errorf("circuit state %v, want 0", v)
	}
	w.stop(t)

	sinktest.Verify(t, &p, st.keys(), nil)
	if busy := st.get(func(s *fakeStore) int { return s.maxBusy }); busy > cfg.MaxConcurrency {
		t.Fatalf("%d flushes in flight at once, MaxConcurrency is %d", busy, cfg.MaxConcurrency)
	}
}

// TestRunnerStopWritesWhatItHolds: at shutdown a batch that is neither
// full nor due is written and committed.
func TestRunnerStopWritesWhatItHolds(t *testing.T) {
	t.Parallel()
	b := sinktest.StartBroker(t, testTopic, 2)
	var p sinktest.Produced
	b.Produce(t, testTopic, 2, 40, 0, runnerBase, newRNG(2), &p)
	st := newFakeStore()
	group := "sink-fake-stop"
	w := startRunner(t, baseConfig(b, group, &fakeSink{id: "w1", store: st, batch: 1000, maxAge: time.Hour}))
	waitFor(t, 30*time.Second, "the records to be buffered", func() bool {
		w.running(t)
		return st.get(func(s *fakeStore) int { return s.added }) == p.Count
	})
	if n := len(st.keys()); n != 0 {
		t.Fatalf("%d records stored before the batch was full or due", n)
	}
	if c := committed(t, b, group); len(c) != 0 {
		t.Fatalf("committed %v before anything was stored", c)
	}
	w.stop(t)
	sinktest.Verify(t, &p, st.keys(), nil)
	for part, end := range p.End {
		if c := committed(t, b, group)[part]; c != end {
			t.Fatalf("partition %d committed %d after the stop, want %d", part, c, end)
		}
	}
}

// TestRunnerBreakerPausesAndRecovers: a store that fails opens the
// breaker after MaxFailures flushes, which pauses consumption (gauges 1
// and 1) and paces the attempts to one probe per timeout; nothing past
// the store is committed; when the store recovers, a probe closes the
// breaker (gauges 0 and 0) and everything is written exactly once.
func TestRunnerBreakerPausesAndRecovers(t *testing.T) {
	t.Parallel()
	const parts = 2
	b := sinktest.StartBroker(t, testTopic, parts)
	rng := newRNG(3)
	var p sinktest.Produced
	b.Produce(t, testTopic, parts, 100, 0, runnerBase, rng, &p)
	st := newFakeStore()
	group := "sink-fake-breaker"
	watch := watchCommits(b, group, st)
	cfg := baseConfig(b, group, &fakeSink{id: "w1", store: st, batch: 20, maxAge: 50 * time.Millisecond})
	w := startRunner(t, cfg)
	waitCommitted(t, b, group, &p, 30*time.Second, w)
	before := committed(t, b, group)
	if w.gauge(t, "logstream_sink_circuit_state") != 0 || w.gauge(t, "logstream_sink_consumption_paused") != 0 {
		t.Fatal("breaker not closed while the store works")
	}

	st.set(func(s *fakeStore) { s.fail = true })
	b.Produce(t, testTopic, parts, 100, 0, runnerBase, rng, &p)
	// The runner sets the two gauges one after the other: wait for both.
	waitFor(t, 20*time.Second, "the breaker to open and pause consumption (circuit_state 1, consumption_paused 1)", func() bool {
		w.running(t)
		return w.gauge(t, "logstream_sink_circuit_state") == float64(sinks.Open) &&
			w.gauge(t, "logstream_sink_consumption_paused") == 1
	})
	if failed := st.get(func(s *fakeStore) int { return s.failed }); failed < cfg.Breaker.MaxFailures {
		t.Fatalf("breaker open after %d failed flushes, MaxFailures is %d", failed, cfg.Breaker.MaxFailures)
	}
	if v, _ := w.metric(t, "logstream_sink_flushes_total", map[string]string{"sink": fakeName, "result": "failed"}); int(v) < cfg.Breaker.MaxFailures {
		t.Fatalf("logstream_sink_flushes_total{result=failed} %v, want at least %d", v, cfg.Breaker.MaxFailures)
	}

	// While open, the writers wait for the probe instead of retrying
	// every RetryMax (50 ms): over 1.6 s, at most one probe per second
	// and the failures of flushes let through before the breaker opened.
	attempts := st.get(func(s *fakeStore) int { return s.flushes })
	time.Sleep(1600 * time.Millisecond)
	attempts = st.get(func(s *fakeStore) int { return s.flushes }) - attempts
	t.Logf("%d flush attempts in 1.6 s with the breaker open", attempts)
	if attempts < 1 || attempts > 4 {
		t.Fatalf("%d flush attempts in 1.6 s with the breaker open (timeout 1 s): want one or two probes", attempts)
	}
	if v := w.gauge(t, "logstream_sink_circuit_state"); v == float64(sinks.Closed) {
		t.Fatal("breaker closed although every probe failed")
	}
	if v := w.gauge(t, "logstream_sink_consumption_paused"); v != 1 {
		t.Fatalf("logstream_sink_consumption_paused %v while the probes fail, want 1", v)
	}
	// Nothing beyond what was stored is committed.
	if now := committed(t, b, group); fmt.Sprint(now) != fmt.Sprint(before) {
		t.Fatalf("committed %v while the store failed, it was %v", now, before)
	}

	st.set(func(s *fakeStore) { s.fail = false })
	waitFor(t, 10*time.Second, "the breaker to close and resume consumption (circuit_state 0, consumption_paused 0)", func() bool {
		return w.gauge(t, "logstream_sink_circuit_state") == float64(sinks.Closed) &&
			w.gauge(t, "logstream_sink_consumption_paused") == 0
	})
	// Consumption resumed: records produced now are written too.
	b.Produce(t, testTopic, parts, 100, 0, runnerBase, rng, &p)
	waitCommitted(t, b, group, &p, 30*time.Second, w)
	watch.check(t)
	if w.r.Breaker().State() != sinks.Closed {
		t.Fatalf("breaker %s after recovery", w.r.Breaker().State())
	}
	w.stop(t)
	sinktest.Verify(t, &p, st.keys(), nil)
}

// TestRunnerDeadLetters: records the sink rejects are on logs.dlq with
// the sink's stage, never stored, and committed past.
func TestRunnerDeadLetters(t *testing.T) {
	t.Parallel()
	const parts = 3
	b := sinktest.StartBroker(t, testTopic, parts)
	var p sinktest.Produced
	b.Produce(t, testTopic, parts, 300, 10, runnerBase, newRNG(4), &p)
	if len(p.Poison) == 0 {
		t.Fatal("no poison record produced")
	}
	st := newFakeStore()
	group := "sink-fake-dlq"
	watch := watchCommits(b, group, st)
	w := startRunner(t, baseConfig(b, group, &fakeSink{id: "w1", store: st, batch: 16, maxAge: 50 * time.Millisecond}))
	waitCommitted(t, b, group, &p, 30*time.Second, w)
	watch.check(t)
	if v, _ := w.metric(t, "logstream_sink_dead_letters_total", map[string]string{"sink": fakeName}); int(v) < len(p.Poison) {
		t.Fatalf("logstream_sink_dead_letters_total %v, want at least %d", v, len(p.Poison))
	}
	w.stop(t)
	dead := b.DeadLetters(t, fakeStage)
	sinktest.Verify(t, &p, st.keys(), dead)
	for _, k := range dead {
		if !p.Poison[k] {
			t.Fatalf("%v dead-lettered but it is a good record", k)
		}
	}
	if other := b.DeadLetters(t, "sink-other"); len(other) != 0 {
		t.Fatalf("dead letters of another stage: %v", other)
	}
}

// TestRunnerRebalance: a second member joins the group while the first
// writes, then the first leaves: every record is stored exactly once,
// and both members stored some.
func TestRunnerRebalance(t *testing.T) {
	t.Parallel()
	const parts = 4
	b := sinktest.StartBroker(t, testTopic, parts)
	rng := newRNG(5)
	var p sinktest.Produced
	b.Produce(t, testTopic, parts, 800, 0, runnerBase, rng, &p)
	st := newFakeStore()
	// Slow until the second member gets partitions, so that the first is
	// still writing when they move.
	st.delay = 25 * time.Millisecond
	group := "sink-fake-rebalance"
	watch := watchCommits(b, group, st)
	w1 := startRunner(t, baseConfig(b, group, &fakeSink{id: "w1", store: st, batch: 5, maxAge: 50 * time.Millisecond}))
	waitFor(t, 30*time.Second, "the first member to write", func() bool {
		w1.running(t)
		return st.get(func(s *fakeStore) int { return s.byOwner["w1"] }) >= 20
	})
	atJoin := -1
	w2 := startRunner(t, baseConfig(b, group, &fakeSink{id: "w2", store: st, batch: 5, maxAge: 50 * time.Millisecond, onOpen: func(st *fakeStore) {
		if atJoin < 0 {
			atJoin = st.byOwner["w1"]
			st.delay = time.Millisecond
		}
	}}))
	waitFor(t, 30*time.Second, "the second member to get partitions", func() bool {
		w1.running(t)
		w2.running(t)
		return st.get(func(s *fakeStore) int { return s.opened["w2"] }) > 0
	})
	if at := st.get(func(*fakeStore) int { return atJoin }); at >= 800 {
		t.Fatalf("the first member had stored everything (%d) before the second got partitions: no rebalance while writing", at)
	}
	b.Produce(t, testTopic, parts, 400, 0, runnerBase, rng, &p)
	waitCommitted(t, b, group, &p, 45*time.Second, w1, w2)

	// The first leaves; the second takes its partitions over.
	w1.stop(t)
	b.Produce(t, testTopic, parts, 200, 0, runnerBase, rng, &p)
	waitCommitted(t, b, group, &p, 45*time.Second, w2)
	watch.check(t)
	w2.stop(t)

	sinktest.Verify(t, &p, st.keys(), nil)
	n1 := st.get(func(s *fakeStore) int { return s.byOwner["w1"] })
	n2 := st.get(func(s *fakeStore) int { return s.byOwner["w2"] })
	if n1 == 0 || n2 == 0 || n1+n2 != p.Count {
		t.Fatalf("stored by the first member %d, by the second %d, produced %d", n1, n2, p.Count)
	}
	if o := st.get(func(s *fakeStore) int { return s.opened["w2"] }); o <= 2 {
		t.Fatalf("the second member opened %d partition writers: it did not take the first's over", o)
	}
	t.Logf("the first member had stored %d of 800 records when the second got partitions; stored %d and %d in all", atJoin, n1, n2)
}

// storedPrefix is, per partition, the first offset not in the store
// (the fake stores each partition in order).
func storedPrefix(st *fakeStore, p *sinktest.Produced) map[int32]int64 {
	out := map[int32]int64{}
	for part := range p.End {
		off := int64(0)
		for st.has(sinktest.Key{Topic: p.Topic, Partition: part, Offset: off}) {
			off++
		}
		out[part] = off
	}
	return out
}

// TestRunnerAbortLeavesLastFlushUncommitted: the runner commits exactly
// what the writer reports stored (not the records it holds); Abort cuts
// a flush in flight short and commits nothing more; a restarted runner
// writes the rest, exactly once.
func TestRunnerAbortLeavesLastFlushUncommitted(t *testing.T) {
	t.Parallel()
	const parts = 2
	b := sinktest.StartBroker(t, testTopic, parts)
	rng := newRNG(6)
	var p sinktest.Produced
	b.Produce(t, testTopic, parts, 95, 0, runnerBase, rng, &p)
	st := newFakeStore()
	group := "sink-fake-abort"
	// Never due: the writer holds what follows its last complete batch.
	w1 := startRunner(t, baseConfig(b, group, &fakeSink{id: "w1", store: st, batch: 10, maxAge: time.Hour}))
	var prefix map[int32]int64
	waitFor(t, 30*time.Second, "the complete batches to be stored and committed", func() bool {
		w1.running(t)
		if st.get(func(s *fakeStore) int { return s.added }) != p.Count {
			return false
		}
		prefix = storedPrefix(st, &p)
		return fmt.Sprint(committed(t, b, group)) == fmt.Sprint(prefix)
	})
	for part, off := range prefix {
		if off >= p.End[part] || off == 0 {
			t.Fatalf("partition %d: stored up to %d of %d; want complete batches stored and the rest held", part, off, p.End[part])
		}
	}
	storedFirst := len(st.keys())

	// The next flush blocks until the abort cancels it.
	st.set(func(s *fakeStore) { s.block = true })
	b.Produce(t, testTopic, parts, 30, 0, runnerBase, rng, &p)
	select {
	case <-st.blocked:
	case <-time.After(20 * time.Second):
		t.Fatal("no flush of the new records started")
	}
	start := time.Now()
	w1.kill(t)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Abort took %s with a flush in flight", d)
	}
	if now := committed(t, b, group); fmt.Sprint(now) != fmt.Sprint(prefix) {
		t.Fatalf("committed %v after the abort, it was %v before the cut flush", now, prefix)
	}
	if n := len(st.keys()); n != storedFirst {
		t.Fatalf("%d records stored after the abort, %d before", n, storedFirst)
	}

	st.set(func(s *fakeStore) { s.block = false })
	w2 := startRunner(t, baseConfig(b, group, &fakeSink{id: "w2", store: st, batch: 10, maxAge: 50 * time.Millisecond}))
	waitCommitted(t, b, group, &p, 30*time.Second, w2)
	w2.stop(t)
	sinktest.Verify(t, &p, st.keys(), nil)
	if n := st.get(func(s *fakeStore) int { return s.byOwner["w2"] }); n != p.Count-storedFirst {
		t.Fatalf("the restarted runner stored %d records, want the %d the aborted one did not", n, p.Count-storedFirst)
	}
}

// TestRunnerCheck: a store check that fails for good ends Run at once
// with the sink's reason; a transient failure is retried.
func TestRunnerCheck(t *testing.T) {
	t.Parallel()
	b := sinktest.StartBroker(t, testTopic, 1)

	perm := &fakeSink{id: "perm", store: newFakeStore(), batch: 1, maxAge: time.Second, check: func(int) error {
		return &sinks.Permanent{Err: errors.New("bucket \"x\" does not exist: fix --s3-bucket")}
	}}
	cfg := baseConfig(b, "sink-fake-check", perm)
	r, err := sinks.NewRunner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = r.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "sink fake:") || !strings.Contains(err.Error(), "--s3-bucket") {
		t.Fatalf("Run: %v, want the check's error naming the sink and the setting", err)
	}
	var pe *sinks.Permanent
	if !errors.As(err, &pe) {
		t.Fatalf("Run's error %v does not wrap the *sinks.Permanent", err)
	}
	if n := perm.checks.Load(); n != 1 {
		t.Fatalf("a permanent check failure was tried %d times", n)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Run took %s to report a permanent check failure", d)
	}

	flaky := &fakeSink{id: "flaky", store: newFakeStore(), batch: 1, maxAge: time.Second, check: func(n int) error {
		if n <= 2 {
			return errors.New("503 SlowDown")
		}
		return nil
	}}
	w := startRunner(t, baseConfig(b, "sink-fake-check", flaky))
	waitFor(t, 30*time.Second, "the runner to be ready after a flaky check", func() bool {
		w.running(t)
		return w.r.Ready()
	})
	if n := flaky.checks.Load(); n != 3 {
		t.Fatalf("checked %d times, want 3 (two failures, one success)", n)
	}
	w.stop(t)
	if w.r.Ready() {
		t.Fatal("still ready after Run returned")
	}

	down := &fakeSink{id: "down", store: newFakeStore(), batch: 1, maxAge: time.Second, check: func(int) error {
		return errors.New("connection refused")
	}}
	r, err = sinks.NewRunner(baseConfig(b, "sink-fake-check", down))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Run with a store that stays down: %v", err)
	}
	if n := down.checks.Load(); n != 4 {
		t.Fatalf("a transient check failure was tried %d times, want 4", n)
	}
}

func TestRunnerValidate(t *testing.T) {
	t.Parallel()
	set := codecSet(t)
	base := func() sinks.Config {
		return sinks.Config{
			Brokers: []string{"127.0.0.1:1"}, Group: "g", Topics: []string{testTopic},
			Sink: &fakeSink{id: "v", store: newFakeStore(), batch: 1}, Codecs: set,
		}
	}
	if _, err := sinks.NewRunner(base()); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(c *sinks.Config)
		want string
	}{
		{"concurrency negative", func(c *sinks.Config) { c.MaxConcurrency = -1 }, "MAX_CONCURRENCY"},
		{"concurrency too high", func(c *sinks.Config) { c.MaxConcurrency = 1025 }, "MAX_CONCURRENCY"},
		{"failures negative", func(c *sinks.Config) { c.Breaker.MaxFailures = -1 }, "CIRCUIT_BREAKER_MAX_FAILURES"},
		{"failures too high", func(c *sinks.Config) { c.Breaker.MaxFailures = 1001 }, "CIRCUIT_BREAKER_MAX_FAILURES"},
		{"timeout too short", func(c *sinks.Config) { c.Breaker.Timeout = 500 * time.Millisecond }, "CIRCUIT_BREAKER_TIMEOUT_SEC"},
		{"timeout too long", func(c *sinks.Config) { c.Breaker.Timeout = 2 * time.Hour }, "CIRCUIT_BREAKER_TIMEOUT_SEC"},
		{"queue", func(c *sinks.Config) { c.QueueRecords = -1 }, "QueueRecords"},
		{"brokers", func(c *sinks.Config) { c.Brokers = nil }, "brokers"},
		{"group", func(c *sinks.Config) { c.Group = "" }, "group"},
		{"topics", func(c *sinks.Config) { c.Topics = nil }, "topics"},
		{"sink", func(c *sinks.Config) { c.Sink = nil }, "sink"},
		{"codecs", func(c *sinks.Config) { c.Codecs = nil }, "dead letters"},
	} {
		c := base()
		tc.edit(&c)
		_, err := sinks.NewRunner(c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
	// Validate itself does not fill defaults in.
	c := base()
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "MAX_CONCURRENCY") {
		t.Errorf("Validate of a config without MaxConcurrency: %v", err)
	}
}
