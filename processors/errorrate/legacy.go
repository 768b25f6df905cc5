package errorrate

import (
	"strings"

	"github.com/lovoo/goka"

	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/watermark"
)

// Upgrading from the previous version. It kept one ErrorRateState per host
// (under the host's name in errorrate-table) and re-keyed every event by
// host through errorrate-loop. This version keeps one ErrorRatePartition
// per partition (under topology.KeyFor), so that:
//
//   - the first time a partition's state is made, the previous version's
//     per-host states in the partition's local store are read in (their
//     open panes, closed marks and versions): no window that was open
//     loses what it had counted. The old values stay in the table, inert;
//   - events the previous version re-keyed and did not process yet come
//     through the loop under their host's key: each is re-keyed to its
//     partition's key and counted there, once (the old state says what
//     it had applied, HeaderSource what was re-keyed twice), unless the
//     combine hop counts it (its offset of logs.unique is at or after the
//     hop's starting point, LegacyCutoff);
//   - the previous version's timers are ignored: the watermark closes
//     windows now.

// migrate reads the previous version's per-host states of partition into
// st.
func (p *Processor) migrate(partition int32, st *schemas.ErrorRatePartition) {
	st.Migrated = true
	if p.cfg.Legacy == nil {
		return
	}
	err := p.cfg.Legacy(partition, func(key string, value []byte) bool {
		if IsPartitionKey(key) {
			return true
		}
		old, err := p.cfg.LegacyCodec.Unmarshal(value)
		if err != nil {
			return true // not a state of the previous version
		}
		h := hostOf(st, p.cfg.Window, key)
		h.Version = max(h.Version, old.Version)
		h.TumblingClosed, h.HoppingClosed = old.TumblingClosed, old.HoppingClosed
		h.LastEvent, h.Late = old.StreamTime, old.Late
		h.Sources = old.Sources
		for _, op := range old.Panes {
			var sk []byte
			if len(op.Latency) > 0 {
				sk = Sketch(op.Latency).AppendBinary(nil)
			}
			h.Panes = append(h.Panes, schemas.PartitionPane{Start: op.Start, Events: op.Events, Errors: op.Errors,
				FirstError: op.FirstError, Latency: sk, Signatures: op.Signatures, Samples: op.Samples})
		}
		p.stats.Migrated.Add(1)
		return true
	})
	if err != nil {
		// The store is unreadable: the state of this partition starts
		// empty, and says so.
		st.Migrated = false
	}
}

// Loop is the callback for the loop topic: the previous version's records,
// and those re-keyed from them to a partition's key.
func (p *Processor) Loop(ctx goka.Context, msg any) {
	// Neither version loops a null value (events and samples have bytes,
	// and re-keying copies them): one here was written by something else,
	// and is a dead letter like a tombstone on the partials topic.
	if p.dlq.Tombstone(ctx, msg) {
		return
	}
	value, _ := msg.([]byte)
	kind := string(ctx.Headers()[watermark.HeaderKind])
	if IsPartitionKey(ctx.Key()) {
		p.rekeyed(ctx, value, strings.TrimPrefix(kind, rekeyedPrefix))
		return
	}
	switch kind {
	case legacyKindEvent, legacyKindSample:
		if old, _ := ctx.Value().(*schemas.ErrorRateState); old != nil && ctx.Offset() <= old.Applied {
			// Applied to the old state before the upgrade, which the
			// partition's state read in.
			p.stats.LegacySkipped.Add(1)
			return
		}
		h := goka.Headers{watermark.HeaderKind: []byte(rekeyedPrefix + kind)}
		if src := ctx.Headers()[HeaderSource]; src != nil {
			h[HeaderSource] = src
		}
		ctx.Loopback(p.cfg.KeyFor(ctx.Partition()), value, goka.WithCtxEmitHeaders(h))
	default:
		// A timer of the previous version: the watermark decides now.
	}
}

// rekeyed counts an event (or takes a sample) the previous version
// re-keyed, under its partition's state.
func (p *Processor) rekeyed(ctx goka.Context, value []byte, kind string) {
	r := p.begin(ctx, func(st *schemas.ErrorRatePartition) *int64 { return &st.AppliedLoop })
	if r == nil {
		return
	}
	st := r.st
	ev, err := p.cfg.EventCodec.Unmarshal(value)
	if err != nil {
		p.dlq.Emit(ctx, value, err)
		r.finish()
		return
	}
	host := strings.TrimSpace(ev.Host)
	if host == "" {
		p.dlq.Emit(ctx, value, ErrNoHost)
		r.finish()
		return
	}
	h := hostOf(st, p.cfg.Window, host)
	ph := schemas.PartialHost{Host: host}
	switch kind {
	case legacyKindEvent:
		if sp, so, ok := parseSource(ctx.Headers()[HeaderSource]); ok {
			if cut, ok := p.cfg.LegacyCutoff[sp]; ok && so >= cut {
				p.stats.LegacySkipped.Add(1) // the combine hop counts it
				r.finish()
				return
			}
			if last, seen := h.Sources[sp]; seen && so <= last {
				p.stats.LegacySkipped.Add(1) // re-keyed twice
				r.finish()
				return
			}
			if h.Sources == nil {
				h.Sources = map[int32]int64{}
			}
			h.Sources[sp] = so
		}
		if watermark.Future(ev.Timestamp, ctx.Timestamp(), p.cfg.Now(), p.cfg.MaxFuture) {
			ph.Future = 1
			break
		}
		tc := schemas.TickCount{Start: floorTo(ev.Timestamp, p.cfg.UpdateInterval.Milliseconds()), Events: 1}
		pp := schemas.PartialPane{Start: floorTo(ev.Timestamp, p.cfg.Window.pane())}
		if ms, ok := Latency(ev); ok {
			sk := Sketch{}
			sk.Add(ms)
			pp.Latency = sk.AppendBinary(nil)
		}
		if p.cfg.Classifier.IsError(ev) {
			tc.Errors = 1
			pp.FirstError = ev.Timestamp
			msg := ev.Message
			if msg == "" && ev.HTTPStatus != nil {
				msg = "HTTP " + itoa(int64(*ev.HTTPStatus))
			}
			pp.Signatures = addSignature(nil, Signature(msg), msg, 1)
			if ev.TraceID != nil && *ev.TraceID != "" {
				pp.Samples, _ = addSample(nil, sampleOf(ev, msg))
			}
		}
		ph.Ticks, ph.Panes = []schemas.TickCount{tc}, []schemas.PartialPane{pp}
		p.stats.LegacyEvents.Add(1)
	case legacyKindSample:
		if ev.TraceID == nil {
			r.finish()
			return
		}
		ph.Panes = []schemas.PartialPane{{Start: floorTo(ev.Timestamp, p.cfg.Window.pane()), Samples: []schemas.Sample{sampleOf(ev, ev.Message)}}}
	default:
		r.finish()
		return
	}
	r.apply(&ph)
	r.advance(tracker(st, p.cfg.Partitions, p.cfg.Idle, p.cfg.StampTopic))
	r.finish()
}
