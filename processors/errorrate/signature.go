package errorrate

import (
	"strings"
	"unicode/utf8"
)

// MaxSignatureBytes caps the length of a Signature.
const MaxSignatureBytes = 200

// Placeholders of the masked parts of a message.
const (
	sigUUID     = "<uuid>"
	sigIP       = "<ip>"
	sigHex      = "<hex>"
	sigDuration = "<duration>"
	sigEmail    = "<email>"
	sigStr      = "'<str>'"
	sigStrOpen  = "'<str>" // a quote that is never closed: the rest of the message
	sigNum      = "<num>"
	sigTime     = "<ts>"
)

// Signature masks the variable parts of an error message so that messages
// from the same failure collapse into one signature:
//
//	"timeout after 3012 ms to 10.0.4.7:3306" -> "timeout after <num> ms to <ip>:<num>"
//
// The message is read as words (runs of ASCII letters, digits and non-ASCII
// bytes) and punctuation. A word, or a run that starts with one, is masked
// when it is wholly one of, in this order:
//   - an email address (local@domain, the domain's last label letters only) -> <email>;
//     tried first: an address whose local part looks like an id is still an address;
//   - a UUID (8-4-4-4-12 hex digits) -> <uuid>;
//   - an IPv4 address -> <ip> (a port that follows becomes :<num>), or an
//     IPv6 address (with :: or 8 groups, at least one decimal digit) -> <ip>;
//   - a hex id: 0x followed by hex digits, or 8+ hex digits with at least one
//     decimal digit and one letter a-f -> <hex> (a run of decimal digits only is a number);
//   - an RFC 3339 timestamp (2024-01-15T10:20:30.123Z, the T may be a
//     space, seconds, fraction and zone optional) -> <ts>; a date alone is
//     numbers (<num>-<num>-<num>);
//   - a Go-style duration glued to its units (3012ms, 1.5s, 250µs, 2m30s) -> <duration>;
//   - a number: integer, decimal, exponent, with a sign when the '-' does not
//     follow a word or a placeholder -> <num>; a size unit glued to it is
//     kept (10MB -> <num>MB).
//
// Quoted strings, '...' or "..." (a backslash escapes a double quote), become
// '<str>' when the opening quote does not follow a letter, a digit or a
// placeholder (so the apostrophe of "can't" is no quote); a quote that is
// never closed takes the rest of the message: '<str>. In a URL (a word
// followed by "://") the query and fragment, from '?' or '#' to the next
// whitespace, are dropped; the path is kept and masked like the rest.
//
// Digits glued to letters are part of an identifier and kept (db01, sha256,
// http2, k8s); digits after punctuation are a number of their own
// (req-12345 -> req-<num>, web-3 -> web-<num>, /users/42 -> /users/<num>).
//
// Runs of ASCII whitespace become one space, leading and trailing space is
// dropped, and the result is cut to MaxSignatureBytes on a rune boundary
// (placeholders are never cut in half). Signature is idempotent:
// Signature(Signature(m)) == Signature(m). It allocates the result only
// (nothing when the message is already a signature), plus a copy when the
// result is cut, and runs in time linear in the part of msg it reads.
func Signature(msg string) string {
	var w sigScanner
	w.scan(msg)
	if w.cut {
		// A cut can leave a tail that masks differently on its own (the
		// digits of a longer word, a quote cut from its end): mask the
		// result again until it is stable.
		var w2 sigScanner
		for range 4 {
			w2.reset()
			w2.scan(string(w.buf[:w.n]))
			if string(w2.buf[:w2.n]) == string(w.buf[:w.n]) {
				break
			}
			w.buf, w.n = w2.buf, w2.n
		}
	}
	out := w.buf[:w.n]
	if string(out) == msg {
		return msg
	}
	return string(out)
}

// Character classes.
const (
	sigDigit  = 1 << iota // 0-9
	sigHexLet             // a-f A-F
	sigLetter             // other ASCII letters
	sigHigh               // a byte of a multi-byte rune (or invalid UTF-8)
	sigSpace              // ASCII whitespace
	sigLocal              // punctuation allowed in an email's local part
	sigLabel              // punctuation allowed in a domain label

	sigAlnum = sigDigit | sigHexLet | sigLetter | sigHigh
	sigHexes = sigDigit | sigHexLet
)

