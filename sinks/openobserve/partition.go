package openobserve

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/internal/retry"
	"github.com/logstream/logstream/sinks"
)

// searchMargin widens the _timestamp range of a reconciling search. The
// writer stores the exact microseconds it searches for, so the margin only
// guards against a server that rounds.
const searchMargin = int64(time.Minute / time.Microsecond)

// maxRejects is how many times OpenObserve must refuse a record sent alone
// (200 with failed 1, or a failed _bulk item) before it goes to the
// dead-letter topic: once could be a passing fault of the server's (a
// pipeline error), twice is the record.
const maxRejects = 2

type entryState uint8

const (
	statePending entryState = iota
	stateWritten
	stateDead
)

// entry is one buffered record.
type entry struct {
	rec    *kgo.Record
	offset int64
	ts     int64  // the document's _timestamp, µs
	doc    []byte // the document as OpenObserve stores it
	added  time.Time
	state  entryState

	// unsure: the record may be stored already (a request with it got an
	// ambiguous answer): search before sending it again.
	unsure bool
	// missing: a search found it absent after an ambiguous answer; its
	// next send is a resend (counted).
	missing bool
	// claimed: OpenObserve answered it stored and Verify searches for it.
	claimed bool
	// rejects counts OpenObserve's refusals of it sent alone.
	rejects int
	// deadErr, once set, sends it to the dead-letter topic (kept until the
	// dead-letter write succeeds); deadReason labels the metric.
	deadErr    error
	deadReason string
}

// partition is the writer of one topic partition (sinks.PartitionWriter).
//
// Its state between calls is the buffer: each entry pending, written or
// dead-lettered, and whether it may already be stored. A Flush that fails
// leaves that state consistent, so the next Flush resumes: it searches
// first for every entry an ambiguous answer left unsure, and sends only
// what is missing.
type partition struct {
	s         *Sink
	topic     string
	partition int32
	dead      sinks.DeadLetters
	log       zerolog.Logger

	buf         []*entry // offset order; the head is pending (advance pops the rest)
	pending     int
	committable int64

	// scanned is set once the first flush has searched what a previous
	// owner stored at or after the first buffered offset; stored keeps the
	// offsets it found beyond the buffer, for Add. scanLo and scanHi are
	// the _timestamp range that search covered: a record outside it that
	// OpenObserve refuses is searched for once more before it is
	// dead-lettered.
	scanned        bool
	stored         map[int64]struct{}
	scanLo, scanHi int64

	closed bool
}

var _ sinks.PartitionWriter = (*partition)(nil)

var errClosed = errors.New("openobserve: partition writer is closed")

// Add decodes r and buffers its document. A record that cannot be decoded
// (or has more fields than OpenObserve's column limit) goes to the
// dead-letter topic at once and counts as done.
func (p *partition) Add(ctx context.Context, r *kgo.Record) error {
	if p.closed {
		return errClosed
	}
	// added is on the local clock, which the runner's timers (Due) use;
	// cfg.Now is OpenObserve's, for record times.
	now := p.s.cfg.Now()
	e := &entry{rec: r, offset: r.Offset, added: time.Now()}
	var (
		err    error
		reason = ReasonDecode
	)
	doc, err := p.s.cfg.Decoder.Decode(r)
	if err == nil {
		t := doc.Time
		if t.IsZero() {
			t = now // no record time and no Kafka timestamp: OpenObserve would use its clock too
		}
		e.ts = t.UnixMicro()
		var fields int
		e.doc, fields, err = document(doc.JSON, e.ts)
		if err == nil && fields > p.s.cfg.ColumnLimit {
			err = fmt.Errorf("the document has %d fields, over OpenObserve's column limit of %d (ZO_COLS_PER_RECORD_LIMIT): it can never be stored", fields, p.s.cfg.ColumnLimit)
			reason = ReasonColumns
		}
	}
	p.pending++
	if err != nil {
		e.deadErr, e.deadReason = fmt.Errorf("openobserve: %s: %w", p.where(e), err), reason
		if err := p.deadLetter(ctx, e); err != nil {
			p.pending--
			return err
		}
	} else if _, ok := p.stored[e.offset]; ok {
		delete(p.stored, e.offset)
		p.s.m.alreadyWritten.Inc()
		p.markWritten(e)
	}
	p.buf = append(p.buf, e)
	p.advance()
	return nil
}

// Full reports a complete batch.
func (p *partition) Full() bool { return p.pending >= p.s.cfg.BatchSize }

// Due is when the oldest pending record has waited MaxAge.
func (p *partition) Due() time.Time {
	if p.pending == 0 {
		return time.Time{}
	}
	return p.buf[0].added.Add(p.s.cfg.MaxAge)
}

// Committable is the offset after the longest run of written or
// dead-lettered records from the start.
func (p *partition) Committable() int64 { return p.committable }

