package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/status"
	"github.com/logstream/logstream/topology"
)

// statusSettings are the settings of `logstream status`.
type statusSettings struct {
	Interval         time.Duration
	Groups           []string
	SinkMetrics      []string
	ReadMax          int
	Timeout          time.Duration
	DeadLetterWindow time.Duration
}

const statusLong = `Reads the pipeline's health from the brokers and prints it as tables, or
as JSON with --format json. Nothing is written: groups are described and
their offsets fetched, topics are read without a consumer group.

Consumer groups. Every stage's group (parse, spans, dedupe, tracejoin,
errorrate-combine, errorrate, alerter) must exist and have members; page,
sink-s3 and sink-openobserve are checked when the broker knows them
(members or committed offsets), else listed as not deployed. --groups names
the groups to check instead, each one required. For each: its state, its
members (client id, host, assigned partitions), and per partition (loop
topics included) the committed offset, the end and the lag, with the total.
On errorrate-partials, written in Kafka transactions, the commit marker
after a caught-up group's position is not counted as lag.

Lag is sampled every second over --interval. It is growing when its lowest
total in the second half of the samples is above its highest in the first
half: a group commits in steps, so its lag saw-tooths, and one that keeps up
comes back down after its next commit. A group that falls behind slowly
stays within its saw-tooth over a short --interval; a longer one sees it.

Time since the last commit is remembered between the samples, because Kafka
offers no commit time a client can fetch (the offset-fetch answer has none;
__consumer_offsets is internal, and the embedded broker has none): "within
2s" when a committed offset moved between two samples, ">5s" when none
moved during --interval (normal for a caught-up group without traffic).

Dead letters: logs.dlq from the first record written --dead-letter-window
ago to its end, decoded as DeadLetter and counted by stage and reason (the
error text with numbers, ids and fingerprints masked). Open alerts: the
alerts topic from its start; an incident is open when its latest record is
FIRING. Each read takes at most --read-max records, the newest of each
partition (split evenly over the partitions), and says so. Breakers:
with --sink-metrics, each sink writer's circuit breaker (closed, open,
half-open) from the logstream_sink_circuit_state gauge on its admin port.

Exit status: 0 healthy; 1 unhealthy: a group that must run has no members
or is unknown to the broker, its lag is growing, or it could not be read
(each problem is printed); 2 invalid flags; 3 the brokers did not answer
(health unknown).
Dead letters, open alerts and open breakers are shown but do not change the
exit status. Without --brokers it connects to --embedded-addr. Times are
UTC.`

var (
	sStatusFormat = setting{name: "format", env: "LOGSTREAM_STATUS_FORMAT", def: "table",
		usage: "table, or json",
		parse: oneOf(func(c *Config, v string) { c.Format = v }, "table", "json")}
	sStatusInterval = setting{name: "interval", env: "LOGSTREAM_STATUS_INTERVAL", def: "5s",
		usage: "how long lag is sampled (every second) to judge its growth and the last commit; 0s takes one sample and judges neither",
		parse: durationIn(0, 10*time.Minute, func(c *Config, d time.Duration) { c.Status.Interval = d })}
	sStatusGroups = setting{name: "groups", env: "LOGSTREAM_STATUS_GROUPS",
		usage: "consumer groups to check, comma-separated, each required; empty checks the pipeline's (the stages' required; page and the sinks' when deployed)",
		parse: func(c *Config, v string) error { c.Status.Groups = splitList(v); return nil }}
	sSinkMetrics = setting{name: "sink-metrics", env: "LOGSTREAM_SINK_METRICS",
		usage: "sink writers' metrics URLs (their --admin-addr), comma-separated, for their circuit breakers; host:port means http://host:port/metrics",
		parse: func(c *Config, v string) error {
			c.Status.SinkMetrics = nil
			for _, s := range splitList(v) {
				u, err := metricsURL(s)
				if err != nil {
					return err
				}
				c.Status.SinkMetrics = append(c.Status.SinkMetrics, u)
			}
			return nil
		}}
	sStatusReadMax = setting{name: "read-max", env: "LOGSTREAM_STATUS_READ_MAX", def: "10000",
		usage: "records read at most from logs.dlq, and from the alerts topic (the newest of each partition)",
		parse: intIn(1, 10_000_000, func(c *Config, n int) { c.Status.ReadMax = n })}
	sStatusTimeout = setting{name: "timeout", env: "LOGSTREAM_STATUS_TIMEOUT", def: "15s",
		usage: "bound of each round of requests to the brokers, of each topic read and of each metrics request",
		parse: durationIn(time.Second, time.Hour, func(c *Config, d time.Duration) { c.Status.Timeout = d })}
	sDeadLetterWindow = setting{name: "dead-letter-window", env: "LOGSTREAM_STATUS_DEAD_LETTER_WINDOW", def: "1h",
		usage: "how far back dead letters are counted (record timestamps of logs.dlq)",
		parse: durationIn(time.Minute, 30*24*time.Hour, func(c *Config, d time.Duration) { c.Status.DeadLetterWindow = d })}

	statusSettingsList = []setting{sConfig,
		withUsage(sBrokers, "Kafka bootstrap brokers, host:port,...; empty connects to --embedded-addr"),
		withUsage(sEmbeddedAddr, "address of a local 'logstream run' with its embedded broker, used when --brokers is empty"),
		sStatusFormat, sStatusInterval, sStatusGroups, sSinkMetrics, sDeadLetterWindow, sStatusReadMax, sStatusTimeout, sRegistry}
)

