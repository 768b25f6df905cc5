package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

const (
	rebalancePartitions = 4
	// rebalanceSession is the consumer groups' session timeout. goka waits
	// 5 s after a session ends before it rejoins, so a shorter session
	// would have the broker evict a member that is only waiting to rejoin,
	// and the two instances would take turns evicting each other.
	rebalanceSession = 7 * time.Second
)

// rebalanceInstance is one pipeline pod of the test.
type rebalanceInstance struct {
	id   string
	pipe *Pipeline
	stop func() // cancels Run and waits for it; idempotent
}

// TestTwoInstanceRebalance runs dedupe and the trace join as two pods
// sharing one broker: A alone, then A and B (partitions move from A to B),
// then B alone (A stops; its partitions move to B). Traffic is produced in
// three parts, one per phase, with repeats that cross the parts; every
// distinct event must leave exactly once on logs.unique and logs.enriched
// with the right join status, so repeats whose first occurrence was seen
// by the other pod are still dropped.
func TestTwoInstanceRebalance(t *testing.T) {
	began := time.Now()
	env := newRebalanceEnv(t)
	addr, set := env.addr, env.set
	start := func(id string) *rebalanceInstance { return env.start(id, 2*time.Second) }

	tr := makeTraffic(3000, 7, time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	parts := rebalanceParts(t, set, tr, []int{0, 1000, 2000, 3000})
	adm := rebalanceAdmin(t, addr)

	// Phase 1: A alone.
	a := start("pod-a")
	own1 := rebalanceWait(t, adm, 60*time.Second, a)
	t.Logf("pod A ready with every partition after %v", time.Since(began).Round(time.Millisecond))
	rebalanceProduce(t, addr, parts[0].records)
	rebalanceWaitOut(t, addr, set, tr, parts[0].hi, 30*time.Second)

	// Phase 2: B joins; partitions move from A to B.
	moveStart := time.Now()
	b := start("pod-b")
	own2 := rebalanceWait(t, adm, 60*time.Second, a, b)
	t.Logf("rebalance after B joined took %v: dedupe %v, tracejoin %v", time.Since(moveStart).Round(time.Millisecond),
		own2[topology.GroupDedupe], own2[topology.GroupTraceJoin])
	for _, g := range []string{topology.GroupDedupe, topology.GroupTraceJoin} {
		if len(own2[g]["pod-b"]) == 0 || len(own2[g]["pod-a"]) == 0 {
			t.Fatalf("group %s not split between the pods: %v", g, own2[g])
		}
	}
	rebalanceProduce(t, addr, parts[1].records)
	rebalanceWaitOut(t, addr, set, tr, parts[1].hi, 30*time.Second)

	// Phase 3: A stops; its partitions move to B.
	moveStart = time.Now()
	a.stop()
	stopped := time.Since(moveStart)
	own3 := rebalanceWait(t, adm, 60*time.Second, b)
	t.Logf("rebalance after A stopped took %v (A's shutdown %v)", time.Since(moveStart).Round(time.Millisecond), stopped.Round(time.Millisecond))
	rebalanceProduce(t, addr, parts[2].records)

	// Every distinct event exactly once on both outputs, right join status.
	checkOutputs(t, addr, set, tr, 45*time.Second)

	// The repeats did cross the moves: count those read by another pod
	// than the one that saw the first occurrence (by the dedupe group's
	// assignment in each phase).
	owners := []map[string][]int32{own1[topology.GroupDedupe], own2[topology.GroupDedupe], own3[topology.GroupDedupe]}
	ownerOf := func(phase int, id string) string {
		p := topology.Partition([]byte(id), rebalancePartitions)
		for pod, ps := range owners[phase] {
			for _, q := range ps {
				if q == p {
					return pod
				}
			}
		}
		return "?"
	}
	repeats, straddling := 0, 0
	for phase, pt := range parts {
		for _, i := range pt.repeats {
			repeats++
			if ownerOf(rebalancePhase(parts, i), tr.events[i].EventID) != ownerOf(phase, tr.events[i].EventID) {
				straddling++
			}
		}
	}
	t.Logf("%d repeats sent, %d of them read by another pod than their first occurrence", repeats, straddling)
	if straddling < 20 {
		t.Errorf("only %d repeats straddled a partition move; the test does not exercise what it should", straddling)
	}
	da, db := a.pipe.Dedupe().Stats().Snapshot(), b.pipe.Dedupe().Stats().Snapshot()
	ja, jb := a.pipe.TraceJoin().Stats().Snapshot(), b.pipe.TraceJoin().Stats().Snapshot()
	t.Logf("dedupe A: %+v", da)
	t.Logf("dedupe B: %+v", db)
	t.Logf("tracejoin A: %+v", ja)
	t.Logf("tracejoin B: %+v", jb)
	// Duplicates counts each repeat once, and a replayed repeat once more.
	if got := da.Duplicates + db.Duplicates; got < int64(repeats) || got > int64(repeats)+da.Replayed+db.Replayed {
		t.Errorf("dedupe counted %d duplicates (replayed %d), %d repeats were sent", got, da.Replayed+db.Replayed, repeats)
	}
	if db.Duplicates == 0 || db.Unique == 0 || jb.Joined == 0 || da.Unique == 0 || ja.Joined == 0 {
		t.Error("one pod did no work")
	}
	t.Logf("test took %v", time.Since(began).Round(time.Millisecond))
}

// TestRebalanceKeepsEventsWaiting: events wait in the join for spans that
// arrive after their partitions moved. A rebalance pauses every partition
// for a few seconds and hands some to a pod that never read them; neither
// is a partition whose source went silent, so the idle release must not
// send the waiting events out unenriched.
func TestRebalanceKeepsEventsWaiting(t *testing.T) {
	const (
		idle = 5 * time.Second
		n    = 200
	)
	env := newRebalanceEnv(t)
	a := env.start("pod-a", idle)
	b := env.start("pod-b", idle)
	adm := rebalanceAdmin(t, env.addr)
	rebalanceWait(t, adm, 60*time.Second, a, b)

	now := time.Now()
	var events, spans []*kgo.Record
	for i := 0; i < n; i++ {
		trace, span := fmt.Sprintf("%016x%016x", 0xabc, i+1), fmt.Sprintf("%016x", i+1)
		ev := &schemas.LogEvent{EventID: fmt.Sprintf("wait-%04d", i), Timestamp: now.UnixMilli(), Host: "web-1", Level: schemas.LevelInfo,
			Message: "charge", Source: "stdin", Format: "json", TraceID: &trace, SpanID: &span}
		b, err := env.set.LogEvent.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, &kgo.Record{Topic: topology.TopicParsed, Key: []byte(ev.EventID), Value: b})
		sb, err := env.set.Span.Marshal(&schemas.Span{TraceID: trace, SpanID: span, Service: "payments", Operation: "POST /v1/charges",
			Start: now.UnixMicro() - 5000, DurationUs: 4000, Status: schemas.SpanOK})
		if err != nil {
			t.Fatal(err)
		}
		spans = append(spans, &kgo.Record{Topic: topology.TopicSpans, Key: []byte(trace), Value: sb})
	}
	rebalanceProduce(t, env.addr, events)
	// Both pods hold their events (the sweepers count one trace each).
	deadline := time.Now().Add(20 * time.Second)
	for a.pipe.TraceJoin().Stats().Entries()+b.pipe.TraceJoin().Stats().Entries() != n {
		if time.Now().After(deadline) {
			t.Fatalf("the pods hold %d and %d traces, want %d in all", a.pipe.TraceJoin().Stats().Entries(), b.pipe.TraceJoin().Stats().Entries(), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out := consumeAll(t, env.addr, 1, time.Second, topology.TopicEnriched); len(out) != 0 {
		t.Fatalf("%d events left before their spans", len(out))
	}

	// A stops: B pauses, then takes A's partitions over.
	moved := time.Now()
	a.stop()
	rebalanceWait(t, adm, 60*time.Second, b)
	t.Logf("rebalance after A stopped took %v", time.Since(moved).Round(time.Millisecond))
	// A few sweeps on B, well within the idle limit of its partitions'
	// first records after the move.
	time.Sleep(time.Second)
	rebalanceProduce(t, env.addr, spans)

	recs := consumeAll(t, env.addr, n, 30*time.Second, topology.TopicEnriched)
	status := map[string]int{}
	for _, r := range recs {
		status[decodeEvent(t, env.set, r).JoinStatus]++
	}
	if len(recs) != n || status[schemas.JoinJoined] != n {
		t.Fatalf("%d events out for %d sent, by join status %v: want all joined with the spans that came after the move", len(recs), n, status)
	}
}

// rebalanceProduce writes records, placed as goka places keys.
func rebalanceProduce(t *testing.T, addr string, recs []*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(topology.Partitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// rebalanceEnv is an embedded broker and the topology the pods share.
type rebalanceEnv struct {
	t    *testing.T
	addr string
	topo *topology.Topology
	set  *codecs.Set
}

func newRebalanceEnv(t *testing.T) *rebalanceEnv {
	t.Helper()
	// The broker would accept sessions down to 1 s, but see rebalanceSession.
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0", MinSessionTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	topo, err := topology.New(topology.Config{Partitions: rebalancePartitions, Replication: 1})
	if err != nil {
		t.Fatal(err)
	}
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	return &rebalanceEnv{t: t, addr: e.Addr(), topo: topo, set: set}
}

// start runs dedupe and the trace join as pod id (join window 1 h, idle
// release after idle, sweeps every 300 ms, as in TestDedupeAndJoin).
func (env *rebalanceEnv) start(id string, idle time.Duration) *rebalanceInstance {
	t := env.t
	t.Helper()
	p, err := New(Options{
		Brokers:  []string{env.addr},
		Topology: env.topo,
		Codecs:   env.set,
		Tuning:   broker.Tuning{Replication: 1, BatchSize: 500, MaxConcurrency: 5, FromOldest: true, SessionTimeout: rebalanceSession},
		Logger:   zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel).With().Str("pod", id).Logger(),
		ClientID: id,
		Stages:   []string{"dedupe", "tracejoin"},
		Join:     StateOptions{Window: time.Hour, Idle: idle, SweepInterval: 300 * time.Millisecond},
		Dedupe:   StateOptions{SweepInterval: 300 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.EnsureTopics(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	inst := &rebalanceInstance{id: id, pipe: p}
	inst.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("pod %s: %v", id, err)
			}
		})
	}
	t.Cleanup(inst.stop)
	return inst
}

// rebalancePart is one phase's share of the traffic.
type rebalancePart struct {
	lo, hi  int   // events [lo, hi) are first sent in this part
	repeats []int // events sent again in this part
	records []*kgo.Record
}

// rebalancePhase returns the part an event is first sent in.
func rebalancePhase(parts []rebalancePart, i int) int {
	for k, p := range parts {
		if i >= p.lo && i < p.hi {
			return k
		}
	}
	return -1
}

// rebalanceParts splits the traffic at the given event indexes (even, so
// that the two events of a trace stay together). Each span goes in the
// part of its trace's events: a part is complete for the join, so the idle
// release between parts cannot time out an event whose span is still to
// come. Repeats cross parts: each is sent 25 events after its original as
// in produce, and every later part also repeats some events of the parts
// before it.
func rebalanceParts(t *testing.T, set *codecs.Set, tr *traffic, bounds []int) []rebalancePart {
	t.Helper()
	parts := make([]rebalancePart, len(bounds)-1)
	for k := range parts {
		parts[k].lo, parts[k].hi = bounds[k], bounds[k+1]
	}
	traceOf := func(i int) string {
		if ev := tr.events[i]; ev.TraceID != nil {
			return *ev.TraceID
		}
		return ""
	}
	spanPart := map[string]int{} // trace id → part of its first event
	for i := range tr.events {
		if id := traceOf(i); id != "" {
			if _, ok := spanPart[id]; !ok {
				spanPart[id] = rebalancePhase(parts, i)
			}
		}
	}
	pending := make([][]int, len(parts)) // indexes into tr.spans, by part
	for si, sp := range tr.spans {
		k, ok := spanPart[sp.TraceID]
		if !ok {
			// Its only event got a bad trace id: the span joins nothing,
			// but still goes with the pair of events it was made for
			// (makeTraffic's trace ids end with the pair's number).
			var pair int
			if _, err := fmt.Sscanf(sp.TraceID[16:], "%x", &pair); err != nil {
				t.Fatalf("span of trace %s: %v", sp.TraceID, err)
			}
			k = rebalancePhase(parts, 2*pair)
		}
		pending[k] = append(pending[k], si)
	}
	event := func(k, i int) {
		b, err := set.LogEvent.Marshal(tr.events[i])
		if err != nil {
			t.Fatal(err)
		}
		parts[k].records = append(parts[k].records, &kgo.Record{Topic: topology.TopicParsed, Key: []byte(tr.events[i].EventID), Value: b})
	}
	span := func(k int) {
		si := pending[k][0]
		pending[k] = pending[k][1:]
		b, err := set.Span.Marshal(tr.spans[si])
		if err != nil {
			t.Fatal(err)
		}
		parts[k].records = append(parts[k].records, &kgo.Record{Topic: topology.TopicSpans, Key: []byte(tr.spans[si].TraceID), Value: b})
	}
	ri := 0
	for k := range parts {
		for i := parts[k].lo; i < parts[k].hi; i++ {
			event(k, i)
			if ri < len(tr.repeats) && tr.repeats[ri]+25 <= i {
				event(k, tr.repeats[ri])
				parts[k].repeats = append(parts[k].repeats, tr.repeats[ri])
				ri++
			}
			if i%2 == 1 && len(pending[k]) > 0 {
				span(k)
			}
			// Long-range repeats of earlier parts.
			if j := i - parts[k].lo; k > 0 && j%37 == 5 {
				old := (i * 7919) % parts[k].lo
				event(k, old)
				parts[k].repeats = append(parts[k].repeats, old)
			}
		}
		for len(pending[k]) > 0 {
			span(k)
		}
	}
	last := len(parts) - 1
	for ; ri < len(tr.repeats); ri++ {
		event(last, tr.repeats[ri])
		parts[last].repeats = append(parts[last].repeats, tr.repeats[ri])
	}
	return parts
}

func rebalanceAdmin(t *testing.T, addr string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// rebalanceWait waits until the dedupe and tracejoin groups are stable
// with exactly the given pods as members, every partition assigned, and
// every pod ready (its stages running with recovered tables). It returns,
// per group, each pod's partitions.
func rebalanceWait(t *testing.T, adm *kadm.Client, timeout time.Duration, pods ...*rebalanceInstance) map[string]map[string][]int32 {
	t.Helper()
	groups := []string{topology.GroupDedupe, topology.GroupTraceJoin}
	deadline := time.Now().Add(timeout)
	var last string
	for {
		owners, why := rebalanceOwners(adm, groups, pods)
		if why == "" {
			ready := true
			for _, p := range pods {
				ready = ready && p.pipe.Ready()
			}
			if ready {
				return owners
			}
			why = "a pod is not ready"
		}
		last = why
		if time.Now().After(deadline) {
			t.Fatalf("groups did not settle within %v: %s", timeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// rebalanceOwners reads the groups' assignments; why says what is not
// settled yet ("" when settled).
func rebalanceOwners(adm *kadm.Client, groups []string, pods []*rebalanceInstance) (map[string]map[string][]int32, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	described, err := adm.DescribeGroups(ctx, groups...)
	if err != nil {
		return nil, err.Error()
	}
	out := map[string]map[string][]int32{}
	for _, g := range groups {
		d, ok := described[g]
		if !ok || d.Err != nil || d.State != "Stable" {
			return nil, fmt.Sprintf("group %s is %s", g, d.State)
		}
		if len(d.Members) != len(pods) {
			return nil, fmt.Sprintf("group %s has %d members", g, len(d.Members))
		}
		byPod := map[string][]int32{}
		seen := map[int32]bool{}
		for _, m := range d.Members {
			pod := ""
			for _, p := range pods {
				if strings.HasPrefix(m.ClientID, p.id+"-") {
					pod = p.id
				}
			}
			if pod == "" {
				return nil, fmt.Sprintf("group %s has member %s", g, m.ClientID)
			}
			c, ok := m.Assigned.AsConsumer()
			if !ok {
				return nil, fmt.Sprintf("group %s: no assignment for %s", g, m.ClientID)
			}
			for _, tp := range c.Topics {
				for _, p := range tp.Partitions {
					if !seen[p] {
						seen[p] = true
						byPod[pod] = append(byPod[pod], p)
					}
				}
			}
		}
		if len(seen) != rebalancePartitions {
			return nil, fmt.Sprintf("group %s: %d partitions assigned", g, len(seen))
		}
		for _, ps := range byPod {
			sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		}
		out[g] = byPod
	}
	return out, ""
}

// rebalanceWaitOut waits until logs.enriched holds every event first sent
// before index upto (a phase's output is complete before partitions move).
func rebalanceWaitOut(t *testing.T, addr string, set *codecs.Set, tr *traffic, upto int, timeout time.Duration) {
	t.Helper()
	want := map[string]bool{}
	for _, ev := range tr.events[:upto] {
		want[ev.EventID] = true
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topology.TopicEnriched), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	began := time.Now()
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("logs.enriched still lacks %d of the first %d events after %v", len(want), upto, timeout)
		}
		for _, r := range fs.Records() {
			delete(want, decodeEvent(t, set, r).EventID)
		}
	}
	t.Logf("the first %d events are out on logs.enriched (%v)", upto, time.Since(began).Round(time.Millisecond))
}
