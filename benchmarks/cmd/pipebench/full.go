package main

// The whole-pipeline benchmark (-full): N lines through every stage a
// `logstream run` runs, against a chain of franz-go passthrough hops over
// the same records, both measured in the same run on one embedded broker.
//
// Each side runs in a process of its own, so that its CPU time (user +
// system, from /proc) and its peak RSS are its own and not the broker's:
// the broker lives in this process, which only writes the input and then
// polls offsets. The pipeline is the logstream binary itself (`logstream
// run --brokers ...`), exactly as an operator starts it.

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/demo/fleet"
	"github.com/logstream/logstream/processors/spans"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
	"github.com/logstream/logstream/watermark"
)

type fullConfig struct {
	n          int
	partitions int
	// sets are the stage sets to run, each on a fresh broker; the first
	// is measured after the baseline.
	sets    [][]string
	hops    int
	bin     string
	timeout time.Duration
	// profile, when set, is where a CPU profile of the pipeline's process
	// is written: profileFor long, from two seconds after it starts.
	profile    string
	profileFor time.Duration
	// heapProfile, when set, is where the pipeline's heap profile is
	// written when it has caught up.
	heapProfile string
	// leveldb runs the pipeline with its tables in LevelDB (--state-dir)
	// rather than in memory.
	leveldb bool
	// compression of what both sides write.
	compression string
	// memoryLimit is logstream run --memory-limit ("" leaves its default).
	memoryLimit string
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return ""
	}
	defer l.Close()
	return l.Addr().String()
}

// profile fetches a CPU profile from the pipeline's admin port.
func profile(addr, path string, d time.Duration) {
	time.Sleep(2 * time.Second)
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, int(d.Seconds())))
	if err != nil {
		fmt.Fprintln(os.Stderr, "pipebench: profile:", err)
		return
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode == http.StatusOK {
		err = os.WriteFile(path, b, 0o644)
	} else if err == nil {
		err = fmt.Errorf("%s: %s", resp.Status, b)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pipebench: profile:", err)
		return
	}
	fmt.Fprintf(os.Stderr, "pipebench: CPU profile of the pipeline written to %s\n", path)
}

func heapProfile(addr, path string) {
	fetchTo(addr, "/debug/pprof/heap", path)
	// And the metrics, beside it: what each stage counted.
	fetchTo(addr, "/metrics", path+".metrics")
}

func fetchTo(addr, page, path string) {
	resp, err := http.Get(fmt.Sprintf("http://%s%s", addr, page))
	if err == nil {
		defer resp.Body.Close()
		var b []byte
		b, err = io.ReadAll(resp.Body)
		switch {
		case err == nil && resp.StatusCode != http.StatusOK:
			// A 404 page is no profile: say so rather than write it.
			err = fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
		case err == nil:
			err = os.WriteFile(path, b, 0o644)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "pipebench: %s: %v\n", page, err)
		return
	}
	fmt.Fprintf(os.Stderr, "pipebench: %s of the pipeline written to %s\n", page, path)
}

// fillStats describes what fillFull wrote.
type fillStats struct {
	records, lines, traced, repeats, spans int
	bytes                                  int64
	lastEvent                              time.Time
}

// measured is one side's cost: wall time to done, and its process's CPU
// time and peak RSS at that moment.
type measured struct {
	wall    time.Duration
	cpu     time.Duration
	peakRSS int64         // bytes
	broker  time.Duration // this process's CPU (the broker) over the same span
}

