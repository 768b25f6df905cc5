// Package tracejoin joins log events with the distributed-trace spans they
// were written in, between dedupe and the sinks.
//
// Keys and repartitioning. The events come from logs.unique keyed by event
// id; the spans from the spans topic keyed by trace id. An event with a
// trace id is re-keyed by it through the stage's loop topic (goka
// Loopback: a repartition topic, as in Kafka Streams), where it meets its
// trace's state in the group table (tracejoin-table, keyed by trace id).
// logs.unique, spans, the loop topic and the table must be co-partitioned;
// topology/ checks the counts at start-up. An event without a trace id, or
// with one that is not 32 (or 16, zero-padded) hex digits, is emitted at
// once with join_status no_trace, keyed by its event id.
//
// Ordering kept and not kept. Events of one trace leave in the order they
// joined, within one partition of logs.enriched (keyed by trace id). Events
// of one host or one source are spread over partitions by their trace ids,
// so their relative order is not kept across traces; nor is the order
// between events with and without a trace id. Consumers that need order
// use the event time, not the offset.
//
// The join. Arrival order is arbitrary. An event whose span (the span with
// its span_id, or the root span for an event without one) is in the state
// leaves at once, enriched with the span's service, operation, duration
// and status and the trace's root operation (when the root span has
// arrived): join_status joined. Otherwise it waits until the watermark
// of its loop partition passes its event time plus the join window
// (default 30 s), or until its span arrives. At the window's end a timer
// (from the sweeper, through the loop topic) releases it unenriched with
// join_status timeout: an event is never dropped. An event older than the
// watermark minus the window (late) or far in the future leaves at once if
// its span is not there. A trace's state is deleted one window after its
// last activity, once everything that touched it is committed: join state
// is bounded by the window.
//
// Watermarks (package watermark). Each partition of logs.unique has the
// watermark of the parse origins stamped on its events; the stage stamps
// every event it re-keys with its input partition's watermark and sends a
// watermark-only record to every loop partition that has not heard it for
// a second of event time, so a loop partition's watermark is the minimum
// over all of logs.unique: one input partition that runs ahead in a
// backlog cannot time out events still queued on another. Spans do not
// move the watermark. Idle origins (a source that stopped) drop out of the
// minimum upstream, so a quiet source does not hold events back. When
// every source is idle the watermark stands still; a loop partition that
// has had no event for one join window of wall clock then releases what
// it holds (timeout), so that events do not wait for ever when the input
// stops. That release is the one join decision made on the wall clock: a
// replay of the same lines without the pause may join an event that timed
// out live. logs.enriched carries no stamps: errorrate counts events
// from logs.unique and takes only sample traces from logs.enriched.
//
// Exactly-once. State changes are applied once: the state remembers the
// last offset of the spans topic and of the loop topic applied to it, and
// each held event remembers the record whose processing emitted it. A
// replayed record changes nothing and re-emits what it emitted; the
// exactlyonce.Fence on logs.enriched suppresses what had already landed.
// The re-keying (Loopback) is at least once: an event re-keyed twice
// arrives twice in the trace's state and the second is recognised by its
// event id, as long as the trace's state lives (one window after its last
// activity). Dead letters are at least once.
package tracejoin
