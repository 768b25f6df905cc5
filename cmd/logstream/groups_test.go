package main

import (
	"bytes"
	"strings"
	"testing"
)

// groupsOf returns every group of the binary's commands: each proper run
// of leading words of a command's name ("dlq" of "dlq list"), with the
// commands under it. Derived here from the names alone, so a new group is
// tested without touching this file.
func groupsOf(cs []command) map[string][]command {
	groups := map[string][]command{}
	for _, c := range cs {
		words := strings.Fields(c.name)
		for n := 1; n < len(words); n++ {
			g := strings.Join(words[:n], " ")
			groups[g] = append(groups[g], c)
		}
	}
	return groups
}

// Every group answers --help and -h with its commands and their one-line
// descriptions (exit 0); without a command it prints the same on stderr as
// a usage error (exit 2); an unknown command of the group points at the
// group's help.
func TestGroupHelp(t *testing.T) {
	cs := commands()
	groups := groupsOf(cs)
	if len(groups) == 0 {
		t.Fatal("no command has a group: the binary's commands changed shape")
	}
	for group, subs := range groups {
		t.Run(group, func(t *testing.T) {
			args := strings.Fields(group)
			var help string
			for _, h := range [][]string{{"--help"}, {"-h"}, {"-help"}} {
				var out, errb bytes.Buffer
				if code := runMain(append(append([]string(nil), args...), h...), &out, &errb, env(nil)); code != 0 || errb.Len() != 0 {
					t.Fatalf("logstream %s %s: exit %d, stderr %q; want 0 and nothing", group, h[0], code, errb.String())
				}
				if help == "" {
					help = out.String()
				} else if out.String() != help {
					t.Errorf("logstream %s %s printed another help than --help:\n%s", group, h[0], out.String())
				}
			}
			in := map[string]bool{}
			for _, c := range subs {
				in[c.name] = true
				if !strings.Contains(help, "  "+c.name+"  ") || !strings.Contains(help, c.short) {
					t.Errorf("logstream %s --help does not list %q with %q:\n%s", group, c.name, c.short, help)
				}
			}
			for _, c := range cs {
				if !in[c.name] && strings.Contains(help, c.short) {
					t.Errorf("logstream %s --help lists %q, not one of its commands", group, c.name)
				}
			}

			var out, errb bytes.Buffer
			if code := runMain(append([]string(nil), args...), &out, &errb, env(nil)); code != 2 || out.Len() != 0 || errb.String() != help {
				t.Errorf("logstream %s: exit %d, stdout %q, stderr:\n%s\nwant exit 2, nothing on stdout, the help on stderr", group, code, out.String(), errb.String())
			}

			out.Reset()
			if code := runMain(append([]string{"help"}, args...), &out, &errb, env(nil)); code != 0 || out.String() != help {
				t.Errorf("logstream help %s: exit %d, printed:\n%s", group, code, out.String())
			}

			out.Reset()
			errb.Reset()
			code := runMain(append(append([]string(nil), args...), "no-such-command"), &out, &errb, env(nil))
			if code != 2 || !strings.Contains(errb.String(), "unknown command") || !strings.Contains(errb.String(), "'logstream "+group+" --help'") {
				t.Errorf("logstream %s no-such-command: exit %d, stderr %q; want 2 and a pointer to the group's help", group, code, errb.String())
			}
		})
	}
}