func runFull(cfg fullConfig) error {
	if cfg.bin == "" {
		dir, err := os.MkdirTemp("", "pipebench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		cfg.bin = filepath.Join(dir, "logstream")
		build := exec.Command("go", "build", "-o", cfg.bin, "./cmd/logstream")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("building the logstream binary (run from the repository's root, or pass -bin): %w", err)
		}
	}
	set, err := codecs.NewSet()
	if err != nil {
		return err
	}
	fmt.Printf("pipebench -full: %d lines, %d partitions, GOMAXPROCS=%d, binary %s\n",
		cfg.n, cfg.partitions, runtime.GOMAXPROCS(0), cfg.bin)
	type result struct {
		stages []string
		m      measured
	}
	var (
		pass    measured
		results []result
		lines   int
	)
	for i, stages := range cfg.sets {
		fs, m, p, err := fullRound(cfg, set, stages, i == 0)
		if err != nil {
			return fmt.Errorf("stages %s: %w", strings.Join(stages, ","), err)
		}
		if i == 0 {
			pass = p
			fmt.Printf("input: %d records on logs.raw (%d lines, %d of them repeats, %d traced, %d closing lines), %.1f MB; %d spans\n",
				fs.records, fs.lines, fs.repeats, fs.traced, fs.records-fs.lines, float64(fs.bytes)/1e6, fs.spans)
		}
		lines = fs.lines
		results = append(results, result{stages, m})
	}
	perCPU := func(m measured) float64 { return float64(lines) / m.cpu.Seconds() }
	perCPUAll := func(m measured) float64 { return float64(lines) / (m.cpu + m.broker).Seconds() }
	row := func(name string, m measured) {
		fmt.Printf("%-60s %10.0f %13.0f %13.0f %7.0f MB %8.2f\n", name, float64(lines)/m.wall.Seconds(),
			perCPU(m), perCPUAll(m), float64(m.peakRSS)/1e6, perCPU(m)/perCPU(pass))
	}
	fmt.Printf("\n%-60s %10s %13s %13s %10s %8s\n", "", "events/s", "events/CPU-s", "with broker", "peak RSS", "ratio")
	row(fmt.Sprintf("franz-go passthrough, %d hops (baseline)", cfg.hops), pass)
	for _, r := range results {
		row("logstream run --stages "+strings.Join(r.stages, ","), r.m)
	}
	if len(results) > 1 {
		// Each set adds stages to the one before: the difference in CPU is
		// what the added stages cost.
		fmt.Printf("\nCPU per event by stage (differences between the runs above):\n")
		prev := measured{}
		var prevStages []string
		for _, r := range results {
			var added []string
			for _, s := range r.stages {
				if !slices.Contains(prevStages, s) {
					added = append(added, s)
				}
			}
			d := r.m.cpu - prev.cpu
			fmt.Printf("  %-28s %8.1f µs/event %10.0f events/CPU-s\n", strings.Join(added, "+"),
				d.Seconds()/float64(lines)*1e6, float64(lines)/d.Seconds())
			prev, prevStages = r.m, r.stages
		}
	}
	last := results[len(results)-1].m
	fmt.Printf("\nratio pipeline/passthrough (events per CPU-second, the pipeline's process against the baseline's): %.3f; CPU per event %.1f µs; peak RSS %.0f MB\n",
		perCPU(last)/perCPU(pass), last.cpu.Seconds()/float64(lines)*1e6, float64(last.peakRSS)/1e6)
	return nil
}

