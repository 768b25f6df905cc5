"""Reads a LogEvent that logstream wrote in the Confluent wire format the way
a Python consumer would: the writer schema from logstream's registry through
confluent-kafka's SchemaRegistryClient, the body with Apache Avro's Python
implementation. Prints what it saw as one JSON object for the Go test
(registry/interop_test.go) to check.

usage: confluent_interop.py REGISTRY_URL RECORD_FILE SUBJECT
"""
import base64
import datetime
import io
import json
import struct
import sys

import avro.io
import avro.schema
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def plain(value):
    """Makes what Avro decoded JSON: timestamps as epoch milliseconds."""
    if isinstance(value, datetime.datetime):
        return (value - EPOCH) // datetime.timedelta(milliseconds=1)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode('ascii')
    raise TypeError('cannot print %r' % (value,))


def refusal(call):
    try:
        call()
    except SchemaRegistryError as e:
        return {'http_status': e.http_status_code, 'error_code': e.error_code, 'message': e.error_message}
    return None


def main():
    url, path, subject = sys.argv[1:4]
    with open(path, 'rb') as f:
        data = f.read()
    if len(data) < 5 or data[0] != 0:
        sys.exit('not the Confluent wire format: %r' % data[:5])
    schema_id = struct.unpack('>I', data[1:5])[0]

    client = SchemaRegistryClient({'url': url})
    schema = client.get_schema(schema_id)
    latest = client.get_latest_version(subject)
    found = client.lookup_schema(subject, Schema(schema.schema_str, 'AVRO'))
    # A serializer registers its schema before it writes: the registry is
    # read-only, but answers a schema it has with its id.
    registered_id = client.register_schema(subject, Schema(schema.schema_str, 'AVRO'))
    new_schema = Schema('{"type": "record", "name": "NotInSchemasDir", "fields": []}', 'AVRO')

    body = io.BytesIO(data[5:])
    reader = avro.io.DatumReader(avro.schema.parse(schema.schema_str))
    record = reader.read(avro.io.BinaryDecoder(body))

    json.dump({
        'id': schema_id,
        'schema_type': schema.schema_type,
        'latest': {'subject': latest.subject, 'version': latest.version, 'id': latest.schema_id,
                   'same_schema': latest.schema.schema_str == schema.schema_str},
        'lookup': {'subject': found.subject, 'version': found.version, 'id': found.schema_id},
        'registered_id': registered_id,
        'refused_register': refusal(lambda: client.register_schema(subject, new_schema)),
        'refused_delete': refusal(lambda: client.delete_subject(subject)),
        'unknown_id': refusal(lambda: client.get_schema(999999)),
        'subjects': client.get_subjects(),
        'versions': client.get_versions(subject),
        'compatibility': client.get_compatibility(subject),
        'unread_bytes': len(data) - 5 - body.tell(),
        'record': record,
    }, sys.stdout, default=plain, sort_keys=True)


if __name__ == '__main__':
    main()
