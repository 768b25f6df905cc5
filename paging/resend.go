package paging

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/logstream/logstream/schemas"
)

// openAlert is an incident whose FIRING record was delivered and whose
// RESOLVED record was not: the Consumer re-sends it.
type openAlert struct {
	partition int32
	alert     *schemas.Alert
	due       time.Time       // its next re-send
	refused   map[string]bool // targets that refused it for good
}

// openAlerts are the open incidents of the partitions this member owns,
// with their re-send schedule. The poll loop adds and removes incidents,
// the group's callbacks assign and drop partitions, the resender reads:
// every method locks.
type openAlerts struct {
	mu       sync.Mutex
	interval time.Duration
	parts    map[int32]map[string]*openAlert // owned partition → dedup key → incident
	wake     chan struct{}                   // an incident is due earlier than the resender thought
	onChange func(open int)                  // the gauge of open incidents
}

func newOpenAlerts(interval time.Duration, onChange func(int)) *openAlerts {
	if onChange == nil {
		onChange = func(int) {}
	}
	return &openAlerts{interval: interval, parts: map[int32]map[string]*openAlert{}, wake: make(chan struct{}, 1), onChange: onChange}
}

// assign takes partition p, with its open incidents as the page table
// holds them. They are due at once: when they were last sent is not
// known, and Alertmanager may be about to let them expire.
func (o *openAlerts) assign(p int32, alerts []*schemas.Alert, now time.Time) {
	o.mu.Lock()
	m := make(map[string]*openAlert, len(alerts))
	for _, a := range alerts {
		m[a.DedupKey] = &openAlert{partition: p, alert: a, due: now}
	}
	o.parts[p] = m
	o.changed()
	o.mu.Unlock()
	o.signal()
}

// owns reports whether partition p is assigned (and its incidents read).
func (o *openAlerts) owns(p int32) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.parts[p]
	return ok
}

// drop forgets partitions this member no longer owns: their new owner
// reads them from the table and re-sends them.
func (o *openAlerts) drop(ps []int32) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, p := range ps {
		delete(o.parts, p)
	}
	o.changed()
}

// add records the FIRING alert a, just delivered: its first re-send is one
// interval later. refused names the targets that refused it for good.
// Nothing happens when p is not owned (revoked meanwhile).
func (o *openAlerts) add(p int32, a *schemas.Alert, now time.Time, refused []string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	m, ok := o.parts[p]
	if !ok {
		return
	}
	e := &openAlert{partition: p, alert: a, due: now.Add(o.interval)}
	for _, t := range refused {
		if e.refused == nil {
			e.refused = map[string]bool{}
		}
		e.refused[t] = true
	}
	m[a.DedupKey] = e
	o.changed()
}

// remove forgets an incident: its RESOLVED record is being delivered.
func (o *openAlerts) remove(p int32, dedupKey string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if m, ok := o.parts[p]; ok {
		delete(m, dedupKey)
		o.changed()
	}
}

// due returns the incidents due at now, earliest first.
func (o *openAlerts) due(now time.Time) []*openAlert {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []*openAlert
	for _, m := range o.parts {
		for _, e := range m {
			if !e.due.After(now) {
				out = append(out, e)
			}
		}
	}
	slices.SortFunc(out, func(a, b *openAlert) int {
		return cmp.Or(a.due.Compare(b.due), cmp.Compare(a.partition, b.partition), cmp.Compare(a.alert.DedupKey, b.alert.DedupKey))
	})
	return out
}

// next returns the earliest time an incident is due; false when none is
// open.
func (o *openAlerts) next() (time.Time, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var at time.Time
	found := false
	for _, m := range o.parts {
		for _, e := range m {
			if !found || e.due.Before(at) {
				at, found = e.due, true
			}
		}
	}
	return at, found
}

// reschedule sets the next re-send of es to at.
func (o *openAlerts) reschedule(es []*openAlert, at time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, e := range es {
		e.due = at
	}
}

// sendable reports whether e is still open (not resolved, dropped or
// replaced by a newer delivery) and not refused by target.
func (o *openAlerts) sendable(e *openAlert, target string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.parts[e.partition][e.alert.DedupKey] == e && !e.refused[target]
}

// refuse records that target refused e for good.
func (o *openAlerts) refuse(e *openAlert, target string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if e.refused == nil {
		e.refused = map[string]bool{}
	}
	e.refused[target] = true
}

// len is the number of open incidents.
func (o *openAlerts) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.count()
}

func (o *openAlerts) count() int {
	n := 0
	for _, m := range o.parts {
		n += len(m)
	}
	return n
}

func (o *openAlerts) changed() { o.onChange(o.count()) }

func (o *openAlerts) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// clock is the resender's time; tests use a fake one.
type clock interface {
	Now() time.Time
	// Timer returns a channel that receives once d has passed, and a
	// function that releases the timer.
	Timer(d time.Duration) (<-chan time.Time, func())
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) Timer(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTimer(d)
	return t.C, func() { t.Stop() }
}

