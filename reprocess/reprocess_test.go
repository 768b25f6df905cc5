package reprocess

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
)

// setup starts a broker with topic "in" of two partitions holding ten
// records a minute apart (even ones on partition 0, odd ones on 1), and
// group "g" committed at the end of both. It returns the broker's address,
// an admin client and the first record's time.
func setup(t *testing.T) (string, *kadm.Client, time.Time) {
	t.Helper()
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0", MinSessionTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if resp, err := adm.CreateTopic(ctx, 2, 1, nil, "in"); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	t0 := time.Now().Add(-time.Hour).Truncate(time.Minute)
	for i := range 10 {
		r := &kgo.Record{Topic: "in", Partition: int32(i % 2), Value: []byte{byte(i)}, Timestamp: t0.Add(time.Duration(i) * time.Minute)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	var offs kadm.Offsets
	offs.Add(kadm.Offset{Topic: "in", Partition: 0, At: 5, LeaderEpoch: -1})
	offs.Add(kadm.Offset{Topic: "in", Partition: 1, At: 5, LeaderEpoch: -1})
	if err := adm.CommitAllOffsets(ctx, "g", offs); err != nil {
		t.Fatal(err)
	}
	return e.Addr(), adm, t0
}

func committed(t *testing.T, adm *kadm.Client, group string) map[int32]int64 {
	t.Helper()
	offs, err := adm.FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	offs.Each(func(o kadm.OffsetResponse) { out[o.Partition] = o.At })
	return out
}

func TestResetByTimeAndByOffset(t *testing.T) {
	_, adm, t0 := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// Partition 0 holds minutes 0, 2, 4, 6, 8; partition 1 minutes 1, 3,
	// 5, 7, 9. From minute 3: partition 0 from its minute 4 (offset 2),
	// partition 1 from its minute 3 (offset 1).
	at := t0.Add(3 * time.Minute)
	p, err := MakePlan(ctx, adm, Request{Group: "g", Topics: []string{"in"}, Time: &at})
	if err != nil {
		t.Fatal(err)
	}
	want := []Move{{Topic: "in", Partition: 0, Current: 5, New: 2}, {Topic: "in", Partition: 1, Current: 5, New: 1}}
	if len(p.Moves) != 2 || p.Moves[0] != want[0] || p.Moves[1] != want[1] || len(p.Members) != 0 || p.Changes() != 2 {
		t.Fatalf("plan by time: %+v", p)
	}
	// Planning changes nothing.
	if got := committed(t, adm, "g"); got[0] != 5 || got[1] != 5 {
		t.Fatalf("a plan moved offsets: %v", got)
	}
	if err := Apply(ctx, adm, p); err != nil {
		t.Fatal(err)
	}
	if got := committed(t, adm, "g"); got[0] != 2 || got[1] != 1 {
		t.Fatalf("after the reset by time: %v, want 0:2 1:1", got)
	}

	// By offset, in every partition.
	three := int64(3)
	p, err = MakePlan(ctx, adm, Request{Group: "g", Topics: []string{"in"}, Offset: &three})
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(ctx, adm, p); err != nil {
		t.Fatal(err)
	}
	if got := committed(t, adm, "g"); got[0] != 3 || got[1] != 3 {
		t.Fatalf("after the reset to offset 3: %v", got)
	}

	// Past the end: the end, and a note says so; a time after the last
	// record likewise.
	far := int64(100)
	p, err = MakePlan(ctx, adm, Request{Group: "g", Topics: []string{"in"}, Offset: &far})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range p.Moves {
		if m.New != 5 || !strings.Contains(m.Note, "after the partition's end") {
			t.Errorf("offset 100: %+v", m)
		}
	}
	late := time.Now()
	p, err = MakePlan(ctx, adm, Request{Group: "g", Topics: []string{"in"}, Time: &late})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range p.Moves {
		if m.New != 5 || m.Note == "" {
			t.Errorf("time after the last record: %+v", m)
		}
	}

	// A group that never committed: current is none; a topic that does
	// not exist is named.
	p, err = MakePlan(ctx, adm, Request{Group: "fresh", Topics: []string{"in"}, Offset: &three})
	if err != nil || p.Moves[0].Current != -1 || p.State != "" {
		t.Fatalf("fresh group: %+v %v", p, err)
	}
	if _, err := MakePlan(ctx, adm, Request{Group: "g", Topics: []string{"nowhere"}, Offset: &three}); err == nil || !strings.Contains(err.Error(), "topic nowhere does not exist") {
		t.Fatalf("missing topic: %v", err)
	}
}

func TestRefusesWhileMembers(t *testing.T) {
	addr, adm, _ := setup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Plan while the group is empty; a member joins before Apply.
	zero := int64(0)
	p, err := MakePlan(ctx, adm, Request{Group: "g", Topics: []string{"in"}, Offset: &zero})
	if err != nil {
		t.Fatal(err)
	}
	member, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID("pod-7"), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("in"),
		kgo.DisableAutoCommit(), kgo.SessionTimeout(3*time.Second), kgo.HeartbeatInterval(500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer member.Close()
	for {
		if d, err := adm.DescribeGroups(ctx, "g"); err == nil && len(d["g"].Members) == 1 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the member never joined")
		}
		pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		member.PollFetches(pctx)
		pcancel()
	}
	err = Apply(ctx, adm, p)
	var me *MembersError
	if !errors.As(err, &me) || len(me.Members) != 1 || me.Members[0].ClientID != "pod-7" ||
		!strings.Contains(err.Error(), "pod-7") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Apply with a member: %v", err)
	}
	if got := committed(t, adm, "g"); got[0] != 5 || got[1] != 5 {
		t.Fatalf("a refused reset moved offsets: %v", got)
	}
	// The plan itself names the members, for a dry run.
	p, err = MakePlan(ctx, adm, Request{Group: "g", Topics: []string{"in"}, Offset: &zero})
	if err != nil || len(p.Members) != 1 || p.Members[0].ClientID != "pod-7" {
		t.Fatalf("plan with a member: %+v %v", p, err)
	}
}
