package demo

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Drain bounds the wait for the stages to catch up once the fleet stops
// writing. A machine whose CPU is taken by other work runs the stages
// slower, not wrongly: the wait goes on as long as the backlog keeps
// shrinking, and gives up only when it has not shrunk for Stall, or after
// Limit in all.
type Drain struct {
	// Stall gives up when the backlog has not reached a new low for this
	// long (a rebalance pauses a group for 6–9 s).
	Stall time.Duration
	// Limit bounds the whole wait, however steadily the backlog shrinks.
	Limit time.Duration
	// Every is how often the backlog is measured (default 500 ms).
	Every time.Duration
	// Progress, when set, receives each backlog measured (for a status
	// line).
	Progress func(Backlog)
}

// DefaultDrain is what the demo waits for by default.
func DefaultDrain() Drain { return Drain{Stall: time.Minute, Limit: 10 * time.Minute} }

// GroupLag is what one consumer group has not yet done on one topic: the
// records between its committed offsets and the topic's end offsets,
// summed over partitions.
type GroupLag struct {
	Group   string `json:"group"`
	Topic   string `json:"topic"`
	Records int64  `json:"records"`
}

// Backlog is the work the stages still have to do.
type Backlog struct {
	// Lags are the groups' non-zero lags, from the broker's committed and
	// end offsets.
	Lags []GroupLag `json:"lags,omitempty"`
	// Unread are records written that the parse stage has not read yet
	// (its counters run ahead of its commits).
	Unread int64 `json:"unread,omitempty"`
	// Held are events dedupe passed that have not left the trace join:
	// once every lag is zero, the events the join holds waiting for their
	// spans (read and committed, so no lag, but not out of the join).
	Held int64 `json:"held,omitempty"`
	// Err is why the backlog could not be measured (then it is not
	// empty).
	Err string `json:"error,omitempty"`
}

// Total adds up the backlog's records: a measure of the work left, which
// counts an event once for each place it is behind (a record in
// tracejoin's lag is also one not out of the join).
func (b Backlog) Total() int64 {
	n := b.Unread + b.Held
	for _, l := range b.Lags {
		n += l.Records
	}
	return n
}

// Empty reports whether nothing is left to do.
func (b Backlog) Empty() bool { return b.Err == "" && b.Total() == 0 }

// String names what is behind, largest lag first: "errorrate 12,345
// records behind on logs.unique; ...".
func (b Backlog) String() string { return b.top(-1) }

// top is String with at most n lags (all when n < 0).
func (b Backlog) top(n int) string {
	var parts []string
	if b.Err != "" {
		parts = append(parts, "backlog unknown: "+b.Err)
	}
	if b.Unread > 0 {
		parts = append(parts, fmt.Sprintf("parse has not read %s records written", comma(b.Unread)))
	}
	lags := append([]GroupLag(nil), b.Lags...)
	sort.SliceStable(lags, func(i, j int) bool {
		if lags[i].Records != lags[j].Records {
			return lags[i].Records > lags[j].Records
		}
		return lags[i].Group+lags[i].Topic < lags[j].Group+lags[j].Topic
	})
	shown := 0
	for _, l := range lags {
		if l.Records <= 0 {
			continue
		}
		if n >= 0 && shown == n {
			parts = append(parts, "...")
			break
		}
		parts = append(parts, fmt.Sprintf("%s %s records behind on %s", l.Group, comma(l.Records), l.Topic))
		shown++
	}
	if b.Held > 0 {
		parts = append(parts, fmt.Sprintf("%s events dedupe passed have not left the trace join", comma(b.Held)))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, "; ")
}

// ErrNotDrained is wrapped by the error of a drain that gave up.
var ErrNotDrained = errors.New("the stages did not catch up")

// DrainError is a drain that gave up: why, after how long, and what was
// still behind.
type DrainError struct {
	What    string        // what was waited for ("the stages", "sink s3")
	Reason  string        // "no progress for 1m0s", "limit of 10m0s reached"
	Waited  time.Duration // how long the drain waited
	Backlog Backlog       // what was left
}

func (e *DrainError) Error() string {
	return fmt.Sprintf("demo: %s did not catch up (%s, after %s of draining): %s",
		e.What, e.Reason, e.Waited.Round(time.Second), e.Backlog)
}

// Unwrap makes errors.Is(err, ErrNotDrained) hold.
func (e *DrainError) Unwrap() error { return ErrNotDrained }

// Wait measures the backlog until it is empty. It returns a *DrainError
// when the backlog stops shrinking for Stall or Limit passes, and ctx's
// error when ctx ends. what names what is waited for, in the error.
func (p Drain) Wait(ctx context.Context, what string, measure func(context.Context) Backlog) error {
	if d := DefaultDrain(); p.Stall <= 0 {
		p.Stall = d.Stall
	}
	if d := DefaultDrain(); p.Limit <= 0 {
		p.Limit = d.Limit
	}
	if p.Every <= 0 {
		p.Every = 500 * time.Millisecond
	}
	start := time.Now()
	lastProgress := start
	best := int64(-1)
	for {
		b := measure(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if p.Progress != nil {
			p.Progress(b)
		}
		if b.Empty() {
			return nil
		}
		now := time.Now()
		// Progress is a new low of the whole backlog: a stage that passes
		// a record on moves it from its lag to the next stage's, and only
		// records that leave the pipeline (or fan in) lower the total.
		if b.Err == "" && (best < 0 || b.Total() < best) {
			best, lastProgress = b.Total(), now
		}
		switch {
		case now.Sub(start) >= p.Limit:
			return &DrainError{What: what, Reason: fmt.Sprintf("limit of %s reached", p.Limit), Waited: now.Sub(start), Backlog: b}
		case now.Sub(lastProgress) >= p.Stall:
			return &DrainError{What: what, Reason: fmt.Sprintf("no progress for %s", p.Stall), Waited: now.Sub(start), Backlog: b}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(p.Every):
		}
	}
}
