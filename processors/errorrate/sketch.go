package errorrate

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
)

// Parameters of Sketch.
const (
	// SketchRelativeAccuracy bounds the relative error of a quantile:
	// |Quantile(q) - x| <= SketchRelativeAccuracy * x, where x is the
	// exact quantile (the sample of rank floor(q*(n-1))), unless buckets
	// were collapsed below it.
	SketchRelativeAccuracy = 0.01
	// SketchMaxBuckets caps the number of buckets of positive values.
	SketchMaxBuckets = 2048
	// SketchZeroIndex is the bucket of values <= 0; its value is 0.
	SketchZeroIndex int32 = math.MinInt32
)

var (
	skGamma       = (1 + SketchRelativeAccuracy) / (1 - SketchRelativeAccuracy)
	skLogGamma    = math.Log(skGamma)
	skInvLogGamma = 1 / skLogGamma
	// log(2/(gamma+1)): bucket i stands for 2*gamma^i/(gamma+1).
	skLogRepFactor = math.Log(2 / (skGamma + 1))
)

// Sketch is a mergeable quantile sketch of latencies in milliseconds,
// after DDSketch: bucket i counts the values x with
// gamma^(i-1) < x <= gamma^i, gamma = (1+a)/(1-a), a = SketchRelativeAccuracy,
// that is i = ceil(log_gamma(x)); a bucket stands for 2*gamma^i/(gamma+1),
// within a of every value in it. Values <= 0 are counted in
// SketchZeroIndex. It is a map, bucket index to count, because it is
// persisted as an Avro map.
//
// The buckets of positive values are capped at SketchMaxBuckets, about 17
// orders of magnitude at 1% (1 ns to a day is 14): past the cap, the lowest
// buckets are collapsed into the lowest one kept, so that the high
// quantiles, the ones that matter for latency, stay accurate, and only
// quantiles that fall in the collapsed range are overestimated. The buckets
// kept are then the SketchMaxBuckets highest indexes ever used, whatever the
// order of Add and Merge: a merge of sketches is the sketch of the union of
// their values. The cap is a safety net against garbage values: once it is
// reached, an Add that opens a bucket costs a pass over the buckets.
//
// A nil Sketch can be read and passed to Merge but not added or merged to;
// use make(Sketch) or Sketch{}. Counts are expected to be positive: buckets
// with a count <= 0 (from a corrupt record) are ignored by Count and
// Quantile.
type Sketch map[int32]int64

// Add counts one value. NaN is ignored; +Inf counts as the largest float.
func (s Sketch) Add(ms float64) {
	var i int32
	switch {
	case ms > 0:
		i = skIndex(ms)
	case ms <= 0:
		i = SketchZeroIndex
	default: // NaN
		return
	}
	n := len(s)
	s[i]++
	if len(s) > n && len(s) > SketchMaxBuckets {
		s.collapse()
	}
}

// skIndex is the bucket of ms > 0. Every positive float64 has one in
// [-37400, 35900], so it fits an int32.
func skIndex(ms float64) int32 {
	const smallestNormal = 0x1p-1022
	var l float64
	switch {
	case ms > math.MaxFloat64:
		l = math.Log(math.MaxFloat64)
	case ms < smallestNormal:
		// math.Log is not exact for subnormals (on amd64).
		frac, exp := math.Frexp(ms)
		l = math.Log(frac) + float64(exp)*math.Ln2
	default:
		l = math.Log(ms)
	}
	return int32(math.Ceil(l * skInvLogGamma))
}

// skValue is the value that bucket i stands for.
func skValue(i int32) float64 {
	if i == SketchZeroIndex {
		return 0
	}
	// exp(i*log(gamma) + log(rep)): gamma^i alone overflows for the
	// bucket of MaxFloat64.
	return min(math.Exp(float64(i)*skLogGamma+skLogRepFactor), math.MaxFloat64)
}

// Merge adds the counts of o to s. o may be nil.
func (s Sketch) Merge(o Sketch) {
	for i, c := range o {
		s[i] += c
	}
	if len(s) > SketchMaxBuckets {
		s.collapse()
	}
}

// Count is the number of values counted.
func (s Sketch) Count() int64 {
	var n int64
	for _, c := range s {
		if c > 0 {
			n += c
		}
	}
	return n
}

type skBucket struct {
	i int32
	c int64
}

