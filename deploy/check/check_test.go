package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// logstreamBin is the binary built from this checkout for the tests.
var logstreamBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "deploy-check-test-")
	if err != nil {
		panic(err)
	}
	logstreamBin = filepath.Join(dir, "logstream")
	build := exec.Command("go", "build", "-o", logstreamBin, "./cmd/logstream")
	build.Dir = "../.." // the main module
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building logstream: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func promtoolOrSkip() string {
	p, err := exec.LookPath("promtool")
	if err != nil {
		return ""
	}
	return p
}

func newChecker(t *testing.T) *Checker {
	return &Checker{Bin: &Binary{Path: logstreamBin}, Promtool: promtoolOrSkip(), Metrics: ExportedMetrics(), TempDir: t.TempDir()}
}

func TestCommittedManifestsPass(t *testing.T) {
	c := newChecker(t)
	if c.Promtool == "" {
		t.Log("promtool is not installed: the rules are checked without it (make deploy-check installs it)")
	}
	for _, o := range Overlays {
		objs, err := Build(filepath.Join("..", o.Dir))
		if err != nil {
			t.Fatal(err)
		}
		want := o.Want
		if want.TopicsFile != "" {
			want.TopicsFile = filepath.Join("..", want.TopicsFile)
		}
		for _, p := range c.Overlay(objs, want) {
			t.Errorf("%s: %s", o.Dir, p)
		}
	}
	df, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range Dockerfile(string(df)) {
		t.Errorf("Dockerfile: %s", p)
	}
}

func TestExportedMetrics(t *testing.T) {
	m := ExportedMetrics()
	for _, name := range []string{"logstream_consumer_lag_records", "logstream_ready", "logstream_dead_letters_total",
		"logstream_errorrate_windows_closed_total", "logstream_sink_circuit_state", "logstream_page_dead_letters_total",
		"logstream_spans_rejected_total", "logstream_sink_s3_objects_total"} {
		if !m[name] {
			t.Errorf("%s is not among the %d names found", name, len(m))
		}
	}
}

// edit changes the built object kind/name through its JSON form.
type edit struct {
	kind, name string
	change     func(map[string]any)
}

func get(m map[string]any, path ...any) any {
	var cur any = m
	for _, p := range path {
		switch k := p.(type) {
		case string:
			cur = cur.(map[string]any)[k]
		case int:
			cur = cur.([]any)[k]
		}
	}
	return cur
}

func container(m map[string]any) map[string]any {
	return get(m, "spec", "template", "spec", "containers", 0).(map[string]any)
}

func setConfig(key, value string) func(map[string]any) {
	return func(m map[string]any) {
		data := m["data"].(map[string]any)
		var lines []string
		for _, l := range strings.Split(data["config.yaml"].(string), "\n") {
			if !strings.HasPrefix(l, key+":") {
				lines = append(lines, l)
			}
		}
		data["config.yaml"] = strings.Join(append(lines, key+": "+value), "\n") + "\n"
	}
}

