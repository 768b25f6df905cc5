// Package parse is the parse stage: it turns raw log lines into LogEvents.
//
// Input: logs.raw, keyed by host. A value that starts with the Avro
// single-object marker (C3 01) is a RawLog written by `logstream ingest`;
// any other value is a plain text line written by a shipper (Fluent Bit,
// Vector, kcat...), whose record key, when present, names the host. And
// parse-loop, the stage's own loop: records whose key a shipper placed on
// another partition than goka would, under a home key of the partition
// they came from (rehome.go), so that their host's lines are joined too.
//
// Output: logs.parsed, one LogEvent per event (a line, or a line and the
// stack trace that followed it), keyed by event_id; logs.dlq, one
// DeadLetter per record that cannot be decoded at all.
//
// Group table: parse-table, keyed by host (or home key): CRI partial lines
// (flag P) are held there until the part flagged F arrives, so a line that
// the container runtime split is emitted once, whole; and multi-line
// events (multiline.go): a line a stack trace may follow is held until
// the host's next line on its source, continuation lines (Java frames,
// Caused by, Python tracebacks, Go goroutine dumps) are joined to it, and
// the event carries them in message and stack. A sweep (state.Sweeper,
// wall clock) emits what has waited Config.HoldIdle without its next line.
// The table holds only unfinished lines, so it stays small; while a line
// is held, its partition's event-time stamps do not pass its time.
//
// Masking (masking.go, package mask): card numbers, and configured
// patterns, are masked in every event (message, stack, labels,
// parse_error; LogEvent.masked counts them), in the lines held in the
// table and in dead letters; the event id is computed over the masked line.
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
//   - a CRI partial line whose key is empty, or names another host than
//     its Avro RawLog does: its state could not be kept with its key, so
//     the part is emitted on its own with the label cri_partial=true
//     rather than joined (a key that hashes to another partition is
//     rehomed, not refused);
//   - a partial line that grows beyond MaxPartialBytes is emitted as it
//     stands, with the label cri_truncated=true; one whose end never
//     comes, after HoldIdle;
//   - a stack trace beyond MaxStackLines or MaxStackBytes: the event
//     leaves with the label multiline_truncated=true, the next lines on
//     their own.
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
// replayed partial part or continuation line is not appended twice (each
// held line remembers the last offset it applied), and a held line
// emitted by a sweep goes in two visits (mark, then emit) so that a crash
// in between emits the same event again, never a different one.
package parse
