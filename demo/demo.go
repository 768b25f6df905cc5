// Package demo drives `logstream demo`: a five-host payment-gateway fleet
// (web-1 ... web-5) writes mixed-format log lines into the raw topic while
// the pipeline runs; a status line shows progress; at the end the pipeline
// drains and a summary accounts for every line.
//
// The fleet writes as real fleets do: most lines arrive as Avro RawLog
// records (as `logstream ingest` writes them), some as plain text (as Fluent
// Bit or kcat write them), and a few records are corrupt Avro (a buggy
// shipper), which the parse stage must send to the dead-letter topic. A few
// percent of lines are sent twice, as a shipper retrying after a timeout
// does, for dedupe to drop; and the requests' trace spans go to the OTLP
// topic, as the OpenTelemetry Collector's Kafka exporter writes them, for
// the trace join (a sampler drops a few traces, which leave unenriched).
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/demo/fleet"
	"github.com/logstream/logstream/processors/dedupe"
	"github.com/logstream/logstream/processors/errorrate"
	"github.com/logstream/logstream/processors/parse"
	"github.com/logstream/logstream/processors/spans"
	"github.com/logstream/logstream/processors/tracejoin"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

// Config configures a demo run.
type Config struct {
	// Duration is how long the fleet writes: Rate × Duration records,
	// paced at Rate (longer when the machine cannot keep the pace).
	Duration time.Duration
	Rate     int // lines per second
	Seed     uint64
	// PlainEvery sends every n-th line as plain text instead of Avro (0: never).
	PlainEvery int
	// CorruptEvery sends every n-th record as truncated Avro (0: never).
	CorruptEvery int
	// DuplicateRatio is the share of lines the fleet sends twice.
	DuplicateRatio float64
	// DropSpansEvery drops the spans of every n-th trace (0: never), as a
	// tail sampler would: their events leave the join as timeouts.
	DropSpansEvery int
	// Replay is the event time the run covers: the fleet's lines are
	// stamped from Replay ago up to the start of the run, so Duration of
	// wall-clock time replays Replay of traffic (windows, grace and alert
	// rules all run on event time).
	Replay time.Duration
	// Incident makes a host time out its database calls for a span of the
	// replay (offsets from its start), then recover.
	Incident Incident
	// Alerts receives each alert as it reaches the alerts topic (nil: not
	// printed).
	Alerts io.Writer
	// Drain bounds the wait for the stages to catch up at the end.
	Drain Drain
	// Status receives the live status line; Terminal rewrites it in place.
	Status   io.Writer
	Terminal bool
}

// DefaultConfig is what `logstream demo` runs without flags.
func DefaultConfig() Config {
	return Config{Duration: 60 * time.Second, Rate: 2000, Seed: 1, PlainEvery: 10, CorruptEvery: 997,
		DuplicateRatio: 0.03, DropSpansEvery: 40, Drain: DefaultDrain(),
		Replay:   18 * time.Minute,
		Incident: Incident{Host: "web-3", From: 5 * time.Minute, To: 10 * time.Minute}}
}

// Incident is a host failing from From to To into the replay.
type Incident struct {
	Host     string
	From, To time.Duration
}

// Summary is the demo's final account, also written as JSON.
type Summary struct {
	DurationSeconds float64          `json:"duration_seconds"`
	Generated       Generated        `json:"generated"`
	Stages          []StageSummary   `json:"stages"`
	Topics          map[string]int64 `json:"topics"`
	// WatermarkRecords are the records of Topics that carry event-time
	// progress (package watermark), not events.
	WatermarkRecords map[string]int64 `json:"watermark_records"`
	DeadLetters      int64            `json:"dead_letters"`
	Formats          map[string]int64 `json:"formats"`
	Dedupe           DedupeSummary    `json:"dedupe"`
	Join             JoinSummary      `json:"join"`
	ErrorRate        ErrorRateSummary `json:"errorrate"`
	Accounted        bool             `json:"accounted"`
	// Unaccounted says which counts do not add up when Accounted is false.
	Unaccounted []string `json:"unaccounted,omitempty"`
	// Drained is whether the stages caught up before the summary was
	// taken; when not, Behind is what was left, and the counts are where
	// the stages stood when the demo gave up.
	Drained  bool            `json:"drained"`
	Behind   *Backlog        `json:"behind,omitempty"`
	Incident IncidentSummary `json:"incident"`
	Alerts   []AlertSummary  `json:"alerts"`
	// S3Objects are the objects the S3 writer wrote to the embedded store
	// (filled in by the command that ran the writer).
	S3Objects []S3Object `json:"s3_objects"`
}

