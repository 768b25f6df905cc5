package parse

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/logstream/logstream/schemas"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the parsers' current output")

// testNow is the clock of every test: syslog RFC 3164 times have no year.
var testNow = time.Date(2024, time.June, 15, 12, 0, 0, 0, time.UTC)

func TestMain(m *testing.M) {
	// Let a parser bug panic in tests (and fuzzing) instead of being
	// swallowed into a "none" event.
	recoverPanics = false
	now = func() time.Time { return testNow }
	os.Exit(m.Run())
}

// One real-looking line per format, shared by benchmarks and fuzz seeds.
var sampleLines = []struct{ format, line string }{
	{"json", `{"time":"2024-05-01T12:00:00.123Z","level":"info","msg":"payment ok","service":"payments","host":"web-1","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","status":200,"latency_ms":12.5,"user_id":42,"path":"/api/pay"}`},
	{"logfmt", `ts=2024-05-01T12:00:00.123Z level=info msg="payment ok" service=payments host=web-1 status=200 duration=12ms user_id=42 path=/api/pay`},
	{"cri", `2024-05-01T12:00:00.123456789Z stdout F {"level":"error","msg":"inner json","host":"node-1"}`},
	{"combined", `10.0.0.2 - - [01/May/2024:12:00:00 +0000] "POST /api/pay?x=1 HTTP/1.1" 502 157 "https://shop.example.com/cart" "Mozilla/5.0 (X11; Linux x86_64)" "-" 0.254`},
	{"alb", `https 2018-07-02T22:23:00.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 10.0.0.1:80 0.000 0.001 0.000 200 200 34 366 "GET https://www.example.com:443/ HTTP/1.1" "curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 "Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" "arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" 1 2018-07-02T22:22:48.364000Z "authenticate,forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1234abcd5678ef90`},
	{"syslog3164", `<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed for lonvick on /dev/pts/8`},
	{"syslog5424", `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] An application event log entry`},
	{"java", `2024-05-01 12:00:00.123 ERROR [http-nio-8080-exec-1] c.e.payments.DbPool - Connection timeout after 3012 ms`},
	{"klog", `E0501 12:00:01.000001    4711 pod_workers.go:1300] "Error syncing pod, skipping" err="failed to \"StartContainer\" for \"app\" with CrashLoopBackOff" pod="default/web-7d4b9c8f6-x2x9z" podUID="3f1c2a9e-5b7d-4e0a-9c1b-2d3e4f5a6b7c"`},
	{"python", `2026-05-01 12:00:00,123 - payments.db - ERROR - connection lost: timeout after 30 s - giving up`},
	{"none", `just some prose that matches no format at all, 42 times`},
}

func TestSampleFormats(t *testing.T) {
	for _, s := range sampleLines {
		f := ParseLine(s.line)
		if f.Format != s.format {
			t.Errorf("%s sample detected as %q (%s)", s.format, f.Format, f.ParseError)
		}
		if s.format != "none" && f.ParseError != "" {
			t.Errorf("%s sample: ParseError %q", s.format, f.ParseError)
		}
		checkInvariants(t, s.line, f)
	}
}

