package codecs

import (
	"github.com/logstream/logstream/schemas"
)

// The errorrate stage's own records: its combine hop's partial counts
// (errorratepartial/), its per-partition table value (errorratepartition/)
// and its updates for the alerter (windowupdate/). Few of them are
// written (one per partition and transaction, or per tick), so the map
// converters' cost does not matter here.

// ---- TickCount, SignatureCount, Sample, WatermarkState (shared; the
// previous version's ErrorRateState panes use the same two details) ----

func ticksToNative(ts []schemas.TickCount) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = map[string]any{"start": t.Start, "events": t.Events, "errors": t.Errors}
	}
	return out
}

func tickFromNative(r *fields) schemas.TickCount {
	return schemas.TickCount{Start: r.int64("start"), Events: r.int64("events"), Errors: r.int64("errors")}
}

func signatureCountsToNative(s []schemas.SignatureCount) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = map[string]any{"signature": x.Signature, "count": x.Count, "example": x.Example}
	}
	return out
}

func signatureCountFromNative(s *fields) schemas.SignatureCount {
	return schemas.SignatureCount{Signature: s.str("signature"), Count: s.int64("count"), Example: s.str("example")}
}

func samplesToNative(s []schemas.Sample) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = map[string]any{
			"trace_id":         x.TraceID,
			"event_id":         x.EventID,
			"timestamp":        x.Timestamp,
			"message":          x.Message,
			"span_service":     x.SpanService,
			"span_operation":   x.SpanOperation,
			"span_duration_us": x.SpanDurationUs,
		}
	}
	return out
}

func sampleFromNative(s *fields) schemas.Sample {
	return schemas.Sample{
		TraceID:        s.str("trace_id"),
		EventID:        s.str("event_id"),
		Timestamp:      s.int64("timestamp"),
		Message:        s.str("message"),
		SpanService:    s.str("span_service"),
		SpanOperation:  s.str("span_operation"),
		SpanDurationUs: s.int64("span_duration_us"),
	}
}

func detailSize(sigs []schemas.SignatureCount, samples []schemas.Sample) int {
	n := 0
	for _, s := range sigs {
		n += len(s.Signature) + len(s.Example) + 2*5 + 10
	}
	for _, s := range samples {
		n += len(s.TraceID) + len(s.EventID) + len(s.Message) + len(s.SpanService) + len(s.SpanOperation) + 5*5 + 2*10
	}
	return n
}

func watermarkToNative(w *schemas.WatermarkState) map[string]any {
	chs := make([]any, len(w.Channels))
	for i, c := range w.Channels {
		chs[i] = map[string]any{"channel": c.Channel, "kind": c.Kind, "time": c.Time, "seq": c.Seq, "local": c.Local}
	}
	return map[string]any{
		"channels":  chs,
		"groups":    stringsToNative(w.Groups),
		"watermark": w.Watermark,
		"woke_at":   w.WokeAt,
	}
}

func watermarkFromNative(f *fields, name string) schemas.WatermarkState {
	r, err := asRecord("field "+name, f.m[name])
	if err != nil {
		if f.err == nil {
			f.err = err
		}
		return schemas.WatermarkState{}
	}
	w := schemas.WatermarkState{
		Channels: records(r, "channels", func(c *fields) schemas.WatermarkChannel {
			return schemas.WatermarkChannel{Channel: c.str("channel"), Kind: c.str("kind"), Time: c.int64("time"),
				Seq: c.int64("seq"), Local: c.boolean("local")}
		}),
		Groups:    r.strings("groups"),
		Watermark: r.int64("watermark"),
		WokeAt:    r.int64("woke_at"),
	}
	if r.err != nil && f.err == nil {
		f.err = r.err
	}
	return w
}

func watermarkSize(w *schemas.WatermarkState) int {
	n := 3 * 10
	for _, c := range w.Channels {
		n += len(c.Channel) + len(c.Kind) + 3*10
	}
	return n + stringsSize(w.Groups)
}

// ---- ErrorRatePartial ----

// NewErrorRatePartial returns the codec of schemas.ErrorRatePartial
// (errorratepartial/), the errorrate combine hop's output.
func NewErrorRatePartial(opts ...Option) (*Codec[schemas.ErrorRatePartial], error) {
	return newCodec(schemas.NameErrorRatePartial, converter[schemas.ErrorRatePartial]{
		toNative:     errorRatePartialToNative,
		fromNative:   errorRatePartialFromNative,
		appendBody:   appendErrorRatePartial,
		typedVersion: 1,
		readBody:     readErrorRatePartial,
		size: func(v *schemas.ErrorRatePartial) int {
			n := 2
			for _, h := range v.Hosts {
				n += len(h.Host) + 10 + 4 + 3*10*len(h.Ticks)
				for _, p := range h.Panes {
					n += 2*10 + len(p.Latency) + 5 + detailSize(p.Signatures, p.Samples)
				}
			}
			return n
		},
	}, opts)
}