// S3Object is one object of the S3 writer's chains.
type S3Object struct {
	Key         string `json:"key"`
	Topic       string `json:"topic"`
	Partition   int32  `json:"partition"`
	Records     int64  `json:"records"`
	FirstOffset int64  `json:"first_offset"`
	LastOffset  int64  `json:"last_offset"`
	Bytes       int64  `json:"bytes"`
}

// IncidentSummary is the incident the fleet replayed.
type IncidentSummary struct {
	Host       string    `json:"host"`
	From       time.Time `json:"from"`        // event time the host starts failing
	To         time.Time `json:"to"`          // and recovers
	FirstBad   time.Time `json:"first_bad"`   // its first failed request
	EventStart time.Time `json:"event_start"` // event time of the replay's first line
}

// AlertSummary is one alert the alerter wrote.
type AlertSummary struct {
	Host  string `json:"host"`
	State string `json:"state"`
	Rule  string `json:"rule"`
	Scope string `json:"scope"`
	// DelaySeconds is event time from the host's first bad event to the
	// alert (for a host outside the incident: from the incident's first
	// error as the alerter saw it).
	DelaySeconds float64 `json:"delay_seconds"`
	// RecoverySeconds, for RESOLVED: event time from the recovery to it.
	RecoverySeconds *float64 `json:"recovery_seconds,omitempty"`
	Summary         string   `json:"summary"`
	Signature       string   `json:"signature,omitempty"`
	TraceID         string   `json:"sample_trace_id,omitempty"`
	Span            string   `json:"sample_span,omitempty"` // service operation (duration)
	At              string   `json:"at"`                    // event time, RFC 3339
	DedupKey        string   `json:"dedup_key"`
}

// ErrorRateSummary is what the errorrate stage and the alerter did.
type ErrorRateSummary struct {
	In            int64 `json:"in"`
	Events        int64 `json:"events"`
	Errors        int64 `json:"errors"`
	Late          int64 `json:"late"`
	Future        int64 `json:"future"`
	WindowsClosed int64 `json:"windows_closed"`
	Updates       int64 `json:"updates"`
}

// Generated counts what the fleet wrote.
type Generated struct {
	Records    int64 `json:"records"`
	Avro       int64 `json:"avro"`
	Plain      int64 `json:"plain"`
	Corrupt    int64 `json:"corrupt"`
	Failed     int64 `json:"failed"`
	Duplicates int64 `json:"duplicates"`    // lines sent a second time
	Spans      int64 `json:"spans"`         // spans sent to the OTLP topic
	SpansDrop  int64 `json:"spans_dropped"` // spans the "sampler" dropped
}

// DedupeSummary is what dedupe did.
type DedupeSummary struct {
	In                int64   `json:"in"`
	Unique            int64   `json:"unique"`
	DuplicatesDropped int64   `json:"duplicates_dropped"`
	CacheHitRatio     float64 `json:"cache_hit_ratio"`
}

// JoinSummary is what the trace join did.
type JoinSummary struct {
	Events   int64   `json:"events"`
	Spans    int64   `json:"spans"`
	Joined   int64   `json:"joined"`
	Timeouts int64   `json:"timeouts"`
	NoTrace  int64   `json:"no_trace"`
	HitRate  float64 `json:"hit_rate"` // joined / (joined + timeouts)
	Enriched int64   `json:"enriched"` // records on logs.enriched
}

// StageSummary is one stage's records in and out.
type StageSummary struct {
	Name        string `json:"name"`
	RecordsIn   int64  `json:"records_in"`
	RecordsOut  int64  `json:"records_out"`
	DeadLetters int64  `json:"dead_letters"`
	Unparsed    int64  `json:"unparsed"`
	Held        int64  `json:"held_partials"`
}

