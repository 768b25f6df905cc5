package topology

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/logstream/logstream/codecs"
)

// Topic names. These constants are the only place they are spelled.
const (
	TopicRaw      = "logs.raw"
	TopicParsed   = "logs.parsed"
	TopicUnique   = "logs.unique"
	TopicEnriched = "logs.enriched"
	TopicDLQ      = "logs.dlq"
	// TopicSpans carries Avro Span records keyed by trace id.
	TopicSpans = "spans"
	// TopicOTLPSpans is where the OpenTelemetry Collector's Kafka exporter
	// writes traces (encoding otlp_proto); the spans stage adapts them.
	TopicOTLPSpans = "otlp.spans"
	// TopicHostWindows carries each host's closed error-rate windows
	// (HostWindow, emit final; and updates when the stage is told to).
	TopicHostWindows = "hosts.error-rate"
	// TopicWindowUpdates carries the errorrate stage's window updates to
	// the alerter, keyed by fleet so that one alerter sees every host.
	TopicWindowUpdates = "hosts.window-updates"
	// TopicErrorRatePartials is the errorrate stage's repartition topic:
	// its combine hop's partial counts per host, each record holding the
	// hosts of one partition, written in Kafka transactions.
	TopicErrorRatePartials = "errorrate-partials"
	// TopicAlerts carries Alert records: one FIRING and one RESOLVED per
	// incident, keyed by fleet so that a fleet's alerts stay in order.
	TopicAlerts = "alerts"

	// TopicBenchPassthrough is written only by the benchmark's baseline
	// (a plain consume-and-produce hop); it is not part of the pipeline.
	TopicBenchPassthrough = "bench.passthrough"
)

// Group names of the stages (goka processor groups, Kafka consumer groups).
const (
	GroupParse     = "parse"
	GroupSpans     = "spans"
	GroupDedupe    = "dedupe"
	GroupTraceJoin = "tracejoin"
	GroupErrorRate = "errorrate"
	// GroupErrorRateCombine is the errorrate stage's first hop: a franz-go
	// transactional consumer group that counts logs.unique per host and
	// writes partial counts (it runs with the stage, not on its own).
	GroupErrorRateCombine = "errorrate-combine"
	GroupAlerter          = "alerter"
	// GroupPage is `logstream page`'s consumer group (not a goka stage).
	// Its table, TableTopic(GroupPage), holds the open incidents it
	// re-sends to Alertmanager.
	GroupPage = "page"
	// GroupSinkS3 and GroupSinkOpenObserve are the sink writers' consumer
	// groups (franz-go, not goka stages).
	GroupSinkS3          = "sink-s3"
	GroupSinkOpenObserve = "sink-openobserve"
)

// SinkTopics are the topics the sink writers copy out of Kafka by default.
var SinkTopics = []string{TopicEnriched, TopicAlerts}

// FleetKey is the key of the alerter's input, state and output: one fleet.
const FleetKey = "fleet"

// Kind tells a stream from a table.
type Kind string

// Topic kinds.
const (
	Stream Kind = "stream" // cleanup.policy=delete; records are events
	Table  Kind = "table"  // cleanup.policy=compact; a goka group table
)

// Topic describes one Kafka topic of the pipeline.
type Topic struct {
	Name       string
	Kind       Kind
	Partitions int
	Key        string // what the record key holds
	Record     string // Avro record name of the values (schemas.Name*)
	Plain      bool   // values may also be plain text, not Avro
	// Foreign describes the values of a topic that carries no Avro at all.
	Foreign  string
	External bool // written from outside the pipeline (shippers, ingest)
	Doc      string
}

