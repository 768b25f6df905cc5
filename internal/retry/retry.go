// Package retry is the one retry policy of the packages that talk to
// something that may fail for a while (the paging targets, the sink
// stores, Kafka when a consumer writes a dead letter): exponential backoff
// with jitter, capped, cut short by a context, stopped at once by an error
// a classifier calls permanent, and lengthened when the other side asks
// for a pause (Retry-After).
//
// The n-th wait (after the n-th failed attempt, 1-based) is drawn
// uniformly from [d/2, d] with d = Initial·2ⁿ⁻¹ capped at Max: the jitter
// keeps the members of a group that failed together from retrying in
// step, and the lower half-bound keeps the pace from collapsing. A
// Retry-After longer than the drawn wait replaces it, up to Max, so that a
// server cannot park a caller for longer than its operator allows.
package retry

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Defaults of Policy.
const (
	DefaultInitial = 200 * time.Millisecond
	DefaultMax     = 30 * time.Second
)

// Policy paces the attempts of one operation. The zero value retries
// forever, 200 ms doubling up to 30 s, and calls no error permanent.
type Policy struct {
	// Initial is the first wait's upper bound; 0 means DefaultInitial. One
	// above Max is lowered to Max.
	Initial time.Duration
	// Max caps every wait, a Retry-After included; 0 means DefaultMax.
	Max time.Duration
	// Attempts, when positive, bounds the attempts: after that many
	// failures the error is an *ExhaustedError. 0 means no bound.
	Attempts int
	// Permanent, when set, tells an error retrying cannot cure: it is
	// returned at once, as it is.
	Permanent func(error) bool
	// RetryAfter, when set, returns the pause the other side asked for with
	// an error (an HTTP Retry-After), 0 when none.
	RetryAfter func(error) time.Duration
	// OnRetry, when set, is called by Do before each wait with the number
	// of the attempt that failed (1 for the first), its error and the
	// wait: the hook for logs and metrics.
	OnRetry func(attempt int, err error, wait time.Duration)
	// Sleep waits d or until ctx ends, reporting whether d passed; nil
	// means a timer. Tests replace it to run without waiting.
	Sleep func(ctx context.Context, d time.Duration) bool
	// Jitter returns a duration in [0, n) for n > 0; nil means
	// math/rand/v2's N. Tests replace it to pin the draw.
	Jitter func(n time.Duration) time.Duration
}

// ExhaustedError is the error after Policy.Attempts failed attempts.
type ExhaustedError struct {
	Attempts int   // the attempts made
	Err      error // the last one's error
}

func (e *ExhaustedError) Error() string {
	return fmt.Sprintf("%d attempts failed, the last: %v", e.Attempts, e.Err)
}

// Unwrap returns the last attempt's error.
func (e *ExhaustedError) Unwrap() error { return e.Err }

// InterruptedError is the error when the context ended before an attempt
// succeeded. It matches (errors.Is) both the context's error and the last
// attempt's, so that a caller can tell a shutdown from a failure and still
// log what failed.
type InterruptedError struct {
	Ctx  error // the context's error
	Last error // the last attempt's error
}

func (e *InterruptedError) Error() string {
	return fmt.Sprintf("%v (last attempt: %v)", e.Ctx, e.Last)
}

// Unwrap returns the context's and the last attempt's errors.
func (e *InterruptedError) Unwrap() []error { return []error{e.Ctx, e.Last} }

func (p Policy) withDefaults() Policy {
	if p.Initial <= 0 {
		p.Initial = DefaultInitial
	}
	if p.Max <= 0 {
		p.Max = DefaultMax
	}
	if p.Initial > p.Max {
		p.Initial = p.Max
	}
	return p
}

// Wait returns the pause after failed attempt n (1-based): the jittered
// backoff, or retryAfter when that is longer, capped at Max.
func (p Policy) Wait(n int, retryAfter time.Duration) time.Duration {
	p = p.withDefaults()
	d := p.Initial
	// Doubling stops at Max, so that a large n cannot overflow.
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	jitter := p.Jitter
	if jitter == nil {
		jitter = rand.N[time.Duration]
	}
	d = d/2 + jitter(d/2+1)
	if retryAfter > d {
		d = min(retryAfter, p.Max)
	}
	return d
}

// Do runs attempt until it returns nil, returns a permanent error (which
// Do returns as it is), fails Attempts times (*ExhaustedError), or ctx ends
// (*InterruptedError).
func (p Policy) Do(ctx context.Context, attempt func(context.Context) error) error {
	l := p.Start()
	for {
		err := attempt(ctx)
		if err == nil {
			return nil
		}
		wait, stop := l.Failed(ctx, err, 0)
		if stop != nil {
			return stop
		}
		if p.OnRetry != nil {
			p.OnRetry(l.n, err, wait)
		}
		if err := l.Pause(ctx, wait, err); err != nil {
			return err
		}
	}
}

// Start begins a Loop: the failed attempts of one operation whose attempts
// the caller makes itself (a state machine that fails at several places).
func (p Policy) Start() *Loop { return &Loop{p: p.withDefaults()} }

// Loop counts the failed attempts of one operation.
type Loop struct {
	p Policy
	n int
}

// Failed records a failed attempt with error err. It returns the wait
// before the next attempt, or the error to give up with: err itself when
// it is permanent, an *ExhaustedError after Attempts failures, an
// *InterruptedError when ctx has ended. retryAfter is a pause the other
// side asked for, besides what the policy's RetryAfter finds in err.
func (l *Loop) Failed(ctx context.Context, err error, retryAfter time.Duration) (time.Duration, error) {
	if l.p.Permanent != nil && l.p.Permanent(err) {
		return 0, err
	}
	l.n++
	if l.p.Attempts > 0 && l.n >= l.p.Attempts {
		return 0, &ExhaustedError{Attempts: l.n, Err: err}
	}
	if ctx.Err() != nil {
		return 0, &InterruptedError{Ctx: ctx.Err(), Last: err}
	}
	if l.p.RetryAfter != nil {
		retryAfter = max(retryAfter, l.p.RetryAfter(err))
	}
	return l.p.Wait(l.n, retryAfter), nil
}

// Pause waits d, or returns an *InterruptedError naming last when ctx ends
// first.
func (l *Loop) Pause(ctx context.Context, d time.Duration, last error) error {
	sleep := l.p.Sleep
	if sleep == nil {
		sleep = Sleep
	}
	if !sleep(ctx, d) {
		return &InterruptedError{Ctx: ctx.Err(), Last: last}
	}
	return nil
}

// Attempt returns the number of failed attempts recorded so far.
func (l *Loop) Attempt() int { return l.n }

// Sleep waits d or until ctx ends; it reports whether d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
