package errorrate

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logstream/logstream/state"
)

// Stats are the stage's counters.
type Stats struct {
	In          atomic.Int64 // events read from logs.unique
	Joined      atomic.Int64 // joined error events read from logs.enriched (sample traces)
	BadSamples  atomic.Int64 // records of logs.enriched that did not decode (ignored: counted from logs.unique)
	LateSamples atomic.Int64 // joined error events whose window had closed
	Events      atomic.Int64 // events counted in a window (not late, not future)
	Errors      atomic.Int64 // of which errors
	Late        atomic.Int64 // events after their window closed: counted here, never added
	Future      atomic.Int64 // events far ahead of the wall clock or the host's stream time
	Closed      atomic.Int64 // final window records written
	Updates     atomic.Int64 // update records written
	Silent      atomic.Int64 // silent-host records written
	Timers      atomic.Int64
	Replayed    atomic.Int64 // replayed records recognised from state
	Relooped    atomic.Int64 // events re-keyed twice (a crash upstream), recognised by source offset
	Suppressed  atomic.Int64 // final records the fence found already landed
	Deleted     atomic.Int64 // host states deleted after HostRetention
	DeadLetters atomic.Int64

	entries state.Entries
}

func newStats() *Stats { return &Stats{} }

// SetEntries records a partition's number of stored hosts (the sweeper's count).
func (s *Stats) SetEntries(partition int32, n int) { s.entries.Set(partition, n) }

// Entries returns the hosts counted by the last sweep of each partition.
func (s *Stats) Entries() int { return s.entries.Total() }

// Collectors returns the stage's Prometheus metrics.
func (s *Stats) Collectors() []prometheus.Collector {
	c := func(name, help string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "logstream_errorrate_" + name, Help: help},
			func() float64 { return float64(v.Load()) })
	}
	return []prometheus.Collector{
		c("input_records_total", "Events read from logs.unique.", &s.In),
		c("joined_samples_total", "Joined error events read from logs.enriched as sample traces.", &s.Joined),
		c("late_samples_total", "Joined error events whose window had closed; the event itself was counted.", &s.LateSamples),
		c("bad_samples_total", "Records of logs.enriched that did not decode (the events are counted from logs.unique).", &s.BadSamples),
		c("events_total", "Events counted in a window.", &s.Events),
		c("errors_total", "Events counted as errors.", &s.Errors),
		c("late_events_total", "Events that came after their window closed (past the grace period); counted, never added to a closed window.", &s.Late),
		c("future_events_total", "Events too far ahead of the wall clock or the host's stream time; counted, not windowed.", &s.Future),
		c("windows_closed_total", "Final window records written to hosts.error-rate.", &s.Closed),
		c("updates_total", "Window updates written for the alerter.", &s.Updates),
		c("silent_hosts_total", "Silent-host records written.", &s.Silent),
		c("timers_total", "Wall-clock punctuation timers received.", &s.Timers),
		c("replayed_total", "Replayed records recognised from state.", &s.Replayed),
		c("relooped_total", "Events re-keyed twice after a crash, recognised by their source offset and counted once.", &s.Relooped),
		c("suppressed_total", "Final records not written again because they had landed.", &s.Suppressed),
		c("dead_letters_total", "Records sent to the dead-letter topic.", &s.DeadLetters),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "logstream_errorrate_state_entries", Help: "Hosts in the errorrate state of this pod's partitions."},
			func() float64 { return float64(s.Entries()) }),
	}
}
