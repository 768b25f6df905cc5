package dlq

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/linkedin/goavro/v2"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/pipeline"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
	"github.com/logstream/logstream/watermark"
)

// rawLogV2 is a RawLog version this build does not have: what a newer
// `logstream ingest` writes during a rolling deploy.
const rawLogV2 = `{"type":"record","name":"RawLog","namespace":"logstream","fields":[
 {"name":"host","type":"string"},
 {"name":"source","type":"string"},
 {"name":"line","type":"string"},
 {"name":"received_at","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"labels","type":{"type":"map","values":"string"},"default":{}},
 {"name":"shipper","type":"string","default":""}]}`

// learner is a schema registry that knows RawLog v2 only once told: the
// parse stage dead-letters v2 records until then, and reads them after.
type learner struct {
	mu    sync.Mutex
	fp    uint64
	known bool
}

func (l *learner) SchemaByID(context.Context, int) (string, error) {
	return "", codecs.ErrSchemaNotFound
}

func (l *learner) SchemaByFingerprint(_ context.Context, fp uint64) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.known || fp != l.fp {
		return "", codecs.ErrSchemaNotFound
	}
	return rawLogV2, nil
}

func (l *learner) learn() {
	l.mu.Lock()
	l.known = true
	l.mu.Unlock()
}

