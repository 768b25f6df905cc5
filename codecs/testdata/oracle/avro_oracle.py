#!/usr/bin/env python3
"""Apache Avro's Python library (the `avro` module, 1.11) as an oracle for
logstream's codecs; oracle_python_test.go runs it.

    avro_oracle.py MANIFEST RESULTS

MANIFEST is a JSON object {"jobs": [...]}; each job is one of

    {"id": ..., "op": "read", "writer": FILE, "reader": FILE, "data": FILE}
        DATA is one record in single-object encoding (C3 01, the writer
        schema's CRC-64-AVRO fingerprint, little-endian, then the body).
        The header is checked against the writer schema, the body decoded
        with avro.io.DatumReader(writer, reader).

    {"id": ..., "op": "write", "writer": FILE, "datum": TAGGED, "out": FILE,
     "plain": BOOL}
        DATUM is written with avro.io.DatumWriter(writer) in single-object
        encoding to OUT, under the fingerprint the library's canonical form
        gives. With "plain", unions are left to the library to choose;
        otherwise each union value names its branch.

    {"id": ..., "op": "compat", "writer": FILE, "reader": FILE}
        The library's static check, avro.compatibility (a port of Java's
        SchemaCompatibility): "compatible" and "rules", the kinds of
        incompatibility in Confluent's spelling (TYPE_MISMATCH, ...).

FILE values are schema (.avsc) or data paths. RESULTS gets a JSON list, one
object per job: {"id", "ok", "error", "value" (TAGGED), "fp_header",
"fp_spec", "fp_library"} (fingerprints as 16 hex digits; "fp_library" from
the library's own canonical form), and "compatible", "rules" for compat.

TAGGED values keep what JSON would lose: null, true/false as themselves;
{"int": "123"}, {"float": "1.5" | "nan" | "inf"}, {"str": s},
{"bytes": hex}, {"ts_us": "micros since the epoch"}, {"date_days": "days since
the epoch"}, {"time_us": "micros since midnight"}, {"list": [...]},
{"dict": {...}} (records and maps), {"union": branch name, "v": TAGGED}.
"""

import datetime
import io
import json
import struct
import sys

import avro.compatibility
import avro.io
import avro.schema

# CRC-64-AVRO, as the specification's "Schema Fingerprints" defines it.
_EMPTY = 0xC15D213AA4D7A795
_TABLE = []
for _i in range(256):
    _fp = _i
    for _ in range(8):
        _fp = (_fp >> 1) ^ (_EMPTY & -(_fp & 1))
    _TABLE.append(_fp)


def crc64_avro(data):
    fp = _EMPTY
    for b in data:
        fp = (fp >> 8) ^ _TABLE[(fp ^ b) & 0xFF]
    return fp


_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def canonical_form(schema_json):
    """The specification's Parsing Canonical Form of a schema (JSON value).

    Written out here because avro 1.11's own Schema.canonical_form (like
    goavro's, whose fingerprints logstream writes) keeps a primitive with a
    logical type as {"type":"long"}, where [PRIMITIVES] asks for "long" and
    Apache Avro Java writes "long"; the two fingerprints of such a schema
    differ. Both are reported: fp_spec from this, fp_library from avro's.
    """

    def full(name, ns):
        if "." in name or not ns:
            return name
        return ns + "." + name

    def pcf(s, ns):
        if isinstance(s, str):
            return s if s in _PRIMITIVES else full(s, ns)
        if isinstance(s, list):
            return [pcf(b, ns) for b in s]
        t = s["type"]
        if t in ("record", "error", "enum", "fixed"):
            name = full(s["name"], s.get("namespace", ns))
            ns = name.rsplit(".", 1)[0] if "." in name else ""
            out = {"name": name, "type": "record" if t == "error" else t}
            if t in ("record", "error"):
                out["fields"] = [{"name": f["name"], "type": pcf(f["type"], ns)} for f in s["fields"]]
            elif t == "enum":
                out["symbols"] = s["symbols"]
            else:
                out["size"] = s["size"]
            return out
        if t == "array":
            return {"type": "array", "items": pcf(s["items"], ns)}
        if t == "map":
            return {"type": "map", "values": pcf(s["values"], ns)}
        return pcf(t, ns)  # a primitive, maybe with a logical type

    return json.dumps(pcf(schema_json, ""), separators=(",", ":"), ensure_ascii=False)


def branch_name(s):
    """A union branch's name as goavro and logstream name it."""
    if isinstance(s, avro.schema.NamedSchema):
        return s.fullname
    logical = getattr(s, "logical_type", None)
    return s.type + ("." + logical if logical else "")


class Tagged:
    """A union value with the name of its branch."""

    __slots__ = ("name", "value")

    def __init__(self, name, value):
        self.name = name
        self.value = value


class TaggingReader(avro.io.DatumReader):
    """DatumReader that remembers which reader union branch each value took.

    The branch is chosen exactly as the library's read_data chooses it (the
    first reader branch that matches); only the choice is recorded.
    """

    def read_data(self, writers_schema, readers_schema, decoder):
        if isinstance(readers_schema, avro.schema.UnionSchema):
            if isinstance(writers_schema, avro.schema.UnionSchema):
                index = int(decoder.read_long())
                if not 0 <= index < len(writers_schema.schemas):
                    raise avro.errors.SchemaResolutionException("union branch %d out of range" % index)
                writers_schema = writers_schema.schemas[index]
            for s in readers_schema.schemas:
                if s.match(writers_schema):
                    value = super().read_data(writers_schema, s, decoder)
                    return None if s.type == "null" else Tagged(branch_name(s), value)
            raise avro.errors.SchemaResolutionException("Schemas do not match.", writers_schema, readers_schema)
        return super().read_data(writers_schema, readers_schema, decoder)

    def _read_default_value(self, field_schema, default_value):
        if isinstance(field_schema, avro.schema.UnionSchema):
            first = field_schema.schemas[0]
            value = self._read_default_value(first, default_value)
            return None if first.type == "null" else Tagged(branch_name(first), value)
        return super()._read_default_value(field_schema, default_value)


