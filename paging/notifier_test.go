package paging

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logstream/logstream/schemas"
)

var testNow = time.Date(2026, 11, 1, 12, 5, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// testAlert is an incident of web-3, in state.
func testAlert(state string) *schemas.Alert {
	first := time.Date(2026, 11, 1, 12, 0, 10, 0, time.UTC).UnixMilli()
	a := &schemas.Alert{
		ID:          "logstream/host/web-3/7/" + state,
		DedupKey:    "logstream/host/web-3/7",
		State:       state,
		Scope:       schemas.ScopeHost,
		Host:        "web-3",
		Rule:        "host_error_rate",
		Rules:       []string{"host_error_rate", "burn_rate"},
		Summary:     "web-3 error rate 21.4% (fleet median 1.1%): timeout after <num> ms to <ip>:<num>",
		Rate:        0.214,
		FleetRate:   0.011,
		BurnRate:    ptr(14.4),
		Events:      1000,
		Errors:      214,
		WindowStart: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC).UnixMilli(),
		WindowEnd:   time.Date(2026, 11, 1, 12, 1, 0, 0, time.UTC).UnixMilli(),
		Signatures: []schemas.Signature{
			{Signature: "timeout after <num> ms to <ip>:<num>", Count: 180, Example: "timeout after 5000 ms to 10.0.0.7:5432"},
			{Signature: "connection reset by peer", Count: 34, Example: "connection reset by peer"},
		},
		Samples: []schemas.TraceSample{
			{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", EventID: "ev-1", Timestamp: first, Message: "timeout after 5000 ms to 10.0.0.7:5432",
				SpanService: "payments-db", SpanOperation: "SELECT orders", SpanDurationUs: ptr(int64(5_000_000))},
		},
		FirstSeen: first,
		LastSeen:  time.Date(2026, 11, 1, 12, 0, 50, 0, time.UTC).UnixMilli(),
		At:        time.Date(2026, 11, 1, 12, 0, 50, 0, time.UTC).UnixMilli(),
	}
	if state == schemas.AlertResolved {
		a.At = time.Date(2026, 11, 1, 12, 3, 0, 0, time.UTC).UnixMilli()
		a.LastSeen = a.At
	}
	return a
}

// request is what a test server received.
type request struct {
	Method, Path string
	Header       http.Header
	Body         []byte
}

// recorder is an httptest server that answers with the statuses of
// script in turn (200 after the script ends) and records every request.
type recorder struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []request
	script []int
	calls  atomic.Int64
}

func newRecorder(t *testing.T, ok int, script ...int) *recorder {
	r := &recorder{script: script}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, request{Method: req.Method, Path: req.URL.Path, Header: req.Header.Clone(), Body: body})
		n := len(r.reqs) - 1
		r.mu.Unlock()
		r.calls.Add(1)
		code := ok
		if n < len(r.script) {
			code = r.script[n]
		}
		w.WriteHeader(code)
		if code >= 400 {
			io.WriteString(w, `{"error":"scripted failure"}`)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.reqs...)
}

// fastRetry keeps the tests quick.
func fastRetry(hook func(int, error, time.Duration)) Retry {
	return Retry{Initial: time.Millisecond, Max: 5 * time.Millisecond, OnRetry: hook}
}

// notifierCase builds each notifier against a URL.
type notifierCase struct {
	name string
	ok   int // the status the real target answers on success
	make func(t *testing.T, url string, r Retry) Notifier
}

var notifierCases = []notifierCase{
	{TargetAlertmanager, http.StatusOK, func(t *testing.T, url string, r Retry) Notifier {
		n, err := NewAlertmanager(AlertmanagerConfig{URL: url, HTTP: HTTP{Retry: r}, Now: func() time.Time { return testNow }})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}},
	{TargetPagerDuty, http.StatusAccepted, func(t *testing.T, url string, r Retry) Notifier {
		n, err := NewPagerDuty(PagerDutyConfig{URL: url, RoutingKey: "R0UT1NGKEY", HTTP: HTTP{Retry: r}})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}},
	{TargetWebhook, http.StatusNoContent, func(t *testing.T, url string, r Retry) Notifier {
		n, err := NewWebhook(WebhookConfig{URL: url + "/hook", HTTP: HTTP{Retry: r}})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}},
}

