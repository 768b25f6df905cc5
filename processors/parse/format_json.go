package parse

import (
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// JSON lines are read by a small hand-written parser rather than
// encoding/json into a map[string]any: it validates the whole line as
// strict JSON (RFC 8259), but hands back strings as slices of the line
// unless they hold escapes, flattens nested objects into dotted names and
// keeps arrays as their JSON text. A flat line of a dozen fields costs no
// allocation besides the Labels map.

// maxJSONDepth bounds nesting, so a line of a million '[' cannot exhaust
// the stack. Deeper values make the line invalid.
const maxJSONDepth = 64

type jsonParser struct {
	s   string
	i   int
	kvs []kv
	err string
}

// parseJSONLine reads a JSON object line into f. It returns "" when the
// line is a valid JSON object and the reason otherwise (f is then
// untouched). With hostOnly only f.Host is set.
func parseJSONLine(line string, f *Fields, hostOnly bool) string {
	bp := kvPool.Get().(*[]kv)
	p := jsonParser{s: line, kvs: (*bp)[:0]}
	defer func() {
		// Drop the references into the line before the buffer is reused;
		// keep the buffer itself unless one odd line made it huge.
		clear(p.kvs)
		if cap(p.kvs) <= 1024 {
			*bp = p.kvs[:0]
			kvPool.Put(bp)
		}
	}()
	if !p.parse() {
		return "invalid JSON: " + p.err
	}
	f.Format = formatJSON
	if !applyKVs(f, p.kvs, hostOnly) && !hostOnly {
		// No message field: the line itself is the most useful message.
		f.Message = line
	}
	return ""
}

// kvPool recycles the field lists of JSON lines: the parser is recursive,
// so a buffer on its stack would escape to the heap anyway.
var kvPool = sync.Pool{New: func() any {
	s := make([]kv, 0, 32)
	return &s
}}

func (p *jsonParser) fail(what string) bool {
	if p.err == "" {
		p.err = what + " at byte " + strconv.Itoa(p.i)
	}
	return false
}

func (p *jsonParser) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *jsonParser) parse() bool {
	p.ws()
	if p.peek() != '{' {
		return p.fail("not an object")
	}
	if !p.object("", 1) {
		return false
	}
	p.ws()
	if p.i != len(p.s) {
		return p.fail("data after the object")
	}
	return true
}

// object reads an object (p.i at its '{'), adding its scalar members to
// p.kvs under prefix.
func (p *jsonParser) object(prefix string, depth int) bool {
	p.i++ // '{'
	p.ws()
	if p.peek() == '}' {
		p.i++
		return true
	}
	for {
		p.ws()
		if p.peek() != '"' {
			return p.fail("expected a string key")
		}
		key, ok := p.str()
		if !ok {
			return false
		}
		p.ws()
		if p.peek() != ':' {
			return p.fail("expected ':'")
		}
		p.i++
		p.ws()
		if prefix != "" {
			key = prefix + "." + key
		}
		switch c := p.peek(); c {
		case '{':
			if depth >= maxJSONDepth {
				return p.fail("nesting too deep")
			}
			if !p.object(key, depth+1) {
				return false
			}
		case '[':
			start := p.i
			if !p.skip(depth + 1) {
				return false
			}
			p.kvs = append(p.kvs, kv{key: key, val: p.s[start:p.i], kind: kindRaw})
		case '"':
			v, ok := p.str()
			if !ok {
				return false
			}
			p.kvs = append(p.kvs, kv{key: key, val: v, kind: kindString})
		case 't', 'f', 'n':
			v, kind, ok := p.literal()
			if !ok {
				return false
			}
			p.kvs = append(p.kvs, kv{key: key, val: v, kind: kind})
		default:
			v, ok := p.number()
			if !ok {
				return false
			}
			p.kvs = append(p.kvs, kv{key: key, val: v, kind: kindNumber})
		}
		p.ws()
		switch p.peek() {
		case ',':
			p.i++
		case '}':
			p.i++
			return true
		default:
			return p.fail("expected ',' or '}'")
		}
	}
}

