package pipeline

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/errorrate"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/state"
	"github.com/logstream/logstream/topology"
)

// Environment of a crash-test child: the test binary re-executed as a pod
// running dedupe and the trace join against the parent's broker.
const (
	envCrashBroker = "LOGSTREAM_CRASH_CHILD_BROKER"
	envCrashState  = "LOGSTREAM_CRASH_CHILD_STATE"  // LevelDB directory; "" = memory
	envCrashStages = "LOGSTREAM_CRASH_CHILD_STAGES" // comma-separated; "" = crashOptions'
)

const crashPartitions = 3

// crashWindows are small windows, so that the traffic's 200 s of event time
// spans many. The grace is short: a pod killed every few hundred
// milliseconds leaves the partitions of logs.unique far apart (one may be
// minutes of event time ahead of another), and the watermark, the least of
// them, is what closes windows, so no event may come late.
var crashWindows = errorrate.Windows{Tumbling: 10 * time.Second, HoppingSize: 20 * time.Second, HoppingAdvance: 10 * time.Second, Grace: 5 * time.Second}

func TestMain(m *testing.M) {
	if addr := os.Getenv(envCrashBroker); addr != "" {
		os.Exit(crashChild(addr, os.Getenv(envCrashState)))
	}
	os.Exit(m.Run())
}

// crashOptions are the options of the pods in the crash test.
func crashOptions(addr string, store string) (Options, error) {
	topo, err := topology.New(topology.Config{Partitions: crashPartitions, Replication: 1})
	if err != nil {
		return Options{}, err
	}
	set, err := codecs.NewSet()
	if err != nil {
		return Options{}, err
	}
	sb, err := state.Builder(store)
	if err != nil {
		return Options{}, err
	}
	return Options{
		Brokers:  []string{addr},
		Topology: topo,
		Codecs:   set,
		Tuning:   broker.Tuning{Replication: 1, BatchSize: 200, MaxConcurrency: 1, FromOldest: true, SessionTimeout: time.Second},
		Storage:  sb,
		Stages:   []string{"dedupe", "tracejoin", "errorrate", "alerter"},
		ClientID: "crash-" + strconv.Itoa(os.Getpid()),
		Dedupe:   StateOptions{SweepInterval: 300 * time.Millisecond},
		// Idle is longer than any killed run, so only the final run
		// releases the events whose span never comes; and longer than a
		// loaded machine's rebalance plus catch-up (8 s once released an
		// event whose span was still in a lagging partition).
		Join: StateOptions{Window: time.Hour, Idle: 20 * time.Second, SweepInterval: 300 * time.Millisecond},
		// Small windows, so that the traffic's 200 s of event time spans
		// many.
		ErrorRate: ErrorRateOptions{Windows: crashWindows},
		// The input has no stamps (no parse): each partition is its own
		// channel, and a quiet one must leave the watermark to the others
		// soon once the closing events come.
		Watermark: WatermarkOptions{Idle: 2 * time.Second},
	}, nil
}

// crashChild runs the stages until SIGTERM (a clean stop) or SIGKILL (the
// crash under test).
func crashChild(addr, store string) int {
	opts, err := crashOptions(addr, store)
	if stages := os.Getenv(envCrashStages); stages != "" {
		opts.Stages = strings.Split(stages, ",")
		if stages == "parse" {
			// Held lines wait longer than a pod lives in the multi-line
			// crash test: the sweep emits only the hosts' last lines,
			// once the last pod has read everything.
			opts.Watermark.Idle, opts.HoldIdle = 20*time.Second, 10*time.Second
		}
	}
	if err == nil {
		opts.Logger = zerolog.New(os.Stderr).Level(zerolog.WarnLevel)
		var p *Pipeline
		if p, err = New(opts); err == nil {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
			defer stop()
			err = p.Run(ctx)
		}
	}
	if err != nil && ctx0Canceled(err) {
		err = nil
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		return 1
	}
	return 0
}

func ctx0Canceled(err error) bool { return err == context.Canceled }

