package o2test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// This file reproduces what OpenObserve does to a record before storing it
// (upstream: src/config/src/utils/flatten.rs, src/config/src/utils/time.rs,
// src/core/src/logs/ingest.rs). It is written apart from the writer's own
// normalisation on purpose: the server is the oracle the writer is tested
// against, and a shared bug would pass unseen.

// flatten is flatten_with_level: v must be an object. Members are visited in
// key order (serde_json maps are BTreeMaps), so of two keys that format to
// the same name the one sorting later wins. Nulls are kept here; store drops
// them (a null column reads as absent).
func flatten(v any, level int) (map[string]any, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("flatten value must be an object")
	}
	out := map[string]any{}
	var walk func(m map[string]any, prefix string, depth int)
	walk = func(m map[string]any, prefix string, depth int) {
		if len(m) == 0 {
			return
		}
		if level > 0 && depth >= level {
			out[prefix] = toJSONString(m)
			return
		}
		names := make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			key := format(k)
			if depth > 0 {
				key = prefix + "_" + key
			}
			switch x := m[k].(type) {
			case map[string]any:
				walk(x, key, depth+1)
			case []any:
				if len(x) != 0 {
					out[key] = toJSONString(x)
				}
			default:
				out[key] = x
			}
		}
	}
	walk(obj, "", 0)
	return out, nil
}

// format is format_key.
func format(k string) string {
	ok := true
	for _, r := range k {
		if !lower(r) && !unicode.IsNumber(r) && r != '_' {
			ok = false
			break
		}
	}
	if ok {
		return k
	}
	rs := []rune(k)
	for i, r := range rs {
		switch {
		case lower(r), unicode.IsNumber(r):
		case unicode.IsUpper(r) || unicode.Is(unicode.Other_Uppercase, r):
			rs[i] = unicode.ToLower(r)
		default:
			rs[i] = '_'
		}
	}
	return string(rs)
}

func lower(r rune) bool { return unicode.IsLower(r) || unicode.Is(unicode.Other_Lowercase, r) }

var streamNameRun = regexp.MustCompile(`[^a-zA-Z0-9_:]+`)

// FormatStreamName is format_stream_name: the name a stream is filed under.
func FormatStreamName(s string) string {
	return strings.ToLower(streamNameRun.ReplaceAllString(s, "_"))
}

// toJSONString is serde_json's Value::to_string: compact, keys sorted,
// numbers as written (arbitrary_precision), only ", \ and control
// characters escaped.
func toJSONString(v any) string {
	var sb strings.Builder
	var enc func(v any)
	enc = func(v any) {
		switch x := v.(type) {
		case nil:
			sb.WriteString("null")
		case bool:
			sb.WriteString(strconv.FormatBool(x))
		case json.Number:
			sb.WriteString(x.String())
		case string:
			quote(&sb, x)
		case []any:
			sb.WriteByte('[')
			for i, e := range x {
				if i > 0 {
					sb.WriteByte(',')
				}
				enc(e)
			}
			sb.WriteByte(']')
		case map[string]any:
			names := make([]string, 0, len(x))
			for k := range x {
				names = append(names, k)
			}
			sort.Strings(names)
			sb.WriteByte('{')
			for i, k := range names {
				if i > 0 {
					sb.WriteByte(',')
				}
				quote(&sb, k)
				sb.WriteByte(':')
				enc(x[k])
			}
			sb.WriteByte('}')
		default:
			panic(fmt.Sprintf("o2test: unexpected JSON value %T", v))
		}
	}
	enc(v)
	return sb.String()
}

func quote(sb *strings.Builder, s string) {
	sb.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			sb.WriteString(`\"`)
		case '\\':
			sb.WriteString(`\\`)
		case '\b':
			sb.WriteString(`\b`)
		case '\f':
			sb.WriteString(`\f`)
		case '\n':
			sb.WriteString(`\n`)
		case '\r':
			sb.WriteString(`\r`)
		case '\t':
			sb.WriteString(`\t`)
		default:
			if r < 0x20 {
				fmt.Fprintf(sb, `\u%04x`, r)
			} else {
				sb.WriteRune(r)
			}
		}
	}
	sb.WriteByte('"')
}

