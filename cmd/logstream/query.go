package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/query"
	"github.com/logstream/logstream/topology"
)

const queryHostsLong = `Reads the errorrate stage's table (errorrate-table) and the alerter's
(alerter-table) from every partition with goka views, waits until both are
read to the end (at most --timeout), and prints the --top hosts with the
worst error rate in their current tumbling window (the one holding the
host's latest event), worst first, marking the hosts judged silent; how
far event time has come (the alerter's watermark, its lag behind the clock,
and whether the input is idle: a pipeline whose input stopped shows here,
not as host pages); then every open alert (firing or resolving).
--format json prints the JSON a running pipeline serves at
GET /query/hosts?top=N on its admin port (--admin-addr of 'logstream run' or
'logstream demo'; ?host=NAME there answers for one host, the link a page
carries). Window sizes must be the pipeline's (--window, --hop-size,
--hop-advance). Without --brokers it connects to --embedded-addr (a local
'logstream run'). Times are UTC.`

var (
	// --top is kept in Config.Max ("at most this many"), so that this
	// command needs no field of its own in Config.
	sTop = setting{name: "top", env: "LOGSTREAM_QUERY_TOP", def: fmt.Sprint(query.DefaultTop),
		usage: "how many hosts to show, worst error rate first",
		parse: intIn(1, query.MaxTop, func(c *Config, n int) { c.Max = n })}
	sQueryFormat = setting{name: "format", env: "LOGSTREAM_QUERY_FORMAT", def: "table",
		usage: "table, or json (as GET /query/hosts returns it)",
		parse: oneOf(func(c *Config, v string) { c.Format = v }, "table", "json")}
	// --timeout is kept in Config.Duration.
	sQueryTimeout = setting{name: "timeout", env: "LOGSTREAM_QUERY_TIMEOUT", def: "30s",
		usage: "how long to wait for the tables to be read before giving up",
		parse: durationIn(time.Second, time.Hour, func(c *Config, d time.Duration) { c.Duration = d })}

	queryHostsSettings = []setting{sConfig,
		withUsage(sBrokers, "Kafka bootstrap brokers, host:port,...; empty connects to --embedded-addr"),
		withUsage(sEmbeddedAddr, "address of a local 'logstream run' with its embedded broker, used when --brokers is empty"),
		sTop, sQueryFormat, sQueryTimeout,
		withUsage(sWindow, "size of the pipeline's tumbling window (its --window)"),
		withUsage(sHopSize, "size of the pipeline's hopping window (its --hop-size; 0s: none)"),
		withUsage(sHopAdvance, "advance of the pipeline's hopping window (its --hop-advance)"),
		sLogLevel, sLogFormat}
)

func runQueryHosts(ctx context.Context, cfg *Config, stdout, stderr io.Writer) error {
	er, _, err := errorRateOptions(cfg)
	if err != nil {
		return err
	}
	brokers, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	set, err := codecs.NewSet()
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	h, err := query.New(brokers, set, er.Windows, query.Options{
		Tuning: broker.Tuning{Replication: 1, Security: cfg.security}, ClientID: "logstream-query", Logger: log})
	if err != nil {
		return fmt.Errorf("cannot read the window state on %s (is a pipeline running there? 'logstream run' creates its tables): %w",
			strings.Join(brokers, ","), err)
	}
	defer h.Close()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- h.Run(rctx) }()
	defer func() {
		cancel()
		<-done
	}()
	wctx, wcancel := context.WithTimeout(ctx, cfg.Duration)
	defer wcancel()
	if err := h.WaitRecovered(wctx); err != nil {
		return fmt.Errorf("the tables were not read within --timeout %s: %w", cfg.Duration, err)
	}
	res, err := h.Top(cfg.Max)
	if err != nil {
		return err
	}
	if cfg.Format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	writeQueryTable(stdout, res, er.Windows.Tumbling, er.Windows.HoppingSize)
	return nil
}

// writeQueryTable prints the hosts, then the open alerts.
func writeQueryTable(w io.Writer, res query.Result, tumbling, hopping time.Duration) {
	if len(res.Hosts) == 0 {
		fmt.Fprintf(w, "no host has a window yet (%s holds no counted event)\n", topology.TableTopic(topology.GroupErrorRate))
	} else {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		hop := ""
		if hopping > 0 {
			hop = "\tRATE " + shortDuration(hopping)
		}
		fmt.Fprintf(tw, "HOST\tRATE %s\tEVENTS\tERRORS\tP99%s\tWINDOW (UTC)\tTOP SIGNATURE\n", shortDuration(tumbling), hop)
		for _, h := range res.Hosts {
			p99 := "-"
			if h.LatencyP99 != nil {
				p99 = fmt.Sprintf("%.0fms", *h.LatencyP99)
			}
			hop := ""
			if hopping > 0 {
				hop = "\t-"
				if h.Hopping != nil {
					hop = "\t" + percent(h.Hopping.ErrorRate)
				}
			}
			sig := h.TopSignature
			if sig == "" {
				sig = "-"
			}
			if h.Silent {
				sig += " (silent)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s%s\t%s-%s\t%s\n", h.Host, percent(h.ErrorRate), h.Events, h.Errors, p99, hop,
				utc(h.WindowStart, "2006-01-02 15:04:05"), utc(h.WindowEnd, "15:04:05"), clipText(sig, 60))
		}
		tw.Flush()
		fmt.Fprintf(w, "%d of %d hosts, worst error rate first\n", len(res.Hosts), res.TotalHosts)
	}
	if wm := res.Watermark; wm != nil {
		fmt.Fprintln(w, eventTimeLine(wm))
	}
	fmt.Fprintln(w)
	if len(res.Alerts) == 0 {
		fmt.Fprintln(w, "no open alerts")
	} else {
		fmt.Fprintf(w, "open alerts: %d\n", len(res.Alerts))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "STATE\tSCOPE\tHOST\tRULE\tSINCE (UTC)\t#\tKEY\n")
		for _, a := range res.Alerts {
			host := a.Host
			if host == "" {
				host = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", strings.ToUpper(a.State), a.Scope, host, a.Rule,
				utc(a.Since, "2006-01-02 15:04:05"), a.Number, a.Key)
		}
		tw.Flush()
	}
	if res.Undecodable > 0 {
		fmt.Fprintf(w, "\n%d table records did not decode and were skipped\n", res.Undecodable)
	}
}

func percent(r float64) string { return fmt.Sprintf("%.1f%%", 100*r) }

// eventTimeLine says how far event time has come: a pipeline that fell
// behind, or whose input stopped, shows here rather than as host pages.
func eventTimeLine(wm *query.Watermark) string {
	at := "-"
	if wm.At > 0 {
		at = utc(wm.At, "2006-01-02 15:04:05") + fmt.Sprintf(" UTC, %s behind the clock", shortDuration(time.Duration(wm.LagSeconds*float64(time.Second)).Round(time.Second)))
	}
	parts := fmt.Sprintf("errorrate partitions: %d active, %d idle, %d holding", wm.Active, wm.Idle, wm.Holding)
	switch wm.Status {
	case "idle":
		return "event time stands at " + at + ": every input is idle (no new lines), so nothing is judged and nobody is paged for silence; " + parts
	case "hold":
		return "event time stands at " + at + ": waiting to hear from a partition; " + parts
	}
	return "event time (judged up to): " + at + "; " + parts
}

func utc(ms int64, layout string) string { return time.UnixMilli(ms).UTC().Format(layout) }

// shortDuration prints 1m rather than 1m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func clipText(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
