package paging

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
)

// fakeClock is time as the test tells it: every Timer the resender asks
// for is handed to the test, which checks how long the resender means to
// wait and fires it by moving the clock.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers chan fakeTimer
	closed chan struct{} // the test is over: nobody takes timers
}

type fakeTimer struct {
	d    time.Duration
	fire chan time.Time
}

func newFakeClock(t0 time.Time) *fakeClock {
	return &fakeClock{now: t0, timers: make(chan fakeTimer), closed: make(chan struct{})}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func (c *fakeClock) Timer(d time.Duration) (<-chan time.Time, func()) {
	ch := make(chan time.Time, 1)
	select {
	case c.timers <- fakeTimer{d: d, fire: ch}:
	case <-c.closed:
	}
	return ch, func() {}
}

// next returns the timer the resender waits on.
func (c *fakeClock) next(t *testing.T) fakeTimer {
	t.Helper()
	select {
	case ft := <-c.timers:
		return ft
	case <-time.After(5 * time.Second):
		t.Fatal("the resender set no timer")
		return fakeTimer{}
	}
}

// fakeResender records what it is sent, in order, and fails as told.
type fakeResender struct {
	validFor time.Duration
	mu       sync.Mutex
	events   []string // "resend KEY" or "notify STATE KEY"
	fail     error    // returned by Resend while set
	refuse   string   // a dedup key whose re-send is refused for good
	block    chan struct{}
	blocked  chan struct{}
}

func (f *fakeResender) Notify(_ context.Context, a *schemas.Alert) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, "notify "+a.State+" "+a.DedupKey)
	return nil
}

func (f *fakeResender) Resend(ctx context.Context, firing []*schemas.Alert) error {
	if f.block != nil {
		f.blocked <- struct{}{}
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	for _, a := range firing {
		if a.DedupKey == f.refuse {
			return &DeliveryError{Target: TargetAlertmanager, StatusCode: 400, Permanent: true}
		}
	}
	for _, a := range firing {
		f.events = append(f.events, "resend "+a.DedupKey)
	}
	return nil
}

func (f *fakeResender) ValidFor() time.Duration { return f.validFor }

// take returns the events since the last call.
func (f *fakeResender) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.events
	f.events = nil
	return out
}

func firingAlert(key string) *schemas.Alert {
	return &schemas.Alert{ID: key + "/FIRING", DedupKey: key, State: schemas.AlertFiring, Scope: schemas.ScopeHost, Host: "web-1", Rule: "host_error_rate", FirstSeen: 1, At: 2}
}

