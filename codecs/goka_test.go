package codecs_test

import (
	"reflect"
	"testing"

	"github.com/lovoo/goka"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
)

// The stages hand codecs to goka as output and table codecs, so Codec must
// implement goka.Codec. The check lives in a test so that package codecs,
// and package topology, which names the wire formats, do not import goka.
var (
	_ goka.Codec = (*codecs.Codec[schemas.RawLog])(nil)
	_ goka.Codec = (*codecs.Codec[schemas.LogEvent])(nil)
	_ goka.Codec = (*codecs.Codec[schemas.Span])(nil)
	_ goka.Codec = (*codecs.Codec[schemas.DeadLetter])(nil)
	_ goka.Codec = (*codecs.Codec[schemas.ParseState])(nil)
)

// TestCodecThroughGoka encodes and decodes a record the way goka calls a
// codec: through the interface, with a value and a pointer.
func TestCodecThroughGoka(t *testing.T) {
	c, err := codecs.NewRawLog()
	if err != nil {
		t.Fatal(err)
	}
	var gc goka.Codec = c
	in := schemas.RawLog{Host: "web-1", Source: "app", Line: "hello", ReceivedAt: 1700000000000, Labels: map[string]string{"env": "prod"}}
	for _, v := range []any{in, &in} {
		b, err := gc.Encode(v)
		if err != nil {
			t.Fatalf("encode %T: %v", v, err)
		}
		out, err := gc.Decode(b)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		got, ok := out.(*schemas.RawLog)
		if !ok || !reflect.DeepEqual(*got, in) {
			t.Fatalf("decoded %#v, want %#v", out, in)
		}
	}
	if _, err := gc.Encode("not a RawLog"); err == nil {
		t.Fatal("encoding a string as a RawLog succeeded")
	}
}
