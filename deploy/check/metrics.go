package main

import (
	"regexp"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logstream/logstream/admin"
	"github.com/logstream/logstream/paging"
	"github.com/logstream/logstream/processors/alerter"
	"github.com/logstream/logstream/processors/dedupe"
	"github.com/logstream/logstream/processors/errorrate"
	"github.com/logstream/logstream/processors/parse"
	"github.com/logstream/logstream/processors/spans"
	"github.com/logstream/logstream/processors/tracejoin"
	"github.com/logstream/logstream/sinks"
	"github.com/logstream/logstream/sinks/openobserve"
	"github.com/logstream/logstream/sinks/s3"
)

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// ExportedMetrics returns the names of the metrics the binary's commands
// register (run's stages, the lag and readiness collectors, page, the
// sinks), asked of the collectors themselves, so that an alert rule on a
// misspelt or renamed metric fails the check.
func ExportedMetrics() map[string]bool {
	cs := []prometheus.Collector{
		(&parse.Stats{}).Collector(), (&spans.Stats{}).Collector(), (&dedupe.Stats{}).Collector(), (&tracejoin.Stats{}).Collector(),
		admin.NewLagCollector(nil), admin.ReadyGauge(nil),
	}
	cs = append(cs, (&errorrate.Stats{}).Collectors()...)
	cs = append(cs, (&alerter.Stats{}).Collectors()...)
	cs = append(cs, sinks.NewMetrics().Collectors()...)
	cs = append(cs, s3.NewMetrics().Collectors()...)
	cs = append(cs, openobserve.NewMetrics().Collectors()...)
	cs = append(cs, paging.NewMetrics().Collectors()...)
	names := map[string]bool{}
	add := func(d *prometheus.Desc) {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			names[m[1]] = true
		}
	}
	for _, c := range cs {
		describe(c, add)
	}
	return names
}

// describe reports a collector's descriptions, and those of the metrics it
// collects (some collectors describe nothing up front); a collector that
// needs its stage's constructor (a nil histogram inside) is skipped.
func describe(c prometheus.Collector, add func(*prometheus.Desc)) {
	defer func() { _ = recover() }()
	descs := make(chan *prometheus.Desc, 256)
	c.Describe(descs)
	close(descs)
	for d := range descs {
		add(d)
	}
	ms := make(chan prometheus.Metric, 256)
	c.Collect(ms)
	close(ms)
	for m := range ms {
		add(m.Desc())
	}
}
