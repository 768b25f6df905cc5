package openobserve

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logstream/logstream/sinks"
	"github.com/logstream/logstream/sinks/openobserve/o2test"
)

var _ sinks.Sink = (*Sink)(nil)

func TestValidateNamesTheSetting(t *testing.T) {
	srv := testServer(t, o2test.Options{})
	for _, c := range []struct {
		mutate func(*Config)
		want   []string
	}{
		{func(c *Config) { c.URL = "" }, []string{"--openobserve-url", "LOGSTREAM_OPENOBSERVE_URL"}},
		{func(c *Config) { c.URL = "openobserve:5080" }, []string{"--openobserve-url", "not an http(s) URL"}},
		{func(c *Config) { c.Org = "" }, []string{"--openobserve-org"}},
		{func(c *Config) { c.Stream = "" }, []string{"--openobserve-stream"}},
		{func(c *Config) { c.Stream = "--" }, []string{"--openobserve-stream", "no letter or digit"}},
		{func(c *Config) { c.User = "" }, []string{"LOGSTREAM_OPENOBSERVE_USER", "LOGSTREAM_OPENOBSERVE_PASSWORD"}},
		{func(c *Config) { c.Password = "" }, []string{"LOGSTREAM_OPENOBSERVE_PASSWORD"}},
		{func(c *Config) { c.Decoder = nil }, []string{"Decoder"}},
		{func(c *Config) { c.BatchSize = -1 }, []string{"batch size"}},
		{func(c *Config) { c.Timeout = -time.Second }, []string{"Timeout"}},
		{func(c *Config) { c.Retry.Initial, c.Retry.Max = time.Minute, time.Second }, []string{"exceeds"}},
	} {
		cfg := testConfig(t, srv)
		c.mutate(&cfg)
		_, err := New(cfg)
		if err == nil {
			t.Errorf("New accepted %+v", cfg)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q lacks %q", err, w)
			}
		}
	}
	cfg := testConfig(t, srv)
	if _, err := New(cfg); err != nil {
		t.Fatal(err)
	}
}

func TestDefaults(t *testing.T) {
	d := DefaultConfig()
	if !d.Gzip || d.BatchSize != 1000 || d.MaxAge != 5*time.Second || d.Timeout != 30*time.Second ||
		d.Retry.Initial != 200*time.Millisecond || d.Retry.Max != 30*time.Second || d.ColumnLimit != 1000 {
		t.Errorf("DefaultConfig = %+v", d)
	}
	srv := testServer(t, o2test.Options{})
	cfg := testConfig(t, srv)
	cfg.BatchSize, cfg.Timeout, cfg.Retry = 0, 0, Retry{}
	s := newSink(t, cfg)
	if s.cfg.BatchSize != DefaultBatchSize || s.cfg.Timeout != DefaultTimeout || s.cfg.Retry.Attempts != DefaultRetryAttempts {
		t.Errorf("defaults not applied: %+v", s.cfg)
	}
	if s.Name() != "openobserve" {
		t.Errorf("Name = %q", s.Name())
	}
	if _, err := s.NewPartition(testTopic, 0, nil); err == nil {
		t.Error("NewPartition without dead letters accepted")
	}
	if err := s.Metrics().Register(prometheus.NewRegistry()); err != nil {
		t.Errorf("metrics do not register: %v", err)
	}
}

func TestRetryWait(t *testing.T) {
	r := Retry{Initial: 100 * time.Millisecond, Max: time.Second}.withDefaults()
	for n, hi := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 4: 800 * time.Millisecond, 10: time.Second} {
		for range 20 {
			if w := r.policy().Wait(n, 0); w < hi/2 || w > hi {
				t.Errorf("wait(%d) = %s, want within [%s, %s]", n, w, hi/2, hi)
			}
		}
	}
	if w := r.policy().Wait(1, 5*time.Second); w != time.Second {
		t.Errorf("Retry-After 5s capped at Max: %s", w)
	}
}

func TestCheck(t *testing.T) {
	srv := testServer(t, o2test.Options{})
	ctx := context.Background()
	if err := newSink(t, testConfig(t, srv)).Check(ctx); err != nil {
		t.Fatalf("Check = %v", err)
	}

	// Nothing listens at a port just closed.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := testConfig(t, srv)
	cfg.URL = "http://" + addr
	err = newSink(t, cfg).Check(ctx)
	if err == nil || !strings.Contains(err.Error(), "cannot reach") || !strings.Contains(err.Error(), "--openobserve-url") {
		t.Errorf("unreachable: %v", err)
	}

	for _, c := range []struct {
		mutate func(*Config)
		want   []string
	}{
		{func(c *Config) { c.User = "someone" }, []string{"401", "LOGSTREAM_OPENOBSERVE_USER", "LOGSTREAM_OPENOBSERVE_PASSWORD"}},
		{func(c *Config) { c.Org = "missing" }, []string{"404", "--openobserve-org", `"missing"`}},
	} {
		cfg := testConfig(t, srv)
		c.mutate(&cfg)
		err := newSink(t, cfg).Check(ctx)
		if !isPermanent(err) {
			t.Errorf("Check = %v, want a *sinks.Permanent", err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q lacks %q", err, w)
			}
		}
	}
}
