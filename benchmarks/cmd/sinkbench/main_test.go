package main

import (
	"testing"
	"time"

	"github.com/logstream/logstream/codecs"
)

// TestEventSize keeps the generated LogEvents at the size the README
// states: 350–450 B of Avro on average, every one a valid LogEvent.
func TestEventSize(t *testing.T) {
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	g := newGen(42)
	const n = 5000
	total, lo, hi := 0, 1<<30, 0
	for i := 0; i < n; i++ {
		v, err := set.LogEvent.Marshal(g.event(time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := set.LogEvent.Unmarshal(v); err != nil {
			t.Fatal(err)
		}
		total += len(v)
		lo, hi = min(lo, len(v)), max(hi, len(v))
	}
	avg := float64(total) / n
	t.Logf("%d events: %.0f B on average, %d..%d", n, avg, lo, hi)
	if avg < 350 || avg > 450 {
		t.Errorf("average event %.0f B, want 350–450", avg)
	}
}

// TestRunSmall runs the whole benchmark on a few records against the
// in-process stores: every writer must store every record and commit the
// end (run checks both).
func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("embedded broker and stores: not under -short")
	}
	cfg := config{records: 3000, partitions: 3, rounds: 1, maxConcurrency: 2, s3Records: 500, o2Batch: 200,
		maxAge: 100 * time.Millisecond, only: map[string]bool{"s3local": true, "openobserve": true}, timeout: time.Minute}
	if err := run(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
}
