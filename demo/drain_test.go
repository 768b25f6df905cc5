package demo

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// A drain waits as long as the backlog shrinks, gives up when it stops
// shrinking or the limit passes, and names what was behind.
func TestDrainWait(t *testing.T) {
	lag := func(n int64) Backlog {
		if n == 0 {
			return Backlog{}
		}
		return Backlog{Lags: []GroupLag{{Group: "errorrate", Topic: "logs.unique", Records: n}}}
	}
	tests := []struct {
		name    string
		drain   Drain
		measure func(i int) Backlog // i-th measure
		reason  string              // "" if the drain must finish
	}{
		{
			// 200 measures: far longer than Stall, but every one a new low.
			name:    "shrinks slowly",
			drain:   Drain{Stall: 20 * time.Millisecond, Limit: time.Minute, Every: time.Millisecond},
			measure: func(i int) Backlog { return lag(max(200-int64(i), 0)) },
		},
		{
			name:  "grows downstream while upstream drains",
			drain: Drain{Stall: time.Second, Limit: time.Minute, Every: time.Millisecond},
			measure: func(i int) Backlog {
				b := Backlog{Unread: max(50-int64(i), 0)}
				if i < 50 {
					b.Lags = []GroupLag{{Group: "dedupe", Topic: "logs.parsed", Records: int64(i) / 2}}
				}
				return b
			},
		},
		{
			name:    "the join releases what it held",
			drain:   Drain{Stall: time.Second, Limit: time.Minute, Every: time.Millisecond},
			measure: func(i int) Backlog { return Backlog{Held: max(3-int64(i), 0)} },
		},
		{
			name:    "stuck",
			drain:   Drain{Stall: 20 * time.Millisecond, Limit: time.Minute, Every: time.Millisecond},
			measure: func(i int) Backlog { return lag(1234) },
			reason:  "no progress for 20ms",
		},
		{
			name:    "moves back and forth",
			drain:   Drain{Stall: 20 * time.Millisecond, Limit: time.Minute, Every: time.Millisecond},
			measure: func(i int) Backlog { return lag(1234 + int64(i%2)) },
			reason:  "no progress for 20ms",
		},
		{
			// An unmeasured backlog is no progress, nor done.
			name:    "cannot measure",
			drain:   Drain{Stall: 20 * time.Millisecond, Limit: time.Minute, Every: time.Millisecond},
			measure: func(i int) Backlog { return Backlog{Err: "broker gone"} },
			reason:  "no progress for 20ms",
		},
		{
			name:    "shrinks, but past the limit",
			drain:   Drain{Stall: time.Minute, Limit: 30 * time.Millisecond, Every: time.Millisecond},
			measure: func(i int) Backlog { return lag(1_000_000 - int64(i)) },
			reason:  "limit of 30ms reached",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i := 0
			var seen []Backlog
			tt.drain.Progress = func(b Backlog) { seen = append(seen, b) }
			err := tt.drain.Wait(context.Background(), "the stages", func(context.Context) Backlog {
				b := tt.measure(i)
				i++
				return b
			})
			if len(seen) != i {
				t.Errorf("progress saw %d of %d measures", len(seen), i)
			}
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("drain: %v", err)
				}
				return
			}
			var de *DrainError
			if !errors.As(err, &de) || !errors.Is(err, ErrNotDrained) {
				t.Fatalf("drain: %v, want a DrainError", err)
			}
			if de.Reason != tt.reason || de.Backlog.Empty() {
				t.Errorf("drain error %+v, want reason %q and what was left", de, tt.reason)
			}
			if !strings.Contains(err.Error(), "the stages did not catch up ("+tt.reason) ||
				!strings.Contains(err.Error(), de.Backlog.String()) {
				t.Errorf("error text: %v", err)
			}
		})
	}
}

func TestDrainWaitContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	d := Drain{Stall: time.Minute, Limit: time.Minute, Every: time.Millisecond}
	n := 0
	err := d.Wait(ctx, "the stages", func(context.Context) Backlog {
		if n++; n == 3 {
			cancel()
		}
		return Backlog{Unread: 5}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("drain: %v, want context.Canceled", err)
	}
}

func TestBacklogString(t *testing.T) {
	b := Backlog{
		Unread: 12,
		Lags: []GroupLag{
			{Group: "dedupe", Topic: "logs.parsed", Records: 40},
			{Group: "errorrate", Topic: "logs.unique", Records: 12_345},
			{Group: "tracejoin", Topic: "spans", Records: 7},
		},
		Held: 3,
	}
	if got, want := b.Total(), int64(12+40+12_345+7+3); got != want {
		t.Errorf("total %d, want %d", got, want)
	}
	want := "parse has not read 12 records written; errorrate 12,345 records behind on logs.unique; " +
		"dedupe 40 records behind on logs.parsed; tracejoin 7 records behind on spans; " +
		"3 events dedupe passed have not left the trace join"
	if got := b.String(); got != want {
		t.Errorf("String:\n got %s\nwant %s", got, want)
	}
	if got := b.top(1); !strings.Contains(got, "errorrate 12,345") || strings.Contains(got, "logs.parsed") || !strings.Contains(got, "...") {
		t.Errorf("top(1): %s", got)
	}
	if (Backlog{}).String() != "nothing" || !(Backlog{}).Empty() || (Backlog{Err: "x"}).Empty() {
		t.Error("empty backlog")
	}
}
