package fleet

import (
	"encoding/json"
	"math"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/logstream/logstream/schemas"
)

func TestDeterministic(t *testing.T) {
	cfg := Config{Seed: 42, BadHost: "web-2"}
	a, b := New(cfg).Batch(5000), New(cfg).Batch(5000)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed, different lines")
	}
	// Batch and Next agree.
	g := New(cfg)
	for i := range 100 {
		if l := g.Next(); !reflect.DeepEqual(l, a[i]) {
			t.Fatalf("line %d: Next %+v, Batch %+v", i, l, a[i])
		}
	}
	c := New(Config{Seed: 43, BadHost: "web-2"}).Batch(5000)
	same := 0
	for i := range a {
		if a[i].Text == c[i].Text {
			same++
		}
	}
	if same > 10 { // a health check in the same second can coincide
		t.Errorf("seeds 42 and 43 share %d of 5000 lines", same)
	}
}

func TestEveryFormatAppears(t *testing.T) {
	lines := New(Config{Seed: 1}).Batch(10_000)
	count := map[string]int{}
	for _, l := range lines {
		count[l.Format]++
	}
	for _, f := range append(Formats(), FormatNone) {
		if count[f] == 0 {
			t.Errorf("format %s missing from 10k lines (%v)", f, count)
		}
	}
	if len(count) != len(Formats())+1 {
		t.Errorf("unexpected formats: %v", count)
	}
}

func TestSeqTokens(t *testing.T) {
	lines := New(Config{Seed: 7, BadHost: "web-4", GarbageRatio: 0.05}).Batch(30_000)
	for i, l := range lines {
		if l.Seq != uint64(i+1) {
			t.Fatalf("line %d has Seq %d", i, l.Seq)
		}
		if n := strings.Count(l.Text, "req-"); n != 1 {
			t.Fatalf("line %d (%s) contains req- %d times: %q", l.Seq, l.Format, n, l.Text)
		}
		if s, ok := SeqOf(l.Text); !ok || s != l.Seq {
			t.Fatalf("SeqOf(line %d) = %d, %v: %q", l.Seq, s, ok, l.Text)
		}
		if strings.ContainsAny(l.Text, "\r\n") || !utf8.ValidString(l.Text) || l.Text == "" {
			t.Fatalf("line %d is not one valid UTF-8 line: %q", l.Seq, l.Text)
		}
		if l.Host == "" || l.Source == "" {
			t.Fatalf("line %d: host %q source %q", l.Seq, l.Host, l.Source)
		}
	}
}

func TestSeqOf(t *testing.T) {
	for text, want := range map[string]uint64{
		`{"request_id":"req-12"}`: 12,
		"x req-1":                 1,
		"req-3 and more":          3,
	} {
		if got, ok := SeqOf(text); !ok || got != want {
			t.Errorf("SeqOf(%q) = %d, %v; want %d", text, got, ok, want)
		}
	}
	for _, text := range []string{"", "req-", "request", "req-x"} {
		if _, ok := SeqOf(text); ok {
			t.Errorf("SeqOf(%q) found a token", text)
		}
	}
}

func garbageShare(cfg Config, n int) float64 {
	g, bad := New(cfg), 0
	for range n {
		if g.Next().Format == FormatNone {
			bad++
		}
	}
	return float64(bad) / float64(n)
}

func TestGarbageRatio(t *testing.T) {
	for _, tc := range []struct {
		ratio, want float64
	}{{0, DefaultGarbageRatio}, {0.2, 0.2}, {-1, 0}} {
		got := garbageShare(Config{Seed: 3, GarbageRatio: tc.ratio}, 50_000)
		if math.Abs(got-tc.want) > 0.15*tc.want+0.001 {
			t.Errorf("GarbageRatio %v: share %.4f, want about %.4f", tc.ratio, got, tc.want)
		}
	}
}

func errorShares(lines []Line) map[string]float64 {
	errs, all := map[string]int{}, map[string]int{}
	for _, l := range lines {
		all[l.Host]++
		if l.Level == schemas.LevelError {
			errs[l.Host]++
		}
	}
	out := map[string]float64{}
	for h, n := range all {
		out[h] = float64(errs[h]) / float64(n)
	}
	return out
}

