package codecs

import (
	"errors"
	"slices"
	"strconv"

	"github.com/logstream/logstream/schemas"
)

// Typed codecs of the records the errorrate stage and the alerter write
// once per tick or transaction (hostwindow/, windowupdate/,
// errorratepartial/, errorratepartition/). They are not on the per-event
// path, but an ErrorRatePartition is tens of kilobytes, read and written
// once per partition and tick, where goavro's map form costs thousands of
// allocations. Each decodes as the goavro path did: an empty array is a
// nil slice, empty bytes are nil.

// ---- shared pieces ----

// appendArray writes items as one block.
func appendArray[E any](b []byte, items []E, write func([]byte, *E) []byte) []byte {
	b = appendBlockCount(b, len(items))
	for i := range items {
		b = write(b, &items[i])
	}
	return appendBlocksEnd(b)
}

// readArray reads an array, nil when empty, pre-sized from a block's count
// bounded by the bytes left over minSize, the smallest encoding of an
// item.
func readArray[E any](r *reader, minSize int, read func(*reader, *E)) []E {
	var out []E
	for {
		n, end := r.block()
		if n == 0 {
			return out
		}
		out = slices.Grow(out, min(n, r.left()/minSize))
		var zero E
		for ; n > 0 && r.err == nil; n-- {
			// Read into the slice: a local item would escape through read.
			out = append(out, zero)
			read(r, &out[len(out)-1])
		}
		r.blockEnd(end)
	}
}

// bytesOrNil reads bytes, nil when empty.
func (r *reader) bytesOrNil() []byte {
	if b := r.bytes(); len(b) > 0 {
		return b
	}
	return nil
}

func appendTick(b []byte, t *schemas.TickCount) []byte {
	return appendLong(appendLong(appendLong(b, t.Start), t.Events), t.Errors)
}

func readTick(r *reader, t *schemas.TickCount) {
	t.Start, t.Events, t.Errors = r.long(), r.long(), r.long()
}

func appendSignatureCount(b []byte, s *schemas.SignatureCount) []byte {
	return appendString(appendLong(appendString(b, s.Signature), s.Count), s.Example)
}

func readSignatureCount(r *reader, s *schemas.SignatureCount) {
	s.Signature = r.str()
	s.Count = r.long()
	s.Example = r.str()
}

func appendSample(b []byte, s *schemas.Sample) []byte {
	b = appendString(b, s.TraceID)
	b = appendString(b, s.EventID)
	b = appendLong(b, s.Timestamp)
	b = appendString(b, s.Message)
	b = appendString(b, s.SpanService)
	b = appendString(b, s.SpanOperation)
	return appendLong(b, s.SpanDurationUs)
}

func readSample(r *reader, s *schemas.Sample) {
	s.TraceID = r.str()
	s.EventID = r.str()
	s.Timestamp = r.long()
	s.Message = r.str()
	s.SpanService = r.str()
	s.SpanOperation = r.str()
	s.SpanDurationUs = r.long()
}

func appendWatermark(b []byte, w *schemas.WatermarkState) []byte {
	b = appendArray(b, w.Channels, func(b []byte, c *schemas.WatermarkChannel) []byte {
		b = appendString(b, c.Channel)
		b = appendString(b, c.Kind)
		b = appendLong(b, c.Time)
		b = appendLong(b, c.Seq)
		return appendBool(b, c.Local)
	})
	b = appendArray(b, w.Groups, func(b []byte, s *string) []byte { return appendString(b, *s) })
	return appendLong(appendLong(b, w.Watermark), w.WokeAt)
}

func readWatermark(r *reader, w *schemas.WatermarkState) {
	w.Channels = readArray(r, 5, func(r *reader, c *schemas.WatermarkChannel) {
		c.Channel = r.str()
		c.Kind = r.str()
		c.Time = r.long()
		c.Seq = r.long()
		c.Local = r.boolean()
	})
	w.Groups = readArray(r, 1, func(r *reader, s *string) { *s = r.str() })
	w.Watermark = r.long()
	w.WokeAt = r.long()
}

// appendBuckets writes a map keyed by int32 with decimal keys, as
// bucketsToNative does.
func appendBuckets(b []byte, m map[int32]int64) []byte {
	if len(m) > 0 {
		b = appendLong(b, int64(len(m)))
		var key [12]byte
		for k, n := range m {
			b = appendBytes(b, strconv.AppendInt(key[:0], int64(k), 10))
			b = appendLong(b, n)
		}
	}
	return append(b, 0)
}

var errBucketKey = errors.New("map key is not a decimal int32")

