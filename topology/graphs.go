package topology

import (
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/alerter"
	"github.com/logstream/logstream/processors/dedupe"
	"github.com/logstream/logstream/processors/errorrate"
	"github.com/logstream/logstream/processors/parse"
	"github.com/logstream/logstream/processors/spans"
	"github.com/logstream/logstream/processors/tracejoin"
	"github.com/logstream/logstream/state"
)

// ParseConfig returns the parse stage's wiring: its output topics and the
// partitioner its input is written with.
func (t *Topology) ParseConfig(set *codecs.Set) parse.Config {
	n := int32(t.cfg.Partitions)
	return parse.Config{
		Events:      goka.Stream(TopicParsed),
		DeadLetters: goka.Stream(TopicDLQ),
		Loop:        goka.Stream(LoopTopic(GroupParse)),
		PartitionOf: func(key []byte) int32 { return Partition(key, n) },
		KeyFor:      func(p int32) string { return KeyFor(p, n) },
		RawLogs:     set.RawLog,
		Encode:      wired(t, TopicParsed, set.LogEvent),
		State:       set.ParseState,
	}
}

// ParseGroup returns the goka graph of the parse stage. The input is read
// as bytes: decoding happens in the callback, so that a record that does
// not decode becomes a dead letter instead of stopping the processor.
// Parse is where event time is born: give its Config an Origins over
// logs.raw (watermark.NewOrigins) for the stamps.
func (t *Topology) ParseGroup(p *parse.Processor, set *codecs.Set) *goka.GroupGraph {
	return goka.DefineGroup(goka.Group(GroupParse),
		goka.Input(goka.Stream(TopicRaw), new(codec.Bytes), p.Process),
		// Records whose key belongs to another partition come back here
		// under a key that belongs to theirs (parse's rehome.go).
		goka.Loop(new(codec.Bytes), p.Loop),
		// Bytes: the stage encodes each event itself, and writes
		// watermark records beside them.
		goka.Output(goka.Stream(TopicParsed), new(codec.Bytes)),
		goka.Output(goka.Stream(TopicDLQ), wired(t, TopicDLQ, set.DeadLetter)),
		goka.Persist(wired(t, TableTopic(GroupParse), set.ParseState)),
		// The sweeper emits held lines that waited the idle time.
		goka.Visitor(state.VisitName, p.Sweep),
	)
}

// wired returns c writing the wire format configured for topic.
func wired[T any](t *Topology, topic string, c *codecs.Codec[T]) *codecs.Codec[T] {
	if w := t.Wire(topic); w != c.Wire() {
		return c.WithWire(w)
	}
	return c
}

// StreamPartitions returns the stream topics to create, with their counts.
func (t *Topology) StreamPartitions() map[string]int {
	out := map[string]int{}
	for _, tp := range t.topics {
		if tp.Kind == Stream {
			out[tp.Name] = tp.Partitions
		}
	}
	return out
}

// TablePartitions returns the table topics to create, with their counts.
func (t *Topology) TablePartitions() map[string]int {
	out := map[string]int{}
	for _, tp := range t.topics {
		if tp.Kind == Table {
			out[tp.Name] = tp.Partitions
		}
	}
	return out
}

// DedupeConfig returns the dedupe stage's wiring (topics, codecs,
// partitioner); the caller adds the fence and the clock.
func (t *Topology) DedupeConfig(set *codecs.Set) dedupe.Config {
	n := int32(t.cfg.Partitions)
	return dedupe.Config{
		Input:       goka.Stream(TopicParsed),
		Loop:        goka.Stream(LoopTopic(GroupDedupe)),
		Unique:      goka.Stream(TopicUnique),
		DeadLetters: goka.Stream(TopicDLQ),
		Events:      set.LogEvent,
		States:      set.DedupeState,
		PartitionOf: func(key []byte) int32 { return Partition(key, n) },
	}
}

