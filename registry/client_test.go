package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logstream/logstream/codecs"
	"github.com/logstream/logstream/schemas"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// swappable lets a test change what the server serves, as a deploy does.
type swappable struct{ h atomic.Pointer[http.Handler] }

func (s *swappable) set(h http.Handler)                               { s.h.Store(&h) }
func (s *swappable) ServeHTTP(w http.ResponseWriter, r *http.Request) { (*s.h.Load()).ServeHTTP(w, r) }

func newClient(t *testing.T, url string, opts ...ClientOption) *Client {
	t.Helper()
	c, err := NewClient(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func fingerprint(t *testing.T, schema string) uint64 {
	t.Helper()
	fp, err := schemas.Fingerprint(schema)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

func TestClientSchemaByID(t *testing.T) {
	cat := embedded(t)
	srv, log := serveTest(t, newHandler(t, cat))
	clock := newClock()
	c := newClient(t, srv.URL, WithClock(clock.now))
	ctx := context.Background()

	for _, s := range cat.Schemas() {
		got, err := c.SchemaByID(ctx, s.ID)
		if err != nil {
			t.Fatalf("id %d: %v", s.ID, err)
		}
		if fp := fingerprint(t, got); fp != s.Fingerprint {
			t.Errorf("id %d: fingerprint %016x, want %016x (%s)", s.ID, fp, s.Fingerprint, s.File)
		}
	}
	n := log.count("")
	if n != len(cat.Schemas()) {
		t.Errorf("%d requests for %d ids", n, len(cat.Schemas()))
	}
	// Ids never change meaning: asking again costs nothing, however late.
	clock.advance(24 * time.Hour)
	for _, s := range cat.Schemas() {
		if _, err := c.SchemaByID(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
	}
	if log.count("") != n {
		t.Errorf("cached ids were fetched again: %d requests, want %d", log.count(""), n)
	}

	// An unknown id: not found, asked again only after MinRefresh.
	_, err := c.SchemaByID(ctx, 9999)
	if !errors.Is(err, codecs.ErrSchemaNotFound) {
		t.Fatalf("unknown id: %v, want ErrSchemaNotFound", err)
	}
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Code != CodeSchemaNotFound || apiErr.Status != 404 {
		t.Errorf("unknown id: %#v, want an *Error with code 40403", apiErr)
	}
	if !strings.HasPrefix(err.Error(), "registry: schema id 9999: ") {
		t.Errorf("error %q", err)
	}
	before := log.count("GET /schemas/ids/9999")
	clock.advance(DefaultMinRefresh / 2)
	if _, err := c.SchemaByID(ctx, 9999); !errors.Is(err, codecs.ErrSchemaNotFound) {
		t.Fatalf("unknown id again: %v", err)
	}
	if got := log.count("GET /schemas/ids/9999"); got != before {
		t.Errorf("an unknown id was asked again within MinRefresh (%d requests)", got)
	}
	clock.advance(DefaultMinRefresh / 2)
	if _, err := c.SchemaByID(ctx, 9999); !errors.Is(err, codecs.ErrSchemaNotFound) {
		t.Fatalf("unknown id again: %v", err)
	}
	if got := log.count("GET /schemas/ids/9999"); got != before+1 {
		t.Errorf("an unknown id was not asked again after MinRefresh (%d requests, want %d)", got, before+1)
	}
}

func TestClientSchemaByFingerprint(t *testing.T) {
	cat := embedded(t)
	srv, log := serveTest(t, newHandler(t, cat))
	c := newClient(t, srv.URL)
	ctx := context.Background()

	subjects := Subjects(mustTopics(t), cat)
	listed := map[uint64]bool{}
	versions := 0
	for _, r := range subjects {
		for _, s := range r.Versions {
			listed[s.Fingerprint] = true
			versions++
		}
	}
	for _, s := range cat.Schemas() {
		if !listed[s.Fingerprint] {
			continue
		}
		got, err := c.SchemaByFingerprint(ctx, s.Fingerprint)
		if err != nil {
			t.Fatalf("%s: %v", s.File, err)
		}
		if fp := fingerprint(t, got); fp != s.Fingerprint {
			t.Errorf("%s: got a schema with fingerprint %016x", s.File, fp)
		}
	}
	// Records written before logstream followed the specification carry
	// the legacy (goavro) fingerprint: the same listing finds those too.
	legacy := 0
	for _, s := range cat.Schemas() {
		if !listed[s.Fingerprint] || s.LegacyFingerprint == s.Fingerprint {
			continue
		}
		legacy++
		got, err := c.SchemaByFingerprint(ctx, s.LegacyFingerprint)
		if err != nil {
			t.Fatalf("%s by legacy fingerprint %016x: %v", s.File, s.LegacyFingerprint, err)
		}
		if fp := fingerprint(t, got); fp != s.Fingerprint {
			t.Errorf("%s by legacy fingerprint: got a schema with fingerprint %016x", s.File, fp)
		}
	}
	if legacy == 0 {
		t.Error("no listed schema has a legacy fingerprint of its own; the test proves nothing")
	}
	// One listing: the subjects, each subject's versions, each version.
	if got, want := log.count(""), 1+len(subjects)+versions; got != want {
		t.Errorf("%d requests, want %d (one listing)", got, want)
	}
	// The listing also taught the client every listed id.
	for _, r := range subjects {
		if _, err := c.SchemaByID(ctx, r.Latest().ID); err != nil {
			t.Fatal(err)
		}
	}
	if got := log.count("GET /schemas/ids/"); got != 0 {
		t.Errorf("%d requests by id after a listing, want 0", got)
	}

	// A schema under no subject (Span is on no topic) is not found.
	span := record(t, cat, schemas.NameSpan).Latest()
	_, err := c.SchemaByFingerprint(ctx, span.Fingerprint)
	if !errors.Is(err, codecs.ErrSchemaNotFound) {
		t.Fatalf("Span: %v, want ErrSchemaNotFound", err)
	}
	want := fmt.Sprintf("registry: fingerprint %016x: ", span.Fingerprint)
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q does not start with %q", err, want)
	}
}

// A pod asked for the fingerprint of a version deployed after its last
// listing finds it, but lists the registry at most once per MinRefresh
// however many unknown records it meets.
func TestClientRefreshRateLimit(t *testing.T) {
	full := embedded(t)
	ev := record(t, full, schemas.NameLogEvent)
	newest := ev.Latest()
	old := catalogFS(t)
	dropVersion(t, old, newest.File)

	var srvHandler swappable
	srvHandler.set(newHandler(t, loadCatalog(t, old)))
	srv, log := serveTest(t, &srvHandler)
	clock := newClock()
	c := newClient(t, srv.URL, WithClock(clock.now), WithMinRefresh(10*time.Second))
	ctx := context.Background()

	if _, err := c.SchemaByFingerprint(ctx, newest.Fingerprint); !errors.Is(err, codecs.ErrSchemaNotFound) {
		t.Fatalf("before the deploy: %v, want ErrSchemaNotFound", err)
	}
	if got := log.count("GET /subjects"); got == 0 {
		t.Fatal("no listing")
	}
	listings := func() int { return log.count("GET /subjects") - log.count("GET /subjects/") }
	if listings() != 1 {
		t.Fatalf("%d listings, want 1", listings())
	}

	srvHandler.set(newHandler(t, full)) // the deploy
	clock.advance(time.Second)
	requests := log.count("")
	lookups := func(fp func(i int) uint64) []error {
		var wg sync.WaitGroup
		errs := make([]error, 100)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = c.SchemaByFingerprint(ctx, fp(i))
			}()
		}
		wg.Wait()
		return errs
	}
	// A flood of unknown records within MinRefresh: no request at all.
	for _, err := range lookups(func(i int) uint64 { return uint64(0xdead0000 + i) }) {
		if !errors.Is(err, codecs.ErrSchemaNotFound) {
			t.Fatalf("unknown fingerprint: %v", err)
		}
	}
	for _, err := range lookups(func(int) uint64 { return newest.Fingerprint }) {
		if !errors.Is(err, codecs.ErrSchemaNotFound) {
			t.Fatalf("within MinRefresh: %v, want ErrSchemaNotFound (not listed yet)", err)
		}
	}
	if got := log.count(""); got != requests {
		t.Fatalf("%d requests within MinRefresh, want 0", got-requests)
	}

	// After MinRefresh: one listing, shared by every caller, finds it.
	clock.advance(9 * time.Second)
	for _, err := range lookups(func(int) uint64 { return newest.Fingerprint }) {
		if err != nil {
			t.Fatalf("after MinRefresh: %v %v", err, log.paths)
		}
	}
	if listings() != 2 {
		t.Errorf("%d listings, want 2", listings())
	}
	// Known now: no more requests, whatever the clock says.
	requests = log.count("")
	clock.advance(time.Hour)
	if s, err := c.SchemaByFingerprint(ctx, newest.Fingerprint); err != nil || fingerprint(t, s) != newest.Fingerprint {
		t.Fatalf("cached: %v", err)
	}
	if log.count("") != requests {
		t.Error("a known fingerprint cost a request")
	}
}

func TestClientBasicAuth(t *testing.T) {
	h := newHandler(t, embedded(t))
	authed := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "sr-user" || p != "s3cret/pw" {
			w.Header().Set("Content-Type", ContentType)
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error_code":401,"message":"Unauthorized"}`)
			return
		}
		h.ServeHTTP(w, r)
	})
	srv, _ := serveTest(t, authed)
	host := strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()

	c := newClient(t, "http://sr-user:s3cret%2Fpw@"+host+"/")
	if c.URL() != srv.URL {
		t.Errorf("URL() = %q, want %q without credentials", c.URL(), srv.URL)
	}
	if _, err := c.SchemaByID(ctx, 1); err != nil {
		t.Fatalf("with credentials: %v", err)
	}
	for _, url := range []string{srv.URL, "http://sr-user:wrong-pw@" + host} {
		_, err := newClient(t, url).SchemaByID(ctx, 1)
		var apiErr *Error
		if !errors.As(err, &apiErr) || apiErr.Status != 401 || errors.Is(err, codecs.ErrSchemaNotFound) {
			t.Errorf("%s: %v, want a 401 *Error", url, err)
		}
		if err != nil && strings.Contains(err.Error(), "wrong-pw") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

func TestClientErrors(t *testing.T) {
	ctx := context.Background()
	for _, url := range []string{"", "localhost:8081", "ftp://host", "http://", "http://host/?x=1", "http://a b"} {
		if _, err := NewClient(url); err == nil || !strings.HasPrefix(err.Error(), "registry: ") {
			t.Errorf("NewClient(%q): %v", url, err)
		}
	}
	if _, err := NewClient("http://host", WithMinRefresh(-time.Second)); err == nil {
		t.Error("a negative MinRefresh was accepted")
	}
	if _, err := NewClient("http://u:pw@host:bad"); err == nil || strings.Contains(err.Error(), "pw") {
		t.Errorf("bad URL: %v", err)
	}

	// Not a registry: a 500 with a text body is an *Error without a code.
	srv, _ := serveTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "backend down", http.StatusInternalServerError)
	}))
	_, err := newClient(t, srv.URL).SchemaByID(ctx, 1)
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Status != 500 || apiErr.Code != 0 || !strings.Contains(apiErr.Message, "backend down") {
		t.Errorf("500: %v", err)
	}
	if errors.Is(err, codecs.ErrSchemaNotFound) || !strings.HasPrefix(err.Error(), "registry: ") {
		t.Errorf("500: %v", err)
	}
	_, err = newClient(t, srv.URL).SchemaByFingerprint(ctx, 42)
	if err == nil || errors.Is(err, codecs.ErrSchemaNotFound) || !strings.HasPrefix(err.Error(), "registry: ") {
		t.Errorf("500 on listing: %v", err)
	}

	// A wrong path (404 without a registry code) is not "schema not found".
	srv404, _ := serveTest(t, http.NotFoundHandler())
	if _, err := newClient(t, srv404.URL).SchemaByID(ctx, 1); err == nil || errors.Is(err, codecs.ErrSchemaNotFound) {
		t.Errorf("plain 404: %v", err)
	}

	// Nothing listening.
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	if _, err := newClient(t, down.URL).SchemaByID(ctx, 1); err == nil || errors.Is(err, codecs.ErrSchemaNotFound) || !strings.HasPrefix(err.Error(), "registry: ") {
		t.Errorf("no server: %v", err)
	}

	// The caller's context bounds its wait.
	stall := make(chan struct{})
	defer close(stall)
	slow, _ := serveTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	}))
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := newClient(t, slow.URL).SchemaByID(cctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("stalled server: %v, want context.DeadlineExceeded", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Error("the client waited past its context")
	}
}

