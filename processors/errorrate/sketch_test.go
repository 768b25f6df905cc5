package errorrate

import (
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// skTolerance is the relative error allowed: the accuracy, plus rounding.
const skTolerance = SketchRelativeAccuracy * (1 + 1e-9)

var skQuantiles = []float64{0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1}

// skExact is the exact q-quantile of sorted values, by the rank Quantile
// uses.
func skExact(sorted []float64, q float64) float64 {
	return sorted[int(q*float64(len(sorted)-1))]
}

func skRelErr(got, want float64) float64 {
	if want == 0 {
		return math.Abs(got)
	}
	return math.Abs(got-want) / want
}

func skOf(values []float64) Sketch {
	s := Sketch{}
	for _, v := range values {
		s.Add(v)
	}
	return s
}

func skData(name string, n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 99))
	out := make([]float64, n)
	for i := range out {
		switch name {
		case "uniform": // 1 ms .. 1 s
			out[i] = 1 + rng.Float64()*999
		case "exponential": // mean 50 ms
			out[i] = rng.ExpFloat64() * 50
		case "bimodal": // fast cache hits around 2 ms, slow misses around 800 ms
			if rng.IntN(10) < 8 {
				out[i] = math.Abs(2 + rng.NormFloat64()*0.5)
			} else {
				out[i] = math.Abs(800 + rng.NormFloat64()*150)
			}
		case "lognormal": // heavy tail: µs to minutes
			out[i] = math.Exp(rng.NormFloat64()*3 + 2)
		}
	}
	return out
}

func TestSketchAccuracy(t *testing.T) {
	for _, name := range []string{"uniform", "exponential", "bimodal", "lognormal"} {
		t.Run(name, func(t *testing.T) {
			values := skData(name, 100_000, 1)
			s := skOf(values)
			slices.Sort(values)
			if got := s.Count(); got != int64(len(values)) {
				t.Errorf("Count = %d, want %d", got, len(values))
			}
			worst := 0.0
			for _, q := range skQuantiles {
				got, ok := s.Quantile(q)
				if !ok {
					t.Fatalf("Quantile(%v) not ok", q)
				}
				want := skExact(values, q)
				e := skRelErr(got, want)
				worst = max(worst, e)
				if e > skTolerance {
					t.Errorf("Quantile(%v) = %v, exact %v: relative error %.5f", q, got, want, e)
				}
			}
			t.Logf("%d buckets, worst relative error %.5f", len(s), worst)
		})
	}
}

// TestSketchBucketBounds checks the bucket of values on and next to the
// bucket boundaries gamma^i.
func TestSketchBucketBounds(t *testing.T) {
	for i := int32(-3000); i <= 3000; i += 7 {
		b := math.Pow(skGamma, float64(i))
		for _, x := range []float64{b, math.Nextafter(b, 0), math.Nextafter(b, math.Inf(1)), b * (1 + 1e-12), b * (1 - 1e-12)} {
			got := skValue(skIndex(x))
			if e := skRelErr(got, x); e > skTolerance {
				t.Fatalf("x=%v: index %d stands for %v, relative error %v", x, skIndex(x), got, e)
			}
		}
	}
}

func TestSketchMerge(t *testing.T) {
	for _, name := range []string{"uniform", "bimodal", "lognormal"} {
		a, b := skData(name, 50_000, 2), skData(name, 50_000, 3)
		sa, sb := skOf(a), skOf(b)
		union := skOf(append(slices.Clone(a), b...))

		ab := maps.Clone(sa)
		ab.Merge(sb)
		if !maps.Equal(ab, union) {
			t.Errorf("%s: a.Merge(b) differs from the sketch of the union", name)
		}
		ba := maps.Clone(sb)
		ba.Merge(sa)
		if !maps.Equal(ba, union) {
			t.Errorf("%s: b.Merge(a) differs from the sketch of the union", name)
		}
	}

	s := skOf([]float64{1, 2, 3})
	want := maps.Clone(s)
	s.Merge(nil)
	s.Merge(Sketch{})
	if !maps.Equal(s, want) {
		t.Errorf("merging empty sketches changed %v into %v", want, s)
	}
	var empty Sketch
	if empty.Count() != 0 {
		t.Error("nil sketch counts")
	}
	into := Sketch{}
	into.Merge(s)
	if !maps.Equal(into, s) {
		t.Errorf("merge into empty: %v, want %v", into, s)
	}
}

