// Package registry serves logstream's schemas over the Confluent Schema
// Registry REST API, read-only, and reads schemas from any such registry.
//
// # Server
//
// NewHandler serves a schemas.Catalog (the schemas/ directory) to tools
// that speak Confluent's API, such as Confluent's serializers and
// deserializers and the confluent-kafka clients, so that they can read
// what logstream writes. Serve runs it; `logstream registry` does.
//
// What it guarantees:
//
//   - Schema ids are the ids in schemas/manifest.json. An id names one
//     version of one record forever, in every deployment, and it is the id
//     logstream writes in the Confluent wire format (a zero byte, the id as
//     4 bytes big-endian, the Avro body).
//   - Subjects follow Confluent's TopicNameStrategy: "<topic>-value" for
//     every topic of the topology whose values are a record of the catalog
//     (Subjects). A subject's versions are the record's files, v1.avsc,
//     v2.avsc, ..., numbered the same.
//   - A schema is served as its .avsc text compacted to one line: its
//     CRC-64-AVRO fingerprint is the catalog's (NewHandler checks it).
//   - A subject's compatibility level (GET /config/{subject}) is its
//     record's mode: the record's compatibility file, else FULL_TRANSITIVE,
//     which is also the global level (GET /config).
//   - Every response, errors included, has Content-Type ContentType, and
//     errors are Confluent's {"error_code": N, "message": "..."} with
//     Confluent's codes: 40401 subject, 40402 version, 40403 schema not
//     found, 42202 invalid version; 404 and 405 for a path or method the
//     API does not have.
//   - It is read-only (GET /mode answers READONLY). Registering a new
//     schema, deleting, and changing a compatibility level or the mode are
//     refused with 422 and error code 42205: schemas/ in the repository is
//     the source of truth, and a schema evolves by adding a version there
//     (checked by `logstream schemas check`) and deploying. As in
//     Confluent's registry in READONLY mode, registering a schema that
//     already is a version of the subject answers its id, so serializers
//     that register before they write work unchanged.
//   - POST /compatibility/subjects/{subject}/versions[/{version}] tests a
//     candidate schema under the record's mode, with the same rules as
//     `logstream schemas check` (codecs.Compatibility); ?verbose=true lists
//     what breaks.
//
// What it does not do: key subjects (logstream's keys are plain strings),
// schema types other than Avro, schema references, contexts, deleted
// versions, and authentication or TLS (put a proxy in front when it needs
// them).
//
// # Client
//
// Client reads schemas from a Confluent-compatible registry and implements
// codecs.SchemaSource, so that codecs can decode records written with a
// schema this binary does not have (by a newer pod during a rolling deploy,
// or by another producer): by id (GET /schemas/ids/{id}, cached forever,
// since an id never changes meaning) and by CRC-64-AVRO fingerprint, which
// the API has no lookup for: the Client indexes every version of every
// subject (under its fingerprint and its legacy one, schemas.Fingerprint
// and schemas.LegacyFingerprint, since records written before logstream
// followed the specification carry the latter), and lists the registry
// again for an unknown fingerprint at most once per MinRefresh. Not-found errors wrap codecs.ErrSchemaNotFound;
// error responses are *Error.
package registry
