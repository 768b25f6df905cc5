package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/logstream/logstream/admin"
	"github.com/logstream/logstream/ingest"
	"github.com/logstream/logstream/paging"
	"github.com/logstream/logstream/sinks"
	"github.com/logstream/logstream/sinks/openobserve"
	s3sink "github.com/logstream/logstream/sinks/s3"
)

// The README's CLI reference names every command and every group's help,
// and its configuration table every setting a command takes, with its
// environment variable: all come from the binary's own definitions here,
// so a new command, group or setting without its documentation fails.
func TestREADMECoversEveryCommandAndSetting(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "## CLI reference")
	j := strings.Index(readme, "## Configuration")
	if i < 0 || j < i {
		t.Fatal("README has no CLI reference followed by a configuration section")
	}
	reference := readme[i:j]
	k := strings.Index(readme[j+1:], "\n## ")
	table := readme[j:]
	if k >= 0 {
		table = readme[j : j+1+k]
	}
	// A row is "| `--name`[, `--other`] | `ENV`[, `ENV2`] | ...".
	rows := map[string]bool{}
	envs := map[string]bool{}
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 {
			continue
		}
		for _, m := range regexp.MustCompile("`--([a-z0-9-]+)`").FindAllStringSubmatch(cells[1], -1) {
			rows[m[1]] = true
		}
		for _, m := range regexp.MustCompile("`([A-Z][A-Z0-9_]+)`").FindAllStringSubmatch(cells[2], -1) {
			envs[m[1]] = true
		}
	}
	// A group's --help lists its commands (groups_test.go); the reference
	// says where to ask.
	for group := range groupsOf(commands()) {
		if !strings.Contains(reference, "`logstream "+group+" --help`") {
			t.Errorf("the CLI reference does not name `logstream %s --help`", group)
		}
	}
	for _, c := range commands() {
		if !strings.Contains(reference, "logstream "+c.name) {
			t.Errorf("the CLI reference does not name 'logstream %s'", c.name)
		}
		for _, s := range c.settings {
			if !rows[s.name] {
				t.Errorf("%s: --%s has no row in the configuration table", c.name, s.name)
			}
			if s.env != "" && !envs[s.env] {
				t.Errorf("%s: --%s's %s is in no row of the configuration table", c.name, s.name, s.env)
			}
		}
	}
}

// The README's Observability section names every metric the binary
// serves. The stages' metrics are read from the admin port of a `run`
// stack (the collectors it registers, whatever they are); the other
// commands' from the metrics their packages give them to register.
func TestREADMENamesEveryMetric(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the embedded broker")
	}
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	i := strings.Index(readme, "## Observability")
	if i < 0 {
		t.Fatal("README has no Observability section")
	}
	observability := readme[i:]
	if k := strings.Index(observability[1:], "\n## "); k >= 0 {
		observability = observability[:1+k]
	}

	const fromRun = "served on run's admin port"
	names := map[string]string{} // metric → where it was found
	cfg, _, err := parseConfig(cmdByName(t, "run"), []string{"--embedded-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	s, err := startStack(cfg, io.Discard, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.admin.Run(ctx) }()
	defer func() { cancel(); <-served }()
	resp, err := http.Get("http://" + s.admin.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d, %v\n%s", resp.StatusCode, err, body)
	}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (logstream_\w+) `).FindAllStringSubmatch(string(body), -1) {
		names[m[1]] = fromRun
	}
	if len(names) == 0 {
		t.Fatalf("run's /metrics serves no logstream_ metric:\n%s", body)
	}

	// Describe gives every metric a collector may serve, also a vector
	// without values yet.
	others := map[string][]prometheus.Collector{
		"run's consumer lag": {admin.NewLagCollector(nil)},
		"readiness":          {admin.ReadyGauge(nil)},
		"ingest":             ingest.NewMetrics().Collectors(),
		"page":               paging.NewMetrics().Collectors(),
		"the sinks' runner":  sinks.NewMetrics().Collectors(),
		"sink s3":            s3sink.NewMetrics().Collectors(),
		"sink openobserve":   openobserve.NewMetrics().Collectors(),
	}
	fq := regexp.MustCompile(`fqName: "(logstream_\w+)"`)
	for where, cs := range others {
		ch := make(chan *prometheus.Desc, 64)
		go func() {
			for _, c := range cs {
				c.Describe(ch)
			}
			close(ch)
		}()
		for d := range ch {
			if m := fq.FindStringSubmatch(d.String()); m != nil {
				names[m[1]] = where
			}
		}
	}
	// A name is named when it stands whole, not as the start of a longer
	// one. The stages' metrics are in the Observability section; the other
	// commands' may be where the README describes the command.
	for name, where := range names {
		text, in := readme, "README"
		if where == fromRun {
			text, in = observability, "README's Observability section"
		}
		if !regexp.MustCompile(`\b` + name + `\b`).MatchString(text) {
			t.Errorf("the %s does not name %s (%s)", in, name, where)
		}
	}
}
