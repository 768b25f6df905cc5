package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logstream/logstream/broker"
	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/paging"
	"github.com/logstream/logstream/schemas"
	"github.com/logstream/logstream/topology"
)

func TestPageSettings(t *testing.T) {
	cases := []struct {
		args []string
		env  map[string]string
		want []string
	}{
		{[]string{"page"}, nil, []string{"no target", "--alertmanager-url", "--pagerduty-routing-key", "--webhook-url", "$LOGSTREAM_PAGERDUTY_ROUTING_KEY"}},
		{[]string{"page", "--webhook-url", "ftp://x"}, nil, []string{"webhook-url", "not an http(s) URL"}},
		{[]string{"page", "--pagerduty-url", "http://pd.example"}, nil, []string{"pagerduty-url", "--pagerduty-routing-key"}},
		{[]string{"page", "--webhook-url", "http://h", "--retry-max", "2d"}, nil, []string{"retry-max"}},
		{[]string{"page"}, map[string]string{"LOGSTREAM_ALERTMANAGER_URL": "am:9093"}, []string{"alertmanager-url (from env LOGSTREAM_ALERTMANAGER_URL)"}},
		{[]string{"page", "--alertmanager-url", "http://am:9093", "--alertmanager-resend", "500ms"}, nil, []string{"alertmanager-resend", "between 1s and 1h"}},
		{[]string{"page", "--alertmanager-url", "http://am:9093", "--generator-url", "http://ls:9464/?x=1"}, nil, []string{"generator-url", "without query"}},
		{[]string{"page", "--alertmanager-url", "http://am:9093", "--generator-url", "ls:9464"}, nil, []string{"generator-url"}},
		{[]string{"page", "--alertmanager-url", "http://am:9093", "--runbook-url", "https://wiki/{alert}"}, nil, []string{"runbook-url", "unknown placeholder {alert}", "{rule}"}},
		{[]string{"page", "--alertmanager-url", "http://am:9093", "--runbook-url", "wiki/{rule}"}, nil, []string{"runbook-url", "http(s) URL"}},
		{[]string{"page", "--webhook-url", "http://h", "--runbook-url", "https://wiki/{rule}"}, nil, []string{"runbook-url", "--alertmanager-url"}},
		{[]string{"page", "--webhook-url", "http://h", "--generator-url", "http://ls:9464"}, nil, []string{"generator-url", "--alertmanager-url"}},
		{[]string{"page", "--webhook-url", "http://h", "--alertmanager-resend", "30s"}, nil, []string{"alertmanager-resend", "--alertmanager-url"}},
	}
	for _, tc := range cases {
		var out, errb bytes.Buffer
		if code := runMain(tc.args, &out, &errb, env(tc.env)); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", tc.args, code, errb.String())
			continue
		}
		msg := errb.String()
		if strings.Count(strings.TrimSpace(msg), "\n") != 0 {
			t.Errorf("%v: want one line, got %q", tc.args, msg)
		}
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%v: %q lacks %q", tc.args, msg, w)
			}
		}
	}

	c, _, err := parseConfig(cmdByName(t, "page"), nil, env(map[string]string{"LOGSTREAM_PAGERDUTY_ROUTING_KEY": " k3y "}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Page.PagerDutyKey != "k3y" || c.Page.PagerDutyURL != "https://events.pagerduty.com" || c.Page.RetryMax != 30*time.Second {
		t.Errorf("page settings %+v", c.Page)
	}
}

// The Alertmanager settings reach the notifier and the consumer: endsAt
// four re-send intervals ahead, the links made from the base URL and the
// runbook template.
func TestPageAlertmanagerSettings(t *testing.T) {
	c, _, err := parseConfig(cmdByName(t, "page"), []string{"--alertmanager-url", "http://am:9093", "--alertmanager-resend", "30s",
		"--generator-url", "https://ops.example/logstream/", "--runbook-url", "https://wiki.example/runbooks/{rule}"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Page.AlertmanagerResend != 30*time.Second || c.Page.GeneratorURL != "https://ops.example/logstream" {
		t.Errorf("page settings %+v", c.Page)
	}
	targets, err := pageTargets(c, paging.NewMetrics(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	am, ok := targets[0].Notifier.(*paging.Alertmanager)
	if len(targets) != 1 || !ok {
		t.Fatalf("targets %+v", targets)
	}
	if am.ValidFor() != 2*time.Minute {
		t.Errorf("endsAt %s ahead, want 4 × 30s", am.ValidFor())
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var got []struct {
			GeneratorURL string            `json:"generatorURL"`
			Annotations  map[string]string `json:"annotations"`
		}
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil || len(got) != 1 {
			t.Errorf("posted %v (%v)", got, err)
			return
		}
		if want := "https://ops.example/logstream/query/hosts?host=web-3"; got[0].GeneratorURL != want {
			t.Errorf("generatorURL %q, want %q", got[0].GeneratorURL, want)
		}
		if want := "https://wiki.example/runbooks/host_error_rate"; got[0].Annotations["runbook_url"] != want {
			t.Errorf("runbook_url %q, want %q", got[0].Annotations["runbook_url"], want)
		}
	}))
	defer srv.Close()
	c.Page.AlertmanagerURL = srv.URL
	targets, err = pageTargets(c, paging.NewMetrics(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	a := &schemas.Alert{ID: "k/FIRING", DedupKey: "k", State: schemas.AlertFiring, Scope: schemas.ScopeHost, Host: "web-3", Rule: "host_error_rate", FirstSeen: 1, At: 2}
	if err := targets[0].Notifier.Notify(context.Background(), a); err != nil {
		t.Fatal(err)
	}

	// Without them: no links, endsAt four minutes ahead.
	c, _, err = parseConfig(cmdByName(t, "page"), []string{"--alertmanager-url", "http://am:9093"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	targets, err = pageTargets(c, paging.NewMetrics(), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if c.Page.AlertmanagerResend != paging.DefaultResendInterval {
		t.Errorf("--alertmanager-resend defaults to %s, want paging.DefaultResendInterval %s", c.Page.AlertmanagerResend, paging.DefaultResendInterval)
	}
	if v := targets[0].Notifier.(*paging.Alertmanager).ValidFor(); v != 4*time.Minute || c.Page.GeneratorURL != "" || c.Page.RunbookURL != "" {
		t.Errorf("defaults: endsAt %s ahead, %+v", v, c.Page)
	}
}

// logstream page delivers an alert from the broker to a webhook and stops
// on its context.
func TestPageCommand(t *testing.T) {
	e, err := broker.StartEmbedded(broker.EmbeddedConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, topic := range []string{topology.TopicAlerts, topology.TopicDLQ} {
		if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	set, err := codecs.NewSet()
	if err != nil {
		t.Fatal(err)
	}
	a := &schemas.Alert{ID: "logstream/host/web-3/1/FIRING", DedupKey: "logstream/host/web-3/1", State: schemas.AlertFiring,
		Scope: schemas.ScopeHost, Host: "web-3", Rule: "host_error_rate", Summary: "web-3 is failing", FirstSeen: 1, At: 2}
	v, err := set.Alert.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topology.TopicAlerts, Key: []byte("fleet"), Value: v}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	var (
		mu  sync.Mutex
		got []schemas.Alert
	)
	delivered := make(chan struct{}, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var x schemas.Alert
		json.Unmarshal(b, &x)
		mu.Lock()
		got = append(got, x)
		mu.Unlock()
		delivered <- struct{}{}
	}))
	defer hook.Close()

	pctx, pcancel := context.WithCancel(ctx)
	var errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- runPageMain(pctx, []string{"page", "--brokers", e.Addr(), "--webhook-url", hook.URL, "--admin-addr", "", "--log-format", "json"}, &errb)
	}()
	select {
	case <-delivered:
	case <-ctx.Done():
		t.Fatalf("no delivery; stderr:\n%s", errb.String())
	}
	// The webhook answered; wait for the command to take the answer.
	for !strings.Contains(errb.String(), "alert delivered") {
		if ctx.Err() != nil {
			t.Fatalf("no delivery log:\n%s", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	pcancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, errb.String())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].ID != a.ID {
		t.Errorf("webhook got %+v", got)
	}
}

// runPageMain runs the page command like runMain, but with ctx.
func runPageMain(ctx context.Context, args []string, stderr io.Writer) int {
	cmd, rest, _ := findCommand(args)
	cfg, _, err := parseConfig(cmd, rest, env(nil))
	if err != nil {
		return 2
	}
	if err := runPage(ctx, cfg, stderr); err != nil {
		io.WriteString(stderr, err.Error())
		return 1
	}
	return 0
}
