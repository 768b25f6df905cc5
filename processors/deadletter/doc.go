// Package deadletter turns a record a stage cannot use into a DeadLetter on
// the dead-letter topic instead of failing: the original key and bytes,
// where they came from, the stage, and why.
//
// Who uses it: every stage in processors/ (parse, spans, dedupe, tracejoin,
// errorrate, alerter) writes its dead letters through a Writer, tombstones
// included (ErrTombstone); dedupe and tracejoin decode their Avro input
// with Decode; page's consumer (paging) gives ErrTombstone as the reason
// of the tombstones it dead-letters.
//
// Decoding. A stage that reads Avro takes its input as bytes and decodes it
// with Decode, so that a record written with a schema the stage's build does
// not know (a newer version, with no schema registry configured) or a
// malformed one becomes a dead letter whose reason names the fingerprint,
// and never stops the processor the way a failing goka codec would.
//
// Tombstones. A record with a null value on a stage's input stream is a
// dead letter too (ErrTombstone): the pipeline runs its goka processors
// with goka.NilProcess, so that goka hands such a record to the callback
// (as a nil msg, without calling the codec) instead of skipping it
// unseen, and every callback turns it away with Writer.Tombstone before
// it reads the value. NilProcess applies to a group's input streams and
// its loop topic only: the table topics (group tables, joins, lookups)
// are recovered by goka itself, where a tombstone is the delete it is
// meant to be.
package deadletter
