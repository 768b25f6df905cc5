package paging

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

// hook is a webhook receiver: it fails the first `fail` requests with 503,
// answers 400 for alerts whose id is in refuse, and records every alert it
// accepted.
type hook struct {
	*httptest.Server
	mu       sync.Mutex
	fail     int
	refuse   map[string]bool
	requests int
	accepted map[string]int // alert id → accepted deliveries
}

func newHook(t *testing.T, fail int, refuse ...string) *hook {
	h := &hook{fail: fail, refuse: map[string]bool{}, accepted: map[string]int{}}
	for _, id := range refuse {
		h.refuse[id] = true
	}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var a schemas.Alert
		if err := json.Unmarshal(body, &a); err != nil || r.Header.Get("Idempotency-Key") != a.ID {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.requests++
		switch {
		case h.requests <= h.fail:
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		case h.refuse[a.ID]:
			http.Error(w, "refused", http.StatusBadRequest)
		default:
			h.accepted[a.ID]++
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) snapshot() (map[string]int, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]int, len(h.accepted))
	for k, v := range h.accepted {
		out[k] = v
	}
	return out, h.requests
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type consumerRun struct {
	c      *Consumer
	cancel context.CancelFunc
	done   chan error
}

func startConsumer(t *testing.T, addr string, set *codecs.Set, url string) *consumerRun {
	t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	m := NewMetrics()
	wh, err := NewWebhook(WebhookConfig{URL: url, HTTP: HTTP{Retry: Retry{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond, OnRetry: m.RetryHook(TargetWebhook, log)}}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewConsumer(ConsumerConfig{
		Brokers: []string{addr},
		Codecs:  set,
		Targets: []Target{{Name: TargetWebhook, Notifier: wh}},
		Logger:  log,
		Metrics: m,
		Retry:   Retry{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond},
		// kfake answers a fetch at the end of a partition after the fetch's
		// full wait; keep it short so records produced later show quickly.
		KafkaOpts: []kgo.Opt{kgo.FetchMaxWait(100 * time.Millisecond)},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &consumerRun{c: c, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *consumerRun) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Error("Run did not return within 15s of its context's end")
	}
}

// The consumer delivers every alert through a webhook that fails at first,
// sends a corrupt record to the dead-letter topic, skips a refused alert
// after reporting it, commits, and after a restart delivers only what is
// new.
func TestConsumerEndToEnd(t *testing.T) {
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addr()), kgo.RecordPartitioner(topology.Partitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, topic := range []string{topology.TopicAlerts, topology.TopicDLQ} {
		if _, err := adm.CreateTopic(ctx, 3, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}

	produce := func(key string, value []byte) {
		t.Helper()
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topology.TopicAlerts, Key: []byte(key), Value: value}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	produceAlert := func(fleet string, incident int, state string) {
		t.Helper()
		a := testAlert(state)
		a.DedupKey = fmt.Sprintf("logstream/host/%s-web-3/%d", fleet, incident)
		a.ID = a.DedupKey + "/" + state
		v, err := set.Alert.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		produce(fleet, v)
		ids = append(ids, a.ID)
	}
	// Two fleets (keys), so more than one partition is read.
	produceAlert("eu", 1, schemas.AlertFiring)
	produceAlert("us", 1, schemas.AlertFiring)
	produceAlert("eu", 1, schemas.AlertResolved)
	produce("eu", []byte("this is no Avro Alert"))
	produceAlert("us", 2, schemas.AlertFiring) // the webhook refuses this one
	produceAlert("us", 1, schemas.AlertResolved)
	refused := ids[3]

	h := newHook(t, 2, refused)
	run := startConsumer(t, e.Addr(), set, h.URL)
	waitFor(t, 20*time.Second, "every alert delivered", func() bool {
		acc, _ := h.snapshot()
		return len(acc) == len(ids)-1
	})

	// Offsets are committed up to the end of every partition.
	committed := func() bool {
		ends, err := adm.ListEndOffsets(ctx, topology.TopicAlerts)
		if err != nil {
			return false
		}
		offs, err := adm.FetchOffsets(ctx, topology.GroupPage)
		if err != nil {
			return false
		}
		ok := true
		ends.Each(func(o kadm.ListedOffset) {
			c, found := offs.Lookup(o.Topic, o.Partition)
			if o.Offset > 0 && (!found || c.At != o.Offset) {
				ok = false
			}
		})
		return ok
	}
	waitFor(t, 10*time.Second, "offsets committed to the end", committed)

	acc, requests := h.snapshot()
	for _, id := range ids {
		if want := 1; id != refused && acc[id] != want {
			t.Errorf("alert %s accepted %d times, want %d", id, acc[id], want)
		}
	}
	if acc[refused] != 0 {
		t.Errorf("refused alert accepted %d times", acc[refused])
	}
	if want := len(ids) + 2; requests != want {
		t.Errorf("%d webhook requests, want %d (two 503s retried, the 400 not retried)", requests, want)
	}

	m := run.c.Metrics()
	if v := testutil.ToFloat64(m.deliveries.WithLabelValues(TargetWebhook, ResultOK)); v != float64(len(ids)-1) {
		t.Errorf("deliveries ok = %v", v)
	}
	if v := testutil.ToFloat64(m.deliveries.WithLabelValues(TargetWebhook, ResultPermanent)); v != 1 {
		t.Errorf("deliveries permanent = %v, want 1", v)
	}
	if v := testutil.ToFloat64(m.retries.WithLabelValues(TargetWebhook)); v != 2 {
		t.Errorf("retries = %v, want 2", v)
	}
	if v := testutil.ToFloat64(m.deadLetters); v != 1 {
		t.Errorf("dead letters = %v, want 1", v)
	}
	if n := testutil.CollectAndCount(m.latency); n != 1 {
		t.Errorf("latency histograms = %d, want 1", n)
	}

	// The corrupt record is in the dead-letter topic, with where it came from.
	dl := readOne(t, e.Addr(), topology.TopicDLQ)
	d, err := set.DeadLetter.Unmarshal(dl.Value)
	if err != nil {
		t.Fatal(err)
	}
	if d.Stage != Stage || d.SourceTopic != topology.TopicAlerts || string(d.OriginalValue) != "this is no Avro Alert" || string(d.OriginalKey) != "eu" || d.Error == "" {
		t.Errorf("dead letter %+v", d)
	}
	if string(dl.Key) != "eu" {
		t.Errorf("dead letter key %q, want the original key", dl.Key)
	}

	// A restarted member resumes after the committed offsets.
	run.stop(t)
	run2 := startConsumer(t, e.Addr(), set, h.URL)
	produceAlert("eu", 3, schemas.AlertFiring)
	waitFor(t, 20*time.Second, "the new alert delivered", func() bool {
		acc, _ := h.snapshot()
		return acc[ids[len(ids)-1]] == 1
	})
	waitFor(t, 10*time.Second, "offsets committed to the end", committed)
	run2.stop(t)
	acc, _ = h.snapshot()
	for _, id := range ids {
		if id != refused && acc[id] != 1 {
			t.Errorf("after the restart alert %s was accepted %d times, want 1", id, acc[id])
		}
	}
	if acc[refused] != 0 {
		t.Error("the refused alert was delivered again after the restart")
	}
}

// readOne reads the first record of topic.
func readOne(t *testing.T, addr, topic string) *kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("no record in %s", topic)
		}
		if rs := fs.Records(); len(rs) > 0 {
			return rs[0]
		}
	}
}

// Shutdown during a retry leaves the record uncommitted; the next member
// delivers it.
func TestConsumerShutdownDuringRetry(t *testing.T) {
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, topic := range []string{topology.TopicAlerts, topology.TopicDLQ} {
		if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	a := testAlert(schemas.AlertFiring)
	v, _ := set.Alert.Marshal(a)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topology.TopicAlerts, Key: []byte("fleet"), Value: v}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	down := newHook(t, 1<<30) // always 503
	run := startConsumer(t, e.Addr(), set, down.URL)
	waitFor(t, 20*time.Second, "delivery attempts", func() bool { _, n := down.snapshot(); return n >= 3 })
	run.stop(t)
	if v := testutil.ToFloat64(run.c.Metrics().deliveries.WithLabelValues(TargetWebhook, ResultInterrupted)); v != 1 {
		t.Errorf("deliveries interrupted = %v, want 1", v)
	}
	offs, err := adm.FetchOffsets(ctx, topology.GroupPage)
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := offs.Lookup(topology.TopicAlerts, 0); ok && o.At > 0 {
		t.Fatalf("offset %d committed although nothing was delivered", o.At)
	}

	up := newHook(t, 0)
	run2 := startConsumer(t, e.Addr(), set, up.URL)
	waitFor(t, 20*time.Second, "redelivery after restart", func() bool { acc, _ := up.snapshot(); return acc[a.ID] == 1 })
	run2.stop(t)
}
