package errorrate

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestSignature(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// The example of the brief.
		{"timeout after 3012 ms to 10.0.4.7:3306", "timeout after <num> ms to <ip>:<num>"},
		{"timeout after 2990 ms to 10.0.4.9:3306", "timeout after <num> ms to <ip>:<num>"},
		{"", ""},
		{"   \t\n ", ""},
		{"plain words only", "plain words only"},

		// UUIDs, before hex ids and numbers.
		{"request 550e8400-e29b-41d4-a716-446655440000 failed", "request <uuid> failed"},
		{"id=550E8400-E29B-41D4-A716-446655440000.", "id=<uuid>."},
		{"req-550e8400-e29b-41d4-a716-446655440000", "req-<uuid>"},
		{"550e8400-e29b-41d4-a716-446655440000x", "<hex>-e29b-41d4-a716-446655440000x"}, // glued: not a UUID
		{"550e8400-e29b-41d4-a716-44665544000", "<hex>-e29b-41d4-a716-<num>"},           // 11 digits: not a UUID

		// IPv4, with a port, in brackets, CIDR.
		{"from 192.168.0.1", "from <ip>"},
		{"dial 10.0.0.255:8080 failed", "dial <ip>:<num> failed"},
		{"net 10.0.0.0/8", "net <ip>/<num>"},
		{"(10.1.2.3)", "(<ip>)"},
		{"999.1.1.1", "<num>.<num>"},       // not an address: an octet > 255
		{"1.2.3.4.5", "<num>.<num>.<num>"}, // too many parts
		{"1.2.3", "<num>.<num>"},
		{"1.2.3.4x", "<num>.<num>.4x"},
		{"host-1.2.3.4", "host-<ip>"},

		// IPv6.
		{"dial tcp [2001:db8::1]:443: connect: connection refused", "dial tcp [<ip>]:<num>: connect: connection refused"},
		{"::1 refused", "<ip> refused"},
		{"from fe80::1ff:fe23:4567:890a%eth0", "from <ip>%eth0"},
		{"2001:0db8:85a3:0000:0000:8a2e:0370:7334", "<ip>"},
		{"::ffff:192.0.2.128 ok", "<ip> ok"},
		{"std::vector", "std::vector"},    // not hex
		{"dead::beef", "dead::beef"},      // no decimal digit
		{"a::b::1", "a::<ip>"},            // two "::": the address is b::1
		{"12:30:45", "<num>:<num>:<num>"}, // a time, not an address
		{"1:2:3:4:5:6:7", "<num>:<num>:<num>:<num>:<num>:<num>:<num>"},
		{"::000A:000000", "<ip>:<num>"}, // the longest address that ends a word
		{"1::2g", "<ip>2g"},
		{"0A0::000.", "<ip>."},
		{"0A0::00000", "<ip><num>"},
		{"fe80::", "<ip>"},
		{"00:1a:2b:3c:4d:5e", "<num>:1a:2b:3c:4d:5e"}, // a MAC is no address; 1a is an identifier

		// Hex ids.
		{"trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span=00f067aa0ba902b7", "trace_id=<hex> span=<hex>"},
		{"ptr 0xc000123abc nil", "ptr <hex> nil"},
		{"flags 0x1F", "flags <hex>"},
		{"0x", "0x"},
		{"0xZZ", "0xZZ"},
		{"hash a1b2c3d4 ok", "hash <hex> ok"},
		{"commit a1b2c3d", "commit a1b2c3d"},                         // 7 digits: too short
		{"deadbeef accepted", "deadbeef accepted"},                   // no decimal digit
		{"ABCDEF0123456789", "<hex>"},                                // upper case
		{"12345678", "<num>"},                                        // decimal digits only: a number
		{"pod checkout-7f9c8d6b5-x2xkq", "pod checkout-<hex>-x2xkq"}, // x2xkq: an identifier
		{"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "sha256:<hex>"},

		// Durations.
		{"took 3012ms", "took <duration>"},
		{"took 1.5s", "took <duration>"},
		{"took 250µs", "took <duration>"}, // U+00B5 MICRO SIGN
		{"took 250μs", "took <duration>"}, // U+03BC GREEK SMALL LETTER MU
		{"took 250us 100ns", "took <duration> <duration>"},
		{"took 2m30s", "took <duration>"},
		{"took 1h2m3.5s", "took <duration>"},
		{"took 5m", "took <duration>"},
		{"backoff -5s", "backoff <duration>"},
		{"took 5min", "took 5min"}, // not a Go unit
		{"took 5sec", "took 5sec"},
		{"took 2m30", "took 2m30"},
		{"took 3012 ms", "took <num> ms"},

		// Emails.
		{"user bob.smith+tag@example.com not found", "user <email> not found"},
		{"<ops@corp.example.org>", "<<email>>"},
		{"12345@example.com", "<email>"},
		{"deadbeef12@example.com", "<email>"}, // an address first
		{"a@b.c", "a@b.c"},                    // top-level domain too short
		{"x@y.com.5", "<email>.<num>"},
		{"bob@10.0.0.1", "bob@<ip>"},
		{"bob@example.com5", "bob@example.com5"},
		{"a@b.comé", "a@b.comé"},
		{"@example.com", "@example.com"},

		// Quoted strings.
		{`can't parse 'foo bar' or "baz \" q" here`, "can't parse '<str>' or '<str>' here"},
		{`key "" empty`, "key '<str>' empty"},
		{"it's 'x'", "it's '<str>'"},
		{"the users' table", "the users' table"},
		{"unterminated 'abc def", "unterminated '<str>"},
		{`unterminated "abc 'def' ghi`, "unterminated '<str>"},
		{"got 5's", "got <num>'s"},
		{`json {"a":1,"b":"x"}`, `json {'<str>':<num>,'<str>':'<str>'}`},
		{`'"'`, "'<str>'"},

		// Numbers.
		{"value -42 and 3.14 and -0.5e-3 and 1e9", "value <num> and <num> and <num> and <num>"},
		{"status=503 code:-1", "status=<num> code:<num>"},
		{"(-5)", "(<num>)"},
		{"5-3", "<num>-<num>"},
		{"x-5", "x-<num>"},
		{"-x", "-x"},
		{"1,234,567 rows", "<num>,<num>,<num> rows"},
		{"100% cpu", "<num>% cpu"},
		{"3.", "<num>."},
		{"1.5x", "<num>.5x"},
		{"size 10MB exceeded 1.5GiB, 512B", "size <num>MB exceeded <num>GiB, <num>B"},
		{"5xx errors 3rd try 2nd", "5xx errors 3rd try 2nd"},
		{"version v1.2.3", "version v1.<num>"},
		{"attempt #3", "attempt #<num>"},

		// Identifiers with digits.
		{"req-12345 web-3 db01 sha256 http2 k8s", "req-<num> web-<num> db01 sha256 http2 k8s"},
		{"GET /users/42/orders/7", "GET /users/<num>/orders/<num>"},
		{"shard_3 of user_42", "shard_<num> of user_<num>"},

		// Timestamps.
		{"at 2024-01-15T10:20:30.123Z x", "at <ts> x"},
		{"at 2024-01-15 10:20:30,123 x", "at <ts> x"},
		{"at 2024-01-15T10:20:30+01:00 x", "at <ts> x"},
		{"at 2024-01-15t10:20-0500", "at <ts>"},
		{"on 2024-01-15 only", "on <num>-<num>-<num> only"},

		// URLs: query and fragment dropped, path kept.
		{"GET https://api.example.com/v1/users/42?token=abc&x=1#frag failed", "GET https://api.example.com/v1/users/<num> failed"},
		{"http://10.0.0.1:8080/health#x", "http://<ip>:<num>/health"},
		{"s3://bucket/key?versionId=3 ok? yes", "s3://bucket/key ok? yes"},
		{"what? #1", "what? #<num>"},

		// Whitespace.
		{"  lots   of \t\n  space  ", "lots of space"},
		{"a\r\nb", "a b"},

		// Non-ASCII text is kept.
		{"délai dépassé après 30s", "délai dépassé après <duration>"},
		{"接続タイムアウト 5000", "接続タイムアウト <num>"},
		{"naïve2 ok", "naïve2 ok"},

		// Already a signature.
		{"timeout after <num> ms to <ip>:<num>", "timeout after <num> ms to <ip>:<num>"},
		{"<hex> '<str>' <uuid> <email> <duration> <ts> '<str>", "<hex> '<str>' <uuid> <email> <duration> <ts> '<str>"},
	} {
		got := Signature(tc.in)
		if got != tc.want {
			t.Errorf("Signature(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			continue
		}
		if again := Signature(got); again != got {
			t.Errorf("Signature(%q) = %q, again %q", tc.in, got, again)
		}
	}
}

// TestSignatureCollapses fills templates with random values: every
// message of a template has the template's signature, and no digit is left
// at the start of a word.
func TestSignatureCollapses(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	hexs := func(n int) string {
		const digits = "0123456789abcdef"
		b := make([]byte, n)
		for i := range b {
			b[i] = digits[rng.IntN(16)]
		}
		b[rng.IntN(n)] = '7' // at least one digit
		b[rng.IntN(n)] = 'c' // and one letter
		return string(b)
	}
	num := func() string {
		switch rng.IntN(4) {
		case 0:
			return fmt.Sprint(rng.IntN(100000))
		case 1:
			return fmt.Sprint(-rng.IntN(1000) - 1)
		case 2:
			return fmt.Sprintf("%.3f", rng.Float64()*1000)
		}
		return fmt.Sprintf("%g", rng.Float64()*1e12)
	}
	slots := map[string]func() string{
		"NUM": num,
		"IP": func() string {
			return fmt.Sprintf("%d.%d.%d.%d", rng.IntN(256), rng.IntN(256), rng.IntN(256), rng.IntN(256))
		},
		"IP6": func() string { return fmt.Sprintf("2001:db8:%x::%x", rng.IntN(0x10000), 1+rng.IntN(0xffff)) },
		"UUID": func() string {
			return hexs(8) + "-" + hexs(4) + "-" + hexs(4) + "-" + hexs(4) + "-" + hexs(12)
		},
		"HEX": func() string { return hexs(8 + rng.IntN(25)) },
		"DUR": func() string {
			return []string{"%dms", "%dµs", "%ds", "%dm30s", "%dh5m", "%dns"}[rng.IntN(6)]
		},
		"EMAIL": func() string {
			return fmt.Sprintf("user%d.x+%d@mail-%d.example.com", rng.IntN(99), rng.IntN(9), rng.IntN(9))
		},
		"STR":  func() string { return fmt.Sprintf("'%s %d'", hexs(3), rng.IntN(50)) },
		"DSTR": func() string { return fmt.Sprintf(`"v=%d \"q\""`, rng.IntN(50)) },
		"TS": func() string {
			return fmt.Sprintf("2026-%02d-%02dT%02d:%02d:%02d.%03dZ", 1+rng.IntN(12), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60), rng.IntN(1000))
		},
	}
	templates := []string{
		"timeout after NUM ms to IP:NUM",
		"dial tcp [IP6]:NUM: connect: connection refused",
		"request UUID failed after DUR (trace HEX)",
		"user EMAIL not found in shard-NUM",
		"could not parse STR near DSTR",
		"GET http://IP:NUM/v1/orders/NUM?token=HEX failed: status NUM",
		"TS lock wait exceeded on row NUM of req-NUM",
		"retry NUM/NUM in DUR: context deadline exceeded",
	}
	words := regexp.MustCompile(`(^|[^A-Za-z0-9])[0-9]`)
	for _, tmpl := range templates {
		var first string
		for n := 0; n < 200; n++ {
			msg := tmpl
			for _, slot := range []string{"EMAIL", "UUID", "IP6", "IP", "HEX", "DUR", "DSTR", "STR", "TS", "NUM"} {
				for strings.Contains(msg, slot) {
					v := slots[slot]()
					if slot == "DUR" {
						v = fmt.Sprintf(v, 1+rng.IntN(999))
					}
					msg = strings.Replace(msg, slot, v, 1)
				}
			}
			sig := Signature(msg)
			if n == 0 {
				first = sig
				t.Logf("%s\n\t-> %s", msg, sig)
				if words.MatchString(sig) {
					t.Errorf("%q -> %q: a number is left", msg, sig)
				}
			} else if sig != first {
				t.Errorf("template %q: %q -> %q, want %q", tmpl, msg, sig, first)
				break
			}
		}
	}
}

