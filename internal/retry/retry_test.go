package retry

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// pinned returns a jitter that always draws the lowest (low) or the
// highest value of its range.
func pinned(low bool) func(time.Duration) time.Duration {
	return func(n time.Duration) time.Duration {
		if low {
			return 0
		}
		return n - 1
	}
}

// TestWaitSequence: the n-th wait's range is [d/2, d] with d doubling from
// Initial and capped at Max, at both ends of the jitter.
func TestWaitSequence(t *testing.T) {
	p := Policy{Initial: 100 * time.Millisecond, Max: 3 * time.Second}
	want := []time.Duration{ // d after attempts 1..8
		100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond,
		1600 * time.Millisecond, 3 * time.Second, 3 * time.Second, 3 * time.Second,
	}
	for i, d := range want {
		n := i + 1
		p.Jitter = pinned(true)
		if w := p.Wait(n, 0); w != d/2 {
			t.Errorf("lowest wait after attempt %d = %s, want %s", n, w, d/2)
		}
		p.Jitter = pinned(false)
		if w := p.Wait(n, 0); w != d {
			t.Errorf("highest wait after attempt %d = %s, want %s", n, w, d)
		}
	}
	// Far past the cap the doubling stops, so it cannot overflow.
	for _, n := range []int{64, 1000, 1 << 30} {
		if w := p.Wait(n, 0); w != 3*time.Second {
			t.Errorf("highest wait after attempt %d = %s, want the maximum", n, w)
		}
	}
}

// TestWaitJitterRange: the default jitter stays within [d/2, d] and does
// not always draw the same wait.
func TestWaitJitterRange(t *testing.T) {
	p := Policy{Initial: 64 * time.Millisecond, Max: time.Second}
	for n, d := range map[int]time.Duration{1: 64 * time.Millisecond, 3: 256 * time.Millisecond, 5: time.Second, 30: time.Second} {
		seen := map[time.Duration]bool{}
		for range 200 {
			w := p.Wait(n, 0)
			if w < d/2 || w > d {
				t.Fatalf("wait after attempt %d = %s, want within [%s, %s]", n, w, d/2, d)
			}
			seen[w] = true
		}
		if len(seen) < 2 {
			t.Errorf("200 waits after attempt %d are all %v: no jitter", n, seen)
		}
	}
}

func TestWaitDefaultsAndRetryAfter(t *testing.T) {
	high := pinned(false)
	if w := (Policy{Jitter: high}).Wait(1, 0); w != DefaultInitial {
		t.Errorf("zero policy's first wait %s, want %s", w, DefaultInitial)
	}
	if w := (Policy{Jitter: high}).Wait(100, 0); w != DefaultMax {
		t.Errorf("zero policy's longest wait %s, want %s", w, DefaultMax)
	}
	if w := (Policy{Initial: time.Minute, Max: time.Second, Jitter: high}).Wait(1, 0); w != time.Second {
		t.Errorf("initial above max: first wait %s, want the maximum", w)
	}
	p := Policy{Initial: 100 * time.Millisecond, Max: 10 * time.Second, Jitter: high}
	for _, c := range []struct{ after, want time.Duration }{
		{0, 100 * time.Millisecond},
		{50 * time.Millisecond, 100 * time.Millisecond}, // shorter than the backoff: no effect
		{5 * time.Second, 5 * time.Second},
		{time.Hour, 10 * time.Second}, // capped at Max
	} {
		if w := p.Wait(1, c.after); w != c.want {
			t.Errorf("Retry-After %s: wait %s, want %s", c.after, w, c.want)
		}
	}
}

// recorder is a Sleep that records its waits and never waits.
type recorder struct{ waits []time.Duration }

func (r *recorder) sleep(ctx context.Context, d time.Duration) bool {
	r.waits = append(r.waits, d)
	return ctx.Err() == nil
}

func TestDoRetriesUntilSuccess(t *testing.T) {
	var rec recorder
	var hooked []int
	var hookedWaits []time.Duration
	p := Policy{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond, Sleep: rec.sleep, Jitter: pinned(false),
		OnRetry: func(attempt int, err error, wait time.Duration) {
			if err == nil {
				t.Errorf("OnRetry(%d) without the error", attempt)
			}
			hooked = append(hooked, attempt)
			hookedWaits = append(hookedWaits, wait)
		}}
	calls := 0
	err := p.Do(context.Background(), func(context.Context) error {
		calls++
		if calls <= 4 {
			return errors.New("unavailable")
		}
		return nil
	})
	if err != nil || calls != 5 {
		t.Fatalf("Do = %v after %d calls, want nil after 5", err, calls)
	}
	// With the highest jitter, each wait is the bound d itself.
	want := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 50 * time.Millisecond}
	if !slices.Equal(rec.waits, want) || !slices.Equal(hookedWaits, want) {
		t.Errorf("waits %v, told to OnRetry %v, want %v", rec.waits, hookedWaits, want)
	}
	if !slices.Equal(hooked, []int{1, 2, 3, 4}) {
		t.Errorf("OnRetry attempts %v, want 1..4", hooked)
	}
}

