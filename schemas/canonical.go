package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/linkedin/goavro/v2"
)

// This file is the one place logstream computes schema fingerprints: the
// CRC-64-AVRO fingerprint of a schema's Parsing Canonical Form, which every
// single-object header carries and by which every reader finds the writer's
// schema. The form is built here, from the specification, rather than taken
// from goavro: goavro v2.15.0 keeps a primitive that has a logical type as
// {"type":"long"} where the specification's [PRIMITIVES] (and Apache Avro
// Java, whose BinaryMessageDecoder checks the header) reduce it to "long",
// so for every schema with a timestamp its fingerprint was not the one
// other Avro implementations compute. goavro's is kept as the legacy
// fingerprint: records written before logstream computed its own are still
// on topics, and readers accept both.

// CanonicalForm returns the Parsing Canonical Form of the Avro schema text,
// as the Avro specification defines it ("Parsing Canonical Form for
// Schemas") and Apache Avro Java's SchemaNormalization.toParsingForm writes
// it:
//
//   - [PRIMITIVES] a primitive written as an object ({"type":"long"}, with
//     or without a logicalType or other attributes) becomes its name
//     ("long");
//   - [FULLNAMES] the name of every record, enum and fixed becomes its full
//     name: a name with a dot is full already; otherwise the namespace is the
//     type's own "namespace" attribute, else that of the most tightly
//     enclosing named type (so an enum nested in a record of namespace
//     logstream is logstream.Level); references to named types are resolved
//     the same way;
//   - [STRIP] only type, name, fields, symbols, items, values and size are
//     kept (doc, aliases, default, order, namespace, logicalType, ... go);
//   - [ORDER] attributes are written in that order;
//   - [STRINGS], [INTEGERS], [WHITESPACE] strings are written unescaped,
//     integers without leading zeros, and nothing between tokens.
//
// An empty namespace is the null namespace, for the type and for what it
// encloses, as the specification says and Apache Avro Java does since 1.9
// (1.8 gave the types inside such a type the enclosing namespace; no
// logstream schema has an empty namespace). A named type's second and later
// occurrences are written as its quoted full name, as Java does. Names, namespaces and enum symbols must be valid
// Avro names (so nothing in the form needs escaping); a name used before its
// definition, a name defined twice, or anything that is no Avro schema is an
// error.
func CanonicalForm(text string) (string, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "", fmt.Errorf("schemas: canonical form: not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", errors.New("schemas: canonical form: text after the schema")
	}
	c := canonical{defined: map[string]bool{}}
	if err := c.schema(v, ""); err != nil {
		return "", fmt.Errorf("schemas: canonical form: %w", err)
	}
	return c.b.String(), nil
}

// Fingerprint returns the CRC-64-AVRO (Rabin) fingerprint of the schema's
// Parsing Canonical Form (see CanonicalForm): the fingerprint logstream
// writes in single-object headers, and the one Apache Avro Java's
// SchemaNormalization.parsingFingerprint64 computes.
func Fingerprint(text string) (uint64, error) {
	form, err := CanonicalForm(text)
	if err != nil {
		return 0, err
	}
	return CRC64Avro([]byte(form)), nil
}

// LegacyFingerprint returns the fingerprint logstream wrote before it
// followed the specification: goavro's, the CRC-64-AVRO of goavro v2.15.0's
// canonical form, which keeps a primitive with a logical type as
// {"type":"long"}. It equals Fingerprint for a schema without logical
// types. Records of every earlier logstream carry it (as do records Apache
// Avro Python 1.11 writes, whose canonical form does the same), so readers
// accept it beside Fingerprint; nothing writes it any more.
func LegacyFingerprint(text string) (uint64, error) {
	c, err := goavro.NewCodec(text)
	if err != nil {
		return 0, fmt.Errorf("schemas: legacy fingerprint: %w", err)
	}
	return c.Rabin, nil
}

