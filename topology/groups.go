package topology

// GroupKind tells what runs a consumer group of the pipeline.
type GroupKind string

// Group kinds.
const (
	// KindStage is a stage of `logstream run`: a goka processor group, or
	// the errorrate stage's combine hop (a franz-go group in Kafka
	// transactions).
	KindStage GroupKind = "stage"
	// KindPage is `logstream page`'s group.
	KindPage GroupKind = "page"
	// KindSink is a sink writer's group (`logstream sink s3|openobserve`).
	KindSink GroupKind = "sink"
)

// Group is one consumer group of the pipeline and the topics it commits
// offsets for.
type Group struct {
	Name  string
	Kind  GroupKind
	Stage string // the stage's name, for KindStage
	// Inputs are the topics the group reads from outside itself: a stage's
	// inputs without its loop, the alerts for page, the default sink topics
	// for a sink (a sink's --topics can name others).
	Inputs []string
	// Loop is the group's own loop topic (a goka Loopback), "" for none:
	// the group commits offsets there too, but it writes what it reads.
	Loop string
	// Table is the group table, "" for none. goka reads it whole at start,
	// partition by partition, not through the group's offsets.
	Table string
}

// Topics returns every topic the group commits offsets for: its inputs,
// then its loop.
func (g Group) Topics() []string {
	out := append([]string(nil), g.Inputs...)
	if g.Loop != "" {
		out = append(out, g.Loop)
	}
	return out
}

// Groups returns every consumer group of the pipeline: the stages' in
// pipeline order, then page, then the sinks'.
func (t *Topology) Groups() []Group {
	var out []Group
	for _, s := range t.stages {
		g := Group{Name: s.Group, Kind: KindStage, Stage: s.Name, Loop: s.Loop, Table: s.Table}
		for _, in := range s.Inputs {
			if in != s.Loop {
				g.Inputs = append(g.Inputs, in)
			}
		}
		out = append(out, g)
	}
	return append(out,
		Group{Name: GroupPage, Kind: KindPage, Inputs: []string{TopicAlerts}},
		Group{Name: GroupSinkS3, Kind: KindSink, Inputs: append([]string(nil), SinkTopics...)},
		Group{Name: GroupSinkOpenObserve, Kind: KindSink, Inputs: append([]string(nil), SinkTopics...)},
	)
}

// Group returns the named consumer group of the pipeline.
func (t *Topology) Group(name string) (Group, bool) {
	for _, g := range t.Groups() {
		if g.Name == name {
			return g, true
		}
	}
	return Group{}, false
}
