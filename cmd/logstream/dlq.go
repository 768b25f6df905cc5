package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/mattn/go-isatty"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/dlq"
	"github.com/logstream/logstream/topology"
)

// dlqSettings are the settings of logstream dlq list|show|replay.
type dlqSettings struct {
	Stage       string
	Reason      string
	SourceTopic string
	Since       timeSpec
	Until       timeSpec
	To          string
	DryRun      bool
	All         bool
}

// timeSpec is a point in time given either as such or as a duration before
// the command runs ("2h": two hours ago).
type timeSpec struct {
	at  time.Time
	ago time.Duration
	set bool
}

// resolve returns the time, now being when the command runs.
func (t timeSpec) resolve(now time.Time) time.Time {
	switch {
	case !t.set:
		return time.Time{}
	case t.ago > 0 || t.at.IsZero():
		return now.Add(-t.ago)
	}
	return t.at
}

// parseTimeSpec reads RFC 3339 (2026-11-01T12:00:00Z), a UTC date and time
// without a zone (2026-11-01T12:00:00 or 2026-11-01 12:00), a UTC date, or
// a duration ago (90m, 2h, 3d).
func parseTimeSpec(v string) (timeSpec, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return timeSpec{}, nil
	}
	if d, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n >= 0 {
			return timeSpec{ago: time.Duration(n) * 24 * time.Hour, set: true}, nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil {
		if d < 0 {
			return timeSpec{}, fmt.Errorf("%q is a negative duration; a duration means that long ago", v)
		}
		return timeSpec{ago: d, set: true}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return timeSpec{at: t, set: true}, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", time.DateOnly} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return timeSpec{at: t, set: true}, nil
		}
	}
	return timeSpec{}, fmt.Errorf("%q is neither a time (2026-11-01T12:00:00Z, 2026-11-01 12:00 UTC, 2026-11-01) nor a duration ago (90m, 2h, 3d)", v)
}

var (
	sDLQStage = setting{name: "stage", env: "LOGSTREAM_DLQ_STAGE",
		usage: "only dead letters of this stage (parse, spans, dedupe, tracejoin, errorrate, alerter, page, sink-s3, sink-openobserve)",
		parse: func(c *Config, v string) error { c.DLQ.Stage = strings.TrimSpace(v); return nil }}
	sDLQReason = setting{name: "reason", env: "LOGSTREAM_DLQ_REASON",
		usage: "only dead letters whose reason contains this text (ignoring case)",
		parse: func(c *Config, v string) error { c.DLQ.Reason = v; return nil }}
	sDLQSourceTopic = setting{name: "source-topic", env: "LOGSTREAM_DLQ_SOURCE_TOPIC",
		usage: "only dead letters of records read from this topic (logs.raw, otlp.spans, logs.parsed, ...)",
		parse: func(c *Config, v string) error { c.DLQ.SourceTopic = strings.TrimSpace(v); return nil }}
	sDLQSince = setting{name: "since", env: "LOGSTREAM_DLQ_SINCE",
		usage: "only dead letters written at or after this time: RFC 3339, a UTC date (and time), or a duration ago (90m, 2h, 3d)",
		parse: func(c *Config, v string) (err error) { c.DLQ.Since, err = parseTimeSpec(v); return err }}
	sDLQUntil = setting{name: "until", env: "LOGSTREAM_DLQ_UNTIL",
		usage: "only dead letters written before this time (same forms as --since)",
		parse: func(c *Config, v string) (err error) { c.DLQ.Until, err = parseTimeSpec(v); return err }}
	sDLQFormat = setting{name: "format", env: "LOGSTREAM_DLQ_FORMAT", def: "table",
		usage: "table, or json (one object per line)",
		parse: oneOf(func(c *Config, v string) { c.Format = v }, "table", "json")}
	sDLQTo = setting{name: "to", env: "LOGSTREAM_DLQ_TO",
		usage: "write every replayed record to this topic of the pipeline instead of its source topic",
		parse: func(c *Config, v string) error { c.DLQ.To = strings.TrimSpace(v); return nil }}
	sDLQDryRun = boolSetting("dry-run", "LOGSTREAM_DLQ_DRY_RUN", "print what would be replayed, and skipped, and write nothing",
		func(c *Config, b bool) { c.DLQ.DryRun = b })
	sDLQAll = boolSetting("all", "LOGSTREAM_DLQ_ALL", "replay every dead letter (without it, replay wants IDs or a filter)",
		func(c *Config, b bool) { c.DLQ.All = b })

	dlqConnection = []setting{sConfig,
		withUsage(sBrokers, "Kafka bootstrap brokers, host:port,...; empty connects to --embedded-addr"),
		withUsage(sEmbeddedAddr, "address of a local 'logstream run' with its embedded broker, used when --brokers is empty"),
		withUsage(sRegistry, "Confluent-compatible schema registry (e.g. a 'logstream registry') for writer schemas this build does not know, of dead letters and of their records"),
	}
	dlqFilters = []setting{sDLQStage, sDLQReason, sDLQSourceTopic, sDLQSince, sDLQUntil}

	dlqListSettings   = append(append(slices.Clone(dlqConnection), dlqFilters...), sDLQFormat)
	dlqShowSettings   = append(slices.Clone(dlqConnection), withUsage(sDLQFormat, "table (readable), or json (one object)"))
	dlqReplaySettings = append(append(slices.Clone(dlqConnection), dlqFilters...), sDLQAll, sDLQTo, sDLQDryRun)
)

