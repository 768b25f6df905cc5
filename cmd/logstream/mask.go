package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/logstream/logstream/processors/parse/mask"
)

// The parse stage masks card numbers always, and the values of
// --mask-patterns (package processors/parse/mask).
var sMaskPatterns = setting{name: "mask-patterns", env: "LOGSTREAM_MASK_PATTERNS", list: true,
	usage: "values the parse stage masks besides card numbers (always masked): NAME=REGEXP, the flag once per pattern (one a line in the environment; in the config file a list of {name, regexp, replace}); a match becomes [MASKED:NAME]",
	parse: func(c *Config, v string) error {
		ps, err := parseMaskPatterns(v)
		if err != nil {
			return err
		}
		if _, err := mask.New(ps); err != nil {
			return err
		}
		c.MaskPatterns = ps
		return nil
	}}

// parseMaskPatterns reads the setting's text: one pattern a line, either
// NAME=REGEXP (the first '=' ends the name) or a JSON object with the keys
// name, regexp and replace (what a config file's list item becomes, see
// readConfigFile). Blank lines are skipped.
func parseMaskPatterns(text string) ([]mask.Pattern, error) {
	var out []mask.Pattern
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		t := strings.TrimSpace(line)
		if t == "" {
			continue
		}
		var p mask.Pattern
		if strings.HasPrefix(t, "{") {
			d := json.NewDecoder(strings.NewReader(t))
			d.DisallowUnknownFields()
			if err := d.Decode(&p); err != nil {
				return nil, fmt.Errorf("pattern %d: %s: %v (keys: name, regexp, replace)", i+1, t, err)
			}
			if d.More() {
				return nil, fmt.Errorf("pattern %d: %s: text after the object", i+1, t)
			}
		} else {
			name, re, ok := strings.Cut(line, "=")
			if !ok {
				return nil, fmt.Errorf("pattern %d: %q is not NAME=REGEXP", i+1, line)
			}
			p = mask.Pattern{Name: strings.TrimSpace(name), Regexp: re}
		}
		out = append(out, p)
	}
	return out, nil
}

// masker builds the parse stage's Masker of the settings.
func masker(cfg *Config) (*mask.Masker, error) {
	m, err := mask.New(cfg.MaskPatterns)
	if err != nil {
		return nil, usagef("logstream: invalid setting mask-patterns: %v", err)
	}
	return m, nil
}