// Close drops the buffer; the records are not committed, so the next
// owner reads them again (and finds those this writer stored).
func (p *partition) Close() {
	p.closed = true
	p.buf, p.pending, p.stored = nil, 0, nil
}

// Flush writes the complete batches, and with all the partial one too. It
// returns nil only when each of those records is stored or dead-lettered.
// On an error it keeps the buffer; calling it again resumes.
func (p *partition) Flush(ctx context.Context, all bool) error {
	if p.closed {
		return errClosed
	}
	for p.pending > 0 && (all || p.pending >= p.s.cfg.BatchSize) {
		batch := make([]*entry, 0, min(p.pending, p.s.cfg.BatchSize))
		for _, e := range p.buf {
			if e.state == statePending {
				batch = append(batch, e)
				if len(batch) == p.s.cfg.BatchSize {
					break
				}
			}
		}
		err := p.write(ctx, batch)
		p.advance()
		if err != nil {
			return err
		}
	}
	return nil
}

// group is a set of a batch's records sent in one request; split asks to
// send its pending records as two halves instead (to isolate a record
// OpenObserve refuses, or to stay under its column limit).
type group struct {
	entries []*entry
	split   bool
}

// write stores one batch: the algorithm of the package documentation.
func (p *partition) write(ctx context.Context, batch []*entry) error {
	a := attempts{p: p, ctx: ctx, loop: p.s.cfg.Retry.policy().Start()}
	for !p.scanned {
		if err := p.takeover(ctx, batch[0].offset); err != nil {
			if err := a.failed(err, outcomeOfSearch(err), 0, 0); err != nil {
				return err
			}
		}
	}
	queue := []*group{{entries: batch}}
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		g := queue[0]
		live := pendingOf(g.entries)
		if len(live) == 0 {
			queue = queue[1:]
			continue
		}
		// What an ambiguous answer may have stored is searched before
		// anything is sent again, for the whole batch in one search.
		if unsure := unsureOf(batch); len(unsure) > 0 {
			lost, err := p.reconcile(ctx, unsure)
			if err != nil {
				if err := a.failed(err, outcomeOfSearch(err), 0, 0); err != nil {
					return err
				}
			} else if lost > 0 {
				// A server that keeps claiming writes it does not make
				// must not keep this loop going.
				err := fmt.Errorf("openobserve: %s: OpenObserve answered %d records stored that a search does not find (a failed WAL write?)", p.name(), lost)
				if err := a.failed(err, OutcomeIncomplete, 0, 0); err != nil {
					return err
				}
			}
			continue
		}
		if e := deadOf(live); e != nil {
			if err := p.deadLetter(ctx, e); err != nil {
				return err
			}
			continue
		}
		if g.split && len(live) > 1 {
			h := len(live) / 2
			queue = append([]*group{{entries: live[:h]}, {entries: live[h:]}}, queue[1:]...)
			continue
		}

		for _, e := range live {
			if e.missing {
				p.s.m.resent.Inc()
				e.missing = false
			}
		}
		res := p.s.ingest(ctx, p, live)
		switch res.kind {
		case resOK:
			if p.s.cfg.Verify {
				p.s.m.verified.Add(float64(len(live)))
				for _, e := range live {
					e.unsure, e.claimed = true, true
				}
				continue
			}
			for _, e := range live {
				p.markWritten(e)
			}
			queue = queue[1:]

		case resItems:
			// _bulk says which records failed. A refusal counts against a
			// record only when it was sent alone (a server in trouble can
			// refuse records of a batch for no fault of theirs), so the
			// refused records of a batch are sent again one by one.
			if len(live) == 1 {
				p.reject(live[0], res.items[0].reason)
				if live[0].deadErr == nil {
					if err := a.failed(res.err, OutcomeIncomplete, 0, 0); err != nil {
						return err
					}
				}
				continue
			}
			var singles []*group
			for i, e := range live {
				switch {
				case res.items[i].ok && p.s.cfg.Verify:
					p.s.m.verified.Inc()
					e.unsure, e.claimed = true, true
				case res.items[i].ok:
					p.markWritten(e)
				default:
					singles = append(singles, &group{entries: []*entry{e}})
				}
			}
			queue = append(singles, queue[1:]...)

		case resRejected:
			if len(live) == 1 {
				p.reject(live[0], res.reason)
				if live[0].deadErr == nil {
					if err := a.failed(res.err, OutcomeIncomplete, 0, 0); err != nil {
						return err
					}
				}
				continue
			}
			// Which records failed is unknown: search what was stored,
			// then send the rest in halves, down to single records whose
			// failure is their own.
			p.ambiguous(live, "failed", res.err)
			g.split = true

		case resMismatch:
			p.ambiguous(live, "count_mismatch", res.err)
			if len(live) > 1 {
				g.split = true
			} else if err := a.failed(res.err, OutcomeIncomplete, 0, 0); err != nil {
				return err
			}

		case resUnavailable:
			if err := a.failed(res.err, OutcomeUnavailable, res.retryAfter, 0); err != nil {
				return err
			}

		case resBadRequest:
			if len(live) == 1 {
				e := live[0]
				e.deadErr = fmt.Errorf("openobserve: %s: OpenObserve refused the record (HTTP %d): %s", p.where(e), res.status, res.reason)
				e.deadReason = ReasonBadRequest
				continue
			}
			h := len(live) / 2
			queue = append([]*group{{entries: live[:h]}, {entries: live[h:]}}, queue[1:]...)

		case resServerError:
			p.ambiguous(live, "server_error", res.err)
			if err := a.failed(res.err, OutcomeServerError, 0, 0); err != nil {
				return err
			}

		case resNoAnswer:
			if ctx.Err() != nil {
				p.ambiguous(live, "interrupted", res.err)
				return fmt.Errorf("openobserve: %s: %w (the records sent may be stored; the next flush searches first)", p.name(), ctx.Err())
			}
			p.ambiguous(live, "no_answer", res.err)
			if err := a.failed(res.err, OutcomeNoAnswer, 0, p.s.cfg.Settle); err != nil {
				return err
			}

		case resRefused:
			return res.err
		}
	}
	return nil
}

