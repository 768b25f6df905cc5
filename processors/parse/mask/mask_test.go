package mask

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unsafe"
)

// Patterns of the tests and benchmarks: the README's examples.
var (
	emailPattern  = Pattern{Name: "email", Regexp: `[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`}
	bearerPattern = Pattern{Name: "bearer", Regexp: `Bearer [A-Za-z0-9._~+/=-]+`}
)

func mustNew(t testing.TB, ps ...Pattern) *Masker {
	t.Helper()
	m, err := New(ps)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// PANs masked, from the card brands' public test numbers; 17 and 18
// digits are a brand prefix with its Luhn check digit (no public test
// number has those lengths).
func TestMaskPANs(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		n              int
	}{
		{"visa 13", "pan=4222222222222", "pan=422222***2222", 1},
		{"diners 14", "30569309025904", "305693****5904", 1},
		{"amex 15", "378282246310005", "378282*****0005", 1},
		{"visa 16", "card 4111111111111111 declined", "card 411111******1111 declined", 1},
		{"mastercard 16", "5555555555554444", "555555******4444", 1},
		{"mastercard 2-series", "2223003122003222", "222300******3222", 1},
		{"discover 16", "6011111111111117", "601111******1117", 1},
		{"jcb 16", "3530111333300000", "353011******0000", 1},
		{"visa 17", "40000000000000006", "400000*******0006", 1},
		{"mastercard 18", "550000000000000004", "550000********0004", 1},
		{"unionpay 19", "6205500000000000004", "620550*********0004", 1},
		{"maestro 19", "6799990100000000019", "679999*********0019", 1},

		{"json value", `{"card":"4111111111111111","ok":false}`, `{"card":"411111******1111","ok":false}`, 1},
		{"logfmt value", "card=4111111111111111 amount=12.50", "card=411111******1111 amount=12.50", 1},
		{"parentheses", "(4111111111111111)", "(411111******1111)", 1},
		{"after a dash", "ref-4111111111111111", "ref-411111******1111", 1},
		{"after an underscore", "pan_4111111111111111", "pan_411111******1111", 1},
		{"end of a sentence", "paid with 4111111111111111.", "paid with 411111******1111.", 1},
		{"between commas", "7,4111111111111111,x", "7,411111******1111,x", 1},
		{"non-ASCII around", "карта4111111111111111€", "карта411111******1111€", 1},

		{"grouped spaces", "card 4111 1111 1111 1111 declined", "card 4111 11** **** 1111 declined", 1},
		{"grouped dashes", "4111-1111-1111-1111", "4111-11**-****-1111", 1},
		{"amex grouped", "3782 822463 10005", "3782 82**** *0005", 1},
		{"amex dashes", "3782-822463-10005", "3782-82****-*0005", 1},
		{"diners grouped", "3056 930902 5904", "3056 93**** 5904", 1},
		{"19 grouped", "6799 9901 0000 0000 019", "6799 99** **** ***0 019", 1},
		{"grouped then a quantity", "4111 1111 1111 1111 2 items", "4111 11** **** 1111 2 items", 1},
		{"grouped then a year", "4111 1111 1111 1111 2026", "4111 11** **** 1111 2026", 1},
		{"grouped after a number", "qty 12 4111 1111 1111 1111", "qty 12 4111 11** **** 1111", 1},
		// 4111111111111111128 passes the check too: the longest span wins,
		// the card's own digits are masked all the same.
		{"longest span first", "4111 1111 1111 1111 128", "4111 11** **** ***1 128", 1},
		{"grouped, shorter span", "4111 1111 1111 1111 123", "4111 11** **** 1111 123", 1},
		// 2002 4111 1111 1111 passes the check too: the card after it is
		// masked all the same (both count).
		{"a number before the card", "2002 4111 1111 1111 1111", "2002 41** **** **** 1111", 2},

		// The masked 15 digits end a token: 2000 001 333333 is a PAN of
		// its own then, masked too (found by FuzzMask).
		{"masking leaves a card", "2000 001 333333333333311", "2000 00* **3333*****3311", 2},
		{"several", "a 4111111111111111 b 5555-5555-5555-4444 c 378282246310005.",
			"a 411111******1111 b 5555-55**-****-4444 c 378282*****0005.", 3},
		{"adjacent grouped", "4111 1111 1111 1111 5555 5555 5555 4444", "4111 11** **** 1111 5555 55** **** 4444", 2},
		{"whole line", "4111111111111111", "411111******1111", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, n := New(nil)
			if n != nil {
				t.Fatal(n)
			}
			out, k := got.String(tc.in)
			if out != tc.want || k != tc.n {
				t.Fatalf("String(%q) = %q, %d; want %q, %d", tc.in, out, k, tc.want, tc.n)
			}
			if len(out) != len(tc.in) {
				t.Fatalf("length %d, input %d", len(out), len(tc.in))
			}
			if again, k := got.String(out); again != out || k != 0 {
				t.Fatalf("masking again: %q, %d", again, k)
			}
		})
	}
}