// testConsumer is a consumer that never reaches Kafka: its deliveries,
// open incidents and re-sends, with target as its one Resender.
func testConsumer(t *testing.T, target *fakeResender, interval time.Duration, running func(context.Context) (bool, error)) (*Consumer, *resender, *fakeClock) {
	t.Helper()
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewConsumer(ConsumerConfig{
		Brokers:        []string{"127.0.0.1:1"},
		Codecs:         set,
		Targets:        []Target{{Name: TargetAlertmanager, Notifier: target}},
		ResendInterval: interval,
		SourceRunning:  running,
		Logger:         zerolog.New(zerolog.NewTestWriter(t)),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := c.resender(nil)
	clk := newFakeClock(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC))
	r.clock = clk
	return c, r, clk
}

// The schedule: an incident read at assignment is re-sent at once, one
// delivered now one interval later, then every interval; a resolved or
// revoked one no more; nothing while the pipeline is stopped; a failed
// round is tried again the next interval.
func TestResendSchedule(t *testing.T) {
	const interval = time.Minute
	target := &fakeResender{validFor: 4 * interval}
	var running atomic.Bool
	running.Store(true)
	c, r, clk := testConsumer(t, target, interval, func(context.Context) (bool, error) { return running.Load(), nil })
	t0 := clk.Now()
	c.open.assign(0, nil, t0)
	for range len(c.open.wake) {
		<-c.open.wake // the assignment before the loop starts
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.run(ctx) }()
	defer func() { close(clk.closed); cancel(); <-done }()

	// waiting is the timer the resender waits on.
	waiting := clk.next(t)
	// step checks that the resender waits wantWait, fires its timer,
	// moving the clock that far, and returns what the round sent.
	step := func(what string, wantWait time.Duration) []string {
		t.Helper()
		if waiting.d != wantWait {
			t.Fatalf("%s: the resender waits %s, want %s", what, waiting.d, wantWait)
		}
		clk.set(clk.Now().Add(waiting.d))
		waiting.fire <- clk.Now()
		// The round is done when the resender asks for its next timer.
		waiting = clk.next(t)
		return target.take()
	}
	expect := func(what string, got []string, want ...string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s: sent %q, want %q", what, got, want)
		}
	}

	// Nothing open: the resender looks again after an interval.
	expect("nothing open", step("nothing open", interval))
	// Partition 1 is assigned with an incident from the table: re-sent at
	// once (the assignment wakes the resender, which then waits 0).
	c.open.assign(1, []*schemas.Alert{firingAlert("a")}, clk.Now())
	waiting = clk.next(t) // woken, the resender sets a new timer
	expect("read at assignment", step("read at assignment", 0), "resend a")
	// b is delivered 10s later: first re-send an interval after that.
	c.open.add(0, firingAlert("b"), clk.Now().Add(10*time.Second), nil)
	expect("a's second re-send", step("a's second re-send", interval), "resend a")
	expect("b's first re-send", step("b's first re-send", 10*time.Second), "resend b")
	// a resolves: no more re-sends of a.
	c.open.remove(1, "a")
	expect("a resolved", step("a resolved", 50*time.Second))
	expect("b again", step("b again", 10*time.Second), "resend b")
	// The pipeline stops: nothing is re-sent, and b's turn still moves on.
	running.Store(false)
	expect("pipeline stopped", step("pipeline stopped", interval))
	if v := testutil.ToFloat64(c.m.pipeline); v != 0 {
		t.Errorf("logstream_page_pipeline_up = %v while stopped, want 0", v)
	}
	running.Store(true)
	// Alertmanager down: the round fails, the next one sends.
	target.mu.Lock()
	target.fail = errors.New("connection refused")
	target.mu.Unlock()
	expect("target down", step("target down", interval))
	target.mu.Lock()
	target.fail = nil
	target.mu.Unlock()
	expect("target back", step("target back", interval), "resend b")
	if v := testutil.ToFloat64(c.m.resends.WithLabelValues(TargetAlertmanager, ResultFailed)); v != 1 {
		t.Errorf("resends failed = %v, want 1", v)
	}
	if v := testutil.ToFloat64(c.m.resends.WithLabelValues(TargetAlertmanager, ResultOK)); v != 5 {
		t.Errorf("resends ok = %v, want 5", v)
	}
	if v := testutil.ToFloat64(c.m.pipeline); v != 1 {
		t.Errorf("logstream_page_pipeline_up = %v while running, want 1", v)
	}
	// Partition 0 is revoked: its new owner re-sends b.
	c.open.drop([]int32{0})
	expect("revoked", step("revoked", interval))
	if n := c.open.len(); n != 0 {
		t.Errorf("%d open incidents after every one resolved or was revoked", n)
	}
	if v := testutil.ToFloat64(c.m.open); v != 0 {
		t.Errorf("logstream_page_open_alerts = %v, want 0", v)
	}
}