// checkInvariants holds for every line whatever its content.
func checkInvariants(t *testing.T, line string, f Fields) {
	t.Helper()
	switch f.Format {
	case "json", "logfmt", "cri", "combined", "alb", "syslog3164", "syslog5424", "java", "klog", "python":
	case "none":
		if f.ParseError == "" {
			t.Fatalf("format none without ParseError: %q", line)
		}
		if f.Level != schemas.LevelUnknown || f.Message != line || f.Labels != nil || f.Host != "" {
			t.Fatalf("format none carries fields: %+v for %q", f, line)
		}
	default:
		t.Fatalf("unknown format %q for %q", f.Format, line)
	}
	if f.TraceID != "" && !isLowerHexID(f.TraceID, 32) {
		t.Fatalf("TraceID %q is not 32 lowercase hex (line %q)", f.TraceID, line)
	}
	if f.SpanID != "" && !isLowerHexID(f.SpanID, 16) {
		t.Fatalf("SpanID %q is not 16 lowercase hex (line %q)", f.SpanID, line)
	}
	if f.HTTPStatus != 0 && (f.HTTPStatus < 100 || f.HTTPStatus > 599) {
		t.Fatalf("HTTPStatus %d (line %q)", f.HTTPStatus, line)
	}
	if !f.HasLatency && f.LatencyMs != 0 {
		t.Fatalf("LatencyMs %v without HasLatency (line %q)", f.LatencyMs, line)
	}
	if f.LatencyMs < 0 || math.IsNaN(f.LatencyMs) || math.IsInf(f.LatencyMs, 0) {
		t.Fatalf("LatencyMs %v (line %q)", f.LatencyMs, line)
	}
	if f.Labels != nil && len(f.Labels) == 0 {
		t.Fatalf("empty non-nil Labels (line %q)", line)
	}
	if len(f.Labels) > maxLabels+3 {
		t.Fatalf("%d labels (line %q)", len(f.Labels), line)
	}
	if !f.Timestamp.IsZero() && f.Timestamp.Location() != time.UTC {
		t.Fatalf("timestamp %v not UTC (line %q)", f.Timestamp, line)
	}
	if f.Level < schemas.LevelUnknown || f.Level > schemas.LevelFatal {
		t.Fatalf("level %d (line %q)", f.Level, line)
	}
	if h := HostOf(line); h != f.Host {
		t.Fatalf("HostOf = %q, ParseLine().Host = %q (line %q)", h, f.Host, line)
	}
}