var sigClass = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = sigDigit
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = sigLetter, sigLetter
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c], t[c-'a'+'A'] = sigHexLet, sigHexLet
	}
	for c := 0x80; c < 0x100; c++ {
		t[c] = sigHigh
	}
	for _, c := range " \t\n\v\f\r" {
		t[c] = sigSpace
	}
	for _, c := range "._%+-" {
		t[c] |= sigLocal
	}
	t['-'] |= sigLabel
	return t
}()

func sigIsAlnum(c byte) bool { return sigClass[c]&sigAlnum != 0 }
func sigIsDigit(c byte) bool { return sigClass[c]&sigDigit != 0 }
func sigIsHex(c byte) bool   { return sigClass[c]&sigHexes != 0 }

// sigEnd reports whether position k of s ends a token: the end of s or a byte
// that is not part of a word.
func sigEnd(s string, k int) bool { return k >= len(s) || !sigIsAlnum(s[k]) }

// Kinds of a token found by match.
const (
	sigKindLiteral = iota
	sigKindNumber  // a number or a duration: may take a sign
	sigKindOther
)

// sigScanner writes a signature into a fixed buffer, so that Signature does
// not allocate until it returns.
type sigScanner struct {
	buf  [MaxSignatureBytes]byte
	n    int
	pend bool // whitespace was read: a space goes before the next output
	url  bool // in a URL: '?' and '#' start a query or fragment to drop
	cut  bool // the output is full; stop
	at   int  // index of the next '@' at or after the scan position, -1 none
}

func (w *sigScanner) reset() { w.n, w.pend, w.url, w.cut, w.at = 0, false, false, false, 0 }

// prev is the last byte of the output, as far as the next token is concerned:
// a space at the start and after whitespace.
func (w *sigScanner) prev() byte {
	if w.pend || w.n == 0 {
		return ' '
	}
	return w.buf[w.n-1]
}

// space writes the pending space, if any; false when the output is full.
func (w *sigScanner) space() bool {
	if !w.pend {
		return true
	}
	w.pend = false
	if w.n == 0 {
		return true
	}
	if w.n == len(w.buf) {
		w.cut = true
		return false
	}
	w.buf[w.n] = ' '
	w.n++
	return true
}

// token writes a placeholder, whole or not at all.
func (w *sigScanner) token(p string) {
	if !w.space() {
		return
	}
	if w.n+len(p) > len(w.buf) {
		w.cut = true
		return
	}
	w.n += copy(w.buf[w.n:], p)
}

// literal writes text of the message, as much as fits.
func (w *sigScanner) literal(s string) {
	if !w.space() {
		return
	}
	k := copy(w.buf[w.n:], s)
	w.n += k
	if k < len(s) {
		w.cut = true
		// Do not end inside a multi-byte rune.
		if i := w.n - 1; i >= 0 && w.buf[i] >= utf8.RuneSelf {
			j := i
			for j > 0 && i-j < utf8.UTFMax-1 && !utf8.RuneStart(w.buf[j]) {
				j--
			}
			if !utf8.FullRune(w.buf[j:w.n]) {
				w.n = j
			}
		}
	}
}

func (w *sigScanner) byte1(c byte) {
	if !w.space() {
		return
	}
	if w.n == len(w.buf) {
		w.cut = true
		return
	}
	w.buf[w.n] = c
	w.n++
}

func (w *sigScanner) scan(s string) {
	w.at = strings.IndexByte(s, '@')
	for i := 0; i < len(s) && !w.cut; {
		c := s[i]
		cl := sigClass[c]
		switch {
		case cl&sigSpace != 0:
			w.pend, w.url = true, false
			i++
		case cl&sigAlnum != 0:
			end, p, _ := w.match(s, i)
			if p != "" {
				w.token(p)
			} else {
				w.literal(s[i:end])
				if strings.HasPrefix(s[end:], "://") {
					w.url = true
				}
			}
			i = end
		case c == '\'' || c == '"':
			i = w.quote(s, i)
		case c == '-' && i+1 < len(s) && sigIsDigit(s[i+1]) && !sigIsAlnum(w.prev()) && w.prev() != '>':
			// A sign, unless the '-' follows a word or a placeholder
			// (req-12345, 2024-01-15): there it separates.
			if end, p, k := w.match(s, i+1); k == sigKindNumber {
				w.token(p)
				i = end
			} else {
				w.byte1(c)
				i++
			}
		case c == ':' && i+1 < len(s) && s[i+1] == ':' && !sigIsAlnum(w.prev()):
			if end, ok := sigIPv6(s, i); ok {
				w.token(sigIP)
				i = end
			} else {
				w.byte1(c)
				i++
			}
		case (c == '?' || c == '#') && w.url:
			for i < len(s) && sigClass[s[i]]&sigSpace == 0 {
				i++
			}
		default:
			w.byte1(c)
			i++
		}
	}
	// The output ends with a space only when it was cut right after one.
	for w.n > 0 && w.buf[w.n-1] == ' ' {
		w.n--
	}
}