func TestSketchEdgeCases(t *testing.T) {
	t.Run("empty", func(t *testing.T) {
		for _, s := range []Sketch{nil, {}, {5: 0, 6: -3}} {
			if v, ok := s.Quantile(0.5); ok {
				t.Errorf("%v: Quantile = %v, true", s, v)
			}
			if n := s.Count(); n != 0 {
				t.Errorf("%v: Count = %d", s, n)
			}
		}
	})
	t.Run("single value", func(t *testing.T) {
		for _, x := range []float64{1e-9, 0.001, 0.5, 1, 42, 3012, 86_400_000, 1e300} {
			s := Sketch{}
			s.Add(x)
			for _, q := range []float64{0, 0.5, 1} {
				got, ok := s.Quantile(q)
				if !ok || skRelErr(got, x) > skTolerance {
					t.Errorf("Add(%v); Quantile(%v) = %v, %v", x, q, got, ok)
				}
			}
			if len(s) != 1 || s.Count() != 1 {
				t.Errorf("Add(%v): %v", x, s)
			}
		}
	})
	t.Run("zero and negative", func(t *testing.T) {
		s := Sketch{}
		s.Add(0)
		s.Add(-5)
		s.Add(math.Inf(-1))
		if s[SketchZeroIndex] != 3 || len(s) != 1 {
			t.Fatalf("sketch %v", s)
		}
		if v, ok := s.Quantile(1); !ok || v != 0 {
			t.Errorf("Quantile(1) = %v, %v; want 0", v, ok)
		}
		s.Add(10)
		if v, _ := s.Quantile(0); v != 0 {
			t.Errorf("Quantile(0) = %v, want 0", v)
		}
		if v, _ := s.Quantile(0.5); v != 0 { // rank floor(0.5*3) = 1: a zero
			t.Errorf("Quantile(0.5) = %v, want 0", v)
		}
		if v, _ := s.Quantile(1); skRelErr(v, 10) > skTolerance {
			t.Errorf("Quantile(1) = %v, want 10", v)
		}
	})
	t.Run("q bounds", func(t *testing.T) {
		s := skOf([]float64{1, 10, 100})
		lo, _ := s.Quantile(0)
		hi, _ := s.Quantile(1)
		if skRelErr(lo, 1) > skTolerance || skRelErr(hi, 100) > skTolerance {
			t.Errorf("Quantile(0), Quantile(1) = %v, %v; want 1, 100", lo, hi)
		}
		if v, ok := s.Quantile(-1); !ok || v != lo {
			t.Errorf("Quantile(-1) = %v, %v; want %v (clamped)", v, ok, lo)
		}
		if v, ok := s.Quantile(2); !ok || v != hi {
			t.Errorf("Quantile(2) = %v, %v; want %v (clamped)", v, ok, hi)
		}
		if _, ok := s.Quantile(math.NaN()); ok {
			t.Error("Quantile(NaN) ok")
		}
	})
	t.Run("odd values", func(t *testing.T) {
		s := Sketch{}
		s.Add(math.NaN())
		if len(s) != 0 {
			t.Errorf("NaN counted: %v", s)
		}
		s.Add(math.Inf(1))
		s.Add(math.MaxFloat64)
		s.Add(math.SmallestNonzeroFloat64)
		if len(s) != 2 || s.Count() != 3 {
			t.Errorf("sketch %v", s)
		}
		if v, _ := s.Quantile(1); skRelErr(v, math.MaxFloat64) > skTolerance {
			t.Errorf("Quantile(1) = %v", v)
		}
		if v, _ := s.Quantile(0); v <= 0 || v > 1e-320 {
			t.Errorf("Quantile(0) = %v", v)
		}
	})
	t.Run("corrupt counts", func(t *testing.T) {
		s := Sketch{skIndex(5): 2, skIndex(500): -7, skIndex(50): 0}
		if s.Count() != 2 {
			t.Errorf("Count = %d", s.Count())
		}
		if v, ok := s.Quantile(1); !ok || skRelErr(v, 5) > skTolerance {
			t.Errorf("Quantile(1) = %v, %v; want 5", v, ok)
		}
	})
}

