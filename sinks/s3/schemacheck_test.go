package s3

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/sinks"
	"github.com/logstream/logstream/sinks/internal/sinktest"
	"github.com/logstream/logstream/topology"
)

// The S3 writer stores on alerts only the Alerts: a LogEvent produced to
// alerts and a tombstone go to logs.dlq with their reasons, are counted,
// and the committed offset moves past them.
func TestSinkRejectsRecordsItsTopicDoesNotCarry(t *testing.T) {
	const bucket = "schema-check"
	l := startLocal(t, bucket)
	b := sinktest.StartBroker(t, topology.TopicAlerts, 1)
	set := b.Codecs
	at := testBase
	alert := func(id string) []byte {
		v, err := set.Alert.Marshal(&schemas.Alert{ID: id, DedupKey: "host:web-1:error_rate", State: schemas.AlertFiring,
			Host: "web-1", Rule: "error_rate", Rules: []string{"error_rate"}, Signatures: []schemas.Signature{}, At: at.UnixMilli()})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	ev, err := set.LogEvent.Marshal(&schemas.LogEvent{EventID: "ev-1", Timestamp: at.UnixMilli(), Host: "web-1", Message: "GET / 200"})
	if err != nil {
		t.Fatal(err)
	}
	recs := []*kgo.Record{
		{Topic: topology.TopicAlerts, Key: []byte("fleet"), Value: alert("a1")}, // 0
		{Topic: topology.TopicAlerts, Key: []byte("ev-1"), Value: ev},           // 1: a LogEvent
		{Topic: topology.TopicAlerts, Key: []byte("fleet"), Value: nil},         // 2: a tombstone
		{Topic: topology.TopicAlerts, Key: []byte("fleet"), Value: alert("a2")}, // 3
	}
	if err := b.Client.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	s := newSink(t, l.url, bucket, func(c *Config) { c.MaxAge = 200 * time.Millisecond })
	w := sinktest.Start(t, sinktest.RunnerConfig{Broker: b, Group: topology.GroupSinkS3, Topic: topology.TopicAlerts, Sink: s, Logger: testLogger()})
	stopped := false
	defer func() {
		if !stopped {
			w.Stop()
		}
	}()
	deadline := time.Now().Add(60 * time.Second) // a failure bound
	for {
		offs, err := b.Committed(context.Background(), topology.GroupSinkS3, topology.TopicAlerts)
		if err == nil && offs[0] == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("committed %v (%v), want offset 4 of alerts/0: the offset must move past rejected records", offs, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopped = true
	if err := w.Stop(); err != nil {
		t.Fatal(err)
	}

	// The objects hold the two alerts and nothing else.
	var stored []int64
	for key := range l.objects(t) {
		if !strings.Contains(key, "topic="+topology.TopicAlerts+"/") {
			t.Errorf("object %s is not under the alerts topic", key)
		}
		for _, line := range ndjsonLines(t, getBody(t, s, bucket, key)) {
			var v struct {
				Topic  string `json:"kafka_topic"`
				Offset int64  `json:"kafka_offset"`
				ID     string `json:"id"`
				Event  string `json:"event_id"`
			}
			if err := json.Unmarshal(line, &v); err != nil {
				t.Fatal(err)
			}
			if v.Topic != topology.TopicAlerts || v.ID == "" || v.Event != "" {
				t.Errorf("object %s holds %s, which is no alert", key, line)
			}
			stored = append(stored, v.Offset)
		}
	}
	if len(stored) != 2 || stored[0] != 0 || stored[1] != 3 {
		t.Errorf("stored offsets %v, want [0 3]", stored)
	}

	// The dead letters, with their reasons.
	dl := readDeadLetters(t, b, 2)
	want := map[int64]string{1: "record is a LogEvent, but alerts carries Alert records", 2: "null value (tombstone)"}
	for _, d := range dl {
		reason, ok := want[d.SourceOffset]
		if !ok || d.SourceTopic != topology.TopicAlerts || d.SourcePartition != 0 || d.Stage != "sink-s3" || !strings.Contains(d.Error, reason) {
			t.Errorf("dead letter %s/%d@%d stage %s: %q; want one of %v", d.SourceTopic, d.SourcePartition, d.SourceOffset, d.Stage, d.Error, want)
			continue
		}
		delete(want, d.SourceOffset)
		switch d.SourceOffset {
		case 1:
			if string(d.OriginalValue) != string(ev) || string(d.OriginalKey) != "ev-1" {
				t.Errorf("the LogEvent's dead letter does not keep its bytes and key")
			}
		case 2:
			if d.OriginalValue != nil {
				t.Errorf("the tombstone's dead letter has value %q, want null", d.OriginalValue)
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("no dead letter for %v", want)
	}

	// Counted by reason.
	counts := gather(t, w.Runner.Metrics(), "logstream_sink_rejected_records_total")
	for _, reason := range []string{sinks.ReasonWrongRecord, sinks.ReasonTombstone} {
		if got := counts["reason="+reason+",sink=s3,topic=alerts"]; got != 1 {
			t.Errorf("rejected_records_total{reason=%s} = %v, want 1 (all: %v)", reason, got, counts)
		}
	}
}

// readDeadLetters reads n dead letters from logs.dlq.
func readDeadLetters(t *testing.T, b *sinktest.Broker, n int) []*schemas.DeadLetter {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Brokers...), kgo.ConsumeTopics(topology.TopicDLQ), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*schemas.DeadLetter
	for deadline := time.Now().Add(30 * time.Second); len(out) < n && time.Now().Before(deadline); {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			dl, err := b.Codecs.DeadLetter.Unmarshal(r.Value)
			if err != nil {
				t.Fatalf("logs.dlq@%d: %v", r.Offset, err)
			}
			out = append(out, dl)
		})
		cancel()
	}
	if len(out) != n {
		t.Fatalf("%d dead letters, want %d", len(out), n)
	}
	return out
}

// gather returns the values of a counter by its labels ("k=v,k=v", the
// labels sorted by name).
func gather(t *testing.T, m *sinks.Metrics, name string) map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, mt := range mf.GetMetric() {
			var parts []string
			for _, lp := range mt.GetLabel() {
				parts = append(parts, lp.GetName()+"="+lp.GetValue())
			}
			out[strings.Join(parts, ",")] = mt.GetCounter().GetValue()
		}
	}
	return out
}
