// Package faultproxy is an HTTP reverse proxy that injects faults, for
// fault-injection trials of the sinks against any server: a real
// S3-compatible server (versitygw), the in-process s3local, an OpenObserve
// test server.
//
// A fault is chosen per request, by a Rule or by probabilities (Faults),
// from a random source seeded by the caller, so a trial that sends its
// requests one at a time sees the same faults on every run. Requests in
// flight together draw in the order they arrive, which the scheduler
// decides.
//
// Requests are forwarded with their Host header, path encoding, query and
// body unchanged, so SigV4 signatures made for the proxy's address stay
// valid at the target (versitygw verifies them against the Host it
// receives). The target must therefore use path-style addressing and not
// route by Host.
package faultproxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// maxBody bounds the request bodies the proxy buffers; the sinks write
// objects and batches well below it.
const maxBody = 64 << 20

// Fault is what the proxy does with one request.
type Fault int

const (
	// None forwards the request and its response unchanged.
	None Fault = iota
	// Status500 answers 500 InternalError without forwarding the request.
	Status500
	// Status503 answers 503 SlowDown without forwarding the request: S3's
	// throttling answer.
	Status503
	// Status409 answers 409 ConditionalRequestConflict without forwarding
	// the request: S3's answer to a conditional write that raced another.
	Status409
	// DropAfter forwards the request, lets the target apply it, then
	// closes the client's connection without a response: the write
	// happened, but the client cannot know it. This is the fault that
	// tells an exactly-once writer from an at-least-once one.
	DropAfter
	// DropAfter500 forwards the request, lets the target apply it, then
	// answers 500 InternalError instead of the target's response.
	DropAfter500
)

// String is the fault's name, as used by Counts.
func (f Fault) String() string {
	switch f {
	case None:
		return "none"
	case Status500:
		return "status_500"
	case Status503:
		return "status_503"
	case Status409:
		return "status_409"
	case DropAfter:
		return "drop_after"
	case DropAfter500:
		return "drop_after_500"
	}
	return "fault(" + strconv.Itoa(int(f)) + ")"
}

// Rule chooses the fault of a request; a value that is not one of the
// Fault constants forwards it. The request's body can be read; the
// forwarded request gets the body intact regardless. A Rule is called for
// one request at a time, so it may keep state ("fail the third PUT")
// without a lock of its own.
type Rule func(r *http.Request) Fault

// Faults are the probabilities of each fault for an eligible request. At
// most one fault is drawn per request, so the probabilities must add up to
// at most 1; the rest of the requests are forwarded unchanged.
type Faults struct {
	Status5xx float64 // 500 InternalError before forwarding
	Status503 float64 // 503 SlowDown before forwarding
	Status409 float64 // 409 ConditionalRequestConflict before forwarding
	DropAfter float64 // forward, then close the client connection (or answer 500, see DropWith500)
	// DropWith500 makes a DropAfter fault answer 500 InternalError
	// (DropAfter500) instead of closing the connection: some clients
	// retry a closed connection themselves, below the code under test.
	DropWith500 bool
	// Delay holds every eligible request this long before its fault is
	// applied or it is forwarded.
	Delay time.Duration
	// Match selects the eligible requests, for the probabilities and for
	// a Rule alike; nil selects all. Its body can be read, as a Rule's.
	Match func(*http.Request) bool
}

func (f Faults) validate() error {
	for _, p := range []struct {
		name string
		v    float64
	}{{"Status5xx", f.Status5xx}, {"Status503", f.Status503}, {"Status409", f.Status409}, {"DropAfter", f.DropAfter}} {
		if !(p.v >= 0 && p.v <= 1) {
			return fmt.Errorf("faultproxy: probability %s = %v is not in [0, 1]", p.name, p.v)
		}
	}
	if sum := f.Status5xx + f.Status503 + f.Status409 + f.DropAfter; sum > 1 {
		return fmt.Errorf("faultproxy: the fault probabilities add up to %v, more than 1", sum)
	}
	if f.Delay < 0 {
		return fmt.Errorf("faultproxy: negative delay %s", f.Delay)
	}
	return nil
}