// takeover searches which records at or after the first buffered offset
// are stored already: a previous owner of the partition may have written
// them without committing, across any number of batches. The search
// covers the window of record times OpenObserve accepts (a previous owner
// cannot have stored records outside it, except long ago: see reject) and
// the buffered records' own times.
func (p *partition) takeover(ctx context.Context, first int64) error {
	now := p.s.cfg.Now()
	lo := now.Add(-p.s.cfg.IngestAllowedUpto).UnixMicro()
	hi := now.Add(p.s.cfg.IngestAllowedInFuture).UnixMicro()
	for _, e := range p.buf {
		if e.state == statePending {
			lo, hi = min(lo, e.ts), max(hi, e.ts)
		}
	}
	lo, hi = lo-searchMargin, hi+searchMargin
	found, err := p.s.findOffsets(ctx, p.topic, p.partition, first, -1, lo, hi)
	if err != nil {
		return fmt.Errorf("openobserve: %s: searching what a previous owner stored: %w", p.name(), err)
	}
	n := 0
	for _, e := range p.buf {
		if _, ok := found[e.offset]; ok && e.state == statePending {
			delete(found, e.offset)
			p.markWritten(e)
			n++
		}
	}
	p.s.m.alreadyWritten.Add(float64(n))
	p.stored = found
	p.scanLo, p.scanHi, p.scanned = lo, hi, true
	if n > 0 || len(found) > 0 {
		p.log.Info().Int("buffered_found", n).Int("ahead_found", len(found)).Int64("from_offset", first).
			Msg("records a previous owner stored without committing; not sending them again")
	}
	return nil
}

// reconcile searches which of entries (all unsure) are stored, and marks
// them written; the others are missing and will be sent again. lost counts
// the missing ones OpenObserve had answered stored (Verify).
func (p *partition) reconcile(ctx context.Context, entries []*entry) (lost int, err error) {
	lo, hi := entries[0].offset, entries[0].offset
	tlo, thi := entries[0].ts, entries[0].ts
	for _, e := range entries {
		lo, hi = min(lo, e.offset), max(hi, e.offset)
		tlo, thi = min(tlo, e.ts), max(thi, e.ts)
	}
	found, err := p.s.findOffsets(ctx, p.topic, p.partition, lo, hi, tlo-searchMargin, thi+searchMargin)
	if err != nil {
		return 0, fmt.Errorf("openobserve: %s: reconciling offsets %d-%d: %w", p.name(), lo, hi, err)
	}
	stored := 0
	for _, e := range entries {
		if _, ok := found[e.offset]; ok {
			stored++
			p.markWritten(e)
		} else {
			e.missing = true
			if e.claimed {
				lost++
			}
		}
		e.unsure, e.claimed = false, false
	}
	p.s.m.reconciled.WithLabelValues("stored").Add(float64(stored))
	p.s.m.reconciled.WithLabelValues("missing").Add(float64(len(entries) - stored))
	p.log.Debug().Int64("from", lo).Int64("to", hi).Int("stored", stored).Int("missing", len(entries)-stored).Msg("reconciled")
	return lost, nil
}

// ambiguous marks entries as possibly stored after an answer that does not
// tell.
func (p *partition) ambiguous(entries []*entry, cause string, err error) {
	p.s.m.ambiguous.WithLabelValues(cause).Inc()
	for _, e := range entries {
		e.unsure = true
	}
	p.log.Warn().Str("cause", cause).Int("records", len(entries)).Int64("first_offset", entries[0].offset).Err(err).
		Msg("outcome unknown; searching what was stored before sending again")
}

