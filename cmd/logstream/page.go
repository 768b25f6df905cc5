package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/logstream/logstream/admin"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/paging"
	"github.com/logstream/logstream/query"
)

// pageSettings are the targets of `logstream page`.
type pageSettings struct {
	AlertmanagerURL    string
	AlertmanagerResend time.Duration
	GeneratorURL       string // base URL of the pipeline's admin port
	RunbookURL         string // a paging.URLTemplate
	PagerDutyURL       string
	PagerDutyKey       string
	WebhookURL         string
	RetryMax           time.Duration
}

const pageLong = `Reads the alerts topic as consumer group "page" and delivers every alert,
in order, to each target configured: Prometheus Alertmanager
(--alertmanager-url, API v2), PagerDuty (--pagerduty-routing-key, Events
API v2) and a JSON webhook (--webhook-url). At least one is required.

A record's offset is committed only after every target accepted it (and
page-table, below, recorded it), so each alert is delivered at least once; a repeat after a restart is harmless
(Alertmanager identifies the alert by its labels, PagerDuty by dedup_key,
the webhook gets the alert's id as Idempotency-Key). Network errors, 408,
429 and 5xx answers are retried with exponential backoff and jitter, from
200ms up to --retry-max between attempts, until they succeed: while a target
is down, later alerts wait. Any other 4xx answer means the target refused
the alert for good: it is logged at error level, counted in
logstream_page_deliveries_total{result="permanent"}, and skipped. Records
that are not valid Alerts are logged and written to logs.dlq. Without
--brokers it connects to --embedded-addr (a local 'logstream run').
SIGINT or SIGTERM stops it; an alert in delivery then stays uncommitted and
is delivered again at the next start.

Alertmanager forgets an alert at its endsAt, as it does Prometheus's: each
FIRING alert is posted with endsAt 4 × --alertmanager-resend ahead and
posted again every --alertmanager-resend while its incident is open, so
that it stays active until its RESOLVED record ends it (endsAt = the
resolve time). Re-sends pause while the alerter's consumer group has no
member: when the pipeline stops, its alerts expire within 4 ×
--alertmanager-resend instead of staying active. The open incidents are
kept in the compacted topic page-table (created when missing), written
before each offset commit, so that after a restart or a rebalance the
member that owns a partition goes on re-sending them.

--generator-url links each alert to the pipeline's admin query of its host
(<url>/query/hosts?host=<host>); --runbook-url adds a runbook_url
annotation.`

