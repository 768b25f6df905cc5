package errorrate

import (
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/logstream/logstream/schemas"
)

// DefaultFailurePattern matches messages of timeouts and failures to reach a
// dependency, at any level.
const DefaultFailurePattern = `\b(time[d ]?outs?|timed out|connection (refused|reset)|deadline exceeded|unavailable|circuit (breaker )?open)\b`

// Classifier decides whether a log event is an error. It is safe for
// concurrent use.
type Classifier struct {
	pattern string
	re      *regexp.Regexp // nil: messages are not matched
	// pre is the pre-filter, nil when there is none: a condition on which
	// of lits (lowercase ASCII, compared ignoring case) a message contains,
	// true of every message the pattern matches. first marks the first
	// bytes of lits.
	pre   *clsNode
	lits  []string
	first [256]bool
	// fold: a literal has a letter that Unicode folds to a non-ASCII rune
	// (k: U+212A KELVIN SIGN, s: U+017F LONG S, the only two), so a
	// message with one of those must go to the regexp.
	fold bool
}

// NewClassifier compiles pattern, a Go regexp matched case-insensitively
// against messages (DefaultFailurePattern is a good start). An empty
// pattern matches no message: only levels and HTTP statuses count.
func NewClassifier(pattern string) (*Classifier, error) {
	c := &Classifier{pattern: pattern}
	if pattern == "" {
		return c, nil
	}
	expr := "(?i)" + pattern
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("errorrate: bad failure pattern %q: %w", pattern, err)
	}
	c.re = re
	if tree, err := syntax.Parse(expr, syntax.Perl); err == nil {
		c.setPrefilter(tree)
	}
	return c, nil
}

// Pattern is the pattern the classifier was made with.
func (c *Classifier) Pattern() string { return c.pattern }

// IsError reports whether ev is an error: level ERROR or FATAL, an HTTP
// status 5xx, or a message that the pattern matches. A nil Classifier
// matches no message.
func (c *Classifier) IsError(ev *schemas.LogEvent) bool {
	switch {
	case ev == nil:
		return false
	case ev.Level >= schemas.LevelError:
		return true
	case ev.HTTPStatus != nil && *ev.HTTPStatus >= 500 && *ev.HTTPStatus <= 599:
		return true
	}
	return c.MatchMessage(ev.Message)
}

// MatchMessage reports whether the pattern matches msg.
func (c *Classifier) MatchMessage(msg string) bool {
	if c == nil || c.re == nil || !c.maybe(msg) {
		return false
	}
	return c.re.MatchString(msg)
}

// maybe is the pre-filter: false only when the pattern cannot match msg.
func (c *Classifier) maybe(msg string) bool {
	if c.pre == nil {
		return true
	}
	var found uint64 // bit i: msg contains lits[i]
	for i := 0; i < len(msg); i++ {
		b := msg[i]
		if b >= utf8.RuneSelf {
			if c.fold && (strings.HasPrefix(msg[i:], "\u212A") || strings.HasPrefix(msg[i:], "\u017F")) {
				return true
			}
			continue
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if !c.first[b] {
			continue
		}
		for j, lit := range c.lits {
			if lit[0] == b && clsHasPrefixFold(msg[i:], lit) {
				found |= 1 << j
			}
		}
	}
	return c.pre.eval(found)
}

// clsHasPrefixFold reports whether s starts with lit (lowercase ASCII),
// ignoring ASCII case.
func clsHasPrefixFold(s, lit string) bool {
	if len(s) < len(lit) {
		return false
	}
	for i := 0; i < len(lit); i++ {
		b := s[i]
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if b != lit[i] {
			return false
		}
	}
	return true
}

// Bounds of a useful pre-filter.
const (
	clsMaxLiterals = 64 // bits of a uint64
	clsMinLiteral  = 2  // shorter literals are in most messages
)

// clsNode is a condition of the pre-filter.
type clsNode struct {
	op   syntax.Op // OpLiteral, OpConcat (and), OpAlternate (or)
	lit  string    // OpLiteral: lowercase ASCII
	bit  uint64    // OpLiteral: its bit among the literals found
	subs []*clsNode
}

func (n *clsNode) eval(found uint64) bool {
	switch n.op {
	case syntax.OpLiteral:
		return found&n.bit != 0
	case syntax.OpConcat:
		for _, s := range n.subs {
			if !s.eval(found) {
				return false
			}
		}
		return true
	default:
		for _, s := range n.subs {
			if s.eval(found) {
				return true
			}
		}
		return false
	}
}

func (c *Classifier) setPrefilter(re *syntax.Regexp) {
	pre := clsRequired(re)
	if pre == nil {
		return
	}
	index := map[string]int{}
	var number func(n *clsNode) bool
	number = func(n *clsNode) bool {
		if n.op != syntax.OpLiteral {
			for _, s := range n.subs {
				if !number(s) {
					return false
				}
			}
			return true
		}
		i, ok := index[n.lit]
		if !ok {
			if len(c.lits) == clsMaxLiterals {
				return false
			}
			i = len(c.lits)
			index[n.lit] = i
			c.lits = append(c.lits, n.lit)
		}
		n.bit = 1 << i
		return true
	}
	if !number(pre) {
		c.lits = nil
		return
	}
	for _, l := range c.lits {
		c.first[l[0]] = true
		for _, r := range l {
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				if f >= utf8.RuneSelf {
					c.fold = true
				}
			}
		}
	}
	c.pre = pre
}