// Deps are the running parts the demo drives.
type Deps struct {
	Client  *kgo.Client // producer for the raw topic (with topology.Partitioner)
	Brokers []string    // for the alerts reader
	// ClientOpts are added to the alerts reader's client (TLS, SASL).
	ClientOpts []kgo.Opt
	Admin      *kadm.Client
	Codecs     *codecs.Set
	Parse      *parse.Stats
	Spans      *spans.Stats
	Dedupe     *dedupe.Stats
	Join       *tracejoin.Stats
	// ErrorRate is the errorrate stage's counters.
	ErrorRate *errorrate.Stats
	// Lag returns each stage group's consumer lag per topic, from the
	// broker's committed and end offsets.
	Lag func(ctx context.Context) ([]GroupLag, error)
	// Watermarks returns the watermark records the stages wrote, by
	// topic.
	Watermarks func() map[string]int64
}

// Run generates load for cfg.Duration, then waits for the stages to drain
// and returns the summary. It returns early with ctx's error if ctx ends.
func Run(ctx context.Context, cfg Config, d Deps) (*Summary, error) {
	if cfg.Rate <= 0 || cfg.Duration <= 0 {
		return nil, errors.New("demo: rate and duration must be positive")
	}
	start := time.Now()
	lcfg := fleet.Config{Seed: cfg.Seed, Start: start.UTC(), DuplicateRatio: cfg.DuplicateRatio}
	var inc IncidentSummary
	if cfg.Replay > 0 {
		lcfg.Start = start.Add(-cfg.Replay).UTC()
		lcfg.Interval = time.Duration(float64(cfg.Replay) / (float64(cfg.Rate) * cfg.Duration.Seconds()))
	}
	if cfg.Incident.Host != "" {
		inc = IncidentSummary{Host: cfg.Incident.Host, From: lcfg.Start.Add(cfg.Incident.From), To: lcfg.Start.Add(cfg.Incident.To)}
		lcfg.Incidents = []fleet.Incident{{Host: inc.Host, From: inc.From, To: inc.To}}
	}
	inc.EventStart = lcfg.Start
	gen := fleet.New(lcfg)
	var g genCounters
	g.incident = &inc
	stopStatus := startStatus(ctx, cfg, d, &g, start)
	watch, err := watchAlerts(ctx, cfg, d, &inc)
	if err != nil {
		stopStatus()
		return nil, err
	}
	defer watch.stop()

	err = generate(ctx, cfg, d, gen, &g, start)
	if err == nil {
		err = d.Client.Flush(ctx)
	}
	if err != nil {
		stopStatus()
		return nil, err
	}
	drainErr := drain(ctx, cfg, d, &g)
	stopStatus()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if drainErr == nil {
		drainErr = watch.catchUp(ctx, cfg.Drain)
	}
	sum, err := summarize(ctx, d, &g, time.Since(start))
	if err != nil {
		return nil, errors.Join(drainErr, err)
	}
	sum.Incident = inc
	sum.Alerts = watch.summaries()
	if drainErr != nil {
		if de := (*DrainError)(nil); errors.As(drainErr, &de) {
			sum.Behind = &de.Backlog
		}
		return sum, drainErr
	}
	sum.Drained = true
	if !sum.Accounted {
		return sum, fmt.Errorf("demo: records unaccounted for: %s", strings.Join(sum.Unaccounted, "; "))
	}
	return sum, nil
}

type genCounters struct {
	records, avro, plain, corrupt, failed, dups, spans, spansDropped, spansFailed atomic.Int64
	incident                                                                      *IncidentSummary
	// backlog is the drain's last measure, for the status line.
	backlog atomic.Pointer[Backlog]
}

