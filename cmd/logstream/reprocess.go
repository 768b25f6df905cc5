package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/reprocess"
	"github.com/logstream/logstream/topology"
)

// reprocessSettings are the settings of `logstream reprocess`.
type reprocessSettings struct {
	Group      string
	From       *time.Time
	FromOffset *int64
	Topics     []string
	DryRun     bool
}

const reprocessLong = `Moves a stopped consumer group's committed offsets, so that it reads
records again from there when it starts, as kafka-consumer-groups
--reset-offsets does: to the first offset at or after --from in each
partition (by record timestamp; a partition with no record that recent goes
to its end), or to --from-offset in every partition (kept within the
partition's first and end offsets). Give one of the two.

Prints the plan first, one line per partition: topic, partition, committed
offset -> new offset. For a group of the pipeline it then says what reading
records again means for that stage's exactly-once guarantee and state (or
the sink's, or paging's). With --dry-run it stops there and changes nothing,
and says whether the group has members now. Otherwise it commits the new
offsets.

Refuses, with one line naming them, while the group has members: a running
member would commit its own offsets over the new ones. Stop the group first
(for a stage: every 'logstream run' that runs it, see --stages).

Topics: by default the group's input topics per the topology (for a stage,
not its loop topic; for a sink, the topics it has committed offsets for,
else logs.enriched,alerts). --topics names others the group reads, its loop
topic too. A table topic is refused: goka reads it whole at every start,
not through the group's offsets. A group that is not the pipeline's needs
--topics.

Exit status: 0 done (or dry run); 1 refused or failed; 2 invalid flags.
Without --brokers it connects to --embedded-addr.`

var (
	sReprocessGroup = setting{name: "group", env: "LOGSTREAM_REPROCESS_GROUP",
		usage: "consumer group whose offsets move (required), e.g. dedupe, errorrate-combine, sink-s3",
		parse: func(c *Config, v string) error { c.Reprocess.Group = strings.TrimSpace(v); return nil }}
	sReprocessFrom = setting{name: "from", env: "LOGSTREAM_REPROCESS_FROM",
		usage: "time to read again from: RFC 3339 (2026-12-01T09:30:00Z), or a duration before now (90m)",
		parse: func(c *Config, v string) error {
			c.Reprocess.From = nil
			if v = strings.TrimSpace(v); v == "" {
				return nil
			}
			if d, err := time.ParseDuration(v); err == nil {
				if d < 0 {
					return fmt.Errorf("%q: give the duration before now as a positive one (90m)", v)
				}
				t := time.Now().Add(-d)
				c.Reprocess.From = &t
				return nil
			}
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return fmt.Errorf("%q is neither an RFC 3339 time (2026-12-01T09:30:00Z) nor a duration (90m)", v)
			}
			c.Reprocess.From = &t
			return nil
		}}
	sReprocessFromOffset = setting{name: "from-offset", env: "LOGSTREAM_REPROCESS_FROM_OFFSET",
		usage: "offset to read again from, in every partition of the topics",
		parse: func(c *Config, v string) error {
			c.Reprocess.FromOffset = nil
			if v = strings.TrimSpace(v); v == "" {
				return nil
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return fmt.Errorf("%q is not an offset (a non-negative integer)", v)
			}
			c.Reprocess.FromOffset = &n
			return nil
		}}
	sReprocessTopics = setting{name: "topics", env: "LOGSTREAM_REPROCESS_TOPICS",
		usage: "topics whose offsets move, comma-separated; empty: the group's input topics",
		parse: func(c *Config, v string) error { c.Reprocess.Topics = splitList(v); return nil }}
	sDryRun = boolSetting("dry-run", "LOGSTREAM_REPROCESS_DRY_RUN", "print the plan and change nothing",
		func(c *Config, b bool) { c.Reprocess.DryRun = b })

	reprocessSettingsList = []setting{sConfig,
		withUsage(sBrokers, "Kafka bootstrap brokers, host:port,...; empty connects to --embedded-addr"),
		withUsage(sEmbeddedAddr, "address of a local 'logstream run' with its embedded broker, used when --brokers is empty"),
		sReprocessGroup, sReprocessFrom, sReprocessFromOffset, sReprocessTopics, sDryRun}
)

// reprocessTimeout bounds the requests of one reprocess run.
const reprocessTimeout = 30 * time.Second

