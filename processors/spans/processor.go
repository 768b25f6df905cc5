package spans

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/lovoo/goka"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/deadletter"
	"github.com/logstream/logstream/watermark"
)

// StageName names the stage in dead letters, logs and metrics.
const StageName = "spans"

// ErrNoSpans is the dead letter's reason for a message that decodes but
// holds no span at all (an empty value, or resource spans without spans):
// the Collector never exports one, so it is kept for a look.
var ErrNoSpans = errors.New("spans: message holds no spans")

// Config wires the stage. Topic names come from topology/; the stage never
// spells them itself.
type Config struct {
	Spans       goka.Stream // output of Spans, keyed by trace id
	DeadLetters goka.Stream // output of DeadLetters
	// Now is the clock for dead-letter times; nil means time.Now.
	Now func() time.Time
	// Origins, when set, follows the progress of each input partition
	// (the latest span end read there) and writes it as a watermark
	// record to every partition of Spans that has not heard it for a
	// second of event time, so that the join can hold its event time at
	// the slowest of them (package watermark; doc.go). KeyFor names a key
	// of a partition of Spans.
	Origins *watermark.Origins
	KeyFor  func(partition int32) string
}

// Validate reports the first missing or invalid field.
func (c *Config) Validate() error {
	switch {
	case c.Spans == "":
		return errors.New("spans: Config.Spans is empty")
	case c.DeadLetters == "":
		return errors.New("spans: Config.DeadLetters is empty")
	case c.Spans == c.DeadLetters:
		return errors.New("spans: Config.Spans and Config.DeadLetters name the same topic")
	case c.Origins != nil && c.KeyFor == nil:
		return errors.New("spans: Config.Origins needs Config.KeyFor")
	}
	return nil
}

// Processor is the spans stage's goka callback and its counters.
type Processor struct {
	cfg   Config
	stats *Stats
	dlq   *deadletter.Writer
}

// New returns the stage for cfg.
func New(cfg Config) (*Processor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	p := &Processor{cfg: cfg, stats: new(Stats)}
	p.dlq = &deadletter.Writer{Stage: StageName, Topic: cfg.DeadLetters, Now: cfg.Now, Count: func() { p.stats.DeadLetters.Add(1) }}
	return p, nil
}

// Stats returns the stage's live counters.
func (p *Processor) Stats() *Stats { return p.stats }

// Process is the goka.ProcessCallback for the Collector's OTLP topic; it
// reads the value as bytes (codec.Bytes). A tombstone (null value) is a
// dead letter (deadletter.ErrTombstone). Every good span goes out keyed by
// its trace id, in the message's order. A message that does not decode, or
// holds no span, becomes one dead letter; a message with rejected spans
// becomes one dead letter naming each of them, and its good spans still go
// out. It never panics on input.
func (p *Processor) Process(ctx goka.Context, msg any) {
	p.stats.Messages.Add(1)
	if p.dlq.Tombstone(ctx, msg) {
		p.progress(ctx, 0, false)
		return
	}
	value, _ := msg.([]byte)
	d, err := fromOTLP(value)
	if err != nil {
		p.dlq.Emit(ctx, value, err)
		p.progress(ctx, 0, false)
		return
	}
	var end int64
	for i := range d.spans {
		s := &d.spans[i]
		ctx.Emit(p.cfg.Spans, s.TraceID, s)
		end = max(end, (s.Start+s.DurationUs)/1000)
	}
	// After the spans, so that every partition hears the progress behind
	// the spans it vouches for.
	p.progress(ctx, end, len(d.spans) > 0)
	p.stats.Spans.Add(int64(len(d.spans)))
	p.stats.NegativeDurations.Add(int64(d.negativeDurations))
	switch {
	case len(d.rejects) > 0:
		p.stats.Rejected.Add(int64(len(d.rejects)))
		p.dlq.Emit(ctx, value, rejectError(d.rejects, len(d.spans)))
	case len(d.spans) == 0:
		p.dlq.Emit(ctx, value, ErrNoSpans)
	}
}

// progress notes the message just read on its partition (end: the latest
// span end in it, ms) and writes a watermark record to each partition of
// Spans due one. The stamps are not a promise that no earlier span will
// come (the spans of a trace are exported in any order), only how far the
// partition has been read: the join's window absorbs the disorder.
func (p *Processor) progress(ctx goka.Context, end int64, hasTime bool) {
	if p.cfg.Origins == nil {
		return
	}
	stamp, due := p.cfg.Origins.Advance(ctx.Partition(), ctx.Offset(), end, hasTime, -1)
	if len(due) == 0 {
		return
	}
	v, h := watermark.Record(stamp)
	for _, part := range due {
		ctx.Emit(p.cfg.Spans, p.cfg.KeyFor(part), codecs.Encoded(v), goka.WithCtxEmitHeaders(h))
		p.stats.Watermarks.Add(1)
	}
}

// Rebalance is the goka rebalance callback: the origins follow the
// partitions this pod owns.
func (p *Processor) Rebalance(a goka.Assignment) {
	if p.cfg.Origins == nil {
		return
	}
	parts := make([]int32, 0, len(a))
	for part := range a {
		parts = append(parts, part)
	}
	p.cfg.Origins.Assign(parts)
}

// RejectError is the dead letter's reason for a message with rejected
// spans: it names each of them.
type RejectError struct {
	Rejects []Reject
	Good    int // spans of the message that were emitted
}

func rejectError(r []Reject, good int) *RejectError { return &RejectError{Rejects: r, Good: good} }

func (e *RejectError) Error() string {
	var b strings.Builder
	b.WriteString("spans: ")
	b.WriteString(strconv.Itoa(len(e.Rejects)))
	b.WriteString(" of ")
	b.WriteString(strconv.Itoa(len(e.Rejects) + e.Good))
	b.WriteString(" spans rejected (the other ")
	b.WriteString(strconv.Itoa(e.Good))
	b.WriteString(" were emitted): ")
	for i, r := range e.Rejects {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(r.String())
	}
	return b.String()
}