func generate(ctx context.Context, cfg Config, d Deps, gen *fleet.Generator, g *genCounters, start time.Time) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	// The fleet writes Rate × Duration records, paced at Rate. A machine
	// that cannot keep that pace takes longer, rather than writing fewer:
	// the replay's event time (the incident and the recovery) is spread
	// over the records, and fewer records would end the replay early.
	total := int64(cfg.Duration.Seconds() * float64(cfg.Rate))
	var n int64
	// A retrying shipper re-sends the very record it sent: keep the
	// recent records by line, for the repeats.
	type record struct {
		value []byte
		ts    time.Time
	}
	sent := map[uint64]record{}
	var order []uint64
	for {
		if n >= total {
			return nil
		}
		due := min(int64(time.Since(start).Seconds()*float64(cfg.Rate)), total)
		var batch []schemas.Span
		for ; n < due; n++ {
			line := gen.Next()
			if in := g.incident; in != nil && line.Host == in.Host && in.FirstBad.IsZero() &&
				!line.Time.Before(in.From) && line.Time.Before(in.To) && line.Level >= schemas.LevelError {
				in.FirstBad = line.Time
			}
			if line.Duplicate {
				// Count lines: a CRI line split in parts is re-sent whole,
				// and counts once (its final part).
				if cri, ok := parse.ParseCRI(line.Text); !ok || !cri.Partial {
					g.dups.Add(1)
				}
			} else if line.TraceID != "" {
				ss := gen.SpansFor(line)
				if cfg.DropSpansEvery > 0 && line.Seq%uint64(cfg.DropSpansEvery) == 0 {
					g.spansDropped.Add(int64(len(ss)))
				} else {
					batch = append(batch, ss...)
				}
			}
			value, kind, err := encode(cfg, d.Codecs, line, int64(line.Seq))
			if err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			ts := line.Time // the record's timestamp is when the shipper read the line
			if prev, ok := sent[line.Seq]; ok && line.Duplicate {
				value, ts = prev.value, prev.ts
			} else {
				sent[line.Seq] = record{value, ts}
				if order = append(order, line.Seq); len(order) > 4096 {
					delete(sent, order[0])
					order = order[1:]
				}
			}
			kind.Add(g, 1)
			g.records.Add(1)
			d.Client.Produce(ctx, &kgo.Record{Topic: topology.TopicRaw, Key: []byte(line.Host), Value: value, Timestamp: ts}, func(_ *kgo.Record, err error) {
				if err != nil {
					g.failed.Add(1)
				}
			})
		}
		if len(batch) > 0 {
			// One export request per tick, as the collector's batch
			// processor sends them; no key, as its exporter writes by default.
			b, err := spans.ToOTLP(batch)
			if err != nil {
				return fmt.Errorf("demo: spans: %w", err)
			}
			g.spans.Add(int64(len(batch)))
			d.Client.Produce(ctx, &kgo.Record{Topic: topology.TopicOTLPSpans, Value: b}, func(_ *kgo.Record, err error) {
				if err != nil {
					g.spansFailed.Add(1)
				}
			})
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

type kind int

const (
	kindAvro kind = iota
	kindPlain
	kindCorrupt
)

func (k kind) Add(g *genCounters, n int64) {
	switch k {
	case kindAvro:
		g.avro.Add(n)
	case kindPlain:
		g.plain.Add(n)
	case kindCorrupt:
		g.corrupt.Add(n)
	}
}

func encode(cfg Config, set *codecs.Set, line fleet.Line, n int64) ([]byte, kind, error) {
	if cfg.PlainEvery > 0 && n%int64(cfg.PlainEvery) == int64(cfg.PlainEvery-1) && line.Format != "cri" {
		return []byte(line.Text), kindPlain, nil
	}
	// A replay keeps the times the lines were received: a line without a
	// timestamp of its own gets that time as its event time, and "now"
	// would put it minutes ahead of the traffic it was part of.
	b, err := set.RawLog.Marshal(&schemas.RawLog{Host: line.Host, Source: line.Source, Line: line.Text, ReceivedAt: line.Time.UnixMilli()})
	if err != nil {
		return nil, kindAvro, err
	}
	if cfg.CorruptEvery > 0 && n%int64(cfg.CorruptEvery) == int64(cfg.CorruptEvery-1) {
		// A shipper that cut the record short: the header names a real
		// schema but the body ends early.
		return b[:len(b)/2], kindCorrupt, nil
	}
	return b, kindAvro, nil
}

// drain waits until the parse stage has read every record written, every
// stage group has committed the ends of its input topics, and the join
// has released the events whose spans never came; for as long as that
// backlog keeps shrinking (cfg.Drain).
func drain(ctx context.Context, cfg Config, d Deps, g *genCounters) error {
	want := g.records.Load() - g.failed.Load()
	p := cfg.Drain
	p.Progress = func(b Backlog) { g.backlog.Store(&b) }
	return p.Wait(ctx, "the stages", func(ctx context.Context) Backlog {
		b := Backlog{Unread: max(want-d.Parse.In.Load(), 0)}
		if d.Lag == nil {
			return b
		}
		// In-flight emits must land too, so that topic end offsets match
		// the counters.
		lags, err := d.Lag(ctx)
		if err != nil {
			b.Err = "consumer lag: " + err.Error()
			return b
		}
		for _, l := range lags {
			if l.Records > 0 {
				b.Lags = append(b.Lags, l)
			}
		}
		if b.Held, err = joinHeld(ctx, d); err != nil {
			b.Err = "events held by the join: " + err.Error()
		}
		return b
	})
}

// joinHeld returns how many events dedupe passed have not left the join
// yet. logs.unique also holds the watermark records dedupe passed on;
// logs.enriched holds events only.
func joinHeld(ctx context.Context, d Deps) (int64, error) {
	ends, err := d.Admin.ListEndOffsets(ctx, topology.TopicUnique, topology.TopicEnriched)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return 0, err
	}
	var unique, enriched int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Topic == topology.TopicUnique {
			unique += o.Offset
		} else {
			enriched += o.Offset
		}
	})
	// dedupe counts a watermark record before it lands: clamp the
	// moment between.
	return max(unique-d.Dedupe.Watermarks.Load()-enriched, 0), nil
}

