package sinks

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"
)

// worker drives one partition's writer from one goroutine: it adds the
// records the poll loop queued, flushes when the writer is full or due,
// and commits what the writer reports written.
type worker struct {
	r   *Runner
	key tp
	pw  PartitionWriter
	log zerolog.Logger

	ctx    context.Context // canceled when the partition is lost
	cancel context.CancelFunc

	mu     sync.Mutex
	queue  [][]*kgo.Record
	queued int
	paused bool
	flush  bool // set before quit is closed: write and commit before exiting

	notify chan struct{}
	quit   chan struct{}
	done   chan struct{}

	next      int64 // the offset after the last record added; -1 none yet
	committed int64
}

func newWorker(r *Runner, key tp, pw PartitionWriter) *worker {
	ctx, cancel := context.WithCancel(r.hard)
	return &worker{
		r: r, key: key, pw: pw,
		log:    r.log.With().Str("topic", key.topic).Int32("partition", key.partition).Logger(),
		ctx:    ctx,
		cancel: cancel,
		notify: make(chan struct{}, 1),
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
		next:   -1, committed: -1,
	}
}

// enqueue queues records for the worker; it reports whether the queue has
// just gone over its bound, so the caller pauses the partition.
func (w *worker) enqueue(recs []*kgo.Record) (pause bool) {
	w.mu.Lock()
	w.queue = append(w.queue, recs)
	w.queued += len(recs)
	if w.queued > w.r.cfg.QueueRecords && !w.paused {
		w.paused, pause = true, true
	}
	w.mu.Unlock()
	select {
	case w.notify <- struct{}{}:
	default:
	}
	return pause
}

// take empties the queue.
func (w *worker) take() [][]*kgo.Record {
	w.mu.Lock()
	defer w.mu.Unlock()
	q := w.queue
	w.queue, w.queued = nil, 0
	return q
}

// stop tells the worker to exit; with flush set it first writes and
// commits what it holds.
func (w *worker) stop(flush bool) {
	w.mu.Lock()
	w.flush = flush
	w.mu.Unlock()
	if !flush {
		w.cancel()
	}
	close(w.quit)
}

func (w *worker) run() {
	defer close(w.done)
	defer w.cancel()
	defer w.pw.Close()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		for _, recs := range w.take() {
			for _, rec := range recs {
				if !w.add(rec) {
					w.final()
					return
				}
			}
		}
		w.resumeIfDrained()
		due := w.pw.Due()
		wait := time.Hour
		if !due.IsZero() {
			wait = max(time.Until(due), 0)
		}
		timer.Reset(wait)
		select {
		case <-w.notify:
		case <-timer.C:
			if !due.IsZero() && !w.flushRetrying(w.ctx, true, w.quit) {
				w.final()
				return
			}
		case <-w.quit:
			w.final()
			return
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// add adds one record, flushing first when the writer is full; false
// means the worker must stop.
func (w *worker) add(rec *kgo.Record) bool {
	if w.next >= 0 && rec.Offset < w.next {
		// Already added: a fetch repeated after a pause. Never add twice.
		return true
	}
	if err := w.pw.Add(w.ctx, rec); err != nil {
		if !errors.Is(err, context.Canceled) {
			w.log.Error().Int64("offset", rec.Offset).Err(err).Msg("cannot buffer the record; stopping the partition uncommitted")
		}
		return false
	}
	w.next = rec.Offset + 1
	w.r.m.records.WithLabelValues(w.r.name, w.key.topic).Inc()
	if w.pw.Full() {
		return w.flushRetrying(w.ctx, false, w.quit)
	}
	return true
}

func (w *worker) resumeIfDrained() {
	w.mu.Lock()
	resume := w.paused && w.queued <= w.r.cfg.QueueRecords/2
	if resume {
		w.paused = false
	}
	w.mu.Unlock()
	if resume {
		w.r.client().ResumeFetchPartitions(map[string][]int32{w.key.topic: {w.key.partition}})
	}
}

// final ends the worker: after a revocation or at shutdown it writes what
// it holds, within RevokeTimeout, and commits; after a loss it does not.
func (w *worker) final() {
	w.mu.Lock()
	flush := w.flush
	w.mu.Unlock()
	if !flush || w.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(w.ctx, w.r.cfg.RevokeTimeout)
	defer cancel()
	if !w.flushRetrying(ctx, true, nil) {
		w.log.Warn().Msg("could not write the partition's last records before giving it up; they stay uncommitted for the next owner")
	}
}

// flushRetrying flushes until it succeeds, paced by the breaker and the
// backoff, and commits what was written. It gives up (false) when ctx ends
// or quit is closed.
func (w *worker) flushRetrying(ctx context.Context, all bool, quit <-chan struct{}) bool {
	r := w.r
	streak := false
	for attempt := 1; ; attempt++ {
		for {
			ok, wait := r.breaker.Allow()
			if ok {
				break
			}
			if !pause(ctx, quit, wait) {
				return false
			}
		}
		select {
		case r.sem <- struct{}{}:
		case <-ctx.Done():
			r.breaker.Abort()
			return false
		case <-quit:
			r.breaker.Abort()
			return false
		}
		start := time.Now()
		err := w.pw.Flush(ctx, all)
		<-r.sem
		if err == nil {
			r.breaker.Success()
			r.m.flushes.WithLabelValues(r.name, "ok").Inc()
			r.m.latency.WithLabelValues(r.name).Observe(time.Since(start).Seconds())
			w.commit(ctx)
			return true
		}
		if ctx.Err() != nil {
			r.breaker.Abort()
			return false
		}
		r.breaker.Failure()
		r.m.flushes.WithLabelValues(r.name, "failed").Inc()
		r.m.retries.WithLabelValues(r.name).Inc()
		wait := r.retry.Wait(attempt, 0)
		var perm *Permanent
		if errors.As(err, &perm) && !streak {
			w.log.Error().Err(err).Msg("the store refuses the write; fix the setting named, the writer keeps retrying")
			streak = true
		} else {
			w.log.Warn().Err(err).Int("attempt", attempt).Dur("retry_in", wait).Msg("flush failed; retrying")
		}
		if !pause(ctx, quit, wait) {
			return false
		}
	}
}

// commit commits the writer's committable offset when it moved.
func (w *worker) commit(ctx context.Context) {
	off := w.pw.Committable()
	if off <= w.committed {
		return
	}
	if err := w.r.commit(ctx, w.key, off); err != nil {
		// The records are in the store; a later commit covers them, and
		// if none comes the next owner finds them there (the store's
		// guarantee, not the commit, prevents a duplicate).
		w.log.Warn().Int64("offset", off).Err(err).Msg("commit failed")
		return
	}
	w.committed = off
}

// pause waits d, unless ctx ends or quit closes first (false).
func pause(ctx context.Context, quit <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-quit:
		return false
	case <-t.C:
		return true
	}
}
