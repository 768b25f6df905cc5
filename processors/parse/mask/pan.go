package mask

import "strings"

const (
	// minPAN and maxPAN bound a PAN's digits; minPAN is also the fewest
	// bytes a PAN takes, which the scan skips by.
	minPAN = 13
	maxPAN = 19
	// maxGroups: a grouped PAN is 4 digits, then groups of at least 2.
	maxGroups = 1 + (maxPAN-4)/2
	// keepFirst and keepLast digits stay readable (the issuer and the
	// digits people quote), as PCI DSS allows at most.
	keepFirst = 6
	keepLast  = 4
)

// Byte classes of the scan.
const (
	cDigit = 1 << iota
	cSep   // ' ' and '-': a grouped PAN's separators
	cWord  // ASCII letters and digits: a PAN touches none
	cRun   = cDigit | cSep
)

var class = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = cDigit | cWord
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = cWord, cWord
	}
	t[' '], t['-'] = cSep, cSep
	return t
}()

func isDigit(c byte) bool { return c-'0' <= 9 }

// maskPANs masks every PAN of s, returning s itself when there is none,
// and the output again until it holds none: a '*' ends a token, so the
// masked digits of a number too long to group ("2000 001 3333333333333")
// can leave a PAN before them ("2000 001 333333*...").
func maskPANs(s string) (string, int) {
	out, n := maskOnce(s)
	for k := n; k > 0; n += k {
		out, k = maskOnce(out)
	}
	return out, n
}

// maskOnce masks the PANs of s, returning s itself when there is none.
//
// A PAN lies in a run of at least minPAN bytes that are all digits or
// separators, so the scan probes the last byte of each minPAN-byte window
// and jumps a whole window when that byte cannot be in a run: most bytes of
// a log line are never read. Only a long enough run is looked at closely.
func maskOnce(s string) (string, int) {
	var b strings.Builder
	n, last := 0, 0
	// [ms, me) is the masked range not yet written: the ranges of PANs
	// that overlap are merged.
	ms, me := -1, -1
	// Invariant: s[i-1] is in no run, so a run found from i starts at i
	// or later.
	for i := 0; i+minPAN <= len(s); {
		if class[s[i+minPAN-1]]&cRun == 0 {
			i += minPAN
			continue
		}
		r := i + minPAN - 1
		for r > i && class[s[r-1]]&cRun != 0 {
			r--
		}
		e := i + minPAN
		for e < len(s) && class[s[e]]&cRun != 0 {
			e++
		}
		if e-r < minPAN {
			i = e + 1
			continue
		}
		// Each group of the run may start a PAN, even one inside the
		// PAN before: in "1234 4111 1111 1111 1111", when 1234 4111 1111
		// 1111 passes the check by chance (one time in ten), the card
		// after it must be masked to its end too. A span that ends no
		// further than the one before adds nothing and is not counted.
		for p, end := r, -1; ; {
			a, z := nextPAN(s, r, e, p)
			if a < 0 {
				break
			}
			for p = a; p < z && isDigit(s[p]); {
				p++
			}
			if z <= end {
				continue
			}
			end = z
			n++
			if n == 1 {
				b.Grow(len(s))
			}
			from, to := maskedRange(s[a:z])
			from, to = a+from, a+to
			if from > me && me >= 0 {
				b.WriteString(s[last:ms])
				writeStarred(&b, s[ms:me])
				last, ms = me, -1
			}
			if ms < 0 {
				ms = from
			}
			me = max(me, to)
		}
		i = e + 1
	}
	if n == 0 {
		return s, 0
	}
	b.WriteString(s[last:ms])
	writeStarred(&b, s[ms:me])
	b.WriteString(s[me:])
	return b.String(), n
}