// readBuckets reads what appendBuckets writes, non-nil; a key that is not
// the canonical decimal form of an int32 is an error, as for the goavro
// path (so no two keys name one entry).
func (r *reader) buckets() map[int32]int64 {
	var m map[int32]int64
	for {
		n, end := r.block()
		if n == 0 {
			break
		}
		if m == nil {
			// An entry takes at least three bytes: a one-digit key and a value.
			m = make(map[int32]int64, min(n, r.left()/3))
		}
		for ; n > 0 && r.err == nil; n-- {
			k := r.str()
			i, err := strconv.ParseInt(k, 10, 32)
			if err != nil || strconv.FormatInt(i, 10) != k {
				r.fail(errBucketKey)
				break
			}
			had := len(m)
			if m[int32(i)] = r.long(); len(m) == had {
				r.fail(errDuplicateKey)
			}
		}
		r.blockEnd(end)
	}
	if m == nil {
		m = map[int32]int64{}
	}
	return m
}

// ---- ErrorRatePartial (errorratepartial/v1) ----

func appendErrorRatePartial(b []byte, v *schemas.ErrorRatePartial) ([]byte, error) {
	return appendArray(b, v.Hosts, func(b []byte, h *schemas.PartialHost) []byte {
		b = appendString(b, h.Host)
		b = appendArray(b, h.Ticks, appendTick)
		b = appendArray(b, h.Panes, func(b []byte, p *schemas.PartialPane) []byte {
			b = appendLong(b, p.Start)
			b = appendLong(b, p.FirstError)
			b = appendBytes(b, p.Latency)
			b = appendArray(b, p.Signatures, appendSignatureCount)
			return appendArray(b, p.Samples, appendSample)
		})
		return appendLong(b, h.Future)
	}), nil
}

func readErrorRatePartial(body []byte) (*schemas.ErrorRatePartial, error) {
	r := newReader(body)
	v := &schemas.ErrorRatePartial{Hosts: readArray(&r, 4, func(r *reader, h *schemas.PartialHost) {
		h.Host = r.str()
		h.Ticks = readArray(r, 3, readTick)
		h.Panes = readArray(r, 5, func(r *reader, p *schemas.PartialPane) {
			p.Start = r.long()
			p.FirstError = r.long()
			p.Latency = r.bytesOrNil()
			p.Signatures = readArray(r, 3, readSignatureCount)
			p.Samples = readArray(r, 7, readSample)
		})
		h.Future = r.long()
	})}
	if err := r.done(); err != nil {
		return nil, err
	}
	return v, nil
}

// ---- ErrorRatePartition (errorratepartition/v1) ----

func appendErrorRatePartition(b []byte, v *schemas.ErrorRatePartition) ([]byte, error) {
	b = appendLong(b, v.Applied)
	b = appendLong(b, v.AppliedLoop)
	b = appendWatermark(b, &v.Watermark)
	b = appendLong(b, v.SentTick)
	b = appendLong(b, v.Seq)
	b = appendString(b, v.Status)
	b = appendLong(b, v.StatusAt)
	b = appendLong(b, v.Late)
	b = appendLong(b, v.Future)
	b = appendLong(b, v.LateSamples)
	b = appendBool(b, v.Migrated)
	b = appendArray(b, v.Hosts, func(b []byte, h *schemas.PartitionHost) []byte {
		b = appendString(b, h.Host)
		b = appendLong(b, h.Version)
		b = appendLong(b, h.TumblingClosed)
		b = appendLong(b, h.HoppingClosed)
		b = appendLong(b, h.LastEvent)
		b = appendLong(b, h.Late)
		b = appendBool(b, h.Dirty)
		b = appendArray(b, h.Panes, func(b []byte, p *schemas.PartitionPane) []byte {
			b = appendLong(b, p.Start)
			b = appendLong(b, p.Events)
			b = appendLong(b, p.Errors)
			b = appendLong(b, p.FirstError)
			b = appendBytes(b, p.Latency)
			b = appendArray(b, p.Signatures, appendSignatureCount)
			return appendArray(b, p.Samples, appendSample)
		})
		b = appendArray(b, h.Ticks, appendTick)
		return appendBuckets(b, h.Sources)
	})
	return appendArray(b, v.Emits, func(b []byte, e *schemas.PartitionEmit) []byte {
		b = appendString(b, e.Input)
		b = appendLong(b, e.Offset)
		b = appendString(b, e.Topic)
		b = appendString(b, e.Key)
		return appendBytes(b, e.Value)
	}), nil
}

