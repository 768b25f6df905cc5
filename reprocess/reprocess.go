// Package reprocess moves a stopped consumer group's committed offsets, so
// that the group reads records again when it starts (or skips them), like
// kafka-consumer-groups --reset-offsets: to the first offset at or after a
// time in each partition, or to one offset in every partition.
//
// A plan comes first (MakePlan: each partition's committed offset and the
// new one), then Apply commits it. Both refuse a group with members: a
// running member would overwrite the new offsets with its own at its next
// commit, and the broker refuses an admin's commit to an active group.
package reprocess

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Request says which offsets to move, and where to.
type Request struct {
	Group  string
	Topics []string
	// Exactly one of Time and Offset: the first offset at or after Time
	// (by record timestamp) in each partition, the end when there is none;
	// or Offset in every partition, kept within the partition's start and
	// end.
	Time   *time.Time
	Offset *int64
}

// Validate reports what is wrong with r.
func (r Request) Validate() error {
	switch {
	case r.Group == "":
		return errors.New("reprocess: no group")
	case len(r.Topics) == 0:
		return errors.New("reprocess: no topics")
	case (r.Time == nil) == (r.Offset == nil):
		return errors.New("reprocess: give either a time or an offset")
	case r.Offset != nil && *r.Offset < 0:
		return fmt.Errorf("reprocess: offset %d is negative", *r.Offset)
	}
	return nil
}

// Member is a member of the group.
type Member struct {
	ClientID string
	Host     string
}

func (m Member) String() string { return m.ClientID + " on " + m.Host }

// MembersError refuses a group that has members.
type MembersError struct {
	Group   string
	Members []Member
}

func (e *MembersError) Error() string {
	names := make([]string, len(e.Members))
	for i, m := range e.Members {
		names[i] = m.String()
	}
	n := "members"
	if len(e.Members) == 1 {
		n = "member"
	}
	return fmt.Sprintf("group %s has %d %s (%s): stop them first; a running member would commit its own offsets over the new ones",
		e.Group, len(e.Members), n, strings.Join(names, ", "))
}

// Move is one partition's change.
type Move struct {
	Topic     string
	Partition int32
	// Current is the committed offset, -1 for none.
	Current int64
	New     int64
	// Note says why New is not what was asked: the time is after the
	// partition's last record, or the offset was outside the partition.
	Note string
}

// Plan is what Apply will commit.
type Plan struct {
	Group   string
	State   string // the group's state at planning
	Members []Member
	Moves   []Move
}

// Changes counts the moves that change a committed offset.
func (p *Plan) Changes() int {
	n := 0
	for _, m := range p.Moves {
		if m.Current != m.New {
			n++
		}
	}
	return n
}

// MakePlan reads the group and the topics' offsets and returns the moves,
// one per partition of every topic, sorted. The plan of a group with
// members is returned too (for a dry run); Apply refuses it.
func MakePlan(ctx context.Context, adm *kadm.Client, r Request) (*Plan, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	members, state, err := describe(ctx, adm, r.Group)
	if err != nil {
		return nil, err
	}
	committed, err := adm.FetchOffsets(ctx, r.Group)
	if err == nil {
		err = committed.Error()
	}
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return nil, fmt.Errorf("reprocess: fetching the committed offsets of group %s: %w", r.Group, err)
	}
	starts, err := listed(adm.ListStartOffsets(ctx, r.Topics...))
	if err != nil {
		return nil, err
	}
	ends, err := listed(adm.ListEndOffsets(ctx, r.Topics...))
	if err != nil {
		return nil, err
	}
	var at kadm.ListedOffsets
	if r.Time != nil {
		if at, err = listed(adm.ListOffsetsAfterMilli(ctx, r.Time.UnixMilli(), r.Topics...)); err != nil {
			return nil, err
		}
	}
	p := &Plan{Group: r.Group, State: state, Members: members}
	for _, t := range r.Topics {
		parts := ends[t]
		if len(parts) == 0 {
			return nil, fmt.Errorf("reprocess: topic %s does not exist", t)
		}
		for part, end := range parts {
			m := Move{Topic: t, Partition: part, Current: -1}
			if c, ok := committed.Lookup(t, part); ok && c.Err == nil {
				m.Current = c.At
			}
			start := starts[t][part].Offset
			switch {
			case r.Time != nil:
				m.New = at[t][part].Offset
				if m.New < 0 || m.New >= end.Offset {
					m.New = end.Offset
					m.Note = "no record at or after the time: the end"
				}
			case *r.Offset < start:
				m.New, m.Note = start, fmt.Sprintf("offset %d is before the partition's first (%d): its first", *r.Offset, start)
			case *r.Offset > end.Offset:
				m.New, m.Note = end.Offset, fmt.Sprintf("offset %d is after the partition's end (%d): its end", *r.Offset, end.Offset)
			default:
				m.New = *r.Offset
			}
			p.Moves = append(p.Moves, m)
		}
	}
	sort.Slice(p.Moves, func(i, j int) bool {
		a, b := p.Moves[i], p.Moves[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		return a.Partition < b.Partition
	})
	return p, nil
}

// Apply commits the plan's offsets. It describes the group again first and
// refuses with a *MembersError when it has members: one may have joined
// since the plan.
func Apply(ctx context.Context, adm *kadm.Client, p *Plan) error {
	members, _, err := describe(ctx, adm, p.Group)
	if err != nil {
		return err
	}
	if len(members) > 0 {
		return &MembersError{Group: p.Group, Members: members}
	}
	var offs kadm.Offsets
	for _, m := range p.Moves {
		offs.Add(kadm.Offset{Topic: m.Topic, Partition: m.Partition, At: m.New, LeaderEpoch: -1})
	}
	if err := adm.CommitAllOffsets(ctx, p.Group, offs); err != nil {
		return fmt.Errorf("reprocess: committing the offsets of group %s: %w", p.Group, err)
	}
	return nil
}

// describe returns the group's members and state; a group the broker does
// not know has neither.
func describe(ctx context.Context, adm *kadm.Client, group string) ([]Member, string, error) {
	described, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return nil, "", fmt.Errorf("reprocess: describing group %s: %w", group, err)
	}
	d, ok := described[group]
	if !ok {
		return nil, "", nil
	}
	if d.Err != nil {
		if errors.Is(d.Err, kerr.GroupIDNotFound) {
			return nil, "", nil
		}
		return nil, "", fmt.Errorf("reprocess: describing group %s: %w", group, d.Err)
	}
	var out []Member
	for _, m := range d.Members {
		out = append(out, Member{ClientID: m.ClientID, Host: m.ClientHost})
	}
	return out, d.State, nil
}

// listed returns offsets without their per-partition errors.
func listed(l kadm.ListedOffsets, err error) (kadm.ListedOffsets, error) {
	if err == nil {
		err = l.Error()
	}
	if err != nil {
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			var missing []string
			for t, ps := range l {
				for _, o := range ps {
					if errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
						missing = append(missing, t)
						break
					}
				}
			}
			sort.Strings(missing)
			return nil, fmt.Errorf("reprocess: topic %s does not exist", strings.Join(missing, ", "))
		}
		return nil, fmt.Errorf("reprocess: listing offsets: %w", err)
	}
	return l, nil
}
