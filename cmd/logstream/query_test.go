package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/query"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

func TestQueryHostsSettings(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"query", "hosts", "--top", "0"}, "top"},
		{[]string{"query", "hosts", "--top", "many"}, "top"},
		{[]string{"query", "hosts", "--format", "xml"}, "format"},
		{[]string{"query", "hosts", "--timeout", "0s"}, "timeout"},
		{[]string{"query", "hosts", "--hop-size", "5m", "--hop-advance", "10m"}, "window"},
	} {
		var out, errb bytes.Buffer
		if code := runMain(tc.args, &out, &errb, env(nil)); code != 2 || !strings.Contains(errb.String(), tc.want) ||
			strings.Count(strings.TrimSpace(errb.String()), "\n") != 0 {
			t.Errorf("%v: exit %d, want 2 and one line naming %q: %q", tc.args, code, tc.want, errb.String())
		}
	}
	c, _, err := parseConfig(cmdByName(t, "query hosts"), nil, env(map[string]string{"LOGSTREAM_QUERY_TOP": "3", "LOGSTREAM_QUERY_FORMAT": "json"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Max != 3 || c.Format != "json" || c.Duration != 30*time.Second || c.Alerting.Window != time.Minute {
		t.Errorf("settings: top %d format %s timeout %s window %s", c.Max, c.Format, c.Duration, c.Alerting.Window)
	}
	var h bytes.Buffer
	runMain([]string{"query", "hosts", "--help"}, &h, &h, env(nil))
	for _, want := range []string{"Usage: logstream query hosts", "--top", "--format", "table, or json", "/query/hosts?top=N", "--timeout", "--window"} {
		if !strings.Contains(h.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, h.String())
		}
	}
}

// Without the pipeline's tables the command says what is missing.
func TestQueryHostsWithoutPipeline(t *testing.T) {
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var out, errb bytes.Buffer
	code := runMain([]string{"query", "hosts", "--brokers", e.Addr(), "--log-level", "error"}, &out, &errb, env(nil))
	if code != 1 || !strings.Contains(errb.String(), "errorrate-table") || !strings.Contains(errb.String(), "logstream run") {
		t.Errorf("exit %d: %s", code, errb.String())
	}
}

// `logstream run` serves the window state at /query/hosts on its admin
// port, and `logstream query hosts` prints the same, as JSON or a table.
func TestQueryHostsOnRunningPipeline(t *testing.T) {
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	windows := []string{"--window", "10m", "--hop-size", "0s"}
	cfg, _, err := parseConfig(cmdByName(t, "run"), append([]string{"--brokers", e.Addr(), "--stages", "errorrate", "--partitions", "3",
		"--admin-addr", "127.0.0.1:0", "--log-format", "json"}, windows...), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- runPipeline(ctx, cfg, runErr) }()
	defer func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("run: %v", err)
		}
	}()
	var admin string
	addrRE := regexp.MustCompile(`"addr":"([^"]+)"[^\n]*/query/hosts`)
	for deadline := time.Now().Add(30 * time.Second); admin == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := addrRE.FindStringSubmatch(runErr.String()); m != nil {
			admin = m[1]
		}
	}
	if admin == "" {
		t.Fatalf("run did not announce /query/hosts on its admin port:\n%s", runErr.String())
	}

	// Events to the errorrate stage's input, all in one 10-minute window:
	// web-1 fails half of 20 requests, web-2 4 of 20, web-3 none of 10.
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addr()), kgo.RecordPartitioner(topology.Partitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ts := time.Now().Truncate(10*time.Minute).UnixMilli() + 1_000
	var recs []*kgo.Record
	add := func(host string, n, errs int, msg string) {
		for i := 0; i < n; i++ {
			lat := float64(10 + i)
			ev := &schemas.LogEvent{EventID: fmt.Sprintf("%s-%d", host, i), Timestamp: ts + int64(i), Host: host, Service: "pay",
				Level: schemas.LevelInfo, Message: "GET /pay 200", LatencyMs: &lat, Source: "test", Format: "json"}
			if i < errs {
				ev.Level, ev.Message = schemas.LevelError, msg
			}
			b, err := set.LogEvent.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, &kgo.Record{Topic: topology.TopicUnique, Key: []byte(ev.EventID), Value: b})
		}
	}
	add("web-1", 20, 10, "upstream timeout after 3012 ms")
	add("web-2", 20, 4, "connection refused")
	add("web-3", 10, 0, "")
	al := &schemas.AlerterState{Applied: 1, Incidents: []schemas.Incident{{Key: "host:web-1", Scope: schemas.ScopeHost, Host: "web-1",
		Rule: "host_error_rate", Rules: []string{"host_error_rate"}, State: schemas.IncidentFiring, Since: ts + 5_000, FirstSeen: ts, LastSeen: ts + 19, Number: 1}}}
	b, err := set.AlerterState.Marshal(al)
	if err != nil {
		t.Fatal(err)
	}
	recs = append(recs, &kgo.Record{Topic: topology.TableTopic(topology.GroupAlerter), Key: []byte(topology.FleetKey), Value: b})
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	// The admin port answers once the stage has counted everything.
	var body []byte
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get("http://" + admin + "/query/hosts?top=2")
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 && strings.Contains(string(body), `"total_hosts":3`) && strings.Contains(string(body), `"events":20,"errors":4`) &&
			strings.Contains(string(body), `"events":20,"errors":10`) && strings.Contains(string(body), `"alerts":[{`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/query/hosts?top=2: %d %s", resp.StatusCode, body)
		}
	}
	var res query.Result
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	check := func(from string, res query.Result) {
		t.Helper()
		if len(res.Hosts) != 2 || res.TotalHosts != 3 {
			t.Fatalf("%s: %+v", from, res)
		}
		start := time.UnixMilli(ts).Truncate(10 * time.Minute).UnixMilli()
		w1, w2 := res.Hosts[0], res.Hosts[1]
		if w1.Host != "web-1" || w1.Events != 20 || w1.Errors != 10 || w1.ErrorRate != 0.5 || w1.WindowStart != start || w1.WindowEnd != start+600_000 ||
			w1.AsOf != time.UnixMilli(ts+19).Truncate(time.Second).UnixMilli() || !strings.Contains(w1.TopSignature, "upstream timeout") || w1.TopSignatureCount != 10 || w1.LatencyP99 == nil || w1.Hopping != nil {
			t.Errorf("%s: first host %+v", from, w1)
		}
		if w2.Host != "web-2" || w2.Events != 20 || w2.Errors != 4 || w2.ErrorRate != 0.2 {
			t.Errorf("%s: second host %+v", from, w2)
		}
		if len(res.Alerts) != 1 || res.Alerts[0].Key != "host:web-1" || res.Alerts[0].State != "firing" || res.Alerts[0].Since != ts+5_000 {
			t.Errorf("%s: alerts %+v", from, res.Alerts)
		}
	}
	check("/query/hosts", res)
	if code, body := httpGet(t, "http://"+admin+"/query/hosts?top=zero"); code != http.StatusBadRequest {
		t.Errorf("top=zero: %d %s", code, body)
	}

	// The command reads the same tables with its own views.
	var out, errb bytes.Buffer
	args := append([]string{"query", "hosts", "--brokers", e.Addr(), "--top", "2", "--format", "json", "--log-level", "error"}, windows...)
	if code := runMain(args, &out, &errb, env(nil)); code != 0 {
		t.Fatalf("query hosts --format json: exit %d: %s", code, errb.String())
	}
	var cres query.Result
	if err := json.Unmarshal(out.Bytes(), &cres); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	check("query hosts --format json", cres)

	out.Reset()
	errb.Reset()
	args = append([]string{"query", "hosts", "--brokers", e.Addr(), "--top", "2", "--log-level", "error"}, windows...)
	if code := runMain(args, &out, &errb, env(nil)); code != 0 {
		t.Fatalf("query hosts: exit %d: %s", code, errb.String())
	}
	text := out.String()
	lines := strings.Split(text, "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "HOST") || !strings.Contains(lines[0], "RATE 10m") || strings.Contains(lines[0], "RATE 0s") ||
		!regexp.MustCompile(`^web-1\s+50\.0%\s+20\s+10\s+\d+ms\s+\S+ \S+-\S+\s+upstream timeout`).MatchString(lines[1]) ||
		!regexp.MustCompile(`^web-2\s+20\.0%\s+20\s+4\s+`).MatchString(lines[2]) || strings.Contains(text, "web-3") ||
		!strings.Contains(text, "2 of 3 hosts") || !strings.Contains(text, "open alerts: 1") ||
		!regexp.MustCompile(`\nFIRING\s+host\s+web-1\s+host_error_rate\s+`).MatchString(text) {
		t.Errorf("table:\n%s", text)
	}
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A pipeline whose input stopped says so in the table, instead of paging.
func TestQueryTableSaysWhereEventTimeStands(t *testing.T) {
	at := time.Date(2026, 12, 7, 3, 10, 0, 0, time.UTC).UnixMilli()
	cases := []struct {
		wm   query.Watermark
		want []string
	}{
		{query.Watermark{At: at, LagSeconds: 2.4, Status: "time", Active: 6}, []string{"judged up to): 2026-12-07 03:10:00 UTC, 2s behind the clock", "6 active, 0 idle, 0 holding"}},
		{query.Watermark{At: at, LagSeconds: 600, Status: "idle", Idle: 6}, []string{"stands at 2026-12-07 03:10:00 UTC, 10m behind", "every input is idle", "0 active, 6 idle"}},
		{query.Watermark{At: at, Status: "hold", Active: 5, Holding: 1}, []string{"waiting to hear from a partition", "5 active, 0 idle, 1 holding"}},
	}
	for _, c := range cases {
		var b bytes.Buffer
		writeQueryTable(&b, query.Result{Watermark: &c.wm}, time.Minute, 0)
		for _, w := range c.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: %q not in\n%s", c.wm.Status, w, b.String())
			}
		}
	}
	var b bytes.Buffer
	writeQueryTable(&b, query.Result{}, time.Minute, 0)
	if strings.Contains(b.String(), "event time") {
		t.Errorf("no watermark known, yet:\n%s", b.String())
	}
}