func TestHealth(t *testing.T) {
	healthy := errorShares(New(Config{Seed: 5}).Batch(50_000))
	for h, s := range healthy {
		if s < 0.005 || s > 0.025 {
			t.Errorf("healthy fleet: %s error share %.4f, want 1-2%%", h, s)
		}
	}
	lines := New(Config{Seed: 5, BadHost: "web-3"}).Batch(50_000)
	shares := errorShares(lines)
	for h, s := range shares {
		switch {
		case h == "web-3" && (s < 0.17 || s > 0.23):
			t.Errorf("bad host %s: error share %.4f, want about 0.20", h, s)
		case h != "web-3" && s > 0.025:
			t.Errorf("healthy host %s: error share %.4f", h, s)
		}
	}
	// The bad host's failures are database timeouts and 5xx.
	timeouts, fails := 0, 0
	for _, l := range lines {
		if l.Host != "web-3" || l.Level != schemas.LevelError {
			continue
		}
		fails++
		switch l.Format {
		case FormatCombined, FormatALB:
			status := ""
			if m := combinedStatus.FindStringSubmatch(l.Text); l.Format == FormatCombined && m != nil {
				status = m[1]
			} else if f := albField.FindAllString(l.Text, -1); l.Format == FormatALB && len(f) > 8 {
				status = f[8]
			}
			if status != "502" && status != "504" {
				t.Errorf("bad host access failure with status %q: %q", status, l.Text)
			}
			timeouts++
		default:
			if strings.Contains(l.Text, "timeout after ") && strings.Contains(l.Text, " ms to 10.0.4.7:3306") {
				timeouts++
			}
		}
	}
	if float64(timeouts) < 0.95*float64(fails) {
		t.Errorf("bad host: %d of %d failures are timeouts/502/504", timeouts, fails)
	}
}

func TestFormatsSubset(t *testing.T) {
	for _, l := range New(Config{Seed: 9, Formats: []string{FormatJava, FormatALB}}).Batch(2000) {
		if l.Format != FormatJava && l.Format != FormatALB && l.Format != FormatNone {
			t.Fatalf("format %s not asked for", l.Format)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("unknown format did not panic")
		}
	}()
	New(Config{Formats: []string{"xml"}})
}

func TestHostsAndTime(t *testing.T) {
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	lines := New(Config{Seed: 11, Hosts: []string{"a", "b"}, Start: start}).Batch(10_000)
	prev := start
	hosts := map[string]bool{}
	for _, l := range lines {
		if l.Time.Before(prev) {
			t.Fatalf("line %d goes back in time: %v after %v", l.Seq, l.Time, prev)
		}
		prev = l.Time
		hosts[l.Host] = true
	}
	if len(hosts) != 2 || !hosts["a"] || !hosts["b"] {
		t.Errorf("hosts %v", hosts)
	}
	// 10k lines at 1 ms on average: about 10 s of event time.
	if span := prev.Sub(start); span < 8*time.Second || span > 12*time.Second {
		t.Errorf("10k lines span %v", span)
	}
	def := New(Config{Seed: 11}).Next()
	if def.Time.Before(DefaultStart) || def.Time.After(DefaultStart.Add(time.Second)) || !strings.HasPrefix(def.Host, "web-") {
		t.Errorf("defaults: %+v", def)
	}
}

var shapes = map[string]*regexp.Regexp{
	FormatLogfmt:     regexp.MustCompile(`^ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=(info|warn|error) msg="[^"]+" service=payments host=\S+ request_id=req-\d+ trace_id=[0-9a-f]{32} span_id=[0-9a-f]{16} `),
	FormatCombined:   regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+ - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000\] "(GET|POST) /\S*\?request_id=req-\d+ HTTP/1\.1" \d{3} \d+ "[^"]*" "[^"]*" \d+\.\d{3}$`),
	FormatSyslog3164: regexp.MustCompile(`^<\d{1,3}>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ [\w-]+(\[\d+\])?: \S`),
	FormatSyslog5424: regexp.MustCompile(`^<\d{1,3}>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \S+ \S+ \d+ \S+ \[meta@32473 request_id="req-\d+" trace_id="[0-9a-f]{32}" span_id="[0-9a-f]{16}"\] \S`),
	FormatJava:       regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} (INFO |WARN |ERROR) \[[^\]]+\] [\w.]+ - .+ \[req-\d+\]$`),
	FormatCRI:        regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z (stdout|stderr) [PF] `),
	FormatALB:        regexp.MustCompile(`^https \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z app/\S+ \d+\.\d+\.\d+\.\d+:\d+ \d+\.\d+\.\d+\.\d+:\d+ \d\.\d{3} (-1\.000|\d+\.\d{3}) \d\.\d{3} \d{3} (\d{3}|-) \d+ \d+ "(GET|POST) https://pay\.example\.com:443/\S*\?request_id=req-\d+ HTTP/\d\.\d" "[^"]+" \S+ TLSv1\.[23] arn:aws:elasticloadbalancing:\S+ "Root=1-[0-9a-f]{8}-[0-9a-f]{24}" "pay\.example\.com" "arn:aws:acm:\S+" \d+ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z "forward" "-" "-" "\S+:80" "(\d{3}|-)" "-" "-" TID_[0-9a-f]{32}$`),
}