func errorRatePartialToNative(v *schemas.ErrorRatePartial) (map[string]any, error) {
	hosts := make([]any, len(v.Hosts))
	for i, h := range v.Hosts {
		panes := make([]any, len(h.Panes))
		for j, p := range h.Panes {
			panes[j] = map[string]any{
				"start":       p.Start,
				"first_error": p.FirstError,
				"latency":     nonNilBytes(p.Latency),
				"signatures":  signatureCountsToNative(p.Signatures),
				"samples":     samplesToNative(p.Samples),
			}
		}
		hosts[i] = map[string]any{"host": h.Host, "ticks": ticksToNative(h.Ticks), "panes": panes, "future": h.Future}
	}
	return map[string]any{"hosts": hosts}, nil
}

func errorRatePartialFromNative(m map[string]any) (*schemas.ErrorRatePartial, error) {
	f := fields{m: m}
	v := &schemas.ErrorRatePartial{
		Hosts: records(&f, "hosts", func(h *fields) schemas.PartialHost {
			return schemas.PartialHost{
				Host:  h.str("host"),
				Ticks: records(h, "ticks", tickFromNative),
				Panes: records(h, "panes", func(p *fields) schemas.PartialPane {
					return schemas.PartialPane{
						Start:      p.int64("start"),
						FirstError: p.int64("first_error"),
						Latency:    p.bytes("latency"),
						Signatures: records(p, "signatures", signatureCountFromNative),
						Samples:    records(p, "samples", sampleFromNative),
					}
				}),
				Future: h.int64("future"),
			}
		}),
	}
	if f.err != nil {
		return nil, f.err
	}
	return v, nil
}

// ---- ErrorRatePartition ----

// NewErrorRatePartition returns the codec of schemas.ErrorRatePartition
// (errorratepartition/), the errorrate stage's table value.
func NewErrorRatePartition(opts ...Option) (*Codec[schemas.ErrorRatePartition], error) {
	return newCodec(schemas.NameErrorRatePartition, converter[schemas.ErrorRatePartition]{
		toNative:     errorRatePartitionToNative,
		fromNative:   errorRatePartitionFromNative,
		appendBody:   appendErrorRatePartition,
		typedVersion: 1,
		readBody:     readErrorRatePartition,
		size: func(v *schemas.ErrorRatePartition) int {
			n := 12*10 + len(v.Status) + watermarkSize(&v.Watermark)
			for _, h := range v.Hosts {
				n += len(h.Host) + 6*10 + 3*10*len(h.Ticks) + 15*len(h.Sources)
				for _, p := range h.Panes {
					n += 4*10 + len(p.Latency) + 5 + detailSize(p.Signatures, p.Samples)
				}
			}
			for _, e := range v.Emits {
				n += len(e.Input) + len(e.Topic) + len(e.Key) + len(e.Value) + 4*5 + 10
			}
			return n
		},
	}, opts)
}

func errorRatePartitionToNative(v *schemas.ErrorRatePartition) (map[string]any, error) {
	hosts := make([]any, len(v.Hosts))
	for i, h := range v.Hosts {
		panes := make([]any, len(h.Panes))
		for j, p := range h.Panes {
			panes[j] = map[string]any{
				"start":       p.Start,
				"events":      p.Events,
				"errors":      p.Errors,
				"first_error": p.FirstError,
				"latency":     nonNilBytes(p.Latency),
				"signatures":  signatureCountsToNative(p.Signatures),
				"samples":     samplesToNative(p.Samples),
			}
		}
		hosts[i] = map[string]any{
			"host":            h.Host,
			"version":         h.Version,
			"tumbling_closed": h.TumblingClosed,
			"hopping_closed":  h.HoppingClosed,
			"last_event":      h.LastEvent,
			"late":            h.Late,
			"dirty":           h.Dirty,
			"panes":           panes,
			"ticks":           ticksToNative(h.Ticks),
			"sources":         bucketsToNative(h.Sources),
		}
	}
	emits := make([]any, len(v.Emits))
	for i, e := range v.Emits {
		emits[i] = map[string]any{"input": e.Input, "offset": e.Offset, "topic": e.Topic, "key": e.Key, "value": nonNilBytes(e.Value)}
	}
	return map[string]any{
		"applied":      v.Applied,
		"applied_loop": v.AppliedLoop,
		"watermark":    watermarkToNative(&v.Watermark),
		"sent_tick":    v.SentTick,
		"seq":          v.Seq,
		"status":       v.Status,
		"status_at":    v.StatusAt,
		"late":         v.Late,
		"future":       v.Future,
		"late_samples": v.LateSamples,
		"migrated":     v.Migrated,
		"hosts":        hosts,
		"emits":        emits,
	}, nil
}

