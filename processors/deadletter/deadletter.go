package deadletter

import (
	"time"

	"github.com/lovoo/goka"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/deadletter"
	"github.com/logstream/logstream/schemas"
)

// ErrTombstone is the reason of the dead letter of a tombstone: a record
// whose value is null. On a stream a null value carries nothing (deletes
// belong to table topics), so it is bad input like any other, and it is
// kept apart from an empty value, which has a reason of its own. The same
// error as the franz-go consumers' (package deadletter).
var ErrTombstone = deadletter.ErrTombstone

// IsTombstone reports whether msg, the value a goka callback received for
// a record read with codec.Bytes, is a tombstone: nil under
// goka.NilProcess (the pipeline's setting: the codec is not called), a nil
// []byte under goka.NilDecode. An empty, non-nil value is not one: the
// Kafka clients read a zero-length value as an empty slice, a null one as
// nil.
func IsTombstone(msg any) bool {
	if msg == nil {
		return true
	}
	b, ok := msg.([]byte)
	return ok && b == nil
}

// Writer emits dead letters for one stage.
type Writer struct {
	Stage string      // stage name recorded in each dead letter
	Topic goka.Stream // the dead-letter topic (from topology/)
	// Now is the clock of the dead letters' times; nil means time.Now.
	Now func() time.Time
	// Count, when set, is called once per dead letter (a metric).
	Count func()
}

// Emit writes the current input record of ctx as a dead letter with err as
// its reason. The dead letter keeps the record's key.
func (w *Writer) Emit(ctx goka.Context, value []byte, err error) {
	var key []byte
	if k := ctx.Key(); k != "" {
		key = []byte(k)
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	ctx.Emit(w.Topic, ctx.Key(), &schemas.DeadLetter{
		OriginalKey:     key,
		OriginalValue:   value,
		SourceTopic:     string(ctx.Topic()),
		SourcePartition: ctx.Partition(),
		SourceOffset:    ctx.Offset(),
		Stage:           w.Stage,
		Error:           err.Error(),
		Time:            now().UnixMilli(),
	})
	if w.Count != nil {
		w.Count()
	}
}

// Tombstone writes the dead letter of the current input record of ctx
// when msg is a tombstone (IsTombstone), with ErrTombstone as its reason
// and a null original value, and reports whether it did: the caller then
// skips the record. It counts like any other dead letter (Count).
func (w *Writer) Tombstone(ctx goka.Context, msg any) bool {
	if !IsTombstone(msg) {
		return false
	}
	w.Emit(ctx, nil, ErrTombstone)
	return true
}

// Decode decodes the current input value of ctx (read as bytes) with c. On
// failure, or for a tombstone (ErrTombstone, the codec is not asked), it
// emits the dead letter and returns false; the caller skips the record.
func Decode[T any](ctx goka.Context, msg any, c *codecs.Codec[T], w *Writer) (*T, bool) {
	if w.Tombstone(ctx, msg) {
		return nil, false
	}
	value, _ := msg.([]byte)
	v, err := c.Unmarshal(value)
	if err != nil {
		w.Emit(ctx, value, err)
		return nil, false
	}
	return v, true
}
