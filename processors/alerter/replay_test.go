package alerter_test

import (
	"bytes"
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/lovoo/goka"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/alerter"
	"github.com/logstream/logstream/processors/exactlyonce"
	"github.com/logstream/logstream/processors/internal/gokatest"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

// A replay is the same record read again after a crash: the table holds
// what its first processing wrote, the alert may or may not have landed.
// goka's tester never delivers an offset twice, so Process is driven
// through a fake goka.Context over a table kept across "restarts" (a new
// stage and fence each time).

// replayStage is one run of the stage over the table tb.
type replayStage struct {
	p   *alerter.Processor
	set *codecs.Set
	tb  *gokatest.Table
}

func startStage(t *testing.T, set *codecs.Set, tb *gokatest.Table, tail exactlyonce.TailFunc) *replayStage {
	t.Helper()
	topo, err := topology.New(topology.Config{Partitions: 1, Replication: 1})
	if err != nil {
		t.Fatal(err)
	}
	fence, err := exactlyonce.New(exactlyonce.Config{Stage: alerter.StageName, Outputs: []string{topology.TopicAlerts}, Tail: tail,
		PartitionOf: func(key string) int32 { return topology.Partition([]byte(key), 1) }})
	if err != nil {
		t.Fatal(err)
	}
	cfg := topo.AlerterConfig(set)
	cfg.Fence, cfg.Rules = fence, alerter.DefaultRules()
	p, err := alerter.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tb.Codec = set.AlerterState
	return &replayStage{p: p, set: set, tb: tb}
}

func (s *replayStage) process(offset int64, value []byte) *gokatest.Context {
	ctx := gokatest.NewContext(goka.Group(topology.GroupAlerter), "", s.tb,
		gokatest.Record{Topic: goka.Stream(topology.TopicWindowUpdates), Key: topology.FleetKey, Offset: offset})
	s.p.Process(ctx, value)
	return ctx
}

// alertsOf returns the alerts ctx emitted.
func alertsOf(t *testing.T, ctx *gokatest.Context) []gokatest.Sent {
	t.Helper()
	var out []gokatest.Sent
	for _, e := range ctx.Emits {
		if e.Topic != topology.TopicAlerts {
			t.Fatalf("emitted to %s: %v", e.Topic, e.Value)
		}
		out = append(out, e)
	}
	return out
}

func tailAt(t *testing.T, e gokatest.Sent) exactlyonce.TailFunc {
	t.Helper()
	l, ok, err := exactlyonce.ParseHeaders(alerter.StageName, func(k string) []byte { return e.Headers[k] })
	if err != nil || !ok {
		t.Fatalf("fence headers of %v: %v %v", e.Headers, ok, err)
	}
	return func(context.Context, string, int32, string) (*exactlyonce.Landed, error) { return l, nil }
}

func TestReplayThroughTheFence(t *testing.T) {
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	tb := gokatest.NewTable(set.AlerterState)
	first := startStage(t, set, tb, noTail)

	// The window updates of one bad host among four healthy ones, every
	// 5 s, each at the next offset; the state after each record that
	// wrote an alert is kept.
	type wrote struct {
		offset int64
		alert  gokatest.Sent
		after  map[string][]byte
	}
	var records [][]byte
	var alerts []wrote
	f := newFeed(set, func(b []byte) {
		offset := int64(len(records))
		records = append(records, b)
		ctx := first.process(offset, b)
		for _, e := range alertsOf(t, ctx) {
			alerts = append(alerts, wrote{offset, e, tb.Snapshot()})
		}
	})
	from, to := 3*time.Minute+28*time.Second, 6*time.Minute
	f.run(t, sim{minutes: 10, step: 5 * time.Second,
		perSec: func(string, time.Time) float64 { return 25 },
		rate: func(host string, at time.Time) float64 {
			if host == "web-3" && between(at, from, to) {
				return 0.2
			}
			return 0.012
		}})
	if len(alerts) != 2 {
		t.Fatalf("the stream wrote %d alerts, want a FIRING and a RESOLVED", len(alerts))
	}
	fired, resolved := alerts[0], alerts[1]
	for i, w := range alerts {
		al, err := set.Alert.Unmarshal(w.alert.Value.([]byte))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("offset %d wrote %s %s at +%s", w.offset, al.State, al.Host, at(al.At))
		if want := []string{schemas.AlertFiring, schemas.AlertResolved}[i]; al.State != want || al.Host != "web-3" {
			t.Fatalf("alert %d is %s %s, want %s web-3", i, al.State, al.Host, want)
		}
	}
	finalState := tb.Snapshot()

	// rest processes the records after offset and returns the alerts.
	rest := func(s *replayStage, after int64) [][]byte {
		var out [][]byte
		for o := after + 1; o < int64(len(records)); o++ {
			for _, e := range alertsOf(t, s.process(o, records[o])) {
				out = append(out, e.Value.([]byte))
			}
		}
		return out
	}
	resolvedOnly := func(t *testing.T, got [][]byte) {
		t.Helper()
		if len(got) != 1 || !bytes.Equal(got[0], resolved.alert.Value.([]byte)) {
			t.Fatalf("the records after the replay wrote %d alerts, want the RESOLVED alert once", len(got))
		}
	}

	t.Run("alert did not land", func(t *testing.T) {
		// Crash after the table write, before the FIRING alert landed:
		// the tail says nothing of the stage's landed.
		s := startStage(t, set, tb, noTail)
		tb.Restore(fired.after)
		got := alertsOf(t, s.process(fired.offset, records[fired.offset]))
		if len(got) != 1 || !bytes.Equal(got[0].Value.([]byte), fired.alert.Value.([]byte)) || got[0].Key != topology.FleetKey {
			t.Fatalf("replay of the firing record wrote %d alerts, want the FIRING alert's bytes once", len(got))
		}
		if !reflect.DeepEqual(tb.Snapshot(), fired.after) {
			t.Fatal("the replay changed the state")
		}
		if st := s.p.Stats(); st.Replayed.Load() != 1 || st.Suppressed.Load() != 0 || st.Firing.Load() != 0 || st.Updates.Load() != 0 {
			t.Fatalf("replayed %d, suppressed %d, firing %d, updates %d", st.Replayed.Load(), st.Suppressed.Load(), st.Firing.Load(), st.Updates.Load())
		}
		// An earlier record, replayed over the same state, wrote nothing.
		if got := alertsOf(t, s.process(fired.offset-1, records[fired.offset-1])); len(got) != 0 {
			t.Fatalf("replay of the record before the firing one wrote %d alerts", len(got))
		}
		resolvedOnly(t, rest(s, fired.offset))
		if !reflect.DeepEqual(tb.Snapshot(), finalState) {
			t.Fatal("the state after the replay and the rest of the stream differs")
		}
	})

	t.Run("alert landed", func(t *testing.T) {
		s := startStage(t, set, tb, tailAt(t, fired.alert))
		tb.Restore(fired.after)
		if got := alertsOf(t, s.process(fired.offset, records[fired.offset])); len(got) != 0 {
			t.Fatalf("replay after the FIRING alert landed wrote %d alerts", len(got))
		}
		if st := s.p.Stats(); st.Replayed.Load() != 1 || st.Suppressed.Load() != 1 {
			t.Fatalf("replayed %d, suppressed %d", st.Replayed.Load(), st.Suppressed.Load())
		}
		resolvedOnly(t, rest(s, fired.offset))
	})

	t.Run("resolved alert did not land", func(t *testing.T) {
		// The FIRING alert landed, the RESOLVED one did not.
		s := startStage(t, set, tb, tailAt(t, fired.alert))
		tb.Restore(resolved.after)
		got := alertsOf(t, s.process(resolved.offset, records[resolved.offset]))
		if len(got) != 1 || !bytes.Equal(got[0].Value.([]byte), resolved.alert.Value.([]byte)) {
			t.Fatalf("replay of the resolving record wrote %d alerts, want the RESOLVED alert once", len(got))
		}
		if got := rest(s, resolved.offset); len(got) != 0 {
			t.Fatalf("the records after the replay wrote %d alerts", len(got))
		}
	})

	t.Run("resolved alert landed", func(t *testing.T) {
		s := startStage(t, set, tb, tailAt(t, resolved.alert))
		tb.Restore(resolved.after)
		if got := alertsOf(t, s.process(resolved.offset, records[resolved.offset])); len(got) != 0 {
			t.Fatalf("replay after the RESOLVED alert landed wrote %d alerts", len(got))
		}
		if got := rest(s, resolved.offset); len(got) != 0 {
			t.Fatalf("the records after the replay wrote %d alerts", len(got))
		}
	})
}
