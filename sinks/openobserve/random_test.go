package openobserve

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/sinks/openobserve/o2test"
)

// crashTransport simulates the process dying in the middle of a flush:
// once armed, it lets `after` requests through, then forwards one more
// (the server applies it) and fails it instead of returning the answer;
// every request after that fails until the test restarts the "process".
// next is the server's Transport, so a request the crash (or a timeout)
// cut off is finished at the server before the restart's search.
type crashTransport struct {
	mu      sync.Mutex
	next    http.RoundTripper
	armed   bool
	after   int
	crashed bool
}

var errCrashed = errors.New("the process crashed (simulated)")

func (c *crashTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.crashed {
		c.mu.Unlock()
		return nil, errCrashed
	}
	die := false
	if c.armed {
		if c.after == 0 {
			die, c.armed, c.crashed = true, false, true
		} else {
			c.after--
		}
	}
	c.mu.Unlock()
	resp, err := c.next.RoundTrip(r)
	if die {
		if err == nil {
			resp.Body.Close()
		}
		return nil, errCrashed
	}
	return resp, err
}

func (c *crashTransport) arm(after int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.armed, c.after = true, after
}

func (c *crashTransport) restart() (crashed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	crashed, c.crashed, c.armed = c.crashed, false, false
	return crashed
}

func (c *crashTransport) isCrashed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.crashed
}

// trialPartition is one partition of a trial, as the runner would hold it.
type trialPartition struct {
	id        int32
	recs      []*kgo.Record
	dead      map[int64]bool // offsets that must end in the dead letters only
	dl        *deadLetters
	w         *partition
	next      int   // index of the next record to add
	committed int64 // the committed offset; -1 none
}

// TestRandomizedExactlyOnce drives writers the way the runner does, through
// random faults and crashes (a crash drops every writer and restarts each
// partition from its last committed offset, which lags Committable), and
// then checks that OpenObserve holds every record once and only the
// records that cannot be stored went to the dead letters.
func TestRandomizedExactlyOnce(t *testing.T) {
	seeds := 50
	if testing.Short() {
		seeds = 10
	}
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			t.Parallel() // the trials wait on timeouts and backoffs as much as they compute
			randomTrial(t, seed)
		})
	}
}

