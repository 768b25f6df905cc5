package query

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/processors/errorrate"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

// t0 is a minute boundary: the current tumbling windows are [t0, t0+1m).
var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).UnixMilli()

type fixture struct {
	addr string
	set  *codecs.Set
	cl   *kgo.Client
}

// startBroker starts the embedded broker with both tables (compacted, as
// the pipeline creates them) and a client that places keys as goka does.
func startBroker(t *testing.T) *fixture {
	t.Helper()
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	tables := map[string]int{topology.TableTopic(topology.GroupErrorRate): 3, topology.TableTopic(topology.GroupAlerter): 3}
	if err := broker.EnsureTopics([]string{e.Addr()}, broker.Tuning{Replication: 1}, nil, tables); err != nil {
		t.Fatal(err)
	}
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addr()), kgo.RecordPartitioner(topology.Partitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &fixture{addr: e.Addr(), set: set, cl: cl}
}

func (f *fixture) produce(t *testing.T, topic, key string, value []byte) {
	t.Helper()
	if err := f.cl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Key: []byte(key), Value: value}).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// putHost writes a partition state holding one host (the table holds one
// value per partition of the errorrate stage, with its hosts; any key
// does for the views).
func (f *fixture) putHost(t *testing.T, host string, h *schemas.PartitionHost) {
	t.Helper()
	h.Host = host
	b, err := f.set.ErrorRatePartition.Marshal(&schemas.ErrorRatePartition{Applied: 10, Status: "time", Hosts: []schemas.PartitionHost{*h}})
	if err != nil {
		t.Fatal(err)
	}
	f.produce(t, topology.TableTopic(topology.GroupErrorRate), "~state-of-"+host, b)
}

// pane is a pane's counts; lat, when set, its latencies.
func pane(start, events, errors int64, lat errorrate.Sketch, sigs ...schemas.SignatureCount) schemas.PartitionPane {
	return schemas.PartitionPane{Start: start, Events: events, Errors: errors, Latency: lat.AppendBinary(nil), Signatures: sigs}
}

// hostState is a host with one pane per minute, its latest event at last.
func hostState(last int64, panes ...schemas.PartitionPane) *schemas.PartitionHost {
	return &schemas.PartitionHost{Version: 3, LastEvent: last, Panes: panes}
}

// run starts h and waits until it has read both tables.
func run(t *testing.T, h *Hosts) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	wctx, wcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer wcancel()
	if err := h.WaitRecovered(wctx); err != nil {
		t.Fatal(err)
	}
}

