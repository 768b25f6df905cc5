// Package wiring connects each stage of logstream to the topology: it
// builds a stage's Config (its goka edges, codecs with the wire formats the
// topology sets, the partitioner) and its goka GroupGraph from the topic
// and group names of package topology. It lives beside package pipeline,
// which runs the graphs, so that topology stays a package of names, keys
// and partition counts that every package can import without goka or the
// stages.
//
// The processors' tests build their stages from here too, so that they
// test the graph the pipeline runs.
package wiring

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
	"github.com/logstream/logstream/topology"
)

// ParseConfig returns the parse stage's wiring: its output topics and the
// partitioner its input is written with.
func ParseConfig(t *topology.Topology, set *codecs.Set) parse.Config {
	n := int32(t.Config().Partitions)
	return parse.Config{
		Events:      goka.Stream(topology.TopicParsed),
		DeadLetters: goka.Stream(topology.TopicDLQ),
		Loop:        goka.Stream(topology.LoopTopic(topology.GroupParse)),
		PartitionOf: func(key []byte) int32 { return topology.Partition(key, n) },
		KeyFor:      func(p int32) string { return topology.KeyFor(p, n) },
		RawLogs:     set.RawLog,
		Encode:      wired(t, topology.TopicParsed, set.LogEvent),
		State:       set.ParseState,
	}
}

// ParseGroup returns the goka graph of the parse stage. The input is read
// as bytes: decoding happens in the callback, so that a record that does
// not decode becomes a dead letter instead of stopping the processor.
// Parse is where event time is born: give its Config an Origins over
// logs.raw (watermark.NewOrigins) for the stamps.
func ParseGroup(t *topology.Topology, p *parse.Processor, set *codecs.Set) *goka.GroupGraph {
	return goka.DefineGroup(goka.Group(topology.GroupParse),
		goka.Input(goka.Stream(topology.TopicRaw), new(codec.Bytes), p.Process),
		// Records whose key belongs to another partition come back here
		// under a key that belongs to theirs (parse's rehome.go).
		goka.Loop(new(codec.Bytes), p.Loop),
		// Bytes: the stage encodes each event itself, and writes
		// watermark records beside them.
		goka.Output(goka.Stream(topology.TopicParsed), new(codec.Bytes)),
		goka.Output(goka.Stream(topology.TopicDLQ), wired(t, topology.TopicDLQ, set.DeadLetter)),
		goka.Persist(wired(t, topology.TableTopic(topology.GroupParse), set.ParseState)),
		// The sweeper emits held lines that waited the idle time.
		goka.Visitor(state.VisitName, p.Sweep),
	)
}

// wired returns c writing the wire format configured for topic.
func wired[T any](t *topology.Topology, topic string, c *codecs.Codec[T]) *codecs.Codec[T] {
	if w := t.Wire(topic); w != c.Wire() {
		return c.WithWire(w)
	}
	return c
}

// DedupeConfig returns the dedupe stage's wiring (topics, codecs,
// partitioner); the caller adds the fence and the clock.
func DedupeConfig(t *topology.Topology, set *codecs.Set) dedupe.Config {
	n := int32(t.Config().Partitions)
	return dedupe.Config{
		Input:       goka.Stream(topology.TopicParsed),
		Loop:        goka.Stream(topology.LoopTopic(topology.GroupDedupe)),
		Unique:      goka.Stream(topology.TopicUnique),
		DeadLetters: goka.Stream(topology.TopicDLQ),
		Events:      set.LogEvent,
		States:      set.DedupeState,
		PartitionOf: func(key []byte) int32 { return topology.Partition(key, n) },
	}
}

// DedupeGroup returns the goka graph of the dedupe stage. Events pass
// through as the bytes they were read as: dedupe changes nothing in them.
func DedupeGroup(t *topology.Topology, p *dedupe.Processor, set *codecs.Set) *goka.GroupGraph {
	return goka.DefineGroup(goka.Group(topology.GroupDedupe),
		goka.Input(goka.Stream(topology.TopicParsed), new(codec.Bytes), p.Process),
		goka.Loop(new(codec.Bytes), p.Loop),
		goka.Visitor(state.VisitName, p.Sweep),
		goka.Output(goka.Stream(topology.TopicUnique), new(codec.Bytes)),
		goka.Output(goka.Stream(topology.TopicDLQ), wired(t, topology.TopicDLQ, set.DeadLetter)),
		goka.Persist(wired(t, topology.TableTopic(topology.GroupDedupe), set.DedupeState)),
	)
}

