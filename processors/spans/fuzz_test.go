package spans_test

import (
	"reflect"
	"regexp"
	"strings"
	"testing"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/logstream/logstream/processors/spans"
	"github.com/logstream/logstream/schemas"
)

var (
	hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)
	hex16 = regexp.MustCompile(`^[0-9a-f]{16}$`)
)

// FuzzFromOTLP: any bytes give spans and rejects or an error, never a
// panic; what comes out is well-formed and survives ToOTLP unchanged.
func FuzzFromOTLP(f *testing.F) {
	f.Add(goodBatch(f))
	f.Add([]byte{})
	f.Add([]byte("hello, world"))
	f.Add([]byte{0x0a, 0x00})
	f.Add(marshal(f, resourceSpans("s", "h",
		&tracepb.Span{SpanId: []byte{1, 2, 3, 4, 5, 6, 7, 8}, Name: "no trace"},
		&tracepb.Span{TraceId: make([]byte, 16), SpanId: []byte{1}, ParentSpanId: []byte{9}, Name: "bad"},
	)))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, rejects, err := spans.FromOTLP(data)
		if err != nil {
			if got != nil || rejects != nil || !strings.HasPrefix(err.Error(), "spans: ") {
				t.Fatalf("error %v with spans %v rejects %v", err, got, rejects)
			}
			return
		}
		for i, s := range got {
			if !hex32.MatchString(s.TraceID) || !hex16.MatchString(s.SpanID) || s.DurationUs < 0 || s.Start < 0 || s.Service == "" {
				t.Fatalf("span %d malformed: %+v", i, s)
			}
			if s.ParentSpanID != nil && (!hex16.MatchString(*s.ParentSpanID) || *s.ParentSpanID == "0000000000000000") {
				t.Fatalf("span %d parent %q", i, *s.ParentSpanID)
			}
		}
		last := -1
		for _, r := range rejects {
			if r.Index <= last || r.Reason == "" {
				t.Fatalf("rejects %+v", rejects)
			}
			last = r.Index
		}
		if len(got) == 0 {
			return
		}
		enc, err := spans.ToOTLP(got)
		if err != nil {
			t.Fatalf("ToOTLP of decoded spans: %v", err)
		}
		back, rejects, err := spans.FromOTLP(enc)
		if err != nil || len(rejects) != 0 {
			t.Fatalf("re-decode: %v %v", err, rejects)
		}
		if !sameSpans(back, got) {
			t.Fatalf("round trip changed the spans:\n%+v\n%+v", back, got)
		}
	})
}

// sameSpans compares spans resource by resource: ToOTLP groups them by
// service and host, keeping each resource's spans in their order.
func sameSpans(a, b []schemas.Span) bool {
	group := func(xs []schemas.Span) map[[2]string][]schemas.Span {
		m := map[[2]string][]schemas.Span{}
		for _, x := range xs {
			k := [2]string{x.Service, x.Host}
			m[k] = append(m[k], x)
		}
		return m
	}
	return len(a) == len(b) && reflect.DeepEqual(group(a), group(b))
}