func TestSignatureCut(t *testing.T) {
	for _, tc := range []struct {
		name, in string
	}{
		{"words", strings.Repeat("abc ", 100)},
		{"placeholders", strings.Repeat("10.0.0.1 ", 60)},
		{"durations", strings.Repeat("took 3012ms ", 40)},
		{"one long word", strings.Repeat("x", 500)},
		{"long digits then letter", strings.Repeat("1", 300) + "x"},
		{"multibyte", strings.Repeat("é", 300)},
		{"multibyte odd", "a" + strings.Repeat("日本", 100)},
		{"quote at the end", strings.Repeat("a", 197) + " 'quoted' rest"},
		{"hex word cut", strings.Repeat("a ", 95) + strings.Repeat("deadbeef12", 5) + "z"},
		{"spaces", strings.Repeat("a ", 100) + strings.Repeat(" ", 50) + "b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Signature(tc.in)
			if len(got) > MaxSignatureBytes {
				t.Errorf("len %d > %d", len(got), MaxSignatureBytes)
			}
			if !utf8.ValidString(got) {
				t.Errorf("invalid UTF-8: %q", got)
			}
			if got != strings.TrimSpace(got) {
				t.Errorf("untrimmed: %q", got)
			}
			if again := Signature(got); again != got {
				t.Errorf("not idempotent:\n%q\n%q", got, again)
			}
			// A placeholder is never cut in half.
			if i := strings.LastIndexByte(got, '<'); i >= 0 && !strings.Contains(got[i:], ">") {
				t.Errorf("cut placeholder at the end of %q", got)
			}
			if len(tc.in) > 400 && len(got) < MaxSignatureBytes-12 && tc.name != "long digits then letter" {
				t.Errorf("cut too short: %d bytes: %q", len(got), got)
			}
		})
	}
	if got := Signature(strings.Repeat("x", 500)); got != strings.Repeat("x", MaxSignatureBytes) {
		t.Errorf("long word: %q", got)
	}
}

