package status

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Group is one consumer group's health.
type Group struct {
	Group    string `json:"group"`
	Kind     string `json:"kind,omitempty"` // stage, page, sink; "" for another group
	Stage    string `json:"stage,omitempty"`
	Required bool   `json:"required"`
	// Known: the broker knows the group (it has members or committed
	// offsets). A group that is neither required nor known is not
	// deployed, and not judged.
	Known   bool     `json:"known"`
	State   string   `json:"state"` // the broker's: Stable, Empty, PreparingRebalance, ...
	Members []Member `json:"members"`
	// Partitions are the partitions the group is assigned or committed
	// offsets for, at the last sample.
	Partitions []Partition `json:"partitions"`
	// Lag is the total at the last sample, LagFirst at the first.
	Lag      int64 `json:"lag"`
	LagFirst int64 `json:"lag_first"`
	// LagGrowing: the lowest total lag of the second half of the samples is
	// above the highest of the first half (see the package documentation).
	LagGrowing bool `json:"lag_growing"`
	// Time since a committed offset last moved, from the samples: within
	// CommitWithinSeconds (one moved between two samples), or none moved
	// for NoCommitForSeconds (the whole interval). Both are absent with
	// one sample.
	CommitWithinSeconds *float64 `json:"commit_within_seconds,omitempty"`
	NoCommitForSeconds  *float64 `json:"no_commit_for_seconds,omitempty"`
	Error               string   `json:"error,omitempty"`

	// bounds are the highest total lag of the first half of the samples
	// and the lowest of the second.
	bounds [2]int64
}

// Member is one member of a group.
type Member struct {
	ClientID   string `json:"client_id"`
	Host       string `json:"host"`
	MemberID   string `json:"member_id"`
	InstanceID string `json:"instance_id,omitempty"`
	// Assigned maps each topic to the partitions the member consumes.
	Assigned map[string][]int32 `json:"assigned"`
}

// Partition is one partition's offsets for a group.
type Partition struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Committed is the group's committed offset, null when it has none.
	Committed *int64 `json:"committed"`
	End       int64  `json:"end"`
	// Lag is End minus Committed (minus the commit marker on a topic
	// written in transactions), -1 when unknown (see Error).
	Lag    int64  `json:"lag"`
	Member string `json:"member,omitempty"` // client id of the member consuming it
	Error  string `json:"error,omitempty"`
}

// problems says what is wrong with g, one line each.
func (g Group) problems() []string {
	var out []string
	switch {
	case g.Error != "":
		out = append(out, fmt.Sprintf("group %s: %s", g.Group, g.Error))
	case g.Required && !g.Known:
		out = append(out, fmt.Sprintf("group %s is unknown to the broker: it never ran here, or it was deleted", g.Group))
	case g.Known && len(g.Members) == 0:
		out = append(out, fmt.Sprintf("group %s has no members (state %s): nothing consumes %s", g.Group, g.State, strings.Join(g.topics(), ", ")))
	}
	if g.LagGrowing {
		out = append(out, fmt.Sprintf("group %s: lag is growing: at most %d in the first half of the samples, at least %d in the second (now %d)",
			g.Group, g.bounds[0], g.bounds[1], g.Lag))
	}
	return out
}

func (g Group) topics() []string {
	var out []string
	for _, p := range g.Partitions {
		if !slices.Contains(out, p.Topic) {
			out = append(out, p.Topic)
		}
	}
	if len(out) == 0 {
		return []string{"its topics"}
	}
	return out
}

