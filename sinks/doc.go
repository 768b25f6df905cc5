// Package sinks is what the sink writers (sinks/s3, sinks/openobserve)
// share: a Runner that consumes topics as one member of a consumer group,
// drives one PartitionWriter per assigned partition, guards the store with
// a circuit breaker, and commits an offset only when the writer reports
// every record before it stored or dead-lettered; and the Decoder that
// turns records into documents.
//
// Input: the topics of Config.Topics (topology.SinkTopics by default).
// Output: the store, and logs.dlq for the records that can never be
// stored, with stage "sink-<name>".
//
// Bad input: every writer decodes with Decoder.Decode, the one place where
// a record is checked against its topic. The codecs name the record a
// value holds (by single-object fingerprint or Confluent schema id), and
// it must be the one its topic carries (topology.ValueRecord; on a topic
// that is not the pipeline's, a LogEvent, an Alert or a HostWindow). A
// tombstone ("null value (tombstone)"), a value that is not Avro, a record
// of another type, an unknown schema or bytes that do not decode is a
// *RecordError: the writer sends the record to the dead-letter topic with
// the reason, the Runner counts it in logstream_sink_rejected_records_total
// by reason, and the record counts as done, so the offset moves past it.
// It is never written to the store.
package sinks