// resendTarget is a target that takes re-sends, with the lock the
// Consumer holds while it delivers a record to the same target.
type resendTarget struct {
	name string
	r    Resender
	mu   *sync.Mutex
}

// resender re-sends the open incidents to the Resender targets, one round
// whenever incidents are due.
type resender struct {
	interval time.Duration
	targets  []resendTarget
	open     *openAlerts
	clock    clock
	// running reports whether the pipeline that writes the alerts runs
	// (its alerter's consumer group has a member). While it does not,
	// nothing is re-sent, so that its alerts expire in Alertmanager as
	// Prometheus's do when Prometheus stops.
	running func(context.Context) (bool, error)
	log     zerolog.Logger
	m       *Metrics
	stopped bool // the last round found the pipeline stopped
}

// run re-sends until ctx ends.
func (r *resender) run(ctx context.Context) {
	if up, err := r.running(ctx); err == nil {
		r.m.pipelineUp(up)
	}
	for {
		wait := r.interval
		if next, ok := r.open.next(); ok {
			wait = min(wait, max(next.Sub(r.clock.Now()), 0))
		}
		c, stop := r.clock.Timer(wait)
		select {
		case <-ctx.Done():
			stop()
			return
		case <-r.open.wake:
			stop()
			continue
		case <-c:
		}
		r.round(ctx)
	}
}

// round re-sends every incident that is due, and schedules each one
// interval later, whatever the outcome: a failed round is retried by the
// next, while the target still holds the alert (FiringFor is several
// intervals).
func (r *resender) round(ctx context.Context) {
	now := r.clock.Now()
	due := r.open.due(now)
	if len(due) == 0 {
		return
	}
	r.open.reschedule(due, now.Add(r.interval))
	running, err := r.running(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		// Better a page that lasts a little too long than one that
		// expires while its incident is open.
		r.log.Warn().Err(err).Int("open_alerts", len(due)).Msg("cannot tell whether the pipeline runs; re-sending the open alerts anyway")
		running = true
	}
	r.m.pipelineUp(running)
	if !running {
		if !r.stopped {
			r.log.Warn().Int("open_alerts", r.open.len()).Msg("the alerter's consumer group has no member: the pipeline is stopped; its open alerts are not re-sent and expire in Alertmanager (re-sends resume when it runs again)")
		}
		r.stopped = true
		return
	}
	if r.stopped {
		r.log.Info().Int("open_alerts", r.open.len()).Msg("the pipeline runs again; re-sending its open alerts")
		r.stopped = false
	}
	for _, t := range r.targets {
		r.send(ctx, t, due)
	}
}

// send re-sends the incidents of due still open to t.
func (r *resender) send(ctx context.Context, t resendTarget, due []*openAlert) {
	// Under the target's lock, and only incidents still open: the
	// RESOLVED record of an incident removes it before it takes the lock,
	// so that no re-sent FIRING can reach the target after its RESOLVED.
	t.mu.Lock()
	defer t.mu.Unlock()
	var es []*openAlert
	for _, e := range due {
		if r.open.sendable(e, t.name) {
			es = append(es, e)
		}
	}
	if len(es) == 0 {
		return
	}
	// A re-send gets until the next round; the target keeps the alerts
	// meanwhile.
	sctx, cancel := context.WithTimeout(ctx, r.interval)
	defer cancel()
	err := t.r.Resend(sctx, alertsOf(es))
	if errors.Is(err, ErrPermanent) && len(es) > 1 {
		// The target refused some alert of the batch: find which, so
		// that the others go on being re-sent and only it is skipped.
		for _, e := range es {
			r.outcome(ctx, t, e, t.r.Resend(sctx, []*schemas.Alert{e.alert}))
		}
		return
	}
	for _, e := range es {
		r.outcome(ctx, t, e, err)
	}
}

func (r *resender) outcome(ctx context.Context, t resendTarget, e *openAlert, err error) {
	log := r.log.With().Str("target", t.name).Str("dedup_key", e.alert.DedupKey).Int32("partition", e.partition).Logger()
	switch {
	case err == nil:
		r.m.resent(t.name, ResultOK)
		log.Debug().Msg("alert re-sent")
	case errors.Is(err, ErrPermanent):
		r.open.refuse(e, t.name)
		r.m.resent(t.name, ResultPermanent)
		log.Error().Err(err).Msg("re-sent alert refused by the target for good; not re-sent to it again (logstream_page_resends_total{result=\"permanent\"})")
	case ctx.Err() != nil:
		// Shutting down: the next owner re-sends at once.
	default:
		r.m.resent(t.name, ResultFailed)
		log.Warn().Err(err).Dur("next_in", r.interval).Msg("re-send failed; the next round tries again while the target still holds the alert")
	}
}

func alertsOf(es []*openAlert) []*schemas.Alert {
	out := make([]*schemas.Alert, len(es))
	for i, e := range es {
		out[i] = e.alert
	}
	return out
}
