package openobserve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// flattenLevel is OpenObserve's ZO_INGEST_FLATTEN_LEVEL default: objects
// nested deeper are stored as one JSON string.
const flattenLevel = 3

// timestampField is OpenObserve's time column, in microseconds.
const timestampField = "_timestamp"

// document turns a Doc's JSON object into the document OpenObserve stores
// for it (config/src/utils/flatten.rs and logs/ingest.rs upstream): keys
// formatted, nested objects flattened with "_" down to flattenLevel and
// kept as a JSON string below, arrays stored as JSON strings, empty
// objects and arrays and nulls dropped, and _timestamp set to ts
// (microseconds). It returns the compact JSON, keys sorted, and its number
// of fields. Sending the stored form is what lets a search by field name
// find exactly what was sent.
func document(in []byte, ts int64) ([]byte, int, error) {
	dec := json.NewDecoder(bytes.NewReader(in))
	// Numbers keep their text: OpenObserve (serde_json with
	// arbitrary_precision) stores 2.0 as 2.0 and 2^63 exactly.
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, 0, fmt.Errorf("document is not JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, 0, errors.New("document has trailing data")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, 0, fmt.Errorf("document is a JSON %T, not an object", v)
	}
	flat := make(map[string]any, len(obj)+1)
	flattenObject(obj, "", 0, flat)
	for k, v := range flat {
		if v == nil {
			delete(flat, k)
		}
	}
	flat[timestampField] = json.Number(fmt.Sprint(ts))
	var b bytes.Buffer
	b.Grow(len(in) + 32)
	appendJSON(&b, flat)
	return b.Bytes(), len(flat), nil
}

// flattenObject writes m's members into out under parent_key, the way
// OpenObserve's flatten_object does: members in key order (serde_json's
// maps are sorted), so that when two keys format to the same name the
// later one wins there as here.
func flattenObject(m map[string]any, parent string, depth int, out map[string]any) {
	if len(m) == 0 {
		return
	}
	if depth >= flattenLevel {
		out[parent] = serde(m)
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		name := formatKey(k)
		if depth > 0 {
			name = parent + "_" + name
		}
		switch v := m[k].(type) {
		case map[string]any:
			flattenObject(v, name, depth+1, out)
		case []any:
			if len(v) > 0 {
				out[name] = serde(v)
			}
		default:
			out[name] = v
		}
	}
}

// serde renders v as serde_json's to_string does: compact, object keys
// sorted and unformatted, strings escaped only where JSON requires.
func serde(v any) string {
	var b bytes.Buffer
	appendJSON(&b, v)
	return b.String()
}

func appendJSON(b *bytes.Buffer, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case json.Number:
		b.WriteString(string(x))
	case string:
		appendString(b, x)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			appendJSON(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			appendString(b, k)
			b.WriteByte(':')
			appendJSON(b, x[k])
		}
		b.WriteByte('}')
	default:
		// Only the types encoding/json decodes into reach here.
		panic(fmt.Sprintf("openobserve: unexpected JSON value %T", v))
	}
}

// appendString quotes s as serde_json does: ", \ and control characters
// escaped, everything else (<, >, &, U+2028) as is.
func appendString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\b':
			b.WriteString(`\b`)
		case c == '\f':
			b.WriteString(`\f`)
		case c < 0x20:
			b.WriteString(`\u00`)
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
}

// formatKey is OpenObserve's format_key: letters lowercased, every
// character that is neither a lowercase letter, a digit nor "_" replaced
// by "_". Like Rust's char predicates it knows Unicode: "é" stays, "É"
// becomes "é", "-" and "." become "_".
func formatKey(k string) string {
	if keyIsFormatted(k) {
		return k
	}
	var b strings.Builder
	b.Grow(len(k))
	for _, r := range k {
		switch {
		case isLowercase(r) || unicode.IsNumber(r):
			b.WriteRune(r)
		case isUppercase(r):
			b.WriteRune(unicode.ToLower(r))
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

func keyIsFormatted(k string) bool {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c >= utf8.RuneSelf {
			return keyIsFormattedUnicode(k)
		}
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func keyIsFormattedUnicode(k string) bool {
	for _, r := range k {
		if !(isLowercase(r) || unicode.IsNumber(r) || r == '_') {
			return false
		}
	}
	return true
}

// isLowercase and isUppercase are Rust's char::is_lowercase and
// is_uppercase: the derived Lowercase and Uppercase properties, which add
// Other_Lowercase (ª, ⓐ) and Other_Uppercase (Ⓐ) to Ll and Lu.
func isLowercase(r rune) bool {
	return unicode.IsLower(r) || unicode.Is(unicode.Other_Lowercase, r)
}

func isUppercase(r rune) bool {
	return unicode.IsUpper(r) || unicode.Is(unicode.Other_Uppercase, r)
}

// streamNameRun is what OpenObserve's format_stream_name replaces by one
// "_" before lowercasing ASCII letters.
var streamNameRun = regexp.MustCompile(`[^a-zA-Z0-9_:]+`)

// formatStreamName is the name OpenObserve files a stream under: what the
// searches must name in FROM.
func formatStreamName(s string) string {
	return strings.ToLower(streamNameRun.ReplaceAllString(s, "_"))
}