// TestSketchQuantileRank compares Quantile with a plain walk over the
// sorted buckets, on sketches of many shapes.
func TestSketchQuantileRank(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := range 300 {
		s := Sketch{}
		buckets := 1 + rng.IntN(1+n*7)
		for range buckets {
			s[int32(rng.IntN(4000)-2000)] += 1 + rng.Int64N(1+int64(rng.IntN(3))*1000)
		}
		if rng.IntN(4) == 0 {
			s[SketchZeroIndex] += 1 + rng.Int64N(100)
		}
		keys := slices.Sorted(maps.Keys(s))
		total := s.Count()
		for _, q := range append(slices.Clone(skQuantiles), rng.Float64(), rng.Float64()) {
			rank := q * float64(total-1)
			var seen int64
			var want float64
			for _, k := range keys {
				if seen += s[k]; float64(seen) > rank {
					want = skValue(k)
					break
				}
			}
			if got, ok := s.Quantile(q); !ok || got != want {
				t.Fatalf("%d buckets, Quantile(%v) = %v, %v; want %v", len(s), q, got, ok, want)
			}
		}
	}
}

// skWide spreads n distinct buckets' worth of values over a range far wider
// than SketchMaxBuckets buckets, in random order.
func skWide(n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := make([]float64, n)
	for i := range out {
		out[i] = math.Exp(rng.Float64()*140 - 70) // e^-70 .. e^70: ~7000 buckets
	}
	return out
}

func TestSketchCollapse(t *testing.T) {
	values := skWide(20_000, 1)
	values = append(values, 0, 0, -1)
	s := skOf(values)
	if _, ok := s[SketchZeroIndex]; !ok {
		t.Fatal("zero bucket collapsed")
	}
	if n := len(s) - 1; n != SketchMaxBuckets {
		t.Errorf("%d buckets of positive values, want %d", n, SketchMaxBuckets)
	}
	if s.Count() != int64(len(values)) {
		t.Errorf("Count = %d, want %d", s.Count(), len(values))
	}

	// The buckets kept are the highest ones used; the lowest kept holds
	// everything below it.
	idx := map[int32]int64{}
	for _, v := range values {
		if v > 0 {
			idx[skIndex(v)]++
		}
	}
	all := slices.Sorted(maps.Keys(idx))
	kept := all[len(all)-SketchMaxBuckets:]
	var below int64
	for _, i := range all[:len(all)-SketchMaxBuckets+1] {
		below += idx[i]
	}
	for _, i := range kept[1:] {
		if s[i] != idx[i] {
			t.Fatalf("bucket %d: %d, want %d", i, s[i], idx[i])
		}
	}
	if s[kept[0]] != below {
		t.Errorf("lowest bucket %d: %d, want %d", kept[0], s[kept[0]], below)
	}

	// High quantiles are still within the accuracy.
	slices.Sort(values)
	for _, q := range []float64{0.75, 0.9, 0.99, 1} {
		got, _ := s.Quantile(q)
		if e := skRelErr(got, skExact(values, q)); e > skTolerance {
			t.Errorf("Quantile(%v) = %v, exact %v: relative error %v", q, got, skExact(values, q), e)
		}
	}

	// Order does not matter, nor does merging.
	shuffled := slices.Clone(values)
	rand.New(rand.NewPCG(5, 5)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if !maps.Equal(skOf(shuffled), s) {
		t.Error("the sketch depends on the order of Add")
	}
	a, b := skOf(shuffled[:8_000]), skOf(shuffled[8_000:])
	a.Merge(b)
	if !maps.Equal(a, s) {
		t.Error("a collapsed merge differs from the sketch of the union")
	}
	// Many small sketches (no collapse of their own) merged at once.
	m := Sketch{}
	for i := 0; i < len(shuffled); i += 1000 {
		m.Merge(skOf(shuffled[i:min(i+1000, len(shuffled))]))
	}
	if !maps.Equal(m, s) {
		t.Error("a merge of many sketches differs from the sketch of the union")
	}
}

func BenchmarkSketchAdd(b *testing.B) {
	values := skData("lognormal", 1<<16, 1)
	s := skOf(values)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.Add(values[i&(len(values)-1)])
		i++
	}
}