// quote masks the quoted string that starts at s[i], if any.
func (w *sigScanner) quote(s string, i int) int {
	q := s[i]
	if p := w.prev(); sigIsAlnum(p) || p == '>' {
		w.byte1(q) // an apostrophe: can't, users', 5's, <num>'s
		return i + 1
	}
	if q == '\'' {
		if k := strings.IndexByte(s[i+1:], '\''); k >= 0 {
			w.token(sigStr)
			return i + 1 + k + 1
		}
	} else {
		for k := i + 1; k < len(s); k++ {
			switch s[k] {
			case '\\':
				k++
			case '"':
				w.token(sigStr)
				return k + 1
			}
		}
	}
	w.token(sigStrOpen)
	return len(s)
}

// match reads the token that starts at s[i], the first byte of a word. It
// returns the token's end and its placeholder, or "" and the end of the word
// when the word is kept as it is.
func (w *sigScanner) match(s string, i int) (end int, placeholder string, kind int) {
	// The word and what it is made of.
	j, cls := i, uint8(0)
	for j < len(s) {
		c := sigClass[s[j]]
		if c&sigAlnum == 0 {
			break
		}
		cls |= c
		j++
	}
	n := j - i

	if w.at >= 0 {
		if w.at < i {
			w.at = strings.IndexByte(s[i:], '@')
			if w.at >= 0 {
				w.at += i
			}
		}
		if w.at >= j {
			if end, ok := sigMatchEmail(s, i, w.at); ok {
				return end, sigEmail, sigKindOther
			}
		}
	}
	hexOnly := cls&^sigHexes == 0
	if hexOnly && n == 8 && j < len(s) && s[j] == '-' {
		if end, ok := sigMatchUUID(s, i); ok {
			return end, sigUUID, sigKindOther
		}
	}
	digitFirst := sigIsDigit(s[i])
	if digitFirst && n <= 3 && j < len(s) && s[j] == '.' {
		if end, ok := sigIPv4(s, i); ok {
			return end, sigIP, sigKindOther
		}
	}
	if hexOnly && n <= 4 && j < len(s) && s[j] == ':' {
		if end, ok := sigIPv6(s, i); ok {
			return end, sigIP, sigKindOther
		}
	}
	if s[i] == '0' && n > 2 && s[i+1]|0x20 == 'x' && sigAllHex(s[i+2:j]) {
		return j, sigHex, sigKindOther
	}
	if hexOnly && n >= 8 && cls&sigDigit != 0 && cls&sigHexLet != 0 {
		return j, sigHex, sigKindOther
	}
	if digitFirst {
		if n == 4 && j < len(s) && s[j] == '-' {
			if end, ok := sigTimestamp(s, i); ok {
				return end, sigTime, sigKindOther
			}
		}
		if end, ok := sigDurationAt(s, i); ok {
			return end, sigDuration, sigKindNumber
		}
		if end, ok := sigNumber(s, i); ok {
			return end, sigNum, sigKindNumber
		}
	}
	return j, "", sigKindLiteral
}

func sigAllHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !sigIsHex(s[i]) {
			return false
		}
	}
	return true
}

func sigDigits(s string, k int) int {
	for k < len(s) && sigIsDigit(s[k]) {
		k++
	}
	return k
}

// sigMatchEmail matches an email address from s[i], whose '@' would be s[at].
func sigMatchEmail(s string, i, at int) (int, bool) {
	const maxLocal, maxDomain = 64, 253 // RFC 5321; bounds the work too
	if at-i > maxLocal {
		return 0, false
	}
	for k := i; k < at; k++ {
		if sigClass[s[k]]&(sigAlnum&^sigHigh|sigLocal) == 0 {
			return 0, false
		}
	}
	// Domain labels, as many as there are; then back to the last label
	// that is a top-level domain (letters only, 2+), so that a trailing
	// ".5" is not part of it.
	k, labels := at+1, 0
	end, endLabels := -1, 0
	for {
		st, letters := k, true
		for k < len(s) && sigClass[s[k]]&(sigAlnum&^sigHigh|sigLabel) != 0 {
			if sigClass[s[k]]&(sigHexLet|sigLetter) == 0 {
				letters = false
			}
			k++
		}
		if k == st || k-(at+1) > maxDomain {
			break
		}
		labels++
		if letters && k-st >= 2 && labels >= 2 {
			end, endLabels = k, labels
		}
		if k+1 < len(s) && s[k] == '.' {
			k++
			continue
		}
		break
	}
	if end < 0 {
		return 0, false
	}
	// The last label must end the word: "a@b.com" but not "a@b.comé".
	if endLabels == labels && !sigEnd(s, end) {
		return 0, false
	}
	return end, true
}