func TestMaskLeavesOtherNumbers(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"luhn invalid", "card 4111111111111112 declined"},
		{"luhn invalid grouped", "4111 1111 1111 1112"},
		{"12 digits, luhn valid", "id=411111111117"},
		{"20 digits, luhn valid", "id=41111111111111111115"},
		{"20 digits holding a card", "41111111111111110000"},
		{"timestamp", "2026-05-01T12:00:00.123456789Z"},
		{"timestamp with a space", "2026-05-01 12:00:00.123456789 +0000"},
		{"ip", "client 10.0.0.1 via 192.168.100.200"},
		{"unix millis, luhn valid", `"ts":1746100800124`},
		{"unix nanos, luhn valid", "ts=1746100800123456781"},
		{"decimal fraction", "latency=0.4111111111111111"},
		{"decimal integer part", "4111111111111111.5"},
		{"hex trace id", "trace_id=4bf92f3577b34da6a3ce929d0e0e4736"},
		{"trace id with a card's digits", "trace_id=4111111111111111abcdef0123456789"},
		{"trace id ending with them", "trace_id=abcdef01234567894111111111111111"},
		{"trace id of digits", "trace_id=41111111111111114111111111111111"},
		{"traceparent", "traceparent=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		{"uuid", "123e4567-e89b-12d3-a456-426614174000"},
		{"uuid of digits", "41111111-1111-1111-1111-111111111111"},
		{"letters before", "abc4111111111111111"},
		{"letters after", "4111111111111111abc"},
		{"mixed separators", "4111-1111 1111 1111"},
		{"double space", "4111  1111 1111 1111"},
		{"first group not 4", "411 111 111 111 1111"},
		{"brand digit 1", "1111111111111117"},
		{"brand digit 9", "9111111111111113"},
		{"spaces and dashes only", "--------------------               ---"},
		{"short", "4111"},
		{"empty", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustNew(t)
			out, n := m.String(tc.in)
			if out != tc.in || n != 0 {
				t.Fatalf("String(%q) = %q, %d; want it unchanged", tc.in, out, n)
			}
		})
	}
}

// Card numbers are masked whatever the Masker: nil, zero, or built.
func TestMaskPANsAlwaysOn(t *testing.T) {
	const in, want = "card 4111111111111111", "card 411111******1111"
	var nilMasker *Masker
	for name, m := range map[string]*Masker{"nil": nilMasker, "zero": {}, "New(nil)": mustNew(t), "with patterns": mustNew(t, emailPattern)} {
		if out, n := m.String(in); out != want || n != 1 {
			t.Errorf("%s: %q, %d", name, out, n)
		}
	}
}

// The common line costs nothing: the same string back, no allocation.
func TestMaskCleanLineWithoutAllocating(t *testing.T) {
	m := mustNew(t, emailPattern, bearerPattern)
	for _, line := range benchLines {
		out, n := m.String(line.text)
		if n != 0 || unsafe.StringData(out) != unsafe.StringData(line.text) {
			t.Fatalf("%s: masked or copied: %q, %d", line.name, out, n)
		}
		if a := testing.AllocsPerRun(100, func() { m.String(line.text) }); a != 0 {
			t.Errorf("%s: %v allocations per clean line", line.name, a)
		}
	}
}

