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
// them. A window [start, end) closes when the watermark passes end +
// Grace; an event for a closed window is late.
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

// Pane is the slice every window is made of: the greatest common divisor
// of the sizes and the advance. A window's counts are the merge of its
// panes', so an event is added once, not once per hopping window.
func (w Windows) Pane() time.Duration { return time.Duration(w.pane()) * time.Millisecond }

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

// floorTo rounds t down to a multiple of step, toward negative infinity
// (event times before 1970 are valid, if odd).
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

// late reports whether an event at t is for a window of h already closed:
// its tumbling window (the first of its windows to close) is.
func (w Windows) late(h *schemas.PartitionHost, t int64) bool {
	return w.tumblingOf(t).end <= h.TumblingClosed
}

// pane returns h's pane holding t, adding it if need be.
func (w Windows) paneOf(h *schemas.PartitionHost, t int64) *schemas.PartitionPane {
	start := floorTo(t, w.pane())
	i := sort.Search(len(h.Panes), func(i int) bool { return h.Panes[i].Start >= start })
	if i == len(h.Panes) || h.Panes[i].Start != start {
		h.Panes = append(h.Panes, schemas.PartitionPane{})
		copy(h.Panes[i+1:], h.Panes[i:])
		h.Panes[i] = schemas.PartitionPane{Start: start}
	}
	return &h.Panes[i]
}

// closing returns the windows of h that close when the watermark reaches
// now, in order of end, and advances h's closed marks. Windows without
// events are not returned: there is nothing to report.
func (w Windows) closing(h *schemas.PartitionHost, now int64) []window {
	limit := now - w.Grace.Milliseconds() // windows ending at or before it close
	var out []window
	size := w.Tumbling.Milliseconds()
	if c := floorTo(limit, size); c > h.TumblingClosed {
		seen := map[int64]bool{}
		for _, p := range h.Panes {
			tw := w.tumblingOf(p.Start)
			if tw.end > h.TumblingClosed && tw.end <= c && !seen[tw.start] && p.Events > 0 {
				seen[tw.start] = true
				out = append(out, tw)
			}
		}
		h.TumblingClosed = c
	}
	if w.HoppingSize > 0 {
		adv, hsize := w.HoppingAdvance.Milliseconds(), w.HoppingSize.Milliseconds()
		if c := floorTo(limit-hsize, adv) + hsize; c > h.HoppingClosed {
			seen := map[int64]bool{}
			for _, p := range h.Panes {
				if p.Events == 0 {
					continue
				}
				// Hopping windows holding the pane: starts in (p-hsize, p].
				for s := floorTo(p.Start, adv); s > p.Start-hsize; s -= adv {
					e := s + hsize
					if e > h.HoppingClosed && e <= c && !seen[s] {
						seen[s] = true
						out = append(out, window{schemas.WindowHopping, s, e})
					}
				}
			}
			h.HoppingClosed = c
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

// prune drops panes no open window holds.
func (w Windows) prune(h *schemas.PartitionHost) {
	keep := h.TumblingClosed
	if w.HoppingSize > 0 {
		// The earliest open hopping window starts one advance after the
		// latest closed one did.
		keep = min(keep, h.HoppingClosed-w.HoppingSize.Milliseconds()+w.HoppingAdvance.Milliseconds())
	}
	pane := w.pane()
	i := 0
	for i < len(h.Panes) && h.Panes[i].Start+pane <= keep {
		i++
	}
	if i > 0 {
		h.Panes = append(h.Panes[:0], h.Panes[i:]...)
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

// merge merges the panes of h in win.
func (w Windows) merge(h *schemas.PartitionHost, win window) summary {
	s := summary{latency: Sketch{}, signatures: map[string]*schemas.SignatureCount{}}
	for _, p := range h.Panes {
		if p.Start < win.start || p.Start >= win.end {
			continue
		}
		s.events += p.Events
		s.errors += p.Errors
		if p.FirstError != 0 && (s.firstError == 0 || p.FirstError < s.firstError) {
			s.firstError = p.FirstError
		}
		// The stage wrote it; a bad sketch only loses latencies.
		_ = s.latency.MergeBinary(p.Latency)
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
		if sm[i].Timestamp != sm[j].Timestamp {
			return sm[i].Timestamp < sm[j].Timestamp
		}
		return sm[i].EventID < sm[j].EventID
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

// Bounds of one pane's details; counts are never bounded.
const (
	maxPaneSignatures = 8
	maxPaneSamples    = 3
)

// addSignature counts n errors of signature sig in a pane's list, bounded:
// a signature that does not fit is counted in the pane's errors only.
func addSignature(sigs []schemas.SignatureCount, sig, example string, n int64) []schemas.SignatureCount {
	for i := range sigs {
		if sigs[i].Signature == sig {
			sigs[i].Count += n
			return sigs
		}
	}
	if len(sigs) < maxPaneSignatures {
		sigs = append(sigs, schemas.SignatureCount{Signature: sig, Count: n, Example: clip(example, 200)})
	}
	return sigs
}

// addSample keeps a few samples per pane, preferring those joined with
// their span (they name the slow call): a joined sample replaces its own
// unjoined one, or any unjoined one. It reports whether the pane changed.
func addSample(samples []schemas.Sample, s schemas.Sample) ([]schemas.Sample, bool) {
	for i := range samples {
		if samples[i].EventID == s.EventID {
			if s.SpanService != "" && samples[i].SpanService == "" {
				samples[i] = s
				return samples, true
			}
			return samples, false
		}
	}
	if len(samples) < maxPaneSamples {
		return append(samples, s), true
	}
	if s.SpanService == "" {
		return samples, false
	}
	for i := range samples {
		if samples[i].SpanService == "" {
			samples[i] = s
			return samples, true
		}
	}
	return samples, false
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
