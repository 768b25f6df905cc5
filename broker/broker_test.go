package broker

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// With a data directory, topics and records survive a restart of the
// embedded broker on the same address.
func TestEmbeddedPersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	e, err := StartEmbedded(EmbeddedConfig{Addr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	addr := e.Addr()
	tun := Tuning{Replication: 1}
	if err := EnsureTopics([]string{addr}, tun, map[string]int{"s": 3}, map[string]int{"t-table": 3}); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("s"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < 10; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte{byte(i)}, Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	e.Close()

	e2, err := StartEmbedded(EmbeddedConfig{Addr: addr, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	cl2, err := kgo.NewClient(kgo.SeedBrokers(e2.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	adm := kadm.NewClient(cl2)
	ends, err := adm.ListEndOffsets(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if total != 10 {
		t.Fatalf("after restart the topic holds %d records, want 10", total)
	}
	cfgs, err := adm.DescribeTopicConfigs(ctx, "t-table")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cfgs.On("t-table", nil)
	if err != nil {
		t.Fatal(err)
	}
	compacted := false
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" && c.MaybeValue() == "compact" {
			compacted = true
		}
	}
	if !compacted {
		t.Fatalf("table topic is not log-compacted: %+v", rc.Configs)
	}
	// Re-ensuring with a different partition count is an error, not a
	// silent mismatch.
	if err := EnsureTopics([]string{e2.Addr()}, tun, map[string]int{"s": 4}, nil); err == nil {
		t.Fatal("EnsureTopics accepted a partition-count mismatch")
	}
}

func TestEmbeddedAddressInUse(t *testing.T) {
	e, err := StartEmbedded(EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := StartEmbedded(EmbeddedConfig{Addr: e.Addr()}); err == nil {
		t.Fatal("a second broker started on a busy address")
	}
	if _, err := StartEmbedded(EmbeddedConfig{Addr: "nonsense"}); err == nil {
		t.Fatal("bad address accepted")
	}
}