// TraceJoinConfig returns the trace join's wiring; the caller adds the
// fence and the clock.
func TraceJoinConfig(t *topology.Topology, set *codecs.Set) tracejoin.Config {
	n := int32(t.Config().Partitions)
	return tracejoin.Config{
		Events:      goka.Stream(topology.TopicUnique),
		Spans:       goka.Stream(topology.TopicSpans),
		Loop:        goka.Stream(topology.LoopTopic(topology.GroupTraceJoin)),
		Enriched:    goka.Stream(topology.TopicEnriched),
		DeadLetters: goka.Stream(topology.TopicDLQ),
		EventCodec:  set.LogEvent,
		SpanCodec:   set.Span,
		StateCodec:  set.TraceState,
		PartitionOf: func(key []byte) int32 { return topology.Partition(key, n) },
	}
}

// TraceJoinGroup returns the goka graph of the trace join.
func TraceJoinGroup(t *topology.Topology, p *tracejoin.Processor, set *codecs.Set) *goka.GroupGraph {
	return goka.DefineGroup(goka.Group(topology.GroupTraceJoin),
		goka.Input(goka.Stream(topology.TopicUnique), new(codec.Bytes), p.Event),
		goka.Input(goka.Stream(topology.TopicSpans), new(codec.Bytes), p.Span),
		goka.Loop(new(codec.Bytes), p.Loop),
		goka.Visitor(state.VisitName, p.Sweep),
		goka.Output(goka.Stream(topology.TopicEnriched), wired(t, topology.TopicEnriched, set.LogEvent)),
		goka.Output(goka.Stream(topology.TopicDLQ), wired(t, topology.TopicDLQ, set.DeadLetter)),
		goka.Persist(wired(t, topology.TableTopic(topology.GroupTraceJoin), set.TraceState)),
	)
}

// SpansConfig returns the spans adapter's wiring.
func SpansConfig() spans.Config {
	return spans.Config{Spans: goka.Stream(topology.TopicSpans), DeadLetters: goka.Stream(topology.TopicDLQ)}
}

// SpansGroup returns the goka graph of the spans adapter: OTLP protobuf in,
// one Avro Span per span out, keyed by trace id.
func SpansGroup(t *topology.Topology, p *spans.Processor, set *codecs.Set) *goka.GroupGraph {
	return goka.DefineGroup(goka.Group(topology.GroupSpans),
		goka.Input(goka.Stream(topology.TopicOTLPSpans), new(codec.Bytes), p.Process),
		goka.Output(goka.Stream(topology.TopicSpans), wired(t, topology.TopicSpans, set.Span)),
		goka.Output(goka.Stream(topology.TopicDLQ), wired(t, topology.TopicDLQ, set.DeadLetter)),
	)
}

// ErrorRateConfig returns the errorrate stage's windows hop's wiring; the
// caller adds the fence, the classifier and the window settings.
func ErrorRateConfig(t *topology.Topology, set *codecs.Set) errorrate.Config {
	n := int32(t.Config().Partitions)
	return errorrate.Config{
		Partials:     goka.Stream(topology.TopicErrorRatePartials),
		Loop:         goka.Stream(topology.LoopTopic(topology.GroupErrorRate)),
		Windows:      goka.Stream(topology.TopicHostWindows),
		Updates:      goka.Stream(topology.TopicWindowUpdates),
		DeadLetters:  goka.Stream(topology.TopicDLQ),
		UpdatesKey:   topology.FleetKey,
		Partitions:   n,
		PartitionOf:  func(key []byte) int32 { return topology.Partition(key, n) },
		KeyFor:       func(p int32) string { return topology.KeyFor(p, n) },
		PartialCodec: set.ErrorRatePartial,
		EventCodec:   set.LogEvent,
		WindowCodec:  wired(t, topology.TopicHostWindows, set.HostWindow),
		UpdateCodec:  wired(t, topology.TopicWindowUpdates, set.WindowUpdate),
		StateCodec:   wired(t, topology.TableTopic(topology.GroupErrorRate), set.ErrorRatePartition),
		LegacyCodec:  set.ErrorRateState,
		// The combine hop stamps partials with its partitions of
		// logs.unique as channels.
		StampTopic: topology.TopicUnique,
	}
}