func TestChecksCatch(t *testing.T) {
	prodObjs, err := Build("../overlays/prod")
	if err != nil {
		t.Fatal(err)
	}
	prod := Overlays[1].Want
	prod.TopicsFile = "../overlays/prod/kafkatopics.yaml"
	cases := []struct {
		name  string
		edits []edit
		add   string // an extra object (JSON)
		want  string
		needs string // a tool the case needs
	}{
		{name: "unknown field", want: "does not decode strictly",
			edits: []edit{{"Deployment", "logstream-parse", func(m map[string]any) { container(m)["imagePullPolice"] = "Always" }}}},
		{name: "unknown field in a custom resource", want: "does not decode strictly",
			edits: []edit{{"ScaledObject", "logstream-parse", func(m map[string]any) { m["spec"].(map[string]any)["minReplicas"] = 1 }}}},
		{name: "inlined Secret", want: "a Secret in the manifests",
			add: `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"pw","namespace":"logstream"},"stringData":{"password":"hunter2"}}`},
		{name: "no such stage", want: "no stage of the topology",
			edits: []edit{{"Deployment", "logstream-parse", func(m map[string]any) { container(m)["args"].([]any)[2] = "parsing" }}}},
		{name: "a stage twice, one never", want: "stage spans runs in 0 Deployments",
			edits: []edit{{"Deployment", "logstream-spans", func(m map[string]any) { container(m)["args"].([]any)[2] = "dedupe" }}}},
		{name: "unknown flag", want: "has no flag --stagez",
			edits: []edit{{"Deployment", "logstream-parse", func(m map[string]any) {
				container(m)["args"] = append(container(m)["args"].([]any), "--stagez", "x")
			}}}},
		{name: "secret inlined in env", want: "must come from a Secret",
			edits: []edit{{"Deployment", "logstream-page", func(m map[string]any) {
				container(m)["env"] = append(container(m)["env"].([]any), map[string]any{"name": "LOGSTREAM_PAGERDUTY_ROUTING_KEY", "value": "abc"})
			}}}},
		{name: "variable of another command", want: "logstream page reads no LOGSTREAM_OPENOBSERVE_PASSWORD",
			edits: []edit{{"Deployment", "logstream-page", func(m map[string]any) {
				container(m)["env"] = append(container(m)["env"].([]any), map[string]any{"name": "LOGSTREAM_OPENOBSERVE_PASSWORD",
					"valueFrom": map[string]any{"secretKeyRef": map[string]any{"name": "x", "key": "y"}}})
			}}}},
		{name: "readiness on /healthz", want: "readinessProbe is GET /healthz",
			edits: []edit{{"Deployment", "logstream-dedupe", func(m map[string]any) {
				get(container(m), "readinessProbe", "httpGet").(map[string]any)["path"] = "/healthz"
			}}}},
		{name: "grace too short", want: "terminationGracePeriodSeconds",
			edits: []edit{{"Deployment", "logstream-sink-s3", func(m map[string]any) {
				get(m, "spec", "template", "spec").(map[string]any)["terminationGracePeriodSeconds"] = 5
			}}}},
		{name: "config not mounted", want: "is not config.yaml of ConfigMap",
			edits: []edit{{"Deployment", "logstream-alerter", func(m map[string]any) { container(m)["args"].([]any)[4] = "/etc/other/config.yaml" }}}},
		{name: "unknown setting", want: "the binary refuses config.yaml",
			edits: []edit{{"ConfigMap", "", setConfig("partitons", "6")}}},
		{name: "state dir on no volume", want: "state-dir /data/logstream is on no volume",
			edits: []edit{{"ConfigMap", "", setConfig("state-dir", "/data/logstream")}}},
		{name: "no IRSA", want: "IRSA",
			edits: []edit{{"ServiceAccount", "logstream-sink-s3", func(m map[string]any) { delete(get(m, "metadata").(map[string]any), "annotations") }}}},
		{name: "no disruption budget", want: "Deployment/logstream-alerter: no PodDisruptionBudget",
			edits: []edit{{"PodDisruptionBudget", "logstream-alerter", func(m map[string]any) {
				get(m, "spec", "selector", "matchLabels").(map[string]any)["app.kubernetes.io/component"] = "nothing"
			}}}},
		{name: "more pods than partitions", want: "maxReplicaCount must be the partitions (6)",
			edits: []edit{{"ScaledObject", "logstream-tracejoin", func(m map[string]any) { m["spec"].(map[string]any)["maxReplicaCount"] = 12 }}}},
		{name: "partitions changed, not the scaling", want: "maxReplicaCount must be the partitions (12)",
			edits: []edit{{"ConfigMap", "", setConfig("partitions", "12")}}},
		{name: "a consumer group without trigger", want: "triggers on consumer groups [errorrate], the pods run [errorrate errorrate-combine]",
			edits: []edit{{"ScaledObject", "logstream-errorrate", func(m map[string]any) {
				sp := m["spec"].(map[string]any)
				sp["triggers"] = sp["triggers"].([]any)[1:]
			}}}},
		{name: "scaler metadata misspelt", want: `"lagTreshold" is no metadata`,
			edits: []edit{{"ScaledObject", "logstream-parse", func(m map[string]any) {
				get(m, "spec", "triggers", 0, "metadata").(map[string]any)["lagTreshold"] = "5"
			}}}},
		{name: "scaling the fleet's one partition", want: "keyed by fleet",
			edits: []edit{{"ScaledObject", "logstream-spans", func(m map[string]any) {
				get(m, "spec", "scaleTargetRef").(map[string]any)["name"] = "logstream-alerter"
			}}}},
		{name: "topic partitions changed", want: "KafkaTopic logs.unique declares",
			edits: []edit{{"KafkaTopic", "logs.unique", func(m map[string]any) { m["spec"].(map[string]any)["partitions"] = 3 }}}},
		{name: "table not compacted", want: "KafkaTopic dedupe-table declares",
			edits: []edit{{"KafkaTopic", "dedupe-table", func(m map[string]any) {
				get(m, "spec", "config").(map[string]any)["cleanup.policy"] = "delete"
			}}}},
		{name: "metric misspelt", want: "reads logstream_consumer_lag, which the binary does not export",
			edits: []edit{{"PrometheusRule", "logstream", func(m map[string]any) {
				r := get(m, "spec", "groups", 0, "rules", 0).(map[string]any)
				r["expr"] = strings.ReplaceAll(r["expr"].(string), "logstream_consumer_lag_records", "logstream_consumer_lag")
			}}}},
		{name: "PromQL that does not parse", want: "promtool check rules", needs: "promtool",
			edits: []edit{{"PrometheusRule", "logstream", func(m map[string]any) {
				get(m, "spec", "groups", 0, "rules", 1).(map[string]any)["expr"] = "sum by (sink (logstream_sink_lag_records)"
			}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newChecker(t)
			if tc.needs == "promtool" && c.Promtool == "" {
				t.Skip("promtool is not installed")
			}
			objs := make([]Object, len(prodObjs))
			copy(objs, prodObjs)
			for _, e := range tc.edits {
				found := false
				for i, o := range objs {
					if o.Kind != e.kind || (e.name != "" && o.Name != e.name) {
						continue
					}
					var m map[string]any
					if err := json.Unmarshal(o.JSON, &m); err != nil {
						t.Fatal(err)
					}
					e.change(m)
					objs[i].JSON, _ = json.Marshal(m)
					found = true
				}
				if !found {
					t.Fatalf("no %s %s to edit", e.kind, e.name)
				}
			}
			if tc.add != "" {
				var m map[string]any
				_ = json.Unmarshal([]byte(tc.add), &m)
				md := m["metadata"].(map[string]any)
				objs = append(objs, Object{APIVersion: m["apiVersion"].(string), Kind: m["kind"].(string), Name: md["name"].(string), Namespace: md["namespace"].(string), JSON: []byte(tc.add)})
			}
			ps := c.Overlay(objs, prod)
			for _, p := range ps {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Errorf("no problem says %q; got:\n%s", tc.want, strings.Join(ps, "\n"))
		})
	}
}

func TestCommittedTopicsMustBeGenerated(t *testing.T) {
	objs, err := Build("../overlays/prod")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../overlays/prod/kafkatopics.yaml")
	if err != nil {
		t.Fatal(err)
	}
	edited := filepath.Join(t.TempDir(), "kafkatopics.yaml")
	if err := os.WriteFile(edited, []byte(strings.Replace(string(b), `retention.ms: "604800000"`, `retention.ms: "86400000"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	want := Overlays[1].Want
	want.TopicsFile = edited
	for _, p := range newChecker(t).Overlay(objs, want) {
		if strings.Contains(p, "differs from 'logstream topology describe --format strimzi'") {
			return
		}
	}
	t.Error("a hand-edited KafkaTopics file passed")
}

func TestDockerfileChecks(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	good := string(b)
	cases := map[string]struct{ from, to, want string }{
		"root user":      {"USER 65532:65532", "USER root", "non-root"},
		"no user":        {"USER 65532:65532", "", "non-root"},
		"ADD of a URL":   {"COPY . .", "ADD https://example.com/x.tar.gz /src/\nCOPY . .", "ADD of a URL"},
		"cgo":            {"CGO_ENABLED=0 ", "", "CGO_ENABLED=0"},
		"no version":     {"-X main.version=${VERSION} ", "", "-X main.version="},
		"a full distro":  {"FROM scratch", "FROM debian:bookworm", "want scratch or a distroless static image"},
		"no OCI version": {`org.opencontainers.image.version="${VERSION}" \`, "", "org.opencontainers.image.version"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if !strings.Contains(good, tc.from) {
				t.Fatalf("the Dockerfile has no %q to change", tc.from)
			}
			ps := Dockerfile(strings.Replace(good, tc.from, tc.to, 1))
			if !strings.Contains(strings.Join(ps, "\n"), tc.want) {
				t.Errorf("no problem says %q: %v", tc.want, ps)
			}
		})
	}
	if ps := Dockerfile("FROM golang:1.26\nRUN CGO_ENABLED=0 go build -ldflags '-X main.version=1 -X main.commit=2' .\n"); len(ps) == 0 {
		t.Error("a single-stage Dockerfile passed")
	}
}
