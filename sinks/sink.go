package sinks

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Sink is one external store. The Runner asks it for a PartitionWriter for
// every partition it is assigned and drives that writer from one goroutine.
type Sink interface {
	// Name labels logs, metrics and errors ("s3", "openobserve").
	Name() string
	// Check reaches the store once, before consuming: a missing bucket,
	// wrong credentials or an unreachable endpoint is reported here with
	// the setting to fix, instead of as an endless retry.
	Check(ctx context.Context) error
	// NewPartition returns the writer of one topic partition. dead writes
	// records that cannot be stored to the dead-letter topic.
	NewPartition(topic string, partition int32, dead DeadLetters) (PartitionWriter, error)
}

// PartitionWriter writes one topic partition's records, which it gets in
// offset order, to the store. It is used by one goroutine at a time.
//
// The contract that makes the Runner exactly once: Add only buffers (it
// does no I/O, except sending a record that cannot be encoded to the
// dead-letter topic); Flush does the I/O and may be called again after it
// failed, with the same buffer, until it succeeds; Committable reports the
// offset below which every record is in the store (or dead-lettered), and
// only that offset is ever committed to Kafka.
type PartitionWriter interface {
	// Add buffers one record. An error is fatal to the partition (the
	// dead-letter topic could not be written): the runner stops the
	// partition without committing what was not written.
	Add(ctx context.Context, r *kgo.Record) error
	// Full reports that Flush(ctx, false) has work to do now: a batch is
	// complete (count, bytes, a time boundary). The runner flushes before
	// it adds more.
	Full() bool
	// Due is when the buffer must be written by age; the zero time means
	// nothing is buffered.
	Due() time.Time
	// Flush writes the complete batches; with all set it also writes the
	// batch being filled (on age, revocation and shutdown). It returns nil
	// only when everything it was asked to write is in the store.
	Flush(ctx context.Context, all bool) error
	// Committable is the offset to commit: every record before it is in
	// the store or the dead-letter topic. -1 means nothing yet.
	Committable() int64
	// Close releases the writer's resources; buffered records are dropped
	// (they are not committed, so the next owner reads them again).
	Close()
}

// DeadLetters writes records that a sink cannot store to the dead-letter
// topic, with the reason. It returns only when the record is written (or
// ctx ended: then it returns the context's error).
type DeadLetters interface {
	Send(ctx context.Context, r *kgo.Record, cause error) error
}

// Permanent marks an error that retrying will not cure (a missing bucket,
// refused credentials): the runner logs it at error level once per streak
// instead of at warn level per attempt. It still retries, paced by the
// circuit breaker, because a bucket can be created and a key rotated
// without restarting the writers.
type Permanent struct{ Err error }

func (p *Permanent) Error() string { return p.Err.Error() }
func (p *Permanent) Unwrap() error { return p.Err }
