package deadletter

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/internal/retry"
	"github.com/logstream/logstream/schemas"
)

// Producer writes dead letters with a franz-go client: for the consumers
// that are no goka processors (the sink writers, the page consumer). They
// commit offsets themselves, so Send returns only once the broker has
// acknowledged the dead letter: the caller commits past the record after
// it, and a crash in between writes the dead letter again rather than
// losing it.
type Producer struct {
	Topic string // the dead-letter topic (from topology/)
	Stage string // stage name recorded in each dead letter
	// Codec encodes the dead letters.
	Codec *codecs.Codec[schemas.DeadLetter]
	// Now is the clock of the dead letters' times; nil means time.Now.
	Now func() time.Time
	// Retry paces the attempts to produce a dead letter. Its zero value
	// retries until ctx ends: a dead letter is never dropped.
	Retry retry.Policy
	// Count, when set, is called once per dead letter, after its
	// acknowledgement, with the source record and the reason (metrics).
	Count func(src *kgo.Record, cause error)
}

// Letter returns the dead letter of src with cause as its reason: src's
// key and bytes, where it was read (topic, partition, offset), the stage
// and the time. A tombstone's nil value stays nil (Avro null), so that it
// stays apart from an empty value.
func (p *Producer) Letter(src *kgo.Record, cause error) *schemas.DeadLetter {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	reason := "no reason given"
	if cause != nil {
		reason = cause.Error()
	}
	return &schemas.DeadLetter{
		OriginalKey:     src.Key,
		OriginalValue:   src.Value,
		SourceTopic:     src.Topic,
		SourcePartition: src.Partition,
		SourceOffset:    src.Offset,
		Stage:           p.Stage,
		Error:           reason,
		Time:            now().UnixMilli(),
	}
}

// Send writes the dead letter of src, keyed by src's key, with cl, and
// waits for its acknowledgement, retrying a failed produce as Retry says.
// It returns an error when the dead letter cannot be encoded, or when
// Retry gives up (an *retry.InterruptedError matching ctx's error when ctx
// ends first); src must then stay uncommitted.
func (p *Producer) Send(ctx context.Context, cl *kgo.Client, src *kgo.Record, cause error) error {
	if cause == nil {
		return errors.New("deadletter: a dead letter needs a reason")
	}
	value, err := p.Codec.Marshal(p.Letter(src, cause))
	if err != nil {
		// Cannot happen for a well-formed DeadLetter; never lose the
		// record silently either way.
		return fmt.Errorf("deadletter: encode the dead letter of %s/%d@%d: %w", src.Topic, src.Partition, src.Offset, err)
	}
	err = p.Retry.Do(ctx, func(ctx context.Context) error {
		// A record of its own per attempt: the client fills in a
		// record it produces.
		return cl.ProduceSync(ctx, &kgo.Record{Topic: p.Topic, Key: src.Key, Value: value}).FirstErr()
	})
	if err != nil {
		return fmt.Errorf("deadletter: write the dead letter of %s/%d@%d to %s: %w", src.Topic, src.Partition, src.Offset, p.Topic, err)
	}
	if p.Count != nil {
		p.Count(src, cause)
	}
	return nil
}