// baseTime is upstream's BASE_TIME (1971-01-01): a number above it in
// nanoseconds is nanoseconds, else above it in microseconds is
// microseconds, and so on down to seconds.
var baseTime = time.Date(1971, 1, 1, 0, 0, 0, 0, time.UTC)

// scaleMicros is parse_i64_to_timestamp_micros.
func scaleMicros(v int64, now time.Time) int64 {
	switch {
	case v == 0:
		return now.UnixMicro()
	case v > baseTime.UnixNano():
		return v / 1000
	case v > baseTime.UnixMicro():
		return v
	case v > baseTime.UnixMilli():
		return v * 1000
	default:
		return v * 1_000_000
	}
}

// parseTimestamp is parse_timestamp_micro_from_value: the time in µs, and
// whether v was already an integer in µs (then OpenObserve stores it as
// sent; otherwise it stores the parsed value).
func parseTimestamp(v any, now time.Time) (int64, bool, error) {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(x.String(), 10, 64); err == nil {
			m := scaleMicros(i, now)
			return m, m == i, nil
		}
		if u, err := strconv.ParseUint(x.String(), 10, 64); err == nil {
			i := int64(u) // as upstream: `as i64`
			m := scaleMicros(i, now)
			return m, m == i, nil
		}
		f, err := x.Float64()
		if err != nil {
			//lint:ignore ST1005 OpenObserve's own message, reproduced
			return 0, false, errors.New("Invalid time format [timestamp]")
		}
		return scaleMicros(saturate(f), now), false, nil
	case string:
		if i, err := strconv.ParseInt(x, 10, 64); err == nil {
			return scaleMicros(i, now), false, nil
		}
		t, err := parseTimeString(x, now)
		if err != nil {
			return 0, false, errors.New("invalid time format [string]")
		}
		return t.UnixMicro(), false, nil
	default:
		//lint:ignore ST1005 OpenObserve's own message, reproduced
		return 0, false, errors.New("Invalid time format [type]")
	}
}

// saturate is Rust's `f64 as i64`.
func saturate(f float64) int64 {
	switch {
	case math.IsNaN(f):
		return 0
	case f >= math.MaxInt64:
		return math.MaxInt64
	case f <= math.MinInt64:
		return math.MinInt64
	}
	return int64(f)
}

// parseTimeString is parse_str_to_time.
func parseTimeString(s string, now time.Time) (time.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.UnixMicro(scaleMicros(saturate(f), now)).UTC(), nil
	}
	s = strings.Trim(s, `"`)
	switch {
	case strings.Contains(s, " ") && len(s) == 19:
		return time.Parse("2006-01-02 15:04:05", s)
	case strings.Contains(s, "T") && !strings.Contains(s, " "):
		if len(s) == 19 {
			return time.Parse("2006-01-02T15:04:05", s)
		}
		if i := strings.LastIndexByte(s, '.'); i >= 0 {
			switch len(s) - i - 1 {
			case 3:
				return time.Parse("2006-01-02T15:04:05.000", s)
			case 6:
				return time.Parse("2006-01-02T15:04:05.000000", s)
			}
		}
		return time.Parse(time.RFC3339Nano, s)
	default:
		for _, layout := range []string{time.RFC1123Z, time.RFC1123, "Mon, 2 Jan 2006 15:04:05 -0700", "2 Jan 2006 15:04:05 -0700"} {
			if t, err := time.Parse(layout, s); err == nil {
				return t, nil
			}
		}
		return time.Time{}, fmt.Errorf("%q is no RFC 2822 time", s)
	}
}
