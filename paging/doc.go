// Package paging delivers the alerter's Alert records to the systems that
// page people: Prometheus Alertmanager (API v2), PagerDuty (Events API v2)
// and any HTTP endpoint (a generic JSON webhook). `logstream page` runs it.
//
// Input topic: alerts (topology.TopicAlerts), Avro Alert records keyed by
// fleet, one FIRING and one RESOLVED per incident, in order per partition.
// Output topic: the dead-letter topic (topology.TopicDLQ), only for records
// that are not valid Alerts. Consumer group: page (topology.GroupPage), a
// franz-go group consumer, not a goka processor. Table: page-table
// (topology.TableTopic(GroupPage)), compacted, partition for partition
// with alerts: the open incidents (below). Members split the partitions;
// records are delivered one at a time, in offset order, to every target at
// once.
//
// Delivery is at least once. A record's offset is marked and committed
// only after every target accepted it (or refused it for good, below) and
// the table recorded it; a crash, a shutdown during a retry, or a
// rebalance before the commit makes the next member deliver it again.
// Duplicates are harmless: Alertmanager identifies an alert by its label
// set, which depends only on fields equal in every delivery of an incident
// (so a repeat updates the same alert), PagerDuty folds events with the
// same dedup_key into one incident, and the webhook carries the record's
// stable id in an Idempotency-Key header for the receiver to drop repeats.
//
// Re-sends. Alertmanager resolves an alert by itself at its endsAt, so a
// FIRING alert is posted with endsAt only ResendsPerFiringFor (4) re-send
// intervals ahead and, like Prometheus's, posted again every
// ConsumerConfig.ResendInterval (a minute by default) while its incident
// is open; a RESOLVED record sets endsAt to the resolve time and ends it.
// Targets that need this implement Resender; PagerDuty and the webhook
// keep an incident until its RESOLVED and get each record once.
//
//   - Which incidents are open: those whose FIRING record was handled and
//     whose RESOLVED was not, per partition. The table holds them: the
//     FIRING record's value under its dedup key, on the partition the
//     record came from; the RESOLVED record writes a tombstone. A record's
//     change is written to the table before its offset is committed, so
//     the table is never behind the committed offset; ahead of it, the
//     records not yet committed are handled again and write the same.
//     It is compacted: a member reads only the incidents still open,
//     however long ago they fired, even once their FIRING record has left
//     the alerts topic by retention.
//   - After a restart or a rebalance: franz-go calls the assignment hook
//     before it fetches a partition; the member then reads the partition's
//     incidents from the table and re-sends them at once (when they were
//     last sent is not known), then every interval. A revoked or lost
//     partition's incidents are dropped: its new owner re-sends them.
//   - The guarantee: while a member of the group runs, reaches
//     Alertmanager and the pipeline runs, every open incident of its
//     partitions is re-sent at least every interval, and Alertmanager keeps
//     it active; three failed rounds in a row are tolerated before it
//     expires. A re-send that fails is not retried beyond its round; the
//     next round sends it again.
//   - The pipeline stopped: before each round the consumer asks Kafka
//     whether the alerter's consumer group (ConsumerConfig.SourceGroup)
//     has a member. While it has none, nothing is re-sent, so the stopped
//     pipeline's alerts expire within 4 intervals, as Prometheus's do when
//     Prometheus stops; they come back at the next round once it runs
//     again. When Kafka cannot tell, the round re-sends: better a page
//     that lasts a round too long than one that expires while it is open.
//     logstream_page_pipeline_up shows which.
//   - Order: a RESOLVED record takes its incident out of the re-sends
//     before its delivery, and a target's deliveries and re-sends take
//     one lock, so no re-sent FIRING reaches a target after the RESOLVED.
//   - An alert the target refused for good is not re-sent to it.
//   - The table is only as right as the group's offsets: offsets moved
//     forward past an incident's RESOLVED (`logstream reprocess`) leave
//     the incident open in the table, re-sent for as long as the pipeline
//     runs. A tombstone for its dedup key on its partition ends it.
//
// Errors. Network errors, 408, 429 and 5xx answers are retried with
// exponential backoff and jitter (200 ms doubling up to 30 s by default,
// see Retry) for as long as it takes: a target that is down holds back
// every later alert, to every target, until it is back or the process
// stops; nothing is skipped. Any other 4xx means the target refused the
// alert and no retry can change that (a bad routing key, an alert
// Alertmanager does not validate): the consumer logs it at error level
// with the target's answer, counts it in
// logstream_page_deliveries_total{result="permanent"}, and moves on, so
// that one bad alert cannot block paging for good. Alert this metric.
// Writing the table is retried the same way; a table whose partitions
// differ from the topic's stops Run with an error that says how to fix it.
//
// Bad input. A record that does not decode as an Alert (unknown schema,
// corrupt bytes), or whose state is neither FIRING nor RESOLVED or that
// has no dedup key, or a tombstone (null value; the reason is "null value
// (tombstone)" and the dead letter's value null), is logged with its
// partition, offset and reason, counted in
// logstream_page_dead_letters_total, written to the dead-letter topic as a
// DeadLetter (stage "page") with its original key and bytes, and committed
// past. A table value that does not decode is logged at error
// level and not re-sent (its RESOLVED record is still delivered).
//
// A group without committed offsets starts at the oldest record of the
// alerts topic, so that no alert written before the first start is lost;
// on a topic with history, this delivers past incidents (each FIRING
// followed by its RESOLVED). Upgrading from a version without the table:
// the table starts empty, so incidents open at the upgrade are not
// re-sent; that version posted them with endsAt seven days ahead, and
// their RESOLVED records end them as before.
//
// Links. AlertmanagerConfig.GeneratorURL and RunbookURL are URLTemplates:
// `logstream page --generator-url` links each alert to the pipeline's
// admin query of its host (query.Path?host=...), --runbook-url adds a
// runbook_url annotation.
package paging
