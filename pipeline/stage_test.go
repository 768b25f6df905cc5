package pipeline

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/rs/zerolog"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/topology"
)

// TestStageErr: a stage that stops while the pipeline runs has failed,
// also when goka returns nothing or an error that holds a
// context.Canceled of its own shutdown next to a callback's panic; a stop
// the pipeline asked for is no failure.
func TestStageErr(t *testing.T) {
	live := context.Background()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	panicked := errors.New("error processing message (partition=2): panic in callback")
	for _, c := range []struct {
		name   string
		ctx    context.Context
		err    error
		failed bool
	}{
		{"stopped by itself, no error", live, nil, true},
		{"panic next to goka's own cancel", live, errors.Join(panicked, context.Canceled), true},
		{"failed", live, panicked, true},
		{"asked to stop", done, context.Canceled, false},
		{"asked to stop, no error", done, nil, false},
		{"failed while stopping", done, panicked, true},
	} {
		if got := stageErr(c.ctx, c.err); (got != nil) != c.failed {
			t.Errorf("%s: stageErr = %v, want failed %v", c.name, got, c.failed)
		}
	}
}

// TestStagesAgreeWithTheTopology builds each stage alone and all of them
// (New connects to nothing) and checks each description against the
// topology's: the consumer groups it runs, the topic its punctuator
// stamps, its sweeper's group, and the topics it writes in transactions.
func TestStagesAgreeWithTheTopology(t *testing.T) {
	topo, err := topology.New(topology.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	build := func(stages ...string) *Pipeline {
		t.Helper()
		p, err := New(Options{Brokers: []string{"127.0.0.1:1"}, Topology: topo, Codecs: set, Stages: stages, Logger: zerolog.Nop()})
		if err != nil {
			t.Fatalf("New(stages %v): %v", stages, err)
		}
		return p
	}
	// The topology's groups of a stage: its own, and its combine hop's.
	groupsOf := func(name string) (groups, transactional []string) {
		for _, s := range topo.Stages() {
			switch {
			case s.Name == name && !s.Combiner:
				groups = append(groups, s.Group)
			case s.Combiner && s.Part == name:
				groups = append(groups, s.Group)
				transactional = append(transactional, s.Outputs[0])
			}
		}
		return groups, transactional
	}
	var all []string
	for _, name := range StageNames() {
		p := build(name)
		want, wantTx := groupsOf(name)
		if len(want) == 0 {
			t.Errorf("stage %s is not the topology's", name)
		}
		if got := p.Groups(); !slices.Equal(sorted(got), sorted(want)) {
			t.Errorf("stage %s runs groups %v, the topology says %v", name, got, want)
		}
		if got := p.TransactionalTopics(); !slices.Equal(got, wantTx) {
			t.Errorf("stage %s writes %v in transactions, want %v", name, got, wantTx)
		}
		if len(p.stages) != 1 {
			t.Fatalf("stage %s: %d descriptions", name, len(p.stages))
		}
		st := p.stages[0]
		ts, _ := topo.Stage(name)
		if st.storage == nil {
			t.Errorf("stage %s has no storage", name)
		}
		if st.sweeper != nil && st.sweeper.Group != ts.Group {
			t.Errorf("stage %s: sweeper of group %s", name, st.sweeper.Group)
		}
		if st.origins != nil && !slices.Contains(ts.Outputs, st.stamped) {
			t.Errorf("stage %s stamps %s, not one of its outputs %v", name, st.stamped, ts.Outputs)
		}
		if st.watermarks != nil {
			if topic, _ := st.watermarks(); !slices.Contains(ts.Outputs, topic) {
				t.Errorf("stage %s counts watermarks on %s, not one of its outputs %v", name, topic, ts.Outputs)
			}
		}
		all = append(all, want...)
	}
	var stageGroups []string
	for _, g := range topo.Groups() {
		if g.Kind == topology.KindStage {
			stageGroups = append(stageGroups, g.Name)
		}
	}
	if got := build().Groups(); !slices.Equal(sorted(got), sorted(stageGroups)) || !slices.Equal(sorted(all), sorted(stageGroups)) {
		t.Errorf("the pipeline runs groups %v, the topology's stages are %v", got, stageGroups)
	}
}

func sorted(xs []string) []string {
	out := slices.Clone(xs)
	slices.Sort(out)
	return out
}
