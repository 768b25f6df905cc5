package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
)

// Binary is the logstream binary the manifests run: its commands' flags
// and environment variables come from its --help, its KafkaTopics from
// topology describe --format strimzi.
type Binary struct {
	Path     string
	commands map[string]*Command
}

// Command is what one command of the binary accepts.
type Command struct {
	Name  string
	Flags map[string]bool // flag name → takes no value (a boolean)
	Env   map[string]bool
}

var helpLine = regexp.MustCompile(`^\s+--([a-z0-9-]+)( value)?\s+\$([A-Za-z0-9_]+)\s`)

// Command returns the flags and variables of a command ("run", "sink s3").
func (b *Binary) Command(name string) (*Command, error) {
	if c, ok := b.commands[name]; ok {
		return c, nil
	}
	out, err := b.run(append(strings.Fields(name), "--help")...)
	if err != nil {
		return nil, err
	}
	c := &Command{Name: name, Flags: map[string]bool{}, Env: map[string]bool{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if m := helpLine.FindStringSubmatch(sc.Text()); m != nil {
			c.Flags[m[1]] = m[2] == ""
			c.Env[m[3]] = true
		}
	}
	if len(c.Flags) == 0 {
		return nil, fmt.Errorf("logstream %s --help lists no flags:\n%s", name, out)
	}
	if b.commands == nil {
		b.commands = map[string]*Command{}
	}
	b.commands[name] = c
	return c, nil
}

// Strimzi returns the KafkaTopics the binary generates for a config file.
func (b *Binary) Strimzi(configFile string) ([]byte, error) {
	return b.run("topology", "describe", "--format", "strimzi", "--config", configFile)
}

func (b *Binary) run(args ...string) ([]byte, error) {
	cmd := exec.Command(b.Path, args...)
	cmd.Env = []string{} // the manifests' settings only, none of this shell's
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("logstream %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
