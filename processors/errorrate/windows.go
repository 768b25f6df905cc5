package errorrate

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/logstream/logstream/schemas"
)

// Windows are the stage's event-time windows: tumbling windows of size
// Tumbling, and hopping windows of size HoppingSize starting every
// HoppingAdvance. Both are aligned to the epoch, as Kafka Streams aligns
// them. A window [start, end) closes when the host's stream time passes
// end + Grace; an event for a closed window is late.
type Windows struct {
	Tumbling       time.Duration
	HoppingSize    time.Duration // 0: no hopping windows
	HoppingAdvance time.Duration
	Grace          time.Duration
}

// Defaults of Windows.
const (
	DefaultTumbling       = time.Minute
	DefaultHoppingSize    = 5 * time.Minute
	DefaultHoppingAdvance = time.Minute
	DefaultGrace          = 30 * time.Second
)

// DefaultWindows returns 1 m tumbling, 5 m hopping by 1 m, 30 s grace.
func DefaultWindows() Windows {
	return Windows{Tumbling: DefaultTumbling, HoppingSize: DefaultHoppingSize, HoppingAdvance: DefaultHoppingAdvance, Grace: DefaultGrace}
}

// Validate reports the first setting that cannot work.
func (w Windows) Validate() error {
	switch {
	case w.Tumbling < time.Second || w.Tumbling%time.Millisecond != 0:
		return fmt.Errorf("errorrate: tumbling window %s: must be at least 1s, in whole milliseconds", w.Tumbling)
	case w.HoppingSize < 0 || w.HoppingAdvance < 0 || w.Grace < 0:
		return errors.New("errorrate: window sizes and grace must not be negative")
	case w.HoppingSize > 0 && (w.HoppingAdvance <= 0 || w.HoppingAdvance > w.HoppingSize):
		return fmt.Errorf("errorrate: hopping window %s advancing by %s: the advance must be positive and at most the size", w.HoppingSize, w.HoppingAdvance)
	case w.HoppingSize > 0 && (w.HoppingSize%time.Millisecond != 0 || w.HoppingAdvance%time.Millisecond != 0):
		return errors.New("errorrate: hopping window size and advance must be whole milliseconds")
	case w.HoppingSize > 24*time.Hour || w.Tumbling > 24*time.Hour:
		return errors.New("errorrate: windows longer than 24h are not supported")
	}
	if p := w.pane(); w.longest()/p > 1440 {
		return fmt.Errorf("errorrate: windows %s and %s/%s share panes of only %dms: more than 1440 panes per window", w.Tumbling, w.HoppingSize, w.HoppingAdvance, p)
	}
	return nil
}

// pane is the slice every window is made of (ms): the greatest common
// divisor of the sizes and the advance. A window's counts are the merge of
// its panes', so an event is added once, not once per hopping window.
func (w Windows) pane() int64 {
	p := w.Tumbling.Milliseconds()
	if w.HoppingSize > 0 {
		p = gcd(gcd(p, w.HoppingSize.Milliseconds()), w.HoppingAdvance.Milliseconds())
	}
	return p
}

