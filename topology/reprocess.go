package topology

// ReprocessEffects says what reading records again means for a group of
// the pipeline: its delivery guarantee and its state, when its committed
// offsets are moved back (`logstream reprocess`). "" for a group that is
// not the pipeline's.
//
// The texts follow the packages' documentation (processors/*/doc.go,
// processors/exactlyonce, paging, sinks/s3, sinks/openobserve); change
// them together.
func ReprocessEffects(group string) string {
	return reprocessEffects[group]
}

var reprocessEffects = map[string]string{
	GroupParse: `parse is at least once and has no fence: every line read again is parsed and
written to logs.parsed again, and its dead letters again. An event keeps its
event_id (the producer's id, else a hash of host, source, event time and
line), so dedupe drops the repeats whose ids it still holds: those within
--dedupe-ttl of event time behind dedupe's watermark. Older ones have expired
there: dedupe counts them late and passes them again, so they reach
logs.unique, the trace join, the sinks and errorrate a second time (errorrate
counts them as late: closed windows are final and are not re-emitted). A line
whose host, source or event time is parsed differently now (a fixed parser)
gets a new id and passes dedupe as a new event. A CRI partial line is not
appended twice to a line still pending.`,

	GroupSpans: `spans is at least once and has no fence: every OTLP message read again is
decoded and its spans are written to the spans topic again, with the same
trace and span ids, and its dead letters again. The trace join keeps a
trace's spans by span id, so a repeated span replaces itself while its
trace's state lives (one --join-window after the trace's last activity).`,

	GroupDedupe: `dedupe has exactly-once output through its fence on logs.unique: the last
record it wrote to each partition names the logs.parsed offset it came from,
and every emit of a record at or before that offset is suppressed. So the
offsets dedupe already handled write nothing to logs.unique again, whatever
its table holds: an id still in dedupe-table (within --dedupe-ttl) is
recognised as the first occurrence or the repeat it was; an id that expired
is stored again as first seen (its emit suppressed) and is deleted by a
later sweep, its event time being past the TTL. Records after the last
landed offset are processed as new. Two exceptions: dead letters are written
again, and an event that came on a partition its id does not hash to is
routed through dedupe-loop again, where it passes to logs.unique a second
time if its id expired. To feed the stages after dedupe again, reprocess
them, not dedupe.`,

	GroupTraceJoin: `tracejoin has exactly-once output through its fence on logs.enriched: an
event without a trace id (no_trace) read again is not written again, and a
trace's state in tracejoin-table skips the records it already applied. But
every event with a trace id is re-keyed through tracejoin-loop again (the
re-keying is at least once, with new offsets): while its trace's state lives
(one --join-window after the trace's last activity) the event is recognised
by its id and dropped; if the trace was closed, the event is held anew and
leaves logs.enriched a second time, late, so at once: joined if its span was
read again before it, else unenriched (timeout). Spans read again replace
themselves. Dead letters are written again.`,

	GroupErrorRateCombine: `errorrate-combine applies each transaction once, but it keeps no record of
what it counted before: every event read again from logs.unique is counted
again. In the errorrate stage, counts for a window that has closed are late
(logstream_errorrate_late_events_total): counted, never added; closed
windows are final and are not re-emitted. Counts for a window still open
(within the window and --grace of the watermark) are added a second time,
and reach the alerter's rates. Sample traces read again from logs.enriched
are added again likewise. Reset this group only to a time whose windows
have closed, or accept double counts in the open ones.`,

	GroupErrorRate: `errorrate (the windows hop) has exactly-once effects: its state, one per
partition in errorrate-table, holds the last offset of errorrate-partials
applied, so a partial read again changes nothing. What a replayed partial
wrote is sent again only while it is kept for replays (records are pruned
once their input is committed, so after a reset mostly nothing is), through
the fence on hosts.error-rate, which suppresses windows that landed; the
alerter applies a window update once, by its per-partition sequence
number. Closed windows are never re-emitted. Reprocessing this group changes
nothing downstream; to count events again, reprocess errorrate-combine.`,

	GroupAlerter: `alerter has exactly-once effects: alerter-table holds the last offset of
hosts.window-updates applied and each errorrate partition's last update
sequence, so an update read again is not applied again; the alerts a
replayed record wrote are rewritten from state through the fence on the
alerts topic, which suppresses those that landed. No incident fires or
resolves twice. Reprocessing this group changes nothing.`,

	GroupPage: `page delivers at least once: every alert read again is delivered again to
every target, in order, each FIRING followed by its RESOLVED. Alertmanager
updates the alert with the same labels and PagerDuty folds events by
dedup_key; the webhook carries the record's id in Idempotency-Key for the
receiver to drop repeats. A target may still notify again for an incident
that had resolved, until the replayed RESOLVED follows its FIRING.
page-table (the open incidents page re-sends to Alertmanager) follows what
page handles, so records read again leave it right. Offsets moved forward
past an incident's RESOLVED leave the incident open there: page re-sends it
to Alertmanager for as long as the pipeline runs. Move them to before that
RESOLVED instead, or end the incident by writing a tombstone for its
dedup_key to page-table, on the partition of alerts it came from.`,

	GroupSinkS3: `sink-s3 keeps one chain of objects per partition, each object keyed by its
first offset. From an offset where an object starts, the writer finds that
object in its way (--s3-mode conditional: 412, then it reads the object's
end offset and goes on after it; deterministic: it writes the same object
again, with the same bytes): nothing is stored twice. From an offset inside
an object, the first object written starts there, under a new key: the
records from there to the end of the existing object are then in the bucket
twice. Use --from-offset with an object's start offset (the 20 digits at the
end of its key) to avoid that.`,

	GroupSinkOpenObserve: `sink-openobserve stores each record once by searching before it sends: a new
writer's first flush searches which offsets from its first record on are
stored (over the record times OpenObserve accepts) and never sends those; a
record OpenObserve refuses as too old is searched for once more, then
dead-lettered if it is not there. So records read again are not stored
twice. The takeover search reads the partition's offsets over hours of the
stream: a reset far back costs one slow search per partition.`,
}
