package topology

import (
	"strings"
	"testing"
)

func TestNewValidates(t *testing.T) {
	tp, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if len(tp.Stages()) == 0 {
		t.Fatal("no stages")
	}
	for _, bad := range []Config{{Partitions: 0, Replication: 1}, {Partitions: 3, Replication: 0}} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v) accepted an invalid config", bad)
		}
	}
}

func TestValidateCatchesBrokenGraphs(t *testing.T) {
	cases := map[string]func(*Topology){
		"not co-partitioned":       func(tp *Topology) { tp.topicRef(TableTopic(GroupParse)).Partitions++ },
		"spans not co-partitioned": func(tp *Topology) { tp.topicRef(TopicSpans).Partitions++ },
		"re-key without loop":      func(tp *Topology) { tp.stageRef("tracejoin").Loop = "" },
		"unique keyed by trace":    func(tp *Topology) { tp.stageRef("tracejoin").Rekeys = nil },
		"loop misnamed":            func(tp *Topology) { tp.stageRef("dedupe").Loop = LoopTopic(GroupTraceJoin) },
		"key mismatch":             func(tp *Topology) { tp.topics[0].Key = "event_id" },
		"undeclared output":        func(tp *Topology) { tp.stages[0].Outputs = append(tp.stages[0].Outputs, "nowhere") },
		"no producer":              func(tp *Topology) { tp.topics[0].External = false },
		"duplicate topic":          func(tp *Topology) { tp.topics = append(tp.topics, tp.topics[1]) },
		"table misnamed":           func(tp *Topology) { tp.stages[0].Table = TopicParsed },
	}
	for name, breakIt := range cases {
		t.Run(name, func(t *testing.T) {
			tp, err := New(DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			breakIt(tp)
			if err := tp.Validate(); err == nil {
				t.Fatal("Validate accepted a broken graph")
			}
		})
	}
}

func TestRenderings(t *testing.T) {
	tp, err := New(Config{Partitions: 4, Replication: 1})
	if err != nil {
		t.Fatal(err)
	}
	desc := tp.Describe()
	for _, want := range []string{"stage parse (group parse)", "input   logs.raw", "output  logs.parsed", "output  logs.dlq", "table   parse-table", "partitions=4"} {
		if !strings.Contains(desc, want) {
			t.Errorf("Describe lacks %q:\n%s", want, desc)
		}
	}
	dot := tp.DOT()
	if !strings.HasPrefix(dot, "digraph") || !strings.Contains(dot, `"logs.raw" -> "stage:parse"`) || !strings.Contains(dot, `"stage:parse" -> "logs.dlq"`) {
		t.Errorf("DOT output wrong:\n%s", dot)
	}
	mm := tp.Mermaid()
	if !strings.HasPrefix(mm, "flowchart LR") || !strings.Contains(mm, "logs_raw --> stage_parse") || !strings.Contains(mm, "stage_parse --> logs_parsed") {
		t.Errorf("Mermaid output wrong:\n%s", mm)
	}
}

func (t *Topology) topicRef(name string) *Topic {
	for i := range t.topics {
		if t.topics[i].Name == name {
			return &t.topics[i]
		}
	}
	panic("no topic " + name)
}

func (t *Topology) stageRef(name string) *Stage {
	for i := range t.stages {
		if t.stages[i].Name == name {
			return &t.stages[i]
		}
	}
	panic("no stage " + name)
}

func TestCheckPartitions(t *testing.T) {
	tp, err := New(Config{Partitions: 4, Replication: 1})
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]int{}
	for _, x := range tp.Topics() {
		found[x.Name] = x.Partitions
	}
	if err := tp.CheckPartitions(found); err != nil {
		t.Fatalf("matching counts rejected: %v", err)
	}
	delete(found, TopicUnique) // not created yet: fine
	if err := tp.CheckPartitions(found); err != nil {
		t.Fatalf("missing topic rejected: %v", err)
	}
	found[TopicSpans] = 12 // created by the collector's exporter with its own count
	err = tp.CheckPartitions(found)
	if err == nil || !strings.Contains(err.Error(), "stage tracejoin: topic spans has 12 partitions on the broker, the topology wants 4") {
		t.Fatalf("CheckPartitions = %v", err)
	}
}

func TestGroups(t *testing.T) {
	tp, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	groups := tp.Groups()
	if len(groups) != len(tp.Stages())+3 {
		t.Fatalf("%d groups for %d stages, page and two sinks", len(groups), len(tp.Stages()))
	}
	for _, g := range groups {
		// Every group says what reading again means for it.
		if ReprocessEffects(g.Name) == "" {
			t.Errorf("group %s has no reprocess text", g.Name)
		}
		for _, in := range g.Inputs {
			if in == g.Loop || in == g.Table {
				t.Errorf("group %s: its input %s is its own loop or table", g.Name, in)
			}
		}
	}
	dd, ok := tp.Group(GroupDedupe)
	if !ok || dd.Kind != KindStage || dd.Stage != "dedupe" || strings.Join(dd.Inputs, ",") != TopicParsed ||
		strings.Join(dd.Topics(), ",") != TopicParsed+","+LoopTopic(GroupDedupe) || dd.Table != TableTopic(GroupDedupe) {
		t.Errorf("dedupe: %+v", dd)
	}
	comb, _ := tp.Group(GroupErrorRateCombine)
	if strings.Join(comb.Inputs, ",") != TopicUnique+","+TopicEnriched || comb.Loop != "" {
		t.Errorf("errorrate-combine: %+v", comb)
	}
	if pg, ok := tp.Group(GroupPage); !ok || pg.Kind != KindPage || strings.Join(pg.Inputs, ",") != TopicAlerts {
		t.Errorf("page: %+v", pg)
	}
	if _, ok := tp.Group("nobody"); ok || ReprocessEffects("nobody") != "" {
		t.Error("a group that is not the pipeline's was found")
	}
}

func TestValueRecord(t *testing.T) {
	for topic, want := range map[string]string{
		TopicEnriched: "LogEvent", TopicAlerts: "Alert", TopicHostWindows: "HostWindow", TopicDLQ: "DeadLetter", TopicRaw: "RawLog",
	} {
		if got, ok := ValueRecord(topic); !ok || got != want {
			t.Errorf("ValueRecord(%s) = %q, %v; want %q", topic, got, ok, want)
		}
	}
	for _, topic := range []string{"no.such.topic", LoopTopic(GroupDedupe), TopicOTLPSpans} {
		if got, ok := ValueRecord(topic); ok {
			t.Errorf("ValueRecord(%s) = %q, want none", topic, got)
		}
	}
}