// sigMatchUUID matches 8-4-4-4-12 hex digits from s[i].
func sigMatchUUID(s string, i int) (int, bool) {
	const n = 36
	if len(s)-i < n {
		return 0, false
	}
	for k := 0; k < n; k++ {
		c := s[i+k]
		if k == 8 || k == 13 || k == 18 || k == 23 {
			if c != '-' {
				return 0, false
			}
		} else if !sigIsHex(c) {
			return 0, false
		}
	}
	return i + n, sigEnd(s, i+n)
}

// sigIPv4 matches a dotted quad from s[i], not followed by more of a number
// (".5") or of a word.
func sigIPv4(s string, i int) (int, bool) {
	k := i
	for part := 0; part < 4; part++ {
		if part > 0 {
			if k >= len(s) || s[k] != '.' {
				return 0, false
			}
			k++
		}
		v, st := 0, k
		for k < len(s) && k-st < 4 && sigIsDigit(s[k]) {
			v = v*10 + int(s[k]-'0')
			k++
		}
		if k == st || k-st > 3 || v > 255 {
			return 0, false
		}
	}
	if !sigEnd(s, k) || k+1 < len(s) && s[k] == '.' && sigIsDigit(s[k+1]) {
		return 0, false
	}
	return k, true
}

// sigIPv6 matches an IPv6 address from s[i]: 8 groups, or fewer with one
// "::", possibly ending with a dotted quad, with at least one decimal digit
// (so that "dead::beef" or "std::" is not one). The address is the longest
// such prefix that ends a word or "::": in "::a:12345" it is "::a", in
// "a1::zz" "a1::".
func sigIPv6(s string, i int) (int, bool) {
	k, groups, double, digit := i, 0, false, false
	best := -1
	if strings.HasPrefix(s[k:], "::") {
		double = true
		k += 2
	}
	for k < len(s) {
		st, d := k, digit
		for k < len(s) && k-st < 5 && sigIsHex(s[k]) {
			d = d || sigIsDigit(s[k])
			k++
		}
		if k == st || k-st > 4 {
			break
		}
		if k < len(s) && s[k] == '.' {
			if end, ok := sigIPv4(s, st); ok {
				if sigIPv6Valid(groups+2, double, true) {
					best = end
				}
				break
			}
		}
		groups, digit = groups+1, d
		if sigIPv6Valid(groups, double, digit) && sigEnd(s, k) {
			best = k
		}
		if groups >= 8 {
			break // no more
		}
		if k+1 < len(s) && s[k] == ':' && s[k+1] == ':' {
			if double {
				break
			}
			double = true
			k += 2
			// Whatever follows: when it is masked on its own ("0a::000."
			// -> "<num>."), a second pass sees "0a::<num>.".
			if sigIPv6Valid(groups, double, digit) {
				best = k
			}
			continue
		}
		if k+1 < len(s) && s[k] == ':' && sigIsHex(s[k+1]) {
			k++
			continue
		}
		break
	}
	return best, best >= 0
}

func sigIPv6Valid(groups int, double, digit bool) bool {
	return digit && (double && groups <= 7 || !double && groups == 8)
}