// TestCrashExactlyOnce kills pods running dedupe and the trace join with
// SIGKILL at random points until 20 died with input in hand, while input
// keeps arriving, then
// lets a last pod finish, and requires logs.unique and logs.enriched to
// hold every distinct event exactly once: nothing lost, nothing doubled.
// Every other pod keeps its state in LevelDB (recovered from the local
// store and the table topic), the others in memory (recovered from the
// table topic alone).
func TestCrashExactlyOnce(t *testing.T) {
	// Kill pods until 20 were killed with input in hand (at most 36
	// tries, one chunk of input each).
	const (
		wantKills = 20
		trials    = 36
	)
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0", MinSessionTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	addr := e.Addr()
	opts, err := crashOptions(addr, "")
	if err != nil {
		t.Fatal(err)
	}
	opts.Logger = zerolog.Nop()
	setup, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := setup.EnsureTopics(); err != nil {
		t.Fatal(err)
	}
	set := opts.Codecs
	tr := makeTraffic(20000, 3, time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	// web-3 fails 40% of its requests for a minute: the alerter pages it
	// while pods die, and must page once.
	for i, ev := range tr.events {
		if ev.Host == "web-3" && i >= 6000 && i < 12000 && (i/5)%5 < 2 {
			ev.Level, ev.Message = schemas.LevelError, "timeout after 3000 ms to 10.0.4.7:3306"
		}
	}
	recs := tr.records(t, set)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 7))
	t.Logf("seed %d: %d records (%d events, %d repeats, %d spans) in %d chunks", seed, len(recs), len(tr.events), len(tr.repeats), len(tr.spans), trials)

	leveldb := filepath.Join(t.TempDir(), "state")
	outCl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer outCl.Close()
	adm := kadm.NewClient(outCl)
	written := func() int64 {
		ends, err := adm.ListEndOffsets(context.Background(), topology.TopicUnique, topology.TopicEnriched)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		return n
	}
	start := func(trial int) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		store := ""
		if trial%2 == 1 {
			store = leveldb
		}
		cmd.Env = append(os.Environ(), envCrashBroker+"="+addr, envCrashState+"="+store)
		cmd.Stderr = &prefixWriter{t: t, prefix: fmt.Sprintf("pod %d: ", trial)}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}

	// distinctUpTo[i]: distinct events among recs[:i], what logs.unique
	// holds once a pod has processed them.
	distinctUpTo := make([]int64, len(recs)+1)
	seen := map[string]bool{}
	for i, r := range recs {
		distinctUpTo[i+1] = distinctUpTo[i]
		if r.Topic == topology.TopicParsed && !seen[string(r.Key)] {
			seen[string(r.Key)] = true
			distinctUpTo[i+1]++
		}
	}
	unique := func() int64 {
		ends, err := adm.ListEndOffsets(context.Background(), topology.TopicUnique)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		return n
	}

	midWrite := 0
	var trial int
	for trial = 0; trial < trials && midWrite < wantKills; trial++ {
		lo, hi := trial*len(recs)/trials, (trial+1)*len(recs)/trials
		produceRecords(t, addr, recs[lo:hi])
		before := written()
		cmd := start(trial)
		// Kill as soon as the pod's first output lands, or a moment
		// later: while it has emits, table writes and commits in flight.
		// A pod writes a chunk in a few batches (one per partition), so
		// waiting a fixed time (this test waited 0-100 ms) lets a fast
		// machine finish the chunk first.
		deadline := time.Now().Add(20 * time.Second)
		for written() == before && time.Now().Before(deadline) {
			time.Sleep(200 * time.Microsecond)
		}
		time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		u, want := unique(), distinctUpTo[hi]
		if u < want {
			midWrite++
		}
		t.Logf("trial %2d: killed; output records %d → %d; logs.unique %d of the %d events produced so far", trial, before, written(), u, want)
	}
	// The kills must land while pods had work in hand, or the test proves
	// little.
	if midWrite < wantKills {
		t.Errorf("only %d of %d pods were killed with input left to process", midWrite, trial)
	}
	t.Logf("%d of %d pods killed with input left to process", midWrite, trial)
	produceRecords(t, addr, recs[trial*len(recs)/trials:])
	// The last pod runs to the end; should it fail, another starts, as
	// Kubernetes would restart it.
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for pod := trial; ; pod++ {
			cmd := start(pod)
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case <-stop:
				_ = cmd.Process.Signal(syscall.SIGTERM)
				<-exited
				return
			case err := <-exited:
				t.Logf("pod %d exited (%v); starting another", pod, err)
			}
		}
	}()
	defer func() { close(stop); <-finished }()
	checkOutputs(t, addr, set, tr, 2*time.Minute)
	// One more event per host, minutes later, moves every host's stream
	// time past the last window's grace: the windows close now rather
	// than by wall-clock punctuation.
	last := tr.events[len(tr.events)-1].Timestamp
	var closing []*kgo.Record
	for h := 1; h <= 5; h++ {
		ev := &schemas.LogEvent{EventID: fmt.Sprintf("closing-%d", h), Timestamp: last + 15*60*1000, Host: fmt.Sprintf("web-%d", h),
			Level: schemas.LevelInfo, Message: "closing", Source: "stdin", Format: "json"}
		b, err := set.LogEvent.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		closing = append(closing, &kgo.Record{Topic: topology.TopicParsed, Key: []byte(ev.EventID), Value: b})
	}
	produceRecords(t, addr, closing)
	checkWindows(t, addr, set, tr, crashWindows, time.Minute)
	checkAlerts(t, addr, set, "web-3", time.Minute)
}

