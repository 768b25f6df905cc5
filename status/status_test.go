package status

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/sinks"
	"github.com/logstream/logstream/topology"
)

func TestGrowing(t *testing.T) {
	cases := []struct {
		totals []int64
		want   bool
	}{
		{nil, false},
		{[]int64{5}, false},
		{[]int64{5, 6}, true},
		{[]int64{6, 5}, false},
		{[]int64{0, 0, 0, 0}, false},
		// A group that commits every second saw-tooths, its lows
		// jittering with the traffic between a commit and a sample.
		{[]int64{0, 40, 3, 50, 2, 45}, false},
		// One that falls behind: even its lows pass its earlier highs.
		{[]int64{10, 40, 30, 60, 50, 80}, true},
		// A stuck group under traffic.
		{[]int64{10, 20, 30, 40, 50}, true},
		// The middle sample of an odd count is in neither half.
		{[]int64{5, 1, 5}, false},
	}
	for _, c := range cases {
		if _, got := growing(c.totals); got != c.want {
			t.Errorf("growing(%v) = %v, want %v", c.totals, got, c.want)
		}
	}
}

// stubSink is a sink that is never reached: the breaker test drives the
// runner's breaker by hand.
type stubSink struct{}

func (stubSink) Name() string                    { return "s3" }
func (stubSink) Check(ctx context.Context) error { return nil }
func (stubSink) NewPartition(string, int32, sinks.DeadLetters) (sinks.PartitionWriter, error) {
	return nil, fmt.Errorf("stub")
}