// splitList splits a comma-separated setting, dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// metricsURL takes a URL, or host:port for http://host:port/metrics.
func metricsURL(s string) (string, error) {
	if !strings.Contains(s, "://") {
		if _, _, err := net.SplitHostPort(s); err != nil {
			return "", fmt.Errorf("%q is neither an http(s) URL nor host:port", s)
		}
		return "http://" + s + "/metrics", nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an http(s) URL", s)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/metrics"
	}
	return u.String(), nil
}

// exitStatus ends a command with a status of its own after it printed its
// output; msg, when set, goes to stderr.
type exitStatus struct {
	code int
	msg  string
}

func (e *exitStatus) Error() string { return e.msg }

func runStatus(ctx context.Context, cfg *Config, stdout io.Writer) error {
	brokers := cfg.Brokers
	if len(brokers) == 0 {
		brokers = []string{cfg.EmbeddedAddr}
	}
	if err := broker.Check(ctx, brokers, cfg.security, max(cfg.Status.Timeout, 5*time.Second)); err != nil {
		return &exitStatus{code: 3, msg: "logstream status: the brokers did not answer: " + err.Error()}
	}
	opts, err := codecOptions(cfg)
	if err != nil {
		return err
	}
	set, err := codecs.NewSet(opts...)
	if err != nil {
		return err
	}
	topo, err := topology.New(topology.DefaultConfig())
	if err != nil {
		return err
	}
	groups := status.Groups(topo)
	if len(cfg.Status.Groups) > 0 {
		groups = nil
		for _, name := range cfg.Status.Groups {
			spec := status.GroupSpec{Name: name, Required: true}
			if g, ok := topo.Group(name); ok {
				spec.Kind, spec.Stage = g.Kind, g.Stage
			}
			groups = append(groups, spec)
		}
	}
	rep, err := status.Collect(ctx, status.Config{
		ClientOpts: cfg.security.KgoOpts(),
		Brokers:    brokers, Codecs: set, Groups: groups,
		Transactional:    []string{topology.TopicErrorRatePartials},
		Interval:         cfg.Status.Interval,
		DeadLetterWindow: cfg.Status.DeadLetterWindow,
		MaxRecords:       cfg.Status.ReadMax,
		SinkMetrics:      cfg.Status.SinkMetrics,
		Timeout:          cfg.Status.Timeout,
	})
	if errors.Is(err, status.ErrUnreachable) {
		return &exitStatus{code: 3, msg: fmt.Sprintf("logstream status: %s: %v; is a pipeline running there?", strings.Join(brokers, ","), err)}
	}
	if err != nil {
		return err
	}
	if cfg.Format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		writeStatus(stdout, rep)
	}
	if !rep.Healthy {
		return &exitStatus{code: 1}
	}
	return nil
}

