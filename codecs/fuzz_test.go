package codecs

import (
	"errors"
	"testing"

	"github.com/logstream/logstream/schemas"
)

// seedCorpus adds valid encodings and corruptions of them: every cut, a
// flipped byte at a few places, trailing garbage, a foreign fingerprint, a
// hostile map count.
func seedCorpus(f *testing.F, valid ...[]byte) {
	f.Add([]byte{})
	f.Add([]byte("plain text"))
	f.Add(sohHeader(0))
	for _, v := range valid {
		f.Add(v)
		f.Add(cat(v, []byte{0}))
		f.Add(cat(v, v))
		f.Add(v[:len(v)/2])
		f.Add(v[:len(v)-1])
		f.Add(v[:headerLen])
		f.Add(cat(v[:headerLen], zz(1<<31-1), zz(0)))
		f.Add(cat(v[:headerLen], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}))
		f.Add(cat(sohHeader(0xfeedfacecafebeef), v[headerLen:]))
		for _, i := range []int{headerLen, headerLen + 1, len(v) / 2, len(v) - 1} {
			if i >= len(v) {
				continue
			}
			c := cat(v)
			c[i] ^= 0x80
			f.Add(c)
			c = cat(v)
			c[i] = 0xff
			f.Add(c)
		}
	}
}

// fuzzDecode checks that decoding never panics, fails only with a
// *DecodeError of one kind, and that whatever decodes re-encodes and
// decodes to an equal value.
func fuzzDecode[T any](t *testing.T, c *Codec[T], data []byte, eq func(a, b *T) bool) {
	v, err := c.Unmarshal(data)
	if err != nil {
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("error %T is not a *DecodeError: %v", err, err)
		}
		n := 0
		for _, s := range sentinels {
			if errors.Is(err, s) {
				n++
			}
		}
		if n != 1 || v != nil {
			t.Fatalf("error %v matches %d sentinels, value %v", err, n, v)
		}
		return
	}
	again, err := c.Marshal(v)
	if err != nil {
		t.Fatalf("decoded %+v does not re-encode: %v", v, err)
	}
	w, err := c.Unmarshal(again)
	if err != nil {
		t.Fatalf("re-encoding %x does not decode: %v", again, err)
	}
	if !eq(v, w) {
		t.Fatalf("re-encoded value differs:\n first %+v\nsecond %+v", v, w)
	}
	if len(again) > len(data) {
		// Re-encoding is canonical (shortest varints, one block per map), so
		// it is never longer than what was read.
		t.Fatalf("re-encoding is %d bytes, input %d", len(again), len(data))
	}
}

func FuzzDecodeRawLog(f *testing.F) {
	s := mustSet(f)
	seedCorpus(f,
		mustBytes(s.RawLog.Marshal(fullRawLog())),
		mustBytes(s.RawLog.Marshal(goldenRawLog())),
		mustBytes(s.RawLog.Marshal(&schemas.RawLog{})),
		mustBytes(s.RawLog.Marshal(&schemas.RawLog{Line: unicodeText, Labels: map[string]string{"a": ""}})),
	)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, s.RawLog, data, rawLogEqual) })
}

func FuzzDecodeLogEvent(f *testing.F) {
	s := mustSet(f)
	seedCorpus(f,
		mustBytes(s.LogEvent.Marshal(fullLogEvent())),
		mustBytes(s.LogEvent.Marshal(goldenLogEvent())),
		mustBytes(s.LogEvent.Marshal(&schemas.LogEvent{})),
		mustBytes(s.LogEvent.Marshal(&schemas.LogEvent{Level: schemas.LevelFatal, HTTPStatus: ptr(int32(-1)), Labels: map[string]string{"k": "v"}})),
	)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, s.LogEvent, data, logEventEqual) })
}

func FuzzDecodeSpan(f *testing.F) {
	s := mustSet(f)
	seedCorpus(f,
		mustBytes(s.Span.Marshal(fullSpan())),
		mustBytes(s.Span.Marshal(goldenSpan())),
		mustBytes(s.Span.Marshal(&schemas.Span{})),
	)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, s.Span, data, spanEqual) })
}

func FuzzDecodeDeadLetter(f *testing.F) {
	s := mustSet(f)
	seedCorpus(f,
		mustBytes(s.DeadLetter.Marshal(fullDeadLetter())),
		mustBytes(s.DeadLetter.Marshal(goldenDeadLetter())),
		mustBytes(s.DeadLetter.Marshal(&schemas.DeadLetter{})),
		mustBytes(s.DeadLetter.Marshal(&schemas.DeadLetter{OriginalKey: []byte{}, OriginalValue: []byte{}})),
	)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, s.DeadLetter, data, deadLetterEqual) })
}

func FuzzDecodeParseState(f *testing.F) {
	s := mustSet(f)
	seedCorpus(f,
		mustBytes(s.ParseState.Marshal(fullParseState())),
		mustBytes(s.ParseState.Marshal(&schemas.ParseState{})),
	)
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, s.ParseState, data, parseStateEqual) })
}

// FuzzDecodeAny feeds Set.DecodeAny bytes that carry every known fingerprint.
func FuzzDecodeAny(f *testing.F) {
	s := mustSet(f)
	seedCorpus(f,
		mustBytes(s.RawLog.Marshal(fullRawLog())),
		mustBytes(s.LogEvent.Marshal(fullLogEvent())),
		mustBytes(s.Span.Marshal(fullSpan())),
		mustBytes(s.DeadLetter.Marshal(fullDeadLetter())),
		mustBytes(s.ParseState.Marshal(fullParseState())),
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		name, native, err := s.DecodeAny(data)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) || native != nil {
				t.Fatalf("error %T %v, native %v", err, err, native)
			}
			return
		}
		if name == "" || native == nil {
			t.Fatalf("name %q native %v", name, native)
		}
	})
}

func mustBytes(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