// sigTimestamp matches an RFC 3339 date and time from s[i]:
// YYYY-MM-DD[Tt ]HH:MM[:SS[(.|,)frac]][Z|z|(+|-)HH[:]MM].
func sigTimestamp(s string, i int) (int, bool) {
	const layout = "dddd-dd-dd_dd:dd"
	if len(s)-i < len(layout) {
		return 0, false
	}
	for k := 0; k < len(layout); k++ {
		c := s[i+k]
		switch layout[k] {
		case 'd':
			if !sigIsDigit(c) {
				return 0, false
			}
		case '_':
			if c != 'T' && c != 't' && c != ' ' {
				return 0, false
			}
		default:
			if c != layout[k] {
				return 0, false
			}
		}
	}
	k := i + len(layout)
	if k+2 < len(s) && s[k] == ':' && sigIsDigit(s[k+1]) && sigIsDigit(s[k+2]) {
		k += 3
		if k+1 < len(s) && (s[k] == '.' || s[k] == ',') && sigIsDigit(s[k+1]) {
			k = sigDigits(s, k+1)
		}
	}
	switch {
	case k < len(s) && (s[k] == 'Z' || s[k] == 'z'):
		k++
	case k+2 < len(s) && (s[k] == '+' || s[k] == '-') && sigIsDigit(s[k+1]) && sigIsDigit(s[k+2]):
		z := k + 3
		if z < len(s) && s[z] == ':' {
			z++
		}
		if z+1 < len(s) && sigIsDigit(s[z]) && sigIsDigit(s[z+1]) {
			k = z + 2
		} else if sigEnd(s, k+3) {
			k += 3
		}
	}
	return k, sigEnd(s, k)
}

// sigDurationAt matches a duration from s[i]: one to sigMaxUnits numbers,
// each followed by a unit (ns, us, µs, μs, ms, s, m, h), ending the word.
const sigMaxUnits = 8 // bounds the work on "1.5m1.5m1.5m..."

func sigDurationAt(s string, i int) (int, bool) {
	k, units := i, 0
	for {
		st := k
		k = sigDigits(s, k)
		if k == st {
			return 0, false
		}
		if k+1 < len(s) && s[k] == '.' && sigIsDigit(s[k+1]) {
			k = sigDigits(s, k+1)
		}
		u := sigDurationUnit(s[k:])
		if u == 0 {
			return 0, false
		}
		k += u
		units++
		if units > sigMaxUnits {
			return 0, false
		}
		if k >= len(s) || !sigIsDigit(s[k]) {
			break
		}
	}
	return k, sigEnd(s, k)
}

func sigDurationUnit(s string) int {
	if len(s) == 0 {
		return 0
	}
	switch s[0] {
	case 'n', 'u', 'm':
		if len(s) >= 2 && s[1] == 's' {
			return 2
		}
		if s[0] == 'm' {
			return 1
		}
	case 's', 'h':
		return 1
	case 0xC2: // µ U+00B5 MICRO SIGN
		if strings.HasPrefix(s, "µs") {
			return len("µs")
		}
	case 0xCE: // μ U+03BC GREEK SMALL LETTER MU
		if strings.HasPrefix(s, "μs") {
			return len("μs")
		}
	}
	return 0
}

// sigNumber matches a number from s[i] (a digit): the longest of
// digits.digits[eE][+-]digits, digits.digits and digits that ends the word or
// is followed by a size unit (KB, MiB...).
func sigNumber(s string, i int) (int, bool) {
	a := sigDigits(s, i)
	b := -1
	if a+1 < len(s) && s[a] == '.' && sigIsDigit(s[a+1]) {
		b = sigDigits(s, a+1)
	}
	base := a
	if b > 0 {
		base = b
	}
	if base < len(s) && s[base]|0x20 == 'e' {
		e := base + 1
		if e < len(s) && (s[e] == '+' || s[e] == '-') {
			e++
		}
		if e < len(s) && sigIsDigit(s[e]) {
			if e = sigDigits(s, e); sigEnd(s, e) {
				return e, true
			}
		}
	}
	if b > 0 && (sigEnd(s, b) || sigSizeUnit(s, b)) {
		return b, true
	}
	if sigEnd(s, a) || sigSizeUnit(s, a) {
		return a, true
	}
	return 0, false
}

// sigSizeUnit reports whether a size unit (B, KB, KiB... PB, PiB, any case)
// is the rest of the word at s[k].
func sigSizeUnit(s string, k int) bool {
	e := k
	for e < len(s) && e-k < 4 && sigClass[s[e]]&(sigHexLet|sigLetter) != 0 {
		e++
	}
	if !sigEnd(s, e) {
		return false
	}
	switch u := s[k:e]; len(u) {
	case 1:
		return u[0] == 'B'
	case 2, 3:
		if u[len(u)-1]|0x20 != 'b' || len(u) == 3 && u[1]|0x20 != 'i' {
			return false
		}
		switch u[0] | 0x20 {
		case 'k', 'm', 'g', 't', 'p':
			return true
		}
	}
	return false
}