func runReprocess(ctx context.Context, cfg *Config, stdout io.Writer) error {
	r := cfg.Reprocess
	switch {
	case r.Group == "":
		return usagef("logstream reprocess: name the group: --group G (see 'logstream reprocess --help')")
	case r.From == nil && r.FromOffset == nil:
		return usagef("logstream reprocess: say where to read from: --from TIME or --from-offset N")
	case r.From != nil && r.FromOffset != nil:
		return usagef("logstream reprocess: --from and --from-offset exclude each other: give one")
	}
	brokers, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	topo, err := topology.New(topology.DefaultConfig())
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(tuning(cfg).ClientOpts(brokers)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(ctx, reprocessTimeout)
	defer cancel()

	topics, err := reprocessTopics(ctx, adm, topo, r.Group, r.Topics)
	if err != nil {
		return err
	}
	plan, err := reprocess.MakePlan(ctx, adm, reprocess.Request{Group: r.Group, Topics: topics, Time: r.From, Offset: r.FromOffset})
	if err != nil {
		return cannotReach(err, brokers)
	}
	if len(plan.Members) > 0 && !r.DryRun {
		return &exitStatus{code: 1, msg: "logstream reprocess: " + (&reprocess.MembersError{Group: plan.Group, Members: plan.Members}).Error()}
	}
	writePlan(stdout, plan, r)
	if effects := topology.ReprocessEffects(r.Group); effects != "" {
		fmt.Fprintf(stdout, "\nwhat reading again means for %s:\n%s\n", r.Group, indent(effects, "  "))
	}
	if r.DryRun {
		if len(plan.Members) > 0 {
			fmt.Fprintf(stdout, "\ndry run: nothing changed. The group has members now, so a real run would be refused: %s\n",
				(&reprocess.MembersError{Group: plan.Group, Members: plan.Members}).Error())
		} else {
			fmt.Fprintln(stdout, "\ndry run: nothing changed")
		}
		return nil
	}
	if err := reprocess.Apply(ctx, adm, plan); err != nil {
		var me *reprocess.MembersError
		if errors.As(err, &me) {
			return &exitStatus{code: 1, msg: "logstream reprocess: " + me.Error()}
		}
		return err
	}
	fmt.Fprintf(stdout, "\ncommitted: group %s reads %d partitions from the new offsets when it starts\n", plan.Group, len(plan.Moves))
	return nil
}

// cannotReach says which brokers did not answer when the plan could not be
// made for want of them.
func cannotReach(err error, brokers []string) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s did not answer within %s: %w", strings.Join(brokers, ","), reprocessTimeout, err)
	}
	return err
}

// reprocessTopics checks the topics asked for against what the group
// reads, or picks its defaults.
func reprocessTopics(ctx context.Context, adm *kadm.Client, topo *topology.Topology, group string, asked []string) ([]string, error) {
	g, known := topo.Group(group)
	for _, t := range asked {
		if tp, ok := topo.Topic(t); ok && tp.Kind == topology.Table {
			return nil, usagef("logstream reprocess: %s is a table topic: goka reads it whole at every start, not through the group's offsets", t)
		}
	}
	if !known {
		if len(asked) == 0 {
			return nil, usagef("logstream reprocess: %s is not a group of the pipeline: name its topics with --topics", group)
		}
		return asked, nil
	}
	if g.Kind == topology.KindSink {
		if len(asked) > 0 {
			return asked, nil // a sink copies whatever its --topics says
		}
		// The sink's --topics are its own; the offsets it committed say
		// which it read.
		offs, err := adm.FetchOffsets(ctx, group)
		if err == nil && offs.Error() == nil {
			var out []string
			for t := range offs {
				out = append(out, t)
			}
			if len(out) > 0 {
				slices.Sort(out)
				return out, nil
			}
		}
		return g.Inputs, nil
	}
	if len(asked) == 0 {
		return g.Inputs, nil
	}
	reads := g.Topics()
	for _, t := range asked {
		if !slices.Contains(reads, t) {
			return nil, usagef("logstream reprocess: group %s does not read %s (it reads %s)", group, t, strings.Join(reads, ", "))
		}
	}
	return asked, nil
}

// writePlan prints each partition's move.
func writePlan(w io.Writer, p *reprocess.Plan, r reprocessSettings) {
	to := ""
	if r.From != nil {
		to = "the first offset at or after " + r.From.UTC().Format(time.RFC3339) + " in each partition"
	} else {
		to = fmt.Sprintf("offset %d in every partition", *r.FromOffset)
	}
	state := p.State
	if state == "" {
		state = "unknown to the broker"
	}
	fmt.Fprintf(w, "plan: group %s (%s) to %s; %d of %d partitions change\n", p.Group, state, to, p.Changes(), len(p.Moves))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tCURRENT -> NEW\tNOTE")
	for _, m := range p.Moves {
		cur := "none"
		if m.Current >= 0 {
			cur = fmt.Sprint(m.Current)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s -> %d\t%s\n", m.Topic, m.Partition, cur, m.New, m.Note)
	}
	tw.Flush()
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(s, "\n", "\n"+prefix)
}