func readErrorRatePartition(body []byte) (*schemas.ErrorRatePartition, error) {
	r := newReader(body)
	v := new(schemas.ErrorRatePartition)
	v.Applied = r.long()
	v.AppliedLoop = r.long()
	readWatermark(&r, &v.Watermark)
	v.SentTick = r.long()
	v.Seq = r.long()
	v.Status = r.str()
	v.StatusAt = r.long()
	v.Late = r.long()
	v.Future = r.long()
	v.LateSamples = r.long()
	v.Migrated = r.boolean()
	v.Hosts = readArray(&r, 10, func(r *reader, h *schemas.PartitionHost) {
		h.Host = r.str()
		h.Version = r.long()
		h.TumblingClosed = r.long()
		h.HoppingClosed = r.long()
		h.LastEvent = r.long()
		h.Late = r.long()
		h.Dirty = r.boolean()
		h.Panes = readArray(r, 7, func(r *reader, p *schemas.PartitionPane) {
			p.Start = r.long()
			p.Events = r.long()
			p.Errors = r.long()
			p.FirstError = r.long()
			p.Latency = r.bytesOrNil()
			p.Signatures = readArray(r, 3, readSignatureCount)
			p.Samples = readArray(r, 7, readSample)
		})
		h.Ticks = readArray(r, 3, readTick)
		h.Sources = r.buckets()
	})
	v.Emits = readArray(&r, 5, func(r *reader, e *schemas.PartitionEmit) {
		e.Input = r.str()
		e.Offset = r.long()
		e.Topic = r.str()
		e.Key = r.str()
		e.Value = r.bytesOrNil()
	})
	if err := r.done(); err != nil {
		return nil, err
	}
	return v, nil
}

// ---- WindowUpdate (windowupdate/v1) ----

func appendWindowUpdate(b []byte, v *schemas.WindowUpdate) ([]byte, error) {
	b = appendInt(b, v.Partition)
	b = appendLong(b, v.Seq)
	b = appendLong(b, v.Watermark)
	b = appendString(b, v.Status)
	b = appendLong(b, v.TickMs)
	b = appendLong(b, v.WindowMs)
	return appendArray(b, v.Hosts, func(b []byte, h *schemas.HostTicks) []byte {
		b = appendString(b, h.Host)
		b = appendArray(b, h.Ticks, appendTick)
		return appendBytes(b, h.Latest)
	}), nil
}

func readWindowUpdate(body []byte) (*schemas.WindowUpdate, error) {
	r := newReader(body)
	v := &schemas.WindowUpdate{
		Partition: r.int(),
		Seq:       r.long(),
		Watermark: r.long(),
		Status:    r.str(),
		TickMs:    r.long(),
		WindowMs:  r.long(),
	}
	v.Hosts = readArray(&r, 3, func(r *reader, h *schemas.HostTicks) {
		h.Host = r.str()
		h.Ticks = readArray(r, 3, readTick)
		h.Latest = r.bytesOrNil()
	})
	if err := r.done(); err != nil {
		return nil, err
	}
	return v, nil
}

// ---- HostWindow (hostwindow/v1) ----

func appendHostWindow(b []byte, v *schemas.HostWindow) ([]byte, error) {
	b = appendString(b, v.Host)
	b = appendString(b, v.Kind)
	b = appendLong(b, v.Start)
	b = appendLong(b, v.End)
	b = appendString(b, v.Emit)
	b = appendLong(b, v.Version)
	b = appendLong(b, v.AsOf)
	b = appendLong(b, v.Events)
	b = appendLong(b, v.Errors)
	b = appendDouble(b, v.ErrorRate)
	b = appendLong(b, v.LatencyCount)
	b = appendOptDouble(b, v.LatencyP50)
	b = appendOptDouble(b, v.LatencyP95)
	b = appendOptDouble(b, v.LatencyP99)
	b = appendOptLong(b, v.FirstError)
	b = appendArray(b, v.Signatures, func(b []byte, s *schemas.Signature) []byte {
		return appendString(appendLong(appendString(b, s.Signature), s.Count), s.Example)
	})
	return appendArray(b, v.Samples, func(b []byte, s *schemas.TraceSample) []byte {
		b = appendString(b, s.TraceID)
		b = appendString(b, s.EventID)
		b = appendLong(b, s.Timestamp)
		b = appendString(b, s.Message)
		b = appendString(b, s.SpanService)
		b = appendString(b, s.SpanOperation)
		return appendOptLong(b, s.SpanDurationUs)
	}), nil
}

type hostWindowBox struct {
	v             schemas.HostWindow
	p50, p95, p99 float64
	firstError    int64
}

