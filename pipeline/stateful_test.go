package pipeline

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

// traffic is a generated input for dedupe and the join: LogEvents (some
// repeated, some with a trace id), and the spans of most traces.
type traffic struct {
	events  []*schemas.LogEvent // distinct events, in order
	repeats []int               // indexes of events sent twice
	spans   []*schemas.Span
	hasSpan map[string]bool // trace id → a span was sent
}

func makeTraffic(n int, seed int, start time.Time) *traffic {
	tr := &traffic{hasSpan: map[string]bool{}}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("ev-%d-%06d", seed, i)
		ts := start.Add(time.Duration(i) * 10 * time.Millisecond).UnixMilli()
		ev := &schemas.LogEvent{EventID: id, Timestamp: ts, Host: fmt.Sprintf("web-%d", i%5+1), Level: schemas.LevelInfo,
			Message: fmt.Sprintf("request %d", i), Source: "stdin", Format: "json"}
		if i%3 != 0 {
			trace := fmt.Sprintf("%016x%016x", seed+1, i/2) // two events per trace, mostly
			span := fmt.Sprintf("%016x", i/2+1)
			ev.TraceID, ev.SpanID = &trace, &span
			if !tr.hasSpan[trace] && i%23 != 1 { // about 1 trace in 12 never gets its span
				tr.hasSpan[trace] = true
				tr.spans = append(tr.spans, &schemas.Span{TraceID: trace, SpanID: span, Service: "payments",
					Operation: "POST /v1/charges", Start: ts*1000 - 5000, DurationUs: 4000, Status: schemas.SpanOK})
			}
		}
		if i%17 == 5 {
			// Errors, for the error-rate windows.
			ev.Level, ev.Message = schemas.LevelError, fmt.Sprintf("timeout after %d ms to 10.0.4.7:3306", 3000+i%50)
		}
		if i%40 == 7 {
			bad := "not-a-trace-id"
			ev.TraceID = &bad
		}
		tr.events = append(tr.events, ev)
		if i%20 == 3 {
			tr.repeats = append(tr.repeats, i)
		}
	}
	return tr
}

// produce writes the traffic: events to logs.parsed (each repeat a while
// after its original), spans to the spans topic, interleaved.
func (tr *traffic) produce(t *testing.T, addr string, set *codecs.Set) {
	t.Helper()
	produceRecords(t, addr, tr.records(t, set))
}

func produceRecords(t *testing.T, addr string, recs []*kgo.Record) {
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

// records returns the traffic's records in the order produce writes them.
func (tr *traffic) records(t *testing.T, set *codecs.Set) []*kgo.Record {
	t.Helper()
	var recs []*kgo.Record
	add := func(topic, key string, value []byte) {
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(key), Value: value})
	}
	event := func(i int) {
		b, err := set.LogEvent.Marshal(tr.events[i])
		if err != nil {
			t.Fatal(err)
		}
		add(topology.TopicParsed, tr.events[i].EventID, b)
	}
	si, ri := 0, 0
	for i := range tr.events {
		event(i)
		if ri < len(tr.repeats) && tr.repeats[ri]+25 <= i {
			event(tr.repeats[ri])
			ri++
		}
		if i%2 == 1 && si < len(tr.spans) {
			b, err := set.Span.Marshal(tr.spans[si])
			if err != nil {
				t.Fatal(err)
			}
			add(topology.TopicSpans, tr.spans[si].TraceID, b)
			si++
		}
	}
	for ; ri < len(tr.repeats); ri++ {
		event(tr.repeats[ri])
	}
	for ; si < len(tr.spans); si++ {
		b, _ := set.Span.Marshal(tr.spans[si])
		add(topology.TopicSpans, tr.spans[si].TraceID, b)
	}
	return recs
}

// want is the join status each event must leave with.
func (tr *traffic) want(ev *schemas.LogEvent) string {
	if ev.TraceID == nil || len(*ev.TraceID) != 32 {
		return schemas.JoinNoTrace
	}
	if tr.hasSpan[*ev.TraceID] {
		return schemas.JoinJoined
	}
	return schemas.JoinTimeout
}

// checkOutputs reads logs.unique and logs.enriched and requires every
// distinct event exactly once in each, with the right join status.
func checkOutputs(t *testing.T, addr string, set *codecs.Set, tr *traffic, timeout time.Duration) {
	t.Helper()
	n := len(tr.events)
	byID := map[string]*schemas.LogEvent{}
	for _, ev := range tr.events {
		byID[ev.EventID] = ev
	}
	for _, topic := range []string{topology.TopicUnique, topology.TopicEnriched} {
		recs := consumeAll(t, addr, n, timeout, topic)
		seen := map[string]int{}
		wrong := 0
		for _, r := range recs {
			ev := decodeEvent(t, set, r)
			seen[ev.EventID]++
			orig, ok := byID[ev.EventID]
			if !ok {
				t.Errorf("%s: unexpected event %s", topic, ev.EventID)
				continue
			}
			if topic != topology.TopicEnriched {
				continue
			}
			if got, want := ev.JoinStatus, tr.want(orig); got != want {
				if wrong++; wrong <= 5 {
					t.Errorf("%s: event %s left with join_status %q, want %q", topic, ev.EventID, got, want)
				}
			}
			if ev.JoinStatus == schemas.JoinJoined && (ev.SpanService != "payments" || ev.SpanOperation != "POST /v1/charges" ||
				ev.SpanDurationUs == nil || *ev.SpanDurationUs != 4000 || ev.SpanStatus != "OK" || ev.RootOperation != "POST /v1/charges") {
				t.Errorf("%s: joined event %s lacks its span: %+v", topic, ev.EventID, ev)
			}
		}
		missing, doubled := 0, 0
		for id := range byID {
			switch c := seen[id]; {
			case c == 0:
				if missing++; missing <= 5 {
					t.Errorf("%s: event %s is missing", topic, id)
				}
			case c > 1:
				if doubled++; doubled <= 5 {
					t.Errorf("%s: event %s appears %d times", topic, id, c)
				}
			}
		}
		if wrong+missing+doubled > 0 {
			t.Errorf("%s: %d records read for %d events: %d missing, %d more than once, %d wrong join status", topic, len(recs), n, missing, doubled, wrong)
		} else {
			t.Logf("%s: %d events, each exactly once", topic, n)
		}
	}
}

// TestDedupeAndJoin runs parse → dedupe → tracejoin on the embedded broker
// and checks the outputs: duplicates dropped, every event once, joined
// with its span where one was sent, released as a timeout where not.
func TestDedupeAndJoin(t *testing.T) {
	s := startStackWith(t, 3, func(o *Options) {
		o.Join = StateOptions{Window: time.Hour, Idle: 2 * time.Second, SweepInterval: 300 * time.Millisecond}
		o.Dedupe = StateOptions{SweepInterval: 300 * time.Millisecond}
	})
	tr := makeTraffic(3000, 1, time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	tr.produce(t, s.addr, s.set)
	checkOutputs(t, s.addr, s.set, tr, 60*time.Second)
	d, j := s.pipe.Dedupe().Stats().Snapshot(), s.pipe.TraceJoin().Stats().Snapshot()
	t.Logf("dedupe: %+v", d)
	t.Logf("tracejoin: %+v", j)
	if d.Duplicates != int64(len(tr.repeats)) {
		t.Errorf("dedupe counted %d duplicates, %d were sent", d.Duplicates, len(tr.repeats))
	}
	if j.InvalidTraceIDs == 0 {
		t.Error("no invalid trace id counted")
	}
}