// clsRequired returns a condition on the literals (lowercase ASCII, found
// ignoring case) that a text must contain for re to match it; nil when
// it cannot tell.
func clsRequired(re *syntax.Regexp) *clsNode {
	switch re.Op {
	case syntax.OpLiteral:
		// The longest ASCII run: every match contains it.
		best, start := "", 0
		for i := 0; i <= len(re.Rune); i++ {
			if i < len(re.Rune) && re.Rune[i] < utf8.RuneSelf {
				continue
			}
			if i-start > len(best) {
				b := make([]byte, i-start)
				for k, r := range re.Rune[start:i] {
					b[k] = byte(unicode.ToLower(r))
				}
				best = string(b)
			}
			start = i + 1
		}
		if len(best) < clsMinLiteral {
			return nil
		}
		return &clsNode{op: syntax.OpLiteral, lit: best}
	case syntax.OpCapture, syntax.OpPlus:
		return clsRequired(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return clsRequired(re.Sub[0])
		}
	case syntax.OpConcat:
		// Every part is in a match: all the known ones must be found.
		n := &clsNode{op: syntax.OpConcat}
		for _, sub := range re.Sub {
			if s := clsRequired(sub); s != nil {
				n.subs = append(n.subs, s)
			}
		}
		switch len(n.subs) {
		case 0:
			return nil
		case 1:
			return n.subs[0]
		}
		return n
	case syntax.OpAlternate:
		// One of the parts is in a match: each must be known.
		n := &clsNode{op: syntax.OpAlternate}
		for _, sub := range re.Sub {
			s := clsRequired(sub)
			if s == nil {
				return nil
			}
			n.subs = append(n.subs, s)
		}
		return n
	}
	return nil
}

// String shows the condition, for tests: literals quoted, & and |.
func (n *clsNode) String() string {
	switch n.op {
	case syntax.OpLiteral:
		return strconv.Quote(n.lit)
	case syntax.OpConcat, syntax.OpAlternate:
		sep := " & "
		if n.op == syntax.OpAlternate {
			sep = " | "
		}
		parts := make([]string, len(n.subs))
		for i, s := range n.subs {
			parts[i] = s.String()
			if s.op != syntax.OpLiteral {
				parts[i] = "(" + parts[i] + ")"
			}
		}
		return strings.Join(parts, sep)
	}
	return "?"
}

// Latency is the event's latency in milliseconds: LatencyMs when set, else
// the duration of the span the trace join found (SpanDurationUs/1000).
// Values that are negative, NaN or infinite are no latency.
func Latency(ev *schemas.LogEvent) (ms float64, ok bool) {
	if ev == nil {
		return 0, false
	}
	if p := ev.LatencyMs; p != nil && *p >= 0 && *p <= math.MaxFloat64 {
		return *p, true
	}
	if p := ev.SpanDurationUs; p != nil && *p >= 0 {
		return float64(*p) / 1000, true
	}
	return 0, false
}
