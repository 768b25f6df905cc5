package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// A group is the leading words that several commands share ("dlq" of
// "dlq list", "dlq show", ...). It is no command itself, but people type it
// to find its commands, so it answers --help with them rather than
// "unknown command".

// findGroup returns the longest leading words of args that some commands
// extend (the group), those commands, and the args after the group; no
// commands when args start no group.
func findGroup(args []string) (string, []command, []string) {
	cs := commands()
	for n := len(args); n > 0; n-- {
		group := strings.Join(args[:n], " ")
		var subs []command
		for _, c := range cs {
			if strings.HasPrefix(c.name, group+" ") {
				subs = append(subs, c)
			}
		}
		if len(subs) > 0 {
			return group, subs, args[n:]
		}
	}
	return "", nil, nil
}

// runGroup answers a group given without one of its commands: its help on
// stdout for --help (exit 0), the same help on stderr when no command
// follows (exit 2, a usage error), and "unknown command" otherwise.
func runGroup(group string, subs []command, rest []string, stdout, stderr io.Writer) int {
	switch {
	case len(rest) == 0:
		writeGroupHelp(stderr, group, subs)
		return 2
	case rest[0] == "-h" || rest[0] == "-help" || rest[0] == "--help":
		writeGroupHelp(stdout, group, subs)
		return 0
	}
	fmt.Fprintf(stderr, "logstream: unknown command %q (see 'logstream %s --help')\n", group+" "+rest[0], group)
	return 2
}

// writeGroupHelp prints a group's commands, each with its one-line
// description, as the main help does.
func writeGroupHelp(w io.Writer, group string, subs []command) {
	fmt.Fprintf(w, "Usage: logstream %s <command> [flags] [args]\n\nCommands:\n", group)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range subs {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.short)
	}
	tw.Flush()
	fmt.Fprintf(w, "\nRun 'logstream %s <command> --help' for a command's flags.\n", group)
}