// A rolling deploy dead-letters lines a newer ingest wrote; once the
// parse stage can read them, replay sends them through parse and dedupe
// to logs.unique. A second replay, after dedupe has forgotten their ids,
// sends nothing, and every event is on logs.unique once; the same record
// written once more without replay's check would have passed dedupe.
func TestReplayTwiceEachEventOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs parse and dedupe on the embedded broker")
	}
	addr := startBroker(t)
	topo, err := topology.New(topology.Config{Partitions: 3, Replication: 1})
	if err != nil {
		t.Fatal(err)
	}
	v2, err := goavro.NewCodec(rawLogV2)
	if err != nil {
		t.Fatal(err)
	}
	src := &learner{fp: v2.Rabin}
	set := newSet(t, codecs.WithSource(src))
	p, err := pipeline.New(pipeline.Options{
		Brokers: []string{addr}, Topology: topo, Codecs: set, Stages: []string{"parse", "dedupe"},
		Tuning: broker.Tuning{Replication: 1, BatchSize: 500, MaxConcurrency: 5, FromOldest: true},
		Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel),
		// Sweep often, so that the test sees dedupe forget the replayed ids.
		Dedupe: pipeline.StateOptions{SweepInterval: time.Second},
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
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("pipeline: %v", err)
		}
	})
	rctx, rcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer rcancel()
	if err := p.WaitReady(rctx); err != nil {
		t.Fatal(err)
	}

	// Live lines on every partition of logs.raw take the watermark to now;
	// the old lines, two hours back, were written by the newer ingest.
	now := time.Now().UTC()
	old := now.Add(-2 * time.Hour)
	var live, stale []*kgo.Record
	for i := 0; len(live) < 6; i++ {
		host := fmt.Sprintf("live-%d", i)
		if topology.Partition([]byte(host), 3) != int32(len(live)%3) {
			continue
		}
		b, err := set.RawLog.Marshal(&schemas.RawLog{Host: host, Source: "app", ReceivedAt: now.UnixMilli(),
			Line: fmt.Sprintf(`{"time":%q,"level":"info","msg":"live %d"}`, now.Format(time.RFC3339Nano), i)})
		if err != nil {
			t.Fatal(err)
		}
		live = append(live, &kgo.Record{Topic: topology.TopicRaw, Key: []byte(host), Value: b})
	}
	const n = 12
	for i := range n {
		host, key, line := fmt.Sprintf("web-%d", i%4+1), "", ""
		switch i % 3 {
		case 0: // the line's own time
			line = fmt.Sprintf(`{"time":%q,"level":"error","msg":"payment %d declined"}`, old.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano), i)
		case 1: // no time of its own: the received time is its event time
			line = fmt.Sprintf("card %d declined by issuer", i)
		case 2: // no key and no host in the RawLog: the line names it
			host, line = "", fmt.Sprintf(`{"time":%q,"host":"web-9","msg":"retry %d"}`, old.Format(time.RFC3339Nano), i)
		}
		key = host
		b, err := v2.SingleFromNative(nil, map[string]any{"host": host, "source": "/var/log/app.log", "line": line,
			"received_at": old.Add(time.Duration(i) * time.Minute), "labels": map[string]any{}, "shipper": "vector"})
		if err != nil {
			t.Fatal(err)
		}
		r := &kgo.Record{Topic: topology.TopicRaw, Value: b}
		if key != "" {
			r.Key = []byte(key)
		}
		stale = append(stale, r)
	}
	produceByKey(t, addr, append(live, stale...)...)

	dead := waitFor(t, "the old lines' dead letters", func() ([]*kgo.Record, bool) {
		rs := readAll(t, addr, topology.TopicDLQ)
		return rs, len(rs) >= n
	})
	if len(dead) != n {
		t.Fatalf("%d dead letters, want %d", len(dead), n)
	}
	waitUnique(t, addr, set, len(live))
	// A stage may dead-letter a record twice (dead letters are at least
	// once): a copy of one, as a replayed input would write it.
	produce(t, addr, &kgo.Record{Topic: topology.TopicDLQ, Partition: dead[0].Partition, Key: dead[0].Key, Value: dead[0].Value})

	src.learn()
	rc := ReplayConfig{Config: Config{Brokers: []string{addr}, Codecs: set}, Topology: topo}
	var acked atomic.Int64
	rc.OnSent = func(n int64) { acked.Store(n) }
	sctx, scancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer scancel()
	first, err := Replay(sctx, rc, Filter{Stage: "parse"})
	if err != nil {
		t.Fatal(err)
	}
	if first.Selected != n+1 || first.Sent != n || first.Duplicates != 1 || first.Replayed != 0 || !slices.Equal(first.Targets, []string{topology.TopicRaw}) {
		t.Fatalf("first replay: %+v; want %d selected, %d sent to logs.raw, 1 duplicate", first, n+1, n)
	}
	if acked.Load() != n {
		t.Errorf("OnSent last reported %d, want %d", acked.Load(), n)
	}
	waitUnique(t, addr, set, len(live)+n)

	// The replayed records: the original key (none where there was none),
	// the dead letter's time, and the headers naming it and the source.
	letters := map[string]*schemas.DeadLetter{}
	for _, r := range dead {
		dl, err := set.DeadLetter.Unmarshal(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		letters[position(topology.TopicDLQ, r.Partition, r.Offset)] = dl
	}
	var replayed []*kgo.Record
	for _, r := range readAll(t, addr, topology.TopicRaw) {
		h := map[string]string{}
		for _, x := range r.Headers {
			h[x.Key] = string(x.Value)
		}
		if h[HeaderReplay] == "" {
			continue
		}
		replayed = append(replayed, r)
		dl := letters[h[HeaderReplay]]
		if dl == nil {
			t.Errorf("%s/%d@%d names dead letter %q, not one the parse stage wrote", r.Topic, r.Partition, r.Offset, h[HeaderReplay])
			continue
		}
		src := position(dl.SourceTopic, dl.SourcePartition, dl.SourceOffset)
		if h[HeaderSource] != src || string(r.Key) != string(dl.OriginalKey) || (r.Key == nil) != (dl.OriginalKey == nil) ||
			r.Timestamp.UnixMilli() != dl.Time || string(r.Value) != string(dl.OriginalValue) {
			t.Errorf("replayed record %s/%d@%d: key %q, timestamp %d, source %q; want the dead letter's key %q, time %d, source %q",
				r.Topic, r.Partition, r.Offset, r.Key, r.Timestamp.UnixMilli(), h[HeaderSource], dl.OriginalKey, dl.Time, src)
		}
	}
	if len(replayed) != n {
		t.Fatalf("%d replayed records on logs.raw, want %d", len(replayed), n)
	}

	// The replayed events are two hours older than the watermark: dedupe
	// lets them through once and forgets their ids at once (their TTL is
	// long over). Repeats would pass again; only replay's own memory can
	// stop them.
	st := p.Dedupe().Stats()
	if st.Late.Load() < n {
		t.Errorf("dedupe counted %d late events, want at least the %d replayed ones", st.Late.Load(), n)
	}
	waitFor(t, "dedupe to forget the replayed ids", func() (struct{}, bool) {
		return struct{}{}, st.Expired.Load() >= n
	})

	rawEnd := endOffsets(t, addr, topology.TopicRaw)
	second, err := Replay(sctx, rc, Filter{Stage: "parse"})
	if err != nil {
		t.Fatal(err)
	}
	if second.Selected != n+1 || second.Sent != 0 || second.Replayed != n || second.Duplicates != 1 {
		t.Fatalf("second replay: %+v; want nothing sent, %d already replayed, 1 duplicate", second, n)
	}
	if got := endOffsets(t, addr, topology.TopicRaw); !maps.Equal(got, rawEnd) {
		t.Errorf("the second replay wrote to logs.raw: end offsets %v, were %v", got, rawEnd)
	}
	// Time for anything the second replay might have caused to arrive.
	time.Sleep(3 * time.Second)
	events := uniqueEvents(t, addr, set)
	ids := map[string]int{}
	var msgs []string
	for _, ev := range events {
		ids[ev.EventID]++
		msgs = append(msgs, ev.Message)
	}
	if len(events) != len(live)+n || len(ids) != len(events) {
		t.Fatalf("logs.unique holds %d events with %d ids; want %d, each once", len(events), len(ids), len(live)+n)
	}
	for i := range n {
		want := []string{fmt.Sprintf("payment %d declined", i), fmt.Sprintf("card %d declined by issuer", i), fmt.Sprintf("retry %d", i)}[i%3]
		if !slices.Contains(msgs, want) {
			t.Errorf("logs.unique lacks the replayed line %q", want)
		}
	}
	for _, ev := range events {
		if strings.HasPrefix(ev.Message, "retry ") && ev.Host != "web-9" {
			t.Errorf("event %q: host %q, want web-9 (named by the line; the record had no key)", ev.Message, ev.Host)
		}
	}

	// What a replay without that memory would have done: the same record
	// once more. dedupe has forgotten its id and lets it through.
	again := replayed[0]
	produce(t, addr, &kgo.Record{Topic: topology.TopicRaw, Partition: again.Partition, Key: again.Key, Value: again.Value, Timestamp: again.Timestamp})
	events = waitUnique(t, addr, set, len(live)+n+1)
	ids = map[string]int{}
	for _, ev := range events {
		ids[ev.EventID]++
	}
	if len(ids) != len(live)+n {
		t.Errorf("the record written once more made a new event id (%d ids for %d events): the replayed events' ids are not stable", len(ids), len(events))
	}
}

