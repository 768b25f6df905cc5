package main

import (
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
)

// memoryAuto is Config.MemoryLimit's "auto": a share of the container's
// memory limit, when the process has one.
const memoryAuto = -1

// memoryShare is the part of a container's limit that auto gives the Go
// heap: the rest is for the runtime's own memory, goroutine stacks and
// what the kernel counts against the container (page cache of LevelDB).
const memoryShare = 0.9

var sMemoryLimit = setting{name: "memory-limit", env: "LOGSTREAM_MEMORY_LIMIT", def: "auto",
	usage: "soft limit of the process's memory, as Go's GOMEMLIMIT (e.g. 900MiB, 2GiB): past it the garbage collector runs more often instead of letting the heap grow to twice what is live; auto: 90% of the container's memory limit (cgroup) when there is one, else GOMEMLIMIT or none; none: no limit",
	parse: func(c *Config, v string) error {
		n, err := parseMemoryLimit(v)
		if err != nil {
			return err
		}
		c.MemoryLimit = n
		return nil
	}}

// gcAuto is Config.GCPercent's "auto" (its zero value): GOGC from the
// environment when set, else gcDefault.
const gcAuto = 0

// gcDefault is the collector's target growth of the heap over what is
// live, in percent, when neither the setting nor GOGC says. Go's own
// default is 100 (the heap grows to twice what is live). The stages keep
// their large state (the tables in memory, the due index) in chunks
// without pointers, which the collector does not scan: a cycle costs
// about the same whatever their size, so collecting twice as often costs
// little CPU and keeps the peak heap near 1.5 times what is live. Measured
// on a 1M-line backlog (benchmarks/README.md): peak RSS 880 MB instead of
// 1.1-1.5 GB, CPU per event within the runs' noise.
const gcDefault = 50

var sGCPercent = setting{name: "gc-percent", env: "LOGSTREAM_GC_PERCENT", def: "auto",
	usage: "how far the heap grows over what is live before the garbage collector runs, in percent, as Go's GOGC (10-1000): lower keeps less memory for a little more CPU; auto: GOGC when set, else 50",
	parse: func(c *Config, v string) error {
		s := strings.TrimSpace(v)
		if strings.EqualFold(s, "auto") {
			c.GCPercent = gcAuto
			return nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 10 || n > 1000 {
			return fmt.Errorf("%q is not auto or a percentage from 10 to 1000", v)
		}
		c.GCPercent = n
		return nil
	}}

// applyGCPercent sets the collector's target from the setting.
func applyGCPercent(setting int, log zerolog.Logger) {
	if setting == gcAuto {
		if os.Getenv("GOGC") != "" {
			return // the runtime read it
		}
		setting = gcDefault
	}
	debug.SetGCPercent(setting)
	log.Debug().Int("percent", setting).Msg("garbage collector target")
}

// parseMemoryLimit reads auto, none, or a size in bytes with an optional
// unit (KiB, MiB, GiB, KB, MB, GB).
func parseMemoryLimit(v string) (int64, error) {
	s := strings.TrimSpace(v)
	switch strings.ToLower(s) {
	case "auto":
		return memoryAuto, nil
	case "none", "0":
		return 0, nil
	}
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1}}
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) || f*mult < 64<<20 || f*mult > 1<<50 {
		return 0, fmt.Errorf("%q is not auto, none, or a size from 64MiB (e.g. 900MiB, 2GiB)", v)
	}
	return int64(f * mult), nil
}

// cgroupFiles are where a container's memory limit is read: cgroup v2,
// then v1.
var cgroupFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// containerMemory returns the memory limit of the process's cgroup, or 0.
func containerMemory(files []string) int64 {
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		n, err := strconv.ParseInt(s, 10, 64)
		// "max" (v2) or a huge number (v1's "unlimited") is no limit.
		if err != nil || n <= 0 || n >= 1<<60 {
			return 0
		}
		return n
	}
	return 0
}

// applyMemoryLimit sets the Go runtime's soft memory limit from the
// setting and says where it came from.
func applyMemoryLimit(setting int64, log zerolog.Logger) {
	limit, from := setting, "memory-limit"
	switch setting {
	case 0:
		debug.SetMemoryLimit(math.MaxInt64)
		return
	case memoryAuto:
		c := containerMemory(cgroupFiles)
		if c == 0 {
			if os.Getenv("GOMEMLIMIT") != "" {
				log.Info().Int64("bytes", debug.SetMemoryLimit(-1)).Msg("memory limit from GOMEMLIMIT")
			}
			return
		}
		limit, from = int64(float64(c)*memoryShare), fmt.Sprintf("90%% of the container's %d MiB", c>>20)
	}
	debug.SetMemoryLimit(limit)
	log.Info().Int64("bytes", limit).Str("from", from).Msg("memory limit")
}