const dlqListLong = `Reads logs.dlq from its start (with --since, from the first offset written a
few minutes before that time, found by the broker's time index) up to the
end it has when the command starts, then stops: dead letters written
meanwhile are not listed. Prints the dead letters that every filter given
selects, oldest first: the id (PARTITION/OFFSET on logs.dlq, what 'dlq show'
and 'dlq replay' take), when the stage dead-lettered the record (UTC), the
stage, the source record (topic/partition/offset) and the reason, cut to fit
a line. --since and --until compare that time, the one in the dead letter.
--format json prints one JSON object per line, with the whole reason, the
key and the value's size. A record on logs.dlq that is no DeadLetter this
build can read is counted on stderr, not fatal. Read-only: no consumer
group, no commits; records of aborted transactions are skipped. Without
--brokers it connects to --embedded-addr (a local 'logstream run').`

const dlqShowLong = `Prints one dead letter, whole: when and by which stage, the reason, the
source record, the key, and the original value decoded where possible. An
Avro value is decoded with the codec of the record type its fingerprint or
schema id names (RawLog on logs.raw, LogEvent on logs.parsed, logs.unique
and logs.enriched, Span on spans, ...); a value from otlp.spans as an OTLP
trace export, as the spans stage reads it; anything else, or a value that
does not decode (with the reason), as text when it is valid UTF-8, else as a
hex dump. --format json prints one object, with the exact bytes in
value_base64 too. ID is PARTITION/OFFSET on logs.dlq, as 'dlq list' prints
it (logs.dlq/P/O, as the ls-dlq-replay header names it, works too).`

const dlqReplayLong = `Writes the original record of each selected dead letter back to its source
topic (or --to TOPIC), for the stage that gave up on it to try again, e.g.
after a rolling deploy left an old pod without a newer schema, or a fix.
Dead letters are selected by IDs (PARTITION/OFFSET), by the filters, or by
both (the IDs that match the filters), or all of them with --all. Each goes
out with its original key (the dead letter keeps it; a record that had none
goes without), placed by key as the stages place keys, its original value,
the time it was dead-lettered as its timestamp, and two headers:
ls-dlq-replay (logs.dlq/P/O, the dead letter) and ls-dlq-source (the source
record, topic/partition/offset).

Replaying twice does not duplicate events. The fixed timestamp gives a line
whose event time comes from its record (e.g. a plain line without a time of
its own) the same event time, and so the same event id (parse hashes host,
source, event time and line, unless the line has an id of its own), on every
replay. But dedupe remembers an id only for its TTL (the pipeline's
--dedupe-ttl, 10m of event time by default, on the watermark), and dead
letters are usually older than that, so their ids are forgotten as soon as a
replay is through and a second one would pass again. So before writing,
replay reads the target topic from the earliest selected dead letter's time
(less 5 minutes) to its end (it prints how many records that is), and skips
every dead letter whose source record a record there already names in
ls-dlq-source; and of several dead letters of one source record (dead
letters are at least once) it replays the earliest only. A replay that was
stopped (^C, a crash) can be run again: it skips what got through.

The guarantee's limits: it lasts while the replayed records are on the
target topic (retention); two replays running at the same time do not see
each other; each target is searched on its own (a dead letter replayed to
its source and then --to another topic goes to both); a replayed record that
fails again becomes a new dead letter, and replaying that one tries again
(not a duplicate: the first try produced nothing downstream). A topic that
several stages read (logs.unique, logs.enriched) gives the replayed records
to each of them, including one that had read the original: the summary names
them. Records without a value (tombstones, empty) are skipped: a stage would
only dead-letter them again.

Everything is decided before anything is written: an unknown ID or a source
topic that is not a stream of the pipeline (or a group table) fails the
whole replay. --dry-run prints the decision for each dead letter and writes
nothing. On a terminal a progress line counts the records acknowledged; a
summary ends the run. Without --brokers it connects to --embedded-addr.`

