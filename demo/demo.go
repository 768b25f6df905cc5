// Package demo drives `logstream demo`: a five-host payment-gateway fleet
// (web-1 ... web-5) writes mixed-format log lines into the raw topic while
// the pipeline runs; a status line shows progress; at the end the pipeline
// drains and a summary accounts for every line.
//
// The fleet writes as real fleets do: most lines arrive as Avro RawLog
// records (as `logstream ingest` writes them), some as plain text (as Fluent
// Bit or kcat write them), and a few records are corrupt Avro (a buggy
// shipper), which the parse stage must send to the dead-letter topic.
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
	"github.com/logstream/logstream/processors/parse"
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
	// DrainTimeout bounds the wait for the stages to catch up at the end.
	DrainTimeout time.Duration
	// Status receives the live status line; Terminal rewrites it in place.
	Status   io.Writer
	Terminal bool
}

// DefaultConfig is what `logstream demo` runs without flags.
func DefaultConfig() Config {
	return Config{Duration: 60 * time.Second, Rate: 2000, Seed: 1, PlainEvery: 10, CorruptEvery: 997, DrainTimeout: 2 * time.Minute}
}

// Summary is the demo's final account, also written as JSON.
type Summary struct {
	DurationSeconds float64          `json:"duration_seconds"`
	Generated       Generated        `json:"generated"`
	Stages          []StageSummary   `json:"stages"`
	Topics          map[string]int64 `json:"topics"`
	DeadLetters     int64            `json:"dead_letters"`
	Formats         map[string]int64 `json:"formats"`
	Accounted       bool             `json:"accounted"`
	Alerts          []any            `json:"alerts"`
}

// Generated counts what the fleet wrote.
type Generated struct {
	Records int64 `json:"records"`
	Avro    int64 `json:"avro"`
	Plain   int64 `json:"plain"`
	Corrupt int64 `json:"corrupt"`
	Failed  int64 `json:"failed"`
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
	Client *kgo.Client // producer for the raw topic (with topology.Partitioner)
	Admin  *kadm.Client
	Codecs *codecs.Set
	Parse  *parse.Stats
	Lag    func(ctx context.Context) (int64, error) // total consumer lag of the stages
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
	gen := loadgen.New(loadgen.Config{Seed: cfg.Seed, Start: time.Now().UTC()})
	var g genCounters
	start := time.Now()
	stopStatus := startStatus(ctx, cfg, d, &g, start)

	err := generate(ctx, cfg, d, gen, &g, start)
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
	sum, err := summarize(ctx, d, &g, time.Since(start))
	if err != nil {
		return nil, err
	}
	if drainErr != nil {
		return sum, drainErr
	}
	if !sum.Accounted {
		return sum, fmt.Errorf("demo: %d records generated but the parse stage accounts for %d", sum.Generated.Records-sum.Generated.Failed, sum.Stages[0].RecordsIn)
	}
	return sum, nil
}

type genCounters struct {
	records, avro, plain, corrupt, failed atomic.Int64
}

func generate(ctx context.Context, cfg Config, d Deps, gen *loadgen.Generator, g *genCounters, start time.Time) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	end := start.Add(cfg.Duration)
	var n int64
	for {
		now := time.Now()
		if !now.Before(end) {
			return nil
		}
		due := int64(now.Sub(start).Seconds() * float64(cfg.Rate))
		for ; n < due; n++ {
			line := gen.Next()
			value, kind, err := encode(cfg, d.Codecs, line, n)
			if err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			kind.Add(g, 1)
			g.records.Add(1)
			d.Client.Produce(ctx, &kgo.Record{Topic: topology.TopicRaw, Key: []byte(line.Host), Value: value}, func(_ *kgo.Record, err error) {
				if err != nil {
					g.failed.Add(1)
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
	b, err := set.RawLog.Marshal(&schemas.RawLog{Host: line.Host, Source: line.Source, Line: line.Text, ReceivedAt: time.Now().UnixMilli()})
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
	// Let in-flight emits land so topic end offsets match the counters.
	if d.Lag != nil {
		for time.Now().Before(deadline) {
			lag, err := d.Lag(ctx)
			if err == nil && lag == 0 {
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

func summarize(ctx context.Context, d Deps, g *genCounters, elapsed time.Duration) (*Summary, error) {
	p := d.Parse
	s := &Summary{
		DurationSeconds: elapsed.Seconds(),
		Generated: Generated{
			Records: g.records.Load(), Avro: g.avro.Load(), Plain: g.plain.Load(),
			Corrupt: g.corrupt.Load(), Failed: g.failed.Load(),
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
		Alerts:      []any{},
	}
	ends, err := d.Admin.ListEndOffsets(ctx, topology.TopicRaw, topology.TopicParsed, topology.TopicDLQ)
	if err != nil {
		return nil, fmt.Errorf("demo: topic offsets: %w", err)
	}
	ends.Each(func(o kadm.ListedOffset) { s.Topics[o.Topic] += o.Offset })
	st := s.Stages[0]
	// Every record read is an event, a dead letter, or a CRI part held until
	// its line completes (then counted in the joined event).
	s.Accounted = st.RecordsIn == s.Generated.Records-s.Generated.Failed &&
		st.RecordsIn == p.Events.Load()+p.DeadLetters.Load()+p.PartialHeld.Load()+p.Replayed.Load()
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
		fmt.Fprintf(&b, "  stage %-5s in %s  out %s (%s events + %s dead letters)  unparsed %s  CRI parts held and joined %s\n",
			st.Name, comma(st.RecordsIn), comma(st.RecordsOut), comma(st.RecordsOut-st.DeadLetters), comma(st.DeadLetters), comma(st.Unparsed), comma(st.Held))
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
	fmt.Fprintf(&b, "\n  alerts    %d (alerting is not part of this build yet)\n", len(s.Alerts))
	if s.Accounted {
		b.WriteString("  every generated record is accounted for: one event, one dead letter, or a CRI part joined into its line\n")
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
