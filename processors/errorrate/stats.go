package errorrate

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logstream/logstream/watermark"
)

// Stats are the stage's counters, for both hops.
type Stats struct {
	// The combine hop.
	In           atomic.Int64 // events read from logs.unique
	Watermarks   atomic.Int64 // watermark records read from logs.unique
	Joined       atomic.Int64 // joined error events read from logs.enriched (sample traces)
	BadSamples   atomic.Int64 // records of logs.enriched that did not decode (ignored: counted from logs.unique)
	Errors       atomic.Int64 // events counted as errors
	Future       atomic.Int64 // events far ahead of the wall clock: counted, not windowed
	BadStamps    atomic.Int64 // watermark stamps that did not parse (ignored)
	Transactions atomic.Int64 // transactions committed
	Aborted      atomic.Int64 // transactions aborted (rebalance or failed write): their records are read again
	PartialsOut  atomic.Int64 // partial records written
	DeadLetters  atomic.Int64

	// The windows hop.
	Partials      atomic.Int64 // partial records applied
	Events        atomic.Int64 // events added to a window
	Late          atomic.Int64 // events whose window had closed (older than the watermark minus the grace): counted, never added
	LateSamples   atomic.Int64 // sample traces whose window had closed
	Closed        atomic.Int64 // final window records written
	Updates       atomic.Int64 // WindowUpdate records written for the alerter
	Replayed      atomic.Int64 // replayed records recognised from state
	Suppressed    atomic.Int64 // final records the fence found already landed
	EmitsDropped  atomic.Int64 // kept records dropped by the bound before their input was known committed
	Forgotten     atomic.Int64 // hosts dropped after HostRetention without events
	Migrated      atomic.Int64 // per-host states of the previous version read in
	LegacyEvents  atomic.Int64 // events the previous version re-keyed, counted after an upgrade
	LegacySkipped atomic.Int64 // events the previous version re-keyed that were counted already (or are counted by the combine hop)

	mu  sync.Mutex
	wms map[string]map[int32]wmView // "combine"/"windows" → partition → watermark
}

type wmView struct {
	wm   int64
	kind watermark.Kind
}

func newStats() *Stats { return &Stats{wms: map[string]map[int32]wmView{}} }

// SetWatermark records a hop's watermark for a partition (metrics).
func (s *Stats) SetWatermark(hop string, partition int32, wm int64, kind watermark.Kind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.wms[hop]
	if m == nil {
		m = map[int32]wmView{}
		s.wms[hop] = m
	}
	m[partition] = wmView{wm, kind}
}

// ResetWatermarks forgets a hop's partitions (a rebalance may have moved
// them away; the next records fill it again).
func (s *Stats) ResetWatermarks(hop string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.wms, hop)
}

// Watermark returns the lowest watermark over a hop's partitions whose
// status is time, and how many partitions are in each status.
func (s *Stats) Watermark(hop string) (low int64, active, idle, holding int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.wms[hop] {
		switch v.kind {
		case watermark.Time:
			if active == 0 || v.wm < low {
				low = v.wm
			}
			active++
		case watermark.Idle:
			idle++
		default:
			holding++
		}
	}
	return low, active, idle, holding
}

// Collectors returns the stage's Prometheus metrics.
func (s *Stats) Collectors() []prometheus.Collector {
	c := func(name, help string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "logstream_errorrate_" + name, Help: help},
			func() float64 { return float64(v.Load()) })
	}
	out := []prometheus.Collector{
		c("input_records_total", "Events read from logs.unique.", &s.In),
		c("watermark_records_total", "Watermark records read from logs.unique.", &s.Watermarks),
		c("joined_samples_total", "Joined error events read from logs.enriched as sample traces.", &s.Joined),
		c("bad_samples_total", "Records of logs.enriched that did not decode (the events are counted from logs.unique).", &s.BadSamples),
		c("errors_total", "Events counted as errors.", &s.Errors),
		c("future_events_total", "Events too far ahead of the wall clock; counted, not windowed, and they never move the watermark.", &s.Future),
		c("bad_stamps_total", "Watermark stamps that did not parse (ignored).", &s.BadStamps),
		c("transactions_total", "Transactions the combine hop committed.", &s.Transactions),
		c("aborted_transactions_total", "Transactions the combine hop aborted (rebalance or failed write); their records are counted again.", &s.Aborted),
		c("partials_written_total", "Partial-count records the combine hop wrote.", &s.PartialsOut),
		c("partials_total", "Partial-count records applied to the windows.", &s.Partials),
		c("events_total", "Events added to a window.", &s.Events),
		c("late_events_total", "Events older than the watermark minus the grace (their window had closed); counted, never added.", &s.Late),
		c("late_samples_total", "Sample traces whose window had closed.", &s.LateSamples),
		c("windows_closed_total", "Final window records written to hosts.error-rate.", &s.Closed),
		c("updates_total", "WindowUpdate records written for the alerter.", &s.Updates),
		c("replayed_total", "Replayed records recognised from state.", &s.Replayed),
		c("suppressed_total", "Final records not written again because they had landed.", &s.Suppressed),
		c("emits_dropped_total", "Records kept for replays dropped by their bound before their input was known committed.", &s.EmitsDropped),
		c("hosts_forgotten_total", "Hosts whose state was dropped after a day without events.", &s.Forgotten),
		c("migrated_hosts_total", "Per-host states of the previous version read in at upgrade.", &s.Migrated),
		c("legacy_events_total", "Events re-keyed by the previous version, counted after an upgrade.", &s.LegacyEvents),
		c("legacy_skipped_total", "Events re-keyed by the previous version that were already counted.", &s.LegacySkipped),
		c("dead_letters_total", "Records sent to the dead-letter topic.", &s.DeadLetters),
	}
	for _, hop := range []string{"combine", "windows"} {
		hop := hop
		out = append(out,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "logstream_errorrate_watermark_seconds", ConstLabels: prometheus.Labels{"hop": hop},
				Help: "Lowest watermark (event time, seconds since the epoch) over this pod's partitions of the hop whose watermark moves; 0 when none."},
				func() float64 { low, _, _, _ := s.Watermark(hop); return float64(low) / 1000 }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "logstream_errorrate_watermark_idle_partitions", ConstLabels: prometheus.Labels{"hop": hop},
				Help: "Partitions of the hop on this pod whose every input is idle (the watermark stands; a pipeline whose input stopped shows here)."},
				func() float64 { _, _, idle, _ := s.Watermark(hop); return float64(idle) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "logstream_errorrate_watermark_holding_partitions", ConstLabels: prometheus.Labels{"hop": hop},
				Help: "Partitions of the hop on this pod waiting for an input to be heard (the watermark stands)."},
				func() float64 { _, _, _, h := s.Watermark(hop); return float64(h) }),
		)
	}
	return out
}
