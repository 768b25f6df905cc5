package wiring_test

import (
	"slices"
	"testing"

	"github.com/lovoo/goka"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/pipeline/wiring"
	"github.com/logstream/logstream/processors/alerter"
	"github.com/logstream/logstream/processors/dedupe"
	"github.com/logstream/logstream/processors/errorrate"
	"github.com/logstream/logstream/processors/parse"
	"github.com/logstream/logstream/processors/spans"
	"github.com/logstream/logstream/processors/tracejoin"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

func topics(es goka.Edges) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Topic())
	}
	return out
}

func topic(e goka.Edge) string {
	if e == nil {
		return ""
	}
	return e.Topic()
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestGraphsAgreeWithTheTopology: the goka graph of every stage reads,
// writes, loops through and persists to exactly the topics the topology
// describes for it, so that Validate, Describe and the Strimzi resources
// speak of the graphs that run. The graphs are built with nil processors:
// building one only takes the callbacks' method values.
func TestGraphsAgreeWithTheTopology(t *testing.T) {
	topo, err := topology.New(topology.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	graphs := map[string]*goka.GroupGraph{
		"parse":     wiring.ParseGroup(topo, (*parse.Processor)(nil), set),
		"spans":     wiring.SpansGroup(topo, (*spans.Processor)(nil), set),
		"dedupe":    wiring.DedupeGroup(topo, (*dedupe.Processor)(nil), set),
		"tracejoin": wiring.TraceJoinGroup(topo, (*tracejoin.Processor)(nil), set),
		"errorrate": wiring.ErrorRateGroup(topo, (*errorrate.Processor)(nil), set),
		"alerter":   wiring.AlerterGroup(topo, (*alerter.Processor)(nil), set),
	}
	for _, s := range topo.Stages() {
		if s.Combiner {
			cc := wiring.ErrorRateCombineConfig(topo, set)
			if cc.Group != s.Group || !sameSet([]string{cc.Events, cc.Joined}, s.Inputs) || !sameSet([]string{cc.Partials, cc.DeadLetters}, s.Outputs) {
				t.Errorf("combine hop: group %s reads %s, %s and writes %s, %s; the topology: %+v",
					cc.Group, cc.Events, cc.Joined, cc.Partials, cc.DeadLetters, s)
			}
			continue
		}
		g, ok := graphs[s.Name]
		if !ok {
			t.Errorf("stage %s has no graph", s.Name)
			continue
		}
		delete(graphs, s.Name)
		if err := g.Validate(); err != nil {
			t.Errorf("stage %s: %v", s.Name, err)
		}
		inputs := topics(g.InputStreams())
		if l := topic(g.LoopStream()); l != "" {
			inputs = append(inputs, l)
		}
		switch {
		case string(g.Group()) != s.Group:
			t.Errorf("stage %s: graph of group %s, want %s", s.Name, g.Group(), s.Group)
		case !sameSet(inputs, s.Inputs):
			t.Errorf("stage %s: graph reads %v, the topology says %v", s.Name, inputs, s.Inputs)
		case !sameSet(topics(g.OutputStreams()), s.Outputs):
			t.Errorf("stage %s: graph writes %v, the topology says %v", s.Name, topics(g.OutputStreams()), s.Outputs)
		case topic(g.LoopStream()) != s.Loop:
			t.Errorf("stage %s: graph loops through %q, the topology says %q", s.Name, topic(g.LoopStream()), s.Loop)
		case topic(g.GroupTable()) != s.Table:
			t.Errorf("stage %s: graph persists to %q, the topology says %q", s.Name, topic(g.GroupTable()), s.Table)
		}
	}
	for name := range graphs {
		t.Errorf("graph %s is no stage of the topology", name)
	}
}

// TestWiresFollowTheTopology: a wire format the topology sets for a topic
// is the one the stages write there; other topics keep the default.
func TestWiresFollowTheTopology(t *testing.T) {
	cfg := topology.DefaultConfig()
	cfg.Wires = map[string]codecs.Wire{topology.TopicEnriched: codecs.WireConfluent}
	topo, err := topology.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	g := wiring.TraceJoinGroup(topo, (*tracejoin.Processor)(nil), set)
	for _, e := range g.OutputStreams() {
		want := codecs.WireSingleObject
		if e.Topic() == topology.TopicEnriched {
			want = codecs.WireConfluent
		}
		var got codecs.Wire
		switch c := e.Codec().(type) {
		case *codecs.Codec[schemas.LogEvent]:
			got = c.Wire()
		case *codecs.Codec[schemas.DeadLetter]:
			got = c.Wire()
		default:
			t.Fatalf("%s: codec %T", e.Topic(), c)
		}
		if got != want {
			t.Errorf("%s: written as %s, want %s", e.Topic(), got, want)
		}
	}
	if w := wiring.ParseConfig(topo, set).Encode.Wire(); w != codecs.WireSingleObject {
		t.Errorf("logs.parsed: written as %s, want the default", w)
	}
}
