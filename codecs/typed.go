package codecs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unsafe"
)

// This file holds the building blocks of the typed codecs (typed_records.go
// and typed_errorrate.go): Avro binary written straight from a Go record
// into one []byte, and read straight from the bytes into the Go record, with
// no goavro native form in between. They serve only the schema version a
// codec writes; every other writer version goes through goavro and
// resolve.go.
//
// The reader accepts exactly what the pre-check in validate.go accepts (the
// same varint, length, index and block rules) and refuses what goavro
// refuses after it (a map key that comes twice), so the typed path and the
// goavro path agree on which bodies are malformed; the differential fuzz
// tests hold them to it.

// ---- writing ----

func appendLong(b []byte, v int64) []byte {
	u := uint64(v<<1) ^ uint64(v>>63)
	for u >= 0x80 {
		b = append(b, byte(u)|0x80)
		u >>= 7
	}
	return append(b, byte(u))
}

// appendInt writes an Avro int: the zig-zag varint of a sign-extended int32
// is the same as that of the int64.
func appendInt(b []byte, v int32) []byte { return appendLong(b, int64(v)) }

func appendString(b []byte, s string) []byte {
	return append(appendLong(b, int64(len(s))), s...)
}

func appendBytes(b []byte, p []byte) []byte {
	return append(appendLong(b, int64(len(p))), p...)
}