// Stage describes one processing stage: a goka processor group.
type Stage struct {
	Name    string
	Group   string
	Inputs  []string
	Outputs []string
	Table   string // group table topic, "" for a stateless stage
	Loop    string // the group's loop topic (goka Loopback), "" for none
	Key     string // key the stage's input (and table) is partitioned by
	// Rekeys are inputs keyed otherwise that the stage only re-keys into
	// its loop topic (a repartition, as in Kafka Streams); they must still
	// be co-partitioned, because goka assigns partition n of every input to
	// the same pod.
	Rekeys []string
	// Combiner marks a hop that is not a goka group but a franz-go
	// consumer group in Kafka transactions: it reads its inputs whatever
	// their keys (no table, nothing co-partitioned) and writes its output
	// atomically with its offsets. Part names the stage it runs with.
	Combiner bool
	Part     string
	Doc      string
}

// Config sizes the topology.
type Config struct {
	// Partitions of every topic of the pipeline. Stages scale out to at most
	// this many pods. Changing it on an existing deployment needs new topics.
	Partitions int
	// Replication factor for created topics: 1 on the embedded broker, 3 on
	// a production cluster.
	Replication int
	// Wires sets the wire format the pipeline writes to a topic; topics not
	// listed get single-object encoding. Readers accept both, so a topic
	// can be switched on a running deployment.
	Wires map[string]codecs.Wire
}

// DefaultConfig returns the defaults: 6 partitions, replication 1.
func DefaultConfig() Config { return Config{Partitions: 6, Replication: 1} }

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	if c.Partitions < 1 || c.Partitions > 10000 {
		return fmt.Errorf("topology: partitions must be between 1 and 10000, got %d", c.Partitions)
	}
	if c.Replication < 1 || c.Replication > 32 {
		return fmt.Errorf("topology: replication must be between 1 and 32, got %d", c.Replication)
	}
	return nil
}

// Topology is the validated pipeline graph.
type Topology struct {
	cfg    Config
	topics []Topic
	stages []Stage
}

// TableTopic returns the goka group-table topic of a group (goka's own
// naming rule, "<group>-table").
func TableTopic(group string) string { return group + "-table" }

// BenchHopTopic names hop i (1, 2, ...) of the benchmark's passthrough
// chain: the whole-pipeline baseline copies logs.raw through these. They
// are not part of the pipeline.
func BenchHopTopic(i int) string { return "bench.hop-" + strconv.Itoa(i) }

// LoopTopic returns the goka loop topic of a group ("<group>-loop").
func LoopTopic(group string) string { return group + "-loop" }