// A registry behind a path prefix, with a subject name that needs escaping.
func TestClientPathPrefix(t *testing.T) {
	cat := embedded(t)
	ev := record(t, cat, schemas.NameLogEvent)
	h, err := NewHandler(cat, map[string]schemas.Record{"team/logs value": ev})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/sr/", http.StripPrefix("/sr", h))
	srv, log := serveTest(t, mux)
	c := newClient(t, srv.URL+"/sr/")
	s, err := c.SchemaByFingerprint(context.Background(), ev.Latest().Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	if fingerprint(t, s) != ev.Latest().Fingerprint {
		t.Error("wrong schema")
	}
	if log.count("GET /sr/subjects/team/logs value/versions") == 0 {
		t.Errorf("requests: %v", log.paths)
	}
}

// A failed listing is not retried before MinRefresh either, and its error,
// not "not found", is what callers get meanwhile.
func TestClientFailedListing(t *testing.T) {
	cat := embedded(t)
	var h swappable
	h.set(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "registry backend down", http.StatusServiceUnavailable)
	}))
	srv, log := serveTest(t, &h)
	clock := newClock()
	c := newClient(t, srv.URL, WithClock(clock.now))
	ctx := context.Background()
	fp := record(t, cat, schemas.NameLogEvent).Latest().Fingerprint

	_, err := c.SchemaByFingerprint(ctx, fp)
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Status != 503 || errors.Is(err, codecs.ErrSchemaNotFound) || !strings.Contains(err.Error(), "listing the registry's schemas") {
		t.Fatalf("first lookup: %v", err)
	}
	n := log.count("")
	clock.advance(DefaultMinRefresh - time.Millisecond)
	_, err = c.SchemaByFingerprint(ctx, fp)
	if !errors.As(err, &apiErr) || errors.Is(err, codecs.ErrSchemaNotFound) || !strings.Contains(err.Error(), "the last listing") {
		t.Fatalf("within MinRefresh: %v", err)
	}
	if log.count("") != n {
		t.Fatal("a failed listing was retried within MinRefresh")
	}
	h.set(newHandler(t, cat))
	clock.advance(time.Millisecond)
	if _, err := c.SchemaByFingerprint(ctx, fp); err != nil {
		t.Fatalf("after MinRefresh, with the registry back: %v", err)
	}
}
