package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/pipeline"
	"github.com/logstream/logstream/processors/dedupe"
	"github.com/logstream/logstream/state"
	"github.com/logstream/logstream/topology"
)

// The memory benchmark: the dedupe stage over N distinct ids (all inside
// the TTL, so its table only grows) in a child process of its own, so
// that the stage's resident memory is not mixed with the embedded
// broker's, which holds every topic in memory.

type memoryConfig struct {
	ids        []int
	storages   []string
	partitions int
	dups       float64
	distance   int
	sweep      time.Duration // the child's sweep interval; 0 = the stage's default
	cpuprofile string
}

// childResult is what the stage process reports on its stdout (one JSON
// line) when it is done.
type childResult struct {
	Storage string  `json:"storage"`
	Records int     `json:"records"`
	Unique  int     `json:"unique"`
	Seconds float64 `json:"seconds"`
	Rate    float64 `json:"rate"`
	// /proc/self/status when logs.unique held every id (kB).
	HWMkB int64 `json:"vm_hwm_kb"`
	RSSkB int64 `json:"vm_rss_kb"`
	// After runtime.GC and debug.FreeOSMemory: what the stage keeps.
	RSSFreedkB int64  `json:"vm_rss_after_free_kb"`
	HeapLive   uint64 `json:"heap_live_bytes"`
	// After the sweep that counted the entries (a sweep walks the table).
	HWMSweptkB int64           `json:"vm_hwm_after_sweep_kb"`
	Swept      bool            `json:"swept"`
	Stats      dedupe.Snapshot `json:"stats"`
}

// memoryResult adds what the parent measures after the child exits.
type memoryResult struct {
	childResult
	Distinct    int
	InputBytes  int64
	DiskBytes   int64 // LevelDB directory
	TableBytes  int64 // dedupe-table topic, as the broker holds it
	TableRecs   int64
	UniqueBytes int64
	BrokerRSSkB int64 // the parent: broker and producer
}

func memory(ctx context.Context, set *codecs.Set, cfg memoryConfig) error {
	var results []memoryResult
	for _, ids := range cfg.ids {
		for _, kind := range cfg.storages {
			fmt.Fprintf(os.Stderr, "memory: %d distinct ids, %s state\n", ids, kind)
			res, err := memoryRun(ctx, set, cfg, ids, kind)
			if err != nil {
				return fmt.Errorf("memory %d ids %s: %w", ids, kind, err)
			}
			results = append(results, res)
			runtime.GC()
			debug.FreeOSMemory()
		}
	}
	fmt.Printf("\nmemory: dedupe stage in its own process, TTL %s (nothing expires), %d partitions, %.0f%% repeats of one of the last %d ids\n",
		benchTTL, cfg.partitions, cfg.dups*100, cfg.distance)
	fmt.Printf("  %-9s %-8s %9s %8s %10s %9s %9s %11s %9s %10s %10s %9s %8s %8s\n",
		"ids", "state", "records", "rate/s", "VmHWM MB", "VmRSS MB", "freed MB", "heap MB", "disk MB", "table MB", "entries", "hit", "dup-hit", "swept MB")
	for _, r := range results {
		lookups := float64(r.Stats.In - r.Stats.Rerouted)
		dupHit := 0.0
		if r.Stats.Duplicates > 0 {
			dupHit = r.Stats.CacheHitRatio * lookups / float64(r.Stats.Duplicates)
		}
		disk := "-"
		if r.Storage == "leveldb" {
			disk = fmt.Sprintf("%.1f", mb(r.DiskBytes))
		}
		entries := "-"
		if r.Swept {
			entries = strconv.Itoa(r.Stats.Entries)
		}
		fmt.Printf("  %-9d %-8s %9d %8.0f %10.1f %9.1f %9.1f %11.1f %9s %10.1f %10s %9.4f %8.2f %8.1f\n",
			r.Distinct, r.Storage, r.Records, r.Rate, kb(r.HWMkB), kb(r.RSSkB), kb(r.RSSFreedkB), mb(int64(r.HeapLive)),
			disk, mb(r.TableBytes), entries, r.Stats.CacheHitRatio, dupHit, kb(r.HWMSweptkB))
	}
	fmt.Println("  (MB = 10^6 B. VmHWM/VmRSS: the stage process when logs.unique held every id; freed: VmRSS after GC +")
	fmt.Println("   FreeOSMemory; heap: live Go heap; table: dedupe-table topic as the broker holds it (batch bytes, lz4);")
	fmt.Println("   hit: cache hits / all lookups; dup-hit: hits / repeats; swept MB: VmHWM after the sweep that counted entries)")
	for _, r := range results {
		fmt.Printf("  %d %s: table %d records (%.0f B/record), logs.unique %.1f MB, input %.1f MB; broker process VmRSS %.0f MB; stats %+v\n",
			r.Distinct, r.Storage, r.TableRecs, float64(r.TableBytes)/float64(max(r.TableRecs, 1)), mb(r.UniqueBytes), mb(r.InputBytes), kb(r.BrokerRSSkB), r.Stats)
	}
	return nil
}

