package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/logstream/logstream/pipeline"
	"github.com/logstream/logstream/processors/alerter"
	"github.com/logstream/logstream/processors/errorrate"
)

// alertSettings are the errorrate stage's windows and the alerter's rules.
type alertSettings struct {
	Rules          string
	Window         time.Duration
	HopSize        time.Duration
	HopAdvance     time.Duration
	Grace          time.Duration
	UpdateInterval time.Duration
	SilentAfter    time.Duration
	IdleTimeout    time.Duration
	EmitUpdates    bool
	FailurePattern string
}

var (
	sRules = setting{name: "rules", env: "LOGSTREAM_RULES", usage: "YAML file of alert rules (empty: the built-in defaults; 'logstream rules' prints them)",
		parse: func(c *Config, v string) error {
			if _, err := alerter.LoadRules(v); err != nil {
				return err
			}
			c.Alerting.Rules = v
			return nil
		}}
	sWindow = setting{name: "window", env: "LOGSTREAM_WINDOW", def: "1m", usage: "size of the per-host tumbling error-rate window (event time)",
		parse: durationIn(time.Second, 24*time.Hour, func(c *Config, d time.Duration) { c.Alerting.Window = d })}
	sHopSize = setting{name: "hop-size", env: "LOGSTREAM_HOP_SIZE", def: "5m", usage: "size of the per-host hopping window (0s: none)",
		parse: durationIn(0, 24*time.Hour, func(c *Config, d time.Duration) { c.Alerting.HopSize = d })}
	sHopAdvance = setting{name: "hop-advance", env: "LOGSTREAM_HOP_ADVANCE", def: "1m", usage: "how far the hopping window advances",
		parse: durationIn(time.Second, 24*time.Hour, func(c *Config, d time.Duration) { c.Alerting.HopAdvance = d })}
	sGrace = setting{name: "grace", env: "LOGSTREAM_GRACE", def: "30s", usage: "how long (event time) a window stays open for out-of-order events after its end; later events are counted as late and dropped",
		parse: durationIn(0, 24*time.Hour, func(c *Config, d time.Duration) { c.Alerting.Grace = d })}
	sUpdateInterval = setting{name: "update-interval", env: "LOGSTREAM_UPDATE_INTERVAL", def: "1s", usage: "event time between two updates of a host's open window to the alerter",
		parse: durationIn(time.Millisecond, time.Hour, func(c *Config, d time.Duration) { c.Alerting.UpdateInterval = d })}
	sSilentAfter = setting{name: "silent-after", env: "LOGSTREAM_SILENT_AFTER", usage: "a host with steady traffic that sends nothing while the fleet's watermark moves on this far (event time) raises host_silent; empty: the rules file's host_silent.after (2m)",
		parse: func(c *Config, v string) error {
			if strings.TrimSpace(v) == "" {
				c.Alerting.SilentAfter = 0
				return nil
			}
			return durationIn(time.Second, 7*24*time.Hour, func(c *Config, d time.Duration) { c.Alerting.SilentAfter = d })(c, v)
		}}
	sIdleTimeout = setting{name: "idle-timeout", env: "LOGSTREAM_IDLE_TIMEOUT", def: "5s", usage: "a partition of logs.raw that is caught up and gets no record for this long (wall clock) stops holding event time back; when every one is idle, event time stands still",
		parse: durationIn(100*time.Millisecond, time.Hour, func(c *Config, d time.Duration) { c.Alerting.IdleTimeout = d })}
	sEmitUpdates = boolSetting("emit-updates", "LOGSTREAM_EMIT_UPDATES", "write every window update to hosts.error-rate, not only each window's final result",
		func(c *Config, b bool) { c.Alerting.EmitUpdates = b })
	sFailurePattern = setting{name: "failure-pattern", env: "LOGSTREAM_FAILURE_PATTERN", def: errorrate.DefaultFailurePattern,
		usage: "regular expression (case-insensitive) of messages that count as errors whatever their level, e.g. timeouts; empty: none",
		parse: func(c *Config, v string) error {
			if _, err := errorrate.NewClassifier(v); err != nil {
				return err
			}
			c.Alerting.FailurePattern = v
			return nil
		}}

	alertingSettings = []setting{sRules, sWindow, sHopSize, sHopAdvance, sGrace, sUpdateInterval, sSilentAfter, sIdleTimeout, sEmitUpdates, sFailurePattern}
)

// errorRateOptions maps the settings to the pipeline's.
func errorRateOptions(cfg *Config) (pipeline.ErrorRateOptions, *alerter.Rules, error) {
	a := cfg.Alerting
	w := errorrate.Windows{Tumbling: a.Window, HoppingSize: a.HopSize, HoppingAdvance: a.HopAdvance, Grace: a.Grace}
	if a.HopSize == 0 {
		w.HoppingAdvance = 0
	}
	if err := w.Validate(); err != nil {
		return pipeline.ErrorRateOptions{}, nil, usagef("logstream: invalid window settings: %v", err)
	}
	rules, err := alerter.LoadRules(a.Rules)
	if err != nil {
		return pipeline.ErrorRateOptions{}, nil, err
	}
	if a.SilentAfter > 0 {
		rules.HostSilent.After = a.SilentAfter
	}
	pattern := a.FailurePattern
	return pipeline.ErrorRateOptions{Windows: w, UpdateInterval: a.UpdateInterval, EmitUpdates: a.EmitUpdates,
		FailurePattern: &pattern, MaxFuture: cfg.MaxFuture}, &rules, nil
}

// printRules prints the default rules file, or the --rules file as read
// (defaults filled in), after checking it.
func printRules(cfg *Config, w io.Writer) error {
	if cfg.Alerting.Rules == "" {
		_, err := fmt.Fprint(w, alerter.DefaultRulesYAML)
		return err
	}
	r, err := alerter.LoadRules(cfg.Alerting.Rules)
	if err != nil {
		return err
	}
	b, err := yaml.Marshal(r)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
