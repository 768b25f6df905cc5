package codecs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/logstream/logstream/schemas"
)

var sentinels = []error{ErrNotSingleObject, ErrUnknownSchema, ErrMalformed}

// assertKind checks err is a *DecodeError matching want and no other sentinel.
func assertKind(t *testing.T, err, want error) *DecodeError {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", want)
	}
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("error %T %v is not a *DecodeError", err, err)
	}
	for _, s := range sentinels {
		if got := errors.Is(err, s); got != (s == want) {
			t.Fatalf("errors.Is(%v, %v) = %v", err, s, got)
		}
	}
	if de.Kind != want {
		t.Fatalf("Kind %v, want %v", de.Kind, want)
	}
	return de
}

// decoder is one codec's Decode, with a sample encoding.
type decoder struct {
	name   string
	fp     uint64
	decode func([]byte) (any, error)
	sample []byte
}

func decoders(t testing.TB) []decoder {
	t.Helper()
	s := mustSet(t)
	must := func(b []byte, err error) []byte {
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return []decoder{
		{s.RawLog.Name(), s.RawLog.Fingerprint(), s.RawLog.Decode, must(s.RawLog.Marshal(fullRawLog()))},
		{s.LogEvent.Name(), s.LogEvent.Fingerprint(), s.LogEvent.Decode, must(s.LogEvent.Marshal(fullLogEvent()))},
		{s.Span.Name(), s.Span.Fingerprint(), s.Span.Decode, must(s.Span.Marshal(fullSpan()))},
		{s.DeadLetter.Name(), s.DeadLetter.Fingerprint(), s.DeadLetter.Decode, must(s.DeadLetter.Marshal(fullDeadLetter()))},
		{s.ParseState.Name(), s.ParseState.Fingerprint(), s.ParseState.Decode, must(s.ParseState.Marshal(fullParseState()))},
	}
}

func sohHeader(fp uint64) []byte {
	h := []byte{0xC3, 0x01, 0, 0, 0, 0, 0, 0, 0, 0}
	binary.LittleEndian.PutUint64(h[2:], fp)
	return h
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestIsSingleObjectAndFingerprint(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want bool
	}{
		{nil, false},
		{[]byte{0xC3}, false},
		{[]byte{0xC3, 0x01}, false},
		{sohHeader(1)[:9], false},
		{sohHeader(1), true},
		{cat(sohHeader(1), []byte("body")), true},
		{cat([]byte{0xC3, 0x02}, sohHeader(1)[2:]), false},
		{cat([]byte{0x01, 0xC3}, sohHeader(1)[2:]), false},
	} {
		if got := IsSingleObject(tc.in); got != tc.want {
			t.Errorf("IsSingleObject(%x) = %v", tc.in, got)
		}
		fp, ok := Fingerprint(tc.in)
		if ok != tc.want || (ok && fp != 1) || (!ok && fp != 0) {
			t.Errorf("Fingerprint(%x) = %x, %v", tc.in, fp, ok)
		}
	}
	fp, ok := Fingerprint(sohHeader(0x0102030405060708))
	if !ok || fp != 0x0102030405060708 {
		t.Errorf("Fingerprint is not little-endian: %x", fp)
	}
}

func TestDecodeNotSingleObject(t *testing.T) {
	for _, d := range decoders(t) {
		for name, in := range map[string][]byte{
			"nil":          nil,
			"empty":        {},
			"one byte":     {0xC3},
			"marker only":  {0xC3, 0x01},
			"short header": d.sample[:9],
			"text":         []byte("2026-01-01T00:00:00Z INFO started"),
			"json":         []byte(`{"host":"h","line":"x"}`),
			"wrong marker": cat([]byte{0xC3, 0x00}, d.sample[2:]),
			"swapped":      cat([]byte{0x01, 0xC3}, d.sample[2:]),
		} {
			t.Run(d.name+"/"+name, func(t *testing.T) {
				v, err := d.decode(in)
				de := assertKind(t, err, ErrNotSingleObject)
				if v != nil {
					t.Errorf("value %v with error", v)
				}
				if de.Record != d.name || de.Fingerprint != 0 {
					t.Errorf("DecodeError %+v", de)
				}
			})
		}
	}
}

func TestDecodeUnknownFingerprint(t *testing.T) {
	for _, d := range decoders(t) {
		t.Run(d.name, func(t *testing.T) {
			const fp = 0xfeedfacecafebeef
			in := cat(sohHeader(fp), d.sample[headerLen:])
			_, err := d.decode(in)
			de := assertKind(t, err, ErrUnknownSchema)
			if de.Fingerprint != fp || de.Record != d.name {
				t.Errorf("DecodeError %+v", de)
			}
			if !strings.Contains(err.Error(), "feedfacecafebeef") {
				t.Errorf("message %q does not name the fingerprint", err)
			}
			// A fingerprint off by one bit is still unknown.
			_, err = d.decode(cat(sohHeader(d.fp^1), d.sample[headerLen:]))
			assertKind(t, err, ErrUnknownSchema)
		})
	}
}

func TestDecodeOtherRecord(t *testing.T) {
	ds := decoders(t)
	for _, reader := range ds {
		for _, writer := range ds {
			if reader.name == writer.name {
				continue
			}
			t.Run(writer.name+" read as "+reader.name, func(t *testing.T) {
				_, err := reader.decode(writer.sample)
				de := assertKind(t, err, ErrUnknownSchema)
				if de.Fingerprint != writer.fp || de.Record != reader.name {
					t.Errorf("DecodeError %+v", de)
				}
				msg := err.Error()
				if !strings.Contains(msg, writer.name) || !strings.Contains(msg, fmt.Sprintf("%016x", writer.fp)) {
					t.Errorf("message %q does not name %s and its fingerprint", msg, writer.name)
				}
			})
		}
	}
}

// TestDecodeTruncated cuts every sample at every length: short of the header
// it is not single-object data, past it the body is malformed (Avro binary
// is self-delimiting, so no proper prefix of a record is a record).
func TestDecodeTruncated(t *testing.T) {
	for _, d := range decoders(t) {
		t.Run(d.name, func(t *testing.T) {
			for n := 0; n < len(d.sample); n++ {
				_, err := d.decode(d.sample[:n])
				want := ErrMalformed
				if n < headerLen {
					want = ErrNotSingleObject
				}
				if !errors.Is(err, want) {
					t.Fatalf("cut at %d of %d: %v, want %v", n, len(d.sample), err, want)
				}
				if want == ErrMalformed {
					if de := assertKind(t, err, want); de.Fingerprint != d.fp || de.Record != d.name {
						t.Fatalf("cut at %d: DecodeError %+v", n, de)
					}
				}
			}
		})
	}
}

func TestDecodeTrailingBytes(t *testing.T) {
	for _, d := range decoders(t) {
		for name, tail := range map[string][]byte{
			"zero byte": {0},
			"garbage":   []byte("garbage"),
			"record":    d.sample[headerLen:],
			"header":    d.sample[:headerLen],
		} {
			t.Run(d.name+"/"+name, func(t *testing.T) {
				_, err := d.decode(cat(d.sample, tail))
				assertKind(t, err, ErrMalformed)
				if !strings.Contains(err.Error(), "trailing") {
					t.Errorf("message %q does not say trailing", err)
				}
			})
		}
	}
}

// Avro building blocks for hand-made bodies.

func zz(v int64) []byte {
	return binary.AppendUvarint(nil, uint64(v<<1)^uint64(v>>63))
}

func str(s string) []byte { return cat(zz(int64(len(s))), []byte(s)) }

func TestDecodeNotAvro(t *testing.T) {
	s := mustSet(t)
	rl := sohHeader(s.RawLog.Fingerprint())
	le := sohHeader(s.LogEvent.Fingerprint())
	sp := sohHeader(s.Span.Fingerprint())
	dl := sohHeader(s.DeadLetter.Fingerprint())
	ps := sohHeader(s.ParseState.Fingerprint())
	// A valid RawLog body up to its labels.
	rlHead := cat(str("h"), str("s"), str("l"), zz(1))
	// A valid LogEvent body up to its level.
	leHead := cat(str("e"), zz(1), str("h"), str(""))
	for name, in := range map[string]struct {
		decode func([]byte) (any, error)
		data   []byte
	}{
		"empty body":                {s.RawLog.Decode, rl},
		"all 0xff":                  {s.RawLog.Decode, cat(rl, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})},
		"text body":                 {s.LogEvent.Decode, cat(le, []byte("this is not avro at all, just a log line"))},
		"negative string length":    {s.RawLog.Decode, cat(rl, zz(-5), []byte("hello"))},
		"string length past end":    {s.RawLog.Decode, cat(rl, zz(1<<40), []byte("x"))},
		"huge string length":        {s.RawLog.Decode, cat(rl, zz(1<<62))},
		"varint too long":           {s.RawLog.Decode, cat(rl, rlHead[:6], []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, zz(0))},
		"varint overflows":          {s.RawLog.Decode, cat(rl, rlHead[:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, zz(0))},
		"map count 2^31-1":          {s.RawLog.Decode, cat(rl, rlHead, zz(1<<31-1), zz(0))},
		"map count past end":        {s.RawLog.Decode, cat(rl, rlHead, zz(3), str("k"), str("v"), zz(0))},
		"map negative count":        {s.RawLog.Decode, cat(rl, rlHead, zz(-(1 << 31)), zz(4), str("k"), str("v"), zz(0))},
		"map min count":             {s.RawLog.Decode, cat(rl, rlHead, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, zz(0))},
		"map block size wrong":      {s.RawLog.Decode, cat(rl, rlHead, zz(-1), zz(3), str("k"), str("v"), zz(0))},
		"map block size past end":   {s.RawLog.Decode, cat(rl, rlHead, zz(-1), zz(100), str("k"), str("v"), zz(0))},
		"map duplicate key":         {s.RawLog.Decode, cat(rl, rlHead, zz(2), str("k"), str("v"), str("k"), str("w"), zz(0))},
		"map missing terminator":    {s.RawLog.Decode, cat(rl, rlHead, zz(1), str("k"), str("v"))},
		"enum index too big":        {s.LogEvent.Decode, cat(le, leHead, zz(7))},
		"enum index negative":       {s.LogEvent.Decode, cat(le, leHead, zz(-1))},
		"union index too big":       {s.LogEvent.Decode, cat(le, leHead, zz(3), str("m"), zz(2))},
		"union index negative":      {s.LogEvent.Decode, cat(le, leHead, zz(3), str("m"), zz(-1))},
		"int overflows 32 bits":     {s.LogEvent.Decode, cat(le, leHead, zz(3), str("m"), zz(0), zz(0), zz(1), zz(1<<33))},
		"int varint too long":       {s.LogEvent.Decode, cat(le, leHead, zz(3), str("m"), zz(0), zz(0), zz(1), []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x00})},
		"double truncated":          {s.LogEvent.Decode, cat(le, leHead, zz(3), str("m"), zz(0), zz(0), zz(0), zz(1), []byte{1, 2, 3})},
		"status enum out of range":  {s.Span.Decode, cat(sp, str("t"), str("s"), zz(0), str("svc"), str("op"), zz(1), zz(2), zz(3), str(""), zz(0))},
		"bytes union index 2":       {s.DeadLetter.Decode, cat(dl, zz(2), str("k"))},
		"huge bytes length":         {s.DeadLetter.Decode, cat(dl, zz(1), zz(1<<62))},
		"nested record truncated":   {s.ParseState.Decode, cat(ps, zz(1), str("src"), str("stdout"), zz(1))},
		"nested map count 2^31-1":   {s.ParseState.Decode, cat(ps, zz(1<<31-1), zz(0))},
		"source_partition too long": {s.DeadLetter.Decode, cat(dl, zz(0), zz(0), str("t"), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, zz(0), str("p"), str("e"), zz(0))},
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			v, err := in.decode(in.data)
			assertKind(t, err, ErrMalformed)
			if v != nil {
				t.Errorf("value %v with error", v)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// TestHandMadeBodiesDecode checks the hand-made encodings above are right,
// so that the malformed cases fail for the reason they claim.
func TestHandMadeBodiesDecode(t *testing.T) {
	s := mustSet(t)
	rl := cat(sohHeader(s.RawLog.Fingerprint()), str("h"), str("s"), str("l"), zz(1))
	for name, body := range map[string][]byte{
		"no labels":      zz(0),
		"one label":      cat(zz(1), str("k"), str("v"), zz(0)),
		"sized block":    cat(zz(-1), zz(4), str("k"), str("v"), zz(0)),
		"two blocks":     cat(zz(1), str("k"), str("v"), zz(-1), zz(4), str("j"), str("w"), zz(0)),
		"overlong zero":  cat([]byte{0x80, 0x00}),
		"ten-byte count": cat([]byte{0x82, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, str("k"), str("v"), zz(0)),
	} {
		t.Run(name, func(t *testing.T) {
			v, err := s.RawLog.Unmarshal(cat(rl, body))
			if err != nil {
				t.Fatal(err)
			}
			if v.Host != "h" || v.Source != "s" || v.Line != "l" || v.ReceivedAt != 1 {
				t.Errorf("decoded %+v", v)
			}
		})
	}
	le := cat(sohHeader(s.LogEvent.Fingerprint()), str("e"), zz(1), str("h"), str(""), zz(3), str("m"),
		zz(0), zz(0), zz(1), zz(-200), zz(0), zz(0), zz(0), zz(0), zz(0), zz(0), str("src"), str("json"), str("eu-1"),
		zz(0), zz(0), str(""), str(""), zz(0), str(""), str(""), str(""))
	v, err := s.LogEvent.Unmarshal(le)
	if err != nil {
		t.Fatal(err)
	}
	if v.Level != schemas.LevelInfo || v.HTTPStatus == nil || *v.HTTPStatus != -200 || v.Format != "json" || v.Cluster != "eu-1" {
		t.Errorf("decoded %+v", v)
	}
}

func TestDecodeErrorText(t *testing.T) {
	err := &DecodeError{Record: "LogEvent", Fingerprint: 1, Kind: ErrMalformed, Err: errors.New("field host: truncated")}
	if got, want := err.Error(), "codecs: decode LogEvent: malformed Avro body: field host: truncated"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	bare := &DecodeError{Kind: ErrNotSingleObject}
	if got, want := bare.Error(), "codecs: decode record: not Avro single-object encoded"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(bare, ErrNotSingleObject) {
		t.Error("errors.Is fails without Err")
	}
	inner := errors.New("inner")
	if !errors.Is(&DecodeError{Kind: ErrMalformed, Err: inner}, inner) {
		t.Error("errors.Is does not reach Err")
	}
}
