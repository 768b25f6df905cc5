package pipeline

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/processors/alerter"
	"github.com/logstream/logstream/processors/deadletter"
	"github.com/logstream/logstream/processors/dedupe"
	"github.com/logstream/logstream/processors/errorrate"
	"github.com/logstream/logstream/processors/parse"
	"github.com/logstream/logstream/processors/spans"
	"github.com/logstream/logstream/processors/tracejoin"
	"github.com/logstream/logstream/topology"
)

// A record with a null value (a tombstone) on any input of any stage (its
// input streams, the loop topics, the combine hop's logs.unique) becomes
// a dead letter with the reason "null value (tombstone)" from each stage
// that reads it, counted in that stage's dead letters, and the stage's
// committed offset moves past it. An empty value on logs.raw keeps its
// own reason: Kafka tells null from empty, and so do the stages.
func TestTombstonesBecomeDeadLetters(t *testing.T) {
	st := startStack(t, 2)
	p := st.pipe
	deadLetters := map[string]func() int64{
		parse.StageName:     func() int64 { return p.Parse().Stats().DeadLetters.Load() },
		spans.StageName:     func() int64 { return p.Spans().Stats().DeadLetters.Load() },
		dedupe.StageName:    func() int64 { return p.Dedupe().Stats().DeadLetters.Load() },
		tracejoin.StageName: func() int64 { return p.TraceJoin().Stats().DeadLetters.Load() },
		// The combine hop counts in the stage's Stats too.
		errorrate.StageName: func() int64 { return p.ErrorRate().Stats().DeadLetters.Load() },
		alerter.StageName:   func() int64 { return p.Alerter().Stats().DeadLetters.Load() },
	}
	type reader struct{ stage, group, reason string }
	tomb := func(stage, group string) reader { return reader{stage, group, deadletter.ErrTombstone.Error()} }
	cases := []struct {
		topic   string
		value   []byte
		readers []reader
	}{
		{topology.TopicRaw, nil, []reader{tomb(parse.StageName, topology.GroupParse)}},
		{topology.TopicRaw, []byte{}, []reader{{parse.StageName, topology.GroupParse, parse.ErrEmptyRecord.Error()}}},
		{topology.TopicOTLPSpans, nil, []reader{tomb(spans.StageName, topology.GroupSpans)}},
		{topology.TopicParsed, nil, []reader{tomb(dedupe.StageName, topology.GroupDedupe)}},
		{topology.LoopTopic(topology.GroupDedupe), nil, []reader{tomb(dedupe.StageName, topology.GroupDedupe)}},
		{topology.TopicUnique, nil, []reader{
			tomb(tracejoin.StageName, topology.GroupTraceJoin),
			tomb(errorrate.StageName, topology.GroupErrorRateCombine),
		}},
		{topology.TopicSpans, nil, []reader{tomb(tracejoin.StageName, topology.GroupTraceJoin)}},
		{topology.LoopTopic(topology.GroupTraceJoin), nil, []reader{tomb(tracejoin.StageName, topology.GroupTraceJoin)}},
		{topology.TopicErrorRatePartials, nil, []reader{tomb(errorrate.StageName, topology.GroupErrorRate)}},
		{topology.LoopTopic(topology.GroupErrorRate), nil, []reader{tomb(errorrate.StageName, topology.GroupErrorRate)}},
		{topology.TopicWindowUpdates, nil, []reader{tomb(alerter.StageName, topology.GroupAlerter)}},
	}
	recs := make([]*kgo.Record, len(cases))
	want, perStage := 0, map[string]int64{}
	for i, c := range cases {
		recs[i] = &kgo.Record{Topic: c.topic, Key: []byte(fmt.Sprintf("tomb-%d", i)), Value: c.value}
		want += len(c.readers)
		for _, r := range c.readers {
			perStage[r.stage]++
		}
	}
	produceRecords(t, st.addr, recs)

	dls := consumeAll(t, st.addr, want, time.Minute, topology.TopicDLQ)
	type source struct {
		topic     string
		partition int32
		offset    int64
		stage     string
	}
	got := map[source][]string{}
	for _, r := range dls {
		d, err := st.set.DeadLetter.Unmarshal(r.Value)
		if err != nil {
			t.Fatalf("dead letter %d/%d: %v", r.Partition, r.Offset, err)
		}
		s := source{d.SourceTopic, d.SourcePartition, d.SourceOffset, d.Stage}
		got[s] = append(got[s], d.Error)
		var in *kgo.Record
		for _, rec := range recs {
			if rec.Topic == d.SourceTopic && rec.Partition == d.SourcePartition && rec.Offset == d.SourceOffset {
				in = rec
			}
		}
		if in == nil {
			t.Errorf("dead letter of a record the test did not write: %+v", d)
			continue
		}
		if string(d.OriginalKey) != string(in.Key) || string(r.Key) != string(in.Key) {
			t.Errorf("%s: dead letter keys %q and %q, want the original %q", d.SourceTopic, d.OriginalKey, r.Key, in.Key)
		}
		// Null stays null, empty stays empty (the schema's null is for
		// a tombstone).
		if (d.OriginalValue == nil) != (in.Value == nil) || len(d.OriginalValue) != len(in.Value) {
			t.Errorf("%s: dead letter value %#v, want %#v", d.SourceTopic, d.OriginalValue, in.Value)
		}
	}
	for i, c := range cases {
		in := recs[i]
		for _, r := range c.readers {
			reasons := got[source{in.Topic, in.Partition, in.Offset, r.stage}]
			if len(reasons) == 0 {
				t.Errorf("%s (value %#v): no dead letter from %s", in.Topic, in.Value, r.stage)
			}
			// At least once: a replay may write one twice, never
			// with another reason.
			for _, reason := range reasons {
				if reason != r.reason {
					t.Errorf("%s (value %#v): %s's dead letter says %q, want %q", in.Topic, in.Value, r.stage, reason, r.reason)
				}
			}
		}
	}
	for stage, n := range perStage {
		if c := deadLetters[stage](); c < n {
			t.Errorf("%s counted %d dead letters, want at least %d", stage, c, n)
		}
	}

	// Every reader commits past the record: none is stuck on it, or will
	// read it again after a restart.
	cl, err := kgo.NewClient(kgo.SeedBrokers(st.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for i, c := range cases {
		in := recs[i]
		for _, r := range c.readers {
			waitFor(t, fmt.Sprintf("%s committed past %s/%d@%d", r.group, in.Topic, in.Partition, in.Offset), func() bool {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				offs, err := adm.FetchOffsets(ctx, r.group)
				if err != nil {
					return false
				}
				o, ok := offs.Lookup(in.Topic, in.Partition)
				return ok && o.At > in.Offset
			})
		}
	}
}
