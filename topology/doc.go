// Package topology is the one place that names logstream's topics, their
// partition counts, keys and record types, and the stages (goka processor
// groups) that connect them, and it holds the partitioner every producer
// must place keys with. Stages never spell a topic name: package
// pipeline/wiring builds each stage's goka edges from the names here.
//
// It imports neither goka nor the stages, so that everything that only
// needs a topic name or the partitioner (sinks, paging, registry, the CLI's
// tools) can import it without linking the stream processors.
//
// A Topology is data first: Describe lists every stage and topic, Validate
// checks the whole graph (every input has a producer or is external, keys
// agree, co-partitioned topics have equal partition counts) before anything
// starts, and DOT and Mermaid render it for humans.
package topology
