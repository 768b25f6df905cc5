package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func cmdByName(t *testing.T, name string) command {
	t.Helper()
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("no command %q", name)
	return command{}
}

func TestPrecedenceFlagEnvFileDefault(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "logstream.yaml")
	if err := os.WriteFile(file, []byte("batch-size: 300\nmax_concurrency: 3\npartitions: 9\nbrokers: [a:1, b:2]\nduration: 5s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	demo := cmdByName(t, "demo")
	e := map[string]string{"LOGSTREAM_CONFIG": file, "BATCH_SIZE": "200", "MAX_CONCURRENCY": "2"}

	// default only
	c, _, err := parseConfig(demo, nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.BatchSize != 1000 || c.MaxConcurrency != 5 || c.Partitions != 6 || c.Duration != 60*time.Second || len(c.Brokers) != 0 || c.EmbeddedAddr != "127.0.0.1:9092" {
		t.Fatalf("defaults wrong: %+v", c)
	}
	// file beats default, env beats file
	c, _, err = parseConfig(demo, nil, env(e))
	if err != nil {
		t.Fatal(err)
	}
	if c.BatchSize != 200 || c.MaxConcurrency != 2 || c.Partitions != 9 || c.Duration != 5*time.Second || strings.Join(c.Brokers, ",") != "a:1,b:2" {
		t.Fatalf("env/file precedence wrong: %+v", c)
	}
	// flag beats env
	c, _, err = parseConfig(demo, []string{"--batch-size", "100", "-max-concurrency=1", "--partitions=4"}, env(e))
	if err != nil {
		t.Fatal(err)
	}
	if c.BatchSize != 100 || c.MaxConcurrency != 1 || c.Partitions != 4 {
		t.Fatalf("flag precedence wrong: %+v", c)
	}
	// --config flag beats LOGSTREAM_CONFIG
	other := filepath.Join(dir, "other.yaml")
	os.WriteFile(other, []byte("partitions: 2\n"), 0o644)
	c, _, err = parseConfig(demo, []string{"--config", other}, env(map[string]string{"LOGSTREAM_CONFIG": file}))
	if err != nil || c.Partitions != 2 {
		t.Fatalf("--config: %v %+v", err, c)
	}
}

func TestInvalidSettingsExit2WithOneLineNamingIt(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("no-such-knob: 1\n"), 0o644)
	cases := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"run", "--batch-size", "0"}, nil, "batch-size"},
		{[]string{"run"}, map[string]string{"BATCH_SIZE": "lots"}, "batch-size (from env BATCH_SIZE)"},
		{[]string{"run"}, map[string]string{"MAX_CONCURRENCY": "-1"}, "max-concurrency"},
		{[]string{"run", "--brokers", "nocolon"}, nil, "brokers"},
		{[]string{"demo", "--duration", "forever"}, nil, "duration"},
		{[]string{"run", "--log-level", "loud"}, nil, "log-level"},
		{[]string{"run", "--config", bad}, nil, "no-such-knob"},
		{[]string{"run", "--config", filepath.Join(dir, "missing.yaml")}, nil, "config"},
		{[]string{"topology", "describe", "--format", "png"}, nil, "format"},
		{[]string{"run", "--bogus"}, nil, "bogus"},
		{[]string{"frobnicate"}, nil, "unknown command"},
	}
	for _, tc := range cases {
		var out, errb bytes.Buffer
		code := runMain(tc.args, &out, &errb, env(tc.env))
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", tc.args, code, errb.String())
			continue
		}
		msg := errb.String()
		if strings.Count(strings.TrimSpace(msg), "\n") != 0 || !strings.Contains(msg, tc.want) {
			t.Errorf("%v: want one line naming %q, got %q", tc.args, tc.want, msg)
		}
	}
}

func TestHelpForEveryCommand(t *testing.T) {
	var out bytes.Buffer
	if code := runMain([]string{"--help"}, &out, &out, env(nil)); code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, c := range commands() {
		if !strings.Contains(out.String(), c.name) {
			t.Errorf("main help lacks %q", c.name)
		}
		var h bytes.Buffer
		args := append(strings.Fields(c.name), "--help")
		if code := runMain(args, &h, &h, env(nil)); code != 0 {
			t.Errorf("%v: exit %d", args, code)
		}
		if !strings.Contains(h.String(), "Usage: logstream "+c.name) {
			t.Errorf("%v: no usage line:\n%s", args, h.String())
		}
		for _, s := range c.settings {
			if !strings.Contains(h.String(), "--"+s.name) || !strings.Contains(h.String(), "$"+s.env) {
				t.Errorf("%v: help lacks --%s / $%s", args, s.name, s.env)
			}
		}
	}
}

