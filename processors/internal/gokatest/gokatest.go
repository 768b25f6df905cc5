// Package gokatest is a fake goka.Context for the processors' tests.
//
// goka's tester never delivers an offset twice, but the replay tests need
// to: a replay is the same record read again after a crash, over the table
// its first processing wrote. So they drive a stage's callbacks directly
// through a Context over a Table that they keep across "restarts".
//
// It is a plain (non-test) package so that the test packages of several
// stages can share it; only tests import it.
package gokatest

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"
)

// Drain reads every record left on a goka tester queue, as T values.
func Drain[T any](q *tester.QueueTracker) []T {
	var out []T
	for {
		_, v, ok := q.Next()
		if !ok {
			return out
		}
		out = append(out, v.(T))
	}
}

// Table is a group table: encoded values by key, as goka keeps them.
type Table struct {
	// Codec encodes and decodes the values. It may be set or replaced
	// after NewTable, e.g. by each restart of a stage.
	Codec goka.Codec
	Rows  map[string][]byte
}

// NewTable returns an empty table of values in codec.
func NewTable(codec goka.Codec) *Table {
	return &Table{Codec: codec, Rows: map[string][]byte{}}
}

// Get decodes the value of key.
func (tb *Table) Get(key string) (any, bool) {
	b, ok := tb.Rows[key]
	if !ok {
		return nil, false
	}
	v, err := tb.Codec.Decode(b)
	if err != nil {
		panic(err)
	}
	return v, true
}

// Snapshot returns a copy of the rows.
func (tb *Table) Snapshot() map[string][]byte {
	out := map[string][]byte{}
	for k, v := range tb.Rows {
		out[k] = append([]byte(nil), v...)
	}
	return out
}

// Restore replaces the rows with a copy of rows.
func (tb *Table) Restore(rows map[string][]byte) {
	tb.Rows = map[string][]byte{}
	for k, v := range rows {
		tb.Rows[k] = append([]byte(nil), v...)
	}
}

// Sent is a record a Context emitted or looped back.
type Sent struct {
	Topic   string
	Key     string
	Value   any
	Headers goka.Headers
}

// Record is the input record a Context delivers.
type Record struct {
	Topic     goka.Stream
	Key       string
	Partition int32
	Offset    int64
	Headers   goka.Headers
	// Time is the record's timestamp (the zero time when unset).
	Time time.Time
}

// Context is a goka.Context for one input record of a group. Its value is
// the row of the record's key in a Table; what it emits and loops back is
// kept in Emits and Loops.
type Context struct {
	group goka.Group
	loop  string
	table *Table
	rec   Record

	Emits []Sent
	Loops []Sent
}

var _ goka.Context = (*Context)(nil)

// NewContext returns a context of group that delivers rec, keeps its
// value in table and loops back to the topic loop.
func NewContext(group goka.Group, loop string, table *Table, rec Record) *Context {
	return &Context{group: group, loop: loop, table: table, rec: rec}
}

func (c *Context) Topic() goka.Stream    { return c.rec.Topic }
func (c *Context) Key() string           { return c.rec.Key }
func (c *Context) Partition() int32      { return c.rec.Partition }
func (c *Context) Offset() int64         { return c.rec.Offset }
func (c *Context) Group() goka.Group     { return c.group }
func (c *Context) Headers() goka.Headers { return c.rec.Headers }
func (c *Context) Timestamp() time.Time  { return c.rec.Time }
func (c *Context) Value() any {
	v, _ := c.table.Get(c.rec.Key)
	return v
}

func (c *Context) SetValue(value any, _ ...goka.ContextOption) {
	b, err := c.table.Codec.Encode(value)
	if err != nil {
		panic(err)
	}
	c.table.Rows[c.rec.Key] = b
}
func (c *Context) Delete(...goka.ContextOption)  { delete(c.table.Rows, c.rec.Key) }
func (c *Context) Join(goka.Table) any           { panic("no joined table") }
func (c *Context) Lookup(goka.Table, string) any { panic("no lookup table") }
func (c *Context) Emit(topic goka.Stream, key string, value any, opts ...goka.ContextOption) {
	c.Emits = append(c.Emits, Sent{string(topic), key, value, EmitHeaders(opts)})
}

func (c *Context) Loopback(key string, value any, opts ...goka.ContextOption) {
	c.Loops = append(c.Loops, Sent{c.loop, key, value, EmitHeaders(opts)})
}
func (c *Context) Fail(err error)           { panic(errors.Join(errors.New("ctx.Fail"), err)) }
func (c *Context) Context() context.Context { return context.Background() }
func (c *Context) DeferCommit() func(error) { return func(error) {} }

// EmitHeaders applies goka's context options to a value of their own
// (unexported) options type and reads the emit headers they set; nil
// without options.
func EmitHeaders(opts []goka.ContextOption) goka.Headers {
	if len(opts) == 0 {
		return nil
	}
	target := reflect.New(reflect.TypeOf(opts[0]).In(0).Elem())
	for _, o := range opts {
		reflect.ValueOf(o).Call([]reflect.Value{target})
	}
	out := goka.Headers{}
	it := target.Elem().FieldByName("emitHeaders").MapRange()
	for it.Next() {
		out[it.Key().String()] = append([]byte(nil), it.Value().Bytes()...)
	}
	return out
}

// FixedClock is a partition clock (state.Sweeper.Clock) standing at one
// stream time, never idle.
type FixedClock int64

func (c FixedClock) StreamTime(int32) int64   { return int64(c) }
func (c FixedClock) Idle(int32) time.Duration { return 0 }

// Committed is a state.Sweeper.Committed that reports committed, topic
// by topic, as partition 0's committed offsets.
func Committed(committed map[string]int64) func(context.Context) (map[string]map[int32]int64, error) {
	return func(context.Context) (map[string]map[int32]int64, error) {
		m := map[string]map[int32]int64{}
		for topic, o := range committed {
			m[topic] = map[int32]int64{0: o}
		}
		return m, nil
	}
}

// Visits is a state.Sweeper.Visit on a tester-driven processor.
func Visits(proc *goka.Processor, name string) func(context.Context, any) (int64, error) {
	return func(ctx context.Context, meta any) (int64, error) {
		return proc.VisitAllWithStats(ctx, name, meta)
	}
}
