package faultproxy

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// seen is one request as the target received it.
type seen struct {
	method, uri, host, userAgent string
	header                       http.Header
	body                         []byte
}

// target is an upstream that records what reaches it and answers 200 with
// a gzip-labelled body, which must reach the client undecoded.
type target struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
}

func newTarget(t *testing.T) *target {
	t.Helper()
	tg := &target{}
	tg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		tg.mu.Lock()
		tg.reqs = append(tg.reqs, seen{r.Method, r.RequestURI, r.Host, r.UserAgent(), r.Header.Clone(), b})
		tg.mu.Unlock()
		w.Header().Set("ETag", `"abc"`)
		w.Header().Set("Content-Encoding", "gzip")
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte("not really gzip"))
	}))
	t.Cleanup(tg.Close)
	return tg
}

func (tg *target) received() []seen {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return append([]seen(nil), tg.reqs...)
}

func startProxy(t *testing.T, target string, seed int64) (*Proxy, string) {
	t.Helper()
	p, err := New(target, seed)
	if err != nil {
		t.Fatal(err)
	}
	url, err := p.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, url
}

// client does not retry: a dropped connection must surface as an error.
func client() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableCompression: true}}
}

type result struct {
	status int
	code   string // S3 error Code
	fault  string // X-Faultproxy-Fault
	body   []byte
	header http.Header
	err    error
}

func send(t *testing.T, c *http.Client, method, url string, body string, header ...string) result {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	var e struct{ Code string }
	_ = xml.Unmarshal(b, &e)
	return result{status: resp.StatusCode, code: e.Code, fault: resp.Header.Get("X-Faultproxy-Fault"), body: b, header: resp.Header, err: err}
}

func TestForwardsUnchanged(t *testing.T) {
	tg := newTarget(t)
	_, url := startProxy(t, tg.URL, 1)
	proxyHost := strings.TrimPrefix(url, "http://")

	// "%3D" and "=" must stay as sent: SigV4 signs the encoded path.
	r := send(t, client(), http.MethodPut, url+"/bucket/topic%3Dapp/a=b+c.json?x-id=PutObject&z=1", "payload",
		"Authorization", "AWS4-HMAC-SHA256 Credential=AKID/x", "X-Amz-Meta-K", "v", "Connection", "X-Hop", "X-Hop", "gone")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.status != http.StatusCreated || string(r.body) != "not really gzip" ||
		r.header.Get("Content-Encoding") != "gzip" || r.header.Get("ETag") != `"abc"` {
		t.Fatalf("response not passed through: %d %q %v", r.status, r.body, r.header)
	}
	got := tg.received()
	if len(got) != 1 {
		t.Fatalf("target got %d requests", len(got))
	}
	s := got[0]
	if s.method != http.MethodPut || s.uri != "/bucket/topic%3Dapp/a=b+c.json?x-id=PutObject&z=1" ||
		s.host != proxyHost || string(s.body) != "payload" ||
		s.header.Get("Authorization") != "AWS4-HMAC-SHA256 Credential=AKID/x" || s.header.Get("X-Amz-Meta-K") != "v" ||
		s.header.Get("Content-Length") != "7" {
		t.Fatalf("target saw %+v", s)
	}
	if s.header.Get("X-Hop") != "" || s.header.Get("Accept-Encoding") != "" || s.header.Get("X-Forwarded-For") != "" {
		t.Fatalf("headers added or kept that should not be: %v", s.header)
	}
	if s.userAgent != "Go-http-client/1.1" { // the test client's own, not one the proxy added
		t.Fatalf("User-Agent %q", s.userAgent)
	}
}

func TestBasePath(t *testing.T) {
	tg := newTarget(t)
	_, url := startProxy(t, tg.URL+"/api/org/", 1)
	if r := send(t, client(), http.MethodPost, url+"/stream/_json", "[]"); r.err != nil || r.status != http.StatusCreated {
		t.Fatalf("%+v", r)
	}
	if got := tg.received(); len(got) != 1 || got[0].uri != "/api/org/stream/_json" {
		t.Fatalf("target saw %+v", got)
	}
}

func TestFaultKinds(t *testing.T) {
	for _, tc := range []struct {
		fault     Fault
		status    int
		code      string
		forwarded bool
	}{
		{Status500, http.StatusInternalServerError, "InternalError", false},
		{Status503, http.StatusServiceUnavailable, "SlowDown", false},
		{Status409, http.StatusConflict, "ConditionalRequestConflict", false},
		{DropAfter, 0, "", true},
		{DropAfter500, http.StatusInternalServerError, "InternalError", true},
		{None, http.StatusCreated, "", true},
	} {
		t.Run(tc.fault.String(), func(t *testing.T) {
			tg := newTarget(t)
			p, url := startProxy(t, tg.URL, 1)
			p.SetRule(func(r *http.Request) Fault {
				// A rule can read the body; the target still gets it.
				b, _ := io.ReadAll(r.Body)
				if string(b) != "object" {
					t.Errorf("rule read body %q", b)
				}
				return tc.fault
			})
			r := send(t, client(), http.MethodPut, url+"/b/k", "object", "If-None-Match", "*")
			if tc.fault == DropAfter {
				if r.err == nil {
					t.Fatalf("the client got a response (%d) to a dropped request", r.status)
				}
			} else if r.err != nil || r.status != tc.status || r.code != tc.code {
				t.Fatalf("got %d %q (%v), want %d %q", r.status, r.code, r.err, tc.status, tc.code)
			}
			if tc.fault != None && tc.fault != DropAfter && r.fault != tc.fault.String() {
				t.Errorf("X-Faultproxy-Fault %q", r.fault)
			}
			got := tg.received()
			if tc.forwarded != (len(got) == 1) || len(got) > 1 {
				t.Fatalf("target got %d requests, forwarded = %v", len(got), tc.forwarded)
			}
			if tc.forwarded && (string(got[0].body) != "object" || got[0].header.Get("If-None-Match") != "*") {
				t.Fatalf("target saw %+v", got[0])
			}
			want := map[string]int{}
			if tc.fault != None {
				want[tc.fault.String()] = 1
			}
			if c := p.Counts(); !reflect.DeepEqual(c, want) {
				t.Fatalf("Counts %v, want %v", c, want)
			}
		})
	}
}

