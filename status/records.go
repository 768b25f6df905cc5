package status

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/processors/errorrate"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

// DeadLetters are the dead letters written since Since.
type DeadLetters struct {
	Since time.Time `json:"since"`
	// InWindow counts the offsets of logs.dlq from the first at Since to
	// the end: the dead letters, plus a commit marker per transaction of
	// errorrate-combine that wrote some.
	InWindow int64 `json:"in_window"`
	// Read is how many were read; Truncated says MaxRecords stopped the
	// read, the newest of each partition kept.
	Read      int  `json:"read"`
	Truncated bool `json:"truncated"`
	// Reasons count the dead letters read by stage and reason, most first.
	Reasons []DeadLetterReason `json:"by_reason"`
	// Undecodable counts records of logs.dlq that are no DeadLetter.
	Undecodable int    `json:"undecodable"`
	Error       string `json:"error,omitempty"`
}

// DeadLetterReason counts the dead letters of one stage and reason.
type DeadLetterReason struct {
	Stage string `json:"stage"`
	// Reason is the error text with its variable parts masked (offsets,
	// fingerprints, ids), so that one cause counts once; Example is one
	// error text unmasked.
	Reason  string    `json:"reason"`
	Count   int       `json:"count"`
	Example string    `json:"example"`
	Latest  time.Time `json:"latest"`
}

// Alerts are the open alerts: the incidents whose latest record on the
// alerts topic is FIRING.
type Alerts struct {
	Open []OpenAlert `json:"open"`
	// Read is how many alert records were read; Truncated says MaxRecords
	// stopped the read, the newest kept: an incident that fired before
	// them and never resolved is not seen.
	Read        int    `json:"read"`
	Truncated   bool   `json:"truncated"`
	Undecodable int    `json:"undecodable"`
	Error       string `json:"error,omitempty"`
}

// OpenAlert is an incident that fired and has not resolved.
type OpenAlert struct {
	DedupKey string `json:"dedup_key"`
	Scope    string `json:"scope"`
	Host     string `json:"host"`
	Rule     string `json:"rule"`
	Summary  string `json:"summary"`
	// Since is the event time the incident fired at.
	Since     time.Time `json:"since"`
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
}

func readDeadLetters(ctx context.Context, adm *kadm.Client, cfg Config) DeadLetters {
	since := cfg.Now().Add(-cfg.DeadLetterWindow)
	out := DeadLetters{Since: since.UTC(), Reasons: []DeadLetterReason{}}
	rctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	from, err := adm.ListOffsetsAfterMilli(rctx, since.UnixMilli(), topology.TopicDLQ)
	if err == nil {
		err = from.Error()
	}
	if err != nil {
		out.Error = fmt.Sprintf("listing the offsets of %s at %s: %v", topology.TopicDLQ, out.Since.Format(time.RFC3339), err)
		return out
	}
	type key struct{ stage, reason string }
	byKey := map[key]*DeadLetterReason{}
	r, err := readRange(rctx, adm, cfg, topology.TopicDLQ, from, func(rec *kgo.Record) {
		dl, err := cfg.Codecs.DeadLetter.Unmarshal(rec.Value)
		if err != nil {
			out.Undecodable++
			return
		}
		k := key{dl.Stage, errorrate.Signature(dl.Error)}
		d := byKey[k]
		if d == nil {
			d = &DeadLetterReason{Stage: k.stage, Reason: k.reason, Example: dl.Error}
			byKey[k] = d
		}
		d.Count++
		if t := time.UnixMilli(dl.Time).UTC(); t.After(d.Latest) {
			d.Latest = t
		}
	})
	out.InWindow, out.Read, out.Truncated = r.inRange, r.read, r.truncated
	if err != nil {
		out.Error = err.Error()
	}
	for _, d := range byKey {
		out.Reasons = append(out.Reasons, *d)
	}
	sort.Slice(out.Reasons, func(i, j int) bool {
		a, b := out.Reasons[i], out.Reasons[j]
		if a.Count != b.Count {
			return a.Count > b.Count
		}
		if a.Stage != b.Stage {
			return a.Stage < b.Stage
		}
		return a.Reason < b.Reason
	})
	return out
}