func isLowerHexID(s string, n int) bool {
	if len(s) != n || strings.Trim(s, "0") == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isDigit(c) && !('a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func TestNoneFormat(t *testing.T) {
	for _, line := range []string{
		"",
		"   ",
		"just prose",
		"user=bob logged in at noon",            // prose with one pair
		"Error: x=1 y=2",                        // starts with a bare word
		"a=1 b=2",                               // pairs, but no known key
		"\tat com.example.Foo.bar(Foo.java:42)", // stack trace continuation
		"Oct 99 not a syslog line",
		"<html><body>",
		"<999>Oct 11 22:14:15 host app: PRI out of range",
		"[10/Oct/2000:13:55:36 -0700] no client",
		"\xff\xfe\x00garbage",
	} {
		f := ParseLine(line)
		if f.Format != "none" || f.ParseError != errNoFormat {
			t.Errorf("ParseLine(%q) = format %q error %q, want none", line, f.Format, f.ParseError)
		}
		checkInvariants(t, line, f)
	}
}

func TestBrokenJSONFallsThrough(t *testing.T) {
	for _, line := range []string{
		`{"level":"info","msg":"broken"`,
		`{"level":"info",}`,
		`{"a":tru}`,
		`{"a":"\x"}`,
		`{"a":1} trailing`,
		`{"a":01}`,
		`{` + strings.Repeat(`"a":{`, 200) + `}`,
	} {
		f := ParseLine(line)
		if f.Format != "none" || !strings.HasPrefix(f.ParseError, "invalid JSON") {
			t.Errorf("ParseLine(%q) = format %q error %q, want none/invalid JSON", line, f.Format, f.ParseError)
		}
		checkInvariants(t, line, f)
	}
}

func TestParseLineNeverPanicsOnOddInput(t *testing.T) {
	huge := strings.Repeat("a", 1<<20)
	for _, line := range []string{
		huge,
		"{" + strings.Repeat(`"k":[`, 100000),
		strings.Repeat("[", 100000),
		"level=info msg=" + huge,
		"<34>" + huge,
		"2024-05-01T12:00:00Z stdout F " + huge,
		"\x00\x01\x02",
		string([]byte{0xc3, 0x28, '{'}),
		"{\"msg\":\"\xff\xfe\"}",
	} {
		checkInvariants(t, line, ParseLine(line))
	}
}

func TestRecoverPanics(t *testing.T) {
	// The safety net: ParseLine turns a panic into a "none" event. Exercised
	// with a panicking clock, the one injectable dependency.
	recoverPanics = true
	now = func() time.Time { panic("boom") }
	defer func() { recoverPanics = false; now = func() time.Time { return testNow } }()
	line := "<34>Oct 11 22:14:15 mymachine su: x"
	f := ParseLine(line)
	if f.Format != "none" || f.ParseError != errInternal || f.Message != line {
		t.Fatalf("after a panic: %+v", f)
	}
	if h := HostOf(line); h != "" {
		t.Fatalf("HostOf after a panic = %q", h)
	}
}

func TestHostOf(t *testing.T) {
	for _, tc := range []struct{ line, host string }{
		{`{"host":"web-1","msg":"x"}`, "web-1"},
		{`{"hostname":"api-7","level":30}`, "api-7"},
		{`{"host":{"name":"ecs-host"},"message":"x"}`, "ecs-host"},
		{`{"msg":"no host"}`, ""},
		{`{"host":"broken"`, ""},
		{`<34>Oct 11 22:14:15 mymachine su[1]: x`, "mymachine"},
		{`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com app - - - msg`, "mymachine.example.com"},
		{`<165>1 2003-10-11T22:14:15.003Z - app - - - msg`, ""},
		{`2024-05-01T12:00:00.123456+02:00 myhost systemd[1]: Started`, "myhost"},
		{`2024-05-01T12:00:00.1Z stdout F {"host":"in-cri","msg":"x"}`, "in-cri"},
		{`level=info msg=x host=lf-1`, "lf-1"},
		{`127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1`, ""},
		{`2024-05-01 12:00:00.123 ERROR [main] c.e.A - x`, ""},
		{`plain`, ""},
	} {
		if got := HostOf(tc.line); got != tc.host {
			t.Errorf("HostOf(%q) = %q, want %q", tc.line, got, tc.host)
		}
		if got := ParseLine(tc.line).Host; got != tc.host {
			t.Errorf("ParseLine(%q).Host = %q, want %q", tc.line, got, tc.host)
		}
	}
}

// --- golden corpus ---------------------------------------------------------

// goldenRecord is the readable form of one parsed line in lines.golden.json.
type goldenRecord struct {
	Line         string            `json:"line"`
	Format       string            `json:"format"`
	ParseError   string            `json:"parse_error,omitempty"`
	Timestamp    string            `json:"timestamp,omitempty"`
	Host         string            `json:"host,omitempty"`
	Service      string            `json:"service,omitempty"`
	Level        string            `json:"level"`
	Message      string            `json:"message"`
	EventID      string            `json:"event_id,omitempty"`
	TraceID      string            `json:"trace_id,omitempty"`
	SpanID       string            `json:"span_id,omitempty"`
	HTTPStatus   int32             `json:"http_status,omitempty"`
	LatencyMs    *float64          `json:"latency_ms,omitempty"`
	K8sNamespace string            `json:"k8s_namespace,omitempty"`
	K8sPod       string            `json:"k8s_pod,omitempty"`
	K8sContainer string            `json:"k8s_container,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
}

func toGolden(line string, f Fields) goldenRecord {
	r := goldenRecord{
		Line: line, Format: f.Format, ParseError: f.ParseError, Host: f.Host, Service: f.Service,
		Level: f.Level.String(), Message: f.Message, EventID: f.EventID, TraceID: f.TraceID,
		SpanID: f.SpanID, HTTPStatus: f.HTTPStatus, K8sNamespace: f.K8sNamespace, K8sPod: f.K8sPod,
		K8sContainer: f.K8sContainer, Labels: f.Labels,
	}
	if !f.Timestamp.IsZero() {
		r.Timestamp = f.Timestamp.Format(time.RFC3339Nano)
	}
	if f.HasLatency {
		l := f.LatencyMs
		r.LatencyMs = &l
	}
	return r
}

func TestGoldenCorpus(t *testing.T) {
	in, err := os.ReadFile("testdata/lines.txt")
	if err != nil {
		t.Fatal(err)
	}
	var got []goldenRecord
	sc := bufio.NewScanner(bytes.NewReader(in))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#=") { // blank lines and "#=" comments separate sections
			continue
		}
		f := ParseLine(line)
		checkInvariants(t, line, f)
		got = append(got, toGolden(line, f))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(got); err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/lines.golden.json"
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGoldenCorpus -update to create it)", err)
	}
	var wantRecs []goldenRecord
	if err := json.Unmarshal(want, &wantRecs); err != nil {
		t.Fatal(err)
	}
	if len(wantRecs) != len(got) {
		t.Fatalf("golden has %d records, corpus %d lines (run with -update after changing lines.txt)", len(wantRecs), len(got))
	}
	for i := range got {
		if !reflect.DeepEqual(normGolden(got[i]), normGolden(wantRecs[i])) {
			g, _ := json.Marshal(got[i])
			w, _ := json.Marshal(wantRecs[i])
			t.Errorf("line %q:\n got %s\nwant %s", got[i].Line, g, w)
		}
	}
}

func normGolden(r goldenRecord) goldenRecord {
	if len(r.Labels) == 0 {
		r.Labels = nil
	}
	return r
}

// --- fuzzing ---------------------------------------------------------------

func FuzzParseLine(f *testing.F) {
	for _, s := range sampleLines {
		f.Add(s.line)
	}
	for _, line := range fuzzSeeds {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, line string) {
		got := ParseLine(line)
		checkInvariants(t, line, got)
		if again := ParseLine(line); !reflect.DeepEqual(got, again) {
			t.Fatalf("ParseLine is not deterministic for %q", line)
		}
	})
}

func FuzzParseCRI(f *testing.F) {
	for _, line := range []string{
		`2024-05-01T12:00:00.123456789Z stdout F {"level":"error","msg":"inner json","host":"node-1"}`,
		`2024-05-01T12:00:00.123456789Z stderr P first part of a long li`,
		`2024-05-01T12:00:00Z stdout F `,
		`2024-05-01T12:00:00Z stdout F`,
		`2024-05-01T12:00:00+02:00 stderr F level=warn msg="from logfmt"`,
		`2024-05-01T12:00:00.1Z stdout F 2024-05-01T12:00:00.2Z stdout F nested`,
		`2024-05-01T12:00:00.1Z stdin F x`,
		`2024-05-01T12:00:00.1Z stdout X x`,
	} {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, line string) {
		c, ok := ParseCRI(line)
		if !ok {
			if got := ParseLine(line); got.Format == "cri" {
				t.Fatalf("ParseCRI rejects %q but ParseLine says cri", line)
			}
			return
		}
		if c.Stream != "stdout" && c.Stream != "stderr" {
			t.Fatalf("stream %q", c.Stream)
		}
		if !strings.HasSuffix(line, c.Content) || c.Time.Location() != time.UTC {
			t.Fatalf("ParseCRI(%q) = %+v", line, c)
		}
		f := ParseCRIContent(c)
		if f.Format != "cri" || f.Labels["stream"] != c.Stream {
			t.Fatalf("ParseCRIContent(%+v) = %+v", c, f)
		}
		if (f.Labels["cri_partial"] == "true") != c.Partial {
			t.Fatalf("cri_partial label wrong for %q", line)
		}
		if got := ParseLine(line); !reflect.DeepEqual(got, f) {
			t.Fatalf("ParseLine(%q) = %+v, ParseCRIContent = %+v", line, got, f)
		}
		checkInvariants(t, line, f)
		// The envelope survives a round trip, as the stage rebuilds joined lines.
		flag := " F "
		if c.Partial {
			flag = " P "
		}
		re, ok := ParseCRI(c.Time.Format(time.RFC3339Nano) + " " + c.Stream + flag + c.Content)
		if !ok || !re.Time.Equal(c.Time) || re.Content != c.Content || re.Stream != c.Stream || re.Partial != c.Partial {
			t.Fatalf("round trip of %+v gave %+v, %v", c, re, ok)
		}
	})
}

// fuzzSeeds are malformed or borderline lines of every format.
var fuzzSeeds = []string{
	`{"ts":1714564800123456789,"lvl":"WARN","message":"nanos","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}`,
	`{"a":"\ud83d\ude00 \u00e9 \ud800 x"}`,
	`{"level":"info","msg":"broken"`,
	`{"kubernetes":{"namespace_name":"ns","labels":{"a":"b"}},"log":"x\n"}`,
	`level=error msg="unterminated`,
	`time="2024-05-01T12:00:00Z" level=warning msg="disk \"almost\" full" host=db-1`,
	`2024-05-01T12:00:00.123456789Z stdout P {"level":"info","msg":"part`,
	`127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a HTTP/1.0" 200 2326 "-" "ua" rt=0.1`,
	`192.168.1.1 - - [01/May/2024:12:00:00 +0000] "GET / HTTP/1.1" abc`,
	`wss 2018-07-02T22:23:00.186641Z app/lb 10.0.0.140:44244 10.0.0.171:8010 -1 -1 -1 101 101 218 587 "GET wss://x/ HTTP/1.1" "-" - -`,
	`https 2018-07-02T22:23:00.186641Z app/lb 1.2.3.4:5`,
	`<13>Feb  5 17:32:18 10.0.0.99 Use the BFG!`,
	`<34>garbage`,
	`<165>1 2003-10-11T22:14:15.003Z host app - - [bad sd`,
	`<165>1 2003-10-11T22:14:15.003Z host app - - [id a="\"\]\\"][b c="d"]`,
	`2024-05-01T12:00:00.123+02:00  INFO 4711 --- [main] o.s.Foo  : Started`,
	`2024-13-01 12:00:00 ERROR x.y.Z - bad month`,
	`I0501 12:00:00.123456    4711 server.go:42] plain klog message: with a colon`,
	`W20240501 12:00:00.123456 139876 file.cc:42] glog with the year`,
	`I0501 12:00:00.000000    4711 r.go:52] "Reconciled" conditions=[Ready Synced] spec={Replicas:3 Paused:false} err=<nil> traceID="4bf92f3577b34da6a3ce929d0e0e4736"`,
	`I1301 12:00:00.000000       1 main.go:1] "bad month" key="open`,
	`E0501 12:00:00.000000       1 main.go:1] "msg" key=[unclosed a b`,
	`ERROR:root:Payment failed: card declined - retry later`,
	`WARNING:payments.db.pool:pool exhausted`,
	`2026-05-01 12:00:00,123 - WARNING - low disk space - 5% left`,
	`2026-02-30 12:00:00,123 - app - ERROR - x`,
	`2026-05-01 12:00:00,123 - app - INFO     -`,
	`{"time":"yesterday","msg":"unreadable time"}`,
	`127.0.0.1 - - [not a time] "GET / HTTP/1.1" 200 1`,
	`203.0.113.7 - - [01/May/2024:12:00:00 +0000] "GET /search?q="a b" HTTP/1.1" 200 512 "-" "ua"`,
	`10.0.0.9 - - [01/May/2024:12:00:00 +0000] "GET /x?a=" 200 1" HTTP/1.1" 500 7`,
	`http 2018-13-02T22:23:00.186641Z app/lb 192.0.2.1:1 10.0.0.1:80 0 0 0 200 200 1 1 "GET / HTTP/1.1" "-"`,
}

// --- benchmarks ------------------------------------------------------------

func BenchmarkParseLine(b *testing.B) {
	for _, s := range sampleLines {
		b.Run(s.format, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(s.line)))
			for b.Loop() {
				ParseLine(s.line)
			}
		})
	}
	b.Run("mixed", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			ParseLine(sampleLines[n%len(sampleLines)].line)
			n++
		}
	})
}

func BenchmarkHostOf(b *testing.B) {
	for _, s := range sampleLines {
		b.Run(s.format, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				HostOf(s.line)
			}
		})
	}
}
