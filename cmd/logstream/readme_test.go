package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The README's CLI reference names every command, and its configuration
// table every setting a command takes, with its environment variable:
// both come from the binary's own definitions here, so a new command or
// setting without its documentation fails.
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
