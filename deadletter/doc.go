// Package deadletter writes dead letters for the consumers that are no
// goka processors: the sink writers (sinks/) and the page consumer
// (paging/). A dead letter is a DeadLetter record on logs.dlq holding the
// bad record's key and bytes, where it was read (topic, partition,
// offset), the stage and the reason; Producer.Send returns once the
// broker acknowledged it, so the caller commits past the record after it.
//
// It imports no goka: the packages that use it depend on topic names and
// franz-go only. The goka stages write theirs with processors/deadletter's
// Writer, through the processor's context; both use ErrTombstone's
// reason for a null value.
package deadletter

import "errors"

// ErrTombstone is the reason of a dead letter for a record with a null
// value (a tombstone) on a topic that carries none.
var ErrTombstone = errors.New("null value (tombstone)")