// Proxy forwards requests to one target, injecting faults.
type Proxy struct {
	target    *url.URL
	transport *http.Transport

	mu     sync.Mutex // guards rng, faults, rule and counts
	rng    *rand.Rand
	faults Faults
	rule   Rule
	counts map[string]int

	lifecycle sync.Mutex // guards srv and served
	srv       *http.Server
	served    chan struct{}
}

// New returns a proxy to target ("http://127.0.0.1:7070", optionally with
// a base path) that injects no faults until SetFaults or SetRule. seed
// makes the fault draws repeatable.
func New(target string, seed int64) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: target %q: %w", target, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("faultproxy: target %q is not an http(s) URL", target)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("faultproxy: target %q has a query or fragment", target)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// Not the environment's proxy: trials run against local servers.
	tr.Proxy = nil
	// The client decides about compression: with compression on, the
	// transport would add Accept-Encoding and decompress the response,
	// changing what the client sees.
	tr.DisableCompression = true
	tr.MaxIdleConnsPerHost = 64
	return &Proxy{
		target:    u,
		transport: tr,
		// PCG's second seed word is a fixed stream selector: one int64
		// seed names one sequence.
		rng:    rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)),
		counts: map[string]int{},
	}, nil
}

// SetFaults replaces the fault probabilities; the zero Faults injects
// none. Faults take effect for the next request.
func (p *Proxy) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = f
	return nil
}

// SetRule makes rule choose the fault of every eligible request in place
// of the probabilities of SetFaults, whose Match and Delay still apply;
// nil returns to the probabilities. A rule draws nothing from the seeded
// source.
func (p *Proxy) SetRule(rule Rule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rule = rule
}

// Counts returns how many times each fault was injected, by Fault.String
// name, and under "delay" how many requests were delayed. Kinds never
// injected are absent.
func (p *Proxy) Counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.counts))
	for k, v := range p.counts {
		out[k] = v
	}
	return out
}