// DedupeGroup returns the goka graph of the dedupe stage. Events pass
// through as the bytes they were read as: dedupe changes nothing in them.
func (t *Topology) DedupeGroup(p *dedupe.Processor, set *codecs.Set) *goka.GroupGraph {
	return goka.DefineGroup(goka.Group(GroupDedupe),
		goka.Input(goka.Stream(TopicParsed), new(codec.Bytes), p.Process),
		goka.Loop(new(codec.Bytes), p.Loop),
		goka.Visitor(state.VisitName, p.Sweep),
		goka.Output(goka.Stream(TopicUnique), new(codec.Bytes)),
		goka.Output(goka.Stream(TopicDLQ), wired(t, TopicDLQ, set.DeadLetter)),
		goka.Persist(wired(t, TableTopic(GroupDedupe), set.DedupeState)),
	)
}

// TraceJoinConfig returns the trace join's wiring; the caller adds the
// fence and the clock.
func (t *Topology) TraceJoinConfig(set *codecs.Set) tracejoin.Config {
	n := int32(t.cfg.Partitions)
	return tracejoin.Config{
		Events:      goka.Stream(TopicUnique),
		Spans:       goka.Stream(TopicSpans),
		Loop:        goka.Stream(LoopTopic(GroupTraceJoin)),
		Enriched:    goka.Stream(TopicEnriched),
		DeadLetters: goka.Stream(TopicDLQ),
		EventCodec:  set.LogEvent,
		SpanCodec:   set.Span,
		StateCodec:  set.TraceState,
		PartitionOf: func(key []byte) int32 { return Partition(key, n) },
	}
}

// TraceJoinGroup returns the goka graph of the trace join.
func (t *Topology) TraceJoinGroup(p *tracejoin.Processor, set *codecs.Set) *goka.GroupGraph {
	return goka.DefineGroup(goka.Group(GroupTraceJoin),
		goka.Input(goka.Stream(TopicUnique), new(codec.Bytes), p.Event),
		goka.Input(goka.Stream(TopicSpans), new(codec.Bytes), p.Span),
		goka.Loop(new(codec.Bytes), p.Loop),
		goka.Visitor(state.VisitName, p.Sweep),
		goka.Output(goka.Stream(TopicEnriched), wired(t, TopicEnriched, set.LogEvent)),
		goka.Output(goka.Stream(TopicDLQ), wired(t, TopicDLQ, set.DeadLetter)),
		goka.Persist(wired(t, TableTopic(GroupTraceJoin), set.TraceState)),
	)
}

// SpansConfig returns the spans adapter's wiring.
func (t *Topology) SpansConfig() spans.Config {
	return spans.Config{Spans: goka.Stream(TopicSpans), DeadLetters: goka.Stream(TopicDLQ)}
}

// SpansGroup returns the goka graph of the spans adapter: OTLP protobuf in,
// one Avro Span per span out, keyed by trace id.
func (t *Topology) SpansGroup(p *spans.Processor, set *codecs.Set) *goka.GroupGraph {
	return goka.DefineGroup(goka.Group(GroupSpans),
		goka.Input(goka.Stream(TopicOTLPSpans), new(codec.Bytes), p.Process),
		goka.Output(goka.Stream(TopicSpans), wired(t, TopicSpans, set.Span)),
		goka.Output(goka.Stream(TopicDLQ), wired(t, TopicDLQ, set.DeadLetter)),
	)
}

// ErrorRateConfig returns the errorrate stage's windows hop's wiring; the
// caller adds the fence, the classifier and the window settings.
func (t *Topology) ErrorRateConfig(set *codecs.Set) errorrate.Config {
	n := int32(t.cfg.Partitions)
	return errorrate.Config{
		Partials:     goka.Stream(TopicErrorRatePartials),
		Loop:         goka.Stream(LoopTopic(GroupErrorRate)),
		Windows:      goka.Stream(TopicHostWindows),
		Updates:      goka.Stream(TopicWindowUpdates),
		DeadLetters:  goka.Stream(TopicDLQ),
		UpdatesKey:   FleetKey,
		Partitions:   n,
		PartitionOf:  func(key []byte) int32 { return Partition(key, n) },
		KeyFor:       func(p int32) string { return KeyFor(p, n) },
		PartialCodec: set.ErrorRatePartial,
		EventCodec:   set.LogEvent,
		WindowCodec:  wired(t, TopicHostWindows, set.HostWindow),
		UpdateCodec:  wired(t, TopicWindowUpdates, set.WindowUpdate),
		StateCodec:   wired(t, TableTopic(GroupErrorRate), set.ErrorRatePartition),
		LegacyCodec:  set.ErrorRateState,
		// The combine hop stamps partials with its partitions of
		// logs.unique as channels.
		StampTopic: TopicUnique,
	}
}

