package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/logstream/logstream/processors/parse/mask"
)

const (
	emailRE  = `[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`
	bearerRE = `Bearer [A-Za-z0-9._~+/=-]+`
)

// --mask-patterns from each source: the flag repeated, lines in the
// environment, a list in the config file (maps, as the README shows, or
// NAME=REGEXP strings); a higher source replaces the whole list.
func TestMaskPatternsSetting(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "logstream.yaml")
	yaml := "mask-patterns:\n" +
		"  - name: email\n    regexp: '" + emailRE + "'\n" +
		"  - name: bearer\n    regexp: '(Bearer )[A-Za-z0-9._~+/=-]+'\n    replace: '${1}[MASKED]'\n" +
		"  - 'iban=\\bDE\\d{20}\\b'\n"
	if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	fromFile := []mask.Pattern{
		{Name: "email", Regexp: emailRE},
		{Name: "bearer", Regexp: `(Bearer )[A-Za-z0-9._~+/=-]+`, Replace: "${1}[MASKED]"},
		{Name: "iban", Regexp: `\bDE\d{20}\b`},
	}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want []mask.Pattern
	}{
		{"none", nil, nil, nil},
		{"file", []string{"--config", file}, nil, fromFile},
		{"flag repeated", []string{"--mask-patterns", "email=" + emailRE, "--mask-patterns=bearer=" + bearerRE}, nil,
			[]mask.Pattern{{Name: "email", Regexp: emailRE}, {Name: "bearer", Regexp: bearerRE}}},
		{"env lines", nil, map[string]string{"LOGSTREAM_MASK_PATTERNS": "email=" + emailRE + "\n\n" + `{"name":"bearer","regexp":"Bearer \\S+","replace":"Bearer [MASKED]"}` + "\n"},
			[]mask.Pattern{{Name: "email", Regexp: emailRE}, {Name: "bearer", Regexp: `Bearer \S+`, Replace: "Bearer [MASKED]"}}},
		{"env beats file", []string{"--config", file}, map[string]string{"LOGSTREAM_MASK_PATTERNS": "token=tok_[a-z0-9]+"},
			[]mask.Pattern{{Name: "token", Regexp: "tok_[a-z0-9]+"}}},
		{"flag beats env", []string{"--mask-patterns", "a=x+"}, map[string]string{"LOGSTREAM_MASK_PATTERNS": "token=tok_[a-z0-9]+"},
			[]mask.Pattern{{Name: "a", Regexp: "x+"}}},
	} {
		for _, cmd := range []string{"run", "demo"} {
			c, _, err := parseConfig(cmdByName(t, cmd), tc.args, env(tc.env))
			if err != nil {
				t.Fatalf("%s %s: %v", tc.name, cmd, err)
			}
			if !reflect.DeepEqual(c.MaskPatterns, tc.want) {
				t.Errorf("%s %s: MaskPatterns = %#v, want %#v", tc.name, cmd, c.MaskPatterns, tc.want)
			}
		}
	}

	// The masker of the file's settings masks what they say, and cards.
	c, _, err := parseConfig(cmdByName(t, "run"), []string{"--config", file}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	m, err := masker(c)
	if err != nil {
		t.Fatal(err)
	}
	out, n := m.String("bob@example.com paid with 4111111111111111, Authorization: Bearer abc.def")
	if want := "[MASKED:email] paid with 411111******1111, Authorization: Bearer [MASKED]"; out != want || n != 3 {
		t.Errorf("masked %q, %d; want %q, 3", out, n, want)
	}
}

// A bad pattern stops 'logstream run' before it starts anything: one line
// naming the setting, where it came from and the pattern; exit status 2.
func TestMaskPatternsInvalid(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badRE := write("bad-re.yaml", "mask-patterns:\n  - name: email\n    regexp: '[A-Za-z+@'\n")
	badKey := write("bad-key.yaml", "mask-patterns:\n  - name: email\n    regex: 'x+'\n")
	nested := write("nested.yaml", "mask-patterns:\n  - [a, b]\n")
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"run", "--mask-patterns", "email=[a-"}, nil,
			"logstream run: invalid setting mask-patterns (from flag --mask-patterns): mask: pattern \"email\": error parsing regexp: missing closing ]: `[a-`"},
		{[]string{"run", "--config", badRE}, nil, `invalid setting mask-patterns (from file ` + badRE + `): mask: pattern "email": error parsing regexp`},
		{[]string{"run", "--config", badKey}, nil, `unknown field "regex" (keys: name, regexp, replace)`},
		{[]string{"run", "--config", nested}, nil, "invalid setting mask-patterns in " + nested + ": item 1 is a list"},
		{[]string{"run"}, map[string]string{"LOGSTREAM_MASK_PATTERNS": "no equals sign"}, `(from env LOGSTREAM_MASK_PATTERNS): pattern 1: "no equals sign" is not NAME=REGEXP`},
		{[]string{"demo", "--mask-patterns", "digits=\\d*"}, nil, `mask: pattern "digits": \d* matches the empty string`},
		{[]string{"run", "--mask-patterns", "a=x", "--mask-patterns", "a=y"}, nil, `mask: pattern "a" is defined twice`},
	} {
		var out, errb bytes.Buffer
		code := runMain(tc.args, &out, &errb, env(tc.env))
		msg := strings.TrimSpace(errb.String())
		if code != 2 || strings.Contains(msg, "\n") || !strings.Contains(msg, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line with %q", tc.args, code, msg, tc.want)
		}
	}
}