func TestMaskPatterns(t *testing.T) {
	for _, tc := range []struct {
		name     string
		patterns []Pattern
		in, want string
		n        int
	}{
		{"email", []Pattern{emailPattern}, "refund for alice.b@example.com done", "refund for [MASKED:email] done", 1},
		{"two emails", []Pattern{emailPattern}, "from a@x.io to b@y.org", "from [MASKED:email] to [MASKED:email]", 2},
		{"bearer", []Pattern{bearerPattern}, "Authorization: Bearer eyJhbGciOi.eyJzdWIi.SflKx-_w ok", "Authorization: [MASKED:bearer] ok", 1},
		{"replace with a group", []Pattern{{Name: "bearer", Regexp: `(Bearer )[A-Za-z0-9._~+/=-]+`, Replace: "${1}[MASKED]"}},
			"Authorization: Bearer abc.def", "Authorization: Bearer [MASKED]", 1},
		{"literal replace", []Pattern{{Name: "ssn", Regexp: `\b\d{3}-\d{2}-\d{4}\b`, Replace: "***-**-****"}},
			"ssn 123-45-6789", "ssn ***-**-****", 1},
		{"card then patterns", []Pattern{emailPattern, bearerPattern},
			"user bob@example.com card 4111111111111111 token Bearer abc",
			"user [MASKED:email] card 411111******1111 token [MASKED:bearer]", 3},
		{"in order", []Pattern{{Name: "a", Regexp: `secret=\w+`}, {Name: "b", Regexp: `\[MASKED:a\]`, Replace: "gone"}},
			"x secret=42 y", "x gone y", 2},
		{"literal present, no match", []Pattern{emailPattern}, "ssh user@ failed", "ssh user@ failed", 0},
		// The e-mail's replacement ends the token the card number
		// touched: the card is masked too.
		{"pattern frees a card", []Pattern{emailPattern}, "a@b.co4111111111111111", "[MASKED:email]411111******1111", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustNew(t, tc.patterns...)
			out, n := m.String(tc.in)
			if out != tc.want || n != tc.n {
				t.Fatalf("String(%q) = %q, %d; want %q, %d", tc.in, out, n, tc.want, tc.n)
			}
			if again, k := m.String(out); again != out || k != 0 {
				t.Fatalf("masking again: %q, %d", again, k)
			}
		})
	}
}

func TestMaskNewErrorsNameThePattern(t *testing.T) {
	for _, tc := range []struct {
		patterns []Pattern
		want     string
	}{
		{[]Pattern{{Name: "email", Regexp: `[a-z+@`}}, `mask: pattern "email": error parsing regexp: missing closing ]`},
		{[]Pattern{{Regexp: `x`}}, "mask: pattern 1 has no name"},
		{[]Pattern{emailPattern, {Name: "email", Regexp: `y`}}, `mask: pattern "email" is defined twice`},
		{[]Pattern{{Name: "token"}}, `mask: pattern "token" has no regexp`},
		{[]Pattern{{Name: "e mail", Regexp: `x`}}, `mask: pattern "e mail": a name is`},
		{[]Pattern{{Name: "digits", Regexp: `\d*`}}, `mask: pattern "digits": \d* matches the empty string`},
	} {
		_, err := New(tc.patterns)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("New(%v) = %v, want %q", tc.patterns, err, tc.want)
		}
	}
	m := mustNew(t, emailPattern, Pattern{Name: "b", Regexp: "x+", Replace: "X"})
	want := []Pattern{{Name: "email", Regexp: emailPattern.Regexp, Replace: "[MASKED:email]"}, {Name: "b", Regexp: "x+", Replace: "X"}}
	if got := m.Patterns(); !reflect.DeepEqual(got, want) {
		t.Errorf("Patterns() = %v, want %v", got, want)
	}
}

// The prefilter's literal is text every match contains: a line without it
// is skipped without running the regexp, so a wrong literal would leave a
// value unmasked. Checked on random strings for each pattern.
func TestMaskRequiredLiteral(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{emailPattern.Regexp, "@"},
		{bearerPattern.Regexp, "Bearer "},
		{`(Bearer )[A-Za-z]+`, "Bearer "},
		{`(?i)\w+@\w+`, "@"},
		{`(?i)token=\w+`, "="},
		{`(?:ab){2,}c`, "ab"},
		{`secret|token`, ""},
		{`\d{3}-\d{2}`, "-"},
		{`[0-9]{16}`, ""},
		{`x?y*`, ""},
	} {
		if got := requiredLiteral(tc.expr); got != tc.want {
			t.Errorf("requiredLiteral(%q) = %q, want %q", tc.expr, got, tc.want)
		}
		re := regexp.MustCompile(tc.expr)
		lit := requiredLiteral(tc.expr)
		rng := rand.New(rand.NewPCG(1, 2))
		const alphabet = "abcABC@=-_ 0123Bearer Token secret"
		for range 2000 {
			b := make([]byte, rng.IntN(24))
			for i := range b {
				b[i] = alphabet[rng.IntN(len(alphabet))]
			}
			if s := string(b); re.MatchString(s) && !strings.Contains(s, lit) {
				t.Errorf("%q matches %q, which lacks its literal %q", tc.expr, s, lit)
			}
		}
	}
}