func appendDouble(b []byte, f float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// Optional values are ["null", T] unions: index 0 (one zero byte) for null,
// index 1 (zig-zag 2) then the value.

func appendOptString(b []byte, p *string) []byte {
	if p == nil {
		return append(b, 0)
	}
	return appendString(append(b, 2), *p)
}

func appendOptInt(b []byte, p *int32) []byte {
	if p == nil {
		return append(b, 0)
	}
	return appendInt(append(b, 2), *p)
}

func appendOptLong(b []byte, p *int64) []byte {
	if p == nil {
		return append(b, 0)
	}
	return appendLong(append(b, 2), *p)
}

func appendOptDouble(b []byte, p *float64) []byte {
	if p == nil {
		return append(b, 0)
	}
	return appendDouble(append(b, 2), *p)
}

// appendOptBytes: a nil slice is null, a non-nil empty one empty bytes.
func appendOptBytes(b []byte, p []byte) []byte {
	if p == nil {
		return append(b, 0)
	}
	return appendBytes(append(b, 2), p)
}

// appendStringMap writes a map as goavro does: one block with a positive
// count, then the terminating zero block (a nil or empty map is just the
// zero).
func appendStringMap(b []byte, m map[string]string) []byte {
	if len(m) > 0 {
		b = appendLong(b, int64(len(m)))
		for k, v := range m {
			b = appendString(appendString(b, k), v)
		}
	}
	return append(b, 0)
}

// appendBlockCount starts an array of n items (one block), and
// appendBlocksEnd ends it; an empty array is just the end.
func appendBlockCount(b []byte, n int) []byte {
	if n == 0 {
		return b
	}
	return appendLong(b, int64(n))
}

func appendBlocksEnd(b []byte) []byte { return append(b, 0) }

// ---- reading ----

// reader decodes one body. It owns a private copy of the body: decoded
// strings and bytes alias that copy (strings through unsafe.String), so a
// record costs one allocation for all its text, and shares nothing with
// the caller's data. No string and no bytes value overlap in the copy, so
// a caller that changes a decoded []byte in place changes no string.
//
// Errors are sticky: the first is kept, and every read after it returns a
// zero value without consuming input (the position jumps to the end), so
// the record functions read every field and check once at the end.
type reader struct {
	b   []byte
	i   int
	err error
}

func newReader(body []byte) reader {
	return reader{b: append(make([]byte, 0, len(body)), body...)}
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.i = len(r.b)
}

// left is the number of bytes not yet read.
func (r *reader) left() int { return len(r.b) - r.i }

var (
	errVarintLong   = errors.New("varint longer than 10 bytes")
	errVarintInt    = errors.New("varint longer than 5 bytes")
	errOverflow64   = errors.New("varint overflows 64 bits")
	errOverflow32   = errors.New("int overflows 32 bits")
	errNegativeLen  = errors.New("negative length")
	errBlockCount   = errors.New("block count out of range")
	errBlockSize    = errors.New("block size out of range")
	errBlockMatch   = errors.New("block size does not match its bytes")
	errBadIndex     = errors.New("union or enum index out of range")
	errBadBoolean   = errors.New("boolean byte is neither 0 nor 1")
	errDuplicateKey = errors.New("duplicate map key")
	errCountTooHigh = fmt.Errorf("block count exceeds the bytes left: %w", errTruncated)
	errLenTooHigh   = fmt.Errorf("length runs past the end of the data: %w", errTruncated)
)

// varint reads a zig-zag varint of at most maxBytes bytes, raw (still
// zig-zagged), with validate.go's varint rules.
func (r *reader) varint(maxBytes int) uint64 {
	var v uint64
	for j := 0; r.i < len(r.b); j++ {
		if j == maxBytes {
			if maxBytes == 5 {
				r.fail(errVarintInt)
			} else {
				r.fail(errVarintLong)
			}
			return 0
		}
		c := r.b[r.i]
		if j == 9 && c > 1 {
			r.fail(errOverflow64)
			return 0
		}
		r.i++
		v |= uint64(c&0x7f) << (7 * uint(j))
		if c < 0x80 {
			return v
		}
	}
	r.fail(errTruncated)
	return 0
}

func (r *reader) long() int64 {
	// One-byte values (small lengths, union and enum indexes, counts) are
	// the common case.
	if r.i < len(r.b) {
		if c := r.b[r.i]; c < 0x80 {
			r.i++
			return int64(c>>1) ^ -int64(c&1)
		}
	}
	u := r.varint(10)
	return int64(u>>1) ^ -int64(u&1)
}

func (r *reader) int() int32 {
	u := r.varint(5)
	if u > math.MaxUint32 {
		r.fail(errOverflow32)
		return 0
	}
	return int32(uint32(u>>1)) ^ -int32(u&1)
}

func (r *reader) double() float64 {
	if r.left() < 8 {
		r.fail(errTruncated)
		return 0
	}
	f := math.Float64frombits(binary.LittleEndian.Uint64(r.b[r.i:]))
	r.i += 8
	return f
}

func (r *reader) boolean() bool {
	if r.i >= len(r.b) {
		r.fail(errTruncated)
		return false
	}
	c := r.b[r.i]
	if c > 1 {
		r.fail(errBadBoolean)
		return false
	}
	r.i++
	return c == 1
}

// length reads a string or bytes length that fits in what is left.
func (r *reader) length() int {
	n := r.long()
	switch {
	case n < 0:
		r.fail(errNegativeLen)
		return 0
	case n > int64(r.left()):
		r.fail(errLenTooHigh)
		return 0
	}
	return int(n)
}

func (r *reader) str() string {
	n := r.length()
	if n == 0 {
		return ""
	}
	s := unsafe.String(&r.b[r.i], n)
	r.i += n
	return s
}

// bytes returns a non-nil slice of the copy (capacity capped, so that an
// append cannot run into the next value).
func (r *reader) bytes() []byte {
	n := r.length()
	p := r.b[r.i : r.i+n : r.i+n]
	r.i += n
	return p
}

// index reads a union branch or enum symbol index in [0, n).
func (r *reader) index(n int) int {
	i := r.long()
	if i < 0 || i >= int64(n) {
		r.fail(errBadIndex)
		return 0
	}
	return int(i)
}

// present reads the branch index of a ["null", T] union: false for null.
func (r *reader) present() bool { return r.index(2) == 1 }

func (r *reader) optString(dst *string) *string {
	if !r.present() {
		return nil
	}
	*dst = r.str()
	return dst
}

func (r *reader) optInt(dst *int32) *int32 {
	if !r.present() {
		return nil
	}
	*dst = r.int()
	return dst
}

func (r *reader) optLong(dst *int64) *int64 {
	if !r.present() {
		return nil
	}
	*dst = r.long()
	return dst
}

func (r *reader) optDouble(dst *float64) *float64 {
	if !r.present() {
		return nil
	}
	*dst = r.double()
	return dst
}

func (r *reader) optBytes() []byte {
	if !r.present() {
		return nil
	}
	return r.bytes()
}

// block reads the header of a map or array block: its item count (0 at the
// end of the blocks or on error) and, for a block that states its size in
// bytes, the position where it must end (else -1). A count may not exceed
// the bytes left, as in validate.go: that bounds what a caller pre-sizes.
func (r *reader) block() (int, int) {
	count := r.long()
	if count == 0 || r.err != nil {
		return 0, -1
	}
	end := -1
	if count < 0 {
		if count == math.MinInt64 {
			r.fail(errBlockCount)
			return 0, -1
		}
		count = -count
		size := r.long()
		if r.err != nil {
			return 0, -1
		}
		if size < 0 || size > int64(r.left()) {
			r.fail(errBlockSize)
			return 0, -1
		}
		end = r.i + int(size)
	}
	if count > int64(r.left()) {
		r.fail(errCountTooHigh)
		return 0, -1
	}
	return int(count), end
}

// blockEnd checks a sized block ended where it said.
func (r *reader) blockEnd(end int) {
	if end >= 0 && r.err == nil && r.i != end {
		r.fail(errBlockMatch)
	}
}

// stringMap reads a map of strings, non-nil even when empty, pre-sized from
// the first block's count (at most one entry per two bytes left: an entry
// takes at least a key length and a value length). A key that comes twice
// is an error, as goavro has it.
func (r *reader) stringMap() map[string]string {
	var m map[string]string
	for {
		n, end := r.block()
		if n == 0 {
			break
		}
		if m == nil {
			m = make(map[string]string, min(n, r.left()/2))
		}
		for ; n > 0 && r.err == nil; n-- {
			k := r.str()
			had := len(m)
			if m[k] = r.str(); len(m) == had {
				r.fail(errDuplicateKey)
			}
		}
		r.blockEnd(end)
	}
	if m == nil {
		m = map[string]string{}
	}
	return m
}

// done reports the first error, or bytes left after the record.
func (r *reader) done() error {
	if r.err != nil {
		return r.err
	}
	if r.i != len(r.b) {
		return fmt.Errorf("%d trailing bytes after the record", len(r.b)-r.i)
	}
	return nil
}