// nextPAN finds the first PAN at or after p in the run s[r:e] of digits
// and separators: its bounds, or -1, -1.
func nextPAN(s string, r, e, p int) (int, int) {
	for j := p; j < e; {
		if !isDigit(s[j]) {
			j++
			continue
		}
		a := j
		for j < e && isDigit(s[j]) {
			j++
		}
		// Within the run a digit run follows a separator, a boundary; at
		// its start the byte before is outside the run.
		if a == r && !leftBoundary(s, r) {
			continue
		}
		if z := panAt(s, a, j, e); z > 0 {
			return a, z
		}
	}
	return -1, -1
}

// panAt returns the end of the PAN that starts with the digits s[a:j], in
// the run that ends at e, or 0 when none does: the digits alone, or the
// longest span of groups after them that is a PAN.
func panAt(s string, a, j, e int) int {
	if l := j - a; l >= minPAN && l <= maxPAN {
		if rightBoundary(s, j, e) && isPAN(s[a:j]) {
			return j
		}
		return 0
	}
	if j-a != 4 || j+1 >= e {
		return 0
	}
	sep := s[j]
	var ends, digits [maxGroups]int
	ends[0], digits[0] = j, 4
	g := 1
	for k := j; g < maxGroups && k+1 < e && s[k] == sep && isDigit(s[k+1]); g++ {
		q := k + 1
		for q < e && isDigit(s[q]) {
			q++
		}
		l := q - k - 1
		if l < 2 || l > 6 || digits[g-1]+l > maxPAN {
			break
		}
		ends[g], digits[g] = q, digits[g-1]+l
		k = q
	}
	for t := g - 1; t >= 1 && digits[t] >= minPAN; t-- {
		if rightBoundary(s, ends[t], e) && isPAN(s[a:ends[t]]) {
			return ends[t]
		}
	}
	return 0
}

// leftBoundary: the byte before s[i] ends a token. Neither a letter or
// digit (an id, a longer number) nor a '.' after a digit (a decimal
// fraction, an IP address) does.
func leftBoundary(s string, i int) bool {
	if i == 0 {
		return true
	}
	c := s[i-1]
	return class[c]&cWord == 0 && !(c == '.' && i >= 2 && isDigit(s[i-2]))
}

// rightBoundary: the byte at s[z], the end of digits in the run that ends
// at e, ends a token (a separator inside the run does).
func rightBoundary(s string, z, e int) bool {
	if z < e || z == len(s) {
		return true
	}
	c := s[z]
	return class[c]&cWord == 0 && !(c == '.' && z+1 < len(s) && isDigit(s[z+1]))
}

// isPAN: t, digits and separators starting with a digit, is a card
// number: a payment brand's first digit and a valid Luhn check digit.
func isPAN(t string) bool {
	return t[0] >= '2' && t[0] <= '6' && luhn(t)
}

// luhn checks the digits of t (separators skipped) with the Luhn
// algorithm: from the right, every second digit doubled (less 9 past 9),
// the sum a multiple of 10.
func luhn(t string) bool {
	sum, double := 0, false
	for i := len(t) - 1; i >= 0; i-- {
		c := t[i]
		if !isDigit(c) {
			continue
		}
		d := int(c - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// maskedRange is where the digits to mask lie in the PAN t (digits and
// separators): all but the first keepFirst and the last keepLast.
func maskedRange(t string) (from, to int) {
	total := 0
	for i := 0; i < len(t); i++ {
		if isDigit(t[i]) {
			total++
		}
	}
	k := 0
	for i := 0; i < len(t); i++ {
		if !isDigit(t[i]) {
			continue
		}
		if k == keepFirst {
			from = i
		}
		if k == total-keepLast-1 {
			return from, i + 1
		}
		k++
	}
	return from, len(t) // not reached: a PAN has more than keepFirst+keepLast digits
}

// writeStarred writes t with its digits as '*'.
func writeStarred(b *strings.Builder, t string) {
	for i := 0; i < len(t); i++ {
		c := t[i]
		if isDigit(c) {
			c = '*'
		}
		b.WriteByte(c)
	}
}