func errorRatePartitionFromNative(m map[string]any) (*schemas.ErrorRatePartition, error) {
	f := fields{m: m}
	v := &schemas.ErrorRatePartition{
		Applied:     f.int64("applied"),
		AppliedLoop: f.int64("applied_loop"),
		Watermark:   watermarkFromNative(&f, "watermark"),
		SentTick:    f.int64("sent_tick"),
		Seq:         f.int64("seq"),
		Status:      f.str("status"),
		StatusAt:    f.int64("status_at"),
		Late:        f.int64("late"),
		Future:      f.int64("future"),
		LateSamples: f.int64("late_samples"),
		Migrated:    f.boolean("migrated"),
		Hosts: records(&f, "hosts", func(h *fields) schemas.PartitionHost {
			return schemas.PartitionHost{
				Host:           h.str("host"),
				Version:        h.int64("version"),
				TumblingClosed: h.int64("tumbling_closed"),
				HoppingClosed:  h.int64("hopping_closed"),
				LastEvent:      h.int64("last_event"),
				Late:           h.int64("late"),
				Dirty:          h.boolean("dirty"),
				Panes: records(h, "panes", func(p *fields) schemas.PartitionPane {
					return schemas.PartitionPane{
						Start:      p.int64("start"),
						Events:     p.int64("events"),
						Errors:     p.int64("errors"),
						FirstError: p.int64("first_error"),
						Latency:    p.bytes("latency"),
						Signatures: records(p, "signatures", signatureCountFromNative),
						Samples:    records(p, "samples", sampleFromNative),
					}
				}),
				Ticks:   records(h, "ticks", tickFromNative),
				Sources: h.bucketCounts("sources"),
			}
		}),
		Emits: records(&f, "emits", func(e *fields) schemas.PartitionEmit {
			return schemas.PartitionEmit{Input: e.str("input"), Offset: e.int64("offset"), Topic: e.str("topic"),
				Key: e.str("key"), Value: e.bytes("value")}
		}),
	}
	if f.err != nil {
		return nil, f.err
	}
	return v, nil
}

// ---- WindowUpdate ----

// NewWindowUpdate returns the codec of schemas.WindowUpdate
// (windowupdate/), the errorrate stage's progress for the alerter.
func NewWindowUpdate(opts ...Option) (*Codec[schemas.WindowUpdate], error) {
	return newCodec(schemas.NameWindowUpdate, converter[schemas.WindowUpdate]{
		toNative:     windowUpdateToNative,
		fromNative:   windowUpdateFromNative,
		appendBody:   appendWindowUpdate,
		typedVersion: 1,
		readBody:     readWindowUpdate,
		size: func(v *schemas.WindowUpdate) int {
			n := 5*10 + len(v.Status) + 2
			for _, h := range v.Hosts {
				n += len(h.Host) + len(h.Latest) + 2*5 + 3*10*len(h.Ticks)
			}
			return n
		},
	}, opts)
}

func windowUpdateToNative(v *schemas.WindowUpdate) (map[string]any, error) {
	hosts := make([]any, len(v.Hosts))
	for i, h := range v.Hosts {
		hosts[i] = map[string]any{"host": h.Host, "ticks": ticksToNative(h.Ticks), "latest": nonNilBytes(h.Latest)}
	}
	return map[string]any{
		"partition": v.Partition,
		"seq":       v.Seq,
		"watermark": v.Watermark,
		"status":    v.Status,
		"tick_ms":   v.TickMs,
		"window_ms": v.WindowMs,
		"hosts":     hosts,
	}, nil
}

func windowUpdateFromNative(m map[string]any) (*schemas.WindowUpdate, error) {
	f := fields{m: m}
	v := &schemas.WindowUpdate{
		Partition: f.int32("partition"),
		Seq:       f.int64("seq"),
		Watermark: f.int64("watermark"),
		Status:    f.str("status"),
		TickMs:    f.int64("tick_ms"),
		WindowMs:  f.int64("window_ms"),
		Hosts: records(&f, "hosts", func(h *fields) schemas.HostTicks {
			return schemas.HostTicks{Host: h.str("host"), Ticks: records(h, "ticks", tickFromNative), Latest: h.bytes("latest")}
		}),
	}
	if f.err != nil {
		return nil, f.err
	}
	return v, nil
}
