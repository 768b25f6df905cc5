package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
)

// Overlays are the overlays make deploy-check builds, and what each must
// hold beyond the base.
var Overlays = []struct {
	Dir  string
	Want Want
}{
	{"overlays/dev", Want{}},
	{"overlays/prod", Want{Autoscaling: true, Rules: true, TopicsFile: "overlays/prod/kafkatopics.yaml"}},
}

func main() {
	root := flag.String("root", ".", "the deploy directory")
	bin := flag.String("logstream", "", "the logstream binary the manifests run (required)")
	promtool := flag.String("promtool", "promtool", "promtool, for the PrometheusRule's groups; empty skips it")
	flag.Parse()
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "check: -logstream is required (make deploy-check builds it)")
		os.Exit(2)
	}
	n, err := Run(*root, *bin, *promtool, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "check:", err)
		os.Exit(2)
	}
	if n > 0 {
		fmt.Printf("deploy-check: %d problem(s)\n", n)
		os.Exit(1)
	}
}

// Run checks the Dockerfile and every overlay under root, printing each
// problem, and returns how many there were.
func Run(root, bin, promtool string, out *os.File) (int, error) {
	if promtool != "" {
		p, err := exec.LookPath(promtool)
		if err != nil {
			return 0, fmt.Errorf("promtool not found (make deploy-check installs Debian's prometheus package): %w", err)
		}
		promtool = p
	}
	tmp, err := os.MkdirTemp("", "deploy-check-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	c := &Checker{Bin: &Binary{Path: bin}, Promtool: promtool, Metrics: ExportedMetrics(), TempDir: tmp}
	total := 0
	report := func(what string, ps []string, summary string) {
		for _, p := range ps {
			fmt.Fprintf(out, "%s: %s\n", what, p)
		}
		if len(ps) == 0 {
			fmt.Fprintf(out, "ok  %s%s\n", what, summary)
		}
		for _, n := range c.Notes {
			fmt.Fprintf(out, "    %s\n", n)
		}
		c.Notes = nil
		total += len(ps)
	}
	df, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		return 0, err
	}
	report("Dockerfile", Dockerfile(string(df)), "")
	for _, o := range Overlays {
		objs, err := Build(filepath.Join(root, o.Dir))
		if err != nil {
			report(o.Dir, []string{err.Error()}, "")
			continue
		}
		want := o.Want
		if want.TopicsFile != "" {
			want.TopicsFile = filepath.Join(root, want.TopicsFile)
		}
		kinds := map[string]int{}
		for _, obj := range objs {
			kinds[obj.Kind]++
		}
		var names []string
		for k := range kinds {
			names = append(names, k)
		}
		sort.Strings(names)
		summary := fmt.Sprintf(" (%d objects:", len(objs))
		for _, k := range names {
			summary += fmt.Sprintf(" %d %s", kinds[k], k)
		}
		report(o.Dir, c.Overlay(objs, want), summary+")")
	}
	return total, nil
}