func TestMaskLabels(t *testing.T) {
	m := mustNew(t, emailPattern)
	clean := map[string]string{"app": "pay", "pod": "pay-7d9f"}
	if got, n := m.Labels(clean); n != 0 || reflect.ValueOf(got).UnsafePointer() != reflect.ValueOf(clean).UnsafePointer() {
		t.Errorf("clean labels: %v, %d; want the same map", got, n)
	}
	shared := map[string]string{"app": "pay", "owner": "ops@example.com", "card": "4111 1111 1111 1111"}
	got, n := m.Labels(shared)
	want := map[string]string{"app": "pay", "owner": "[MASKED:email]", "card": "4111 11** **** 1111"}
	if n != 2 || !reflect.DeepEqual(got, want) {
		t.Errorf("Labels = %v, %d; want %v, 2", got, n, want)
	}
	if shared["owner"] != "ops@example.com" || shared["card"] != "4111 1111 1111 1111" {
		t.Errorf("the caller's map changed: %v", shared)
	}
	if got, n := m.Labels(nil); got != nil || n != 0 {
		t.Errorf("Labels(nil) = %v, %d", got, n)
	}
}

// Random log-like lines with card numbers of every length and form put in
// among other tokens: each card's middle digits are masked, nothing else
// changes.
func TestMaskPropertyInsertedCards(t *testing.T) {
	m := mustNew(t)
	rng := rand.New(rand.NewPCG(7, 11))
	words := []string{"level=info", "msg=\"paid\"", "12.50", "2026-05-01T12:00:00Z", "10.0.0.1", "abc123", "ord_8f3a2c91", "x", "200", "4bf92f3577b34da6", "1746100800124"}
	bounds := []byte(`=:"',;()[]{}<>/|`)
	for iter := range 3000 {
		var line strings.Builder
		type card struct{ at, length, digits int }
		var cards []card
		for range 1 + rng.IntN(6) {
			if line.Len() > 0 {
				line.WriteByte(' ')
			}
			if rng.IntN(3) > 0 {
				line.WriteString(words[rng.IntN(len(words))])
				continue
			}
			pan := randomPAN(rng)
			text := pan
			if form := rng.IntN(3); form > 0 {
				text = group(pan, " -"[form-1])
			}
			line.WriteByte(bounds[rng.IntN(len(bounds))])
			cards = append(cards, card{at: line.Len(), length: len(text), digits: len(pan)})
			line.WriteString(text)
			line.WriteByte(bounds[rng.IntN(len(bounds))])
		}
		in := line.String()
		out, n := m.String(in)
		if n != len(cards) || len(out) != len(in) {
			t.Fatalf("%d: %q → %q, %d masked, want %d", iter, in, out, n, len(cards))
		}
		masked := make([]bool, len(in))
		for _, c := range cards {
			k := 0
			for i := c.at; i < c.at+c.length; i++ {
				if isDigit(in[i]) {
					masked[i] = k >= keepFirst && k < c.digits-keepLast
					k++
				}
			}
		}
		for i := range in {
			want := in[i]
			if masked[i] {
				want = '*'
			}
			if out[i] != want {
				t.Fatalf("%d: %q → %q: byte %d is %q, want %q", iter, in, out, i, out[i], want)
			}
		}
	}
}