// fullRound runs one set of stages on a fresh broker over freshly written
// input, after the baseline when withBaseline.
func fullRound(cfg fullConfig, set *codecs.Set, stages []string, withBaseline bool) (fs fillStats, pipe, pass measured, err error) {
	ctx := context.Background()
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		return fs, pipe, pass, err
	}
	defer e.Close()
	brokers := []string{e.Addr()}
	topo, err := topology.New(topology.Config{Partitions: cfg.partitions, Replication: 1})
	if err != nil {
		return fs, pipe, pass, err
	}
	tun := broker.Tuning{Replication: 1, BatchSize: 1000, MaxConcurrency: 5, FromOldest: true}
	streams := topo.StreamPartitions()
	for i := 1; i <= cfg.hops; i++ {
		streams[topology.BenchHopTopic(i)] = cfg.partitions
	}
	if err := broker.EnsureTopics(brokers, tun, streams, topo.TablePartitions()); err != nil {
		return fs, pipe, pass, err
	}
	// The same input for every set, spans included, whether they are read
	// or not.
	if fs, err = fillFull(ctx, brokers, set, cfg.n, cfg.partitions); err != nil {
		return fs, pipe, pass, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return fs, pipe, pass, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	if withBaseline {
		// The baseline first: it leaves only its hop topics behind.
		self, err := os.Executable()
		if err != nil {
			return fs, pipe, pass, err
		}
		pass, err = measureChild(ctx, exec.Command(self, "-passthrough-child", "-brokers", e.Addr(),
			"-hops", strconv.Itoa(cfg.hops), "-records", strconv.Itoa(fs.records), "-compression", cfg.compression), nil, nil, cfg.timeout)
		if err != nil {
			return fs, pipe, pass, fmt.Errorf("passthrough: %w", err)
		}
	}

	groups := stageGroups(topo, stages)
	var transactional []string
	for _, s := range topo.Stages() {
		if s.Combiner {
			transactional = append(transactional, s.Outputs...)
		}
	}
	lastWindow := fs.lastEvent.Truncate(time.Minute).Add(time.Minute).UnixMilli()
	checkErrorRate := slices.Contains(stages, "errorrate")
	var lastLag string
	done := func() (bool, error) {
		lag, detail, err := groupLag(ctx, adm, groups, transactional)
		if err != nil {
			return false, err
		}
		lastLag = detail
		if lag > 0 {
			return false, nil
		}
		if !checkErrorRate {
			return true, nil
		}
		end, err := lastWindowEnd(ctx, brokers, set)
		if err != nil {
			return false, err
		}
		if end < lastWindow {
			lastLag = fmt.Sprintf("lag 0, last closed window ends %s, waiting for %s", time.UnixMilli(end).UTC().Format(time.TimeOnly), time.UnixMilli(lastWindow).UTC().Format(time.TimeOnly))
			return false, nil
		}
		return true, nil
	}
	admin := ""
	if cfg.profile != "" || cfg.heapProfile != "" {
		admin = freeAddr()
	}
	if cfg.profile != "" {
		go profile(admin, cfg.profile, cfg.profileFor)
	}
	args := []string{"run", "--brokers", e.Addr(), "--partitions", strconv.Itoa(cfg.partitions),
		"--stages", strings.Join(stages, ","), "--admin-addr", admin, "--log-level", "warn", "--log-format", "json", "--compression", cmp.Or(cfg.compression, "none")}
	if admin != "" {
		// The profiles are served only when asked for.
		args = append(args, "--pprof")
	}
	if cfg.memoryLimit != "" {
		args = append(args, "--memory-limit", cfg.memoryLimit)
	}
	if cfg.leveldb {
		dir, err := os.MkdirTemp("", "pipebench-state-")
		if err != nil {
			return fs, pipe, pass, err
		}
		defer os.RemoveAll(dir)
		args = append(args, "--state-dir", dir)
	}
	run := exec.Command(cfg.bin, args...)
	onDone := done
	if cfg.heapProfile != "" {
		// The heap when the pipeline has caught up: what it holds.
		onDone = func() (bool, error) {
			ok, err := done()
			if ok && err == nil {
				heapProfile(admin, cfg.heapProfile)
			}
			return ok, err
		}
	}
	pipe, err = measureChild(ctx, run, onDone, func() string { return strings.Join(stages, ",") + " lag: " + lastLag }, cfg.timeout)
	if err != nil {
		return fs, pipe, pass, fmt.Errorf("pipeline: %w (last lag: %s)", err, lastLag)
	}
	// What came out, read after the measurement: events per topic, and
	// the join's outcomes.
	var report []string
	for _, t := range []string{topology.TopicParsed, topology.TopicUnique, topology.TopicEnriched, topology.TopicDLQ} {
		if !slices.ContainsFunc(groups, func(g groupInputs) bool { return slices.Contains(g.inputs, t) }) && t != topology.TopicDLQ {
			continue
		}
		counts, err := countEvents(ctx, brokers, set, t, t == topology.TopicEnriched)
		if err != nil {
			return fs, pipe, pass, err
		}
		report = append(report, fmt.Sprintf("%s %s", t, counts))
	}
	fmt.Printf("  %s: %s\n", strings.Join(stages, ","), strings.Join(report, "; "))
	return fs, pipe, pass, nil
}

