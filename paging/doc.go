// Package paging delivers the alerter's Alert records to the systems that
// page people: Prometheus Alertmanager (API v2), PagerDuty (Events API v2)
// and any HTTP endpoint (a generic JSON webhook). `logstream page` runs it.
//
// Input topic: alerts (topology.TopicAlerts), Avro Alert records keyed by
// fleet, one FIRING and one RESOLVED per incident, in order per partition.
// Output topic: the dead-letter topic (topology.TopicDLQ), only for records
// that are not valid Alerts. Consumer group: page (topology.GroupPage), a
// franz-go group consumer, not a goka processor; it keeps no table. Members
// split the partitions; records are delivered one at a time, in offset
// order, to every target at once.
//
// Delivery is at least once. A record's offset is marked and committed
// only after every target accepted it (or refused it for good, below); a
// crash, a shutdown during a retry, or a rebalance before the commit makes
// the next member deliver it again. Duplicates are harmless: Alertmanager
// identifies an alert by its label set, which depends only on fields equal
// in every delivery of an incident (so a repeat updates the same alert),
// PagerDuty folds events with the same dedup_key into one incident, and the
// webhook carries the record's stable id in an Idempotency-Key header for
// the receiver to drop repeats.
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
//
// Bad input. A record that does not decode as an Alert (unknown schema,
// corrupt bytes), or whose state is neither FIRING nor RESOLVED or that
// has no dedup key, is logged with its partition, offset and reason,
// counted in logstream_page_dead_letters_total, written to the dead-letter
// topic as a DeadLetter (stage "page") with its original key and bytes, and
// committed past.
//
// A group without committed offsets starts at the oldest record of the
// alerts topic, so that no alert written before the first start is lost;
// on a topic with history, this delivers past incidents (each FIRING
// followed by its RESOLVED).
package paging
