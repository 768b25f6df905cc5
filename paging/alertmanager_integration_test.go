package paging

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

// startAlertmanager runs a real Prometheus Alertmanager (the Debian package
// prometheus-alertmanager) on a free loopback port, with its own storage,
// no clustering, and one route to a receiver that sends nothing. It returns
// the base URL.
func startAlertmanager(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		bin, err = exec.LookPath("alertmanager")
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("prometheus-alertmanager is not installed; `make test` installs it (Debian package prometheus-alertmanager)")
		}
		t.Skip("prometheus-alertmanager is not installed; run `make test`, which installs it")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(conf, []byte("route:\n  receiver: 'null'\nreceivers:\n  - name: 'null'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var out bytes.Buffer
	cmd := exec.Command(bin,
		"--config.file="+conf,
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--cluster.listen-address=",
		"--log.level=warn",
	)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("alertmanager output:\n%s", out.String())
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		select {
		case <-exited:
			t.Fatalf("alertmanager exited:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager not ready after 20s (last: %v):\n%s", err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// gettableAlert is the part of API v2's gettableAlert the test reads.
type gettableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
	Status       struct {
		State string `json:"state"`
	} `json:"status"`
}

// listAlerts returns the alerts Alertmanager lists for the dedup key.
func listAlerts(t *testing.T, base, dedupKey string, query string) []gettableAlert {
	t.Helper()
	q := url.Values{"filter": {fmt.Sprintf("dedup_key=%q", dedupKey)}}
	u := base + "/api/v2/alerts?" + q.Encode()
	if query != "" {
		u += "&" + query
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	var out []gettableAlert
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// receivedTotal reads alertmanager_alerts_received_total{status,version="v2"}
// from /metrics.
func receivedTotal(t *testing.T, base, status string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	for _, line := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(line, "alertmanager_alerts_received_total{") && strings.Contains(line, `status="`+status+`"`) && strings.Contains(line, `version="v2"`) {
			return line[strings.LastIndexByte(line, ' ')+1:]
		}
	}
	return "0"
}

// A FIRING alert becomes one active alert with our labels however often it
// is delivered; its RESOLVED record ends it.
func TestAlertmanagerIntegration(t *testing.T) {
	base := startAlertmanager(t)
	n, err := NewAlertmanager(AlertmanagerConfig{URL: base, HTTP: HTTP{Retry: fastRetry(nil)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Event times close to now, as the alerter writes them.
	now := time.Now()
	firing := testAlert(schemas.AlertFiring)
	firing.FirstSeen = now.Add(-2 * time.Minute).UnixMilli()
	firing.At = now.Add(-time.Minute).UnixMilli()
	resolved := testAlert(schemas.AlertResolved)
	resolved.FirstSeen = firing.FirstSeen
	resolved.At = now.Add(-time.Second).UnixMilli()

	for i := 0; i < 2; i++ { // a redelivery
		if err := n.Notify(ctx, firing); err != nil {
			t.Fatalf("FIRING delivery %d: %v", i+1, err)
		}
	}
	got := listAlerts(t, base, firing.DedupKey, "")
	if len(got) != 1 {
		t.Fatalf("after two FIRING deliveries Alertmanager lists %d alerts, want 1: %+v", len(got), got)
	}
	a := got[0]
	if !reflect.DeepEqual(a.Labels, AlertmanagerLabels(firing)) {
		t.Errorf("labels %v, want %v", a.Labels, AlertmanagerLabels(firing))
	}
	if a.Status.State != "active" {
		t.Errorf("status %q, want active", a.Status.State)
	}
	if !a.StartsAt.Equal(time.UnixMilli(firing.FirstSeen)) {
		t.Errorf("startsAt %s, want first_seen %s", a.StartsAt, time.UnixMilli(firing.FirstSeen))
	}
	// Short: active until the next re-sends, not for days after the
	// pipeline stops.
	if !a.EndsAt.After(time.Now()) || a.EndsAt.After(time.Now().Add(DefaultFiringFor)) {
		t.Errorf("endsAt %s: a FIRING alert must stay active for at most %s from now", a.EndsAt, DefaultFiringFor)
	}
	if a.Annotations["summary"] != firing.Summary || !strings.Contains(a.Annotations["description"], "payments-db") {
		t.Errorf("annotations %v", a.Annotations)
	}
	if active := listAlerts(t, base, firing.DedupKey, "active=true"); len(active) != 1 {
		t.Errorf("active=true lists %d alerts, want 1", len(active))
	}

	if err := n.Notify(ctx, resolved); err != nil {
		t.Fatalf("RESOLVED delivery: %v", err)
	}
	// Alertmanager takes an endsAt in the past as resolved, and lists no
	// resolved alert, whatever the filter.
	if got := listAlerts(t, base, firing.DedupKey, ""); len(got) != 0 {
		t.Errorf("after RESOLVED Alertmanager still lists %+v", got)
	}
	if got := listAlerts(t, base, firing.DedupKey, "active=true"); len(got) != 0 {
		t.Errorf("after RESOLVED active=true still lists %+v", got)
	}
	if v := receivedTotal(t, base, "resolved"); v != "1" {
		t.Errorf("alertmanager_alerts_received_total{status=resolved} = %s, want 1", v)
	}
	if v := receivedTotal(t, base, "firing"); v != "2" {
		t.Errorf("alertmanager_alerts_received_total{status=firing} = %s, want 2", v)
	}

	// A redelivered RESOLVED changes nothing; a new incident (new dedup key)
	// is a new alert.
	if err := n.Notify(ctx, resolved); err != nil {
		t.Fatal(err)
	}
	next := testAlert(schemas.AlertFiring)
	next.DedupKey, next.ID = "logstream/host/web-3/8", "logstream/host/web-3/8/FIRING"
	next.FirstSeen, next.At = now.UnixMilli(), now.UnixMilli()
	if err := n.Notify(ctx, next); err != nil {
		t.Fatal(err)
	}
	if got := listAlerts(t, base, firing.DedupKey, ""); len(got) != 0 {
		t.Errorf("incident 7 is listed again: %+v", got)
	}
	if got := listAlerts(t, base, next.DedupKey, ""); len(got) != 1 {
		t.Errorf("incident 8: %d alerts, want 1", len(got))
	}
}

// Alertmanager refuses an alert it cannot validate with 400: a permanent
// error, not retried.
func TestAlertmanagerIntegrationRefusal(t *testing.T) {
	base := startAlertmanager(t)
	h := HTTP{Retry: fastRetry(nil)}
	// endsAt before startsAt fails Alertmanager's validation.
	body := []byte(`[{"labels":{"alertname":"x"},"startsAt":"2026-11-01T12:00:00Z","endsAt":"2026-11-01T11:00:00Z"}]`)
	err := h.Retry.Do(context.Background(), func(ctx context.Context) error {
		return h.post(ctx, TargetAlertmanager, base+"/api/v2/alerts", body, nil)
	})
	de, ok := err.(*DeliveryError)
	if !ok || de.StatusCode != http.StatusBadRequest || !de.Permanent {
		t.Fatalf("err = %v, want a permanent HTTP 400", err)
	}
	t.Logf("Alertmanager's refusal: %v", err)
}

// fakeAlerter is a member of the alerter's consumer group, as a running
// pipeline has: while it is in the group, the page consumer re-sends.
func fakeAlerter(t *testing.T, addr string) (stop func()) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup(topology.GroupAlerter), kgo.ConsumeTopics(topology.TopicDLQ),
		kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cl.PollFetches(ctx)
		}
	}()
	running := groupRunning(kadm.NewClient(cl), topology.GroupAlerter)
	waitFor(t, 20*time.Second, "the fake alerter in its group", func() bool { ok, _ := running(ctx); return ok })
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
			cl.Close() // leaves the group
		})
	}
	t.Cleanup(stop)
	return stop
}

// The page consumer keeps a FIRING alert alive in a real Alertmanager by
// re-sending it with a short endsAt: across its own restart, not while the
// pipeline (the alerter's group) is stopped, and never after its RESOLVED.
func TestAlertmanagerResendIntegration(t *testing.T) {
	base := startAlertmanager(t)
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addr()), kgo.RecordPartitioner(topology.Partitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, topic := range []string{topology.TopicAlerts, topology.TopicDLQ} {
		if _, err := kadm.NewClient(cl).CreateTopic(ctx, 2, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	produce := func(a *schemas.Alert) {
		t.Helper()
		v, err := set.Alert.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topology.TopicAlerts, Key: []byte(topology.FleetKey), Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	// A short re-send interval keeps the test short; the relation between
	// endsAt and the interval is the production one.
	const interval = time.Second
	firingFor := ResendsPerFiringFor * interval
	start := func() (*Consumer, func()) {
		t.Helper()
		am, err := NewAlertmanager(AlertmanagerConfig{URL: base, FiringFor: firingFor, HTTP: HTTP{Retry: fastRetry(nil)},
			GeneratorURL: "http://logstream.test:9464/query/hosts?host={host}", RunbookURL: "https://wiki.example/runbooks/{rule}"})
		if err != nil {
			t.Fatal(err)
		}
		c, err := NewConsumer(ConsumerConfig{
			Brokers:        []string{e.Addr()},
			Codecs:         set,
			Targets:        []Target{{Name: TargetAlertmanager, Notifier: am}},
			ResendInterval: interval,
			Logger:         zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel),
			Retry:          Retry{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond},
			KafkaOpts:      []kgo.Opt{kgo.FetchMaxWait(100 * time.Millisecond)},
		})
		if err != nil {
			t.Fatal(err)
		}
		rctx, rcancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- c.Run(rctx) }()
		var once sync.Once
		stop := func() {
			once.Do(func() {
				rcancel()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
			})
		}
		t.Cleanup(stop)
		return c, stop
	}
	firing := testAlert(schemas.AlertFiring)
	now := time.Now()
	firing.FirstSeen, firing.At = now.Add(-2*time.Minute).UnixMilli(), now.Add(-time.Minute).UnixMilli()
	// active returns the alert Alertmanager lists as active, if any.
	active := func() (gettableAlert, bool) {
		got := listAlerts(t, base, firing.DedupKey, "")
		if len(got) > 1 {
			t.Fatalf("Alertmanager lists %d alerts for one incident: %+v", len(got), got)
		}
		if len(got) == 1 && got[0].Status.State == "active" {
			return got[0], true
		}
		return gettableAlert{}, false
	}

	stopAlerter := fakeAlerter(t, e.Addr())
	_, stop1 := start()
	produce(firing)
	var a gettableAlert
	waitFor(t, 20*time.Second, "the FIRING alert in Alertmanager", func() bool { var ok bool; a, ok = active(); return ok })
	// endsAt is short: within FiringFor of now, not days ahead.
	if a.EndsAt.After(time.Now().Add(firingFor)) || !a.EndsAt.After(time.Now().Add(-interval)) {
		t.Errorf("endsAt %s, want at most %s after now (%s)", a.EndsAt, firingFor, time.Now())
	}
	if want := "http://logstream.test:9464/query/hosts?host=web-3"; a.GeneratorURL != want {
		t.Errorf("generatorURL %q, want %q", a.GeneratorURL, want)
	}
	if want := "https://wiki.example/runbooks/host_error_rate"; a.Annotations["runbook_url"] != want {
		t.Errorf("runbook_url %q, want %q", a.Annotations["runbook_url"], want)
	}

	// Re-sent: after its first endsAt has passed, the alert is still
	// active, with a later endsAt.
	first := a.EndsAt
	time.Sleep(time.Until(first.Add(interval)))
	a, ok := active()
	if !ok || !a.EndsAt.After(first) {
		t.Fatalf("after its first endsAt %s the alert is %+v (active %v): not re-sent", first, a, ok)
	}
	if n, _ := strconv.Atoi(receivedTotal(t, base, "firing")); n < 2 {
		t.Errorf("Alertmanager received %d FIRING posts, want the delivery and re-sends", n)
	}

	// A new member of the page group goes on re-sending: the open alert
	// comes from the table.
	stop1()
	a, _ = active()
	beforeRestart := a.EndsAt
	c2, _ := start()
	waitFor(t, 30*time.Second, "a re-send by the new member", func() bool { a, ok = active(); return ok && a.EndsAt.After(beforeRestart) })

	// The pipeline stops: no more re-sends, and Alertmanager lets the
	// alert expire although the page consumer runs.
	stopAlerter()
	waitFor(t, firingFor+20*time.Second, "the alert to expire once the pipeline stopped", func() bool { _, ok := active(); return !ok })
	if v := testutil.ToFloat64(c2.m.pipeline); v != 0 {
		t.Errorf("logstream_page_pipeline_up = %v with the alerter's group empty", v)
	}
	// It runs again: the incident is still open, and pages again.
	fakeAlerter(t, e.Addr())
	waitFor(t, 20*time.Second, "the alert back once the pipeline runs", func() bool { _, ok := active(); return ok })

	// RESOLVED ends it, and no re-send brings it back.
	resolved := testAlert(schemas.AlertResolved)
	resolved.FirstSeen, resolved.At = firing.FirstSeen, time.Now().UnixMilli()
	produce(resolved)
	waitFor(t, 20*time.Second, "the RESOLVED to end the alert", func() bool { return len(listAlerts(t, base, firing.DedupKey, "")) == 0 })
	received := receivedTotal(t, base, "firing")
	time.Sleep(3 * interval)
	if got := listAlerts(t, base, firing.DedupKey, ""); len(got) != 0 {
		t.Errorf("%s after the RESOLVED Alertmanager lists %+v", 3*interval, got)
	}
	if now := receivedTotal(t, base, "firing"); now != received {
		t.Errorf("FIRING posts went on after the RESOLVED: %s, then %s", received, now)
	}
}