// crc64Empty is the specification's fingerprint of the empty string, the
// CRC-64-AVRO polynomial.
const crc64Empty = 0xc15d213aa4d7a795

var crc64Table = func() (t [256]uint64) {
	for i := range t {
		fp := uint64(i)
		for range 8 {
			fp = (fp >> 1) ^ (crc64Empty & -(fp & 1))
		}
		t[i] = fp
	}
	return t
}()

// CRC64Avro is the specification's 64-bit Rabin fingerprint ("Schema
// Fingerprints", CRC-64-AVRO) of b.
func CRC64Avro(b []byte) uint64 {
	fp := uint64(crc64Empty)
	for _, c := range b {
		fp = (fp >> 8) ^ crc64Table[byte(fp)^c]
	}
	return fp
}

// primitives are the primitive type names; they have no namespace.
var primitives = map[string]bool{
	"null": true, "boolean": true, "int": true, "long": true,
	"float": true, "double": true, "bytes": true, "string": true,
}

// canonical writes the canonical form of one schema.
type canonical struct {
	b bytes.Buffer
	// defined holds the full names of the named types written so far: a
	// later occurrence is written as the name alone.
	defined map[string]bool
}

// schema writes v, a schema as encoding/json decoded it, whose enclosing
// namespace is ns ("" for the null namespace).
func (c *canonical) schema(v any, ns string) error {
	switch s := v.(type) {
	case string:
		return c.ref(s, ns)
	case []any: // a union
		c.b.WriteByte('[')
		for i, branch := range s {
			if i > 0 {
				c.b.WriteByte(',')
			}
			if err := c.schema(branch, ns); err != nil {
				return err
			}
		}
		c.b.WriteByte(']')
		return nil
	case map[string]any:
		return c.object(s, ns)
	}
	return fmt.Errorf("%s is not a schema (want a type name, a union or an object)", jsonText(v))
}

// ref writes a type name: a primitive, or a reference to a named type
// defined before it.
func (c *canonical) ref(name, ns string) error {
	if primitives[name] {
		c.b.WriteString(`"` + name + `"`)
		return nil
	}
	full := fullName(name, ns)
	if !c.defined[full] {
		// As Java resolves a name: in the enclosing namespace, else in
		// the null namespace.
		if !c.defined[name] {
			return fmt.Errorf("type %q is neither a primitive nor a named type defined before it", name)
		}
		full = name
	}
	c.b.WriteString(`"` + full + `"`)
	return nil
}

// object writes a schema written as a JSON object.
func (c *canonical) object(o map[string]any, ns string) error {
	t, ok := o["type"].(string)
	if !ok {
		return fmt.Errorf(`schema object %s has no "type" name`, jsonText(o))
	}
	switch t {
	case "record", "error", "enum", "fixed":
		return c.named(t, o, ns)
	case "array":
		items, ok := o["items"]
		if !ok {
			return errors.New(`array has no "items"`)
		}
		c.b.WriteString(`{"type":"array","items":`)
		if err := c.schema(items, ns); err != nil {
			return err
		}
		c.b.WriteByte('}')
		return nil
	case "map":
		values, ok := o["values"]
		if !ok {
			return errors.New(`map has no "values"`)
		}
		c.b.WriteString(`{"type":"map","values":`)
		if err := c.schema(values, ns); err != nil {
			return err
		}
		c.b.WriteByte('}')
		return nil
	}
	// [PRIMITIVES]: {"type":"long","logicalType":...} is "long"; and
	// {"type":"Name"} is a reference, as Java reads it.
	return c.ref(t, ns)
}

