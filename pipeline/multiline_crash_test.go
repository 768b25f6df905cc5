package pipeline

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/topology"
)

// multilineTraffic is hosts' output as a shipper sends it, one record a
// line: JSON lines, Java errors with stack traces, Python tracebacks and
// CRI lines the runtime split in parts; want holds each event's host and
// message (a trace's message holds its lines), what logs.parsed must
// hold once each.
type multilineTraffic struct {
	recs []*kgo.Record
	want map[string]bool // host + "\x00" + message
}

func makeMultilineTraffic(hosts, events int, seed uint64) multilineTraffic {
	rng := rand.New(rand.NewPCG(seed, 3))
	tr := multilineTraffic{want: map[string]bool{}}
	t0 := time.Date(2026, 11, 3, 8, 0, 0, 0, time.UTC)
	for i := 0; i < events; i++ {
		host := fmt.Sprintf("pay-%d", rng.IntN(hosts))
		at := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		send := func(line string) {
			tr.recs = append(tr.recs, &kgo.Record{Topic: topology.TopicRaw, Key: []byte(host), Value: []byte(line), Timestamp: at})
		}
		switch k := rng.IntN(10); {
		case k < 5:
			send(fmt.Sprintf(`{"ts":%q,"level":"info","msg":"charged order %d"}`, at.Format(time.RFC3339Nano), i))
			tr.want[host+"\x00charged order "+fmt.Sprint(i)] = true
		case k < 7:
			lines := []string{fmt.Sprintf("java.sql.SQLTimeoutException: order %d timed out", i)}
			for j := rng.IntN(6); j > 0; j-- {
				lines = append(lines, fmt.Sprintf("\tat com.shop.Pay.f%d(Pay.java:%d)", j, i))
			}
			if rng.IntN(2) == 0 {
				lines = append(lines, "Caused by: java.net.SocketTimeoutException: Read timed out", "\t... 12 more")
			}
			send(fmt.Sprintf("%s ERROR [main] c.s.Pay - charge %d failed", at.Format("2006-01-02 15:04:05,000"), i))
			for _, l := range lines {
				send(l)
			}
			tr.want[host+"\x00charge "+fmt.Sprint(i)+" failed\n"+strings.Join(lines, "\n")] = true
		case k < 8:
			lines := []string{"Traceback (most recent call last):", `  File "/app/db.py", line 41, in query`, fmt.Sprintf("TimeoutError: order %d", i)}
			send(fmt.Sprintf("%s - payments.db - ERROR - query %d failed", at.Format("2006-01-02 15:04:05,000"), i))
			for _, l := range lines {
				send(l)
			}
			tr.want[host+"\x00query "+fmt.Sprint(i)+" failed\n"+strings.Join(lines, "\n")] = true
		case k < 9:
			// A CRI line the runtime split in three parts.
			ts := at.Format(time.RFC3339Nano)
			send(ts + " stdout P part one of ")
			send(ts + " stdout P line " + fmt.Sprint(i))
			send(ts + " stdout F , the end")
			tr.want[host+"\x00part one of line "+fmt.Sprint(i)+", the end"] = true
		default:
			// An error nothing follows: held until the host's next line.
			send(fmt.Sprintf("%s WARN [main] c.s.Pool - pool busy %d", at.Format("2006-01-02 15:04:05,000"), i))
			tr.want[host+"\x00pool busy "+fmt.Sprint(i)] = true
		}
	}
	return tr
}

// TestMultilineCrash kills parse pods with SIGKILL at random points while
// traces are held in their table, the input arriving in chunks that cut
// traces and CRI lines apart, then lets a last pod finish: logs.parsed
// must hold every event, traces whole, and nothing else (a fragment of a
// trace as an event of its own, a line joined twice). Parse is
// at-least-once: the same event (same id) may be written twice, and
// dedupe drops the second.
func TestMultilineCrash(t *testing.T) {
	const (
		trials    = 14
		wantKills = 8
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
	opts.Stages, opts.Logger = []string{"parse"}, zerolog.Nop()
	setup, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := setup.EnsureTopics(); err != nil {
		t.Fatal(err)
	}
	seed := uint64(time.Now().UnixNano())
	tr := makeMultilineTraffic(5, 6000, seed)
	rng := rand.New(rand.NewPCG(seed, 11))
	t.Logf("seed %d: %d records, %d events", seed, len(tr.recs), len(tr.want))

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	written := func() int64 {
		ends, err := adm.ListEndOffsets(context.Background(), topology.TopicParsed)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
		return n
	}
	leveldb := filepath.Join(t.TempDir(), "state")
	start := func(trial int) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		store := ""
		if trial%2 == 1 {
			store = leveldb
		}
		cmd.Env = append(os.Environ(), envCrashBroker+"="+addr, envCrashState+"="+store, envCrashStages+"=parse")
		cmd.Stderr = &prefixWriter{t: t, prefix: fmt.Sprintf("pod %d: ", trial)}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	kills := 0
	var trial int
	for trial = 0; trial < trials; trial++ {
		lo, hi := trial*len(tr.recs)/trials, (trial+1)*len(tr.recs)/trials
		produceRecords(t, addr, tr.recs[lo:hi])
		before := written()
		cmd := start(trial)
		deadline := time.Now().Add(20 * time.Second)
		for written() == before && time.Now().Before(deadline) {
			time.Sleep(200 * time.Microsecond)
		}
		time.Sleep(time.Duration(rng.IntN(3000)) * time.Microsecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		if written() > before {
			kills++
		}
	}
	if kills < wantKills {
		t.Errorf("only %d of %d pods were killed with output in flight", kills, trials)
	}
	cmd := start(trial)
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()

	// Each host's last event may be held: the sweep emits it after the
	// idle time.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got, ids, dups := map[string]string{}, 0, 0
		var extra []string
		for _, r := range consumeAll(t, addr, len(tr.want), 10*time.Second, topology.TopicParsed) {
			ev := decodeEvent(t, setup.opts.Codecs, r)
			k := ev.Host + "\x00" + ev.Message
			if id, ok := got[k]; ok {
				if id != ev.EventID {
					t.Fatalf("event %q written under two ids", k)
				}
				dups++
				continue
			}
			got[k] = ev.EventID
			ids++
			if !tr.want[k] {
				extra = append(extra, strings.ReplaceAll(k, "\x00", ": "))
			}
		}
		missing := 0
		for k := range tr.want {
			if _, ok := got[k]; !ok {
				missing++
			}
		}
		if len(extra) > 0 {
			t.Fatalf("%d events that are not whole events of the input (a trace cut apart or joined twice), e.g. %q", len(extra), extra[0])
		}
		if missing == 0 {
			t.Logf("%d events, each once (%d written again after a kill, same id); %d of %d pods killed with output in flight", ids, dups, kills, trials)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events missing", missing, len(tr.want))
		}
		time.Sleep(time.Second)
	}
}