func mb(b int64) float64 { return float64(b) / 1e6 }
func kb(k int64) float64 { return float64(k) * 1024 / 1e6 }

func memoryRun(ctx context.Context, set *codecs.Set, cfg memoryConfig, ids int, kind string) (memoryResult, error) {
	var res memoryResult
	e, err := newEnv(cfg.partitions)
	if err != nil {
		return res, err
	}
	defer e.close()
	in := dedupeInput{salt: salt + uint64(ids), dups: cfg.dups, distance: cfg.distance, base: time.Now().Add(-time.Minute).UnixMilli()}
	start := time.Now()
	records, distinct, inBytes, err := fillParsed(ctx, e.brokers, set, in, 0, ids, true)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(os.Stderr, "  fill: %d records (%d distinct ids, %.0f B/record) in %.1fs\n", records, distinct, float64(inBytes)/float64(records), time.Since(start).Seconds())
	dir := ""
	if kind == "leveldb" {
		if dir, err = os.MkdirTemp("", "statebench-leveldb-"); err != nil {
			return res, err
		}
		defer os.RemoveAll(dir)
	}
	self, err := os.Executable()
	if err != nil {
		return res, err
	}
	args := []string{"-role", "stage", "-brokers", e.brokers[0], "-storage", kind, "-dir", dir,
		"-records", strconv.Itoa(records), "-unique", strconv.Itoa(distinct), "-partitions", strconv.Itoa(cfg.partitions),
		"-sweep", cfg.sweep.String()}
	if cfg.cpuprofile != "" {
		args = append(args, "-cpuprofile", fmt.Sprintf("%s.%s.%d", cfg.cpuprofile, kind, ids))
	}
	cmd := exec.CommandContext(ctx, self, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("stage process: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res.childResult); err != nil {
		return res, fmt.Errorf("stage process output %q: %w", out.String(), err)
	}
	res.Distinct, res.InputBytes = distinct, inBytes
	if dir != "" {
		if res.DiskBytes, err = dirSize(dir); err != nil {
			return res, err
		}
	}
	a, err := newAdmin(e.brokers)
	if err != nil {
		return res, err
	}
	defer a.close()
	table := topology.TableTopic(topology.GroupDedupe)
	sizes, err := a.topicBytes(ctx, table, topology.TopicUnique)
	if err != nil {
		return res, err
	}
	res.TableBytes, res.UniqueBytes = sizes[table], sizes[topology.TopicUnique]
	if res.TableRecs, err = a.records(ctx, table); err != nil {
		return res, err
	}
	st, err := procStatus()
	if err != nil {
		return res, err
	}
	res.BrokerRSSkB = st["VmRSS"]
	return res, nil
}

func dirSize(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		n += info.Size()
		return nil
	})
	return n, err
}