func BenchmarkSketchMerge(b *testing.B) {
	// A window of panes: merge a pane of 1000 latencies into a sketch.
	pane := skOf(skData("bimodal", 1000, 1))
	acc := skOf(skData("bimodal", 100_000, 2))
	b.Logf("pane %d buckets, window %d buckets", len(pane), len(acc))
	b.ReportAllocs()
	for b.Loop() {
		acc.Merge(pane)
	}
}

func BenchmarkSketchQuantile(b *testing.B) {
	for _, name := range []string{"bimodal", "lognormal"} {
		s := skOf(skData(name, 100_000, 1))
		b.Run(name, func(b *testing.B) {
			b.Logf("%d buckets", len(s))
			b.ReportAllocs()
			for b.Loop() {
				_, _ = s.Quantile(0.99)
			}
		})
	}
}

func BenchmarkSketchCount(b *testing.B) {
	s := skOf(skData("lognormal", 100_000, 1))
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Count()
	}
}

// BenchmarkSketchAddCollapsing adds values below the lowest bucket of a
// sketch at its cap: the worst case, each Add collapses.
func BenchmarkSketchAddCollapsing(b *testing.B) {
	s := Sketch{}
	for i := range SketchMaxBuckets {
		s.Add(math.Pow(skGamma, float64(i)))
	}
	b.ReportAllocs()
	for b.Loop() {
		s.Add(1e-6)
	}
}

// TestSketchBinary: the binary form (partials and state) round-trips,
// merges like the map, and rejects garbage with an error.
func TestSketchBinary(t *testing.T) {
	a, b := Sketch{}, Sketch{}
	for i := 1; i <= 500; i++ {
		a.Add(float64(i))
		b.Add(float64(i) * 3.7)
	}
	a.Add(0)
	a.Add(-5)
	got := Sketch{}
	if err := got.MergeBinary(a.AppendBinary(nil)); err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("round trip: %v\n%v\n%v", err, got, a)
	}
	if err := got.MergeBinary(b.AppendBinary(nil)); err != nil {
		t.Fatal(err)
	}
	want := Sketch{}
	want.Merge(a)
	want.Merge(b)
	if !reflect.DeepEqual(got, want) {
		t.Fatal("binary merge differs from map merge")
	}
	if (Sketch{}).AppendBinary(nil) != nil {
		t.Error("an empty sketch has bytes")
	}
	for _, bad := range [][]byte{{0x80}, {0, 0x80}, {0, 2}, {0, 0xfe, 0xff, 0xff, 0xff, 0x1f, 1}} {
		if err := (Sketch{}).MergeBinary(bad); err == nil {
			t.Errorf("%x accepted", bad)
		}
	}
}

func FuzzSketchBinary(f *testing.F) {
	s := Sketch{}
	for i := 1; i < 50; i++ {
		s.Add(float64(i * i))
	}
	f.Add(s.AppendBinary(nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		sk := Sketch{}
		if err := sk.MergeBinary(b); err != nil {
			return
		}
		back := Sketch{}
		if err := back.MergeBinary(sk.AppendBinary(nil)); err != nil {
			t.Fatalf("re-encoding of a decoded sketch does not decode: %v", err)
		}
		if back.Count() != sk.Count() {
			t.Fatalf("count %d, want %d", back.Count(), sk.Count())
		}
	})
}
