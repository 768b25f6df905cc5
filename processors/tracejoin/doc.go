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
// (default 30 s), or until its span arrives. At the window's end it leaves
// unenriched with join_status timeout: an event is never dropped. An event
// older than the watermark minus the window (late) or far in the future
// leaves at once if its span is not there. A trace's state is deleted one
// window after its last activity, once everything that touched it is
// committed: join state is bounded by the window.
//
// Punctuation in process. Every write of a trace notes in the table's
// state.Registry when it next has work (state.Due): at once for a release
// decided and not yet emitted; else when the watermark passes its oldest
// waiting event plus the window; else its close, when the window has
// passed its last activity and the records that changed it are committed.
// A state.Sweeper visits exactly the traces whose Due is met, through the
// graph's goka.Visitor edge (state.VisitName): no record through Kafka,
// and no trace visited sweep after sweep for nothing (the previous
// version's sweeper sent a timer record to every trace it judged due on
// state its earlier timers, queued behind the backlog in the loop topic,
// had not changed yet: 28 timers per trace in a replay). A release takes
// two visits, because a visit has no input offset whose replay repeats
// it: the first marks the events in the trace's state with a number that
// grows per partition; the next, once that write is acknowledged, emits
// them through the fence as coming from the pseudo-topic "<loop>.sweep"
// at that mark, and records them as emitted. A crash in between finds the
// mark and emits again; the fence drops what landed. Timer records of the
// previous version left in the loop topic are still taken, with the same
// decisions as then (releases under the timer's offset).
//
// Bounds. A trace holds at most MaxEventsPerTrace events waiting (further
// ones leave at once, overflow). A partition holds at most the sweeper's
// MaxHeld waiting events (pipeline StateOptions.MaxHeld, default 100,000):
// past it, the next sweep (brought forward) releases the oldest waiting
// events at once, unenriched with join_status timeout, counted as bound
// (logstream_tracejoin_event_time_total{kind="bound"}) and said in one
// warning a minute at most. Open traces are kept decoded in memory in
// front of the table (CachedTraces), so an update decodes nothing and a
// span's arrival decodes only the events that join it; each update still
// writes the trace's whole state to the table.
//
// Inputs and outputs. Inputs: logs.unique (LogEvent, key event id, with
// the routing headers parse wrote and dedupe passed on: event id, event
// time, trace and span ids, schemas.RoutingHeaders; and watermark-only
// records), spans (Span, key trace id; and the spans stage's watermark
// records, which carry only its progress). An event with its routing in
// headers is re-keyed and held without being decoded: it is decoded only
// when it leaves. Loop: tracejoin-loop (events re-keyed by trace id as the
// bytes they came as, with a watermark stamp and the routing headers;
// spans placed otherwise than goka would;
// watermark-only records; timer records of the previous version). Outputs:
// logs.enriched (LogEvent with the span's fields and join_status, key
// trace id, or event id for no_trace), logs.dlq. Table: tracejoin-table
// (TraceState: the trace's spans, its events and what emitted them, the
// offsets applied; an event's bytes while it waits, or after a span or a
// sweep released it; not for an event that left on its own record, whose
// replay brings them again).
//
// Bad input. An event or span that does not decode, a span without a
// trace id, with one that is not hex of the right length, or without a
// span id, goes to logs.dlq with the original bytes and the reason; an
// event with an invalid trace id leaves as no_trace. An event held by its
// routing headers whose bytes do not decode goes to logs.dlq when it would
// leave. A tombstone (null value) on logs.unique, on the spans topic or
// on the loop topic goes to logs.dlq with the reason "null value
// (tombstone)" (deadletter.ErrTombstone) before anything else: re-keyed,
// it would be a tombstone on the loop topic. The stage never loops a null
// value itself, so one there was written by something else; it still
// counts as the loop partition's activity, as any loop record does. The
// group table's tombstones are deletes, read by goka, not input.
//
// Watermarks (package watermark). Each partition of logs.unique has the
// watermark of the parse origins stamped on its events; the stage stamps
// every event it re-keys with its input partition's watermark and sends a
// watermark-only record to every loop partition that has not heard it for
// a second of event time, so a loop partition's watermark is the minimum
// over all of logs.unique: one input partition that runs ahead in a
// backlog cannot time out events still queued on another. Spans do not
// move the watermark, but they hold it back: on each partition the join's
// event time is at most the progress of the slowest partition of the
// Collector's topic, from the watermark records the spans stage writes
// to the spans topic (spansGate), so that an event does not time out
// while its span is still queued. Idle origins (a source that stopped) drop out of the
// minimum upstream, so a quiet source does not hold events back. When
// every source is idle the watermark stands still; a loop partition that
// has had no event for one join window of wall clock then releases what
// it holds (timeout), so that events do not wait for ever when the input
// stops. That release is the one join decision made on the wall clock: a
// replay of the same lines without the pause may join an event that timed
// out live. logs.enriched carries no stamps: errorrate counts events
// from logs.unique and takes only sample traces from logs.enriched, which
// it picks by the join status header (schemas.HeaderJoinStatus) on every
// record the stage writes there, without decoding the others.
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