var (
	sAlertmanagerURL = setting{name: "alertmanager-url", env: "LOGSTREAM_ALERTMANAGER_URL",
		usage: "Prometheus Alertmanager base URL (e.g. http://alertmanager:9093); alerts are posted to its /api/v2/alerts",
		parse: httpURL(func(c *Config, v string) { c.Page.AlertmanagerURL = v })}
	// The default is paging.DefaultResendInterval, spelled for --help.
	sAlertmanagerResend = setting{name: "alertmanager-resend", env: "LOGSTREAM_ALERTMANAGER_RESEND", def: "1m",
		usage: "how often an open FIRING alert is posted to Alertmanager again; each post sets its endsAt 4 times this far ahead, so a stopped pipeline's alerts expire within that",
		parse: durationIn(time.Second, time.Hour, func(c *Config, d time.Duration) { c.Page.AlertmanagerResend = d })}
	sGeneratorURL = setting{name: "generator-url", env: "LOGSTREAM_GENERATOR_URL",
		usage: "base URL of the pipeline's admin port as people reach it (e.g. http://logstream:9464); each Alertmanager alert then links to " + query.Path + "?host=<its host> there (generatorURL). Empty: no link",
		parse: func(c *Config, v string) error {
			v = strings.TrimRight(strings.TrimSpace(v), "/")
			if v != "" {
				u, err := url.Parse(v)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
					return fmt.Errorf("%q is not an http(s) base URL without query or fragment", v)
				}
				if _, err := paging.ParseURLTemplate(generatorURL(v)); err != nil {
					return errors.New(strings.TrimPrefix(err.Error(), "paging: "))
				}
			}
			c.Page.GeneratorURL = v
			return nil
		}}
	sRunbookURL = setting{name: "runbook-url", env: "LOGSTREAM_RUNBOOK_URL",
		usage: "runbook_url annotation of each Alertmanager alert: a URL, where {rule}, {host}, {scope} and {dedup_key} stand for the alert's (e.g. https://wiki.example/runbooks/{rule}). Empty: none",
		parse: func(c *Config, v string) error {
			v = strings.TrimSpace(v)
			if _, err := paging.ParseURLTemplate(v); err != nil {
				return errors.New(strings.TrimPrefix(err.Error(), "paging: "))
			}
			c.Page.RunbookURL = v
			return nil
		}}
	sPagerDutyURL = setting{name: "pagerduty-url", env: "LOGSTREAM_PAGERDUTY_URL", def: paging.DefaultPagerDutyURL,
		usage: "PagerDuty Events API base URL; events go to its /v2/enqueue (used with --pagerduty-routing-key)",
		parse: httpURL(func(c *Config, v string) { c.Page.PagerDutyURL = v })}
	sPagerDutyKey = setting{name: "pagerduty-routing-key", env: "LOGSTREAM_PAGERDUTY_ROUTING_KEY", secret: true,
		usage: "integration key of a PagerDuty Events API v2 integration; enables PagerDuty",
		parse: func(c *Config, v string) error { c.Page.PagerDutyKey = strings.TrimSpace(v); return nil }}
	// Chat and incident webhooks carry their token in the URL, so the URL
	// is treated as a secret.
	sWebhookURL = setting{name: "webhook-url", env: "LOGSTREAM_WEBHOOK_URL", secret: true,
		usage: "URL that receives each alert as a JSON POST, with header Idempotency-Key: the alert's id",
		parse: httpURL(func(c *Config, v string) { c.Page.WebhookURL = v })}
	sRetryMax = setting{name: "retry-max", env: "LOGSTREAM_PAGE_RETRY_MAX", def: "30s",
		usage: "longest wait between two attempts of a failed delivery; waits start at 200ms and double, with jitter",
		parse: durationIn(paging.DefaultRetryInitial, time.Hour, func(c *Config, d time.Duration) { c.Page.RetryMax = d })}

	pageSettingsList = []setting{sConfig,
		withUsage(sBrokers, "Kafka bootstrap brokers, host:port,...; empty connects to --embedded-addr"),
		withUsage(sEmbeddedAddr, "address of a local 'logstream run' with its embedded broker, used when --brokers is empty"),
		sAlertmanagerURL, sAlertmanagerResend, sGeneratorURL, sRunbookURL, sPagerDutyKey, sPagerDutyURL, sWebhookURL, sRetryMax,
		sRegistry,
		withUsage(sAdminAddr, "address of the admin port (/metrics, /healthz, /readyz; /debug/pprof/ with --pprof); empty disables it. 'logstream run' has the same default: change one when both run on one machine"),
		sPprof, sLogLevel, sLogFormat}
)

// httpURL parses an optional http(s) URL setting.
func httpURL(set func(*Config, string)) func(*Config, string) error {
	return func(c *Config, v string) error {
		v = strings.TrimSpace(v)
		if v != "" {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("%q is not an http(s) URL", v)
			}
		}
		set(c, v)
		return nil
	}
}