// dlqConfig is how the dlq commands reach the dead letters: as tail does,
// with the clients' TLS and SASL, once the brokers answered.
func dlqConfig(ctx context.Context, cfg *Config) (dlq.Config, *codecs.Set, error) {
	opts, err := codecOptions(cfg)
	if err != nil {
		return dlq.Config{}, nil, err
	}
	set, err := codecs.NewSet(opts...)
	if err != nil {
		return dlq.Config{}, nil, err
	}
	brokers, err := connect(ctx, cfg)
	if err != nil {
		return dlq.Config{}, nil, err
	}
	return dlq.Config{Brokers: brokers, ClientOpts: cfg.security.KgoOpts(), Codecs: set}, set, nil
}

// dlqFilter builds the filter from the settings and the IDs given.
func dlqFilter(cfg *Config, cmd string, args []string, now time.Time) (dlq.Filter, error) {
	f := dlq.Filter{
		Stage: cfg.DLQ.Stage, Reason: cfg.DLQ.Reason, SourceTopic: cfg.DLQ.SourceTopic,
		Since: cfg.DLQ.Since.resolve(now), Until: cfg.DLQ.Until.resolve(now),
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, usagef("logstream %s: --since %s is not before --until %s", cmd,
			f.Since.UTC().Format(time.RFC3339), f.Until.UTC().Format(time.RFC3339))
	}
	for _, a := range args {
		id, err := dlq.ParseID(a)
		if err != nil {
			return f, usagef("logstream %s: %v", cmd, err)
		}
		f.IDs = append(f.IDs, id)
	}
	return f, nil
}

// dlqError adds what to do to an error reaching the dead letters.
func dlqError(err error, brokers []string) error {
	if errors.Is(err, dlq.ErrUnknownTopic) && strings.Contains(err.Error(), topology.TopicDLQ) {
		return fmt.Errorf("%w (no stage has dead-lettered anything on %s yet, or no pipeline ever ran there)", err, strings.Join(brokers, ","))
	}
	return err
}

func runDLQList(ctx context.Context, cfg *Config, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		return usagef("logstream dlq list: takes no arguments (filters are flags; see 'logstream dlq list --help')")
	}
	f, err := dlqFilter(cfg, "dlq list", nil, time.Now())
	if err != nil {
		return err
	}
	dc, _, err := dlqConfig(ctx, cfg)
	if err != nil {
		return err
	}
	var rows []listRow
	sum, err := dlq.Scan(ctx, dc, f, func(l *dlq.Letter) error {
		rows = append(rows, newListRow(l))
		return nil
	})
	if err != nil {
		return dlqError(err, dc.Brokers)
	}
	slices.SortStableFunc(rows, func(a, b listRow) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		if a.id.Less(b.id) {
			return -1
		}
		return 1
	})
	if cfg.Format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		for _, r := range rows {
			if err := enc.Encode(r.json); err != nil {
				return err
			}
		}
	} else if len(rows) > 0 {
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tDEAD-LETTERED (UTC)\tSTAGE\tSOURCE\tREASON")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.id, r.at.UTC().Format("2006-01-02 15:04:05.000"), r.json.Stage, r.source, cut(r.json.Reason, reasonWidth))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	what := "dead letters"
	if f.Selects() {
		what = "dead letters matched"
	}
	fmt.Fprintf(stderr, "logstream dlq list: %d %s (%d records read on %s)\n", len(rows), what, sum.Read, topology.TopicDLQ)
	reportUndecodable(stderr, "dlq list", sum.Undecodable)
	return nil
}