func summarize(ctx context.Context, d Deps, g *genCounters, elapsed time.Duration) (*Summary, error) {
	p := d.Parse
	s := &Summary{
		DurationSeconds: elapsed.Seconds(),
		Generated: Generated{
			Records: g.records.Load(), Avro: g.avro.Load(), Plain: g.plain.Load(),
			Corrupt: g.corrupt.Load(), Failed: g.failed.Load(),
			Duplicates: g.dups.Load(), Spans: g.spans.Load(), SpansDrop: g.spansDropped.Load(),
		},
		Stages: []StageSummary{{
			Name:        parse.StageName,
			RecordsIn:   p.In.Load(),
			RecordsOut:  p.Events.Load() + p.DeadLetters.Load(),
			DeadLetters: p.DeadLetters.Load(),
			Unparsed:    p.Unparsed.Load(),
			Held:        p.PartialHeld.Load(),
		}},
		DeadLetters: p.DeadLetters.Load(),
		Formats:     p.Formats(),
		Topics:      map[string]int64{},
		Alerts:      []AlertSummary{},
		S3Objects:   []S3Object{},
	}
	ds, js := d.Dedupe.Snapshot(), d.Join.Snapshot()
	s.Dedupe = DedupeSummary{In: ds.In, Unique: ds.Unique, DuplicatesDropped: ds.Duplicates, CacheHitRatio: ds.CacheHitRatio}
	s.Join = JoinSummary{Events: js.Events, Spans: js.Spans, Joined: js.Joined, Timeouts: js.Timeouts, NoTrace: js.NoTrace, HitRate: js.HitRate}
	sp := d.Spans.Snapshot()
	s.Stages = append(s.Stages,
		StageSummary{Name: spans.StageName, RecordsIn: sp.Messages, RecordsOut: sp.Spans + sp.DeadLetters, DeadLetters: sp.DeadLetters},
		StageSummary{Name: dedupe.StageName, RecordsIn: ds.In, RecordsOut: ds.Unique + ds.DeadLetters, DeadLetters: ds.DeadLetters},
		StageSummary{Name: tracejoin.StageName, RecordsIn: js.Events + js.Spans, RecordsOut: js.Joined + js.Timeouts + js.NoTrace + js.DeadLetters, DeadLetters: js.DeadLetters},
	)
	s.DeadLetters += sp.DeadLetters + ds.DeadLetters + js.DeadLetters
	var errorRate []string
	if e := d.ErrorRate; e != nil {
		// Every event passed by dedupe is read by the errorrate stage and
		// counted in a window, or as late, far-future or a dead letter.
		s.ErrorRate = ErrorRateSummary{In: e.In.Load(), Events: e.Events.Load(), Errors: e.Errors.Load(), Late: e.Late.Load(),
			Future: e.Future.Load(), WindowsClosed: e.Closed.Load(), Updates: e.Updates.Load()}
		s.DeadLetters += e.DeadLetters.Load()
		if e.In.Load() != ds.Unique {
			errorRate = append(errorRate, fmt.Sprintf("errorrate read %s of the %s events dedupe passed", comma(e.In.Load()), comma(ds.Unique)))
		}
		if n := e.Events.Load() + e.Late.Load() + e.Future.Load() + e.DeadLetters.Load(); n != e.In.Load() {
			errorRate = append(errorRate, fmt.Sprintf("errorrate read %s events but counted %s (in windows, late, far-future, dead letters)", comma(e.In.Load()), comma(n)))
		}
	}
	ends, err := d.Admin.ListEndOffsets(ctx, topology.TopicRaw, topology.TopicParsed, topology.TopicDLQ,
		topology.TopicUnique, topology.TopicEnriched, topology.TopicOTLPSpans, topology.TopicSpans)
	if err != nil {
		return nil, fmt.Errorf("demo: topic offsets: %w", err)
	}
	ends.Each(func(o kadm.ListedOffset) { s.Topics[o.Topic] += o.Offset })
	s.WatermarkRecords = map[string]int64{}
	if d.Watermarks != nil {
		s.WatermarkRecords = d.Watermarks()
	}
	s.Join.Enriched = s.Topics[topology.TopicEnriched]
	st := s.Stages[0]
	// Every record read is an event, a dead letter, or a CRI part held until
	// its line completes (then counted in the joined event); every event is
	// passed or dropped as a repeat by dedupe; every event passed leaves
	// the join once.
	lines := s.Generated.Records - s.Generated.Failed
	check := func(ok bool, format string, args ...any) {
		if !ok {
			s.Unaccounted = append(s.Unaccounted, fmt.Sprintf(format, args...))
		}
	}
	out := p.Events.Load() + p.DeadLetters.Load() + p.PartialHeld.Load() + p.Replayed.Load()
	check(st.RecordsIn == lines, "parse read %s of the %s records written", comma(st.RecordsIn), comma(lines))
	check(st.RecordsIn == out, "parse read %s records but accounts for %s (events, dead letters, CRI parts held, replays)", comma(st.RecordsIn), comma(out))
	check(ds.In == p.Events.Load(), "dedupe read %s of the %s events parse emitted", comma(ds.In), comma(p.Events.Load()))
	check(ds.In == ds.Unique+ds.Duplicates+ds.DeadLetters, "dedupe read %s events but passed %s, dropped %s and dead-lettered %s",
		comma(ds.In), comma(ds.Unique), comma(ds.Duplicates), comma(ds.DeadLetters))
	unique := s.Topics[topology.TopicUnique] - s.WatermarkRecords[topology.TopicUnique]
	check(unique == ds.Unique, "%s holds %s events, dedupe passed %s", topology.TopicUnique, comma(unique), comma(ds.Unique))
	check(s.Join.Enriched == ds.Unique, "%s holds %s events, dedupe passed %s", topology.TopicEnriched, comma(s.Join.Enriched), comma(ds.Unique))
	s.Unaccounted = append(s.Unaccounted, errorRate...)
	s.Accounted = len(s.Unaccounted) == 0
	return s, nil
}

