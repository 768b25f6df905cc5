package state

import (
	"fmt"
	"math"
	"testing"
	"time"
)

func TestMemoryStorage(t *testing.T) {
	st, err := Memory()("t", 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if err := st.Set(fmt.Sprintf("k%03d", i), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Delete("k050"); err != nil {
		t.Fatal(err)
	}
	if v, _ := st.Get("k007"); len(v) != 1 || v[0] != 7 {
		t.Errorf("Get = %v", v)
	}
	if ok, _ := st.Has("k050"); ok {
		t.Error("deleted key still there")
	}
	if o, _ := st.GetOffset(-2); o != -2 {
		t.Errorf("offset before any: %d", o)
	}
	_ = st.SetOffset(41)
	if o, _ := st.GetOffset(-2); o != 41 {
		t.Errorf("offset %d", o)
	}
	it, _ := st.Iterator()
	n, prev := 0, ""
	for it.Next() {
		k := string(it.Key())
		if k <= prev {
			t.Errorf("keys out of order: %s after %s", k, prev)
		}
		prev = k
		n++
		_ = st.Delete("k099") // deleting while iterating is allowed
	}
	if n != 98 {
		t.Errorf("iterated %d keys, want 98", n)
	}
	rit, _ := st.IteratorWithRange([]byte("k010"), []byte("k020"))
	n = 0
	for rit.Next() {
		n++
	}
	if n != 10 {
		t.Errorf("range iterated %d keys, want 10", n)
	}
}

func TestRegistryTracksTheTableOnly(t *testing.T) {
	r := Track(Memory(), "dedupe-table")
	other, _ := r.Builder()("parse-table", 0)
	tbl, _ := r.Builder()("dedupe-table", 2)
	_ = other.Set("x", []byte("1"))
	_ = tbl.Set("a", []byte("1"))
	_ = tbl.Set("b", []byte("2"))
	if got := r.Partitions(); len(got) != 1 || got[0] != 2 {
		t.Fatalf("Partitions = %v", got)
	}
	var keys []string
	if err := r.Scan(2, func(k string, v []byte) bool { keys = append(keys, k); return true }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Errorf("scanned %v", keys)
	}
	if _, ok := r.Recovered(2); ok {
		t.Error("recovered before goka said so")
	}
	_ = tbl.MarkRecovered()
	if at, ok := r.Recovered(2); !ok || time.Since(at) > time.Minute {
		t.Error("MarkRecovered not recorded")
	}
	_ = tbl.Close()
	if got := r.Partitions(); len(got) != 0 {
		t.Errorf("closed store still registered: %v", got)
	}
}

func TestTimer(t *testing.T) {
	tm := Timer{StreamTime: math.MaxInt64, Committed: map[string]int64{"logs.parsed": 10}}
	got, err := DecodeTimer(tm.Encode())
	if err != nil || got.StreamTime != tm.StreamTime || got.Committed["logs.parsed"] != 10 {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if !got.IsCommitted("logs.parsed", 9) || got.IsCommitted("logs.parsed", 10) || got.IsCommitted("loop", 0) || !got.IsCommitted("loop", -1) {
		t.Error("IsCommitted wrong")
	}
	if _, err := DecodeTimer([]byte("{")); err == nil {
		t.Error("garbage timer accepted")
	}
}

func TestClock(t *testing.T) {
	now := time.Unix(1000, 0)
	c := NewClock(func() time.Time { return now })
	if c.StreamTime(0) != 0 {
		t.Error("stream time before any record")
	}
	c.Observe(0, 500)
	c.Observe(0, 300) // out of order: stream time stays
	if c.StreamTime(0) != 500 {
		t.Errorf("stream time %d", c.StreamTime(0))
	}
	now = now.Add(3 * time.Second)
	if c.Idle(0) != 3*time.Second || c.Idle(1) != 3*time.Second {
		t.Errorf("idle %v %v", c.Idle(0), c.Idle(1))
	}
}