// ErrorRateCombineConfig returns the wiring of the errorrate stage's
// first hop; the caller adds brokers, ids, the classifier and settings.
func (t *Topology) ErrorRateCombineConfig(set *codecs.Set) errorrate.CombineConfig {
	n := int32(t.cfg.Partitions)
	return errorrate.CombineConfig{
		Group:           GroupErrorRateCombine,
		Events:          TopicUnique,
		Origins:         TopicRaw,
		Joined:          TopicEnriched,
		Partials:        TopicErrorRatePartials,
		DeadLetters:     TopicDLQ,
		Partitions:      n,
		PartitionOf:     func(key []byte) int32 { return Partition(key, n) },
		KeyFor:          func(p int32) string { return KeyFor(p, n) },
		Partitioner:     Partitioner(),
		EventCodec:      set.LogEvent,
		PartialCodec:    wired(t, TopicErrorRatePartials, set.ErrorRatePartial),
		DeadLetterCodec: wired(t, TopicDLQ, set.DeadLetter),
		// The previous version counted in the goka group itself.
		UpgradeFrom: GroupErrorRate,
	}
}

// ErrorRateGroup returns the goka graph of the errorrate stage's windows
// hop. Outputs are bytes: the stage encodes each record once, keeps it for
// replays, and writes the same bytes again on a replay.
func (t *Topology) ErrorRateGroup(p *errorrate.Processor, set *codecs.Set) *goka.GroupGraph {
	return goka.DefineGroup(goka.Group(GroupErrorRate),
		goka.Input(goka.Stream(TopicErrorRatePartials), new(codec.Bytes), p.Partial),
		goka.Loop(new(codec.Bytes), p.Loop),
		goka.Output(goka.Stream(TopicHostWindows), new(codec.Bytes)),
		goka.Output(goka.Stream(TopicWindowUpdates), new(codec.Bytes)),
		goka.Output(goka.Stream(TopicDLQ), wired(t, TopicDLQ, set.DeadLetter)),
		goka.Persist(ErrorRateTableCodec(t, set)),
	)
}

// ErrorRateTableCodec is the codec of errorrate-table: partition states,
// and the previous version's per-host states (read at upgrade).
func ErrorRateTableCodec(t *Topology, set *codecs.Set) errorrate.TableCodec {
	return errorrate.TableCodec{State: wired(t, TableTopic(GroupErrorRate), set.ErrorRatePartition), Legacy: set.ErrorRateState}
}

// AlerterConfig returns the alerter's wiring; the caller adds the fence and
// the rules.
func (t *Topology) AlerterConfig(set *codecs.Set) alerter.Config {
	return alerter.Config{
		Input:       goka.Stream(TopicWindowUpdates),
		Alerts:      goka.Stream(TopicAlerts),
		DeadLetters: goka.Stream(TopicDLQ),
		Sources:     GroupErrorRate,
		Partitions:  int32(t.cfg.Partitions),
		UpdateCodec: set.WindowUpdate,
		WindowCodec: set.HostWindow,
		AlertCodec:  wired(t, TopicAlerts, set.Alert),
	}
}

// AlerterGroup returns the goka graph of the alerter.
func (t *Topology) AlerterGroup(p *alerter.Processor, set *codecs.Set) *goka.GroupGraph {
	return goka.DefineGroup(goka.Group(GroupAlerter),
		goka.Input(goka.Stream(TopicWindowUpdates), new(codec.Bytes), p.Process),
		goka.Output(goka.Stream(TopicAlerts), new(codec.Bytes)),
		goka.Output(goka.Stream(TopicDLQ), wired(t, TopicDLQ, set.DeadLetter)),
		goka.Persist(wired(t, TableTopic(GroupAlerter), set.AlerterState)),
	)
}
