package sinks

import (
	"fmt"
	"sync"
	"time"
)

// BreakerState is a circuit breaker's state.
type BreakerState int

// Breaker states, the values of logstream_sink_circuit_state.
const (
	// Closed: writes go through; failures are counted.
	Closed BreakerState = iota
	// Open: MaxFailures writes in a row failed; nothing is tried until
	// Timeout has passed, and the runner pauses consumption.
	Open
	// HalfOpen: Timeout passed; one write is let through as a probe. Its
	// success closes the breaker, its failure opens it again.
	HalfOpen
)

func (s BreakerState) String() string {
	switch s {
	case Closed:
		return "closed"
	case Open:
		return "open"
	case HalfOpen:
		return "half-open"
	}
	return fmt.Sprintf("BreakerState(%d)", int(s))
}

// BreakerConfig configures a Breaker.
type BreakerConfig struct {
	// MaxFailures is how many failed writes in a row open the breaker
	// (CIRCUIT_BREAKER_MAX_FAILURES, default 5).
	MaxFailures int
	// Timeout is how long it stays open before a probe
	// (CIRCUIT_BREAKER_TIMEOUT_SEC, default 30 s).
	Timeout time.Duration
}

// Breaker defaults.
const (
	DefaultBreakerMaxFailures = 5
	DefaultBreakerTimeout     = 30 * time.Second
)

// Validate reports the first invalid setting.
func (c BreakerConfig) Validate() error {
	if c.MaxFailures < 1 || c.MaxFailures > 1000 {
		return fmt.Errorf("sinks: CIRCUIT_BREAKER_MAX_FAILURES must be between 1 and 1000, got %d", c.MaxFailures)
	}
	if c.Timeout < time.Second || c.Timeout > time.Hour {
		return fmt.Errorf("sinks: CIRCUIT_BREAKER_TIMEOUT_SEC must be between 1 and 3600 seconds, got %s", c.Timeout)
	}
	return nil
}

// Breaker is a circuit breaker shared by every partition writer of a sink:
// when the store is down, all of them stop trying at once instead of each
// hammering it with retries, and consumption pauses until a probe
// succeeds. Safe for concurrent use.
type Breaker struct {
	cfg      BreakerConfig
	now      func() time.Time
	onChange func(from, to BreakerState)

	mu       sync.Mutex
	state    BreakerState
	failures int
	openedAt time.Time
	probing  bool // a half-open probe is out
}

// NewBreaker returns a closed breaker. onChange, if not nil, is called
// (outside the breaker's lock) on every change of state.
func NewBreaker(cfg BreakerConfig, now func() time.Time, onChange func(from, to BreakerState)) *Breaker {
	if now == nil {
		now = time.Now
	}
	return &Breaker{cfg: cfg, now: now, onChange: onChange}
}

// State returns the current state (Open turns HalfOpen once the timeout
// has passed, when the next caller asks Allow).
func (b *Breaker) State() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// Allow reports whether a write may be tried now. When it may not, wait
// is how long until it might. A true answer in the half-open state makes
// the caller the probe: it must report Success or Failure.
func (b *Breaker) Allow() (ok bool, wait time.Duration) {
	b.mu.Lock()
	from := b.state
	switch b.state {
	case Closed:
		b.mu.Unlock()
		return true, 0
	case Open:
		left := b.cfg.Timeout - b.now().Sub(b.openedAt)
		if left > 0 {
			b.mu.Unlock()
			return false, left
		}
		b.state, b.probing = HalfOpen, true
		b.mu.Unlock()
		b.changed(from, HalfOpen)
		return true, 0
	default: // HalfOpen
		if b.probing {
			b.mu.Unlock()
			// Another writer's probe is out; ask again shortly.
			return false, 100 * time.Millisecond
		}
		b.probing = true
		b.mu.Unlock()
		return true, 0
	}
}

// Success records a write that succeeded: the breaker closes.
func (b *Breaker) Success() {
	b.mu.Lock()
	from := b.state
	b.state, b.failures, b.probing = Closed, 0, false
	b.mu.Unlock()
	if from != Closed {
		b.changed(from, Closed)
	}
}

// Failure records a failed write: the MaxFailures-th in a row, or a failed
// probe, opens the breaker.
func (b *Breaker) Failure() {
	b.mu.Lock()
	from := b.state
	b.failures++
	open := b.state == HalfOpen || (b.state == Closed && b.failures >= b.cfg.MaxFailures)
	if open {
		b.state, b.openedAt, b.probing = Open, b.now(), false
	}
	b.mu.Unlock()
	if open {
		b.changed(from, Open)
	}
}

// Abort withdraws a write that was allowed but not tried to the end (its
// context ended): a half-open probe is handed to the next writer.
func (b *Breaker) Abort() {
	b.mu.Lock()
	if b.state == HalfOpen {
		b.probing = false
	}
	b.mu.Unlock()
}

func (b *Breaker) changed(from, to BreakerState) {
	if b.onChange != nil && from != to {
		b.onChange(from, to)
	}
}