class TaggedWriter(avro.io.DatumWriter):
    """DatumWriter that takes each union value's branch from its tag."""

    def write(self, datum, encoder):
        # The library's validate() knows nothing of Tagged; write_data
        # checks every value against its schema as it writes.
        self.write_data(self.writers_schema, datum, encoder)

    def write_union(self, writers_schema, datum, encoder):
        for index, s in enumerate(writers_schema.schemas):
            if datum is None and s.type == "null":
                encoder.write_long(index)
                return
            if isinstance(datum, Tagged) and branch_name(s) == datum.name:
                encoder.write_long(index)
                self.write_data(s, datum.value, encoder)
                return
        raise avro.errors.AvroTypeException(writers_schema, datum)


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def tag(v):
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, Tagged):
        return {"union": v.name, "v": tag(v.value)}
    if isinstance(v, int):
        return {"int": str(v)}
    if isinstance(v, float):
        return {"float": repr(v)}
    if isinstance(v, str):
        return {"str": v}
    if isinstance(v, bytes):
        return {"bytes": v.hex()}
    if isinstance(v, datetime.datetime):
        return {"ts_us": str((v - _EPOCH) // datetime.timedelta(microseconds=1))}
    if isinstance(v, datetime.date):
        return {"date_days": str((v - _EPOCH.date()).days)}
    if isinstance(v, datetime.time):
        return {"time_us": str(((v.hour * 60 + v.minute) * 60 + v.second) * 1000000 + v.microsecond)}
    if isinstance(v, list):
        return {"list": [tag(x) for x in v]}
    if isinstance(v, dict):
        return {"dict": {k: tag(x) for k, x in v.items()}}
    raise TypeError("cannot tag %r" % (v,))


def untag(v, plain):
    if v is None or isinstance(v, bool):
        return v
    if "union" in v:
        inner = untag(v["v"], plain)
        return inner if plain else Tagged(v["union"], inner)
    ((key, x),) = v.items()
    if key == "int":
        return int(x)
    if key == "float":
        return float(x)
    if key == "str":
        return x
    if key == "bytes":
        return bytes.fromhex(x)
    if key == "ts_us":
        return _EPOCH + datetime.timedelta(microseconds=int(x))
    if key == "date_days":
        return _EPOCH.date() + datetime.timedelta(days=int(x))
    if key == "time_us":
        return (datetime.datetime.min + datetime.timedelta(microseconds=int(x))).time()
    if key == "list":
        return [untag(y, plain) for y in x]
    if key == "dict":
        return {k: untag(y, plain) for k, y in x.items()}
    raise ValueError("bad tagged value %r" % (v,))


def load_schema(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return json.loads(text), avro.schema.parse(text)


def fingerprints(schema_json, schema):
    spec = crc64_avro(canonical_form(schema_json).encode("utf-8"))
    library = crc64_avro(schema.canonical_form.encode("utf-8"))
    return "%016x" % spec, "%016x" % library


def read_job(job, result):
    writer_json, writer = load_schema(job["writer"])
    _, reader = load_schema(job["reader"])
    result["fp_spec"], result["fp_library"] = fingerprints(writer_json, writer)
    with open(job["data"], "rb") as f:
        data = f.read()
    if len(data) < 10 or data[:2] != b"\xc3\x01":
        raise ValueError("not single-object encoding: %s" % data[:10].hex())
    result["fp_header"] = "%016x" % struct.unpack("<Q", data[2:10])[0]
    body = io.BytesIO(data[10:])
    value = TaggingReader(writer, reader).read(avro.io.BinaryDecoder(body))
    if body.tell() != len(data) - 10:
        raise ValueError("%d bytes left after the record" % (len(data) - 10 - body.tell()))
    result["value"] = tag(value)


def write_job(job, result):
    writer_json, writer = load_schema(job["writer"])
    result["fp_spec"], result["fp_library"] = fingerprints(writer_json, writer)
    plain = job.get("plain", False)
    datum = untag(job["datum"], plain)
    buf = io.BytesIO()
    # The library's fingerprint, as a producer using this library writes it.
    buf.write(b"\xc3\x01" + struct.pack("<Q", int(result["fp_library"], 16)))
    cls = avro.io.DatumWriter if plain else TaggedWriter
    cls(writer).write(datum, avro.io.BinaryEncoder(buf))
    with open(job["out"], "wb") as f:
        f.write(buf.getvalue())


def compat_job(job, result):
    _, writer = load_schema(job["writer"])
    _, reader = load_schema(job["reader"])
    checker = avro.compatibility.ReaderWriterCompatibilityChecker()
    r = checker.get_compatibility(reader, writer)
    result["compatible"] = r.compatibility is avro.compatibility.SchemaCompatibilityType.compatible
    result["rules"] = sorted({t.value.upper() for t in r.incompatibilities})


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        manifest = json.load(f)
    results = []
    for job in manifest["jobs"]:
        result = {"id": job["id"], "ok": False}
        try:
            {"read": read_job, "write": write_job, "compat": compat_job}[job["op"]](job, result)
            result["ok"] = True
        except Exception as e:  # reported per job; Go decides what is expected
            result["error"] = "%s: %s" % (type(e).__name__, e)
        results.append(result)
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(results, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