// writeStatus prints the report as tables.
func writeStatus(w io.Writer, rep *status.Report) {
	fmt.Fprintf(w, "logstream status at %s UTC (lag sampled %d times over %s)\n\n",
		rep.Time.Format("2006-01-02 15:04:05"), rep.Samples, seconds(rep.IntervalSeconds))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tKIND\tSTATE\tMEMBERS\tLAG\tLAG AT START\tGROWING\tLAST COMMIT")
	for _, g := range rep.Groups {
		kind := g.Kind
		if kind == "" {
			kind = "-"
		}
		switch {
		case g.Error != "":
			fmt.Fprintf(tw, "%s\t%s\terror\t-\t-\t-\t-\t-\n", g.Group, kind)
			continue
		case !g.Known && !g.Required:
			fmt.Fprintf(tw, "%s\t%s\tnot deployed\t-\t-\t-\t-\t-\n", g.Group, kind)
			continue
		}
		growing := "no"
		if g.LagGrowing {
			growing = "YES"
		}
		last := "-"
		switch {
		case g.CommitWithinSeconds != nil:
			last = "within " + seconds(*g.CommitWithinSeconds)
		case g.NoCommitForSeconds != nil:
			last = ">" + seconds(*g.NoCommitForSeconds)
		}
		state := g.State
		if !g.Known {
			state = "unknown"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%s\t%s\n", g.Group, kind, state, len(g.Members), g.Lag, g.LagFirst, growing, last)
	}
	tw.Flush()

	fmt.Fprintln(w, "\nmembers")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tCLIENT ID\tHOST\tASSIGNED")
	n := 0
	for _, g := range rep.Groups {
		for _, m := range g.Members {
			var parts []string
			for _, t := range m.Topics() {
				parts = append(parts, t+" "+partitionList(m.Assigned[t]))
			}
			assigned := strings.Join(parts, "; ")
			if assigned == "" {
				assigned = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", g.Group, m.ClientID, m.Host, assigned)
			n++
		}
	}
	if n > 0 {
		tw.Flush()
	} else {
		fmt.Fprintln(w, "  none")
	}

	fmt.Fprintln(w, "\npartitions")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "GROUP\tTOPIC\tPARTITION\tCOMMITTED\tEND\tLAG\tMEMBER")
	for _, g := range rep.Groups {
		for _, p := range g.Partitions {
			committed, lag, member := "-", fmt.Sprint(p.Lag), p.Member
			if p.Committed != nil {
				committed = fmt.Sprint(*p.Committed)
			}
			if p.Error != "" {
				lag = "error: " + p.Error
			}
			if member == "" {
				member = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\t%s\n", g.Group, p.Topic, p.Partition, committed, p.End, lag, member)
		}
	}
	tw.Flush()

	dl := rep.DeadLetters
	fmt.Fprintf(w, "\ndead letters since %s UTC: %d", dl.Since.Format("2006-01-02 15:04:05"), dl.Read)
	if dl.Truncated {
		fmt.Fprintf(w, " read, of about %d (--read-max)", dl.InWindow)
	}
	if dl.Undecodable > 0 {
		fmt.Fprintf(w, ", %d of them no DeadLetter", dl.Undecodable)
	}
	fmt.Fprintln(w)
	if dl.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", dl.Error)
	}
	if len(dl.Reasons) > 0 {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "STAGE\tCOUNT\tLATEST (UTC)\tREASON")
		for _, r := range dl.Reasons {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", r.Stage, r.Count, r.Latest.Format("15:04:05"), clipText(r.Reason, 100))
		}
		tw.Flush()
	}

	al := rep.Alerts
	fmt.Fprintf(w, "\nopen alerts: %d (of %d alert records read", len(al.Open), al.Read)
	if al.Truncated {
		fmt.Fprint(w, "; older ones not read, --read-max")
	}
	fmt.Fprintln(w, ")")
	if al.Error != "" {
		fmt.Fprintf(w, "  error: %s\n", al.Error)
	}
	if len(al.Open) > 0 {
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SINCE (UTC)\tSCOPE\tHOST\tRULE\tKEY\tSUMMARY")
		for _, a := range al.Open {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Since.Format("2006-01-02 15:04:05"), a.Scope, a.Host, a.Rule, a.DedupKey, clipText(a.Summary, 80))
		}
		tw.Flush()
	}

	if len(rep.Sinks) > 0 {
		fmt.Fprintln(w, "\nsink breakers")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "SINK\tBREAKER\tMETRICS")
		for _, s := range rep.Sinks {
			sink, state := s.Sink, s.State
			if s.Error != "" {
				sink, state = "-", "error: "+s.Error
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", sink, state, s.URL)
		}
		tw.Flush()
	}

	fmt.Fprintln(w)
	if rep.Healthy {
		fmt.Fprintln(w, "healthy")
		return
	}
	fmt.Fprintf(w, "UNHEALTHY: %d problems\n", len(rep.Problems))
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "  - %s\n", p)
	}
}

// seconds prints a duration in seconds as 1.5s, 12s.
func seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	if d < 10*time.Second {
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// partitionList prints sorted partitions as ranges: 0-2,5.
func partitionList(ps []int32) string {
	var b strings.Builder
	for i := 0; i < len(ps); {
		j := i
		for j+1 < len(ps) && ps[j+1] == ps[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		if j > i {
			fmt.Fprintf(&b, "%d-%d", ps[i], ps[j])
		} else {
			fmt.Fprintf(&b, "%d", ps[i])
		}
		i = j + 1
	}
	return b.String()
}