// checkAlerts requires the alerts topic to hold each alert (by id) once,
// and a FIRING alert for host.
func checkAlerts(t *testing.T, addr string, set *codecs.Set, host string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		recs := consumeAll(t, addr, 1, 5*time.Second, topology.TopicAlerts)
		seen, firing := map[string]int{}, false
		for _, r := range recs {
			al, err := set.Alert.Unmarshal(r.Value)
			if err != nil {
				t.Fatalf("alerts offset %d: %v", r.Offset, err)
			}
			seen[al.ID]++
			firing = firing || al.Host == host && al.State == schemas.AlertFiring
			if time.Now().After(deadline) {
				t.Logf("alert %s: %s", al.ID, al.Summary)
			}
		}
		for id, n := range seen {
			if n > 1 {
				t.Fatalf("alert %s written %d times", id, n)
			}
		}
		if firing {
			t.Logf("alerts: %d, each once", len(recs))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no FIRING alert for %s among %d alerts", host, len(recs))
		}
		time.Sleep(time.Second)
	}
}

// checkWindows requires hosts.error-rate to hold exactly one final record
// per host and window, each with the exact counts of the distinct events.
func checkWindows(t *testing.T, addr string, set *codecs.Set, tr *traffic, w errorrate.Windows, timeout time.Duration) {
	t.Helper()
	cl, err := errorrate.NewClassifier(errorrate.DefaultFailurePattern)
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		host, kind string
		start      int64
	}
	type counts struct{ events, errors int64 }
	want := map[key]counts{}
	add := func(k key, ev *schemas.LogEvent) {
		c := want[k]
		c.events++
		if cl.IsError(ev) {
			c.errors++
		}
		want[k] = c
	}
	tum, hop, adv := w.Tumbling.Milliseconds(), w.HoppingSize.Milliseconds(), w.HoppingAdvance.Milliseconds()
	for _, ev := range tr.events {
		add(key{ev.Host, schemas.WindowTumbling, ev.Timestamp / tum * tum}, ev)
		for s := ev.Timestamp / adv * adv; s > ev.Timestamp-hop; s -= adv {
			add(key{ev.Host, schemas.WindowHopping, s}, ev)
		}
	}
	recs := consumeAll(t, addr, len(want), timeout, topology.TopicHostWindows)
	got := map[key]int{}
	wrong := 0
	for _, r := range recs {
		hw, err := set.HostWindow.Unmarshal(r.Value)
		if err != nil {
			t.Fatalf("hosts.error-rate offset %d: %v", r.Offset, err)
		}
		if hw.Emit != schemas.EmitFinal {
			continue
		}
		k := key{hw.Host, hw.Kind, hw.Start}
		got[k]++
		if c := want[k]; c.events != hw.Events || c.errors != hw.Errors {
			if wrong++; wrong <= 5 {
				t.Errorf("window %v: %d events, %d errors; want %d and %d", k, hw.Events, hw.Errors, c.events, c.errors)
			}
		}
	}
	missing, doubled := 0, 0
	for k := range want {
		switch n := got[k]; {
		case n == 0:
			if missing++; missing <= 5 {
				t.Errorf("window %v: no final record", k)
			}
		case n > 1:
			if doubled++; doubled <= 5 {
				t.Errorf("window %v: %d final records", k, n)
			}
		}
	}
	t.Logf("hosts.error-rate: %d windows expected, %d final records; %d wrong, %d missing, %d doubled", len(want), len(recs), wrong, missing, doubled)
}

// prefixWriter sends a child's stderr to the test log.
type prefixWriter struct {
	t      *testing.T
	prefix string
}

func (w *prefixWriter) Write(b []byte) (int, error) {
	w.t.Log(w.prefix + string(b))
	return len(b), nil
}