// named writes a record, enum or fixed definition.
func (c *canonical) named(t string, o map[string]any, ns string) error {
	name, ok := o["name"].(string)
	if !ok {
		return fmt.Errorf(`%s has no "name"`, t)
	}
	if !strings.Contains(name, ".") {
		// A null namespace attribute is no attribute, as for Java.
		if v := o["namespace"]; v != nil {
			if ns, ok = v.(string); !ok {
				return fmt.Errorf(`%s %s: "namespace" is not a string`, t, name)
			}
		}
	}
	full := fullName(name, ns)
	if err := validFullName(full); err != nil {
		return fmt.Errorf("%s %s: %w", t, full, err)
	}
	if primitives[full] {
		return fmt.Errorf("%s %s: a primitive type name cannot be defined", t, full)
	}
	if c.defined[full] {
		return fmt.Errorf("%s is defined twice", full)
	}
	// Defined before its fields, so that a record can refer to itself.
	c.defined[full] = true
	// The namespace of what this type encloses is its own.
	inner := ""
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		inner = full[:i]
	}
	if t == "error" {
		t = "record"
	}
	c.b.WriteString(`{"name":"` + full + `","type":"` + t + `"`)
	switch t {
	case "record":
		fields, ok := o["fields"].([]any)
		if !ok {
			return fmt.Errorf(`record %s has no "fields" array`, full)
		}
		c.b.WriteString(`,"fields":[`)
		for i, f := range fields {
			fo, ok := f.(map[string]any)
			if !ok {
				return fmt.Errorf("record %s: field %d is not an object", full, i)
			}
			fname, ok := fo["name"].(string)
			if !ok {
				return fmt.Errorf(`record %s: field %d has no "name"`, full, i)
			}
			if !validName(fname) {
				return fmt.Errorf("record %s: field name %q is not a valid Avro name", full, fname)
			}
			ftype, ok := fo["type"]
			if !ok {
				return fmt.Errorf(`record %s: field %s has no "type"`, full, fname)
			}
			if i > 0 {
				c.b.WriteByte(',')
			}
			c.b.WriteString(`{"name":"` + fname + `","type":`)
			if err := c.schema(ftype, inner); err != nil {
				return fmt.Errorf("record %s: field %s: %w", full, fname, err)
			}
			c.b.WriteByte('}')
		}
		c.b.WriteByte(']')
	case "enum":
		symbols, ok := o["symbols"].([]any)
		if !ok {
			return fmt.Errorf(`enum %s has no "symbols" array`, full)
		}
		c.b.WriteString(`,"symbols":[`)
		for i, s := range symbols {
			sym, ok := s.(string)
			if !ok || !validName(sym) {
				return fmt.Errorf("enum %s: symbol %s is not a valid Avro name", full, jsonText(s))
			}
			if i > 0 {
				c.b.WriteByte(',')
			}
			c.b.WriteString(`"` + sym + `"`)
		}
		c.b.WriteByte(']')
	case "fixed":
		// [INTEGERS]: the size as a plain decimal integer.
		n, ok := o["size"].(json.Number)
		size, err := strconv.ParseUint(string(n), 10, 31)
		if !ok || err != nil {
			return fmt.Errorf(`fixed %s: "size" %s is not a non-negative integer`, full, jsonText(o["size"]))
		}
		c.b.WriteString(`,"size":` + strconv.FormatUint(size, 10))
	}
	c.b.WriteByte('}')
	return nil
}

// fullName qualifies name with the namespace ns unless it has a dot.
func fullName(name, ns string) string {
	if ns == "" || strings.Contains(name, ".") {
		return name
	}
	return ns + "." + name
}

// validFullName reports whether every dot-separated part of a full name is
// a valid Avro name.
func validFullName(full string) error {
	for _, part := range strings.Split(full, ".") {
		if !validName(part) {
			return fmt.Errorf("%q is not a valid Avro name", part)
		}
	}
	return nil
}

// validName reports whether s is an Avro name: [A-Za-z_][A-Za-z0-9_]*.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b == '_', 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z':
		case '0' <= b && b <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// jsonText shows a decoded JSON value in an error message.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil || len(b) > 80 {
		return fmt.Sprintf("%.80v", v)
	}
	return string(b)
}