// A batch the target refuses is sent again alert by alert: the refused
// one is not re-sent to it again, the others go on.
func TestResendRefusedAlertIsSkipped(t *testing.T) {
	target := &fakeResender{validFor: 4 * time.Minute, refuse: "bad"}
	c, r, clk := testConsumer(t, target, time.Minute, func(context.Context) (bool, error) { return true, nil })
	c.open.assign(0, []*schemas.Alert{firingAlert("bad"), firingAlert("good")}, clk.Now())
	ctx := context.Background()
	r.round(ctx)
	if got := target.take(); !slices.Equal(got, []string{"resend good"}) {
		t.Errorf("first round sent %q, want only good", got)
	}
	clk.set(clk.Now().Add(time.Minute))
	r.round(ctx)
	if got := target.take(); !slices.Equal(got, []string{"resend good"}) {
		t.Errorf("second round sent %q, want only good", got)
	}
	if v := testutil.ToFloat64(c.m.resends.WithLabelValues(TargetAlertmanager, ResultPermanent)); v != 1 {
		t.Errorf("resends permanent = %v, want 1 (refused once, then skipped)", v)
	}
	// An alert the target refused when its record was delivered is not
	// re-sent to it either.
	c.open.add(0, firingAlert("refused-on-delivery"), clk.Now().Add(-time.Minute), []string{TargetAlertmanager})
	clk.set(clk.Now().Add(time.Minute))
	r.round(ctx)
	if got := target.take(); !slices.Equal(got, []string{"resend good"}) {
		t.Errorf("third round sent %q, want only good", got)
	}
}

// While a re-send of an incident is in flight, its RESOLVED record waits
// for it: the target never gets a FIRING after the RESOLVED.
func TestResendNeverOvertakesResolved(t *testing.T) {
	target := &fakeResender{validFor: 4 * time.Minute, block: make(chan struct{}), blocked: make(chan struct{})}
	c, r, clk := testConsumer(t, target, time.Minute, func(context.Context) (bool, error) { return true, nil })
	c.open.assign(0, []*schemas.Alert{firingAlert("x")}, clk.Now())
	ctx := context.Background()

	roundDone := make(chan struct{})
	go func() { defer close(roundDone); r.round(ctx) }()
	<-target.blocked // the re-send holds the target's lock

	resolved := firingAlert("x")
	resolved.State, resolved.ID = schemas.AlertResolved, "x/RESOLVED"
	delivered := make(chan struct{})
	go func() {
		defer close(delivered)
		// What handle does with a RESOLVED record.
		c.open.remove(0, "x")
		c.deliver(ctx, c.cfg.Targets[0], resolved, c.log)
	}()
	select {
	case <-delivered:
		t.Fatal("the RESOLVED was delivered while the re-send of its FIRING was in flight")
	case <-time.After(100 * time.Millisecond):
	}
	close(target.block)
	<-roundDone
	<-delivered
	if got := target.take(); !slices.Equal(got, []string{"resend x", "notify RESOLVED x"}) {
		t.Errorf("target got %q, want the re-send, then the RESOLVED", got)
	}
	clk.set(clk.Now().Add(time.Minute))
	target.block = nil
	r.round(ctx)
	if got := target.take(); len(got) != 0 {
		t.Errorf("after the RESOLVED the target got %q", got)
	}
}

// A target that would let an alert expire before the next re-send is
// refused at start.
func TestConsumerConfigResendInterval(t *testing.T) {
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		interval, validFor time.Duration
		want               string
	}{
		{time.Minute, 4 * time.Minute, ""},
		{0, DefaultFiringFor, ""},
		{time.Minute, 90 * time.Second, "less than twice the re-send interval"},
		{-time.Second, 4 * time.Minute, "negative"},
	} {
		_, err := NewConsumer(ConsumerConfig{Brokers: []string{"k:9092"}, Codecs: set, ResendInterval: tc.interval,
			Targets: []Target{{Name: TargetAlertmanager, Notifier: &fakeResender{validFor: tc.validFor}}}})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("interval %s, valid for %s: %v", tc.interval, tc.validFor, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("interval %s, valid for %s: error %v, want %q", tc.interval, tc.validFor, err, tc.want)
		}
	}
}

func ExampleURLTemplate() {
	t, err := ParseURLTemplate("http://logstream:9464/query/hosts?host={host}")
	if err != nil {
		panic(err)
	}
	fmt.Println(t.Expand(&schemas.Alert{Host: "web 3"}))
	// Output: http://logstream:9464/query/hosts?host=web%203
}
