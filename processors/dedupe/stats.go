package dedupe

import (
	"sync/atomic"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/logstream/logstream/state"

	"github.com/logstream/logstream/schemas"
)

// Stats are the stage's counters.
type Stats struct {
	In             atomic.Int64 // events read (input and rerouted)
	Unique         atomic.Int64 // first occurrences emitted to logs.unique
	Duplicates     atomic.Int64 // repeats dropped
	Replayed       atomic.Int64 // replayed records recognised from state
	Suppressed     atomic.Int64 // emits the fence found already landed
	Rerouted       atomic.Int64 // events sent through the loop to their id's partition
	Expired        atomic.Int64 // ids deleted after their TTL
	ExpiryDeferred atomic.Int64 // expiries postponed until their records are committed
	Timers         atomic.Int64 // expiry timers of the previous version received
	Visited        atomic.Int64 // ids visited by sweeps
	Future         atomic.Int64 // events from the far future
	Late           atomic.Int64 // events older than the watermark minus the TTL
	Watermarks     atomic.Int64 // watermark records passed on or written
	BadStamps      atomic.Int64 // watermark stamps that did not parse (ignored)
	DeadLetters    atomic.Int64

	entries state.Entries
	cache   *ristretto.Cache[string, schemas.DedupeState]
}

func newStats() *Stats { return &Stats{} }

// SetEntries records a partition's number of stored keys (the sweeper's count).
func (s *Stats) SetEntries(partition int32, n int) { s.entries.Set(partition, n) }

// Entries returns the stored keys counted by the last sweep of each partition.
func (s *Stats) Entries() int { return s.entries.Total() }

// CacheHitRatio returns the hot-id cache's hit ratio (0 without a cache).
func (s *Stats) CacheHitRatio() float64 {
	if s.cache == nil || s.cache.Metrics == nil {
		return 0
	}
	return s.cache.Metrics.Ratio()
}

// Snapshot is a plain copy of the counters.
type Snapshot struct {
	In, Unique, Duplicates, Replayed, Suppressed, Rerouted     int64
	Expired, ExpiryDeferred, Timers, Future, Late, DeadLetters int64
	Watermarks, Visited                                        int64
	Entries                                                    int
	CacheHitRatio                                              float64
}

// Snapshot copies the counters.
func (s *Stats) Snapshot() Snapshot {
	return Snapshot{
		In: s.In.Load(), Unique: s.Unique.Load(), Duplicates: s.Duplicates.Load(), Replayed: s.Replayed.Load(),
		Suppressed: s.Suppressed.Load(), Rerouted: s.Rerouted.Load(), Expired: s.Expired.Load(),
		ExpiryDeferred: s.ExpiryDeferred.Load(), Timers: s.Timers.Load(), Future: s.Future.Load(), Late: s.Late.Load(),
		DeadLetters: s.DeadLetters.Load(), Watermarks: s.Watermarks.Load(), Visited: s.Visited.Load(), Entries: s.Entries(), CacheHitRatio: s.CacheHitRatio(),
	}
}

var (
	descRecords = prometheus.NewDesc("logstream_dedupe_records_total", "Dedupe stage records by outcome: in, unique, duplicate, replayed, suppressed (output already landed), rerouted, dead_letter.", []string{"outcome"}, nil)
	descExpiry  = prometheus.NewDesc("logstream_dedupe_expiry_total", "Expiry of ids: ids visited by sweeps, timer records of the previous version received, ids deleted (expired), deletions deferred until committed.", []string{"outcome"}, nil)
	descTime    = prometheus.NewDesc("logstream_dedupe_event_time_total", "Events out of normal event-time order: future (ahead by more than max-future), late (older than stream time minus the TTL).", []string{"kind"}, nil)
	descEntries = prometheus.NewDesc("logstream_dedupe_state_entries", "Event ids held in the dedupe table on this pod (counted at the last sweep).", nil, nil)
	descHit     = prometheus.NewDesc("logstream_dedupe_cache_hit_ratio", "Hit ratio of the hot-id cache in front of the dedupe table.", nil, nil)
)

// Collector exposes Stats as Prometheus metrics.
func (s *Stats) Collector() prometheus.Collector { return collector{s} }

type collector struct{ s *Stats }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRecords, descExpiry, descTime, descEntries, descHit} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	v := c.s.Snapshot()
	counter := func(d *prometheus.Desc, n int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(n), labels...)
	}
	counter(descRecords, v.In, "in")
	counter(descRecords, v.Unique, "unique")
	counter(descRecords, v.Duplicates, "duplicate")
	counter(descRecords, v.Replayed, "replayed")
	counter(descRecords, v.Suppressed, "suppressed")
	counter(descRecords, v.Rerouted, "rerouted")
	counter(descRecords, v.DeadLetters, "dead_letter")
	counter(descExpiry, v.Visited, "visited")
	counter(descExpiry, v.Timers, "timer")
	counter(descExpiry, v.Expired, "expired")
	counter(descExpiry, v.ExpiryDeferred, "deferred")
	counter(descTime, v.Future, "future")
	counter(descTime, v.Late, "late")
	ch <- prometheus.MustNewConstMetric(descEntries, prometheus.GaugeValue, float64(v.Entries))
	ch <- prometheus.MustNewConstMetric(descHit, prometheus.GaugeValue, v.CacheHitRatio)
}