func TestFlagsAfterPositionalArguments(t *testing.T) {
	c, pos, err := parseConfig(cmdByName(t, "ingest"), []string{"a.log", "--follow", "-", "--host", "web-9", "b.log"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Follow || c.Host != "web-9" || strings.Join(pos, " ") != "a.log - b.log" {
		t.Fatalf("got follow=%v host=%q pos=%v", c.Follow, c.Host, pos)
	}
}

func TestTopologyDescribeAndVersion(t *testing.T) {
	for _, f := range []struct{ format, want string }{{"text", "stage parse"}, {"dot", "digraph"}, {"mermaid", "flowchart"}, {"strimzi", "kind: KafkaTopic"}} {
		var out bytes.Buffer
		if code := runMain([]string{"topology", "describe", "--format", f.format}, &out, &out, env(nil)); code != 0 || !strings.Contains(out.String(), f.want) {
			t.Errorf("format %s: exit %d, output %q", f.format, code, out.String())
		}
	}
	var out bytes.Buffer
	if code := runMain([]string{"version"}, &out, &out, env(nil)); code != 0 || !strings.HasPrefix(out.String(), "logstream ") {
		t.Errorf("version: %d %q", code, out.String())
	}
}

// A setting that holds a password, token or key is marked secret, so that
// its help says how to pass it and /debug/pprof/cmdline hides it: a new
// setting such as --kafka-sasl-password cannot be forgotten.
func TestSecretSettingsAreMarked(t *testing.T) {
	for _, s := range allSettings() {
		name := strings.ToLower(s.name)
		if strings.HasSuffix(name, "-file") {
			continue // the path of a mounted secret, not the secret
		}
		looksSecret := false
		for _, w := range []string{"password", "passwd", "token", "secret", "routing-key", "api-key", "credential"} {
			looksSecret = looksSecret || strings.Contains(name, w)
		}
		if looksSecret && !s.secret {
			t.Errorf("setting --%s looks like a secret but is not marked secret", s.name)
		}
	}
	got := secretFlags()
	for _, want := range []string{"openobserve-password", "pagerduty-routing-key", "webhook-url", "kafka-sasl-password", "embedded-sasl"} {
		if !slices.Contains(got, want) {
			t.Errorf("secretFlags() = %v, lacks %s", got, want)
		}
	}
	if slices.Contains(got, "openobserve-user") || slices.Contains(got, "brokers") || slices.Contains(got, "kafka-sasl-password-file") {
		t.Errorf("secretFlags() = %v hides settings that are no secrets", got)
	}
	var h bytes.Buffer
	writeHelp(&h, cmdByName(t, "sink openobserve"))
	for _, line := range strings.Split(h.String(), "\n") {
		if strings.Contains(line, "--openobserve-password") && !strings.Contains(line, secretAdvice) {
			t.Errorf("help of a secret lacks the advice: %q", line)
		}
		if strings.Contains(line, "--openobserve-user") && strings.Contains(line, secretAdvice) {
			t.Errorf("help of a plain setting calls it a secret: %q", line)
		}
	}
}

// --pprof is off by default, on with the flag or LOGSTREAM_PPROF, on every
// command with an admin port; the admin options carry the secret flags.
func TestPprofSetting(t *testing.T) {
	for _, c := range commands() {
		hasAdmin := slices.ContainsFunc(c.settings, func(s setting) bool { return s.name == sAdminAddr.name })
		hasPprof := slices.ContainsFunc(c.settings, func(s setting) bool { return s.name == sPprof.name })
		if hasAdmin != hasPprof {
			t.Errorf("%s: --admin-addr %v but --pprof %v", c.name, hasAdmin, hasPprof)
		}
	}
	for _, tc := range []struct {
		cmd  string
		args []string
		env  map[string]string
		want bool
	}{
		{"run", nil, nil, false},
		{"run", []string{"--pprof"}, nil, true},
		{"page", nil, map[string]string{"LOGSTREAM_PPROF": "true"}, true},
		{"sink s3", []string{"--pprof=false"}, map[string]string{"LOGSTREAM_PPROF": "true"}, false},
	} {
		c, _, err := parseConfig(cmdByName(t, tc.cmd), tc.args, env(tc.env))
		if err != nil {
			t.Fatal(err)
		}
		if c.Pprof != tc.want {
			t.Errorf("%s %v env %v: Pprof %v, want %v", tc.cmd, tc.args, tc.env, c.Pprof, tc.want)
		}
		opts := adminOptions(c)
		if opts.Pprof != tc.want || !slices.Contains(opts.SecretFlags, "openobserve-password") {
			t.Errorf("adminOptions %+v", opts)
		}
	}
}