func randomTrial(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	verify := rng.IntN(3) == 0
	bulk := rng.IntN(2) == 0
	rate := func(max float64) float64 { return rng.Float64() * max }
	faults := o2test.Faults{
		Unavailable:     rate(0.03),
		TooManyRequests: rate(0.02),
		InternalError:   rate(0.02),
		LostResponse:    rate(0.04),
		PartialOK:       rate(0.04),
		PartialError:    rate(0.03),
		PartialLost:     rate(0.03),
		ZeroZero:        rate(0.03),
		Slow:            rate(0.01),
		Late:            rate(0.02),

		SearchPartial:     rate(0.08),
		SearchUnavailable: rate(0.03),
	}
	if verify {
		faults.FalseSuccess = rate(0.04)
	}
	srv := testServer(t, o2test.Options{Seed: seed, Faults: faults, SlowDelay: time.Second})
	crash := &crashTransport{next: srv.Transport(nil)}
	cfg := testConfig(t, srv)
	cfg.Bulk, cfg.Verify = bulk, verify
	cfg.BatchSize = 20 + rng.IntN(200)
	cfg.HTTPClient = &http.Client{Transport: crash}
	cfg.Timeout = 50 * time.Millisecond // a Slow or Late answer times out
	cfg.Retry.Attempts = 4
	sink := newSink(t, cfg)
	ctx := context.Background()

	now := time.Now()
	parts := make([]*trialPartition, 1+rng.IntN(2))
	total := 2000 + rng.IntN(2000)
	for i := range parts {
		p := &trialPartition{id: int32(i), dead: map[int64]bool{}, dl: newDeadLetters(), committed: -1}
		base := int64(rng.IntN(1_000_000))
		for j := range total / len(parts) {
			off := base + int64(j)
			ev := event(p.id, off, now.Add(-time.Duration(rng.IntN(3600))*time.Second))
			var r *kgo.Record
			switch x := rng.IntN(1000); {
			case x < 8: // the server answers 400 to any request holding it
				ev.Labels["poison"] = "1"
				p.dead[off] = true
			case x < 12: // not Avro
				r = &kgo.Record{Topic: testTopic, Partition: p.id, Offset: off, Value: []byte(`{"plain":"json"}`)}
				p.dead[off] = true
			case x < 15: // too old for OpenObserve
				ev.Timestamp = now.Add(-6 * time.Hour).UnixMilli()
				p.dead[off] = true
			}
			if r == nil {
				r = record(t, p.id, off, ev)
			}
			p.recs = append(p.recs, r)
		}
		parts[i] = p
	}
	indexOf := func(p *trialPartition, off int64) int {
		if off < 0 {
			return 0
		}
		return int(off - p.recs[0].Offset)
	}
	crashes, steps := 0, 0
	restartAll := func() {
		crash.restart()
		crashes++
		for _, p := range parts {
			if p.w != nil {
				p.w.Close()
				p.w = nil
			}
		}
	}
	// flush retries like the runner until it succeeds; false means the
	// process crashed meanwhile.
	flush := func(p *trialPartition, all bool) bool {
		for try := 1; ; try++ {
			if rng.IntN(25) == 0 {
				crash.arm(rng.IntN(3))
			}
			err := p.w.Flush(ctx, all)
			if crash.isCrashed() {
				return false
			}
			if err == nil {
				if c := p.w.Committable(); c > p.committed && rng.IntN(5) != 0 { // commits lag, or fail
					p.committed = c
				}
				return true
			}
			if try > 100 {
				t.Fatalf("partition %d: flush keeps failing: %v", p.id, err)
			}
		}
	}
	open := func(p *trialPartition) {
		if p.w == nil {
			p.w = newWriter(t, sink, p.id, p.dl)
			p.next = indexOf(p, p.committed)
		}
	}
	for {
		var active []*trialPartition
		for _, p := range parts {
			if p.next < len(p.recs) || (p.w != nil && p.w.pending > 0) || p.w == nil && p.committed < p.recs[len(p.recs)-1].Offset+1 {
				active = append(active, p)
			}
		}
		if len(active) == 0 || steps > 20000 {
			break
		}
		steps++
		p := active[rng.IntN(len(active))]
		open(p)
		crashed := false
		for k := 1 + rng.IntN(cfg.BatchSize); k > 0 && p.next < len(p.recs) && !crashed; k-- {
			if p.w.Full() && !flush(p, false) {
				crashed = true
				break
			}
			if err := p.w.Add(ctx, p.recs[p.next]); err != nil {
				t.Fatal(err)
			}
			p.next++
		}
		if !crashed && (rng.IntN(4) == 0 || p.next == len(p.recs)) {
			crashed = !flush(p, true) // due by age, or the end of the input
		}
		if crashed || rng.IntN(40) == 0 {
			restartAll()
		}
	}
	// The end: no more faults; every partition writes what it holds.
	srv.SetFaults(o2test.Faults{})
	for _, p := range parts {
		open(p)
		for p.next < len(p.recs) {
			if err := p.w.Add(ctx, p.recs[p.next]); err != nil {
				t.Fatal(err)
			}
			p.next++
		}
		if err := p.w.Flush(ctx, true); err != nil {
			t.Fatal(err)
		}
		p.committed = max(p.committed, p.w.Committable())
	}

	st := srv.Stats()
	t.Logf("seed %d: %d partitions, %d records, batch %d, bulk %v, verify %v; %d steps, %d crashes; %d ingest requests, %d searches, faults %v, search faults %v",
		seed, len(parts), total, cfg.BatchSize, bulk, verify, steps, crashes, st.IngestRequests, st.SearchRequests, st.Faults, st.SearchFaults)
	for _, p := range parts {
		last := p.recs[len(p.recs)-1].Offset
		want := offsetRange(p.recs[0].Offset, last+1)
		for o := range p.dead {
			delete(want, o)
		}
		exactlyOnce(t, srv, p.id, want)
		got := p.dl.offsets()
		for o := range p.dead {
			if !got[o] {
				t.Errorf("partition %d: offset %d not dead-lettered", p.id, o)
			}
		}
		for o := range got {
			if !p.dead[o] {
				t.Errorf("partition %d: offset %d dead-lettered: %v", p.id, o, p.dl.cause(o))
			}
		}
		if p.committed != last+1 {
			t.Errorf("partition %d: committed %d, want %d", p.id, p.committed, last+1)
		}
	}
}
