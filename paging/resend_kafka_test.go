package paging

import (
	"context"
	"slices"
	"sync/atomic"
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

// The open incidents live in the page table: after a restart the new
// member re-sends what is still open, and nothing that resolved.
func TestConsumerResendsAcrossRestart(t *testing.T) {
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
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, topic := range []string{topology.TopicAlerts, topology.TopicDLQ} {
		if _, err := kadm.NewClient(cl).CreateTopic(ctx, 2, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	produce := func(fleet, key, state string) {
		t.Helper()
		a := firingAlert(key)
		a.State, a.ID = state, key+"/"+state
		v, err := set.Alert.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topology.TopicAlerts, Key: []byte(fleet), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	const interval = 100 * time.Millisecond
	target := &fakeResender{validFor: 4 * interval}
	var running atomic.Bool
	running.Store(true)
	start := func() (*Consumer, func()) {
		t.Helper()
		c, err := NewConsumer(ConsumerConfig{
			Brokers:        []string{e.Addr()},
			Codecs:         set,
			Targets:        []Target{{Name: TargetAlertmanager, Notifier: target}},
			ResendInterval: interval,
			SourceRunning:  func(context.Context) (bool, error) { return running.Load(), nil },
			Logger:         zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel),
			Retry:          Retry{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond},
			KafkaOpts:      []kgo.Opt{kgo.FetchMaxWait(100 * time.Millisecond)},
		})
		if err != nil {
			t.Fatal(err)
		}
		rctx, rcancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- c.Run(rctx) }()
		return c, func() {
			rcancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}
	}
	// seen collects the target's events until cond holds for them.
	var seen []string
	waitSeen := func(what string, cond func([]string) bool) {
		t.Helper()
		waitFor(t, 20*time.Second, what, func() bool {
			seen = append(seen, target.take()...)
			return cond(seen)
		})
	}
	has := func(ev string) func([]string) bool {
		return func(evs []string) bool { return slices.Contains(evs, ev) }
	}
	// after reports the events that came after the first ev.
	after := func(evs []string, ev string) []string {
		i := slices.Index(evs, ev)
		if i < 0 {
			return nil
		}
		return evs[i+1:]
	}

	produce("eu", "a", schemas.AlertFiring)
	produce("us", "b", schemas.AlertFiring)
	produce("eu", "a", schemas.AlertResolved)
	c1, stop1 := start()
	waitSeen("b re-sent twice after a resolved", func(evs []string) bool {
		n := 0
		for _, ev := range after(evs, "notify RESOLVED a") {
			if ev == "resend b" {
				n++
			}
		}
		return n >= 2
	})
	if slices.Contains(after(seen, "notify RESOLVED a"), "resend a") {
		t.Errorf("a re-sent after its RESOLVED: %q", seen)
	}
	if v := testutil.ToFloat64(c1.m.open); v != 1 {
		t.Errorf("logstream_page_open_alerts = %v, want 1 (b)", v)
	}
	stop1()

	// A new member: nothing is delivered again (all committed), b's
	// re-sends go on from the table, a stays resolved.
	seen = nil
	target.take()
	c2, stop2 := start()
	defer stop2()
	waitSeen("b re-sent by the new member", has("resend b"))
	if v := testutil.ToFloat64(c2.m.open); v != 1 {
		t.Errorf("new member: logstream_page_open_alerts = %v, want 1 (b)", v)
	}

	// The pipeline stops: no re-sends until it runs again.
	running.Store(false)
	waitFor(t, 10*time.Second, "the re-sends to notice the stopped pipeline", func() bool { return testutil.ToFloat64(c2.m.pipeline) == 0 })
	seen = append(seen, target.take()...)
	time.Sleep(5 * interval)
	if evs := target.take(); len(evs) != 0 {
		t.Errorf("re-sent while the pipeline is stopped: %q", evs)
	}
	running.Store(true)
	mark := len(seen)
	waitSeen("b re-sent once the pipeline runs again", func(evs []string) bool { return slices.Contains(evs[mark:], "resend b") })

	produce("us", "b", schemas.AlertResolved)
	waitSeen("b resolved", has("notify RESOLVED b"))
	time.Sleep(5 * interval)
	seen = append(seen, target.take()...)
	if evs := after(seen, "notify RESOLVED b"); len(evs) != 0 {
		t.Errorf("after b resolved the target got %q", evs)
	}
	for _, ev := range seen {
		if ev == "resend a" || ev == "notify FIRING a" || ev == "notify FIRING b" {
			t.Errorf("the new member sent %q: a resolved before the restart and b was committed", ev)
		}
	}
	if v := testutil.ToFloat64(c2.m.open); v != 0 {
		t.Errorf("logstream_page_open_alerts = %v after every incident resolved", v)
	}
}
