package alerter

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/watermark"
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
	Ticks       atomic.Int64 // ticks of event time judged
	LateTicks   atomic.Int64 // counts that came after their tick was judged (within the grace)
	// LegacyUpdates are HostWindows the previous version's errorrate
	// wrote, read after an upgrade.
	LegacyUpdates atomic.Int64

	wm     atomic.Int64 // the fleet's watermark (ms)
	wmKind atomic.Int32

	latency prometheus.Histogram
	mu      sync.Mutex
	alerts  []schemas.Alert // written by this pod, for the demo's summary
}

func newStats() *Stats {
	return &Stats{latency: prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "logstream_alerter_alert_latency_seconds",
		Help:    "Processing time from the window update that let the fleet's watermark pass the deciding tick being written to the alert being written.",
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

func (s *Stats) setWatermark(wm int64, k watermark.Kind) {
	s.wm.Store(wm)
	s.wmKind.Store(int32(k))
}

// Watermark returns the fleet's watermark as this pod last computed it,
// and its status.
func (s *Stats) Watermark() (int64, watermark.Kind) {
	return s.wm.Load(), watermark.Kind(s.wmKind.Load())
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
		c("ticks_total", "Ticks of event time judged (every rule, every host).", &s.Ticks),
		c("late_ticks_total", "Counts that came after their tick was judged (within the grace): they count for the windows from then on.", &s.LateTicks),
		c("legacy_updates_total", "HostWindow updates of the previous version read after an upgrade.", &s.LegacyUpdates),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "logstream_alerter_watermark_seconds",
			Help: "The fleet's watermark (event time, seconds since the epoch): every tick before it is judged."},
			func() float64 { return float64(s.wm.Load()) / 1000 }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "logstream_alerter_watermark_lag_seconds",
			Help: "Wall clock minus the fleet's watermark: grows when the pipeline falls behind or its input stops (then nothing is judged, and nobody is paged for silence)."},
			func() float64 {
				if wm := s.wm.Load(); wm > 0 {
					return time.Since(time.UnixMilli(wm)).Seconds()
				}
				return 0
			}),
		s.latency,
	}
}
