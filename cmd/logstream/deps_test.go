package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The binary links no benchmark code: what the demo needs (its load
// generator, demo/fleet) lives with the demo, and benchmarks/ only imports.
// `go test` puts its own go command first on PATH, so this lists the
// dependencies with the toolchain that builds the binary.
func TestBinaryLinksNoBenchmarkPackage(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on PATH: %v", err)
	}
	out, err := exec.Command(goCmd, "list", "-deps", ".").Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list -deps: %v\n%s", err, stderr)
	}
	const prefix = "github.com/logstream/logstream/benchmarks"
	const fleet = "github.com/logstream/logstream/demo/fleet"
	sawFleet := false
	for _, p := range strings.Fields(string(out)) {
		if p == prefix || strings.HasPrefix(p, prefix+"/") {
			t.Errorf("cmd/logstream depends on %s", p)
		}
		sawFleet = sawFleet || p == fleet
	}
	// The demo's generator is a dependency: the list is the binary's.
	if !sawFleet {
		t.Errorf("go list -deps does not list %s; got:\n%s", fleet, out)
	}
}