// judgeGroup builds spec's report from the samples (at least one).
func judgeGroup(spec GroupSpec, samples []lagSample, txn map[string]bool) Group {
	g := Group{Group: spec.Name, Kind: string(spec.Kind), Stage: spec.Stage, Required: spec.Required,
		Members: []Member{}, Partitions: []Partition{}}
	last := samples[len(samples)-1].lags[spec.Name]
	g.State = last.State
	if err := last.Error(); err != nil {
		if errors.Is(err, kerr.GroupIDNotFound) {
			// Newer brokers answer so for a group they do not know.
			g.State = "Dead"
			return g
		}
		g.Error = err.Error()
		return g
	}
	for _, m := range last.Members {
		mem := Member{ClientID: m.ClientID, Host: m.ClientHost, MemberID: m.MemberID, Assigned: map[string][]int32{}}
		if m.InstanceID != nil {
			mem.InstanceID = *m.InstanceID
		}
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range c.Topics {
				ps := slices.Clone(t.Partitions)
				slices.Sort(ps)
				mem.Assigned[t.Topic] = ps
			}
		}
		g.Members = append(g.Members, mem)
	}
	committed := false
	for _, l := range last.Lag.Sorted() {
		p := Partition{Topic: l.Topic, Partition: l.Partition, End: l.End.Offset, Lag: lagOf(l, txn)}
		if l.Commit.At >= 0 {
			at := l.Commit.At
			p.Committed = &at
			committed = true
		}
		if l.Member != nil {
			p.Member = l.Member.ClientID
		}
		if l.Err != nil {
			p.Error = l.Err.Error()
		}
		g.Partitions = append(g.Partitions, p)
	}
	// A group the broker does not know is described as Dead (older
	// brokers) with nothing committed.
	g.Known = len(g.Members) > 0 || committed || (g.State != "" && g.State != "Dead")

	// A sample that found no partition for the group (no members and
	// nothing committed at that moment) knows no lag: it is left out,
	// not taken for 0.
	var totals []int64
	for _, s := range samples {
		if d := s.lags[spec.Name]; d.Error() == nil && len(d.Lag) > 0 {
			totals = append(totals, totalLag(d, txn))
		}
	}
	if len(totals) > 0 {
		g.LagFirst = totals[0]
	}
	g.Lag = totalLag(last, txn)
	g.bounds, g.LagGrowing = growing(totals)
	if len(samples) > 1 {
		end := samples[len(samples)-1].at
		moved := -1
		for i := 1; i < len(samples); i++ {
			if !sameCommits(samples[i-1].lags[spec.Name], samples[i].lags[spec.Name]) {
				moved = i
			}
		}
		if moved > 0 {
			// It moved after sample moved-1 was taken: within that long.
			s := end.Sub(samples[moved-1].at).Seconds()
			g.CommitWithinSeconds = &s
		} else {
			s := end.Sub(samples[0].at).Seconds()
			g.NoCommitForSeconds = &s
		}
	}
	return g
}

// lagOf is a partition's lag; on a topic written in transactions a caught-up
// group's committed offset is the commit marker's, one short of the end.
func lagOf(l kadm.GroupMemberLag, txn map[string]bool) int64 {
	if l.Err != nil || l.Lag < 0 {
		return -1
	}
	if txn[l.Topic] && l.Lag > 0 {
		return l.Lag - 1
	}
	return l.Lag
}

func totalLag(d kadm.DescribedGroupLag, txn map[string]bool) int64 {
	var tot int64
	for _, ps := range d.Lag {
		for _, l := range ps {
			if n := lagOf(l, txn); n > 0 {
				tot += n
			}
		}
	}
	return tot
}

// growing judges a lag series: the lowest of its second half above the
// highest of its first (the middle sample of an odd count in neither). A
// group that commits in steps has a saw-tooth lag; one that keeps up comes
// back down to where it was, one that falls behind or stopped does not.
func growing(totals []int64) (bounds [2]int64, grows bool) {
	n := len(totals)
	if n < 2 {
		return bounds, false
	}
	bounds = [2]int64{slices.Max(totals[:n/2]), slices.Min(totals[(n+1)/2:])}
	return bounds, bounds[1] > bounds[0]
}

// sameCommits reports whether two samples of a group hold the same
// committed offsets.
func sameCommits(a, b kadm.DescribedGroupLag) bool {
	ca, cb := commits(a), commits(b)
	if len(ca) != len(cb) {
		return false
	}
	for k, v := range ca {
		if cb[k] != v {
			return false
		}
	}
	return true
}

type topicPartition struct {
	topic     string
	partition int32
}

func commits(d kadm.DescribedGroupLag) map[topicPartition]int64 {
	out := map[topicPartition]int64{}
	for t, ps := range d.Lag {
		for p, l := range ps {
			if l.Commit.At >= 0 {
				out[topicPartition{t, p}] = l.Commit.At
			}
		}
	}
	return out
}

// Topics returns the topics the member is assigned, in order.
func (m Member) Topics() []string {
	out := make([]string, 0, len(m.Assigned))
	for t := range m.Assigned {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}
