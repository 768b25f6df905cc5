package state

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
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

// TestDueIndex: a sweep's keys are exactly those whose Due is met, in
// order; a key due again later, deleted, or waiting for a commit is judged
// on its latest Due; marked keys go in the order of their marks; the bound
// reaches the oldest waiting keys first.
func TestDueIndex(t *testing.T) {
	r := Track(Memory(), "tbl")
	if _, err := r.Builder()("tbl", 0); err != nil {
		t.Fatal(err)
	}
	due := func(at int64) Due { return Due{At: at, Marked: -1} }
	r.Note(0, "c", due(30))
	r.Note(0, "a", due(10))
	r.Note(0, "b", due(20))
	r.Note(0, "w", Due{At: 10, Marked: -1, Waits: [3]Wait{{Topic: "in", Offset: 5}}})
	tm := func(st int64, committed int64) Timer {
		return Timer{StreamTime: st, Committed: map[string]int64{"in": committed}}
	}
	// keys returns a sweep's keys; their visits change nothing unless the
	// test says so afterwards (the sweeper requeues them).
	keys := func(st, committed int64) []string {
		k, _ := r.dueKeys(0, VisitDue, tm(st, committed), 0, false)
		r.requeue(0, k)
		return k
	}
	if got := keys(9, 10); len(got) != 0 {
		t.Fatalf("due before any At: %v", got)
	}
	if got := keys(20, 5); !equal(got, "a", "b") {
		t.Fatalf("at 20, offset 5 uncommitted: %v, want a b", got)
	}
	// Nothing was visited: the same keys again (no visit changed them).
	if got := keys(20, 6); !equal(got, "a", "b", "w") {
		t.Fatalf("at 20, offset 5 committed: %v, want a b w", got)
	}
	r.Forget(0, "a")        // deleted by its visit
	r.Note(0, "b", due(40)) // due later now
	r.Note(0, "w", due(10)) // the same time, no longer waiting
	if got := keys(30, 6); !equal(got, "c", "w") {
		t.Fatalf("at 30: %v, want c w", got)
	}
	r.Note(0, "m2", Due{At: math.MaxInt64, Marked: 7})
	r.Note(0, "m1", Due{At: math.MaxInt64, Marked: 3})
	if got, _ := r.dueKeys(0, VisitMarked, tm(0, 0), 0, false); !equal(got, "m1", "m2") {
		t.Fatalf("marked: %v, want m1 m2", got)
	}
	if got := keys(math.MaxInt64, 6); !equal(got, "b", "c", "w") {
		t.Fatalf("idle partition: %v, want every unmarked key", got)
	}
	// The bound: 5 held where 3 may be; the oldest waiting go first.
	r.Note(0, "h1", Due{At: 100, Marked: -1, Held: 2})
	r.Note(0, "h2", Due{At: 200, Marked: -1, Held: 2})
	r.Note(0, "h3", Due{At: 300, Marked: -1, Held: 1})
	cut, released, over := r.boundCutoff(0, 3)
	if !over || cut != 100 || released != 2 || r.Held(0) != 5 {
		t.Fatalf("bound: cut %d released %d over %v held %d", cut, released, over, r.Held(0))
	}
	if got, _ := r.dueKeys(0, VisitDue, tm(5, 6), cut, true); !equal(got, "h1") {
		t.Fatalf("bounded: %v, want h1", got)
	}
	r.Forget(0, "h1")
	if _, _, over := r.boundCutoff(0, 3); over || r.Held(0) != 3 {
		t.Fatalf("within the bound after the release: held %d", r.Held(0))
	}
}

func equal(got []string, want ...string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

type fixedClock int64

func (c fixedClock) StreamTime(int32) int64   { return int64(c) }
func (c fixedClock) Idle(int32) time.Duration { return 0 }

// TestSweepAbortsAndOverlap: a visit aborted by a rebalance or a stop is
// no error (the keys stay due for the next sweep) and is said once, not
// every sweep; sweeps of one sweeper never overlap.
func TestSweepAbortsAndOverlap(t *testing.T) {
	r := Track(Memory(), "tbl")
	st, _ := r.Builder()("tbl", 0)
	_ = st.MarkRecovered()
	r.Note(0, "k", Due{At: 10, Marked: -1})
	var logged bytes.Buffer
	var inVisit, overlaps, visits atomic.Int32
	abort := atomic.Bool{}
	sw := &Sweeper{Registry: r, Clock: fixedClock(100), Group: "g", Log: zerolog.New(&logged),
		DueOf: func(string, []byte) (Due, bool) { return Due{}, false },
		Committed: func(context.Context) (map[string]map[int32]int64, error) {
			return map[string]map[int32]int64{}, nil
		},
		Visit: func(ctx context.Context, meta any) (int64, error) {
			if inVisit.Add(1) > 1 {
				overlaps.Add(1)
			}
			defer inVisit.Add(-1)
			visits.Add(1)
			time.Sleep(5 * time.Millisecond)
			if abort.Load() {
				return 0, fmt.Errorf("visiting: %w", ErrVisitAborted)
			}
			return 1, nil
		}}
	abort.Store(true)
	for i := 0; i < 3; i++ {
		if _, err := sw.Sweep(context.Background()); err != nil {
			t.Fatalf("an aborted visit is an error: %v", err)
		}
	}
	if n := strings.Count(logged.String(), "cut short"); n != 1 {
		t.Fatalf("aborts said %d times in 3 sweeps, want once:\n%s", n, logged.String())
	}
	if k, _ := r.dueKeys(0, VisitDue, Timer{StreamTime: 100}, 0, false); len(k) != 1 {
		t.Fatalf("the aborted key is not due any more: %v", k)
	}
	r.requeue(0, []string{"k"})
	abort.Store(false)
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := sw.Sweep(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if overlaps.Load() != 0 {
		t.Fatalf("%d visits overlapped", overlaps.Load())
	}
}

// TestBoundBringsSweepForward: a key noted past the bound brings the next
// sweep forward (the interval here is an hour), and the sweep visits the
// oldest waiting key.
func TestBoundBringsSweepForward(t *testing.T) {
	r := Track(Memory(), "tbl")
	st, _ := r.Builder()("tbl", 0)
	_ = st.MarkRecovered()
	visited := make(chan *Visit, 10)
	sw := &Sweeper{Registry: r, Clock: fixedClock(0), Group: "g", Interval: time.Hour, MaxHeld: 2, Log: zerolog.Nop(),
		DueOf:     func(string, []byte) (Due, bool) { return Due{}, false },
		Committed: func(context.Context) (map[string]map[int32]int64, error) { return nil, nil },
		Visit: func(ctx context.Context, meta any) (int64, error) {
			visited <- meta.(*Visit)
			return 1, nil
		}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- sw.Run(ctx) }()
	time.Sleep(50 * time.Millisecond) // Run has set the bound
	r.Note(0, "old", Due{At: 100, Marked: -1, Held: 2})
	r.Note(0, "new", Due{At: 200, Marked: -1, Held: 1})
	select {
	case v := <-visited:
		if b, ok := v.BoundOf(0); !ok || b != 100 {
			t.Fatalf("bound of the visit: %d %v, want the oldest key's 100", b, ok)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no sweep brought forward by the bound")
	}
	cancel()
	<-done
}