func TestTopHostsAndOpenAlerts(t *testing.T) {
	f := startBroker(t)
	lat := errorrate.Sketch{}
	for i := 0; i < 97; i++ {
		lat.Add(20)
	}
	for i := 0; i < 3; i++ {
		lat.Add(900)
	}
	wantP99, _ := lat.Quantile(0.99)
	// web-1: 25 errors in 100 events this minute, 2 in 40 the minute before.
	f.putHost(t, "web-1", hostState(t0+30_000,
		pane(t0-60_000, 40, 2, nil),
		pane(t0, 100, 25, lat,
			schemas.SignatureCount{Signature: "connection refused", Count: 5, Example: "connection refused"},
			schemas.SignatureCount{Signature: "upstream timeout after <n> ms", Count: 20, Example: "upstream timeout after 3012 ms"})))
	// web-2: the worst, 20 of 50.
	f.putHost(t, "web-2", hostState(t0+10_000, pane(t0, 50, 20, nil, schemas.SignatureCount{Signature: "HTTP 503", Count: 20, Example: "HTTP 503"})))
	// web-0: ties with web-1 (25%): the host name decides.
	f.putHost(t, "web-0", hostState(t0+5_000, pane(t0, 4, 1, nil)))
	f.putHost(t, "web-3", hostState(t0+50_000, pane(t0, 80, 4, nil)))
	// web-4 has counted nothing yet: no window.
	f.putHost(t, "web-4", &schemas.PartitionHost{Late: 3})
	// A record that is no state is skipped and counted; a state of the
	// previous version (per host, read in at the upgrade) is skipped.
	f.produce(t, topology.TableTopic(topology.GroupErrorRate), "garbage", []byte("not avro"))
	old, _ := f.set.ErrorRateState.Marshal(&schemas.ErrorRateState{Applied: 1, Panes: []schemas.Pane{{Start: t0, Events: 9}}})
	f.produce(t, topology.TableTopic(topology.GroupErrorRate), "web-9", old)

	al := &schemas.AlerterState{Applied: 7, Seq: 4,
		Hosts: []schemas.HostView{{Host: "web-0", Silent: true}},
		Watermark: schemas.WatermarkState{Channels: []schemas.WatermarkChannel{
			{Channel: "errorrate/0", Kind: "time", Time: t0 + 40_000}, {Channel: "errorrate/1", Kind: "time", Time: t0 + 45_000},
			{Channel: "errorrate/2", Kind: "idle", Time: t0}}, Groups: []string{"errorrate"}, Watermark: t0 + 40_000},
		Incidents: []schemas.Incident{
			{Key: "fleet", Scope: schemas.ScopeFleet, Rule: "fleet_error_rate", Rules: []string{"fleet_error_rate"},
				State: schemas.IncidentResolving, Since: t0 - 100_000, FirstSeen: t0 - 200_000, LastSeen: t0, Number: 1},
			{Key: "host:web-3", Scope: schemas.ScopeHost, Host: "web-3", Rule: "host_error_rate", Rules: []string{"host_error_rate"},
				State: schemas.IncidentPending, Since: t0, FirstSeen: t0, LastSeen: t0, Number: 0},
			{Key: "host:web-2", Scope: schemas.ScopeHost, Host: "web-2", Rule: "host_error_rate", Rules: []string{"host_error_rate", "host_vs_fleet"},
				State: schemas.IncidentFiring, Since: t0 + 5_000, FirstSeen: t0, LastSeen: t0 + 10_000, Number: 3},
		}}
	b, err := f.set.AlerterState.Marshal(al)
	if err != nil {
		t.Fatal(err)
	}
	f.produce(t, topology.TableTopic(topology.GroupAlerter), topology.FleetKey, b)

	h, err := New([]string{f.addr}, f.set, errorrate.DefaultWindows(), Options{Tuning: broker.Tuning{Replication: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Top(2); !errors.Is(err, ErrNotReady) {
		t.Fatalf("Top before Run: %v, want ErrNotReady", err)
	}
	run(t, h)

	res, err := h.Top(2)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hosts) != 2 || res.TotalHosts != 4 || res.Undecodable != 1 {
		t.Fatalf("Top(2): %d hosts of %d, %d undecodable: %+v", len(res.Hosts), res.TotalHosts, res.Undecodable, res)
	}
	w2 := res.Hosts[0]
	if w2.Host != "web-2" || w2.Events != 50 || w2.Errors != 20 || w2.ErrorRate != 0.4 || w2.WindowStart != t0 || w2.WindowEnd != t0+60_000 ||
		w2.AsOf != t0+10_000 || w2.TopSignature != "HTTP 503" || w2.TopSignatureCount != 20 || w2.LatencyP99 != nil {
		t.Errorf("worst host: %+v", w2)
	}
	if w2.Hopping == nil || *w2.Hopping != (Window{Start: t0 - 240_000, End: t0 + 60_000, Events: 50, Errors: 20, ErrorRate: 0.4}) {
		t.Errorf("web-2 hopping window: %+v", w2.Hopping)
	}
	if w0 := res.Hosts[1]; w0.Host != "web-0" || w0.Events != 4 || w0.Errors != 1 || w0.ErrorRate != 0.25 || !w0.Silent {
		t.Errorf("second host (a tie with web-1, broken by name; silent by the alerter): %+v", w0)
	}
	if wm := res.Watermark; wm == nil || wm.At != t0+40_000 || wm.Status != "time" || wm.Active != 2 || wm.Idle != 1 || wm.LagSeconds <= 0 {
		t.Errorf("watermark: %+v", wm)
	}
	wantAlerts := []OpenAlert{
		{Key: "host:web-2", Scope: "host", Host: "web-2", Rule: "host_error_rate", Rules: []string{"host_error_rate", "host_vs_fleet"},
			State: "firing", Since: t0 + 5_000, FirstSeen: t0, LastSeen: t0 + 10_000, Number: 3},
		{Key: "fleet", Scope: "fleet", Rule: "fleet_error_rate", Rules: []string{"fleet_error_rate"},
			State: "resolving", Since: t0 - 100_000, FirstSeen: t0 - 200_000, LastSeen: t0, Number: 1},
	}
	if !reflect.DeepEqual(res.Alerts, wantAlerts) {
		t.Errorf("alerts:\n got %+v\nwant %+v", res.Alerts, wantAlerts)
	}

	all, err := h.Top(0)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, hr := range all.Hosts {
		order = append(order, hr.Host)
	}
	if strings.Join(order, " ") != "web-2 web-0 web-1 web-3" {
		t.Errorf("order %v", order)
	}
	w1 := all.Hosts[2]
	if w1.Events != 100 || w1.Errors != 25 || w1.TopSignature != "upstream timeout after <n> ms" || w1.TopSignatureCount != 20 ||
		w1.LatencyP99 == nil || *w1.LatencyP99 != wantP99 || w1.LatencyP50 == nil ||
		w1.Hopping == nil || w1.Hopping.Events != 140 || w1.Hopping.Errors != 27 {
		t.Errorf("web-1: %+v (hopping %+v)", w1, w1.Hopping)
	}

	// The views follow the tables: web-3 gets worse.
	f.putHost(t, "web-3", hostState(t0+55_000, pane(t0, 80, 60, nil)))
	deadline := time.Now().Add(15 * time.Second)
	for {
		res, err := h.Top(1)
		if errors.Is(err, ErrNotReady) && time.Now().Before(deadline) {
			// A view reading new records can say so for a moment.
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Hosts) == 1 && res.Hosts[0].Host == "web-3" && res.Hosts[0].Errors == 60 && res.Hosts[0].ErrorRate == 0.75 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the view did not see web-3's update: %+v", res.Hosts)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestHandler(t *testing.T) {
	f := startBroker(t)
	f.putHost(t, "web-1", hostState(t0+1_000, pane(t0, 10, 1, nil)))
	f.putHost(t, "web-2", hostState(t0+2_000, pane(t0, 10, 5, nil)))
	f.putHost(t, "web-3", hostState(t0+3_000, pane(t0, 10, 0, nil)))
	h, err := New([]string{f.addr}, f.set, errorrate.Windows{Tumbling: time.Minute}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	get := func(path string) (int, http.Header, []byte) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header, b
	}
	if code, hdr, body := get("/query/hosts?top=2"); code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || !strings.Contains(string(body), "still being read") {
		t.Errorf("before the views run: %d %s", code, body)
	}
	run(t, h)

	code, hdr, body := get("/query/hosts?top=2")
	if code != 200 || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("top=2: %d %s %s", code, hdr.Get("Content-Type"), body)
	}
	var res Result
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	want, err := h.Top(2)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res, want) || len(res.Hosts) != 2 || res.Hosts[0].Host != "web-2" || res.Hosts[0].Errors != 5 || res.Hosts[1].Host != "web-1" ||
		res.Hosts[0].Hopping != nil || res.TotalHosts != 3 {
		t.Errorf("top=2: %s", body)
	}
	// The JSON names its fields; no alerts is an empty list, not null.
	for _, key := range []string{`"host":"web-2"`, `"error_rate":0.5`, `"window_start":` + "1767268800000", `"as_of":`, `"alerts":[]`, `"total_hosts":3`} {
		if !strings.Contains(string(body), key) {
			t.Errorf("JSON lacks %s: %s", key, body)
		}
	}
	if code, _, body := get("/query/hosts"); code != 200 || strings.Count(string(body), `"host"`) != 3 {
		t.Errorf("default top: %d %s", code, body)
	}
	// One host, wherever it ranks (web-3 is last); an unknown host is an
	// empty answer, not an error; an empty host is no filter.
	code, _, body = get("/query/hosts?top=1&host=web-3")
	var one Result
	if err := json.Unmarshal(body, &one); code != 200 || err != nil || len(one.Hosts) != 1 || one.Hosts[0].Host != "web-3" || one.Hosts[0].Events != 10 || one.TotalHosts != 3 {
		t.Errorf("host=web-3: %d %s", code, body)
	}
	if code, _, body := get("/query/hosts?host=web-9"); code != 200 || !strings.Contains(string(body), `"hosts":[]`) || !strings.Contains(string(body), `"alerts":[]`) {
		t.Errorf("host=web-9: %d %s", code, body)
	}
	if code, _, body := get("/query/hosts?host="); code != 200 || strings.Count(string(body), `"host"`) != 3 {
		t.Errorf("host=: %d %s", code, body)
	}
	for _, bad := range []string{"0", "-1", "x", "2.5", "10001"} {
		if code, _, body := get("/query/hosts?top=" + bad); code != http.StatusBadRequest || !strings.Contains(string(body), `"error"`) {
			t.Errorf("top=%s: %d %s", bad, code, body)
		}
	}
	resp, err := http.Post(srv.URL+"/query/hosts", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
}

// Without the tables (no pipeline ever ran on the brokers) New says which.
func TestNewWithoutTables(t *testing.T) {
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	_, err = New([]string{e.Addr()}, set, errorrate.Windows{}, Options{})
	if err == nil || !strings.Contains(err.Error(), topology.TableTopic(topology.GroupErrorRate)) {
		t.Fatalf("New without tables: %v", err)
	}
}

func TestResultForHost(t *testing.T) {
	r := Result{
		Hosts:      []HostRate{{Host: "web-2", Errors: 5}, {Host: "web-1", Errors: 1}},
		TotalHosts: 7,
		Alerts: []OpenAlert{{Key: "host:web-1", Host: "web-1", State: "firing"}, {Key: "fleet", Scope: "fleet", State: "firing"},
			{Key: "host:web-2", Host: "web-2", State: "resolving"}},
		Watermark: &Watermark{At: 5},
	}
	got := r.ForHost("web-1")
	want := Result{Hosts: []HostRate{{Host: "web-1", Errors: 1}}, TotalHosts: 7,
		Alerts: []OpenAlert{{Key: "host:web-1", Host: "web-1", State: "firing"}}, Watermark: &Watermark{At: 5}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ForHost(web-1) = %+v, want %+v", got, want)
	}
	if len(r.Hosts) != 2 || len(r.Alerts) != 3 {
		t.Errorf("ForHost changed its receiver: %+v", r)
	}
}
