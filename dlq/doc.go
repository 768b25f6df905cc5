// Package dlq reads the dead-letter topic (logs.dlq) and puts dead letters
// back into the pipeline. It is the engine of `logstream dlq list`, `show`
// and `replay`.
//
// A dead letter is an Avro DeadLetter (schemas/deadletter): the original
// record's key and value exactly as read, its source topic, partition and
// offset, the stage that gave up on it, why, and when. A dead letter is
// named by its own position on logs.dlq, "PARTITION/OFFSET" (ID).
//
// # Reading
//
// Scan reads logs.dlq from its start, or, with Filter.Since, from the first
// offset of each partition whose record timestamp is at or after Since
// (minus a few minutes, see sinceSlack), up to the end offsets it finds when
// it starts, and then stops: dead letters written meanwhile are not read.
// It reads with isolation read_committed, since the errorrate stage's
// combine hop writes its dead letters in Kafka transactions: dead letters of
// aborted transactions were never dead letters. It never joins a consumer
// group or commits. A record on logs.dlq that is not a DeadLetter this build
// can decode is reported (Summary.Undecodable), not fatal.
//
// # Replaying
//
// Replay writes the original value of each selected dead letter to its
// source topic (or ReplayConfig.To), with its original key (the DeadLetter
// keeps it; a null key is written as none, as it was read), placed by key
// as goka places keys (topology.Partitioner), with the dead letter's time
// as the record timestamp, and with two headers:
//
//	ls-dlq-replay: logs.dlq/P/O        the dead letter
//	ls-dlq-source: <topic>/<p>/<o>     the record it kept
//
// Why the dead letter's time as timestamp: the parse stage takes a line's
// event time from the line, else from the RawLog's received_at, else from
// the record timestamp, and the event id is a hash of host, source, event
// time and line (processors/parse.EventID) unless the line carries its own
// id. A fixed timestamp gives every replay of a dead letter the same event
// time and id, and an old line counts as old, not as traffic of the minute
// it was replayed in (it must not move current error-rate windows).
//
// # No duplicates on a second replay
//
// Same event id is not enough. dedupe drops a repeat of an id only while it
// remembers the id: for its TTL (10 minutes by default) of event time after
// the event, on the watermark. Dead letters are usually older than that when
// they are replayed, so their ids expire as soon as the first replay is
// through, and a second replay would pass dedupe again. So Replay remembers
// what it replayed in the target topic itself: before it writes anything it
// reads the target topic from the earliest selected dead letter's time
// (minus a few minutes of clock skew) to its end, and skips every dead
// letter whose source record already appears there in an ls-dlq-source
// header. Dead letters of one source record (a stage may dead-letter a
// record twice: dead letters are at least once) are replayed once, the
// earliest. A replay stopped midway (a crash, ^C) can be run again: what
// reached the topic is found and skipped, and the idempotent producer does
// not write a record twice on retries.
//
// Limits of that guarantee:
//   - it lasts as long as the replayed records stay on the target topic
//     (retention): once they are deleted, a dead letter can be replayed
//     again;
//   - two replays that run at the same time do not see each other;
//   - each target topic is searched on its own: a dead letter replayed to
//     its source and later with --to another topic is written to both;
//   - a replayed record that fails again becomes a new dead letter, whose
//     source is the replayed record; replaying that one tries again (no
//     duplicate: the first try produced nothing downstream);
//   - a topic that several stages read (logs.unique: the join and
//     errorrate's combine hop) gives the replayed record to all of them,
//     including one that had read the original (Readers names them).
//
// Within one partition of logs.dlq, dead letters are replayed in order, so
// one host's lines (one key, one partition) keep their order.
package dlq
