package deadletter

import "testing"

// A tombstone is a nil msg (goka.NilProcess) or a nil []byte
// (goka.NilDecode with codec.Bytes); an empty value is not one.
func TestIsTombstone(t *testing.T) {
	for _, c := range []struct {
		name string
		msg  any
		want bool
	}{
		{"nil msg", nil, true},
		{"nil bytes", []byte(nil), true},
		{"empty bytes", []byte{}, false},
		{"bytes", []byte("x"), false},
		{"another type", "x", false},
	} {
		if got := IsTombstone(c.msg); got != c.want {
			t.Errorf("%s: IsTombstone = %v, want %v", c.name, got, c.want)
		}
	}
}
