package demo

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

// alertWatch reads the alerts topic while the demo runs, prints each alert
// as it lands, and keeps them for the summary. It reads the topic, not the
// alerter's counters: what paging would get.
type alertWatch struct {
	cfg    Config
	d      Deps
	inc    *IncidentSummary
	cl     *kgo.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	alerts []schemas.Alert
	read   map[int32]int64 // next offset per partition
}

func watchAlerts(ctx context.Context, cfg Config, d Deps, inc *IncidentSummary) (*alertWatch, error) {
	cl, err := kgo.NewClient(append(append([]kgo.Opt{kgo.SeedBrokers(d.Brokers...)}, d.ClientOpts...),
		kgo.ConsumeTopics(topology.TopicAlerts), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		return nil, fmt.Errorf("demo: alerts consumer: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &alertWatch{cfg: cfg, d: d, inc: inc, cl: cl, cancel: cancel, done: make(chan struct{}), read: map[int32]int64{}}
	go w.run(ctx)
	return w, nil
}

func (w *alertWatch) run(ctx context.Context) {
	defer close(w.done)
	for {
		fs := w.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fs.EachRecord(func(r *kgo.Record) {
			al, err := w.d.Codecs.Alert.Unmarshal(r.Value)
			w.mu.Lock()
			w.read[r.Partition] = r.Offset + 1
			if err == nil {
				w.alerts = append(w.alerts, *al)
			}
			w.mu.Unlock()
			if err != nil {
				if w.cfg.Alerts != nil {
					fmt.Fprintf(w.cfg.Alerts, "alerts: record at offset %d does not decode: %v\n", r.Offset, err)
				}
				return
			}
			if w.cfg.Alerts != nil {
				fmt.Fprintln(w.cfg.Alerts, w.line(al))
			}
		})
	}
}

// line renders an alert for people as it lands.
func (w *alertWatch) line(al *schemas.Alert) string {
	at := time.UnixMilli(al.At).UTC()
	s := fmt.Sprintf("\n>>> ALERT %s  %s  rule %s  (event time %s", al.State, al.Host, al.Rule, at.Format(time.TimeOnly))
	if w.inc.Host != "" && al.Host == w.inc.Host {
		if al.State == schemas.AlertFiring {
			s += fmt.Sprintf(", %.0fs after %s started failing", at.Sub(w.inc.From).Seconds(), al.Host)
		} else {
			s += fmt.Sprintf(", %.0fs after %s recovered", at.Sub(w.inc.To).Seconds(), al.Host)
		}
	}
	s += ")\n    " + al.Summary
	if al.State == schemas.AlertFiring {
		for i, sg := range al.Signatures {
			if i == 2 {
				break
			}
			s += fmt.Sprintf("\n    signature  %q ×%d", sg.Signature, sg.Count)
		}
		for i, sm := range al.Samples {
			if i == 2 {
				break
			}
			s += "\n    trace      " + sm.TraceID
			if sm.SpanService != "" {
				s += fmt.Sprintf(": %s %s took %s", sm.SpanService, sm.SpanOperation, spanDuration(sm.SpanDurationUs))
			}
		}
	}
	return s
}

func spanDuration(us *int64) string {
	if us == nil {
		return "?"
	}
	return (time.Duration(*us) * time.Microsecond).Round(time.Millisecond).String()
}

// catchUp waits until every alert on the topic has been read.
func (w *alertWatch) catchUp(ctx context.Context, p Drain) error {
	p.Progress = nil
	return p.Wait(ctx, "the alerts reader", func(ctx context.Context) Backlog {
		ends, err := w.d.Admin.ListEndOffsets(ctx, topology.TopicAlerts)
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			return Backlog{Err: "alerts end offsets: " + err.Error()}
		}
		var behind int64
		w.mu.Lock()
		ends.Each(func(o kadm.ListedOffset) { behind += max(o.Offset-w.read[o.Partition], 0) })
		w.mu.Unlock()
		if behind == 0 {
			return Backlog{}
		}
		return Backlog{Lags: []GroupLag{{Group: "the demo's alerts reader", Topic: topology.TopicAlerts, Records: behind}}}
	})
}

func (w *alertWatch) stop() {
	w.cancel()
	<-w.done
	w.cl.Close()
}

// summaries renders the alerts for the summary.
func (w *alertWatch) summaries() []AlertSummary {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := []AlertSummary{}
	for _, al := range w.alerts {
		at := time.UnixMilli(al.At).UTC()
		first := time.UnixMilli(al.FirstSeen).UTC()
		if w.inc.Host != "" && al.Host == w.inc.Host && !w.inc.FirstBad.IsZero() {
			first = w.inc.FirstBad
		}
		a := AlertSummary{Host: al.Host, State: al.State, Rule: al.Rule, Scope: al.Scope, Summary: al.Summary,
			DelaySeconds: at.Sub(first).Seconds(), At: at.Format(time.RFC3339), DedupKey: al.DedupKey}
		if al.State == schemas.AlertResolved && al.Host == w.inc.Host {
			r := at.Sub(w.inc.To).Seconds()
			a.RecoverySeconds = &r
		}
		if len(al.Signatures) > 0 {
			a.Signature = al.Signatures[0].Signature
		}
		if len(al.Samples) > 0 {
			sm := al.Samples[0]
			a.TraceID = sm.TraceID
			if sm.SpanService != "" {
				a.Span = fmt.Sprintf("%s %s (%s)", sm.SpanService, sm.SpanOperation, spanDuration(sm.SpanDurationUs))
			}
		}
		out = append(out, a)
	}
	return out
}