// reasonWidth is how much of a reason a table row shows.
const reasonWidth = 72

// cut shortens s to n runes on one line.
func cut(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func reportUndecodable(w io.Writer, cmd string, u []dlq.Undecodable) {
	if len(u) == 0 {
		return
	}
	fmt.Fprintf(w, "logstream %s: %d records on %s are no DeadLetter this build can read (first, %s: %v); --registry fetches schemas this build does not know\n",
		cmd, len(u), topology.TopicDLQ, u[0].ID, u[0].Err)
}

// listRow is one dead letter as list prints it.
type listRow struct {
	id     dlq.ID
	at     time.Time
	source string
	json   listJSON
}

// listJSON is a row of list --format json.
type listJSON struct {
	ID              string `json:"id"`
	Partition       int32  `json:"partition"`
	Offset          int64  `json:"offset"`
	Time            string `json:"time"`
	Stage           string `json:"stage"`
	Reason          string `json:"reason"`
	SourceTopic     string `json:"source_topic"`
	SourcePartition int32  `json:"source_partition"`
	SourceOffset    int64  `json:"source_offset"`
	Key             any    `json:"key"`
	KeyBase64       string `json:"key_base64,omitempty"`
	ValueBytes      int    `json:"value_bytes"`
}

func newListRow(l *dlq.Letter) listRow {
	j := listJSON{
		ID: l.ID.String(), Partition: l.ID.Partition, Offset: l.ID.Offset,
		Time: l.At().UTC().Format(time.RFC3339Nano), Stage: l.Stage, Reason: l.Error,
		SourceTopic: l.SourceTopic, SourcePartition: l.SourcePartition, SourceOffset: l.SourceOffset,
		ValueBytes: len(l.OriginalValue),
	}
	j.Key, j.KeyBase64 = keyJSON(l.OriginalKey)
	return listRow{id: l.ID, at: l.At(), source: l.Source(), json: j}
}

// keyJSON renders a key: a string, or null, or base64 when it is not text.
func keyJSON(k []byte) (any, string) {
	switch {
	case k == nil:
		return nil, ""
	case utf8.Valid(k):
		return string(k), ""
	}
	return nil, base64.StdEncoding.EncodeToString(k)
}

func runDLQShow(ctx context.Context, cfg *Config, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return usagef("logstream dlq show: name one dead letter: logstream dlq show PARTITION/OFFSET (as 'logstream dlq list' prints it)")
	}
	id, err := dlq.ParseID(args[0])
	if err != nil {
		return usagef("logstream dlq show: %v", err)
	}
	dc, set, err := dlqConfig(ctx, cfg)
	if err != nil {
		return err
	}
	l, err := dlq.Get(ctx, dc, id)
	if err != nil {
		return dlqError(err, dc.Brokers)
	}
	topo, err := topology.New(topology.DefaultConfig())
	if err != nil {
		return err
	}
	o := dlq.Decode(set, topo, l.SourceTopic, l.OriginalValue)
	if cfg.Format == "json" {
		return writeShowJSON(stdout, l, o)
	}
	return writeShowText(stdout, l, o)
}

// showJSON is dlq show --format json.
type showJSON struct {
	listJSON
	Written     string `json:"written"` // the record's timestamp on logs.dlq
	ValueAs     string `json:"value_as"`
	ValueSchema string `json:"value_schema,omitempty"`
	Value       any    `json:"value,omitempty"`
	ValueHex    string `json:"value_hex,omitempty"`
	ValueError  string `json:"value_error,omitempty"`
	Note        string `json:"note,omitempty"`
	ValueBase64 []byte `json:"value_base64"`
}