// ErrorRateCombineConfig returns the wiring of the errorrate stage's
// first hop; the caller adds brokers, ids, the classifier and settings.
func ErrorRateCombineConfig(t *topology.Topology, set *codecs.Set) errorrate.CombineConfig {
	n := int32(t.Config().Partitions)
	return errorrate.CombineConfig{
		Group:           topology.GroupErrorRateCombine,
		Events:          topology.TopicUnique,
		Origins:         topology.TopicRaw,
		Joined:          topology.TopicEnriched,
		Partials:        topology.TopicErrorRatePartials,
		DeadLetters:     topology.TopicDLQ,
		Partitions:      n,
		PartitionOf:     func(key []byte) int32 { return topology.Partition(key, n) },
		KeyFor:          func(p int32) string { return topology.KeyFor(p, n) },
		Partitioner:     topology.Partitioner(),
		EventCodec:      set.LogEvent,
		PartialCodec:    wired(t, topology.TopicErrorRatePartials, set.ErrorRatePartial),
		DeadLetterCodec: wired(t, topology.TopicDLQ, set.DeadLetter),
		// The previous version counted in the goka group itself.
		UpgradeFrom: topology.GroupErrorRate,
	}
}

// ErrorRateGroup returns the goka graph of the errorrate stage's windows
// hop. Outputs are bytes: the stage encodes each record once, keeps it for
// replays, and writes the same bytes again on a replay.
func ErrorRateGroup(t *topology.Topology, p *errorrate.Processor, set *codecs.Set) *goka.GroupGraph {
	return goka.DefineGroup(goka.Group(topology.GroupErrorRate),
		goka.Input(goka.Stream(topology.TopicErrorRatePartials), new(codec.Bytes), p.Partial),
		goka.Loop(new(codec.Bytes), p.Loop),
		goka.Output(goka.Stream(topology.TopicHostWindows), new(codec.Bytes)),
		goka.Output(goka.Stream(topology.TopicWindowUpdates), new(codec.Bytes)),
		goka.Output(goka.Stream(topology.TopicDLQ), wired(t, topology.TopicDLQ, set.DeadLetter)),
		goka.Persist(ErrorRateTableCodec(t, set)),
	)
}

// ErrorRateTableCodec is the codec of errorrate-table: partition states,
// and the previous version's per-host states (read at upgrade).
func ErrorRateTableCodec(t *topology.Topology, set *codecs.Set) errorrate.TableCodec {
	return errorrate.TableCodec{State: wired(t, topology.TableTopic(topology.GroupErrorRate), set.ErrorRatePartition), Legacy: set.ErrorRateState}
}

// AlerterConfig returns the alerter's wiring; the caller adds the fence and
// the rules.
func AlerterConfig(t *topology.Topology, set *codecs.Set) alerter.Config {
	return alerter.Config{
		Input:       goka.Stream(topology.TopicWindowUpdates),
		Alerts:      goka.Stream(topology.TopicAlerts),
		DeadLetters: goka.Stream(topology.TopicDLQ),
		Sources:     topology.GroupErrorRate,
		Partitions:  int32(t.Config().Partitions),
		UpdateCodec: set.WindowUpdate,
		WindowCodec: set.HostWindow,
		AlertCodec:  wired(t, topology.TopicAlerts, set.Alert),
	}
}

// AlerterGroup returns the goka graph of the alerter.
func AlerterGroup(t *topology.Topology, p *alerter.Processor, set *codecs.Set) *goka.GroupGraph {
	return goka.DefineGroup(goka.Group(topology.GroupAlerter),
		goka.Input(goka.Stream(topology.TopicWindowUpdates), new(codec.Bytes), p.Process),
		goka.Output(goka.Stream(topology.TopicAlerts), new(codec.Bytes)),
		goka.Output(goka.Stream(topology.TopicDLQ), wired(t, topology.TopicDLQ, set.DeadLetter)),
		goka.Persist(wired(t, topology.TableTopic(topology.GroupAlerter), set.AlerterState)),
	)
}
