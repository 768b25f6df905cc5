// Package tail prints the records of one Kafka topic as JSON lines, decoding
// Avro values with the schema they were written with. It is the engine of
// `logstream tail TOPIC`, the Avro-aware counterpart of kcat for operators
// debugging a topic.
//
// # Output
//
// Run writes one JSON object per record, on one line:
//
//	{"topic":"logs.parsed","partition":2,"offset":41,
//	 "timestamp":"2026-11-01T12:00:00.123Z","key":"web-1",
//	 "schema":"LogEvent v2","wire":"single-object","value":{...}}
//
// The fields:
//
//   - timestamp is the record's Kafka timestamp, RFC 3339 in UTC.
//   - key is the record key as a string, null for a null key, or key_base64
//     instead when the key is not valid UTF-8.
//   - headers, when the record has any, is a list of {"key","value"}.
//   - wire is "single-object" (C3 01 and an 8-byte fingerprint before the
//     Avro body), "confluent" (a zero byte and a 4-byte schema id) or "plain"
//     (anything else: a text line as shippers write them to logs.raw).
//   - schema names the writer schema: "LogEvent v2" for a version built into
//     this binary, else the fingerprint ("fingerprint 0123456789abcdef") or
//     the Confluent id ("id 7"), after the record name when it is known.
//   - value is the record decoded with its writer schema, so a v1 record
//     shows the fields v1 has and no others. Unions are unwrapped (a null
//     branch is null, any other branch is its value), timestamps are RFC 3339
//     strings in UTC, bytes are a string when they are valid UTF-8 and
//     {"base64":"..."} otherwise, NaN and infinite floats are the strings
//     "NaN", "Infinity" and "-Infinity", and map keys are sorted. A plain
//     value is a JSON string, or value_base64 when it is not UTF-8. A
//     tombstone (null value) is "value":null with no wire or schema.
//   - error, with value_base64 holding the raw value, replaces value when an
//     Avro value does not decode (unknown schema, truncated or malformed
//     body). wire and schema then say what the header claimed (no schema
//     when the header itself is cut short).
//
// # Guarantees
//
// Read-only: Run consumes partitions directly, without a consumer group, and
// never commits offsets, creates topics or writes to the cluster; running it
// against production topics changes nothing for the pipeline's consumers.
//
// Never stops on a bad record: a record that does not decode is printed as
// an error line, counted in Summary.Failed, and the tail goes on.
//
// Run stops when ctx is done, after Config.Max records, when every partition
// has reached the end offset it had at start (Config.ExitAtEnd), or when out
// stops taking writes because the reader went away (a closed pipe, as with
// `logstream tail ... | head`). All of these end Run with a nil error. An
// unknown topic or partition, another write error (a full disk), or a fetch
// error the client cannot recover from ends it with an error.
//
// Without Config.FromBeginning, Run starts at the end offsets it lists at
// start: every record produced after Config.OnStart is called is printed.
//
// Run reads with isolation level read_uncommitted, to show what the log
// holds: records of open or aborted transactions are printed too.
// Transaction markers are not printed.
package tail
