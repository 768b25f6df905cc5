package topology

import (
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/parse"
)

// ParseConfig returns the parse stage's wiring: its output topics and the
// partitioner its input is written with.
func (t *Topology) ParseConfig(set *codecs.Set) parse.Config {
	n := int32(t.cfg.Partitions)
	return parse.Config{
		Events:      goka.Stream(TopicParsed),
		DeadLetters: goka.Stream(TopicDLQ),
		PartitionOf: func(key []byte) int32 { return Partition(key, n) },
		RawLogs:     set.RawLog,
	}
}

// ParseGroup returns the goka graph of the parse stage. The input is read
// as bytes: decoding happens in the callback, so that a record that does
// not decode becomes a dead letter instead of stopping the processor.
func (t *Topology) ParseGroup(p *parse.Processor, set *codecs.Set) *goka.GroupGraph {
	return goka.DefineGroup(goka.Group(GroupParse),
		goka.Input(goka.Stream(TopicRaw), new(codec.Bytes), p.Process),
		goka.Output(goka.Stream(TopicParsed), wired(t, TopicParsed, set.LogEvent)),
		goka.Output(goka.Stream(TopicDLQ), wired(t, TopicDLQ, set.DeadLetter)),
		goka.Persist(wired(t, TableTopic(GroupParse), set.ParseState)),
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