// The targets a replay may write are the pipeline's streams but the
// dead-letter topic; a dead letter whose source is anything else fails the
// whole replay before anything is written.
func TestReplayRefusesTargets(t *testing.T) {
	topo, err := topology.New(topology.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		topic string
		says  string
	}{
		{topology.TopicRaw, ""},
		{topology.TopicParsed, ""},
		{topology.LoopTopic(topology.GroupDedupe), ""},
		{"logs.rawr", "no topic of the pipeline"},
		{topology.TopicDLQ, "dead-letter topic itself"},
		{topology.TableTopic(topology.GroupDedupe), "group table"},
	} {
		err := CheckTarget(topo, tc.topic)
		if tc.says == "" && err != nil || tc.says != "" && (!errors.Is(err, ErrBadTarget) || !strings.Contains(err.Error(), tc.says)) {
			t.Errorf("CheckTarget(%s) = %v, want %q", tc.topic, err, tc.says)
		}
	}

	addr := startBroker(t)
	createTopics(t, addr, map[string]int{topology.TopicDLQ: 1, topology.TopicRaw: 1})
	set := newSet(t)
	for _, dl := range []schemas.DeadLetter{
		{OriginalValue: []byte("fine"), SourceTopic: topology.TopicRaw, Stage: "parse", Error: "x", Time: 1},
		{OriginalValue: []byte("state"), SourceTopic: topology.TableTopic(topology.GroupParse), Stage: "parse", Error: "x", Time: 2},
	} {
		produce(t, addr, &kgo.Record{Topic: topology.TopicDLQ, Value: encodeLetter(t, set, &dl)})
	}
	before := endOffsets(t, addr, topology.TopicRaw)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rc := ReplayConfig{Config: Config{Brokers: []string{addr}}, Topology: topo}
	_, err = Replay(ctx, rc, Filter{})
	if err == nil || !strings.Contains(err.Error(), "1 dead letters come from parse-table") || !strings.Contains(err.Error(), "nothing replayed") {
		t.Errorf("replay of a table's dead letter: %v", err)
	}
	if got := endOffsets(t, addr, topology.TopicRaw); !maps.Equal(got, before) {
		t.Errorf("a refused replay wrote to logs.raw: %v, was %v", got, before)
	}
	_, err = Replay(ctx, rc, Filter{IDs: []ID{{0, 0}, {0, 7}}})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "0/7") {
		t.Errorf("replay of a missing ID: %v", err)
	}
	// A dry run decides and writes nothing.
	rc.DryRun = true
	var plans []string
	rc.OnPlan = func(p *Planned) { plans = append(plans, p.ID.String()+" "+p.Decision.String()+" "+p.Target) }
	sum, err := Replay(ctx, rc, Filter{SourceTopic: topology.TopicRaw})
	if err != nil || sum.Sent != 1 || !slices.Equal(plans, []string{"0/0 send logs.raw"}) {
		t.Errorf("dry run: %+v, %v, plans %v", sum, err, plans)
	}
	if got := endOffsets(t, addr, topology.TopicRaw); !maps.Equal(got, before) {
		t.Errorf("a dry run wrote to logs.raw: %v, was %v", got, before)
	}
}