// reject counts a refusal of e sent alone. At maxRejects the
// record is bound for the dead-letter topic; if its time lies outside what
// the takeover search covered, a previous owner may have stored it long
// ago (when OpenObserve still accepted that time), so it is searched for
// once more first.
func (p *partition) reject(e *entry, reason string) {
	e.rejects++
	p.log.Warn().Int64("offset", e.offset).Int("rejects", e.rejects).Str("reason", reason).Msg("OpenObserve refused the record")
	if e.rejects < maxRejects {
		return
	}
	e.deadErr = fmt.Errorf("openobserve: %s: OpenObserve refused the record %d times: %s", p.where(e), e.rejects, reason)
	e.deadReason = ReasonRejected
	if e.ts < p.scanLo || e.ts >= p.scanHi {
		e.unsure = true
	}
}

// deadLetter writes e to the dead-letter topic with its cause.
func (p *partition) deadLetter(ctx context.Context, e *entry) error {
	if err := p.dead.Send(ctx, e.rec, e.deadErr); err != nil {
		return fmt.Errorf("openobserve: %s: writing the dead letter: %w", p.where(e), err)
	}
	p.log.Error().Int64("offset", e.offset).Str("reason", e.deadReason).Err(e.deadErr).Msg("record sent to the dead-letter topic")
	p.s.m.deadLetters.WithLabelValues(e.deadReason).Inc()
	if e.state == statePending {
		p.pending--
	}
	e.state, e.doc = stateDead, nil
	return nil
}

func (p *partition) markWritten(e *entry) {
	if e.state != statePending {
		return
	}
	e.state, e.doc, e.unsure, e.missing, e.claimed = stateWritten, nil, false, false, false
	p.pending--
	p.s.m.written.Inc()
}

// advance pops the written and dead-lettered records from the head and
// moves Committable past them.
func (p *partition) advance() {
	i := 0
	for i < len(p.buf) && p.buf[i].state != statePending {
		p.committable = p.buf[i].offset + 1
		i++
	}
	if i > 0 {
		clear(p.buf[:i])
		p.buf = p.buf[i:]
	}
}

func (p *partition) name() string { return fmt.Sprintf("%s[%d]", p.topic, p.partition) }

func (p *partition) where(e *entry) string {
	return fmt.Sprintf("topic %s partition %d offset %d", p.topic, p.partition, e.offset)
}

func pendingOf(es []*entry) []*entry {
	out := make([]*entry, 0, len(es))
	for _, e := range es {
		if e.state == statePending {
			out = append(out, e)
		}
	}
	return out
}

func unsureOf(es []*entry) []*entry {
	var out []*entry
	for _, e := range es {
		if e.state == statePending && e.unsure {
			out = append(out, e)
		}
	}
	return out
}

func deadOf(es []*entry) *entry {
	for _, e := range es {
		if e.state == statePending && e.deadErr != nil {
			return e
		}
	}
	return nil
}

func outcomeOfSearch(err error) string {
	if errors.Is(err, errPartialResult) {
		return OutcomeIncomplete
	}
	return OutcomeNoAnswer
}

// attempts bounds the failed attempts of one Flush and waits between them.
type attempts struct {
	p    *partition
	ctx  context.Context
	loop *retry.Loop
}

// failed counts a failed attempt. It returns nil after waiting, when
// another attempt may follow, or the error to return from Flush: a
// permanent one at once, any other after Retry.Attempts failures, and the
// context's when it ends during the wait. The wait is the backoff,
// lengthened by retryAfter (up to Retry.Max) and at least floor.
func (a *attempts) failed(err error, outcome string, retryAfter, floor time.Duration) error {
	wait, stop := a.loop.Failed(a.ctx, err, retryAfter)
	var ex *retry.ExhaustedError
	var in *retry.InterruptedError
	switch {
	case errors.As(stop, &ex):
		return fmt.Errorf("openobserve: %s: flush failed %d times, giving up for now (the buffer is kept): %w", a.p.name(), ex.Attempts, ex.Err)
	case errors.As(stop, &in):
		return fmt.Errorf("openobserve: %s: %w", a.p.name(), stop)
	case stop != nil:
		return stop // permanent
	}
	wait = max(wait, floor)
	a.p.s.m.retries.WithLabelValues(outcome).Inc()
	a.p.log.Warn().Int("attempt", a.loop.Attempt()).Dur("retry_in", wait).Err(err).Msg("write attempt failed, retrying")
	if err := a.loop.Pause(a.ctx, wait, err); err != nil {
		return fmt.Errorf("openobserve: %s: %w", a.p.name(), err)
	}
	return nil
}
