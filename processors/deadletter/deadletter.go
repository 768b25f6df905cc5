// Package deadletter is how every stage turns a record it cannot use into
// a DeadLetter on the dead-letter topic instead of failing: the original key
// and bytes, where they came from, the stage, and why. A stage that reads
// Avro takes its input as bytes and decodes it with Decode, so that a
// record written with a schema the stage's build does not know (a newer
// version, with no schema registry configured) or a malformed one becomes a
// dead letter whose reason names the fingerprint, and never stops the
// processor the way a failing goka codec would.
package deadletter

import (
	"time"

	"github.com/lovoo/goka"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
)

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

// Decode decodes the current input value of ctx (read as bytes) with c. On
// failure it emits the dead letter and returns false; the caller skips the
// record.
func Decode[T any](ctx goka.Context, msg any, c *codecs.Codec[T], w *Writer) (*T, bool) {
	value, _ := msg.([]byte)
	v, err := c.Unmarshal(value)
	if err != nil {
		w.Emit(ctx, value, err)
		return nil, false
	}
	return v, true
}