// countEvents reads a topic to its end and counts its records (watermark
// records aside), by join status when byStatus.
func countEvents(ctx context.Context, brokers []string, set *codecs.Set, topic string, byStatus bool) (string, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		return "", err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return "", err
	}
	var events int64
	left := map[int32]int64{} // per partition: the end offset not reached yet
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	status := map[string]int64{}
	timeouts := map[int64]int{}
	defer func() {
		for _, m := range slices.Sorted(maps.Keys(timeouts)) {
			fmt.Fprintf(os.Stderr, "timeouts in minute %s: %d\n", time.UnixMilli(m*60000).UTC().Format(time.TimeOnly), timeouts[m])
		}
	}()
	for len(left) > 0 {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		fetches := cl.PollFetches(pctx)
		timedOut := pctx.Err() != nil
		cancel()
		if timedOut {
			break // the rest is transaction markers
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if end, ok := left[r.Partition]; ok && r.Offset+1 >= end {
				delete(left, r.Partition)
			}
			if isMark(r) {
				return
			}
			events++
			if byStatus {
				if ev, err := set.LogEvent.Unmarshal(r.Value); err == nil {
					status[ev.JoinStatus]++
					if ev.JoinStatus == schemas.JoinTimeout && os.Getenv("PIPEBENCH_DEBUG") != "" {
						timeouts[ev.Timestamp/60000]++
					}
				} else {
					status["undecodable"]++
				}
			}
		})
	}
	if !byStatus {
		return strconv.FormatInt(events, 10), nil
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(status)) {
		parts = append(parts, fmt.Sprintf("%s %d (%.1f%%)", k, status[k], 100*float64(status[k])/float64(max(events, 1))))
	}
	return fmt.Sprintf("%d: %s", events, strings.Join(parts, ", ")), nil
}

// fillFull writes n lines of the five-host fleet (5% repeats, sent again as
// the very record a retrying shipper sends) to logs.raw, the spans of the
// traced lines to otlp.spans as OTLP exports of 100 lines each, and then a
// closing line on every partition of logs.raw an hour of event time later,
// so that event time passes every window and every join wait.
func fillFull(ctx context.Context, brokers []string, set *codecs.Set, n, partitions int) (fillStats, error) {
	var fs fillStats
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(topology.Partitioner()), kgo.MaxBufferedRecords(100000))
	if err != nil {
		return fs, err
	}
	defer cl.Close()
	gen := fleet.New(fleet.Config{Seed: 42, Start: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC), DuplicateRatio: 0.05})
	sent := map[uint64][]byte{}
	var order []uint64
	var batch []schemas.Span
	var firstErr error
	onErr := func(_ *kgo.Record, err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	flushSpans := func() error {
		if len(batch) == 0 {
			return nil
		}
		b, err := spans.ToOTLP(batch)
		if err != nil {
			return err
		}
		fs.spans += len(batch)
		batch = batch[:0]
		cl.Produce(ctx, &kgo.Record{Topic: topology.TopicOTLPSpans, Value: b}, onErr)
		return nil
	}
	for fs.lines < n {
		l := gen.Next()
		var v []byte
		if prev, ok := sent[l.Seq]; ok && l.Duplicate {
			v = prev
			fs.repeats++
		} else {
			if v, err = set.RawLog.Marshal(&schemas.RawLog{Host: l.Host, Source: l.Source, Line: l.Text, ReceivedAt: l.Time.UnixMilli()}); err != nil {
				return fs, err
			}
			sent[l.Seq] = v
			if order = append(order, l.Seq); len(order) > 4096 {
				delete(sent, order[0])
				order = order[1:]
			}
			if l.TraceID != "" {
				fs.traced++
				batch = append(batch, gen.SpansFor(l)...)
			}
		}
		fs.lines++
		fs.records++
		fs.bytes += int64(len(v))
		fs.lastEvent = l.Time
		cl.Produce(ctx, &kgo.Record{Topic: topology.TopicRaw, Key: []byte(l.Host), Value: v, Timestamp: l.Time}, onErr)
		if fs.lines%100 == 0 {
			if err := flushSpans(); err != nil {
				return fs, err
			}
		}
	}
	if err := flushSpans(); err != nil {
		return fs, err
	}
	// The closing lines: one per partition, an hour after the last line,
	// from a host of their own (not one of the fleet's, so no window of a
	// fleet host is touched).
	closing := fs.lastEvent.Add(time.Hour)
	for p := 0; p < partitions; p++ {
		host := closingHost(p, partitions)
		v, err := set.RawLog.Marshal(&schemas.RawLog{Host: host, Source: "pipebench", Line: closing.Format(time.RFC3339Nano) + " INFO pipebench: end of input", ReceivedAt: closing.UnixMilli()})
		if err != nil {
			return fs, err
		}
		fs.records++
		cl.Produce(ctx, &kgo.Record{Topic: topology.TopicRaw, Key: []byte(host), Value: v, Timestamp: closing}, onErr)
	}
	if err := cl.Flush(ctx); err != nil {
		return fs, err
	}
	return fs, firstErr
}

