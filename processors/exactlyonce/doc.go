// Package exactlyonce gives goka stages exactly-once output despite goka's
// at-least-once delivery.
//
// Who uses it: the stages that keep state and write outputs they own alone
// (dedupe, tracejoin, errorrate, alerter) take a Fence in their Config and
// emit through its Record; the pipeline (pipeline.New) makes one Fence per
// stage, naming the outputs it guards, over a KafkaTail that reads each
// output partition's last record.
//
// goka commits an input offset only after everything the record caused
// (emits and table writes) was acknowledged, so a crash replays the
// records after the last commit. Two things then must not happen twice:
//
//   - State changes. Each stage keeps, in every key's state, the offset of
//     the last input record applied to it (a key is read from one partition
//     only, and offsets only grow), and skips a replayed record at or below
//     it.
//   - Output. A Fence guards the output topics a stage owns alone. Every
//     record it emits carries headers with the input record it came from
//     (topic, offset, and its number among that record's emits) and the
//     stage's position in every input topic of the partition. When a pod
//     gains a partition, the fence reads the last record the stage wrote
//     to each guarded output partition: because a partition's records are
//     processed in order and the producer keeps order within a partition
//     (idempotent producer), everything up to that record's position has
//     landed and nothing after it has. Emits a replayed record already made
//     are suppressed; the rest go out.
//
// A guarded output must receive, from goka partition n, only records for
// its partition n: the output key must be placed as the input's is (same
// key, or a key of the same partition). Emits to a key of another partition
// still go out, but unguarded, and are counted.
package exactlyonce