// pageTargets builds the notifiers the settings configure.
func pageTargets(cfg *Config, m *paging.Metrics, log zerolog.Logger) ([]paging.Target, error) {
	p := cfg.Page
	retry := func(target string) paging.HTTP {
		return paging.HTTP{Retry: paging.Retry{Max: p.RetryMax, OnRetry: m.RetryHook(target, log)}}
	}
	var targets []paging.Target
	switch {
	case p.AlertmanagerURL != "":
		n, err := paging.NewAlertmanager(paging.AlertmanagerConfig{
			URL:          p.AlertmanagerURL,
			GeneratorURL: generatorURL(p.GeneratorURL),
			RunbookURL:   p.RunbookURL,
			FiringFor:    paging.ResendsPerFiringFor * p.AlertmanagerResend,
			HTTP:         retry(paging.TargetAlertmanager),
		})
		if err != nil {
			return nil, usagef("logstream page: invalid setting alertmanager-url: %v", err)
		}
		targets = append(targets, paging.Target{Name: paging.TargetAlertmanager, Notifier: n})
	case p.GeneratorURL != "" || p.RunbookURL != "" || p.AlertmanagerResend != paging.DefaultResendInterval:
		return nil, usagef("logstream page: invalid setting %s: it applies to Alertmanager, and no --alertmanager-url ($%s) enables it",
			alertmanagerOnly(p), sAlertmanagerURL.env)
	}
	switch {
	case p.PagerDutyKey != "":
		n, err := paging.NewPagerDuty(paging.PagerDutyConfig{URL: p.PagerDutyURL, RoutingKey: p.PagerDutyKey, HTTP: retry(paging.TargetPagerDuty)})
		if err != nil {
			return nil, usagef("logstream page: invalid setting pagerduty-routing-key: %v", err)
		}
		targets = append(targets, paging.Target{Name: paging.TargetPagerDuty, Notifier: n})
	case p.PagerDutyURL != paging.DefaultPagerDutyURL:
		return nil, usagef("logstream page: invalid setting pagerduty-url: set, but no --pagerduty-routing-key ($%s) enables PagerDuty", sPagerDutyKey.env)
	}
	if p.WebhookURL != "" {
		n, err := paging.NewWebhook(paging.WebhookConfig{URL: p.WebhookURL, HTTP: retry(paging.TargetWebhook)})
		if err != nil {
			return nil, usagef("logstream page: invalid setting webhook-url: %v", err)
		}
		targets = append(targets, paging.Target{Name: paging.TargetWebhook, Notifier: n})
	}
	if len(targets) == 0 {
		return nil, usagef("logstream page: no target to deliver alerts to: set at least one of --alertmanager-url ($%s), --pagerduty-routing-key ($%s), --webhook-url ($%s)",
			sAlertmanagerURL.env, sPagerDutyKey.env, sWebhookURL.env)
	}
	return targets, nil
}

// generatorURL is the link of an alert to the admin query of its host;
// a fleet-wide alert has no host, and "host=" queries every host.
func generatorURL(base string) string {
	if base == "" {
		return ""
	}
	return base + query.Path + "?host={host}"
}

// alertmanagerOnly names the first Alertmanager setting that is set.
func alertmanagerOnly(p pageSettings) string {
	switch {
	case p.GeneratorURL != "":
		return sGeneratorURL.name
	case p.RunbookURL != "":
		return sRunbookURL.name
	}
	return sAlertmanagerResend.name
}

func runPage(ctx context.Context, cfg *Config, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	m := paging.NewMetrics()
	targets, err := pageTargets(cfg, m, log)
	if err != nil {
		return err
	}
	brokers, err := connect(ctx, cfg)
	if err != nil {
		return err
	}
	opts, err := codecOptions(cfg)
	if err != nil {
		return err
	}
	set, err := codecs.NewSet(opts...)
	if err != nil {
		return err
	}
	c, err := paging.NewConsumer(paging.ConsumerConfig{
		Brokers:   brokers,
		KafkaOpts: cfg.security.KgoOpts(),
		Codecs:    set,
		Targets:   targets,
		Logger:    log,
		Metrics:   m,
		Retry:     paging.Retry{Max: cfg.Page.RetryMax},
		// Used only when a target takes re-sends (Alertmanager).
		ResendInterval: cfg.Page.AlertmanagerResend,
	})
	if err != nil {
		return err
	}
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.Name
	}
	log.Info().Strs("brokers", brokers).Strs("targets", names).Msg("paging")

	eg, ctx := errgroup.WithContext(ctx)
	if cfg.AdminAddr != "" {
		reg := admin.NewRegistry()
		reg.MustRegister(admin.ReadyGauge(c.Ready))
		if err := m.Register(reg); err != nil {
			return err
		}
		srv, err := admin.Listen(cfg.AdminAddr, reg, c.Ready, adminOptions(cfg))
		if err != nil {
			return err
		}
		log.Info().Str("addr", srv.Addr()).Strs("endpoints", srv.Endpoints()).Msg("admin port")
		eg.Go(func() error { return srv.Run(ctx) })
	}
	eg.Go(func() error {
		err := c.Run(ctx)
		if err == nil {
			// Stop the admin port too when the consumer ends.
			err = context.Canceled
		}
		return err
	})
	if err := eg.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