func TestAlertmanagerPayload(t *testing.T) {
	srv := newRecorder(t, http.StatusOK)
	n, err := NewAlertmanager(AlertmanagerConfig{URL: srv.URL + "/", GeneratorURL: "http://grafana/d/logstream", Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := n.Notify(ctx, testAlert(schemas.AlertFiring)); err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(ctx, testAlert(schemas.AlertResolved)); err != nil {
		t.Fatal(err)
	}
	reqs := srv.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	var got [2]postableAlert
	for i, r := range reqs {
		if r.Method != http.MethodPost || r.Path != "/api/v2/alerts" {
			t.Fatalf("request %d: %s %s, want POST /api/v2/alerts", i, r.Method, r.Path)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		var arr []postableAlert
		if err := json.Unmarshal(r.Body, &arr); err != nil || len(arr) != 1 {
			t.Fatalf("body is not an array of one postable alert (%v): %s", err, r.Body)
		}
		got[i] = arr[0]
	}
	firing, resolved := got[0], got[1]
	wantLabels := map[string]string{
		"alertname": "host_error_rate", "host": "web-3", "scope": "host", "severity": "page",
		"dedup_key": "logstream/host/web-3/7", "service": "logstream",
	}
	if !reflect.DeepEqual(firing.Labels, wantLabels) {
		t.Errorf("labels = %v, want %v", firing.Labels, wantLabels)
	}
	if !reflect.DeepEqual(firing.Labels, resolved.Labels) {
		t.Errorf("FIRING and RESOLVED labels differ: %v vs %v", firing.Labels, resolved.Labels)
	}
	if want := "2026-11-01T12:00:10.000Z"; firing.StartsAt != want || resolved.StartsAt != want {
		t.Errorf("startsAt = %q / %q, want first_seen %q", firing.StartsAt, resolved.StartsAt, want)
	}
	if want := rfc3339(testNow.Add(DefaultFiringFor)); firing.EndsAt != want {
		t.Errorf("FIRING endsAt = %q, want now + %s = %q", firing.EndsAt, DefaultFiringFor, want)
	}
	if want := "2026-11-01T12:03:00.000Z"; resolved.EndsAt != want {
		t.Errorf("RESOLVED endsAt = %q, want the record's at %q", resolved.EndsAt, want)
	}
	if firing.GeneratorURL != "http://grafana/d/logstream" {
		t.Errorf("generatorURL = %q", firing.GeneratorURL)
	}
	ann := firing.Annotations
	for k, want := range map[string]string{
		"summary":    testAlert(schemas.AlertFiring).Summary,
		"first_seen": "2026-11-01T12:00:10.000Z",
		"rate":       "0.214",
		"fleet_rate": "0.011",
		"burn_rate":  "14.4",
	} {
		if ann[k] != want {
			t.Errorf("annotation %s = %q, want %q", k, ann[k], want)
		}
	}
	for _, want := range []string{"180× timeout after <num> ms to <ip>:<num>", "e.g. timeout after 5000 ms to 10.0.0.7:5432",
		"trace 4bf92f3577b34da6a3ce929d0e0e4736", "payments-db SELECT orders", "took 5s"} {
		if !strings.Contains(ann["description"], want) {
			t.Errorf("description lacks %q:\n%s", want, ann["description"])
		}
	}
	if !strings.HasPrefix(resolved.Annotations["summary"], "RESOLVED: ") {
		t.Errorf("RESOLVED summary = %q", resolved.Annotations["summary"])
	}
}

// An at ahead of the local clock must not keep the alert active until then.
func TestAlertmanagerResolveAheadOfClock(t *testing.T) {
	n, err := NewAlertmanager(AlertmanagerConfig{URL: "http://am:9093", Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	a := testAlert(schemas.AlertResolved)
	a.FirstSeen = testNow.Add(time.Minute).UnixMilli()
	a.At = testNow.Add(2 * time.Minute).UnixMilli()
	p := n.postable(a)
	if want := rfc3339(testNow); p.EndsAt != want || p.StartsAt != want {
		t.Errorf("startsAt %q endsAt %q, want both lowered to now %q", p.StartsAt, p.EndsAt, want)
	}
}

func TestPagerDutyPayload(t *testing.T) {
	srv := newRecorder(t, http.StatusAccepted)
	n, err := NewPagerDuty(PagerDutyConfig{URL: srv.URL, RoutingKey: "R0UT1NGKEY"})
	if err != nil {
		t.Fatal(err)
	}
	for _, state := range []string{schemas.AlertFiring, schemas.AlertResolved} {
		if err := n.Notify(context.Background(), testAlert(state)); err != nil {
			t.Fatalf("%s: %v", state, err)
		}
	}
	reqs := srv.requests()
	for i, want := range []string{"trigger", "resolve"} {
		r := reqs[i]
		if r.Path != "/v2/enqueue" {
			t.Fatalf("path %s, want /v2/enqueue", r.Path)
		}
		var ev struct {
			RoutingKey  string `json:"routing_key"`
			EventAction string `json:"event_action"`
			DedupKey    string `json:"dedup_key"`
			Payload     struct {
				Summary       string         `json:"summary"`
				Source        string         `json:"source"`
				Severity      string         `json:"severity"`
				Timestamp     string         `json:"timestamp"`
				Component     string         `json:"component"`
				CustomDetails map[string]any `json:"custom_details"`
			} `json:"payload"`
		}
		if err := json.Unmarshal(r.Body, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.RoutingKey != "R0UT1NGKEY" || ev.EventAction != want || ev.DedupKey != "logstream/host/web-3/7" {
			t.Errorf("event %d: routing_key %q event_action %q dedup_key %q", i, ev.RoutingKey, ev.EventAction, ev.DedupKey)
		}
		p := ev.Payload
		if p.Source != "web-3" || p.Severity != "critical" || p.Component != "host_error_rate" || !strings.Contains(p.Summary, "web-3 error rate 21.4%") {
			t.Errorf("payload %+v", p)
		}
		if p.CustomDetails["rate"] != 0.214 || p.CustomDetails["errors"] != 214.0 || !strings.Contains(p.CustomDetails["description"].(string), "payments-db") {
			t.Errorf("custom_details %v", p.CustomDetails)
		}
		if sigs, _ := p.CustomDetails["signatures"].([]any); len(sigs) != 2 {
			t.Errorf("custom_details.signatures = %v", p.CustomDetails["signatures"])
		}
	}
}

func TestPagerDutyDedupKey(t *testing.T) {
	short := "logstream/host/web-3/7"
	if PagerDutyDedupKey(short) != short {
		t.Error("a short key must pass unchanged")
	}
	long := "logstream/host/" + strings.Repeat("h", 300) + "/7"
	k := PagerDutyDedupKey(long)
	if len(k) > 255 || k != PagerDutyDedupKey(long) || k == PagerDutyDedupKey(long+"8") {
		t.Errorf("long key %q (%d): must fit 255, be stable and distinct", k, len(k))
	}
	if _, err := NewPagerDuty(PagerDutyConfig{}); err == nil {
		t.Error("a PagerDuty notifier without routing key must be refused")
	}
}

func TestWebhookPayload(t *testing.T) {
	srv := newRecorder(t, http.StatusNoContent)
	n, err := NewWebhook(WebhookConfig{URL: srv.URL + "/hook", HTTP: HTTP{Header: http.Header{"Authorization": {"Bearer s3cret"}}}})
	if err != nil {
		t.Fatal(err)
	}
	a := testAlert(schemas.AlertFiring)
	if err := n.Notify(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	r := srv.requests()[0]
	if r.Path != "/hook" || r.Header.Get("Idempotency-Key") != a.ID || r.Header.Get("Authorization") != "Bearer s3cret" {
		t.Errorf("path %s headers %v", r.Path, r.Header)
	}
	var got schemas.Alert
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, a) {
		t.Errorf("body decodes to %+v, want %+v", got, *a)
	}
	if !strings.Contains(string(r.Body), `"dedup_key":"logstream/host/web-3/7"`) {
		t.Errorf("body does not use the json tags: %s", r.Body)
	}
}

func TestNotifierRetries(t *testing.T) {
	for _, nc := range notifierCases {
		t.Run(nc.name, func(t *testing.T) {
			t.Run("503 then success", func(t *testing.T) {
				srv := newRecorder(t, nc.ok, 503, 503)
				var hooks atomic.Int64
				n := nc.make(t, srv.URL, fastRetry(func(int, error, time.Duration) { hooks.Add(1) }))
				if err := n.Notify(context.Background(), testAlert(schemas.AlertFiring)); err != nil {
					t.Fatal(err)
				}
				if srv.calls.Load() != 3 || hooks.Load() != 2 {
					t.Errorf("%d attempts and %d retries, want 3 and 2", srv.calls.Load(), hooks.Load())
				}
				reqs := srv.requests()
				if string(reqs[0].Body) != string(reqs[2].Body) {
					t.Error("a retry must resend the same body")
				}
			})
			t.Run("429 and 408 are retried", func(t *testing.T) {
				srv := newRecorder(t, nc.ok, 429, 408, 500)
				n := nc.make(t, srv.URL, fastRetry(nil))
				if err := n.Notify(context.Background(), testAlert(schemas.AlertFiring)); err != nil {
					t.Fatal(err)
				}
				if srv.calls.Load() != 4 {
					t.Errorf("%d attempts, want 4", srv.calls.Load())
				}
			})
			for _, code := range []int{400, 401, 404, 413} {
				t.Run("permanent "+http.StatusText(code), func(t *testing.T) {
					srv := newRecorder(t, nc.ok, code)
					n := nc.make(t, srv.URL, fastRetry(nil))
					err := n.Notify(context.Background(), testAlert(schemas.AlertFiring))
					if !errors.Is(err, ErrPermanent) {
						t.Fatalf("err = %v, want ErrPermanent", err)
					}
					var de *DeliveryError
					if !errors.As(err, &de) || de.StatusCode != code || de.Target != nc.name || !strings.Contains(de.Body, "scripted failure") {
						t.Errorf("err = %#v", err)
					}
					if srv.calls.Load() != 1 {
						t.Errorf("%d attempts, want 1 (not retried)", srv.calls.Load())
					}
				})
			}
			t.Run("backoff honours ctx", func(t *testing.T) {
				srv := newRecorder(t, 503, 503)
				n := nc.make(t, srv.URL, Retry{Initial: 10 * time.Second, Max: 30 * time.Second})
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				defer cancel()
				start := time.Now()
				err := n.Notify(ctx, testAlert(schemas.AlertFiring))
				if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrPermanent) {
					t.Fatalf("err = %v, want the context's deadline", err)
				}
				if took := time.Since(start); took > 2*time.Second {
					t.Errorf("Notify returned %s after its context ended", took)
				}
				if !strings.Contains(err.Error(), "HTTP 503") {
					t.Errorf("err %q does not tell the last attempt's failure", err)
				}
			})
			t.Run("network errors are retried", func(t *testing.T) {
				srv := httptest.NewServer(http.NotFoundHandler())
				url := srv.URL
				srv.Close() // connection refused from now on
				var hooks atomic.Int64
				n := nc.make(t, url, fastRetry(func(int, error, time.Duration) { hooks.Add(1) }))
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				defer cancel()
				err := n.Notify(ctx, testAlert(schemas.AlertFiring))
				if !errors.Is(err, context.DeadlineExceeded) || hooks.Load() < 2 {
					t.Errorf("err = %v after %d retries, want retries until the deadline", err, hooks.Load())
				}
			})
		})
	}
}

func TestRetryWait(t *testing.T) {
	r := Retry{Initial: 200 * time.Millisecond, Max: 30 * time.Second}.withDefaults()
	// The wait the policy draws after attempt n failed with err.
	wait := func(n int, err error) time.Duration { p := r.policy(); return p.Wait(n, p.RetryAfter(err)) }
	for n, d := range map[int]time.Duration{1: 200 * time.Millisecond, 2: 400 * time.Millisecond, 5: 3200 * time.Millisecond, 9: 30 * time.Second, 100: 30 * time.Second} {
		for range 50 {
			if w := wait(n, errors.New("x")); w < d/2 || w > d {
				t.Fatalf("wait after attempt %d = %s, want within [%s, %s]", n, w, d/2, d)
			}
		}
	}
	if w := wait(1, &DeliveryError{RetryAfter: 5 * time.Second}); w != 5*time.Second {
		t.Errorf("Retry-After 5s: wait %s", w)
	}
	if w := wait(1, &DeliveryError{RetryAfter: time.Hour}); w != 30*time.Second {
		t.Errorf("Retry-After 1h: wait %s, want the maximum", w)
	}
	if (Retry{Initial: time.Minute, Max: time.Second}).Validate() == nil {
		t.Error("initial above max must be refused")
	}
	d := Retry{}.withDefaults()
	if d.Initial != DefaultRetryInitial || d.Max != DefaultRetryMax {
		t.Errorf("defaults %+v", d)
	}
}
