// Package openobserve is the sink that writes Kafka records into an
// OpenObserve logs stream, once each.
//
// Input: the records of the sink topics (LogEvent, Alert and HostWindow
// Avro records), one sinks.PartitionWriter per topic partition, driven by
// sinks.Runner. Output: one OpenObserve stream (POST
// /api/{org}/{stream}/_json, or /api/{org}/_bulk with Config.Bulk), and the
// dead-letter topic for records OpenObserve cannot store.
//
// # Documents
//
// Each record becomes the document OpenObserve would store for it: the
// record's JSON with kafka_topic, kafka_partition and kafka_offset, keys
// formatted (lowercase, characters other than lowercase letters, digits and
// "_" become "_"), objects flattened with "_" down to three levels (deeper
// ones kept as a JSON string), arrays as JSON strings, nulls and empty
// objects dropped, and _timestamp set to the record's own time in
// microseconds. Sending the stored form makes the search by field name in
// the reconciliation below exact.
//
// # Exactly once
//
// OpenObserve has no idempotent or conditional write and never removes a
// duplicate, so the writer never sends a record that may already be
// stored. It identifies records by (kafka_topic, kafka_partition,
// kafka_offset) and asks the store through its SQL search:
//
//  1. A new writer's first Flush searches which offsets at or after its
//     first record are stored, over the window of record times OpenObserve
//     accepts: a previous owner may have written any number of batches it
//     did not commit. Those records are never sent; Add recognises later
//     ones.
//  2. An answer that proves every record stored (200, successful = n,
//     failed = 0; every _bulk item 2xx) marks them written.
//  3. An answer that proves nothing was written (429 and 503, which
//     OpenObserve's circuit breakers and quotas send before writing; 400,
//     which rejects the request before writing) lets the same records be
//     sent again: after a wait, or split in halves for 400.
//  4. Every other outcome is ambiguous: a timeout or lost connection, any
//     other 5xx, a 200 whose counts do not add up to n (OpenObserve answers
//     200 with 0/0 over its column limit), a 200 with failed > 0 (which
//     records failed is not said). The records are marked unsure, and
//     before any of them is sent again a search (result cache off, trusted
//     only when is_partial is false) finds which are stored; only the
//     missing are sent. A Flush that ends early keeps that mark, so the
//     next Flush searches first.
//
// Committable is the offset after the longest run of records, from the
// start, that are stored or dead-lettered, and the runner commits only
// that: a crash at any point loses no record (it is read again) and
// duplicates none (step 1 or 4 finds it).
//
// # Refusals and dead letters
//
// A record that sinks.Decoder rejects (a tombstone, not Avro, not the
// record its topic carries, bytes that do not decode), or that has more
// fields than OpenObserve's column limit, is dead-lettered at Add. When a batch answers 200 with
// failures, the records found missing (or the _bulk items refused) are
// sent again in smaller requests, down to single records. A record
// OpenObserve refuses twice when sent alone goes to the dead-letter topic
// with OpenObserve's error text (e.g. a time more than 5 h old); refusals
// within a batch do not count, as a server in trouble can refuse records
// for no fault of theirs. A batch answered 400 is split in halves until
// the records that cause it are alone; each goes to the dead-letter topic
// with the answer's body. 401, 403 and 404 return a *sinks.Permanent error
// naming the setting to fix; the records stay buffered.
//
// Within one Flush, failed attempts are retried with backoff (Retry), at
// most Retry.Attempts times; then Flush returns the last error, so that the
// runner's circuit breaker sees it, and a later Flush resumes.
//
// # Limits
//
//   - One writer per partition. Two live writers of the same partition (a
//     member that lost its assignment but still writes) can both find a
//     record missing and both send it: OpenObserve offers nothing to fence
//     a writer with. The consumer group makes this rare (the old owner must
//     still be writing after the rebalance), not impossible. Two consumer
//     groups writing the same stream store everything twice.
//   - A request the client gave up on may still be running in OpenObserve
//     when the search runs. The writer waits Config.Settle after a request
//     that got no answer before searching; a server slower than that can
//     turn the resend into a duplicate.
//   - The search must see what was just written: OpenObserve searches its
//     ingesters' memtables, so acknowledged records are visible at once.
//   - OpenObserve answers 200 with every record counted successful even
//     when writing its WAL failed. By default that answer is believed and
//     such records are lost; Config.Verify searches every batch after its
//     answer (one more request per batch) and sends what is missing.
//   - The takeover search reads one partition's kafka_offset values over
//     hours of the stream (OpenObserve has no index on them by default): a
//     cost paid once per partition assignment, not per batch.
//   - The takeover search covers Config.IngestAllowedUpto and
//     IngestAllowedInFuture around now (and the buffered records' times):
//     set them to the server's ZO_INGEST_ALLOWED_UPTO and
//     ZO_INGEST_ALLOWED_IN_FUTURE. A record outside the window that
//     OpenObserve refuses is searched for once more before it is
//     dead-lettered, in case an owner stored it long ago.
//   - Dead letters are at least once: a record dead-lettered but not yet
//     committed before a crash is dead-lettered again by the next owner.
//   - With ZO_BULK_RESPONSE_INCLUDE_ERRORS_ONLY=true every _bulk answer
//     lacks items and is reconciled by a search: correct but slower; use
//     _json.
//
// # Tests
//
// No OpenObserve binary can be installed where this project is built; the
// tests run against o2test, an in-memory server that reproduces the
// behaviours above from OpenObserve's source, with injected faults. It
// writes requests whose client has gone, as OpenObserve does; the tests'
// client (o2test's Transport) waits after an unanswered request until the
// server is done with it, which holds the server within Settle however
// loaded the machine is.
package openobserve