// Quantile estimates the q-quantile (0 <= q <= 1; q is clamped) of the
// values counted: the value of the bucket that holds the value of rank
// floor(q*(Count()-1)). False when the sketch is empty or q is NaN. It
// costs a pass over the buckets and, for up to SketchMaxBuckets+1 of them,
// allocates nothing.
func (s Sketch) Quantile(q float64) (float64, bool) {
	if q != q || len(s) == 0 {
		return 0, false
	}
	q = min(max(q, 0), 1)
	var stack [SketchMaxBuckets + 1]skBucket
	bs := stack[:0]
	var total int64
	for i, c := range s {
		if c > 0 {
			bs = append(bs, skBucket{i, c})
			total += c
		}
	}
	if total == 0 {
		return 0, false
	}
	return skValue(skSelect(bs, q*float64(total-1))), true
}

// skSelect returns the index of the first bucket, in the order of indexes,
// where the cumulative count exceeds rank (0 <= rank < the total count):
// a quickselect weighted by the counts, expected linear. bs is reordered.
func skSelect(bs []skBucket, rank float64) int32 {
	for len(bs) > 1 {
		// The buckets come in map order, which is random: the middle
		// one is a random pivot.
		last := len(bs) - 1
		bs[len(bs)/2], bs[last] = bs[last], bs[len(bs)/2]
		p := bs[last].i
		lo, below := 0, int64(0)
		for k := range last {
			if bs[k].i < p {
				below += bs[k].c
				bs[k], bs[lo] = bs[lo], bs[k]
				lo++
			}
		}
		bs[lo], bs[last] = bs[last], bs[lo]
		// bs[:lo] < p == bs[lo].i < bs[lo+1:]
		switch upto := below + bs[lo].c; {
		case rank < float64(below):
			bs = bs[:lo]
		case rank < float64(upto):
			return p
		default:
			rank -= float64(upto)
			bs = bs[lo+1:]
		}
	}
	return bs[0].i
}

// collapse folds the lowest buckets of positive values into the lowest of
// the SketchMaxBuckets highest.
func (s Sketch) collapse() {
	n := len(s)
	if _, ok := s[SketchZeroIndex]; ok {
		n--
	}
	excess := n - SketchMaxBuckets
	if excess <= 0 {
		return
	}
	if excess == 1 { // the usual case, one bucket over: no sort
		lo, lo2 := int32(math.MaxInt32), int32(math.MaxInt32)
		for i := range s {
			switch {
			case i == SketchZeroIndex:
			case i < lo:
				lo, lo2 = i, lo
			case i < lo2:
				lo2 = i
			}
		}
		s[lo2] += s[lo]
		delete(s, lo)
		return
	}
	keys := make([]int32, 0, n)
	for i := range s {
		if i != SketchZeroIndex {
			keys = append(keys, i)
		}
	}
	slices.Sort(keys)
	keep := keys[excess]
	for _, i := range keys[:excess] {
		s[keep] += s[i]
		delete(s, i)
	}
}

// AppendBinary appends the sketch's binary form to b: the count of the
// zero bucket, then each other bucket in order of index as the difference
// from the previous index and its count, all varints. A pane's sketch is
// a few hundred bytes this way instead of an Avro map of decimal strings,
// and its encoding costs no allocation per bucket.
func (s Sketch) AppendBinary(b []byte) []byte {
	if len(s) == 0 {
		return b
	}
	b = binary.AppendUvarint(b, uint64(max(s[SketchZeroIndex], 0)))
	var stack [256]int32
	keys := stack[:0]
	for i, c := range s {
		if i != SketchZeroIndex && c > 0 {
			keys = append(keys, i)
		}
	}
	slices.Sort(keys)
	prev := int64(0)
	for _, i := range keys {
		b = binary.AppendVarint(b, int64(i)-prev)
		b = binary.AppendUvarint(b, uint64(s[i]))
		prev = int64(i)
	}
	return b
}

// ErrBadSketch is returned by MergeBinary for bytes that are no sketch.
var ErrBadSketch = errors.New("errorrate: malformed latency sketch")

// MergeBinary adds the buckets of a sketch in binary form (AppendBinary)
// to s.
func (s Sketch) MergeBinary(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	zero, n := binary.Uvarint(b)
	if n <= 0 || zero > math.MaxInt64 {
		return ErrBadSketch
	}
	b = b[n:]
	if zero > 0 {
		s[SketchZeroIndex] += int64(zero)
	}
	prev := int64(0)
	for len(b) > 0 {
		d, n := binary.Varint(b)
		if n <= 0 {
			return ErrBadSketch
		}
		b = b[n:]
		c, m := binary.Uvarint(b)
		if m <= 0 || c > math.MaxInt64 {
			return ErrBadSketch
		}
		b = b[m:]
		i := prev + d
		if i <= math.MinInt32 || i > math.MaxInt32 {
			return ErrBadSketch
		}
		s[int32(i)] += int64(c)
		prev = i
	}
	if len(s) > SketchMaxBuckets {
		s.collapse()
	}
	return nil
}
