package sinks_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logstream/logstream/sinks"
)

// fakeClock is the breaker's injected clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// transitions records what onChange sees.
type transitions struct {
	mu   sync.Mutex
	seen []string
}

func (tr *transitions) onChange(from, to sinks.BreakerState) {
	tr.mu.Lock()
	tr.seen = append(tr.seen, from.String()+"->"+to.String())
	tr.mu.Unlock()
}

func (tr *transitions) String() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return strings.Join(tr.seen, " ")
}

func (tr *transitions) want(t *testing.T, what string, want ...string) {
	t.Helper()
	if got := tr.String(); got != strings.Join(want, " ") {
		t.Fatalf("%s: transitions %q, want %q", what, got, strings.Join(want, " "))
	}
}

func wantState(t *testing.T, b *sinks.Breaker, want sinks.BreakerState) {
	t.Helper()
	if got := b.State(); got != want {
		t.Fatalf("state %s, want %s", got, want)
	}
}

func wantAllow(t *testing.T, b *sinks.Breaker, what string) {
	t.Helper()
	if ok, wait := b.Allow(); !ok || wait != 0 {
		t.Fatalf("%s: Allow() = %v, %s; want true, 0", what, ok, wait)
	}
}

func wantRefuse(t *testing.T, b *sinks.Breaker, what string, wait time.Duration) {
	t.Helper()
	ok, got := b.Allow()
	if ok {
		t.Fatalf("%s: Allow() let a write through (state %s)", what, b.State())
	}
	if wait >= 0 && got != wait {
		t.Fatalf("%s: Allow() refused with wait %s, want %s", what, got, wait)
	}
	if got <= 0 {
		t.Fatalf("%s: Allow() refused with wait %s, want a positive wait", what, got)
	}
}

func TestBreakerOpensAfterMaxFailuresInARow(t *testing.T) {
	clock := newFakeClock()
	var tr transitions
	b := sinks.NewBreaker(sinks.BreakerConfig{MaxFailures: 3, Timeout: 10 * time.Second}, clock.Now, tr.onChange)
	wantState(t, b, sinks.Closed)

	// Two failures, a success (resets the count), two failures: never
	// three in a row, so it stays closed.
	for i, step := range []string{"fail", "fail", "ok", "fail", "fail"} {
		wantAllow(t, b, fmt.Sprintf("closed, step %d", i))
		if step == "ok" {
			b.Success()
		} else {
			b.Failure()
		}
		wantState(t, b, sinks.Closed)
	}
	tr.want(t, "a success between failures", []string{}...)

	// The third failure in a row opens it.
	wantAllow(t, b, "closed, third failure")
	b.Failure()
	wantState(t, b, sinks.Open)
	tr.want(t, "third failure in a row", "closed->open")

	// Open: refused with the time left, which shrinks with the clock.
	wantRefuse(t, b, "just opened", 10*time.Second)
	clock.Advance(4 * time.Second)
	wantRefuse(t, b, "4 s after opening", 6*time.Second)
	clock.Advance(5*time.Second + 999*time.Millisecond)
	wantRefuse(t, b, "1 ms before the timeout", time.Millisecond)
	wantState(t, b, sinks.Open)

	// A late failure of a write allowed before the breaker opened does
	// not restart the timeout.
	b.Failure()
	wantState(t, b, sinks.Open)
	wantRefuse(t, b, "after a late failure", time.Millisecond)
	tr.want(t, "open", "closed->open")
}

func TestBreakerMaxFailuresOne(t *testing.T) {
	clock := newFakeClock()
	var tr transitions
	b := sinks.NewBreaker(sinks.BreakerConfig{MaxFailures: 1, Timeout: time.Second}, clock.Now, tr.onChange)
	wantAllow(t, b, "closed")
	b.Failure()
	wantState(t, b, sinks.Open)
	wantRefuse(t, b, "open", time.Second)
	tr.want(t, "one failure", "closed->open")
}

