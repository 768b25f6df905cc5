// Package topology is the one place that names logstream's topics, their
// partition counts, keys and record types, and the stages (goka processor
// groups) that connect them. Stages never spell a topic name: they receive
// the goka edges they need from here.
//
// A Topology is data first: Describe lists every stage and topic, Validate
// checks the whole graph (every input has a producer or is external, keys
// agree, co-partitioned topics have equal partition counts) before anything
// starts, and DOT and Mermaid render it for humans.
package topology
