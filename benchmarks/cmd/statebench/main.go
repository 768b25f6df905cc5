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
		only       = flag.String("only", "", "run only \"throughput\" or \"memory\"")
		partitions = flag.Int("partitions", 6, "partitions of every topic")
		dups       = flag.Float64("dups", 0.03, "share of records that repeat an earlier id")
		distance   = flag.Int("dup-distance", 50000, "a repeat repeats one of this many latest distinct ids")
		sweep      = flag.Duration("sweep", 0, "dedupe sweep interval in the memory benchmark (0: the stage's default, 1m for a 1h TTL)")
		cpuprofile = flag.String("cpuprofile", "", "write a CPU profile of each memory-benchmark stage process to FILE.<state>.<ids>")
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
		err = run(ctx, *n, *rounds, *ids, *stateKind, *only, *partitions, *dups, *distance, *sweep, *cpuprofile)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "statebench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, n, rounds int, ids, stateKind, only string, partitions int, dups float64, distance int, sweep time.Duration, cpuprofile string) error {
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
	if only == "" || only == "throughput" {
		if err := throughput(ctx, set, throughputConfig{n: n, rounds: rounds, partitions: partitions, storages: storages, dups: dups, distance: distance}); err != nil {
			return err
		}
	}
	if only == "" || only == "memory" {
		if err := memory(ctx, set, memoryConfig{ids: idCounts, storages: storages, partitions: partitions, dups: dups, distance: distance,
			sweep: sweep, cpuprofile: cpuprofile}); err != nil {
			return err
		}
	}
	return nil
}
