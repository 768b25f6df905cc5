package mask

import (
	"fmt"
	"maps"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Pattern is one configured kind of value to mask besides card numbers.
type Pattern struct {
	// Name names the pattern in errors and in the default replacement:
	// letters, digits, '_', '-' and '.', unique among the patterns.
	Name string `json:"name" yaml:"name"`
	// Regexp is the Go (RE2) regular expression of the values to mask.
	Regexp string `json:"regexp" yaml:"regexp"`
	// Replace is what each match becomes, with $1 or ${group} expanded as
	// regexp.Regexp.Expand does; empty means "[MASKED:<name>]".
	Replace string `json:"replace,omitempty" yaml:"replace,omitempty"`
}

// DefaultReplace is what a match of the pattern named name becomes when
// the pattern sets no Replace.
func DefaultReplace(name string) string { return "[MASKED:" + name + "]" }

// Masker masks card numbers and the values of its patterns. The nil and
// zero Maskers mask card numbers only.
type Masker struct {
	patterns []compiled
}

// compiled is a Pattern ready to apply.
type compiled struct {
	name    string
	re      *regexp.Regexp
	replace string
	expand  bool // replace refers to groups ($)
	// literal is text every match contains: a line without it cannot
	// match, and the regexp does not run ("" when none is known).
	literal string
}

// New compiles patterns, in order. Card numbers are masked whatever the
// patterns: New(nil) returns a Masker that masks them only.
func New(patterns []Pattern) (*Masker, error) {
	m := &Masker{}
	seen := map[string]bool{}
	for i, p := range patterns {
		switch {
		case p.Name == "":
			return nil, fmt.Errorf("mask: pattern %d has no name", i+1)
		case !validName(p.Name):
			return nil, fmt.Errorf("mask: pattern %q: a name is letters, digits, '_', '-' and '.'", p.Name)
		case seen[p.Name]:
			return nil, fmt.Errorf("mask: pattern %q is defined twice", p.Name)
		case p.Regexp == "":
			return nil, fmt.Errorf("mask: pattern %q has no regexp", p.Name)
		}
		seen[p.Name] = true
		re, err := regexp.Compile(p.Regexp)
		if err != nil {
			return nil, fmt.Errorf("mask: pattern %q: %w", p.Name, err)
		}
		// An empty match masks nothing, and a regexp that can match
		// nothing at all is a mistake (x* for x+).
		if re.MatchString("") {
			return nil, fmt.Errorf("mask: pattern %q: %s matches the empty string", p.Name, p.Regexp)
		}
		c := compiled{name: p.Name, re: re, replace: p.Replace, literal: requiredLiteral(p.Regexp)}
		if c.replace == "" {
			c.replace = DefaultReplace(p.Name)
		}
		c.expand = strings.Contains(c.replace, "$")
		m.patterns = append(m.patterns, c)
	}
	return m, nil
}

// Patterns returns the patterns m applies, in order (nil for none).
func (m *Masker) Patterns() []Pattern {
	if m == nil {
		return nil
	}
	out := make([]Pattern, 0, len(m.patterns))
	for _, c := range m.patterns {
		out = append(out, Pattern{Name: c.name, Regexp: c.re.String(), Replace: c.replace})
	}
	return out
}

// String masks s: card numbers, then each pattern in order, then card
// numbers again if a pattern changed the text. It returns s itself,
// without allocating, when nothing is masked; otherwise the masked text
// and n, the count of values masked (PANs and pattern matches), for the
// caller's metrics.
func (m *Masker) String(s string) (out string, n int) {
	out, n = maskPANs(s)
	if m == nil {
		return out, n
	}
	changed := false
	for i := range m.patterns {
		var k int
		out, k = m.patterns[i].apply(out)
		n += k
		changed = changed || k > 0
	}
	if changed {
		// A replacement can end the token a card number touched
		// ("a@b.co4111..." becomes "[MASKED:email]4111..."): look again.
		var k int
		out, k = maskPANs(out)
		n += k
	}
	return out, n
}

// Labels masks the values of labels (names are not masked). It returns
// labels itself when nothing is masked; otherwise a copy with the masked
// values, so that a map the caller shares is never changed, and the count
// of values masked.
func (m *Masker) Labels(labels map[string]string) (map[string]string, int) {
	var out map[string]string
	n := 0
	for k, v := range labels {
		mv, c := m.String(v)
		if c == 0 {
			continue
		}
		if out == nil {
			out = maps.Clone(labels)
		}
		out[k] = mv
		n += c
	}
	if out == nil {
		return labels, 0
	}
	return out, n
}

// apply replaces c's non-empty matches in s.
func (c *compiled) apply(s string) (string, int) {
	if c.literal != "" && !strings.Contains(s, c.literal) {
		return s, 0
	}
	var idx [][]int
	if c.expand {
		idx = c.re.FindAllStringSubmatchIndex(s, -1)
	} else {
		idx = c.re.FindAllStringIndex(s, -1)
	}
	var b []byte
	n, last := 0, 0
	for _, m := range idx {
		if m[0] == m[1] {
			continue // an empty match (x*$ in "ab") hides nothing
		}
		if b == nil {
			b = make([]byte, 0, len(s)+len(c.replace))
		}
		b = append(b, s[last:m[0]]...)
		if c.expand {
			b = c.re.ExpandString(b, c.replace, s, m)
		} else {
			b = append(b, c.replace...)
		}
		last = m[1]
		n++
	}
	if n == 0 {
		return s, 0
	}
	return string(append(b, s[last:]...)), n
}

func validName(name string) bool {
	for _, r := range name {
		if !(r == '_' || r == '-' || r == '.' || r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
			return false
		}
	}
	return true
}

// requiredLiteral is the longest text that every match of expr contains,
// from its syntax, or "" when none is known. Case-insensitive parts count
// only for their runes that have no other case ("@" in (?i)\w+@\w+).
func requiredLiteral(expr string) string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return ""
	}
	lit := required(re.Simplify())
	// The regexp reads invalid UTF-8 as U+FFFD: a literal U+FFFD matches
	// bytes that strings.Contains would not find.
	if strings.ContainsRune(lit, utf8.RuneError) {
		return ""
	}
	return lit
}

func required(re *syntax.Regexp) string {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase == 0 {
			return string(re.Rune)
		}
		best, from := "", 0
		for i := 0; i <= len(re.Rune); i++ {
			if i < len(re.Rune) && unicode.SimpleFold(re.Rune[i]) == re.Rune[i] {
				continue
			}
			if run := string(re.Rune[from:i]); len(run) > len(best) {
				best = run
			}
			from = i + 1
		}
		return best
	case syntax.OpCharClass:
		if len(re.Rune) == 2 && re.Rune[0] == re.Rune[1] {
			return string(re.Rune[0])
		}
	case syntax.OpCapture, syntax.OpPlus:
		return required(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return required(re.Sub[0])
		}
	case syntax.OpConcat:
		best := ""
		for _, sub := range re.Sub {
			if l := required(sub); len(l) > len(best) {
				best = l
			}
		}
		return best
	}
	return ""
}