// produceByKey writes recs placed by key as goka places keys, as ingest
// and the shippers configured for logstream do.
func produceByKey(t *testing.T, addr string, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(topology.Partitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls check until it reports done, for at most a minute.
func waitFor[T any](t *testing.T, what string, check func() (T, bool)) T {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		v, ok := check()
		if ok {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// uniqueEvents decodes the events on logs.unique (watermark records are
// not events).
func uniqueEvents(t *testing.T, addr string, set *codecs.Set) []*schemas.LogEvent {
	t.Helper()
	var out []*schemas.LogEvent
	for _, r := range readAll(t, addr, topology.TopicUnique) {
		wm := false
		for _, h := range r.Headers {
			wm = wm || h.Key == watermark.HeaderKind && string(h.Value) == watermark.KindWatermark
		}
		if wm {
			continue
		}
		ev, err := set.LogEvent.Unmarshal(r.Value)
		if err != nil {
			t.Fatalf("logs.unique %d@%d: %v", r.Partition, r.Offset, err)
		}
		out = append(out, ev)
	}
	return out
}

func waitUnique(t *testing.T, addr string, set *codecs.Set, want int) []*schemas.LogEvent {
	t.Helper()
	return waitFor(t, fmt.Sprintf("%d events on logs.unique", want), func() ([]*schemas.LogEvent, bool) {
		evs := uniqueEvents(t, addr, set)
		return evs, len(evs) >= want
	})
}