// closingHost finds a host name that the topology's partitioner puts on
// partition p.
func closingHost(p, partitions int) string {
	for i := 0; ; i++ {
		h := fmt.Sprintf("pipebench-end-%d", i)
		if int(topology.Partition([]byte(h), int32(partitions))) == p {
			return h
		}
	}
}

type groupInputs struct {
	group  string
	inputs []string
}

// stageGroups lists the consumer groups the stages run and their inputs.
func stageGroups(topo *topology.Topology, stages []string) []groupInputs {
	var out []groupInputs
	for _, s := range topo.Stages() {
		name := s.Name
		if s.Part != "" {
			name = s.Part
		}
		if slices.Contains(stages, name) {
			out = append(out, groupInputs{s.Group, s.Inputs})
		}
	}
	return out
}

// groupLag is the sum over groups of their inputs' end offsets minus the
// groups' committed offsets. A transaction ends with a commit marker after
// its last record, which a consumer may or may not commit past: on a topic
// written in transactions (a combiner's output), a remainder of one is the
// marker, as admin.LagCollector counts it.
func groupLag(ctx context.Context, adm *kadm.Client, groups []groupInputs, transactional []string) (int64, string, error) {
	var total int64
	var detail []string
	for _, g := range groups {
		ends, err := adm.ListEndOffsets(ctx, g.inputs...)
		if err != nil {
			return 0, "", err
		}
		offs, err := adm.FetchOffsets(ctx, g.group)
		if errors.Is(err, kerr.GroupIDNotFound) {
			// Not started yet: nothing committed.
			offs, err = kadm.OffsetResponses{}, nil
		}
		if err != nil {
			return 0, "", err
		}
		var lag int64
		per := map[string]int64{}
		ends.Each(func(o kadm.ListedOffset) {
			committed := int64(0)
			if c, ok := offs.Lookup(o.Topic, o.Partition); ok && c.Err == nil && c.At >= 0 {
				committed = c.At
			}
			d := o.Offset - committed
			if d == 1 && slices.Contains(transactional, o.Topic) {
				d = 0
			}
			lag += max(d, 0)
			per[o.Topic] += max(d, 0)
		})
		for _, t := range g.inputs {
			if per[t] > 0 {
				detail = append(detail, fmt.Sprintf("%s on %s: %d", g.group, t, per[t]))
			}
		}
		total += lag
	}
	if len(detail) == 0 {
		return 0, "none", nil
	}
	return total, strings.Join(detail, ", "), nil
}

// isMark reports a watermark-only record (package watermark).
func isMark(r *kgo.Record) bool {
	for _, h := range r.Headers {
		if h.Key == watermark.HeaderKind {
			return string(h.Value) == watermark.KindWatermark
		}
	}
	return false
}

// lastWindowEnd reads hosts.windows and returns the latest end of a
// tumbling window it holds (0 for none).
func lastWindowEnd(ctx context.Context, brokers []string, set *codecs.Set) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topology.TopicHostWindows),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topology.TopicHostWindows)
	if err != nil {
		return 0, err
	}
	var want int64
	ends.Each(func(o kadm.ListedOffset) { want += o.Offset })
	var read, last int64
	for read < want {
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		fetches := cl.PollFetches(pctx)
		timedOut := pctx.Err() != nil
		cancel()
		if timedOut {
			break // markers or an empty tail: what was read is all there is
		}
		var ferr error
		fetches.EachRecord(func(r *kgo.Record) {
			read++
			if isMark(r) {
				return
			}
			w, err := set.HostWindow.Unmarshal(r.Value)
			if err != nil {
				ferr = err
				return
			}
			if w.End > last && w.Kind == schemas.WindowTumbling {
				last = w.End
			}
		})
		if ferr != nil {
			return 0, ferr
		}
	}
	if os.Getenv("PIPEBENCH_DEBUG") != "" {
		fmt.Fprintf(os.Stderr, "hosts.windows: read %d of %d, last tumbling end %d\n", read, want, last)
	}
	return last, nil
}

