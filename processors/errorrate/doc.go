// Package errorrate is the stage that names the bad host: per-host
// error-rate windows in event time, and the per-second counts the alerter
// judges.
//
// Two hops. Counting an event must not cost a state rewrite, so the stage
// aggregates before it keys by host:
//
//   - The combine hop (Combiner, consumer group errorrate-combine) is a
//     franz-go transactional consumer of logs.unique (every event, counted
//     before the join so that nothing waits for a span) and logs.enriched
//     (joined error events, kept as sample traces). For about 100 ms
//     (FlushInterval) it adds events up per host and tick (one second of
//     event time) and per host and pane (latency sketch, error signatures,
//     first error, samples), then writes one ErrorRatePartial per
//     partition of errorrate-partials (key "~p<n>": every host goka places
//     on partition n) and commits its input offsets in the same Kafka
//     transaction. A record is counted once or not at all; an aborted
//     transaction is counted again by the partition's next owner.
//   - The windows hop (Processor, goka group errorrate) keeps one state per
//     partition (ErrorRatePartition in errorrate-table): each host's panes
//     of its open windows, the ticks not yet sent to the alerter, and the
//     watermark with its inputs. One partial record updates the state once,
//     whatever the number of events in it.
//
// Windows. Tumbling (default 1 minute) and hopping (5 minutes advancing by
// 1), aligned to the epoch and built from panes (their greatest common
// slice), so an event is added once, not once per hopping window. Per
// window: events, errors, rate, latency p50/p95/p99 from a mergeable
// log-bucket sketch (1% relative error, kept as bytes), the top error
// signatures and a few sample traces. A window closes when the watermark
// passes its end plus the grace (default 30 s) and its result goes to
// hosts.error-rate (keyed by host) once: emit final. EmitUpdates also
// writes every open window each tick it grows.
//
// Event time (package watermark). Parse stamps every event with its origin's
// progress; the combine hop passes the minimum over the logs.unique
// partitions it reads, per output partition, on each partial (an idle
// input partition, caught up and quiet for the idle timeout, drops out).
// The windows hop's watermark is the minimum over the partials of every
// combine partition. A window never closes because one partition ran
// ahead in a backlog; an event is late only when its window has closed,
// i.e. it is older than the watermark minus the grace: counted
// (late_events_total), never added. An event more than MaxFuture (1 h)
// ahead of the wall clock is counted as future and not windowed: a broken
// clock must not close every window. When every input is idle the
// watermark stands still and nothing closes.
//
// To the alerter. When the watermark crosses a tick, the windows hop sends
// one WindowUpdate (key fleet) with every host's counts per tick up to the
// watermark, and for hosts with new errors their open window's details
// (signatures, samples); one update per partition per tick, not per host
// or event. A status change (idle, holding) is sent too, so the alerter
// knows a partition with nothing to say from one that is behind.
//
// Guarantee: exactly-once effects. The combine hop is transactional. The
// windows hop remembers the last partial offset applied to its partition
// and the records each wrote; a replay after a crash changes nothing, and
// the exactlyonce.Fence suppresses records that already landed on
// hosts.error-rate and hosts.window-updates (one writer per partition).
// Records kept for replays are pruned at the committed offset.
//
// Bad input. An event without a host, or a record of logs.unique that does
// not decode, goes to logs.dlq with the reason; a partial that does not
// decode too. A tombstone (null value) on logs.unique (the combine hop),
// on the partials topic or on the loop topic goes to logs.dlq with the
// reason "null value (tombstone)" (deadletter.ErrTombstone); neither hop
// writes one, so one on the loop topic was written by something else. A
// record of logs.enriched, read only for sample traces, is not a dead
// letter when it does not decode, a tombstone included: it is counted
// (bad_samples) and skipped, since the hop counts nothing from it. A bad
// watermark header is counted (bad_stamps) and ignored.
//
// Upgrade from the per-host version. Its per-host states (ErrorRateState,
// keyed by host in the same table) are read into the partition's state the
// first time a partition is loaded, open panes and all; the keys stay,
// inert. Events it had re-keyed into errorrate-loop and not yet counted are
// counted once: the combine hop starts at the old group's committed
// offsets of logs.unique, and loop records from at or after them are
// skipped (the combine hop counts those). The previous version's timer
// records are ignored.
package errorrate