// Start serves the proxy on a free loopback port in the background and
// returns its URL, the endpoint to give the client under test.
func (p *Proxy) Start() (string, error) {
	p.lifecycle.Lock()
	defer p.lifecycle.Unlock()
	if p.srv != nil {
		return "", errors.New("faultproxy: already started")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("faultproxy: listen: %w", err)
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	p.served = make(chan struct{})
	go func(srv *http.Server, served chan struct{}) {
		defer close(served)
		_ = srv.Serve(ln) // returns ErrServerClosed after Close
	}(p.srv, p.served)
	return "http://" + ln.Addr().String(), nil
}

// Close stops the proxy started by Start, closing its connections at once
// (requests in flight fail, as with any dropped connection), and the
// idle connections to the target.
func (p *Proxy) Close() {
	p.lifecycle.Lock()
	defer p.lifecycle.Unlock()
	if p.srv != nil {
		_ = p.srv.Close()
		<-p.served
		p.srv = nil
	}
	p.transport.CloseIdleConnections()
}

// ServeHTTP forwards one request, or injects its fault.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, fmt.Sprintf("faultproxy: request body over %d bytes", maxBody), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "faultproxy: reading the request body: "+err.Error(), http.StatusBadRequest)
		return
	}

	fault, delay := p.choose(r, body)
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done(): // the client gave up
			t.Stop()
			return
		}
	}

	switch fault {
	case Status500:
		writeFault(w, r, fault, http.StatusInternalServerError, "InternalError",
			"We encountered an internal error. Please try again.")
		return
	case Status503:
		writeFault(w, r, fault, http.StatusServiceUnavailable, "SlowDown",
			"Please reduce your request rate.")
		return
	case Status409:
		writeFault(w, r, fault, http.StatusConflict, "ConditionalRequestConflict",
			"A conflicting operation occurred. If using PutObject you can retry the request.")
		return
	}

	resp, err := p.forward(r, body)
	switch fault {
	case DropAfter, DropAfter500:
		if err == nil {
			// Read the whole response, so that the target has finished
			// the request before the client learns anything.
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if fault == DropAfter500 {
			writeFault(w, r, fault, http.StatusInternalServerError, "InternalError",
				"We encountered an internal error. Please try again.")
			return
		}
		drop(w)
		return
	}
	if err != nil {
		http.Error(w, "faultproxy: forwarding to the target: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	h := w.Header()
	for k, v := range resp.Header {
		h[k] = v
	}
	removeHopByHop(h)
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body) // an error here is the client's or the target's going away
}

// choose returns the fault and delay of a request and counts them.
func (p *Proxy) choose(r *http.Request, body []byte) (Fault, time.Duration) {
	// Match and the rule see a copy with its own reader of the body.
	view := func() *http.Request {
		c := r.Clone(r.Context())
		c.Body = io.NopCloser(bytes.NewReader(body))
		return c
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.faults
	eligible := f.Match == nil || f.Match(view())
	var delay time.Duration
	if eligible {
		delay = f.Delay
	}
	fault := None
	switch {
	case !eligible:
	case p.rule != nil:
		fault = p.rule(view())
	default:
		// One draw per eligible request, whatever its outcome, keeps the
		// sequence of faults a function of the seed and the sequence of
		// requests only.
		u := p.rng.Float64()
		switch {
		case u < f.Status5xx:
			fault = Status500
		case u < f.Status5xx+f.Status503:
			fault = Status503
		case u < f.Status5xx+f.Status503+f.Status409:
			fault = Status409
		case u < f.Status5xx+f.Status503+f.Status409+f.DropAfter:
			fault = DropAfter
			if f.DropWith500 {
				fault = DropAfter500
			}
		}
	}
	if fault < None || fault > DropAfter500 {
		fault = None // a rule's unknown value: forward, as documented for Rule
	}
	if fault != None {
		p.counts[fault.String()]++
	}
	if delay > 0 {
		p.counts["delay"]++
	}
	return fault, delay
}

// forward sends the request to the target as the client sent it to the
// proxy: same method, Host, path encoding, query, headers and body.
func (p *Proxy) forward(r *http.Request, body []byte) (*http.Response, error) {
	u := *p.target
	base := strings.TrimSuffix(p.target.EscapedPath(), "/")
	u.Path = strings.TrimSuffix(p.target.Path, "/") + r.URL.Path
	// The escaped form as the client sent it: SigV4 signs the path
	// exactly, and re-encoding ("=" or "%3D") would break the signature.
	u.RawPath = base + r.URL.EscapedPath()
	u.RawQuery = r.URL.RawQuery

	ctx := r.Context()
	out, err := http.NewRequestWithContext(ctx, r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	out.ContentLength = int64(len(body))
	if len(body) == 0 {
		out.Body = http.NoBody
	}
	out.Header = r.Header.Clone()
	removeHopByHop(out.Header)
	if _, ok := out.Header["User-Agent"]; !ok {
		// An empty value keeps net/http from adding its own.
		out.Header["User-Agent"] = []string{""}
	}
	out.Host = r.Host
	return p.transport.RoundTrip(out)
}

// hopByHop are the headers of one connection, not of the request
// (RFC 9110, section 7.6.1).
var hopByHop = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func removeHopByHop(h http.Header) {
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopByHop {
		h.Del(name)
	}
}

// drop closes the client's connection without a response.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	// HTTP/2, or a writer that cannot be hijacked: the server resets
	// the stream or closes the connection without logging.
	panic(http.ErrAbortHandler)
}

// writeFault answers with an injected S3 error. The XML body is what S3
// sends, so S3 clients classify the error as they would S3's; other
// clients see the status. X-Faultproxy-Fault tells a reader of a trace
// that the proxy, not the target, answered.
func writeFault(w http.ResponseWriter, r *http.Request, f Fault, status int, code, message string) {
	h := w.Header()
	h.Set("X-Faultproxy-Fault", f.String())
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	body := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		"<Error><Code>" + code + "</Code><Message>" + message + "</Message>" +
		"<RequestId>faultproxy</RequestId></Error>"
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