var (
	albField       = regexp.MustCompile(`"[^"]*"|\S+`)
	combinedStatus = regexp.MustCompile(`HTTP/1\.1" (\d{3}) `)
)

func TestLineShapes(t *testing.T) {
	lines := New(Config{Seed: 13, BadHost: "web-1"}).Batch(20_000)
	splits := 0
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if re := shapes[l.Format]; re != nil && !re.MatchString(l.Text) {
			t.Fatalf("%s line does not look right: %q", l.Format, l.Text)
		}
		switch l.Format {
		case FormatJSON:
			var m map[string]any
			if err := json.Unmarshal([]byte(l.Text), &m); err != nil {
				t.Fatalf("json line: %v: %q", err, l.Text)
			}
			checkAppJSON(t, m, l)
		case FormatALB:
			if n := len(albField.FindAllString(l.Text, -1)); n != 30 {
				t.Fatalf("ALB line has %d fields, want 30: %q", n, l.Text)
			}
		case FormatCRI:
			_, rest, _ := strings.Cut(l.Text, " ")
			stream, rest, _ := strings.Cut(rest, " ")
			flag, content, _ := strings.Cut(rest, " ")
			if flag == "F" {
				var m map[string]any
				if err := json.Unmarshal([]byte(content), &m); err != nil {
					t.Fatalf("cri content: %v: %q", err, l.Text)
				}
				checkAppJSON(t, m, l)
				continue
			}
			// P, P, F from the same host and source, one after another.
			splits++
			if i+2 >= len(lines) {
				break
			}
			p2, f := lines[i+1], lines[i+2]
			joined := content
			for j, part := range []Line{p2, f} {
				if part.Host != l.Host || part.Source != l.Source || part.Format != FormatCRI {
					t.Fatalf("part %d of a split line from another stream: %+v", j+2, part)
				}
				fields := strings.SplitN(part.Text, " ", 4)
				if fields[1] != stream || fields[2] != []string{"P", "F"}[j] {
					t.Fatalf("part %d: %q", j+2, part.Text[:60])
				}
				if j == 0 && len(fields[3]) != CRIPartBytes {
					t.Fatalf("P part content %d bytes, want %d", len(fields[3]), CRIPartBytes)
				}
				joined += fields[3]
			}
			if len(content) != CRIPartBytes {
				t.Fatalf("P part content %d bytes, want %d", len(content), CRIPartBytes)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(joined), &m); err != nil {
				t.Fatalf("joined CRI line is not JSON: %v", err)
			}
			if m["detail"] == nil || strings.Count(joined, "req-") != 3 {
				t.Fatalf("joined CRI line: detail missing or not 3 tokens")
			}
			i += 2
		}
	}
	if splits == 0 {
		t.Error("no split CRI line in 20k lines")
	}
}

func checkAppJSON(t *testing.T, m map[string]any, l Line) {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, m["ts"].(string))
	if err != nil || !ts.Equal(l.Time) {
		t.Fatalf("ts %v (%v), want %v", m["ts"], err, l.Time)
	}
	if m["host"] != l.Host || m["service"] != l.Service || m["request_id"] == nil || m["status"] == nil || m["latency_ms"] == nil {
		t.Fatalf("fields missing: %v", m)
	}
	if strings.ToUpper(m["level"].(string)) != l.Level.String() {
		t.Fatalf("level %v, Line.Level %v", m["level"], l.Level)
	}
	if tp, ok := m["traceparent"].(string); ok {
		if !regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-01$`).MatchString(tp) {
			t.Fatalf("traceparent %q", tp)
		}
	} else if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(m["trace_id"].(string)) ||
		!regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(m["span_id"].(string)) {
		t.Fatalf("trace ids %v %v", m["trace_id"], m["span_id"])
	}
}

func BenchmarkNext(b *testing.B) {
	g := New(Config{Seed: 1, BadHost: "web-3"})
	var n int64
	b.ReportAllocs()
	for b.Loop() {
		n += int64(len(g.Next().Text))
	}
	b.SetBytes(n / int64(b.N))
}
