package errorrate_test

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/processors/errorrate"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
	"github.com/logstream/logstream/watermark"
)

func decodePartials(t *testing.T, s *stage, out []*kgo.Record) map[int32]*schemas.ErrorRatePartial {
	t.Helper()
	m := map[int32]*schemas.ErrorRatePartial{}
	for _, r := range out {
		if r.Topic != partialsT {
			continue
		}
		p, err := s.set.ErrorRatePartial.Unmarshal(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		m[topology.Partition(r.Key, s.n)] = p
	}
	return m
}

func stampsOf(t *testing.T, r *kgo.Record) []watermark.Stamp {
	t.Helper()
	for _, h := range r.Headers {
		if h.Key == watermark.HeaderStamp {
			s, err := watermark.Decode(h.Value)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
	}
	return nil
}

// TestCombineCounts: one transaction's partial counts per host, tick and
// pane: events, errors, latencies, signatures, samples; far-future events
// counted apart; bad records dead-lettered.
func TestCombineCounts(t *testing.T) {
	s := newStage(t, 1, nil)
	for i := 0; i < 10; i++ {
		e := ev("web-3", time.Duration(i)*300*time.Millisecond, i%3 == 0) // errors at 0, 0.9, 1.8 and 2.7 s
		lat := float64(10 * (i + 1))
		e.LatencyMs = &lat
		s.consume(0, e)
	}
	s.consume(0, ev("web-1", 500*time.Millisecond, false))
	s.consume(0, ev("web-1", 3*time.Hour, false)) // ahead of the wall clock (t0+1h) by more than MaxFuture
	s.joined(ev("web-3", 900*time.Millisecond, true), "payments-db", 3_001_000)
	s.comb.Consume(&kgo.Record{Topic: topology.TopicUnique, Partition: 0, Offset: 99, Key: []byte("k"), Value: []byte("not avro")})
	noHost := ev(" ", time.Second, false)
	s.consume(0, noHost)

	out, err := s.comb.Flush(s.wall)
	if err != nil {
		t.Fatal(err)
	}
	var dead []*schemas.DeadLetter
	for _, r := range out {
		if r.Topic == topology.TopicDLQ {
			dl, err := s.set.DeadLetter.Unmarshal(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			dead = append(dead, dl)
		}
	}
	if len(dead) != 2 || dead[0].Stage != errorrate.StageName || dead[0].SourceOffset != 99 ||
		!strings.Contains(dead[1].Error, "no host") {
		t.Fatalf("dead letters: %+v", dead)
	}
	ps := decodePartials(t, s, out)
	if len(ps) != 1 || len(ps[0].Hosts) != 2 {
		t.Fatalf("partials: %+v", ps)
	}
	w1, w3 := ps[0].Hosts[0], ps[0].Hosts[1]
	if w1.Host != "web-1" || w1.Future != 1 || len(w1.Ticks) != 1 || w1.Ticks[0] != (schemas.TickCount{Start: ms(0), Events: 1}) {
		t.Fatalf("web-1: %+v", w1)
	}
	wantTicks := []schemas.TickCount{{Start: ms(0), Events: 4, Errors: 2}, {Start: ms(time.Second), Events: 3, Errors: 1}, {Start: ms(2 * time.Second), Events: 3, Errors: 1}}
	if w3.Host != "web-3" || len(w3.Ticks) != 3 {
		t.Fatalf("web-3: %+v", w3)
	}
	for i := range wantTicks {
		if w3.Ticks[i] != wantTicks[i] {
			t.Errorf("web-3 tick %d: %+v, want %+v", i, w3.Ticks[i], wantTicks[i])
		}
	}
	if len(w3.Panes) != 1 {
		t.Fatalf("panes: %+v", w3.Panes)
	}
	pane := w3.Panes[0]
	sk := errorrate.Sketch{}
	if err := sk.MergeBinary(pane.Latency); err != nil || sk.Count() != 10 {
		t.Fatalf("latency sketch: %v, %d values", err, sk.Count())
	}
	if p50, _ := sk.Quantile(0.5); p50 < 49 || p50 > 51 {
		t.Errorf("p50 %v", p50)
	}
	if pane.FirstError != ms(0) || len(pane.Signatures) != 1 || pane.Signatures[0].Count != 4 ||
		pane.Signatures[0].Signature != errorrate.Signature("timeout after 3012 ms to 10.0.4.7:3306") {
		t.Fatalf("pane details: %+v", pane)
	}
	// Samples: the joined one took the place of its own unjoined copy.
	joined := 0
	for _, sm := range pane.Samples {
		if sm.SpanService == "payments-db" && sm.SpanDurationUs == 3_001_000 && sm.EventID == "web-3-900000000" {
			joined++
		}
	}
	if len(pane.Samples) == 0 || len(pane.Samples) > 3 || joined != 1 {
		t.Fatalf("samples: %+v", pane.Samples)
	}
	st := s.comb
	_ = st
	// The next transaction starts empty.
	if out, _ := s.comb.Flush(s.wall); len(decodePartials(t, s, out)) != 0 {
		t.Fatal("a second flush wrote the counts again")
	}
}

// TestCombineWatermark: the hop's watermark of a partition of logs.unique
// is the minimum over the origins (partitions of logs.raw) that feed it;
// it holds while an origin is unknown, moves without the idle ones, and
// goes with every partial and, when due, alone to partitions that have no
// hosts in the transaction.
func TestCombineWatermark(t *testing.T) {
	s := newStage(t, 2, nil) // origins logs.raw/0 and /1
	hostOn0 := ""
	for _, h := range []string{"web-1", "web-2", "web-3", "web-4", "web-5"} {
		if topology.Partition([]byte(h), 2) == 0 {
			hostOn0 = h
			break
		}
	}
	s.consume(0, ev(hostOn0, 0, false), origin(0, 0, 1))
	out := s.flush()
	wantStamp := func(what string, out []*kgo.Record, p int32, want watermark.Stamp) {
		t.Helper()
		for _, r := range out {
			if r.Topic == partialsT && topology.Partition(r.Key, 2) == p {
				for _, st := range stampsOf(t, r) {
					if st.Channel == want.Channel {
						if st.Kind != want.Kind || st.Time != want.Time {
							t.Errorf("%s: partition %d has %s, want %s", what, p, st, want)
						}
						return
					}
				}
			}
		}
		t.Errorf("%s: no stamp of %s to partition %d", what, want.Channel, p)
	}
	ch0 := watermark.Channel(topology.TopicUnique, 0)
	// logs.raw/1 is not heard yet: hold.
	wantStamp("origin 1 unknown", out, 0, watermark.Stamp{Channel: ch0, Kind: watermark.Hold})
	wantStamp("origin 1 unknown, no hosts", out, 1, watermark.Stamp{Channel: ch0, Kind: watermark.Hold})

	s.mark(0, origin(1, 5*time.Second, 7))
	s.consume(0, ev(hostOn0, 10*time.Second, false), origin(0, 10*time.Second, 2))
	out = s.flush()
	wantStamp("min over origins", out, 0, watermark.Stamp{Channel: ch0, Kind: watermark.Time, Time: ms(5 * time.Second)})
	wantStamp("to the partition without hosts too", out, 1, watermark.Stamp{Channel: ch0, Kind: watermark.Time, Time: ms(5 * time.Second)})

	// Origin 1 goes idle: origin 0 alone moves it.
	s.mark(0, idleOrigin(1, 7))
	s.consume(0, ev(hostOn0, 20*time.Second, false), origin(0, 20*time.Second, 3))
	out = s.flush()
	wantStamp("idle origin left out", out, 0, watermark.Stamp{Channel: ch0, Kind: watermark.Time, Time: ms(20 * time.Second)})

	// Nothing new: a partition without hosts hears nothing until the
	// watermark moves by a second.
	s.mark(0, origin(0, 20500*time.Millisecond, 4))
	for _, r := range s.flush() {
		if r.Topic == partialsT {
			t.Fatalf("a stamp half a second on was sent alone: %v", stampsOf(t, r))
		}
	}
	// Partition 1 of logs.unique never had a record; quiet for the idle
	// time and caught up, it is idle.
	s.wall = s.wall.Add(watermark.DefaultIdle)
	s.quiet[1] = true
	out = s.flush()
	wantStamp("empty partition idle", out, 0, watermark.Stamp{Channel: watermark.Channel(topology.TopicUnique, 1), Kind: watermark.Idle})
	// The windows hop's watermark: logs.unique/1 idle, /0 at 20.5 s.
	if st := s.state(0); st == nil || st.Watermark.Watermark != ms(20500*time.Millisecond) || st.Status != "time" {
		t.Fatalf("windows hop watermark: %+v", st)
	}
}

// TestCombineLocalChannel: records without stamps (written straight to
// logs.unique) make the partition its own channel: its watermark is the
// highest event time read there, and it goes idle when quiet and caught
// up, never before.
func TestCombineLocalChannel(t *testing.T) {
	s := newStage(t, 1, nil)
	s.consume(0, ev("web-1", 10*time.Second, false))
	s.consume(0, ev("web-1", 5*time.Second, false))
	s.flush()
	if st := s.state(0); st.Watermark.Watermark != ms(10*time.Second) || st.Status != "time" {
		t.Fatalf("watermark %+v status %s", st.Watermark, st.Status)
	}
	s.wall = s.wall.Add(watermark.DefaultIdle)
	s.flush()
	if st := s.state(0); st.Status != "time" {
		t.Fatalf("quiet but not caught up: status %s", st.Status)
	}
	s.quiet[0] = true
	s.flush()
	if st := s.state(0); st.Status != "idle" || st.Watermark.Watermark != ms(10*time.Second) {
		t.Fatalf("quiet and caught up: status %s watermark %d", st.Status, st.Watermark.Watermark)
	}
}

// TestCombineSkipsUnjoinedSamples: a record of logs.enriched whose join
// status header says it is not joined is not decoded (its bytes here are
// not even Avro, and no bad sample is counted); one that says joined, or
// has no header (written before the header), is.
func TestCombineSkipsUnjoinedSamples(t *testing.T) {
	s := newStage(t, 1, nil)
	st := s.comb.Stats()
	for _, status := range []string{schemas.JoinTimeout, schemas.JoinNoTrace} {
		s.comb.Consume(&kgo.Record{Topic: topology.TopicEnriched, Value: []byte("not avro"),
			Headers: []kgo.RecordHeader{{Key: schemas.HeaderJoinStatus, Value: []byte(status)}}})
	}
	if n := st.BadSamples.Load(); n != 0 {
		t.Fatalf("%d unjoined records decoded", n)
	}
	s.comb.Consume(&kgo.Record{Topic: topology.TopicEnriched, Value: []byte("not avro"),
		Headers: []kgo.RecordHeader{{Key: schemas.HeaderJoinStatus, Value: []byte(schemas.JoinJoined)}}})
	s.comb.Consume(&kgo.Record{Topic: topology.TopicEnriched, Value: []byte("not avro")})
	if n := st.BadSamples.Load(); n != 2 {
		t.Fatalf("%d of the joined and unmarked records decoded, want 2", n)
	}
}
