package state

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"testing"
)

// TestFlatMapAgainstMap drives a flatMap and a plain map with the same
// random operations, with a real hash and with one that collides all the
// time, through many compactions, and checks after every step that both
// hold the same keys and bytes, and that bytes handed out earlier never
// change.
func TestFlatMapAgainstMap(t *testing.T) {
	for _, tc := range []struct {
		name string
		hash func(maphash.Seed, string) uint64
	}{
		{"maphash", maphash.String},
		{"collisions", func(s maphash.Seed, k string) uint64 { return maphash.String(s, k) % 7 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newFlatMap[int]()
			m.hash = tc.hash
			want := map[string][]byte{}
			wantV := map[string]int{}
			type held struct {
				b, copy []byte
			}
			var handed []held
			rng := rand.New(rand.NewPCG(1, 2))
			for step := 0; step < 200_000; step++ {
				key := fmt.Sprintf("key-%d", rng.IntN(3000))
				switch op := rng.IntN(10); {
				case op < 5:
					val := bytes.Repeat([]byte{byte(step)}, rng.IntN(3000))
					setBytes := op < 4
					s, isNew := m.put(key, val, setBytes)
					_, had := want[key]
					if isNew == had {
						t.Fatalf("step %d: put(%q) new=%v, map had it=%v", step, key, isNew, had)
					}
					if setBytes || !had {
						want[key] = val
					}
					if isNew {
						wantV[key] = 0
					}
					*m.val(s) += step
					wantV[key] += step
				case op < 7:
					s, ok := m.find(key)
					if _, had := want[key]; ok != had {
						t.Fatalf("step %d: find(%q)=%v, map has it=%v", step, key, ok, had)
					}
					if ok {
						m.del(s)
						delete(want, key)
						delete(wantV, key)
					}
				default:
					s, ok := m.find(key)
					if _, had := want[key]; ok != had {
						t.Fatalf("step %d: find(%q)=%v, map has it=%v", step, key, ok, had)
					}
					if ok {
						b := m.bytes(s)
						if !bytes.Equal(b, want[key]) {
							t.Fatalf("step %d: bytes of %q differ", step, key)
						}
						if *m.val(s) != wantV[key] {
							t.Fatalf("step %d: V of %q = %d, want %d", step, key, *m.val(s), wantV[key])
						}
						if m.key(s) != key {
							t.Fatalf("step %d: key of slot = %q, want %q", step, m.key(s), key)
						}
						if len(handed) < 1000 && len(b) > 0 {
							handed = append(handed, held{b, bytes.Clone(b)})
						}
					}
				}
				if m.Len() != len(want) {
					t.Fatalf("step %d: Len %d, want %d", step, m.Len(), len(want))
				}
			}
			n := 0
			m.each(func(s int32) bool {
				n++
				if !bytes.Equal(m.bytes(s), want[m.key(s)]) {
					t.Errorf("each: bytes of %q differ", m.key(s))
				}
				return true
			})
			if n != len(want) {
				t.Errorf("each visited %d keys, want %d", n, len(want))
			}
			for i, h := range handed {
				if !bytes.Equal(h.b, h.copy) {
					t.Fatalf("bytes handed out (#%d) changed after later writes", i)
				}
			}
			if m.compactions == 0 {
				t.Errorf("no compaction happened: the test does not cover it")
			}
			if tc.name == "collisions" && len(m.coll) == 0 {
				t.Errorf("no collision kept aside: the test does not cover it")
			}
			// The garbage stays bounded by the live records.
			if m.dead > max(m.live, flatMinGarbage) {
				t.Errorf("garbage %d bytes over live %d", m.dead, m.live)
			}
		})
	}
}

// BenchmarkStoreSet writes 40-byte values over a million keys.
func BenchmarkStoreSet(b *testing.B) {
	st := newMemory()
	val := make([]byte, 40)
	keys := make([]string, 1<<20)
	for i := range keys {
		keys[i] = fmt.Sprintf("%016x", i*2654435761)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = st.Set(keys[i&(1<<20-1)], val)
	}
}
