package alerter

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logstream/logstream/schemas"
)

// Stats are the stage's counters.
type Stats struct {
	Updates     atomic.Int64 // window updates applied
	Duplicates  atomic.Int64 // updates with a version already seen (replays upstream)
	Replayed    atomic.Int64 // replayed records recognised from state
	Suppressed  atomic.Int64 // alerts not written again because they had landed
	Cancelled   atomic.Int64 // pending incidents whose condition went away before "for"
	Firing      atomic.Int64 // FIRING alerts written
	Resolved    atomic.Int64 // RESOLVED alerts written
	DeadLetters atomic.Int64

	latency prometheus.Histogram
	mu      sync.Mutex
	alerts  []schemas.Alert // written by this pod, for the demo's summary
}

func newStats() *Stats {
	return &Stats{latency: prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "logstream_alerter_alert_latency_seconds",
		Help:    "Processing time from the window update that decided an alert being written to the alert being written.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
	})}
}

func (s *Stats) alert(al *schemas.Alert, trigger time.Time) {
	if al.State == schemas.AlertFiring {
		s.Firing.Add(1)
	} else {
		s.Resolved.Add(1)
	}
	if !trigger.IsZero() {
		s.latency.Observe(time.Since(trigger).Seconds())
	}
	s.mu.Lock()
	s.alerts = append(s.alerts, *al)
	s.mu.Unlock()
}

// Alerts returns the alerts this pod wrote, in order.
func (s *Stats) Alerts() []schemas.Alert {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]schemas.Alert(nil), s.alerts...)
}

// Collectors returns the stage's Prometheus metrics.
func (s *Stats) Collectors() []prometheus.Collector {
	c := func(name, help string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "logstream_alerter_" + name, Help: help},
			func() float64 { return float64(v.Load()) })
	}
	return []prometheus.Collector{
		c("updates_total", "Window updates applied.", &s.Updates),
		c("duplicate_updates_total", "Window updates ignored because their version was seen.", &s.Duplicates),
		c("replayed_total", "Replayed records recognised from state.", &s.Replayed),
		c("suppressed_total", "Alerts not written again because they had landed.", &s.Suppressed),
		c("cancelled_total", "Pending incidents whose condition cleared before their 'for' duration.", &s.Cancelled),
		c("firing_total", "FIRING alerts written.", &s.Firing),
		c("resolved_total", "RESOLVED alerts written.", &s.Resolved),
		c("dead_letters_total", "Records sent to the dead-letter topic.", &s.DeadLetters),
		s.latency,
	}
}