// Cards joined to other numbers by their own separator: a group before
// (which can form a Luhn-valid span with the card's first groups) and one
// after. Whatever spans pass the check, the card's middle digits are
// masked, and no PAN is left.
func TestMaskPropertyCardsAmongNumbers(t *testing.T) {
	m := mustNew(t)
	rng := rand.New(rand.NewPCG(13, 17))
	for range 20000 {
		pan := randomPAN(rng)
		sep := " -"[rng.IntN(2)]
		text := group(pan, sep)
		var pre, post string
		if rng.IntN(4) > 0 {
			pre = fmt.Sprintf("%04d%c", rng.IntN(10000), sep)
		}
		if rng.IntN(2) > 0 {
			post = fmt.Sprintf("%c%d", sep, rng.IntN(1000000))
		}
		in := "x=" + pre + text + post + ";"
		out, n := m.String(in)
		if n == 0 || hasPAN(out) {
			t.Fatalf("%q → %q, %d", in, out, n)
		}
		at, k := 2+len(pre), 0
		for i := at; i < at+len(text); i++ {
			if isDigit(in[i]) {
				if k >= keepFirst && k < len(pan)-keepLast && out[i] != '*' {
					t.Fatalf("%q → %q: digit %d of the card is readable", in, out, k)
				}
				k++
			}
		}
	}
}

// Random digit-heavy strings: the output holds no PAN (by an independent,
// slow reading of the definition), the input had one exactly when
// something was masked, and only digits became '*'.
func TestMaskPropertyOutputHasNoPAN(t *testing.T) {
	m := mustNew(t)
	rng := rand.New(rand.NewPCG(3, 5))
	const alphabet = "0123456789012345678901234567890123456789 - .a_"
	for range 20000 {
		b := make([]byte, rng.IntN(64))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		// Plant a card now and then so that the interesting case comes up.
		if len(b) > 20 && rng.IntN(2) == 0 {
			at := rng.IntN(len(b) - 19)
			copy(b[at:], randomPAN(rng))
		}
		checkMasked(t, m, string(b))
	}
}

func checkMasked(t *testing.T, m *Masker, in string) {
	t.Helper()
	out, n := m.String(in)
	if len(out) != len(in) {
		t.Fatalf("%q → %q: length changed", in, out)
	}
	if hasPAN(out) {
		t.Fatalf("%q → %q: a PAN is left", in, out)
	}
	if (n > 0) != hasPAN(in) {
		t.Fatalf("%q → %q: %d masked, but hasPAN(input) = %v", in, out, n, hasPAN(in))
	}
	if n == 0 && len(in) > 0 && unsafe.StringData(out) != unsafe.StringData(in) {
		t.Fatalf("%q: nothing masked but copied", in)
	}
	for i := range in {
		if out[i] != in[i] && !(out[i] == '*' && isDigit(in[i])) {
			t.Fatalf("%q → %q: byte %d changed to %q", in, out, i, out[i])
		}
	}
}

func FuzzMask(f *testing.F) {
	for _, s := range []string{
		"card 4111111111111111 declined", "4111 1111 1111 1111", "3782-822463-10005", "6799 9901 0000 0000 019",
		"2026-05-01T12:00:00.123456789Z", "10.0.0.1", "trace_id=4111111111111111abcdef0123456789",
		"user bob@example.com Bearer abc 5555555555554444", "a@b.co4111111111111111", "4111 1111 1111 1111 128",
	} {
		f.Add(s)
	}
	panOnly := mustNew(f)
	withPatterns := mustNew(f, emailPattern, bearerPattern)
	f.Fuzz(func(t *testing.T, s string) {
		checkMasked(t, panOnly, s)
		out, _ := withPatterns.String(s)
		if hasPAN(out) {
			t.Fatalf("%q → %q: a PAN is left", s, out)
		}
		if again, n := withPatterns.String(out); again != out || n != 0 {
			t.Fatalf("%q → %q → %q (%d): not idempotent", s, out, again, n)
		}
	})
}

// hasPAN reads the package doc's definition of a PAN the slow way, start
// by start, without the scan's skipping: a test oracle.
func hasPAN(s string) bool {
	digit := func(i int) bool { return i >= 0 && i < len(s) && s[i] >= '0' && s[i] <= '9' }
	word := func(i int) bool {
		c := s[i]
		return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	runEnd := func(i int) int {
		for digit(i) {
			i++
		}
		return i
	}
	before := func(i int) bool { return i == 0 || !word(i-1) && !(s[i-1] == '.' && digit(i-2)) }
	after := func(j int) bool { return j == len(s) || !word(j) && !(s[j] == '.' && digit(j+1)) }
	card := func(t string) bool {
		d := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, t)
		return d[0] >= '2' && d[0] <= '6' && luhnTest(d)
	}
	for i := 0; i < len(s); i++ {
		if !digit(i) || digit(i-1) || !before(i) {
			continue
		}
		j := runEnd(i)
		if l := j - i; l >= 13 && l <= 19 && after(j) && card(s[i:j]) {
			return true
		}
		if j-i != 4 {
			continue
		}
		for _, sep := range []byte(" -") {
			digits := 4
			for k := j; k+1 < len(s) && s[k] == sep && digit(k+1); {
				q := runEnd(k + 1)
				if l := q - k - 1; l < 2 || l > 6 || digits+l > 19 {
					break
				}
				digits += q - k - 1
				if digits >= 13 && after(q) && card(s[i:q]) {
					return true
				}
				k = q
			}
		}
	}
	return false
}

