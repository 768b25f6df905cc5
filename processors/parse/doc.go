// Package parse is the parse stage: it turns raw log lines into LogEvents.
//
// Input: logs.raw, keyed by host. A value that starts with the Avro
// single-object marker (C3 01) is a RawLog written by `logstream ingest`;
// any other value is a plain text line written by a shipper (Fluent Bit,
// Vector, kcat...), whose record key, when present, names the host.
//
// Output: logs.parsed, one LogEvent per line, keyed by event_id; logs.dlq,
// one DeadLetter per record that cannot be decoded at all.
//
// Group table: parse-table, keyed by host: CRI partial lines (flag P) are
// held there until the part flagged F arrives, so a line that the container
// runtime split is emitted once, whole. The table holds only unfinished
// lines, so it stays small.
//
// Formats are detected per line: JSON, logfmt, Kubernetes CRI, nginx/Apache
// combined and common access logs, AWS ALB access logs, syslog RFC 3164 and
// RFC 5424, Java/logback, klog/glog (Kubernetes components, structured
// key=value pairs included) and Python logging. A line that matches none is
// not lost: it becomes a LogEvent with level UNKNOWN, the raw text as
// message and parse_error set. A line of a known format whose time is
// present but unreadable keeps its format and every other field, gets the
// time it was received, and parse_error names the field and the value.
//
// Bad input, and what happens to it:
//   - an Avro value that does not decode (unknown fingerprint, truncated,
//     not Avro): dead letter with the decode error;
//   - a plain value that is not UTF-8 text, or an empty value: dead letter
//     with the reason ("empty record: no line to parse" for an empty one);
//   - a tombstone (null value): dead letter "null value (tombstone)", with
//     a null original value (deadletter.ErrTombstone);
//   - a CRI partial line whose key is empty or does not hash to the
//     partition it was read from (a shipper that partitions differently):
//     its state could not be kept with its key, so the part is emitted on
//     its own with the label cri_partial=true rather than joined;
//   - a partial line that grows beyond MaxPartialBytes is emitted as it
//     stands, with the label cri_truncated=true.
//
// Ordering: records of one input partition are processed in order, so one
// host's lines are parsed in the order they were written. The output is
// re-keyed by event_id (dedupe's key), which spreads one host's events over
// the output partitions: their relative order is not kept downstream. Each
// event carries its own event time, which later stages use instead.
//
// Event time starts here (package watermark). Each partition of logs.raw
// is an origin whose progress is the highest event time parsed from it;
// every event written carries that progress in its ls-wm header, and an
// output partition that has not heard an origin for a second of event time
// gets a watermark-only record (header ls-kind=wm) with it, so that every
// downstream partition learns every origin's progress. An event more than
// MaxFuture (default 1 h) ahead of the wall clock is passed on but does
// not move its origin's progress; an old event moves nothing either. A
// Punctuator declares an origin idle when it is caught up and has had no
// record for the idle timeout (wall clock, default 5 s): idle origins stop
// holding the watermark back, and when every origin is idle event time
// stands still.
//
// Guarantee: at-least-once, like goka. A replayed record yields an event
// with the same event_id (the id is a hash of host, source, time and line,
// or the producer's own id), so a replay is recognisable downstream; a
// replayed partial part is not appended twice (each pending line remembers
// the last offset it applied).
package parse