func TestDoPermanentStops(t *testing.T) {
	var rec recorder
	bad := errors.New("401 unauthorized")
	p := Policy{Sleep: rec.sleep, Permanent: func(err error) bool { return errors.Is(err, bad) }}
	calls := 0
	err := p.Do(context.Background(), func(context.Context) error {
		calls++
		if calls == 1 {
			return errors.New("503") // retried
		}
		return bad
	})
	if err != bad {
		t.Fatalf("Do = %v, want the permanent error as it is", err)
	}
	if calls != 2 || len(rec.waits) != 1 {
		t.Fatalf("%d calls and %d waits, want 2 and 1: a permanent error is not retried", calls, len(rec.waits))
	}
}

func TestDoAttempts(t *testing.T) {
	var rec recorder
	last := errors.New("connection refused")
	p := Policy{Attempts: 3, Sleep: rec.sleep}
	calls := 0
	err := p.Do(context.Background(), func(context.Context) error { calls++; return last })
	var ex *ExhaustedError
	if !errors.As(err, &ex) || ex.Attempts != 3 || !errors.Is(err, last) {
		t.Fatalf("Do = %v, want an ExhaustedError of 3 attempts wrapping the last error", err)
	}
	if calls != 3 || len(rec.waits) != 2 {
		t.Fatalf("%d calls and %d waits, want 3 and 2 (no wait after the last)", calls, len(rec.waits))
	}
}

func TestDoCancel(t *testing.T) {
	last := errors.New("timeout")
	// Cancelled during an attempt: no wait follows.
	ctx, cancel := context.WithCancel(context.Background())
	var rec recorder
	calls := 0
	err := Policy{Sleep: rec.sleep}.Do(ctx, func(context.Context) error { calls++; cancel(); return last })
	var in *InterruptedError
	if !errors.As(err, &in) || !errors.Is(err, context.Canceled) || !errors.Is(err, last) {
		t.Fatalf("Do = %v, want an InterruptedError matching context.Canceled and the last error", err)
	}
	if calls != 1 || len(rec.waits) != 0 {
		t.Fatalf("%d calls and %d waits after the context ended, want 1 and 0", calls, len(rec.waits))
	}

	// Cancelled during a wait, with the real timer: an hour's wait ends
	// with the context.
	ctx, cancel = context.WithCancel(context.Background())
	calls = 0
	p := Policy{Initial: time.Hour, Max: time.Hour, OnRetry: func(int, error, time.Duration) { cancel() }}
	err = p.Do(ctx, func(context.Context) error { calls++; return last })
	if !errors.Is(err, context.Canceled) || !errors.Is(err, last) || calls != 1 {
		t.Fatalf("Do = %v after %d calls, want context.Canceled after 1", err, calls)
	}
	if got, want := err.Error(), "context canceled (last attempt: timeout)"; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
}

func TestLoopFailed(t *testing.T) {
	ctx := context.Background()
	l := Policy{Initial: time.Second, Max: 8 * time.Second, Attempts: 3, Jitter: pinned(false),
		RetryAfter: func(err error) time.Duration {
			if err.Error() == "429" {
				return 4 * time.Second
			}
			return 0
		}}.Start()
	if w, err := l.Failed(ctx, errors.New("429"), 0); err != nil || w != 4*time.Second {
		t.Fatalf("first failure: wait %s, %v; want the hook's Retry-After 4s", w, err)
	}
	// The caller's Retry-After counts too, the longer of the two wins.
	if w, err := l.Failed(ctx, errors.New("503"), 6*time.Second); err != nil || w != 6*time.Second || l.Attempt() != 2 {
		t.Fatalf("second failure: wait %s, %v, attempt %d; want 6s at attempt 2", w, err, l.Attempt())
	}
	if _, err := l.Failed(ctx, errors.New("503"), 0); !errors.As(err, new(*ExhaustedError)) {
		t.Fatalf("third failure of 3: %v, want ExhaustedError", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	l = Policy{}.Start()
	if _, err := l.Failed(cctx, errors.New("x"), 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("failure after the context ended: %v", err)
	}
	if err := l.Pause(cctx, time.Hour, errors.New("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Pause after the context ended: %v", err)
	}
}
