// Package status reads the health of a running pipeline from the brokers,
// for `logstream status`: every consumer group of the pipeline with its
// members, assigned partitions, state, committed offsets, lag per partition
// and in total, whether that lag is growing, and when a committed offset
// last moved; the dead letters of the last hour by stage and reason; the
// open alerts; and, from the sinks' metrics ports, their circuit breakers.
//
// Nothing is written: the groups are described and their offsets fetched
// with the admin API, and logs.dlq and the alerts topic are read without a
// consumer group, between offsets found at the start and capped in count.
//
// Time of the last commit. Kafka does not say when an offset was committed:
// the OffsetFetch answer carries no time, and __consumer_offsets, where the
// broker keeps it, is internal (and absent from the embedded broker). So
// Collect samples the groups several times over Config.Interval and reports,
// per group, the sample at which a committed offset last moved: "within the
// last N s", or "none moved for the N s sampled". A group that is caught up
// and idle commits nothing, so the second is healthy when its lag is 0.
//
// Growing lag. A group commits in steps (goka every second, the sinks after
// each flush), so its lag saw-tooths between commits. The lag is growing
// when its lowest total in the second half of the samples is above its
// highest in the first half: a group that keeps up comes back down to where
// it was after its next commit, one that stopped or falls behind does not.
// A group that falls behind only slightly stays within its saw-tooth over a
// short interval; a longer interval sees it.
package status
