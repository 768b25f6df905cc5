// Package ingest is `logstream ingest [FILE...|-]`: it reads log lines from
// files or stdin and produces one schemas.RawLog per line to the raw topic,
// keyed by host so that one host's lines stay in order.
//
// Lines: a line ends at "\n"; a "\r" before it is dropped (CRLF input), and
// a last line without a newline is still a line. Empty lines are skipped and
// counted in Summary.Skipped. Line text is otherwise passed on as read.
//
// Lines that are not UTF-8: a RawLog's line is an Avro string, which must
// be UTF-8, and the parse stage dead-letters plain values that are not, so
// such a line is not produced as a RawLog. It goes to the dead-letter topic
// (Config.DeadLetterTopic) as a DeadLetter of stage "ingest": the line's
// bytes as read, its host as key, source topic the raw topic, partition -1
// (it never reached one), offset where the line starts in its input, and a
// reason naming the line number, the input and the offset of the first
// invalid byte in the line. It counts in Summary.DeadLettered, the progress
// line and Metrics (result dead_lettered), not as failed.
//
// Long lines: the whole record must fit what the brokers accept, or the
// broker refuses it (MESSAGE_TOO_LARGE) and the line is lost. Run takes
// the record limit from Config.MaxRecordBytes, or asks the brokers
// (AskRecordLimit: max.message.bytes of the raw and dead-letter topics
// where set on the topic, else the broker's message.max.bytes, else
// Kafka's default), and bounds it by the client's own batch limit. A line
// whose record would not fit is cut, on a UTF-8 rune boundary, to what the
// record has room for once its other fields, key and a batch's overhead
// (recordOverhead) are counted; it carries the labels truncated=true and
// original_bytes=N (its length before the cut) and counts in
// Summary.Truncated. The reader keeps at most that many bytes of a line
// (or Config.MaxLineBytes when smaller) and discards the rest up to the
// newline. A dead letter is fitted the same way: it keeps the first bytes
// of the line and says how many.
//
// Host: Config.Host when set; otherwise the host Config.HostOf finds in the
// line; otherwise this machine's hostname. The host is also the record key.
// Source: the file path as given on the command line (bytes that are not
// UTF-8 replaced by U+FFFD), or "stdin".
//
// Production is asynchronous (kgo Produce with a promise); every record is
// flushed before Run returns, and Summary accounts for every line read:
// acknowledged (Records, DeadLettered), Failed, or Unacknowledged. Per-key
// order is the client's: records of one key go to one partition and
// franz-go keeps produce order per partition. Callers that feed a goka
// stage configure the client with topology.Partitioner().
//
// Files are checked before anything is produced: a missing or unreadable
// input is an error naming it. Without --follow the inputs are read one
// after another and Run returns at the end of the last one. With --follow
// every file is read from its start and then tailed like `tail -F`: at end
// of file it is polled every Config.Poll; a file whose size drops below what
// was read was truncated and is read again from its start; a path that now
// names another file (inode) was rotated, so the old file is read to its end
// and the new one from its start. A last line without a newline is held
// while the file is followed, until its newline arrives or the file is
// truncated, rotated or Run is cancelled. Stdin is read to its end and is
// not followed; with --follow, Run still returns only when ctx is cancelled.
//
// Cancelling ctx (SIGINT, SIGTERM) stops reading at once, wherever Run is:
// a read blocked on stdin is left behind (Run waits for it briefly), and a
// Produce waiting for room in the client's buffer returns when the flush
// timeout ends. The lines already read are produced and may take
// Config.FlushTimeout, counted from the cancellation, to be acknowledged;
// what is unacknowledged then is given up (Summary.Unacknowledged). Run
// then returns ErrInterrupted with the account ("1,234 lines acknowledged,
// 56 not ..."), unless --follow was set and every line read was
// acknowledged: with --follow, cancellation is how Run ends.
//
// Brokers gone: when records wait and no answer (acknowledgement or
// failure) has come for Config.DeliveryTimeout, or the client fails a
// record for a reason that is not the record's own (its delivery timeout,
// an unknown topic), Run stops reading, gives up on what waits, and
// returns ErrUndelivered naming the brokers, with the same account. This
// holds whatever the client's timeouts are; `logstream ingest` also sets
// the client's RecordDeliveryTimeout and lets it cancel records in flight.
package ingest