// luhnTest is the Luhn check written another way than the package's.
func luhnTest(d string) bool {
	doubled := [10]int{0, 2, 4, 6, 8, 1, 3, 5, 7, 9}
	sum := 0
	for i := range d {
		v := int(d[len(d)-1-i] - '0')
		if i%2 == 1 {
			v = doubled[v]
		}
		sum += v
	}
	return sum%10 == 0
}

// randomPAN is a Luhn-valid number of 13 to 19 digits starting with a
// brand's digit.
func randomPAN(rng *rand.Rand) string {
	n := 13 + rng.IntN(7)
	b := []byte{byte('2' + rng.IntN(5))}
	for len(b) < n-1 {
		b = append(b, byte('0'+rng.IntN(10)))
	}
	for c := byte('0'); c <= '9'; c++ {
		if luhnTest(string(append(b, c))) {
			return string(append(b, c))
		}
	}
	panic("no check digit")
}

// group writes pan as printed on cards of its length.
func group(pan string, sep byte) string {
	layouts := map[int][]int{13: {4, 4, 5}, 14: {4, 6, 4}, 15: {4, 6, 5}, 16: {4, 4, 4, 4}, 17: {4, 4, 4, 5}, 18: {4, 4, 4, 4, 2}, 19: {4, 4, 4, 4, 3}}
	var b strings.Builder
	at := 0
	for i, g := range layouts[len(pan)] {
		if i > 0 {
			b.WriteByte(sep)
		}
		b.WriteString(pan[at : at+g])
		at += g
	}
	return b.String()
}

// Typical 200-byte lines with nothing to mask, and one with a card.
var benchLines = []struct{ name, text string }{
	{"json", `{"ts":"2026-05-01T12:00:00.123Z","level":"info","host":"web-3","msg":"payment authorized","order_id":"ord_8f3a2c91","amount":129.95,"currency":"EUR","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","dur_ms":42}`},
	{"logfmt", `ts=2026-05-01T12:00:00.123Z level=info host=web-3 msg="payment authorized" order_id=ord_8f3a2c91 amount=129.95 currency=EUR trace_id=4bf92f3577b34da6a3ce929d0e0e4736 dur_ms=42 status=200 user=1042`},
	{"access", `10.0.3.17 - - [01/May/2026:12:00:00 +0000] "POST /api/v1/payments/authorize?merchant=4471 HTTP/1.1" 200 532 "-" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36" 0.042 1746100800`},
}

const benchCardLine = `ts=2026-05-01T12:00:00.123Z level=warn host=web-3 msg="card 4111111111111111 declined" order_id=ord_8f3a2c91 amount=129.95 currency=EUR trace_id=4bf92f3577b34da6a3ce929d0e0e4736 dur_ms=42`

// BenchmarkString: one line per op, so ns/op is the cost per line.
func BenchmarkString(b *testing.B) {
	maskers := []struct {
		name string
		m    *Masker
	}{{"pan-only", mustNew(b)}, {"pan+email+bearer", mustNew(b, emailPattern, bearerPattern)}}
	for _, mk := range maskers {
		for _, line := range benchLines {
			b.Run(fmt.Sprintf("clean-%s/%s", line.name, mk.name), func(b *testing.B) {
				b.SetBytes(int64(len(line.text)))
				b.ReportAllocs()
				for b.Loop() {
					mk.m.String(line.text)
				}
			})
		}
		b.Run("card/"+mk.name, func(b *testing.B) {
			b.SetBytes(int64(len(benchCardLine)))
			b.ReportAllocs()
			for b.Loop() {
				mk.m.String(benchCardLine)
			}
		})
	}
}