// outcomes sends n requests one at a time and describes what each got.
func outcomes(t *testing.T, url string, n int) []string {
	c := client()
	var out []string
	for i := range n {
		r := send(t, c, http.MethodPut, fmt.Sprintf("%s/b/k%d", url, i), "x")
		switch {
		case r.err != nil:
			out = append(out, "dropped")
		case r.fault != "":
			out = append(out, r.fault)
		default:
			out = append(out, "ok")
		}
	}
	return out
}

func TestProbabilitiesAreDeterministic(t *testing.T) {
	tg := newTarget(t)
	faults := Faults{Status5xx: 0.15, Status503: 0.15, Status409: 0.15, DropAfter: 0.15}
	const n = 100
	run := func(seed int64) ([]string, map[string]int) {
		p, url := startProxy(t, tg.URL, seed)
		if err := p.SetFaults(faults); err != nil {
			t.Fatal(err)
		}
		return outcomes(t, url, n), p.Counts()
	}
	a, counts := run(42)
	b, _ := run(42)
	c, _ := run(43)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("seed 42 gave two sequences:\n%v\n%v", a, b)
	}
	if reflect.DeepEqual(a, c) {
		t.Fatal("seeds 42 and 43 gave the same sequence")
	}
	// Each kind shows up, counted as the client saw it.
	seenBy := map[string]int{}
	for _, o := range a {
		seenBy[o]++
	}
	for kind, client := range map[string]string{"status_500": "status_500", "status_503": "status_503", "status_409": "status_409", "drop_after": "dropped"} {
		if counts[kind] == 0 || counts[kind] != seenBy[client] {
			t.Errorf("%s: counted %d, client saw %d", kind, counts[kind], seenBy[client])
		}
	}
	if seenBy["ok"] < n/5 {
		t.Errorf("only %d of %d requests passed with 60%% faults", seenBy["ok"], n)
	}
	t.Logf("counts %v", counts)
}

func TestDropWith500AndMatch(t *testing.T) {
	tg := newTarget(t)
	p, url := startProxy(t, tg.URL, 7)
	err := p.SetFaults(Faults{
		DropAfter:   1,
		DropWith500: true,
		Match:       func(r *http.Request) bool { return r.Method == http.MethodPut },
	})
	if err != nil {
		t.Fatal(err)
	}
	c := client()
	if r := send(t, c, http.MethodGet, url+"/b/k", ""); r.err != nil || r.status != http.StatusCreated {
		t.Fatalf("GET is not eligible but got %+v", r)
	}
	if r := send(t, c, http.MethodPut, url+"/b/k", "x"); r.err != nil || r.status != http.StatusInternalServerError || r.fault != "drop_after_500" {
		t.Fatalf("PUT: %+v", r)
	}
	if n := len(tg.received()); n != 2 {
		t.Fatalf("target got %d requests, want both", n)
	}
	if c := p.Counts(); !reflect.DeepEqual(c, map[string]int{"drop_after_500": 1}) {
		t.Fatalf("Counts %v", c)
	}
}

func TestDelay(t *testing.T) {
	tg := newTarget(t)
	p, url := startProxy(t, tg.URL, 1)
	const delay = 100 * time.Millisecond
	if err := p.SetFaults(Faults{Delay: delay}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if r := send(t, client(), http.MethodGet, url+"/b/k", ""); r.err != nil || r.status != http.StatusCreated {
		t.Fatalf("%+v", r)
	}
	if took := time.Since(start); took < delay {
		t.Fatalf("took %s, want at least %s", took, delay)
	}
	if c := p.Counts(); c["delay"] != 1 {
		t.Fatalf("Counts %v", c)
	}
}

func TestUpstreamDown(t *testing.T) {
	tg := newTarget(t)
	_, url := startProxy(t, tg.URL, 1)
	tg.Close()
	if r := send(t, client(), http.MethodGet, url+"/b/k", ""); r.err != nil || r.status != http.StatusBadGateway {
		t.Fatalf("%+v", r)
	}
}

func TestValidation(t *testing.T) {
	if _, err := New("127.0.0.1:9000", 1); err == nil {
		t.Error("New accepted a target without a scheme")
	}
	p, err := New("http://127.0.0.1:9000", 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []Faults{
		{Status5xx: 0.6, DropAfter: 0.6},
		{Status503: -0.1},
		{Status409: 2},
		{Delay: -time.Second},
	} {
		if err := p.SetFaults(f); err == nil || !strings.HasPrefix(err.Error(), "faultproxy: ") {
			t.Errorf("SetFaults(%+v) = %v, want a faultproxy error", f, err)
		}
	}
}

func TestHeadFaultHasNoBody(t *testing.T) {
	tg := newTarget(t)
	p, url := startProxy(t, tg.URL, 1)
	p.SetRule(func(*http.Request) Fault { return Status503 })
	r := send(t, client(), http.MethodHead, url+"/b/k", "")
	if r.err != nil || r.status != http.StatusServiceUnavailable || len(r.body) != 0 {
		t.Fatalf("%+v", r)
	}
}