func readHostWindow(body []byte) (*schemas.HostWindow, error) {
	r := newReader(body)
	x := new(hostWindowBox)
	v := &x.v
	v.Host = r.str()
	v.Kind = r.str()
	v.Start = r.long()
	v.End = r.long()
	v.Emit = r.str()
	v.Version = r.long()
	v.AsOf = r.long()
	v.Events = r.long()
	v.Errors = r.long()
	v.ErrorRate = r.double()
	v.LatencyCount = r.long()
	v.LatencyP50 = r.optDouble(&x.p50)
	v.LatencyP95 = r.optDouble(&x.p95)
	v.LatencyP99 = r.optDouble(&x.p99)
	v.FirstError = r.optLong(&x.firstError)
	v.Signatures = readArray(&r, 3, func(r *reader, s *schemas.Signature) {
		s.Signature = r.str()
		s.Count = r.long()
		s.Example = r.str()
	})
	v.Samples = readArray(&r, 7, func(r *reader, s *schemas.TraceSample) {
		s.TraceID = r.str()
		s.EventID = r.str()
		s.Timestamp = r.long()
		s.Message = r.str()
		s.SpanService = r.str()
		s.SpanOperation = r.str()
		if r.present() {
			d := r.long()
			s.SpanDurationUs = &d
		}
	})
	if err := r.done(); err != nil {
		return nil, err
	}
	return v, nil
}

// ---- AlerterState (alerterstate/v2) ----

func appendAlerterState(b []byte, v *schemas.AlerterState) ([]byte, error) {
	b = appendLong(b, v.Applied)
	b = appendLong(b, v.Seq)
	b = appendArray(b, v.Hosts, func(b []byte, h *schemas.HostView) []byte {
		b = appendString(b, h.Host)
		b = appendLong(b, h.Version)
		b = appendLong(b, h.AsOf)
		b = appendBool(b, h.Silent)
		b = appendLong(b, h.TStart)
		b = appendLong(b, h.TEvents)
		b = appendLong(b, h.TErrors)
		b = appendBytes(b, h.Latest)
		b = appendArray(b, h.Minutes, func(b []byte, m *schemas.Minute) []byte {
			return appendLong(appendLong(appendLong(b, m.Start), m.Events), m.Errors)
		})
		b = appendArray(b, h.Pending, appendTick)
		return appendLong(b, h.LastEvent)
	})
	b = appendWatermark(b, &v.Watermark)
	b = appendLong(b, v.Tick)
	b = appendLong(b, v.TickMs)
	b = appendLong(b, v.WindowMs)
	b = appendBuckets(b, v.Sources)
	b = appendArray(b, v.Incidents, func(b []byte, in *schemas.Incident) []byte {
		b = appendString(b, in.Key)
		b = appendString(b, in.Scope)
		b = appendString(b, in.Host)
		b = appendString(b, in.Rule)
		b = appendArray(b, in.Rules, func(b []byte, s *string) []byte { return appendString(b, *s) })
		b = appendString(b, in.State)
		b = appendLong(b, in.Since)
		b = appendLong(b, in.FirstSeen)
		b = appendLong(b, in.LastSeen)
		b = appendLong(b, in.Number)
		return appendBytes(b, in.Fired)
	})
	return appendArray(b, v.Emits, func(b []byte, e *schemas.Emit) []byte {
		return appendBytes(appendLong(b, e.Offset), e.Value)
	}), nil
}

func readAlerterState(body []byte) (*schemas.AlerterState, error) {
	r := newReader(body)
	v := new(schemas.AlerterState)
	v.Applied = r.long()
	v.Seq = r.long()
	v.Hosts = readArray(&r, 11, func(r *reader, h *schemas.HostView) {
		h.Host = r.str()
		h.Version = r.long()
		h.AsOf = r.long()
		h.Silent = r.boolean()
		h.TStart = r.long()
		h.TEvents = r.long()
		h.TErrors = r.long()
		h.Latest = r.bytesOrNil()
		h.Minutes = readArray(r, 3, func(r *reader, m *schemas.Minute) {
			m.Start, m.Events, m.Errors = r.long(), r.long(), r.long()
		})
		h.Pending = readArray(r, 3, readTick)
		h.LastEvent = r.long()
	})
	readWatermark(&r, &v.Watermark)
	v.Tick = r.long()
	v.TickMs = r.long()
	v.WindowMs = r.long()
	v.Sources = r.buckets()
	v.Incidents = readArray(&r, 11, func(r *reader, in *schemas.Incident) {
		in.Key = r.str()
		in.Scope = r.str()
		in.Host = r.str()
		in.Rule = r.str()
		in.Rules = readArray(r, 1, func(r *reader, s *string) { *s = r.str() })
		in.State = r.str()
		in.Since = r.long()
		in.FirstSeen = r.long()
		in.LastSeen = r.long()
		in.Number = r.long()
		in.Fired = r.bytesOrNil()
	})
	v.Emits = readArray(&r, 2, func(r *reader, e *schemas.Emit) {
		e.Offset = r.long()
		e.Value = r.bytesOrNil()
	})
	if err := r.done(); err != nil {
		return nil, err
	}
	return v, nil
}