func (w Windows) longest() int64 {
	return max(w.Tumbling.Milliseconds(), w.HoppingSize.Milliseconds())
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// floorDiv rounds toward negative infinity (event times before 1970 are
// valid, if odd).
func floorTo(t, step int64) int64 {
	q := t / step
	if t%step != 0 && t < 0 {
		q--
	}
	return q * step
}

// window is one window's bounds and kind.
type window struct {
	kind       string
	start, end int64
}

// tumblingOf returns the tumbling window holding t.
func (w Windows) tumblingOf(t int64) window {
	size := w.Tumbling.Milliseconds()
	s := floorTo(t, size)
	return window{schemas.WindowTumbling, s, s + size}
}

// currentHopping returns the hopping window that ends first after t: the
// latest HoppingSize of traffic up to t.
func (w Windows) currentHopping(t int64) window {
	adv, size := w.HoppingAdvance.Milliseconds(), w.HoppingSize.Milliseconds()
	end := floorTo(t, adv) + adv
	return window{schemas.WindowHopping, end - size, end}
}

// late reports whether an event at t is for a window already closed: its
// tumbling window (the first of its windows to close) is.
func (w Windows) late(st *schemas.ErrorRateState, t int64) bool {
	return w.tumblingOf(t).end <= st.TumblingClosed
}

// add counts an event in its pane.
func (w Windows) add(st *schemas.ErrorRateState, t int64) *schemas.Pane {
	start := floorTo(t, w.pane())
	i := sort.Search(len(st.Panes), func(i int) bool { return st.Panes[i].Start >= start })
	if i == len(st.Panes) || st.Panes[i].Start != start {
		st.Panes = append(st.Panes, schemas.Pane{})
		copy(st.Panes[i+1:], st.Panes[i:])
		st.Panes[i] = schemas.Pane{Start: start}
	}
	return &st.Panes[i]
}

// closing returns the windows that close when the host's clock reaches
// now (stream time, or the wall-clock estimate for a silent host), in
// order of end, and advances the closed marks. Windows without events are
// not returned: there is nothing to report.
func (w Windows) closing(st *schemas.ErrorRateState, now int64) []window {
	limit := now - w.Grace.Milliseconds() // windows ending at or before it close
	var out []window
	size := w.Tumbling.Milliseconds()
	if c := floorTo(limit, size); c > st.TumblingClosed {
		seen := map[int64]bool{}
		for _, p := range st.Panes {
			tw := w.tumblingOf(p.Start)
			if tw.end > st.TumblingClosed && tw.end <= c && !seen[tw.start] {
				seen[tw.start] = true
				out = append(out, tw)
			}
		}
		w.recordRecent(st, c)
		st.TumblingClosed = c
	}
	if w.HoppingSize > 0 {
		adv, hsize := w.HoppingAdvance.Milliseconds(), w.HoppingSize.Milliseconds()
		if c := floorTo(limit-hsize, adv) + hsize; c > st.HoppingClosed {
			seen := map[int64]bool{}
			for _, p := range st.Panes {
				// Hopping windows holding the pane: starts in (p-hsize, p].
				for s := floorTo(p.Start, adv); s > p.Start-hsize; s -= adv {
					e := s + hsize
					if e > st.HoppingClosed && e <= c && !seen[s] {
						seen[s] = true
						out = append(out, window{schemas.WindowHopping, s, e})
					}
				}
			}
			st.HoppingClosed = c
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].end != out[j].end {
			return out[i].end < out[j].end
		}
		return out[i].kind > out[j].kind // tumbling first
	})
	return out
}

// recentWindows is how many closed tumbling windows Recent keeps;
// recentZeros how many empty ones at most it ends with.
const (
	recentWindows = 5
	recentZeros   = recentWindows - 3
)

// recordRecent appends the event counts of the tumbling windows closing
// up to c (zero for windows without events) to st.Recent. A run of empty
// windows at the end is kept to recentZeros: a silence longer than that
// must not push the windows before it out (silentDue looks at the three
// before the zeros).
func (w Windows) recordRecent(st *schemas.ErrorRateState, c int64) {
	size := w.Tumbling.Milliseconds()
	from := st.TumblingClosed
	if from == 0 {
		from = floorTo(firstPane(st), size)
	}
	// Windows with events have panes (not pruned before they close).
	last := from // end of the last of them
	for _, p := range st.Panes {
		if p.Start >= from && p.Start < c {
			last = max(last, floorTo(p.Start, size)+size)
		}
	}
	for s := max(from, last-recentWindows*size); s < min(c, last+recentZeros*size); s += size {
		var n int64
		for _, p := range st.Panes {
			if p.Start >= s && p.Start < s+size {
				n += p.Events
			}
		}
		st.Recent = append(st.Recent, n)
	}
	z := 0
	for z < len(st.Recent) && st.Recent[len(st.Recent)-1-z] == 0 {
		z++
	}
	if z > recentZeros {
		st.Recent = st.Recent[:len(st.Recent)-z+recentZeros]
	}
	if len(st.Recent) > recentWindows {
		st.Recent = append(st.Recent[:0], st.Recent[len(st.Recent)-recentWindows:]...)
	}
}

func firstPane(st *schemas.ErrorRateState) int64 {
	if len(st.Panes) == 0 {
		return 0
	}
	return st.Panes[0].Start
}