// TestSignatureLinear: the scanner does not go back over long inputs (a
// quadratic one takes seconds on these).
func TestSignatureLinear(t *testing.T) {
	for _, p := range []string{
		"a.a@", "'", "\"\\", "-1", ":1", "1:", "a:", "::1:", "0a0:", "1.", "1.1", "1.1.1.1.",
		"1m", "1.5m", "-1.5m", "1e", "::", " ", "a@b.", "a@a.a.a.", "1", "ab12", "http://x?", "é", "a-",
	} {
		s := strings.Repeat(p, 1<<20/len(p))
		start := time.Now()
		_ = Signature(s)
		if d := time.Since(start); d > 250*time.Millisecond {
			t.Errorf("%q * %d: %v", p, len(s)/len(p), d)
		}
	}
}

func TestSignatureAllocs(t *testing.T) {
	msg := "timeout after 3012 ms to 10.0.4.7:3306 (req-12345, trace 4bf92f3577b34da6a3ce929d)"
	if n := testing.AllocsPerRun(100, func() { _ = Signature(msg) }); n > 1 {
		t.Errorf("Signature allocates %v times, want <= 1", n)
	}
	sig := Signature(msg)
	if n := testing.AllocsPerRun(100, func() { _ = Signature(sig) }); n != 0 {
		t.Errorf("Signature of a signature allocates %v times, want 0", n)
	}
}

