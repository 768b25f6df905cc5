// Package ingest is `logstream ingest [FILE...|-]`: it reads log lines from
// files or stdin and produces one schemas.RawLog per line to the raw topic,
// keyed by host so that one host's lines stay in order.
//
// Lines: a line ends at "\n"; a "\r" before it is dropped (CRLF input), and
// a last line without a newline is still a line. Empty lines are skipped and
// counted in Summary.Skipped. A line longer than Config.MaxLineBytes is cut
// there (on a UTF-8 rune boundary), carries the label truncated=true, and
// the rest of it up to the newline is discarded. Line text is otherwise
// passed on as read.
//
// Host: Config.Host when set; otherwise the host Config.HostOf finds in the
// line; otherwise this machine's hostname. The host is also the record key.
// Source: the file path as given on the command line, or "stdin".
//
// Production is asynchronous (kgo Produce with a promise); every record is
// flushed before Run returns, and Summary counts acknowledged and failed
// records. Per-key order is the client's: records of one key go to one
// partition and franz-go keeps produce order per partition. Callers that
// feed a goka stage configure the client with topology.Partitioner().
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
// Cancelling ctx (SIGINT) stops reading; the lines already read are produced
// and flushed (for at most Config.FlushTimeout) and Run returns the summary
// with a nil error. A read blocked on stdin cannot be interrupted: Run waits
// for it briefly and then returns without it.
package ingest
