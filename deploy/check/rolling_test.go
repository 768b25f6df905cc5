package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/topology"
	"github.com/logstream/logstream/watermark"
)

// TestRollingRestart runs the dev overlay's stage Deployments as local
// processes, two pods each, with the manifests' own commands and settings
// file (the brokers, admin port and state directory of each pod set by
// environment, as the pod's would be), against one embedded broker. While
// lines flow in, it rolls every Deployment as Kubernetes does: per
// Deployment one pod at a time, a new pod first (maxSurge 1), the old one
// stopped with SIGTERM once the new one is ready; all Deployments at once.
// Every pod must stop cleanly within the grace period, and every event
// must then be in logs.unique and logs.enriched exactly once.
//
// It takes about a minute: make test runs it (make deploy-rolling), make
// deploy-check skips it (-short).
func TestRollingRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("the rolling restart takes minutes: make deploy-rolling runs it")
	}
	objs, err := Build("../overlays/dev")
	if err != nil {
		t.Fatal(err)
	}
	objs, errs := Decode(objs)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var configText string
	deps := map[string][]string{} // Deployment → its container's args
	var grace time.Duration
	for _, o := range objs {
		switch v := o.Value.(type) {
		case *corev1.ConfigMap:
			if s, ok := v.Data[configKey]; ok {
				configText = s
			}
		case *appsv1.Deployment:
			ct := v.Spec.Template.Spec.Containers[0]
			if len(ct.Args) > 0 && ct.Args[0] == "run" {
				deps[o.Name] = ct.Args
				grace = time.Duration(*v.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
			}
		}
	}
	if len(deps) != 6 || configText == "" {
		t.Fatalf("the dev overlay has %d stage Deployments and config %q", len(deps), configText)
	}

	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, configKey)
	if err := os.WriteFile(cfgFile, []byte(configText), 0o600); err != nil {
		t.Fatal(err)
	}

	type pod struct {
		name   string
		admin  string
		cmd    *exec.Cmd
		out    *bytes.Buffer
		exited chan error
	}
	var podN atomic.Int64
	start := func(dep string) *pod {
		n := podN.Add(1)
		args := append([]string(nil), deps[dep]...)
		for i := range args {
			if i > 0 && args[i-1] == "--config" {
				args[i] = cfgFile
			}
		}
		p := &pod{name: fmt.Sprintf("%s-%d", dep, n), admin: freeAddr(t), out: &bytes.Buffer{}, exited: make(chan error, 1)}
		p.cmd = exec.Command(logstreamBin, args...)
		p.cmd.Env = []string{
			"LOGSTREAM_BROKERS=" + e.Addr(),
			"LOGSTREAM_ADMIN_ADDR=" + p.admin,
			"LOGSTREAM_STATE_DIR=" + filepath.Join(dir, p.name),
			"LOGSTREAM_LOG_LEVEL=warn",
			"HOME=" + dir,
		}
		p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { p.exited <- p.cmd.Wait() }()
		return p
	}
	ready := func(p *pod, timeout time.Duration) error {
		deadline := time.Now().Add(timeout)
		for time.Now().Before(deadline) {
			select {
			case err := <-p.exited:
				return fmt.Errorf("pod %s exited before it was ready (%v):\n%s", p.name, err, p.out)
			default:
			}
			if res, err := http.Get("http://" + p.admin + "/readyz"); err == nil {
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					return nil
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		return fmt.Errorf("pod %s not ready after %s:\n%s", p.name, timeout, p.out)
	}
	// stop is the kubelet's: SIGTERM, then SIGKILL after the grace period.
	stop := func(p *pod) error {
		began := time.Now()
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-p.exited:
			if err != nil {
				return fmt.Errorf("pod %s: SIGTERM ended it with %v:\n%s", p.name, err, p.out)
			}
			t.Logf("pod %s stopped in %s", p.name, time.Since(began).Round(10*time.Millisecond))
			return nil
		case <-time.After(grace):
			_ = p.cmd.Process.Kill()
			<-p.exited
			return fmt.Errorf("pod %s still running %s after SIGTERM (terminationGracePeriodSeconds):\n%s", p.name, grace, p.out)
		}
	}

	// Two pods per Deployment; the first creates the topics.
	pods := map[string][]*pod{}
	var all []*pod
	defer func() {
		for _, p := range all {
			if p.cmd.ProcessState == nil {
				_ = p.cmd.Process.Kill()
			}
		}
	}()
	for dep := range deps {
		for range 2 {
			p := start(dep)
			pods[dep] = append(pods[dep], p)
			all = append(all, p)
		}
	}
	for _, ps := range pods {
		for _, p := range ps {
			if err := ready(p, 3*time.Minute); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("%d pods ready", len(all))

	// Traffic: plain JSON lines, as a shipper writes them, keyed by host;
	// every seventh line sent twice (a shipper's retry: one event).
	prod, err := kgo.NewClient(kgo.SeedBrokers(e.Addr()), kgo.DefaultProduceTopic(topology.TopicRaw))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	var sent atomic.Int64
	trafficDone := make(chan struct{})
	stopTraffic := make(chan struct{})
	go func() {
		defer close(trafficDone)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stopTraffic:
				return
			case <-tick.C:
			}
			line := fmt.Sprintf(`{"time":%q,"level":"info","msg":"rolling event %d"}`, time.Now().UTC().Format(time.RFC3339Nano), i)
			r := &kgo.Record{Key: []byte(fmt.Sprintf("web-%d", i%5+1)), Value: []byte(line)}
			copies := 1
			if i%7 == 0 {
				copies = 2
			}
			for range copies {
				if err := prod.ProduceSync(context.Background(), r).FirstErr(); err != nil {
					t.Errorf("produce: %v", err)
					return
				}
				r = &kgo.Record{Key: r.Key, Value: r.Value}
			}
			sent.Store(int64(i + 1))
		}
	}()
	time.Sleep(3 * time.Second)

	// The roll: every Deployment at once, one pod at a time in each.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var rollErrs []error
	for dep := range deps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fail := func(err error) {
				mu.Lock()
				rollErrs = append(rollErrs, err)
				mu.Unlock()
			}
			for i, old := range pods[dep] {
				p := start(dep)
				mu.Lock()
				all = append(all, p)
				mu.Unlock()
				if err := ready(p, 3*time.Minute); err != nil {
					fail(err)
					return
				}
				time.Sleep(3 * time.Second) // minReadySeconds, shortened
				if err := stop(old); err != nil {
					fail(err)
				}
				pods[dep][i] = p
			}
		}()
	}
	wg.Wait()
	for _, err := range rollErrs {
		t.Error(err)
	}
	if t.Failed() {
		close(stopTraffic)
		<-trafficDone
		return
	}
	time.Sleep(3 * time.Second)
	close(stopTraffic)
	<-trafficDone
	n := int(sent.Load())
	t.Logf("%d events sent (%d lines with the repeats) while every Deployment rolled", n, n+(n+6)/7)

	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{topology.TopicUnique, topology.TopicEnriched} {
		seen := readMessages(t, e.Addr(), topic, set, n, 2*time.Minute)
		for i := range n {
			msg := fmt.Sprintf("rolling event %d", i)
			if c := seen[msg]; c != 1 {
				t.Errorf("%s: %q is there %d times", topic, msg, c)
			}
		}
		t.Logf("%s: %d distinct events", topic, len(seen))
	}
	for _, ps := range pods {
		for _, p := range ps {
			if err := stop(p); err != nil {
				t.Error(err)
			}
		}
	}
}