func startStatus(ctx context.Context, cfg Config, d Deps, g *genCounters, start time.Time) (stop func()) {
	if cfg.Status == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		every := time.Second
		if !cfg.Terminal {
			every = 5 * time.Second
		}
		t := time.NewTicker(every)
		defer t.Stop()
		var lastIn int64
		last := start
		for {
			select {
			case <-ctx.Done():
				if cfg.Terminal {
					fmt.Fprintln(cfg.Status)
				}
				return
			case now := <-t.C:
				in := d.Parse.In.Load()
				rate := float64(in-lastIn) / now.Sub(last).Seconds()
				lastIn, last = in, now
				line := fmt.Sprintf("[%3.0fs] generated %s · parse in %s (%s/s) → %s events, %s dead letters",
					now.Sub(start).Seconds(), comma(g.records.Load()), comma(in), comma(int64(rate)),
					comma(d.Parse.Events.Load()), comma(d.Parse.DeadLetters.Load()))
				if b := g.backlog.Load(); b != nil {
					line = fmt.Sprintf("[%3.0fs] draining: %s records left; %s", now.Sub(start).Seconds(), comma(b.Total()), b.top(2))
				}
				if cfg.Terminal {
					fmt.Fprintf(cfg.Status, "\r\033[K%s", line)
				} else {
					fmt.Fprintln(cfg.Status, line)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// Text renders the summary for people.
func (s *Summary) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "logstream demo summary (%.1fs)\n", s.DurationSeconds)
	fmt.Fprintf(&b, "  generated  %s records: %s Avro RawLog, %s plain text, %s corrupt Avro; %s failed to produce\n",
		comma(s.Generated.Records), comma(s.Generated.Avro), comma(s.Generated.Plain), comma(s.Generated.Corrupt), comma(s.Generated.Failed))
	for _, st := range s.Stages {
		switch st.Name {
		case parse.StageName:
			fmt.Fprintf(&b, "  stage %-9s in %s  out %s (%s events + %s dead letters)  unparsed %s  CRI parts held and joined %s\n",
				st.Name, comma(st.RecordsIn), comma(st.RecordsOut), comma(st.RecordsOut-st.DeadLetters), comma(st.DeadLetters), comma(st.Unparsed), comma(st.Held))
		case spans.StageName:
			fmt.Fprintf(&b, "  stage %-9s in %s OTLP export requests  out %s spans + %s dead letters\n",
				st.Name, comma(st.RecordsIn), comma(st.RecordsOut-st.DeadLetters), comma(st.DeadLetters))
		default:
			fmt.Fprintf(&b, "  stage %-9s in %s  out %s (%s events + %s dead letters)\n",
				st.Name, comma(st.RecordsIn), comma(st.RecordsOut), comma(st.RecordsOut-st.DeadLetters), comma(st.DeadLetters))
		}
	}
	names := make([]string, 0, len(s.Topics))
	for t := range s.Topics {
		names = append(names, t)
	}
	sort.Strings(names)
	b.WriteString("  topics    ")
	for i, t := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", t, comma(s.Topics[t]))
		if n := s.WatermarkRecords[t]; n > 0 {
			fmt.Fprintf(&b, " (%s of them watermark records)", comma(n))
		}
	}
	b.WriteString("\n  formats   ")
	fs := make([]string, 0, len(s.Formats))
	for f := range s.Formats {
		fs = append(fs, f)
	}
	sort.Strings(fs)
	for i, f := range fs {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", f, comma(s.Formats[f]))
	}
	fmt.Fprintf(&b, "\n  dedupe    %s events in, %s passed, %s duplicates dropped (the fleet re-sent %s lines); hot-id cache hit ratio %.2f (new ids always miss)\n",
		comma(s.Dedupe.In), comma(s.Dedupe.Unique), comma(s.Dedupe.DuplicatesDropped), comma(s.Generated.Duplicates), s.Dedupe.CacheHitRatio)
	fmt.Fprintf(&b, "  join      %s events, %s spans: %s joined with their span, %s timed out (no span in the window; %s spans dropped by the sampler), %s without a trace id; join hit rate %.1f%%\n",
		comma(s.Join.Events), comma(s.Join.Spans), comma(s.Join.Joined), comma(s.Join.Timeouts), comma(s.Generated.SpansDrop), comma(s.Join.NoTrace), 100*s.Join.HitRate)
	fmt.Fprintf(&b, "  errorrate %s events in: %s in per-host windows (%s errors), %s late (older than the watermark minus the grace), %s far-future; %s windows closed, %s updates to the alerter\n",
		comma(s.ErrorRate.In), comma(s.ErrorRate.Events), comma(s.ErrorRate.Errors), comma(s.ErrorRate.Late), comma(s.ErrorRate.Future),
		comma(s.ErrorRate.WindowsClosed), comma(s.ErrorRate.Updates))
	if s.Incident.Host != "" {
		fmt.Fprintf(&b, "  incident  %s timed out its database calls from %s to %s (event time; first failed request %s)\n",
			s.Incident.Host, s.Incident.From.Format(time.TimeOnly), s.Incident.To.Format(time.TimeOnly), s.Incident.FirstBad.Format(time.TimeOnly))
	}
	fmt.Fprintf(&b, "  alerts    %d\n", len(s.Alerts))
	for _, a := range s.Alerts {
		fmt.Fprintf(&b, "    %-8s %-6s rule %-13s at %s, %.0fs after the first bad event: %s\n", a.State, a.Host, a.Rule, a.At, a.DelaySeconds, a.Summary)
	}
	if !s.Drained {
		behind := "unknown"
		if s.Behind != nil {
			behind = s.Behind.String()
		}
		fmt.Fprintf(&b, "  NOT DRAINED: the stages did not catch up, and the counts above are where they stood: %s\n", behind)
	} else if s.Accounted {
		b.WriteString("  every generated record is accounted for: one event, one dead letter, or a CRI part joined into its line;\n  every event passed dedupe or was dropped as a repeat, and every event passed left the join exactly once\n")
	} else {
		fmt.Fprintf(&b, "  WARNING: records are unaccounted for: %s\n", strings.Join(s.Unaccounted, "; "))
	}
	return b.String()
}

// WriteJSON writes the summary as indented JSON to path.
func (s *Summary) WriteJSON(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("demo: summary: %w", err)
	}
	return nil
}

func comma(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
