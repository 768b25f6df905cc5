// Package spans is the adapter from the OpenTelemetry Collector's Kafka
// exporter to logstream's spans topic.
//
// The Collector's kafkaexporter, with encoding otlp_proto, writes each
// export as one Kafka message: a protobuf ExportTraceServiceRequest, whose
// wire format is that of TracesData (field 1, repeated ResourceSpans). The
// stage reads those messages as bytes, decodes them with FromOTLP and emits
// one Avro Span per OTLP span on the spans topic, which the trace-join stage
// reads. ToOTLP is the inverse, for tests, the demo's load generator and the
// benchmarks.
//
// # Mapping
//
//	trace_id        32 lowercase hex digits of the 16 bytes
//	span_id         16 lowercase hex digits of the 8 bytes
//	parent_span_id  null when absent or all zeros
//	service         resource attribute service.name, else "unknown_service"
//	host            resource attribute host.name, else ""
//	operation       the span's name
//	start           start_time_unix_nano / 1000 (µs)
//	duration_us     (end - start) / 1000; 0 when the span ends before it
//	                starts (counted in Stats.NegativeDurations)
//	status          status.code: UNSET, OK, ERROR (a newer code is UNSET)
//	attributes      the span's attributes as strings: strings as they are,
//	                numbers and booleans as strconv writes them, bytes in
//	                base64, arrays and key-value lists as JSON; the status
//	                message, when there is one, as otel.status_description
//
// Other resource attributes, scopes, events and links are not kept.
//
// # Keys
//
// The input's key is whatever the exporter wrote (nothing by default, the
// trace id with partition_traces_by_id); the output's key is always the
// span's trace id, so that a trace's spans meet its logs in the trace-join
// stage. The key changes (none → trace id): the spans topic is the
// repartition.
//
// # Ordering
//
// The spans of one message go out in the message's order, so the spans of
// one trace keep their order within a message. Across messages the order is
// only the per-partition order of the input topic: two messages on
// different input partitions may have their spans of one trace interleaved
// in any order on the output partition of that trace.
//
// # Progress (watermark records)
//
// The stage follows each input partition it owns (watermark.Origins): how
// far it has been read, as the latest span end read there. After a
// message's spans it writes that progress, as a watermark record (header
// ls-kind "wm", the stamp in ls-wm, keyed to land on one partition), to
// every partition of the spans topic that has not heard it for a second
// of event time, and a Punctuator declares idle the input partitions that
// are caught up and quiet. The trace join holds its event time at the
// slowest of them, so that in a backlog an event does not time out while
// its span is still queued behind another input partition's (see
// processors/tracejoin). Readers of the spans topic skip watermark
// records, as on every stamped topic.
//
// # Delivery
//
// Output is at least once, like every goka stage: a crash after some emits
// and before the input offset is committed replays the message, and its
// spans are emitted again (with the same ids). The trace-join stage keys a
// trace's spans by span id, so a repeated span replaces itself and is
// harmless. A dead letter can likewise be written twice for one message;
// it carries the message's topic, partition and offset, which identify it.
//
// # Nothing lost silently
//
// A message that is not an OTLP trace export (protobuf that does not parse,
// fields the request does not have, no resource spans), or that holds no
// span at all, becomes one dead letter with the original bytes; a
// tombstone (null value) one with the reason "null value (tombstone)"
// (deadletter.ErrTombstone) and a null value, its partition's progress
// noted as for any record. A span whose trace id is empty, not 16 bytes
// or all zeros, or whose span id is empty, not 8 bytes or all zeros, or
// whose parent span id has a wrong length, is rejected: the message gets
// one dead letter (stage "spans", the original bytes) whose reason names
// every rejected span by index, name and reason, while its good spans
// still go out.
package spans
