package exactlyonce

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
)

func TestCovers(t *testing.T) {
	// The last landed record: the 2nd emit of spans@10; by then the loop
	// topic was processed up to 7.
	l := &Landed{Topic: "spans", Offset: 10, Seq: 2, Pos: map[string]int64{"spans": 10, "loop": 7}}
	for _, c := range []struct {
		topic  string
		offset int64
		seq    int
		want   bool
	}{
		{"spans", 9, 5, true},   // an earlier record: every emit landed
		{"spans", 10, 1, true},  // the same record, an earlier emit
		{"spans", 10, 2, true},  // the landed emit itself
		{"spans", 10, 3, false}, // its next emit never landed
		{"spans", 11, 1, false}, // a later record
		{"loop", 7, 9, true},    // processed before spans@10 was
		{"loop", 6, 1, true},
		{"loop", 8, 1, false},
		{"events", 0, 1, false}, // a topic the stage never wrote from
	} {
		if got := l.covers(c.topic, c.offset, c.seq); got != c.want {
			t.Errorf("covers(%s@%d#%d) = %v, want %v", c.topic, c.offset, c.seq, got, c.want)
		}
	}
	var none *Landed
	if none.covers("spans", 0, 1) {
		t.Error("nothing landed, yet covers said yes")
	}
}

func TestParseHeaders(t *testing.T) {
	h := map[string]string{HeaderStage: "tracejoin", HeaderFrom: "tracejoin-loop@41#3", HeaderPos: "logs.unique=9,tracejoin-loop=41,spans=5"}
	get := func(k string) []byte {
		if v, ok := h[k]; ok {
			return []byte(v)
		}
		return nil
	}
	l, ok, err := ParseHeaders("tracejoin", get)
	if err != nil || !ok {
		t.Fatalf("ParseHeaders: %v %v", ok, err)
	}
	if l.Topic != "tracejoin-loop" || l.Offset != 41 || l.Seq != 3 || l.Pos["logs.unique"] != 9 || l.Pos["spans"] != 5 || l.Pos["tracejoin-loop"] != 41 {
		t.Errorf("parsed %+v", l)
	}
	if _, ok, _ := ParseHeaders("dedupe", get); ok {
		t.Error("a record of another stage was taken as ours")
	}
	for _, bad := range []string{"no-at", "t@x#1", "t@1#y", "t#1@2"} {
		h[HeaderFrom] = bad
		if _, _, err := ParseHeaders("tracejoin", get); err == nil {
			t.Errorf("%s %q accepted", HeaderFrom, bad)
		}
	}
	h[HeaderFrom], h[HeaderPos] = "t@1#1", "t=x"
	if _, _, err := ParseHeaders("tracejoin", get); err == nil {
		t.Error("a malformed position accepted")
	}
	if got := encodePos(map[string]int64{"a": 1}); got != "a=1" {
		t.Errorf("encodePos = %q", got)
	}
}

// KafkaTail finds the last record a stage wrote, past records of other
// writers, on a real (embedded) broker.
func TestKafkaTail(t *testing.T) {
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if err := broker.EnsureTopics([]string{e.Addr()}, broker.Tuning{Replication: 1}, map[string]int{"out": 2}, nil); err != nil {
		t.Fatal(err)
	}
	tail := KafkaTail([]string{e.Addr()})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if l, err := tail(ctx, "out", 1, "dedupe"); err != nil || l != nil {
		t.Fatalf("empty partition: %v %v", l, err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addr()), kgo.DefaultProduceTopic("out"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rec := func(stage, from string) *kgo.Record {
		r := &kgo.Record{Partition: 1, Value: []byte("v")}
		if stage != "" {
			r.Headers = []kgo.RecordHeader{{Key: HeaderStage, Value: []byte(stage)}, {Key: HeaderFrom, Value: []byte(from)}, {Key: HeaderPos, Value: []byte("in=" + from[3:4])}}
		}
		return r
	}
	recs := []*kgo.Record{rec("dedupe", "in@1#1"), rec("dedupe", "in@2#1")}
	for i := 0; i < 40; i++ {
		recs = append(recs, rec("", "")) // another writer's records after ours
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	l, err := tail(ctx, "out", 1, "dedupe")
	if err != nil || l == nil || l.Topic != "in" || l.Offset != 2 || l.Seq != 1 {
		t.Fatalf("tail = %+v, %v; want in@2#1", l, err)
	}
	if l, err := tail(ctx, "out", 1, "tracejoin"); err != nil || l != nil {
		t.Fatalf("a stage that never wrote: %+v %v", l, err)
	}
}
