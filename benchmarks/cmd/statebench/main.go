// Command statebench measures the stateful stages on the embedded broker.
//
// Throughput: in one run, and alternating over several rounds (these
// machines are noisy; medians are reported), it measures the raw franz-go
// passthrough (pipebench's baseline: consume logs.parsed, produce every
// record unchanged), the dedupe stage alone over the same pre-produced
// LogEvents (about 3% repeats), and the trace join alone over the same
// number of events with trace ids on logs.unique plus their spans, each on
// a fresh broker, and prints records/s and each stage's ratio against the
// passthrough of the same round.
//
// Memory: the dedupe stage over N distinct ids inside the TTL (1 h, so
// its table only grows), with LevelDB and with memory state. The stage
// runs in a child process (this binary with -role stage), so its resident
// memory is its own and not the broker's, which holds every topic in
// memory. It reports VmHWM and VmRSS, the LevelDB directory's size, the
// dedupe-table topic's size, the hot-id cache's hit ratio and the stored
// ids counted by a sweep.
//
// Errorrate (-only errorrate): the errorrate stage alone over N
// pre-produced LogEvents on logs.unique (H hosts, a share of errors), until
// it has counted every event, against the passthrough over the same
// records, rounds rotating as above; it also reports each host's latest
// state (size, panes, latency-sketch buckets, kept emits) and the table
// topic's size.
//
// Alerts (-only alerts): errorrate + alerter while a producer writes
// events at a steady rate, event time = send time, and hosts fail one
// after another; for every FIRING alert it reports the time from sending
// the event that decided it to the alert record's Kafka timestamp, per
// update interval of the errorrate stage (see alertlatency.go).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/logstream/logstream/codecs"
)

func main() {
	var (
		role       = flag.String("role", "", "internal: \"stage\" runs the dedupe stage for the memory benchmark")
		n          = flag.Int("n", 200000, "records for the throughput measurements")
		rounds     = flag.Int("rounds", 3, "throughput rounds (each measures everything once, in rotating order; medians are reported)")
		ids        = flag.String("ids", "1000000", "comma-separated numbers of distinct ids for the memory measurements")
		stateKind  = flag.String("state", "both", "local state of the stateful stages: leveldb, memory or both")
		only       = flag.String("only", "", "run only these parts, comma-separated: throughput, memory, errorrate, alerts (default: throughput,memory)")
		partitions = flag.Int("partitions", 6, "partitions of every topic")
		dups       = flag.Float64("dups", 0.03, "share of records that repeat an earlier id")
		distance   = flag.Int("dup-distance", 50000, "a repeat repeats one of this many latest distinct ids")
		ttl        = flag.Duration("ttl", 0, "throughput: dedupe's TTL (0: 1h, nothing expires in a run; events span 1 ms of event time per 1,000)")
		window     = flag.Duration("window", 0, "throughput: the join window (0: 1h, nothing times out but on idleness)")
		tsweep     = flag.Duration("tsweep", 0, "throughput: sweep interval of dedupe and the join (0: the stages' defaults; the join 30 s)")
		sweep      = flag.Duration("sweep", 0, "dedupe sweep interval in the memory benchmark (0: the stage's default, 1m for a 1h TTL)")
		cpuprofile = flag.String("cpuprofile", "", "write a CPU profile of each memory-benchmark stage process to FILE.<state>.<ids>, and of this process during each errorrate measurement to FILE.errorrate.<state>")
		// The errorrate stage's throughput (-only errorrate).
		erN      = flag.Int("er-n", 200000, "errorrate: events for the throughput measurement")
		erHosts  = flag.Int("er-hosts", 20, "errorrate: hosts of the throughput input")
		erErrors = flag.Float64("er-errors", 0.05, "errorrate: share of error events in the throughput input")
		erSpan   = flag.Duration("er-span", 2*time.Minute, "errorrate: event time the throughput input covers")
		// Alert latency under load (-only alerts).
		alRate      = flag.Int("alert-rate", 20000, "alerts: events/s produced (all hosts), event time = send time")
		alSlots     = flag.Int("alert-hosts", 5, "alerts: hosts sending at once")
		alIncidents = flag.Int("alert-incidents", 20, "alerts: incidents (new failing hosts) per run")
		alEvery     = flag.Duration("alert-every", 2*time.Second, "alerts: time between incidents")
		alHealthy   = flag.Duration("alert-healthy", 500*time.Millisecond, "alerts: a new host's healthy start before it fails (mean; drawn uniformly from ±50%)")
		alBad       = flag.Duration("alert-bad", 1500*time.Millisecond, "alerts: how long a new host fails")
		alIntervals = flag.String("alert-intervals", "1s,100ms", "alerts: the errorrate stage's update intervals to measure, comma-separated")
		alState     = flag.String("alert-state", "leveldb", "alerts: local state (leveldb or memory)")
		alLatencies = flag.Bool("alert-latency-ms", true, "alerts: events carry latency_ms (1-500 ms; the stage keeps a latency sketch per host and pane)")
		// The child's own flags.
		brokers = flag.String("brokers", "", "internal (-role stage): broker address")
		storage = flag.String("storage", "", "internal (-role stage): leveldb or memory")
		dir     = flag.String("dir", "", "internal (-role stage): LevelDB directory")
		records = flag.Int("records", 0, "internal (-role stage): records on logs.parsed")
		unique  = flag.Int("unique", 0, "internal (-role stage): distinct ids among them")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	if *role == "stage" {
		err = runStageProcess(ctx, stageConfig{brokers: *brokers, storage: *storage, dir: *dir, records: *records,
			unique: *unique, partitions: *partitions, sweep: *sweep, cpuprofile: *cpuprofile})
	} else {
		intervals, perr := parseDurations(*alIntervals)
		if perr != nil {
			fmt.Fprintln(os.Stderr, "statebench: -alert-intervals:", perr)
			os.Exit(2)
		}
		err = run(ctx, *n, *rounds, *ids, *stateKind, *only, *partitions, *dups, *distance, *sweep, *cpuprofile, extraConfig{
			ttl: *ttl, window: *window, sweep: *tsweep,
			errorRate: errorRateConfig{n: *erN, rounds: *rounds, partitions: *partitions, hosts: *erHosts, errors: *erErrors, span: *erSpan,
				cpuprofile: *cpuprofile},
			alerts: alertConfig{partitions: *partitions, storage: *alState, rate: *alRate, slots: *alSlots, incidents: *alIncidents,
				every: *alEvery, healthy: *alHealthy, bad: *alBad, warmup: 2 * time.Second, intervals: intervals, latencies: *alLatencies},
		})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "statebench:", err)
		os.Exit(1)
	}
}