func FuzzSignature(f *testing.F) {
	for _, s := range []string{
		"timeout after 3012 ms to 10.0.4.7:3306",
		"request 550e8400-e29b-41d4-a716-446655440000 failed",
		"dial tcp [2001:db8::1]:443: connect: connection refused",
		"trace_id=4bf92f3577b34da6a3ce929d0e0e4736 ptr 0xc000123abc",
		"took 1h2m3.5s 250µs",
		"user bob.smith+tag@example.com x@y.com.5",
		`can't parse 'foo bar' or "baz \" q" here 'unterminated`,
		"value -42 and 3.14 and -0.5e-3 and 1e9 10MB 5-3",
		"GET https://api.example.com/v1/users/42?token=abc#frag failed",
		"at 2024-01-15T10:20:30.123Z",
		"::ffff:192.0.2.128",
		strings.Repeat("ab1 ", 60),
		"\xff\xfe invalid \xc3",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		sig := Signature(msg)
		if len(sig) > MaxSignatureBytes {
			t.Fatalf("len %d", len(sig))
		}
		if utf8.ValidString(msg) && !utf8.ValidString(sig) {
			t.Fatalf("invalid UTF-8 out of %q: %q", msg, sig)
		}
		if again := Signature(sig); again != sig {
			t.Fatalf("not idempotent: %q -> %q -> %q", msg, sig, again)
		}
	})
}