func writeShowJSON(w io.Writer, l *dlq.Letter, o dlq.Original) error {
	j := showJSON{listJSON: newListRow(l).json, Written: l.Timestamp.UTC().Format(time.RFC3339Nano),
		ValueAs: o.As, ValueSchema: o.Schema, Note: o.Note, ValueBase64: l.OriginalValue}
	switch o.As {
	case dlq.AsAvro, dlq.AsOTLP:
		j.Value = o.Value
	case dlq.AsText:
		j.Value = o.Text
	case dlq.AsHex:
		j.ValueHex = hex.EncodeToString(l.OriginalValue)
	}
	if o.Err != nil {
		j.ValueError = o.Err.Error()
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(j)
}

func writeShowText(w io.Writer, l *dlq.Letter, o dlq.Original) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "dead letter\t%s/%s\n", topology.TopicDLQ, l.ID)
	fmt.Fprintf(tw, "dead-lettered\t%s by %s\n", l.At().UTC().Format(time.RFC3339Nano), l.Stage)
	fmt.Fprintf(tw, "source\t%s\n", l.Source())
	switch k, b64 := keyJSON(l.OriginalKey); {
	case b64 != "":
		fmt.Fprintf(tw, "key\t(not text) base64 %s\n", b64)
	case k == nil:
		fmt.Fprintf(tw, "key\t(none)\n")
	default:
		fmt.Fprintf(tw, "key\t%q\n", k)
	}
	var value string
	switch o.As {
	case dlq.AsNone:
		value = "(none: the record was a tombstone)"
	case dlq.AsAvro:
		value = fmt.Sprintf("%d bytes, %s", len(l.OriginalValue), o.Schema)
	case dlq.AsOTLP:
		value = fmt.Sprintf("%d bytes, an OTLP trace export", len(l.OriginalValue))
	case dlq.AsText:
		value = fmt.Sprintf("%d bytes of text", len(l.OriginalValue))
	case dlq.AsHex:
		value = fmt.Sprintf("%d bytes, not text (hex below)", len(l.OriginalValue))
	}
	fmt.Fprintf(tw, "value\t%s\n", value)
	if o.Err != nil {
		what := "its record type"
		if o.Schema != "" {
			what = o.Schema
		}
		fmt.Fprintf(tw, "not decoded\tas %s: %s\n", what, oneLine(o.Err.Error()))
	}
	if o.Note != "" {
		fmt.Fprintf(tw, "note\t%s\n", o.Note)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// The reason goes below the table: it can be long, and holds newlines
	// as the stage wrote it.
	fmt.Fprintf(w, "reason:\n  %s\n", strings.ReplaceAll(strings.TrimSpace(l.Error), "\n", "\n  "))
	switch o.As {
	case dlq.AsAvro, dlq.AsOTLP:
		b, err := json.MarshalIndent(o.Value, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "original value:\n%s\n", b)
	case dlq.AsText:
		fmt.Fprintf(w, "original value:\n%s\n", o.Text)
	case dlq.AsHex:
		fmt.Fprintf(w, "original value:\n%s", o.Hex)
	}
	return nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func runDLQReplay(ctx context.Context, cfg *Config, args []string, stdout, stderr io.Writer) error {
	topo, err := topology.New(topology.DefaultConfig())
	if err != nil {
		return err
	}
	if cfg.DLQ.To != "" {
		if err := dlq.CheckTarget(topo, cfg.DLQ.To); err != nil {
			return usagef("logstream dlq replay: --to: %v", err)
		}
	}
	f, err := dlqFilter(cfg, "dlq replay", args, time.Now())
	if err != nil {
		return err
	}
	if !f.Selects() && !cfg.DLQ.All {
		return usagef("logstream dlq replay: name the dead letters to replay: IDs (PARTITION/OFFSET), filters (--stage, --reason, --since, --until, --source-topic), or --all")
	}
	dc, _, err := dlqConfig(ctx, cfg)
	if err != nil {
		return err
	}
	rc := dlq.ReplayConfig{Config: dc, Topology: topo, To: cfg.DLQ.To, DryRun: cfg.DLQ.DryRun,
		OnSearch: func(target string, from time.Time, records int64) {
			fmt.Fprintf(stderr, "logstream dlq replay: looking for earlier replays in %s since %s (%d records)\n",
				target, from.UTC().Format(time.RFC3339), records)
		}}
	if cfg.DLQ.DryRun {
		rc.OnPlan = func(p *dlq.Planned) { fmt.Fprintln(stdout, planLine(p)) }
	}
	var prog *replayProgress
	if file, ok := stderr.(*os.File); ok && isatty.IsTerminal(file.Fd()) && !cfg.DLQ.DryRun {
		prog = &replayProgress{w: stderr}
		rc.OnPlan = func(p *dlq.Planned) {
			if p.Decision == dlq.Send {
				prog.total.Add(1)
			}
		}
		rc.OnSent = prog.sent.Store
		stop := prog.start()
		defer stop()
	}
	sum, err := dlq.Replay(ctx, rc, f)
	if prog != nil {
		prog.stop()
	}
	reportUndecodable(stderr, "dlq replay", sum.Undecodable)
	if err != nil {
		return dlqError(err, dc.Brokers)
	}
	fmt.Fprintln(stderr, replaySummary(sum, cfg.DLQ.DryRun))
	for _, t := range sum.Targets {
		if r := sum.Shared[t]; len(r) > 0 {
			fmt.Fprintf(stderr, "logstream dlq replay: note: %s is read by %s; each of them gets the replayed records, including any that had read the original\n",
				t, strings.Join(r, ", "))
		}
	}
	return nil
}

// planLine is one dead letter in a dry run.
func planLine(p *dlq.Planned) string {
	switch p.Decision {
	case dlq.Send:
		key := "no key"
		if k, b64 := keyJSON(p.Key); b64 != "" {
			key = "key (base64) " + b64
		} else if k != nil {
			key = "key " + strconv.Quote(k.(string))
		}
		return fmt.Sprintf("send  %s -> %s  %s, %d bytes, timestamp %s  (%s from %s: %s)",
			p.ID, p.Target, key, p.Size, p.At.UTC().Format(time.RFC3339Nano), p.Stage, p.Source, cut(p.Reason, 60))
	case dlq.SkipReplayed:
		return fmt.Sprintf("skip  %s  already replayed: %s carries %s", p.ID, p.Found, p.Source)
	case dlq.SkipDuplicate:
		return fmt.Sprintf("skip  %s  duplicate: %s, another dead letter of %s, is replayed", p.ID, p.Instead, p.Source)
	}
	return fmt.Sprintf("skip  %s  no value to replay (%s)", p.ID, p.Source)
}

func replaySummary(s dlq.ReplaySummary, dry bool) string {
	sent := "replayed"
	if dry {
		sent = "would replay"
	}
	to := ""
	if len(s.Targets) > 0 {
		to = " to " + strings.Join(s.Targets, ", ")
	}
	return fmt.Sprintf("logstream dlq replay: %d dead letters selected: %s %d%s; skipped %d already replayed, %d more dead letters of a record replayed, %d without a value",
		s.Selected, sent, s.Sent, to, s.Replayed, s.Duplicates, s.NoValue)
}

// replayProgress refreshes "\r  replayed 1,234 of 5,000" on a terminal.
type replayProgress struct {
	w     io.Writer
	total atomic.Int64 // records to send, known once Replay has decided
	sent  atomic.Int64
	quit  chan struct{}
	done  chan struct{}
}

func (p *replayProgress) start() func() {
	p.quit, p.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.done)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				return
			case <-t.C:
				if n := p.total.Load(); n > 0 {
					fmt.Fprintf(p.w, "\r  replayed %d of %d    ", p.sent.Load(), n)
				}
			}
		}
	}()
	return p.stop
}

// stop ends the refreshes and leaves the last count on its line; a second
// call does nothing.
func (p *replayProgress) stop() {
	select {
	case <-p.quit:
		return
	default:
	}
	close(p.quit)
	<-p.done
	if n := p.total.Load(); n > 0 {
		fmt.Fprintf(p.w, "\r  replayed %d of %d    \n", p.sent.Load(), n)
	}
}