// extraConfig holds the settings of the errorrate and alert-latency parts.
type extraConfig struct {
	ttl, window, sweep time.Duration // of the throughput part
	errorRate          errorRateConfig
	alerts             alertConfig
}

func run(ctx context.Context, n, rounds int, ids, stateKind, only string, partitions int, dups float64, distance int, sweep time.Duration, cpuprofile string, ex extraConfig) error {
	parts := map[string]bool{}
	for _, p := range strings.Split(only, ",") {
		switch p = strings.TrimSpace(p); p {
		case "":
		case "throughput", "memory", "errorrate", "alerts":
			parts[p] = true
		default:
			return fmt.Errorf("-only %q: want throughput, memory, errorrate or alerts", p)
		}
	}
	if len(parts) == 0 {
		parts["throughput"], parts["memory"] = true, true
	}
	var storages []string
	switch stateKind {
	case "both":
		storages = []string{"leveldb", "memory"}
	case "leveldb", "memory":
		storages = []string{stateKind}
	default:
		return fmt.Errorf("-state %q: want leveldb, memory or both", stateKind)
	}
	var idCounts []int
	for _, s := range strings.Split(ids, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		v, err := strconv.Atoi(s)
		if err != nil || v <= 0 {
			return fmt.Errorf("-ids: %q is not a positive number", s)
		}
		idCounts = append(idCounts, v)
	}
	if n <= 0 || rounds <= 0 || partitions <= 0 || distance <= 0 || dups < 0 || dups >= 1 {
		return fmt.Errorf("-n, -rounds, -partitions and -dup-distance must be positive, -dups in [0, 1)")
	}
	set, err := codecs.NewSet()
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	fmt.Printf("statebench: GOMAXPROCS=%d, NumCPU=%d, %s, %s, %s\n", runtime.GOMAXPROCS(0), runtime.NumCPU(), runtime.Version(), host, time.Now().UTC().Format(time.RFC3339))
	if parts["throughput"] {
		if err := throughput(ctx, set, throughputConfig{n: n, rounds: rounds, partitions: partitions, storages: storages, dups: dups, distance: distance,
			ttl: ex.ttl, window: ex.window, sweep: ex.sweep, cpuprofile: cpuprofile}); err != nil {
			return err
		}
	}
	if parts["memory"] {
		if err := memory(ctx, set, memoryConfig{ids: idCounts, storages: storages, partitions: partitions, dups: dups, distance: distance,
			sweep: sweep, cpuprofile: cpuprofile}); err != nil {
			return err
		}
	}
	if parts["errorrate"] {
		cfg := ex.errorRate
		cfg.storages = storages
		if cfg.n <= 0 || cfg.hosts <= 0 || cfg.errors < 0 || cfg.errors > 1 || cfg.span <= 0 {
			return fmt.Errorf("-er-n, -er-hosts and -er-span must be positive, -er-errors in [0, 1]")
		}
		if err := errorRateThroughput(ctx, set, cfg); err != nil {
			return err
		}
	}
	if parts["alerts"] {
		cfg := ex.alerts
		if cfg.rate <= 0 || cfg.slots <= 0 || cfg.incidents <= 0 || cfg.every <= 0 || cfg.healthy < 0 || cfg.bad <= 0 || len(cfg.intervals) == 0 {
			return fmt.Errorf("-alert-rate, -alert-hosts, -alert-incidents, -alert-every, -alert-bad and -alert-intervals must be positive")
		}
		if err := alertLatency(ctx, set, cfg); err != nil {
			return err
		}
	}
	return nil
}