// measureChild starts cmd and waits until done (polled every 250 ms)
// reports true, or, with done nil, until cmd exits by itself. It returns
// the wall time from start, and the child's CPU time and peak RSS at that
// moment, then stops it with SIGTERM.
func measureChild(ctx context.Context, cmd *exec.Cmd, done func() (bool, error), progressf func() string, timeout time.Duration) (measured, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	tail := func() string {
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		return strings.Join(lines[max(0, len(lines)-15):], "\n")
	}
	selfStart := selfCPU()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return measured{}, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(timeout)
	tick := time.NewTicker(250 * time.Millisecond)
	progress := time.NewTicker(15 * time.Second)
	defer progress.Stop()
	defer tick.Stop()
	var m measured
	for {
		select {
		case err := <-exited:
			if done != nil || err != nil {
				return m, fmt.Errorf("%s exited early: %v\n%s", cmd.Path, err, tail())
			}
			m.wall = time.Since(start)
			ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
			m.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			m.peakRSS = ru.Maxrss * 1024
			m.broker = selfCPU() - selfStart
			return m, nil
		case <-deadline:
			_ = cmd.Process.Kill()
			return m, fmt.Errorf("not done within %s\n%s", timeout, tail())
		case <-progress.C:
			if progressf != nil {
				fmt.Fprintf(os.Stderr, "  %4.0fs: %s\n", time.Since(start).Seconds(), progressf())
			}
			continue
		case <-tick.C:
		}
		if done == nil {
			continue
		}
		ok, err := done()
		if err != nil {
			_ = cmd.Process.Kill()
			return m, err
		}
		if !ok {
			continue
		}
		m.wall = time.Since(start)
		m.cpu, m.peakRSS, err = procCPU(cmd.Process.Pid)
		m.broker = selfCPU() - selfStart
		if err != nil {
			_ = cmd.Process.Kill()
			return m, err
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(2 * time.Minute):
			_ = cmd.Process.Kill()
			return m, errors.New("did not stop within 2 minutes of SIGTERM")
		}
		return m, nil
	}
}

// procCPU reads a live process's user+system time and peak RSS from /proc.
func procCPU(pid int) (time.Duration, int64, error) {
	stat := readFile(fmt.Sprintf("/proc/%d/stat", pid))
	// The command name, in parentheses, may hold spaces: fields count
	// from after its closing parenthesis.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("cannot read /proc/%d/stat", pid)
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	cpu := time.Duration(utime+stime) * time.Second / clkTck
	var hwm int64
	sc := bufio.NewScanner(strings.NewReader(readFile(fmt.Sprintf("/proc/%d/status", pid))))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			hwm = kb * 1024
		}
	}
	return cpu, hwm, nil
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// passthroughChild is the baseline's process: hops franz-go
// consume-and-produce loops chained logs.raw → bench.hop-1 → … →
// bench.hop-<hops>, all running at once as the stages do, each copying
// every record unchanged (same partition, key, value and headers). It
// returns when the last hop's writes are acknowledged.
func passthroughChild(brokers []string, hops, records int, compression string) error {
	ctx := context.Background()
	errc := make(chan error, hops)
	for i := 1; i <= hops; i++ {
		src := topology.TopicRaw
		if i > 1 {
			src = topology.BenchHopTopic(i - 1)
		}
		dst := topology.BenchHopTopic(i)
		go func() { errc <- copyTopic(ctx, brokers, src, dst, records, compression) }()
	}
	for i := 0; i < hops; i++ {
		if err := <-errc; err != nil {
			return err
		}
	}
	return nil
}

func copyTopic(ctx context.Context, brokers []string, src, dst string, records int, compression string) error {
	cons, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(src), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cons.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.MaxBufferedRecords(100000), kgo.ProducerLinger(time.Millisecond),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(broker.Tuning{Compression: compression}.KgoCompression()))
	if err != nil {
		return err
	}
	defer prod.Close()
	var failed atomic.Pointer[error]
	onErr := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.CompareAndSwap(nil, &err)
		}
	}
	for read := 0; read < records; {
		if err := failed.Load(); err != nil {
			return fmt.Errorf("%s to %s: %w", src, dst, *err)
		}
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return err
		}
		fs.EachRecord(func(r *kgo.Record) {
			read++
			prod.Produce(ctx, &kgo.Record{Topic: dst, Partition: r.Partition, Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp}, onErr)
		})
	}
	return prod.Flush(ctx)
}