// The breaker is read from the gauge a sink runner exports, as its admin
// port serves it.
func TestBreakerFromSinkMetrics(t *testing.T) {
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	r, err := sinks.NewRunner(sinks.Config{Brokers: []string{"127.0.0.1:1"}, Group: topology.GroupSinkS3, Topics: topology.SinkTopics,
		Sink: stubSink{}, Codecs: set, Breaker: sinks.BreakerConfig{MaxFailures: 2, Timeout: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if err := r.Metrics().Register(reg); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	cfg := Config{SinkMetrics: []string{srv.URL + "/metrics"}}
	cfg.defaults()

	if got := readBreakers(context.Background(), cfg); len(got) != 1 || got[0].Sink != "s3" || got[0].State != "closed" || got[0].Error != "" {
		t.Fatalf("new runner: %+v", got)
	}
	r.Breaker().Failure()
	r.Breaker().Failure()
	if got := readBreakers(context.Background(), cfg); len(got) != 1 || got[0].State != "open" {
		t.Fatalf("after 2 failures: %+v", got)
	}

	// Not a sink's port: an error naming the metric, not a state.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "up 1") }))
	defer other.Close()
	cfg.SinkMetrics = []string{other.URL + "/metrics", "http://127.0.0.1:1/metrics"}
	got := readBreakers(context.Background(), cfg)
	if len(got) != 2 || got[0].State != "" || !strings.Contains(got[0].Error, BreakerMetric) || got[1].Error == "" {
		t.Fatalf("wrong ports: %+v", got)
	}
}

// testBroker is an embedded broker with the topics Collect reads.
type testBroker struct {
	addr string
	cl   *kgo.Client
	adm  *kadm.Client
	set  *codecs.Set
}

func startBroker(t *testing.T) *testBroker {
	t.Helper()
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0", MinSessionTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	// Records name their partitions.
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for topic, n := range map[string]int32{topology.TopicDLQ: 3, topology.TopicAlerts: 1, topology.TopicRaw: 2} {
		resp, err := adm.CreateTopic(ctx, n, 1, nil, topic)
		if err == nil {
			err = resp.Err
		}
		if err != nil {
			t.Fatalf("create %s: %v", topic, err)
		}
	}
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	return &testBroker{addr: e.Addr(), cl: cl, adm: adm, set: set}
}

func (b *testBroker) produce(t *testing.T, recs ...*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, r := range recs {
		// One at a time: each its own batch, so that a lookup by time
		// finds each record's own timestamp.
		if err := b.cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func (b *testBroker) deadLetter(t *testing.T, partition int32, at time.Time, stage, reason string) *kgo.Record {
	t.Helper()
	v, err := b.set.DeadLetter.Marshal(&schemas.DeadLetter{OriginalValue: []byte("x"), SourceTopic: topology.TopicRaw,
		Stage: stage, Error: reason, Time: at.UnixMilli()})
	if err != nil {
		t.Fatal(err)
	}
	return &kgo.Record{Topic: topology.TopicDLQ, Partition: partition, Value: v, Timestamp: at}
}

func (b *testBroker) alert(t *testing.T, key, state, host string) *kgo.Record {
	t.Helper()
	v, err := b.set.Alert.Marshal(&schemas.Alert{ID: key + "/" + state, DedupKey: key, State: state, Scope: schemas.ScopeHost,
		Host: host, Rule: "threshold", Summary: host + " failing", At: time.Now().UnixMilli()})
	if err != nil {
		t.Fatal(err)
	}
	return &kgo.Record{Topic: topology.TopicAlerts, Key: []byte(topology.FleetKey), Value: v}
}

func TestCollect(t *testing.T) {
	b := startBroker(t)
	now := time.Now()

	// Dead letters: one from before the window, five in it under two
	// reasons (the fingerprints differ, the reason is one), one record
	// that is no DeadLetter.
	b.produce(t, b.deadLetter(t, 0, now.Add(-2*time.Hour), "parse", "too old to count"))
	for i := range 3 {
		b.produce(t, b.deadLetter(t, int32(i), now.Add(-time.Minute), "parse", fmt.Sprintf("codecs: unknown fingerprint 0x%x at offset %d", 0xabc123+i, i)))
	}
	b.produce(t, b.deadLetter(t, 1, now.Add(-time.Minute), "dedupe", "dedupe: LogEvent has an empty event_id"),
		b.deadLetter(t, 2, now.Add(-time.Minute), "dedupe", "dedupe: LogEvent has an empty event_id"),
		&kgo.Record{Topic: topology.TopicDLQ, Partition: 2, Value: []byte("not avro"), Timestamp: now.Add(-time.Minute)})

	// Alerts: a and c fired and resolved, b fired.
	b.produce(t, b.alert(t, "logstream/host/web-1/1", schemas.AlertFiring, "web-1"),
		b.alert(t, "logstream/host/web-2/1", schemas.AlertFiring, "web-2"),
		b.alert(t, "logstream/host/web-1/1", schemas.AlertResolved, "web-1"),
		b.alert(t, "logstream/host/web-3/1", schemas.AlertFiring, "web-3"),
		b.alert(t, "logstream/host/web-3/1", schemas.AlertResolved, "web-3"))

	// logs.raw gets a record every 50 ms from now on, for the groups.
	var raw sync.WaitGroup
	stop := make(chan struct{})
	defer func() { close(stop); raw.Wait() }()
	raw.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			b.cl.Produce(context.Background(), &kgo.Record{Topic: topology.TopicRaw, Partition: int32(i % 2), Value: []byte("line")}, nil)
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// "stopped" committed once and has no members; "moving" has none
	// either but commits during the interval; "stuck" is a live member
	// that never commits while logs.raw grows; "sink-s3" was never
	// deployed.
	commit := func(group string, at int64) {
		var o kadm.Offsets
		o.Add(kadm.Offset{Topic: topology.TopicRaw, Partition: 0, At: at, LeaderEpoch: -1})
		if err := b.adm.CommitAllOffsets(ctx, group, o); err != nil {
			t.Error(err)
		}
	}
	commit("stopped", 0)
	commit("moving", 0)
	member, err := kgo.NewClient(kgo.SeedBrokers(b.addr), kgo.ClientID("stuck-member"), kgo.ConsumerGroup("stuck"),
		kgo.ConsumeTopics(topology.TopicRaw), kgo.DisableAutoCommit(),
		kgo.SessionTimeout(3*time.Second), kgo.HeartbeatInterval(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer member.Close()
	for assigned := false; !assigned; {
		if ctx.Err() != nil {
			t.Fatal("the member was never assigned logs.raw")
		}
		described, err := b.adm.DescribeGroups(ctx, "stuck")
		if err == nil && len(described["stuck"].Members) == 1 && len(described.AssignedPartitions()[topology.TopicRaw]) == 2 {
			assigned = true
		}
		member.PollRecords(ctx, 10) // joins the group, and takes records it never commits
	}
	go func() {
		time.Sleep(2 * time.Second)
		commit("moving", 1)
	}()

	rep, err := Collect(ctx, Config{
		Brokers: []string{b.addr}, Codecs: b.set,
		Groups: []GroupSpec{{Name: "stopped", Required: true}, {Name: "moving", Required: true}, {Name: "stuck", Required: true},
			{Name: topology.GroupSinkS3, Kind: topology.KindSink}},
		Interval: 4 * time.Second, Step: 500 * time.Millisecond, MaxRecords: 1000,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Healthy || rep.Samples < 5 {
		t.Fatalf("healthy %v with %d samples: %+v", rep.Healthy, rep.Samples, rep)
	}
	byName := map[string]Group{}
	for _, g := range rep.Groups {
		byName[g.Group] = g
	}
	stopped, moving, stuck, sink := byName["stopped"], byName["moving"], byName["stuck"], byName[topology.GroupSinkS3]
	// An empty group's lag covers every partition of the topics it
	// committed to: it would read them all.
	if !stopped.Known || len(stopped.Members) != 0 || stopped.NoCommitForSeconds == nil || stopped.CommitWithinSeconds != nil ||
		len(stopped.Partitions) != 2 || stopped.Partitions[0].Committed == nil || *stopped.Partitions[0].Committed != 0 ||
		stopped.Partitions[1].Committed != nil || stopped.Lag != stopped.Partitions[0].End+stopped.Partitions[1].End {
		t.Errorf("stopped: %+v", stopped)
	}
	if moving.CommitWithinSeconds == nil || *moving.CommitWithinSeconds > rep.IntervalSeconds || moving.NoCommitForSeconds != nil {
		t.Errorf("moving: %+v", moving)
	}
	if len(stuck.Members) != 1 || stuck.Members[0].ClientID != "stuck-member" || len(stuck.Members[0].Assigned[topology.TopicRaw]) != 2 ||
		!stuck.LagGrowing || stuck.Lag <= stuck.LagFirst || len(stuck.Partitions) != 2 || stuck.Partitions[0].Member != "stuck-member" {
		t.Errorf("stuck: %+v", stuck)
	}
	if sink.Known || sink.Required {
		t.Errorf("sink-s3 was never deployed: %+v", sink)
	}
	// The stopped groups' lag grows too: logs.raw does.
	problems := strings.Join(rep.Problems, "\n")
	for _, want := range []string{"group stopped has no members", "group moving has no members",
		"group stopped: lag is growing", "group moving: lag is growing", "group stuck: lag is growing"} {
		if !strings.Contains(problems, want) {
			t.Errorf("problems lack %q:\n%s", want, problems)
		}
	}
	if strings.Contains(problems, topology.GroupSinkS3) || len(rep.Problems) != 5 {
		t.Errorf("want exactly 5 problems, none for the sink:\n%s", problems)
	}

	dl := rep.DeadLetters
	if dl.Read != 6 || dl.Undecodable != 1 || dl.Truncated || dl.Error != "" || len(dl.Reasons) != 2 {
		t.Fatalf("dead letters: %+v", dl)
	}
	if r := dl.Reasons[0]; r.Stage != "parse" || r.Count != 3 || r.Reason != "codecs: unknown fingerprint <hex> at offset <num>" || !strings.HasPrefix(r.Example, "codecs: unknown fingerprint 0x") {
		t.Errorf("first reason: %+v", r)
	}
	if r := dl.Reasons[1]; r.Stage != "dedupe" || r.Count != 2 {
		t.Errorf("second reason: %+v", r)
	}

	al := rep.Alerts
	if al.Read != 5 || al.Error != "" || len(al.Open) != 1 || al.Open[0].DedupKey != "logstream/host/web-2/1" || al.Open[0].Host != "web-2" {
		t.Errorf("alerts: %+v", al)
	}
}

// The cap keeps the newest records of each partition and says so.
func TestCollectCapsReads(t *testing.T) {
	b := startBroker(t)
	now := time.Now()
	for i := range 6 {
		b.produce(t, b.deadLetter(t, 0, now.Add(-time.Minute), "parse", fmt.Sprintf("reason %c", 'a'+i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Collect(ctx, Config{Brokers: []string{b.addr}, Codecs: b.set, Groups: []GroupSpec{{Name: "none"}}, MaxRecords: 4})
	if err != nil {
		t.Fatal(err)
	}
	dl := rep.DeadLetters
	if !dl.Truncated || dl.Read != 4 || dl.InWindow != 6 {
		t.Fatalf("capped read: %+v", dl)
	}
	for _, r := range dl.Reasons {
		if r.Reason == "reason a" || r.Reason == "reason b" {
			t.Errorf("the oldest were kept, not the newest: %+v", dl.Reasons)
		}
	}
	// A group that is not required and unknown is no problem.
	if !rep.Healthy {
		t.Errorf("problems: %v", rep.Problems)
	}
}

func TestCollectUnreachable(t *testing.T) {
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	_, err = Collect(context.Background(), Config{Brokers: []string{"127.0.0.1:1"}, Codecs: set, Groups: []GroupSpec{{Name: "parse"}}, Timeout: 2 * time.Second})
	if err == nil || !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err %v, want ErrUnreachable", err)
	}
}