// sigBenchMessages are typical error messages of about 80 bytes.
var sigBenchMessages = []struct{ name, msg string }{
	{"timeout", "timeout after 3012 ms to 10.0.4.7:3306 while reading from upstream db-primary"},
	{"uuid", "request 550e8400-e29b-41d4-a716-446655440000 failed: context deadline exceeded"},
	{"quoted", `could not parse field 'created_at' near "2024-13-45": invalid month 13 (code -1)`},
	{"url", "GET https://api.example.com/v1/users/42/orders?token=abc123&page=2 returned 503"},
	{"words", "java.net.SocketTimeoutException: Read timed out while talking to payment service"},
	{"signature", "timeout after <num> ms to <ip>:<num> while reading from upstream db-primary"},
}

func BenchmarkSignature(b *testing.B) {
	for _, bm := range sigBenchMessages {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bm.msg)))
			for b.Loop() {
				_ = Signature(bm.msg)
			}
		})
	}
}

// BenchmarkSignatureRegexp is the same masking done the obvious way, for
// comparison.
func BenchmarkSignatureRegexp(b *testing.B) {
	res := []struct {
		re  *regexp.Regexp
		rep string
	}{
		{regexp.MustCompile(`\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b`), "<uuid>"},
		{regexp.MustCompile(`\b\d{1,3}(\.\d{1,3}){3}\b`), "<ip>"},
		{regexp.MustCompile(`\b(0x[0-9a-fA-F]+|[0-9a-fA-F]*\d[0-9a-fA-F]*[a-fA-F][0-9a-fA-F]*)\b`), "<hex>"},
		{regexp.MustCompile(`\b\d+(\.\d+)?(ns|us|µs|ms|s|m|h)\b`), "<duration>"},
		{regexp.MustCompile(`'[^']*'|"[^"]*"`), "'<str>'"},
		{regexp.MustCompile(`-?\b\d+(\.\d+)?\b`), "<num>"},
		{regexp.MustCompile(`\s+`), " "},
	}
	msg := sigBenchMessages[0].msg
	b.ReportAllocs()
	for b.Loop() {
		s := msg
		for _, r := range res {
			s = r.re.ReplaceAllString(s, r.rep)
		}
		_ = strings.TrimSpace(s)
	}
}
