package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// Graphviz turns \n (one backslash, then n) inside a quoted label into a
// line break; \\n is an escaped backslash followed by the letter n, which
// it shows as it stands. Every topic's label must break after its name.
func TestTopologyDOTLabelsBreakLines(t *testing.T) {
	var out, errb bytes.Buffer
	if code := runMain([]string{"topology", "describe", "--format", "dot"}, &out, &errb, env(nil)); code != 0 {
		t.Fatalf("topology describe --format dot: exit %d: %s", code, errb.String())
	}
	// A quoted DOT string: any character but a quote or backslash, or a
	// backslash and the character it escapes.
	node := regexp.MustCompile(`^  "([^"\\]+)" \[shape=\w+, label="((?:[^"\\]|\\.)*)"\];$`)
	labels := 0
	for _, line := range strings.Split(out.String(), "\n") {
		if !strings.Contains(line, "label=") {
			continue
		}
		m := node.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("a labelled node is not a quoted DOT string: %s", line)
			continue
		}
		labels++
		name, label := m[1], m[2]
		if strings.Contains(label, `\\`) {
			t.Errorf("label of %s holds an escaped backslash (Graphviz shows a literal \\n): %s", name, line)
		}
		// As Graphviz reads it: \n is a line break.
		lines := strings.Split(label, `\n`)
		if len(lines) != 2 || lines[0] != name || !strings.Contains(lines[1], " partitions, key ") {
			t.Errorf("label of %s reads %q; want its name, a line break, its partitions and key", name, lines)
		}
	}
	if labels == 0 {
		t.Fatalf("no labelled node in:\n%s", out.String())
	}
}