func TestBreakerHalfOpenProbe(t *testing.T) {
	clock := newFakeClock()
	var tr transitions
	b := sinks.NewBreaker(sinks.BreakerConfig{MaxFailures: 2, Timeout: 10 * time.Second}, clock.Now, tr.onChange)
	b.Failure()
	b.Failure()
	wantState(t, b, sinks.Open)

	// The timeout passed: the state turns half-open when asked, and
	// exactly one caller becomes the probe.
	clock.Advance(10 * time.Second)
	wantState(t, b, sinks.Open)
	wantAllow(t, b, "probe after the timeout")
	wantState(t, b, sinks.HalfOpen)
	wantRefuse(t, b, "second caller while the probe is out", -1)
	wantRefuse(t, b, "third caller while the probe is out", -1)
	tr.want(t, "probe out", "closed->open", "open->half-open")

	// The probe fails: open again, with a fresh timeout from now.
	clock.Advance(3 * time.Second) // the probe took a while
	b.Failure()
	wantState(t, b, sinks.Open)
	tr.want(t, "probe failed", "closed->open", "open->half-open", "half-open->open")
	wantRefuse(t, b, "reopened", 10*time.Second)
	clock.Advance(9 * time.Second)
	wantRefuse(t, b, "9 s after reopening", time.Second)

	// Next probe: Abort (its context ended) hands it to the next caller,
	// and only to one.
	clock.Advance(time.Second)
	wantAllow(t, b, "second probe")
	b.Abort()
	wantState(t, b, sinks.HalfOpen)
	wantAllow(t, b, "probe handed over after Abort")
	wantRefuse(t, b, "while the handed-over probe is out", -1)
	tr.want(t, "abort", "closed->open", "open->half-open", "half-open->open", "open->half-open")

	// The probe succeeds: closed, and everyone may write.
	b.Success()
	wantState(t, b, sinks.Closed)
	for i := 0; i < 3; i++ {
		wantAllow(t, b, "closed again")
	}
	tr.want(t, "probe succeeded", "closed->open", "open->half-open", "half-open->open", "open->half-open", "half-open->closed")

	// The count of failures starts from zero again: one failure does not
	// open, the second does.
	b.Failure()
	wantState(t, b, sinks.Closed)
	b.Failure()
	wantState(t, b, sinks.Open)
	tr.want(t, "failures after closing", "closed->open", "open->half-open", "half-open->open", "open->half-open", "half-open->closed", "closed->open")

	// Success and Abort on a closed breaker change nothing.
	c := sinks.NewBreaker(sinks.BreakerConfig{MaxFailures: 2, Timeout: time.Second}, clock.Now, func(from, to sinks.BreakerState) {
		t.Errorf("unexpected transition %s -> %s", from, to)
	})
	c.Success()
	c.Abort()
	wantState(t, c, sinks.Closed)
}

// TestBreakerOneProbeUnderConcurrency: of many writers asking at once
// after the timeout, exactly one is let through.
func TestBreakerOneProbeUnderConcurrency(t *testing.T) {
	clock := newFakeClock()
	var changes atomic.Int32
	b := sinks.NewBreaker(sinks.BreakerConfig{MaxFailures: 1, Timeout: time.Second}, clock.Now, func(from, to sinks.BreakerState) {
		changes.Add(1)
	})
	b.Failure()
	clock.Advance(time.Second)
	var (
		wg      sync.WaitGroup
		allowed atomic.Int32
		start   = make(chan struct{})
	)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for j := 0; j < 10; j++ {
				if ok, _ := b.Allow(); ok {
					allowed.Add(1)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	if n := allowed.Load(); n != 1 {
		t.Fatalf("%d writers allowed while half-open, want exactly one probe", n)
	}
	if n := changes.Load(); n != 2 { // closed->open, open->half-open
		t.Fatalf("onChange called %d times, want 2", n)
	}
}

func TestBreakerConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  sinks.BreakerConfig
		want string // "" valid
	}{
		{sinks.BreakerConfig{MaxFailures: 5, Timeout: 30 * time.Second}, ""},
		{sinks.BreakerConfig{MaxFailures: 1, Timeout: time.Second}, ""},
		{sinks.BreakerConfig{MaxFailures: 1000, Timeout: time.Hour}, ""},
		{sinks.BreakerConfig{MaxFailures: 0, Timeout: time.Second}, "CIRCUIT_BREAKER_MAX_FAILURES"},
		{sinks.BreakerConfig{MaxFailures: 1001, Timeout: time.Second}, "CIRCUIT_BREAKER_MAX_FAILURES"},
		{sinks.BreakerConfig{MaxFailures: 5, Timeout: 999 * time.Millisecond}, "CIRCUIT_BREAKER_TIMEOUT_SEC"},
		{sinks.BreakerConfig{MaxFailures: 5, Timeout: time.Hour + time.Second}, "CIRCUIT_BREAKER_TIMEOUT_SEC"},
	} {
		err := tc.cfg.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.cfg, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: error %v, want one naming %s", tc.cfg, err, tc.want)
		}
	}
}

func TestBreakerStateString(t *testing.T) {
	for s, want := range map[sinks.BreakerState]string{sinks.Closed: "closed", sinks.Open: "open", sinks.HalfOpen: "half-open", 7: "BreakerState(7)"} {
		if got := s.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(s), got, want)
		}
	}
	// The metric's values are the states' numbers.
	if sinks.Closed != 0 || sinks.Open != 1 || sinks.HalfOpen != 2 {
		t.Fatalf("breaker states are %d/%d/%d, the metric documents 0/1/2", sinks.Closed, sinks.Open, sinks.HalfOpen)
	}
}