// New builds the pipeline graph for cfg and validates it.
func New(cfg Config) (*Topology, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := cfg.Partitions
	t := &Topology{
		cfg: cfg,
		topics: []Topic{
			{Name: TopicRaw, Kind: Stream, Partitions: p, Key: "host", Record: "RawLog", Plain: true, External: true,
				Doc: "raw log lines: Avro RawLog from `logstream ingest`, or plain text/JSON lines from any shipper (key names the host)"},
			{Name: TopicParsed, Kind: Stream, Partitions: p, Key: "event_id", Record: "LogEvent",
				Doc: "parsed log events, one per line"},
			{Name: TopicUnique, Kind: Stream, Partitions: p, Key: "event_id", Record: "LogEvent",
				Doc: "log events with duplicates removed: the first occurrence of each event id within the TTL"},
			{Name: TopicEnriched, Kind: Stream, Partitions: p, Key: "trace_id", Record: "LogEvent",
				Doc: "log events joined with their trace span (join_status joined, timeout or no_trace); keyed by trace id, or by event id for events without one"},
			{Name: TopicDLQ, Kind: Stream, Partitions: p, Key: "original key", Record: "DeadLetter",
				Doc: "records a stage could not decode, with their bytes, origin and reason"},
			{Name: TopicOTLPSpans, Kind: Stream, Partitions: p, Key: "any", External: true, Foreign: "OTLP protobuf (ExportTraceServiceRequest)",
				Doc: "traces from the OpenTelemetry Collector's Kafka exporter, encoding otlp_proto"},
			{Name: TopicSpans, Kind: Stream, Partitions: p, Key: "trace_id", Record: "Span",
				Doc: "finished trace spans, one Avro Span per record, keyed by trace id"},
			{Name: TableTopic(GroupParse), Kind: Table, Partitions: p, Key: "host", Record: "ParseState",
				Doc: "parse stage state: unfinished CRI partial lines and multi-line events (stack traces) per host and source"},
			{Name: LoopTopic(GroupParse), Kind: Stream, Partitions: p, Key: "host",
				Foreign: "the record as read from logs.raw, with header ls-raw-offset",
				Doc:     "parse's loop: records whose key a shipper placed on another partition than goka would, re-keyed to a key of the partition they came from, so that their host's lines are joined there"},
			{Name: TableTopic(GroupDedupe), Kind: Table, Partitions: p, Key: "event_id", Record: "DedupeState",
				Doc: "dedupe state: the first occurrence of each event id inside the TTL (expired ids are deleted)"},
			{Name: LoopTopic(GroupDedupe), Kind: Stream, Partitions: p, Key: "event_id",
				Foreign: "LogEvent (Avro) rerouted to its partition, or an expiry timer",
				Doc:     "dedupe's own loop: events that arrived on the wrong partition, and expiry timers for ids past their TTL"},
			{Name: TableTopic(GroupTraceJoin), Kind: Table, Partitions: p, Key: "trace_id", Record: "TraceState",
				Doc: "trace-join state: each open trace's spans and log events, bounded by the join window"},
			{Name: LoopTopic(GroupTraceJoin), Kind: Stream, Partitions: p, Key: "trace_id",
				Foreign: "LogEvent or Span (Avro) re-keyed by trace id, or a window timer",
				Doc:     "trace join's repartition topic: events re-keyed by trace id, and window timers"},
			{Name: TopicErrorRatePartials, Kind: Stream, Partitions: p, Key: "partition", Record: "ErrorRatePartial",
				Doc: "errorrate's repartition topic: partial counts per host and second from its combine hop, one record per partition (key ~p<n>: every host goka places on partition n) and transaction, with the watermark of the logs.unique partitions counted"},
			{Name: TableTopic(GroupErrorRate), Kind: Table, Partitions: p, Key: "partition", Record: "ErrorRatePartition",
				Doc: "errorrate state, one value per partition holding its hosts: open window panes, counts not yet sent to the alerter, the watermark and its inputs (ErrorRateState values of the previous version are read once, at upgrade)"},
			{Name: LoopTopic(GroupErrorRate), Kind: Stream, Partitions: p, Key: "host",
				Foreign: "LogEvent (Avro) re-keyed by host, by the previous version",
				Doc:     "errorrate's loop: events the previous version re-keyed by host, read once after an upgrade"},
			{Name: TopicHostWindows, Kind: Stream, Partitions: p, Key: "host", Record: "HostWindow",
				Doc: "per-host error-rate windows (tumbling and hopping), written once when each window closes"},
			{Name: TopicWindowUpdates, Kind: Stream, Partitions: p, Key: "fleet", Record: "WindowUpdate",
				Doc: "the errorrate partitions' progress for the alerter: per-host counts per second up to each partition's watermark, and the windows' details"},
			{Name: TableTopic(GroupAlerter), Kind: Table, Partitions: p, Key: "fleet", Record: "AlerterState",
				Doc: "alerter state: every host's latest windows and minute history, and the open incidents"},
			{Name: TopicAlerts, Kind: Stream, Partitions: p, Key: "fleet", Record: "Alert",
				Doc: "alerts: one FIRING and one RESOLVED record per incident, for `logstream page`"},
			{Name: TableTopic(GroupPage), Kind: Table, Partitions: p, Key: "dedup_key", Record: "Alert",
				Doc: "`logstream page`'s state: the FIRING record of every open incident, on the partition of alerts it came from (a tombstone once it resolves), so that whoever owns that partition re-sends it to Alertmanager"},
		},
		stages: []Stage{
			{Name: "parse", Group: GroupParse, Inputs: []string{TopicRaw, LoopTopic(GroupParse)}, Outputs: []string{TopicParsed, TopicDLQ},
				Table: TableTopic(GroupParse), Loop: LoopTopic(GroupParse), Key: "host",
				Doc: "detects each line's format, parses it into a LogEvent; joins CRI partial lines and stack traces per host and source; masks card numbers; undecodable records go to the dead-letter topic"},
			{Name: "spans", Group: GroupSpans, Inputs: []string{TopicOTLPSpans}, Outputs: []string{TopicSpans, TopicDLQ}, Key: "any",
				Doc: "adapts OTLP trace exports into one Avro Span per span, keyed by trace id; spans without a valid trace id go to the dead-letter topic"},
			{Name: "dedupe", Group: GroupDedupe, Inputs: []string{TopicParsed, LoopTopic(GroupDedupe)}, Outputs: []string{TopicUnique, TopicDLQ},
				Table: TableTopic(GroupDedupe), Loop: LoopTopic(GroupDedupe), Key: "event_id",
				Doc: "passes the first occurrence of each event id within the TTL, drops repeats; expired ids are deleted from the table"},
			{Name: "tracejoin", Group: GroupTraceJoin, Inputs: []string{TopicUnique, TopicSpans, LoopTopic(GroupTraceJoin)}, Outputs: []string{TopicEnriched, TopicDLQ},
				Table: TableTopic(GroupTraceJoin), Loop: LoopTopic(GroupTraceJoin), Key: "trace_id", Rekeys: []string{TopicUnique},
				Doc: "re-keys events by trace id and joins each with its span; an event whose span does not come within the join window is emitted unenriched (timeout)"},
			{Name: "errorrate-combine", Group: GroupErrorRateCombine, Inputs: []string{TopicUnique, TopicEnriched}, Outputs: []string{TopicErrorRatePartials, TopicDLQ},
				Key: "any", Combiner: true, Part: "errorrate",
				Doc: "the errorrate stage's first hop: counts events per host and second of event time from logs.unique (so that nothing waits for the join), with latency sketches, error signatures and, from logs.enriched, joined error events as sample traces; writes them per host partition with its watermark, in one Kafka transaction with its offsets"},
			{Name: "errorrate", Group: GroupErrorRate, Inputs: []string{TopicErrorRatePartials, LoopTopic(GroupErrorRate)}, Outputs: []string{TopicHostWindows, TopicWindowUpdates, TopicDLQ},
				Table: TableTopic(GroupErrorRate), Loop: LoopTopic(GroupErrorRate), Key: "partition",
				// The previous version's loop records, keyed by host, are
				// re-keyed to their partition's key once, after an upgrade.
				Rekeys: []string{LoopTopic(GroupErrorRate)},
				Doc:    "merges the partial counts of each host per event-time window (tumbling and hopping, with grace); closes a window when the watermark passes its end and grace, writing it once; sends the alerter each host's counts per second up to the watermark"},
			{Name: "alerter", Group: GroupAlerter, Inputs: []string{TopicWindowUpdates}, Outputs: []string{TopicAlerts, TopicDLQ},
				Table: TableTopic(GroupAlerter), Key: "fleet",
				Doc: "evaluates the alert rules (threshold, host against fleet median, burn rate, silent host, silent fleet) every second of event time once every errorrate partition's watermark has passed it, with significance tests and hysteresis; writes one FIRING and one RESOLVED alert per incident"},
		},
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if err := t.checkWires(); err != nil {
		return nil, err
	}
	return t, nil
}

// checkWires rejects a wire format for a topic the pipeline does not write
// Avro to.
func (t *Topology) checkWires() error {
	for name := range t.cfg.Wires {
		tp, ok := t.Topic(name)
		if !ok {
			return fmt.Errorf("topology: encoding set for %q, which is no topic of the pipeline", name)
		}
		if tp.Record == "" {
			return fmt.Errorf("topology: encoding set for %s, which carries no Avro", name)
		}
	}
	return nil
}

// Wire returns the wire format the pipeline writes to topic.
func (t *Topology) Wire(topic string) codecs.Wire { return t.cfg.Wires[topic] }

// Config returns the configuration the topology was built with.
func (t *Topology) Config() Config { return t.cfg }

// Topics returns every topic, in pipeline order.
func (t *Topology) Topics() []Topic { return append([]Topic(nil), t.topics...) }

// Stages returns every stage, in pipeline order.
func (t *Topology) Stages() []Stage { return append([]Stage(nil), t.stages...) }

// Topic returns the named topic.
func (t *Topology) Topic(name string) (Topic, bool) {
	for _, tp := range t.topics {
		if tp.Name == name {
			return tp, true
		}
	}
	return Topic{}, false
}

// Stage returns the named stage.
func (t *Topology) Stage(name string) (Stage, bool) {
	for _, s := range t.stages {
		if s.Name == name {
			return s, true
		}
	}
	return Stage{}, false
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

// Validate checks the graph: every topic a stage names exists, every input
// is produced by a stage or is external, nothing but its stage writes a table,
// a stage's inputs and table are keyed alike and co-partitioned (goka assigns
// the same partition of each to one pod), and names are unique.
func (t *Topology) Validate() error {
	var errs []error
	seen := map[string]bool{}
	for _, tp := range t.topics {
		if seen[tp.Name] {
			errs = append(errs, fmt.Errorf("topic %s declared twice", tp.Name))
		}
		seen[tp.Name] = true
		if tp.Partitions < 1 {
			errs = append(errs, fmt.Errorf("topic %s: partitions must be positive", tp.Name))
		}
	}
	produced := map[string]string{}
	for _, s := range t.stages {
		for _, o := range s.Outputs {
			if _, ok := t.Topic(o); !ok {
				errs = append(errs, fmt.Errorf("stage %s: output topic %s is not declared", s.Name, o))
			}
			produced[o] = s.Name
		}
		if s.Table != "" {
			produced[s.Table] = s.Name
		}
		if s.Loop != "" {
			produced[s.Loop] = s.Name
		}
	}
	groups := map[string]bool{}
	for _, s := range t.stages {
		if groups[s.Group] {
			errs = append(errs, fmt.Errorf("group %s used by two stages", s.Group))
		}
		groups[s.Group] = true
		if len(s.Inputs) == 0 {
			errs = append(errs, fmt.Errorf("stage %s has no input", s.Name))
		}
		if s.Combiner {
			for _, name := range s.Inputs {
				if _, ok := t.Topic(name); !ok {
					errs = append(errs, fmt.Errorf("stage %s: input topic %s is not declared", s.Name, name))
				}
			}
			if s.Table != "" || s.Loop != "" {
				errs = append(errs, fmt.Errorf("stage %s: a combiner has no table and no loop", s.Name))
			}
			continue
		}
		for _, r := range s.Rekeys {
			if !contains(s.Inputs, r) {
				errs = append(errs, fmt.Errorf("stage %s: re-keyed topic %s is not an input", s.Name, r))
			}
			if s.Loop == "" {
				errs = append(errs, fmt.Errorf("stage %s: re-keys %s but has no loop topic", s.Name, r))
			}
		}
		if s.Loop != "" {
			if s.Loop != LoopTopic(s.Group) {
				errs = append(errs, fmt.Errorf("stage %s: loop must be named %s", s.Name, LoopTopic(s.Group)))
			}
			if !contains(s.Inputs, s.Loop) {
				errs = append(errs, fmt.Errorf("stage %s: loop topic %s is not an input", s.Name, s.Loop))
			}
		}
		copart := append([]string(nil), s.Inputs...)
		if s.Table != "" {
			tb, ok := t.Topic(s.Table)
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("stage %s: table %s is not declared", s.Name, s.Table))
			case tb.Kind != Table:
				errs = append(errs, fmt.Errorf("stage %s: table %s is not a table topic", s.Name, s.Table))
			case s.Table != TableTopic(s.Group):
				errs = append(errs, fmt.Errorf("stage %s: table must be named %s", s.Name, TableTopic(s.Group)))
			}
			copart = append(copart, s.Table)
		}
		var parts int
		for i, name := range copart {
			tp, ok := t.Topic(name)
			if !ok {
				errs = append(errs, fmt.Errorf("stage %s: input topic %s is not declared", s.Name, name))
				continue
			}
			if i < len(s.Inputs) && !tp.External && produced[name] == "" {
				errs = append(errs, fmt.Errorf("stage %s: input topic %s has no producer", s.Name, name))
			}
			if tp.Key != s.Key && !contains(s.Rekeys, name) {
				errs = append(errs, fmt.Errorf("stage %s: topic %s is keyed by %s, the stage by %s: repartition first", s.Name, name, tp.Key, s.Key))
			}
			if parts == 0 {
				parts = tp.Partitions
			} else if tp.Partitions != parts {
				errs = append(errs, fmt.Errorf("stage %s: topics %s are not co-partitioned (%d vs %d partitions)", s.Name, strings.Join(copart, ", "), parts, tp.Partitions))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("topology: invalid graph: %w", errors.Join(errs...))
	}
	return nil
}

// Describe renders the topology as plain text: every stage with its input
// and output topics, group table, key and partition count, then every topic.
func (t *Topology) Describe() string {
	var b strings.Builder
	for _, s := range t.stages {
		if s.Combiner {
			fmt.Fprintf(&b, "stage %s (group %s, Kafka transactions; runs with %s)\n", s.Name, s.Group, s.Part)
		} else {
			fmt.Fprintf(&b, "stage %s (group %s)\n", s.Name, s.Group)
		}
		fmt.Fprintf(&b, "  %s\n", s.Doc)
		for _, in := range s.Inputs {
			tp, _ := t.Topic(in)
			fmt.Fprintf(&b, "  input   %-20s key=%-12s partitions=%d\n", in, tp.Key, tp.Partitions)
		}
		for _, out := range s.Outputs {
			tp, _ := t.Topic(out)
			fmt.Fprintf(&b, "  output  %-20s key=%-12s partitions=%d\n", out, tp.Key, tp.Partitions)
		}
		if s.Table != "" {
			tp, _ := t.Topic(s.Table)
			fmt.Fprintf(&b, "  table   %-20s key=%-12s partitions=%d (compacted)\n", s.Table, tp.Key, tp.Partitions)
		} else {
			b.WriteString("  table   none (stateless)\n")
		}
		fmt.Fprintf(&b, "  key     %s\n\n", s.Key)
	}
	b.WriteString("topics\n")
	for _, tp := range t.topics {
		fmt.Fprintf(&b, "  %-20s %-6s partitions=%-3d replication=%d key=%s value=%s\n", tp.Name, tp.Kind, tp.Partitions, t.cfg.Replication, tp.Key, tp.valueDesc()+t.wireDesc(tp.Name))
	}
	return b.String()
}

// DOT renders the graph in Graphviz DOT: topics are boxes, stages ellipses.
func (t *Topology) DOT() string {
	var b strings.Builder
	b.WriteString("digraph logstream {\n  rankdir=LR;\n")
	for _, tp := range t.sortedTopics() {
		shape := "box"
		if tp.Kind == Table {
			shape = "cylinder"
		}
		// Graphviz reads \n inside a quoted label as a line break; %q
		// would double the backslash and show it. Names and keys hold no
		// quote or backslash.
		fmt.Fprintf(&b, "  %q [shape=%s, label=\"%s\\n%d partitions, key %s\"];\n", tp.Name, shape, tp.Name, tp.Partitions, tp.Key)
	}
	for _, s := range t.stages {
		fmt.Fprintf(&b, "  %q [shape=ellipse, style=bold];\n", "stage:"+s.Name)
		for _, in := range s.Inputs {
			fmt.Fprintf(&b, "  %q -> %q;\n", in, "stage:"+s.Name)
		}
		for _, out := range s.Outputs {
			fmt.Fprintf(&b, "  %q -> %q;\n", "stage:"+s.Name, out)
		}
		if s.Table != "" {
			fmt.Fprintf(&b, "  %q -> %q [dir=both, style=dashed];\n", "stage:"+s.Name, s.Table)
		}
	}
	b.WriteString("}\n")
	return b.String()
}

// Mermaid renders the graph as a Mermaid flowchart.
func (t *Topology) Mermaid() string {
	id := func(name string) string { return strings.NewReplacer(".", "_", "-", "_", ":", "_").Replace(name) }
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for _, tp := range t.sortedTopics() {
		if tp.Kind == Table {
			fmt.Fprintf(&b, "  %s[(\"%s<br/>%d partitions, key %s\")]\n", id(tp.Name), tp.Name, tp.Partitions, tp.Key)
		} else {
			fmt.Fprintf(&b, "  %s[\"%s<br/>%d partitions, key %s\"]\n", id(tp.Name), tp.Name, tp.Partitions, tp.Key)
		}
	}
	for _, s := range t.stages {
		sid := id("stage:" + s.Name)
		fmt.Fprintf(&b, "  %s([\"%s\"])\n", sid, s.Name)
		for _, in := range s.Inputs {
			fmt.Fprintf(&b, "  %s --> %s\n", id(in), sid)
		}
		for _, out := range s.Outputs {
			fmt.Fprintf(&b, "  %s --> %s\n", sid, id(out))
		}
		if s.Table != "" {
			fmt.Fprintf(&b, "  %s <-.-> %s\n", sid, id(s.Table))
		}
	}
	return b.String()
}

func (t *Topology) sortedTopics() []Topic {
	out := t.Topics()
	sort.SliceStable(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}

// wireDesc names a topic's wire format when it is not the default.
func (t *Topology) wireDesc(topic string) string {
	if w := t.Wire(topic); w != codecs.WireSingleObject {
		return " (" + w.String() + " wire format)"
	}
	return ""
}

// valueDesc says what the topic's values are, for Describe.
func (tp Topic) valueDesc() string {
	if tp.Foreign != "" {
		return tp.Foreign
	}
	if tp.Plain {
		return tp.Record + " or plain text"
	}
	return tp.Record
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// CoPartitioned returns, for each stage, the topics goka reads together
// partition by partition (inputs, loop and table): they must have equal
// partition counts on the broker.
func (t *Topology) CoPartitioned() map[string][]string {
	out := map[string][]string{}
	for _, s := range t.stages {
		if s.Combiner {
			continue // reads its inputs whole
		}
		set := append([]string(nil), s.Inputs...)
		if s.Table != "" {
			set = append(set, s.Table)
		}
		out[s.Name] = set
	}
	return out
}

// CheckPartitions compares the partition counts found on the broker
// (topic → count; a missing topic is absent) with the topology: every
// stage's co-partitioned topics must agree with each other and with the
// declared count. It is run at start-up, because a topic created outside
// logstream (spans by the collector's exporter, say) can have any count,
// and a join over topics that are not co-partitioned silently misses.
func (t *Topology) CheckPartitions(found map[string]int) error {
	var errs []error
	for _, s := range t.stages {
		for _, name := range t.CoPartitioned()[s.Name] {
			n, ok := found[name]
			if !ok {
				continue // created by the pipeline before it starts
			}
			tp, _ := t.Topic(name)
			if n != tp.Partitions {
				errs = append(errs, fmt.Errorf("stage %s: topic %s has %d partitions on the broker, the topology wants %d (co-partitioned with %s)",
					s.Name, name, n, tp.Partitions, strings.Join(t.CoPartitioned()[s.Name], ", ")))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("topology: topics are not co-partitioned: %w", errors.Join(errs...))
	}
	return nil
}