// readMessages counts the events of a topic by message, until it holds
// want distinct ones (and a moment more, for any duplicate) or timeout.
func readMessages(t *testing.T, addr, topic string, set *codecs.Set, want int, timeout time.Duration) map[string]int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[string]int{}
	deadline := time.Now().Add(timeout)
	var after time.Time
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == watermark.HeaderKind && string(h.Value) == watermark.KindWatermark {
					return
				}
			}
			ev, err := set.LogEvent.Unmarshal(r.Value)
			if err != nil {
				t.Errorf("%s/%d@%d: %v", topic, r.Partition, r.Offset, err)
				return
			}
			if strings.HasPrefix(ev.Message, "rolling event ") {
				seen[ev.Message]++
			}
		})
		switch {
		case len(seen) >= want && after.IsZero():
			after = time.Now().Add(2 * time.Second)
		case !after.IsZero() && time.Now().After(after):
			return seen
		case time.Now().After(deadline):
			t.Errorf("%s: %d of %d events after %s", topic, len(seen), want, timeout)
			return seen
		}
	}
}

// freeAddr returns a loopback address with a port that is free now, below
// the kernel's ephemeral range (32768 and up on Linux), so that no
// outgoing connection of the pods takes it before its pod listens.
func freeAddr(t *testing.T) string {
	t.Helper()
	for range 1000 {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12000))
		if ln, err := net.Listen("tcp", addr); err == nil {
			ln.Close()
			return addr
		}
	}
	t.Fatal("no free port between 20000 and 32000")
	return ""
}
