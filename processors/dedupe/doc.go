// Package dedupe is the stage between parse and the trace join: it passes
// the first occurrence of each event id to logs.unique and drops the
// repeats a retrying shipper sends.
//
// Key and state. The input (logs.parsed) is keyed by event id: the
// producer's own id when the line has one, else a hash over host, source,
// event time and line (processors/parse.EventID). The group table
// (dedupe-table) holds, per id, where its first occurrence was read and its
// event time. An id lives for the TTL (default 10 minutes) of event time
// after its first occurrence: every write of an id notes in the table's
// state.Registry when it expires, a state.Sweeper visits the ids that are
// due in process (goka's visitor, state.VisitName; no record through
// Kafka), and the visit deletes the id (a tombstone on the compacted table
// topic), so the table and the local store stay bounded by the ids of one
// TTL, not by history. A repeat that comes after its id expired passes
// again: that is the TTL's meaning. A bounded ristretto cache of hot ids
// can sit in front of the store (Config.CacheEntries; logstream run keeps
// one only with LevelDB state: in front of a memory table it would only
// copy it). Timer records of the previous version left in the loop topic
// are still taken, with the same decision.
//
// Exactly-once. goka delivers at least once; the stage makes its effects
// exactly once. The state of an id names the record of its first
// occurrence, so a replay of that record is recognised as the first
// occurrence (and any later record as a repeat) whatever was written
// before a crash; repeats record the last offset applied, so a replayed
// repeat changes nothing; the output is guarded by an exactlyonce.Fence
// (logs.unique has this stage as its only writer, partition for
// partition), so an emit that landed before the crash is not made again.
// An id is deleted only when every record that touched it is committed
// (the sweep's visit carries the committed offsets), so no replay can find
// it gone.
// Dead letters are at least once: a replay may write one twice, with the
// same source offset.
//
// Bad input. An event that does not decode (and carries no routing
// headers), or whose id is empty, goes to logs.dlq with the reason. A
// tombstone (null value) on logs.parsed or on the loop topic goes to
// logs.dlq with the reason "null value (tombstone)" (deadletter.ErrTombstone)
// before anything else, so that no null value is passed on to
// logs.unique; the stage never loops a null value itself, so one on the
// loop topic was written by something else. A bad watermark header is
// counted (bad_stamps) and ignored.
//
// Ordering. The key does not change (event id in, event id out), and
// logs.unique is co-partitioned with logs.parsed: events keep their order
// within a partition, which holds all occurrences of an id. A record that
// arrives on a partition its id does not hash to (a producer with another
// partitioner) is rerouted through the loop topic to its id's partition;
// it then follows the records already there.
//
// Event time. The TTL runs on the watermark (package watermark), not on
// the highest event time seen: the partition's watermark is the minimum of
// the parse origins' progress stamped on the events it reads, so a parse
// partition that runs ahead during a backlog cannot expire ids whose
// repeats are still queued behind a slower one. The stage relays the
// stamps: every event it writes carries the stamps of the event it read
// (a dropped repeat's stamps go out on a watermark-only record), and it
// forwards the watermark-only records of logs.parsed, so logs.unique
// carries the parse origins' progress on to the join and to errorrate. An
// event more than MaxFuture (default 1 h) ahead of the wall clock is passed
// on but moves nothing, and its id is kept as if it happened at the
// watermark; it is counted as future. An event older than the watermark
// minus the TTL is counted as late: a repeat of it may have expired.
package dedupe
