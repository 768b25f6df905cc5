// Package watermark carries event-time progress through logstream's
// re-keyed streams, the way Flink carries watermarks: in band, with the
// records, and merged by taking the minimum wherever streams meet.
//
// Why. Every stage re-keys (host → event id → trace id → host), so a
// partition downstream holds events from every partition upstream,
// interleaved in whatever order those were processed. During a backlog
// (a replay, a restart with lag, a burst) one upstream partition runs
// minutes ahead of another, and "the highest event time seen" on the
// downstream partition closes windows whose events are still queued
// elsewhere. A watermark W promises instead: every event older than W that
// will ever come through here has come. Windows close, joins time out and
// ids expire when the watermark passes, never because one partition ran
// ahead.
//
// Origins and channels. Event time is born in the parse stage, one origin
// per partition of logs.raw (a host's lines stay in one partition, in
// order). Parse stamps every event it writes with its origin's progress
// (the highest event time it has parsed there) and, for an output
// partition that has not heard from the origin for a while, writes a
// watermark record carrying only the stamp. Re-keying spreads an origin
// over many partitions, but each path (origin → output partition) keeps its
// order, so the stamps a partition receives from one origin only grow and
// every event of that origin older than a stamp came before it. A stage
// that merges partitions keeps, per channel (an origin, or an upstream
// partition of a stage that re-keys again), the latest stamp, and its own
// watermark is the minimum over its channels (Tracker). A stage that
// re-keys stamps what it writes with its own watermark and fans it out to
// every downstream partition that has not heard it (Fanout), so the next
// stage can do the same.
//
// The spans stage is a second place where progress is born: one origin
// per partition of otlp.spans, stamped on watermark records only (the
// spans themselves carry none), which the trace join uses to keep its
// event time from running ahead of the spans still queued.
//
// Idleness. A source with nothing to say must not hold everything back: a
// partition of logs.raw that has had no records for a while and is caught
// up is declared idle by parse (Punctuator), and idle channels drop out of
// the minimum. When every channel is idle the watermark stands still: a
// pipeline whose input stopped does not move event time, so nothing looks
// silent and no window closes on a guess. A channel that wakes up while
// every other one was idle turns the others from idle to hold until they
// prove idle again (a fresh idle stamp after the Idle period): a burst that
// reaches partitions a few milliseconds apart must not let the first one
// run ahead alone.
//
// Stamps travel in the record header HeaderStamp as a list of
// "<channel>:<time|idle|idle=time|hold>:<seq>", where the channel names a topic and
// partition ("logs.raw/3") and seq is a position that grows along the
// channel (the origin's offset), so that an idle stamp overtaken by newer
// data is recognised as stale. Records that carry only stamps have the
// header state.HeaderKind set to KindWatermark; every reader of a stamped
// topic skips them (tail, sinks and tests too).
package watermark