// prune drops panes no open window holds.
func (w Windows) prune(st *schemas.ErrorRateState) {
	keep := st.TumblingClosed
	if w.HoppingSize > 0 {
		// The earliest open hopping window starts one advance after the
		// latest closed one did.
		keep = min(keep, st.HoppingClosed-w.HoppingSize.Milliseconds()+w.HoppingAdvance.Milliseconds())
	}
	pane := w.pane()
	i := 0
	for i < len(st.Panes) && st.Panes[i].Start+pane <= keep {
		i++
	}
	if i > 0 {
		st.Panes = append(st.Panes[:0], st.Panes[i:]...)
	}
}

// summary is a window's merged panes.
type summary struct {
	events, errors int64
	firstError     int64
	latency        Sketch
	signatures     map[string]*schemas.SignatureCount
	samples        []schemas.Sample
}

// merge merges the panes of win.
func (w Windows) merge(st *schemas.ErrorRateState, win window) summary {
	s := summary{latency: Sketch{}, signatures: map[string]*schemas.SignatureCount{}}
	for _, p := range st.Panes {
		if p.Start < win.start || p.Start >= win.end {
			continue
		}
		s.events += p.Events
		s.errors += p.Errors
		if p.FirstError != 0 && (s.firstError == 0 || p.FirstError < s.firstError) {
			s.firstError = p.FirstError
		}
		s.latency.Merge(Sketch(p.Latency))
		for _, sc := range p.Signatures {
			if cur := s.signatures[sc.Signature]; cur != nil {
				cur.Count += sc.Count
			} else {
				c := sc
				s.signatures[sc.Signature] = &c
			}
		}
		s.samples = append(s.samples, p.Samples...)
	}
	return s
}

// hostWindow renders a merged window as the record the stage writes.
func (s summary) hostWindow(host string, win window, topSignatures, samples int) *schemas.HostWindow {
	hw := &schemas.HostWindow{
		Host: host, Kind: win.kind, Start: win.start, End: win.end,
		Events: s.events, Errors: s.errors, LatencyCount: s.latency.Count(),
		Signatures: []schemas.Signature{}, Samples: []schemas.TraceSample{},
	}
	if s.events > 0 {
		hw.ErrorRate = float64(s.errors) / float64(s.events)
	}
	if s.firstError != 0 {
		fe := s.firstError
		hw.FirstError = &fe
	}
	for _, q := range []struct {
		q   float64
		dst **float64
	}{{0.50, &hw.LatencyP50}, {0.95, &hw.LatencyP95}, {0.99, &hw.LatencyP99}} {
		if v, ok := s.latency.Quantile(q.q); ok {
			*q.dst = &v
		}
	}
	sigs := make([]schemas.SignatureCount, 0, len(s.signatures))
	for _, sc := range s.signatures {
		sigs = append(sigs, *sc)
	}
	sort.Slice(sigs, func(i, j int) bool {
		if sigs[i].Count != sigs[j].Count {
			return sigs[i].Count > sigs[j].Count
		}
		return sigs[i].Signature < sigs[j].Signature
	})
	for i := 0; i < len(sigs) && i < topSignatures; i++ {
		hw.Signatures = append(hw.Signatures, schemas.Signature{Signature: sigs[i].Signature, Count: sigs[i].Count, Example: sigs[i].Example})
	}
	// Samples joined with their span first (they show the slow call),
	// then by time.
	sm := append([]schemas.Sample(nil), s.samples...)
	sort.SliceStable(sm, func(i, j int) bool {
		ji, jj := sm[i].SpanService != "", sm[j].SpanService != ""
		if ji != jj {
			return ji
		}
		return sm[i].Timestamp < sm[j].Timestamp
	})
	for i := 0; i < len(sm) && i < samples; i++ {
		ts := schemas.TraceSample{TraceID: sm[i].TraceID, EventID: sm[i].EventID, Timestamp: sm[i].Timestamp,
			Message: sm[i].Message, SpanService: sm[i].SpanService, SpanOperation: sm[i].SpanOperation}
		if sm[i].SpanDurationUs >= 0 {
			d := sm[i].SpanDurationUs
			ts.SpanDurationUs = &d
		}
		hw.Samples = append(hw.Samples, ts)
	}
	return hw
}