// skip validates and passes over any value.
func (p *jsonParser) skip(depth int) bool {
	switch p.peek() {
	case '{', '[':
		if depth > maxJSONDepth {
			return p.fail("nesting too deep")
		}
		obj := p.s[p.i] == '{'
		closer := byte(']')
		if obj {
			closer = '}'
		}
		p.i++
		p.ws()
		if p.peek() == closer {
			p.i++
			return true
		}
		for {
			p.ws()
			if obj {
				if p.peek() != '"' || !p.skipStr() {
					return p.fail("expected a string key")
				}
				p.ws()
				if p.peek() != ':' {
					return p.fail("expected ':'")
				}
				p.i++
				p.ws()
			}
			if !p.skip(depth + 1) {
				return false
			}
			p.ws()
			switch p.peek() {
			case ',':
				p.i++
			case closer:
				p.i++
				return true
			default:
				return p.fail("expected ',' or a closing bracket")
			}
		}
	case '"':
		return p.skipStr()
	case 't', 'f', 'n':
		_, _, ok := p.literal()
		return ok
	default:
		_, ok := p.number()
		return ok
	}
}

func (p *jsonParser) literal() (string, uint8, bool) {
	rest := p.s[p.i:]
	switch {
	case strings.HasPrefix(rest, "true"):
		p.i += 4
		return "true", kindBool, true
	case strings.HasPrefix(rest, "false"):
		p.i += 5
		return "false", kindBool, true
	case strings.HasPrefix(rest, "null"):
		p.i += 4
		return "", kindNull, true
	}
	return "", 0, p.fail("invalid literal")
}

func (p *jsonParser) number() (string, bool) {
	s, start := p.s, p.i
	i := p.i
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		p.i = i
		return "", p.fail("invalid value")
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			p.i = i
			return "", p.fail("invalid number")
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			p.i = i
			return "", p.fail("invalid number")
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	p.i = i
	return s[start:i], true
}

// scanStr passes over a string (p.i at its opening quote) and returns the
// raw text between the quotes and whether it holds escapes.
func (p *jsonParser) scanStr() (string, bool, bool) {
	s := p.s
	start := p.i + 1
	esc := false
	for i := start; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			p.i = i + 1
			return s[start:i], esc, true
		case c == '\\':
			esc = true
			i++
			if i >= len(s) {
				p.i = i
				return "", false, p.fail("unterminated string")
			}
			switch s[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) || !isHex(s[i+3]) || !isHex(s[i+4]) {
					p.i = i
					return "", false, p.fail("invalid \\u escape")
				}
				i += 4
			default:
				p.i = i
				return "", false, p.fail("invalid escape")
			}
		case c < 0x20:
			p.i = i
			return "", false, p.fail("control character in string")
		}
	}
	p.i = len(s)
	return "", false, p.fail("unterminated string")
}

func (p *jsonParser) skipStr() bool {
	_, _, ok := p.scanStr()
	return ok
}

func (p *jsonParser) str() (string, bool) {
	raw, esc, ok := p.scanStr()
	if !ok || !esc {
		return raw, ok
	}
	return unescapeJSON(raw), true
}

// unescapeJSON decodes the escapes of a string scanStr validated. A lone
// UTF-16 surrogate becomes U+FFFD, as in encoding/json.
func unescapeJSON(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		i++
		switch s[i] {
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r := rune(hex4(s[i+1:]))
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := rune(utf8.RuneError)
				if i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					r2 = rune(hex4(s[i+3:]))
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r = d
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			b.WriteRune(r)
		default: // '"', '\\', '/'
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func hex4(s string) int {
	n := 0
	for i := 0; i < 4; i++ {
		c := s[i]
		switch {
		case isDigit(c):
			n = n*16 + int(c-'0')
		case 'a' <= c && c <= 'f':
			n = n*16 + int(c-'a'+10)
		default:
			n = n*16 + int(c-'A'+10)
		}
	}
	return n
}
