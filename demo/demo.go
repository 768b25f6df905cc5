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

	"github.com/logstream/logstream/benchmarks/loadgen"
	"github.com/logstream/logstream/codecs"
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
	Duration time.Duration // how long the fleet writes
	Rate     int           // lines per second
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
	// DrainTimeout bounds the wait for the stages to catch up at the end.
	DrainTimeout time.Duration
	// Status receives the live status line; Terminal rewrites it in place.
	Status   io.Writer
	Terminal bool
}

// DefaultConfig is what `logstream demo` runs without flags.
func DefaultConfig() Config {
	return Config{Duration: 60 * time.Second, Rate: 2000, Seed: 1, PlainEvery: 10, CorruptEvery: 997,
		DuplicateRatio: 0.03, DropSpansEvery: 40, DrainTimeout: 2 * time.Minute,
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
	Incident         IncidentSummary  `json:"incident"`
	Alerts           []AlertSummary   `json:"alerts"`
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
	Admin   *kadm.Client
	Codecs  *codecs.Set
	Parse   *parse.Stats
	Spans   *spans.Stats
	Dedupe  *dedupe.Stats
	Join    *tracejoin.Stats
	// ErrorRate is the errorrate stage's counters.
	ErrorRate *errorrate.Stats
	// Lag returns each stage group's consumer lag.
	Lag func(ctx context.Context) (map[string]int64, error)
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
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = 2 * time.Minute
	}
	start := time.Now()
	lcfg := loadgen.Config{Seed: cfg.Seed, Start: start.UTC(), DuplicateRatio: cfg.DuplicateRatio}
	var inc IncidentSummary
	if cfg.Replay > 0 {
		lcfg.Start = start.Add(-cfg.Replay).UTC()
		lcfg.Interval = time.Duration(float64(cfg.Replay) / (float64(cfg.Rate) * cfg.Duration.Seconds()))
	}
	if cfg.Incident.Host != "" {
		inc = IncidentSummary{Host: cfg.Incident.Host, From: lcfg.Start.Add(cfg.Incident.From), To: lcfg.Start.Add(cfg.Incident.To)}
		lcfg.Incidents = []loadgen.Incident{{Host: inc.Host, From: inc.From, To: inc.To}}
	}
	inc.EventStart = lcfg.Start
	gen := loadgen.New(lcfg)
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
		drainErr = watch.catchUp(ctx, cfg.DrainTimeout)
	}
	sum, err := summarize(ctx, d, &g, time.Since(start))
	if err != nil {
		return nil, err
	}
	sum.Incident = inc
	sum.Alerts = watch.summaries()
	if drainErr != nil {
		return sum, drainErr
	}
	if !sum.Accounted {
		return sum, fmt.Errorf("demo: records unaccounted for: %d generated, parse read %d; dedupe read %d, passed %d, dropped %d; the join emitted %d",
			sum.Generated.Records-sum.Generated.Failed, sum.Stages[0].RecordsIn, sum.Dedupe.In, sum.Dedupe.Unique, sum.Dedupe.DuplicatesDropped, sum.Join.Enriched)
	}
	return sum, nil
}

type genCounters struct {
	records, avro, plain, corrupt, failed, dups, spans, spansDropped, spansFailed atomic.Int64
	incident                                                                      *IncidentSummary
}

func generate(ctx context.Context, cfg Config, d Deps, gen *loadgen.Generator, g *genCounters, start time.Time) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	end := start.Add(cfg.Duration)
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
		now := time.Now()
		if !now.Before(end) {
			return nil
		}
		due := int64(now.Sub(start).Seconds() * float64(cfg.Rate))
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

func encode(cfg Config, set *codecs.Set, line loadgen.Line, n int64) ([]byte, kind, error) {
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

// drain waits until the parse stage has read every record written.
func drain(ctx context.Context, cfg Config, d Deps, g *genCounters) error {
	want := g.records.Load() - g.failed.Load()
	deadline := time.Now().Add(cfg.DrainTimeout)
	for d.Parse.In.Load() < want {
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: stages did not drain within %s: %d of %d records read", cfg.DrainTimeout, d.Parse.In.Load(), want)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	// Let in-flight emits land so topic end offsets match the counters, and
	// let the join release the events whose spans never came.
	if d.Lag == nil {
		return nil
	}
	var behind string
	for {
		lags, err := d.Lag(ctx)
		behind = ""
		if err != nil {
			behind = "consumer lag unknown: " + err.Error()
		} else {
			var groups []string
			for g, n := range lags {
				if n > 0 {
					groups = append(groups, fmt.Sprintf("%s %s records behind", g, comma(n)))
				}
			}
			sort.Strings(groups)
			behind = strings.Join(groups, ", ")
			if behind == "" {
				if held := joinHeld(ctx, d); held > 0 {
					behind = fmt.Sprintf("the trace join still holds %s events waiting for their spans", comma(held))
				}
			}
		}
		if behind == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: stages did not drain within %s: %s", cfg.DrainTimeout, behind)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// joinHeld returns how many events dedupe passed have not left the join
// yet (-1 when the offsets cannot be read). logs.unique also holds the
// watermark records dedupe passed on; logs.enriched holds events only.
func joinHeld(ctx context.Context, d Deps) int64 {
	ends, err := d.Admin.ListEndOffsets(ctx, topology.TopicUnique, topology.TopicEnriched)
	if err != nil {
		return -1
	}
	var unique, enriched int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Topic == topology.TopicUnique {
			unique += o.Offset
		} else {
			enriched += o.Offset
		}
	})
	return unique - d.Dedupe.Watermarks.Load() - enriched
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
	errorRateOK := true
	if e := d.ErrorRate; e != nil {
		// Every event passed by dedupe is read by the errorrate stage and
		// counted in a window, or as late, far-future or a dead letter.
		s.ErrorRate = ErrorRateSummary{In: e.In.Load(), Events: e.Events.Load(), Errors: e.Errors.Load(), Late: e.Late.Load(),
			Future: e.Future.Load(), WindowsClosed: e.Closed.Load(), Updates: e.Updates.Load()}
		s.DeadLetters += e.DeadLetters.Load()
		errorRateOK = e.In.Load() == ds.Unique && e.Events.Load()+e.Late.Load()+e.Future.Load()+e.DeadLetters.Load() == e.In.Load()
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
	s.Accounted = st.RecordsIn == lines &&
		st.RecordsIn == p.Events.Load()+p.DeadLetters.Load()+p.PartialHeld.Load()+p.Replayed.Load() &&
		ds.In == p.Events.Load() && ds.In == ds.Unique+ds.Duplicates+ds.DeadLetters &&
		s.Topics[topology.TopicUnique]-s.WatermarkRecords[topology.TopicUnique] == ds.Unique && s.Join.Enriched == ds.Unique && errorRateOK
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
	if s.Accounted {
		b.WriteString("  every generated record is accounted for: one event, one dead letter, or a CRI part joined into its line;\n  every event passed dedupe or was dropped as a repeat, and every event passed left the join exactly once\n")
	} else {
		b.WriteString("  WARNING: records are unaccounted for\n")
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