// procStatus reads the kB values of /proc/self/status.
func procStatus() (map[string]int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || !strings.HasSuffix(v, " kB") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(v, " kB")), 10, 64)
		if err == nil {
			out[k] = n
		}
	}
	return out, sc.Err()
}

// stageConfig is the child's command line.
type stageConfig struct {
	brokers, storage, dir string
	records, unique       int
	partitions            int
	sweep                 time.Duration
	cpuprofile            string
}

// runStageProcess is the child: it runs the dedupe stage against the
// parent's broker until logs.unique holds every id, reports its memory,
// waits for a sweep to count the stored ids, and prints one JSON line.
func runStageProcess(ctx context.Context, cfg stageConfig) error {
	set, err := codecs.NewSet()
	if err != nil {
		return err
	}
	topo, err := topology.New(topology.Config{Partitions: cfg.partitions, Replication: 1})
	if err != nil {
		return err
	}
	st := state.Memory()
	if cfg.storage == "leveldb" {
		if cfg.dir == "" {
			return errors.New("-storage leveldb needs -dir")
		}
		if st, err = state.Builder(cfg.dir); err != nil {
			return err
		}
	} else if cfg.storage != "memory" {
		return fmt.Errorf("unknown storage %q", cfg.storage)
	}
	if cfg.cpuprofile != "" {
		f, err := os.Create(cfg.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	r, err := startStage(ctx, []string{cfg.brokers}, topo, set, pipeline.Options{
		Stages: []string{"dedupe"}, Storage: st,
		Dedupe: pipeline.StateOptions{TTL: benchTTL, SweepInterval: cfg.sweep, CacheEntries: dedupeCache(cfg.storage)},
	})
	if err != nil {
		return err
	}
	defer r.stop()
	stats := r.p.Dedupe().Stats()
	pctx, pcancel := context.WithCancel(ctx)
	defer pcancel()
	go func() {
		t0 := time.Now()
		for {
			select {
			case <-pctx.Done():
				return
			case <-time.After(10 * time.Second):
			}
			ps, _ := procStatus()
			in := stats.In.Load()
			fmt.Fprintf(os.Stderr, "  stage %s: %d/%d records, %d unique, %.0f records/s since ready, VmRSS %.0f MB\n",
				cfg.storage, in, cfg.records, stats.Unique.Load(), float64(in)/time.Since(t0).Seconds(), kb(ps["VmRSS"]))
		}
	}()
	t0 := time.Now()
	rate, snap, err := timeDedupe(ctx, r, []string{cfg.brokers}, cfg.records, cfg.unique)
	pcancel()
	if err != nil {
		return err
	}
	res := childResult{Storage: cfg.storage, Records: cfg.records, Unique: cfg.unique, Rate: rate, Stats: snap,
		Seconds: float64(cfg.records) / rate}
	ps, err := procStatus()
	if err != nil {
		return err
	}
	res.HWMkB, res.RSSkB = ps["VmHWM"], ps["VmRSS"]
	pprof.StopCPUProfile() // the profile covers the work, not the wait for a sweep
	runtime.GC()
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	res.HeapLive = m.HeapAlloc
	if ps, err = procStatus(); err != nil {
		return err
	}
	res.RSSFreedkB = ps["VmRSS"]
	fmt.Fprintf(os.Stderr, "  stage %s: done in %.1fs after ready (%.0f records/s); waiting for a sweep to count the entries\n",
		cfg.storage, time.Since(t0).Seconds(), rate)
	// A sweep walks every partition's store and counts its ids.
	wait := cfg.sweep
	if wait <= 0 {
		wait = time.Minute // the stage's default for a 1 h TTL
	}
	deadline := time.Now().Add(wait + time.Minute)
	for time.Now().Before(deadline) {
		if stats.Entries() >= cfg.unique {
			res.Swept = true
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	res.Stats = stats.Snapshot()
	if ps, err = procStatus(); err != nil {
		return err
	}
	res.HWMSweptkB = ps["VmHWM"]
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	return nil
}