func readAlerts(ctx context.Context, adm *kadm.Client, cfg Config) Alerts {
	out := Alerts{Open: []OpenAlert{}}
	rctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	from, err := adm.ListStartOffsets(rctx, topology.TopicAlerts)
	if err == nil {
		err = from.Error()
	}
	if err != nil {
		out.Error = fmt.Sprintf("listing the offsets of %s: %v", topology.TopicAlerts, err)
		return out
	}
	// The latest record per incident decides, as paging delivers them:
	// FIRING, then RESOLVED under the same dedup key. The topic is keyed
	// by fleet, so an incident's records are on one partition, in order.
	latest := map[string]OpenAlert{}
	state := map[string]string{}
	r, err := readRange(rctx, adm, cfg, topology.TopicAlerts, from, func(rec *kgo.Record) {
		a, err := cfg.Codecs.Alert.Unmarshal(rec.Value)
		if err != nil || a.DedupKey == "" {
			out.Undecodable++
			return
		}
		state[a.DedupKey] = a.State
		if a.State == schemas.AlertFiring {
			latest[a.DedupKey] = OpenAlert{DedupKey: a.DedupKey, Scope: a.Scope, Host: a.Host, Rule: a.Rule, Summary: a.Summary,
				Since: time.UnixMilli(a.At).UTC(), Partition: rec.Partition, Offset: rec.Offset}
		}
	})
	out.Read, out.Truncated = r.read, r.truncated
	if err != nil {
		out.Error = err.Error()
	}
	for k, a := range latest {
		if state[k] == schemas.AlertFiring {
			out.Open = append(out.Open, a)
		}
	}
	sort.Slice(out.Open, func(i, j int) bool {
		if !out.Open[i].Since.Equal(out.Open[j].Since) {
			return out.Open[i].Since.Before(out.Open[j].Since)
		}
		return out.Open[i].DedupKey < out.Open[j].DedupKey
	})
	return out
}

// rangeRead is what readRange read.
type rangeRead struct {
	inRange   int64 // offsets between the starts and the ends
	read      int   // data records handed to fn
	truncated bool  // the cap moved a start forward
}

// readRange reads topic from the offsets of from up to its last stable
// offsets (what read_committed consumers see), at most cfg.MaxRecords
// offsets in all, split evenly over the partitions that have records, the
// newest kept. fn gets every data record; records of aborted transactions
// and commit markers are skipped.
func readRange(ctx context.Context, adm *kadm.Client, cfg Config, topic string, from kadm.ListedOffsets, fn func(*kgo.Record)) (rangeRead, error) {
	var r rangeRead
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return r, fmt.Errorf("listing the end offsets of %s: %w", topic, err)
	}
	type span struct{ start, end int64 }
	spans := map[int32]span{}
	for p, e := range ends[topic] {
		s := e.Offset
		if f, ok := from[topic][p]; ok && f.Offset >= 0 {
			s = f.Offset
		}
		if s < e.Offset {
			spans[p] = span{s, e.Offset}
			r.inRange += e.Offset - s
		}
	}
	if len(spans) == 0 {
		return r, nil
	}
	quota := int64(max(1, cfg.MaxRecords/len(spans)))
	offsets := map[int32]kgo.Offset{}
	for p, s := range spans {
		if s.end-s.start > quota {
			s.start = s.end - quota
			spans[p] = s
			r.truncated = true
		}
		offsets[p] = kgo.NewOffset().At(s.start)
	}
	cl, err := kgo.NewClient(append(cfg.ClientOpts,
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// A partition whose last offset is a commit marker has ended
		// only when the marker is seen.
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return r, fmt.Errorf("reading %s: %w", topic, err)
	}
	defer cl.Close()
	for len(spans) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return r, fmt.Errorf("reading %s: %d partitions not read to their end within %s", topic, len(spans), cfg.Timeout)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				ferr = fmt.Errorf("reading %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return r, ferr
		}
		fs.EachRecord(func(rec *kgo.Record) {
			s, ok := spans[rec.Partition]
			if !ok || rec.Offset >= s.end {
				return
			}
			if rec.Offset == s.end-1 {
				delete(spans, rec.Partition)
			}
			if rec.Attrs.IsControl() {
				return
			}
			r.read++
			fn(rec)
		})
	}
	return r, nil
}
