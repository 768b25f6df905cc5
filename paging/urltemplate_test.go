package paging

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/logstream/logstream/schemas"
)

func TestURLTemplate(t *testing.T) {
	a := &schemas.Alert{Host: "web 3&x", Scope: schemas.ScopeHost, Rule: "host_error_rate", DedupKey: "logstream/host/web-3/7"}
	for _, tc := range []struct{ tmpl, want string }{
		{"", ""},
		{"https://wiki.example/runbooks/logstream", "https://wiki.example/runbooks/logstream"},
		{"https://wiki.example/runbooks/{rule}", "https://wiki.example/runbooks/host_error_rate"},
		{"http://ls:9464/query/hosts?host={host}", "http://ls:9464/query/hosts?host=web%203%26x"},
		{"http://x/{scope}/{dedup_key}", "http://x/host/logstream%2Fhost%2Fweb-3%2F7"},
	} {
		tp, err := ParseURLTemplate(tc.tmpl)
		if err != nil {
			t.Errorf("%q: %v", tc.tmpl, err)
			continue
		}
		if got := tp.Expand(a); got != tc.want {
			t.Errorf("%q expands to %q, want %q", tc.tmpl, got, tc.want)
		}
		if tp.IsZero() != (tc.tmpl == "") || tp.String() != tc.tmpl {
			t.Errorf("%q: IsZero %v, String %q", tc.tmpl, tp.IsZero(), tp.String())
		}
	}
	for _, tc := range []struct{ tmpl, want string }{
		{"http://x/{hostname}", "unknown placeholder {hostname} (known: {dedup_key} {host} {rule} {scope})"},
		{"http://x/{host", "unclosed {"},
		{"wiki/{rule}", "does not make an http(s) URL"},
		{"{host}", "does not make an http(s) URL"},
	} {
		if _, err := ParseURLTemplate(tc.tmpl); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.tmpl, err, tc.want)
		}
	}
}

// The links and the re-send payload: generatorURL and runbook_url per
// alert, and every re-sent alert with endsAt FiringFor ahead.
func TestAlertmanagerLinksAndResend(t *testing.T) {
	srv := newRecorder(t, 200)
	n, err := NewAlertmanager(AlertmanagerConfig{URL: srv.URL, FiringFor: 4 * time.Second,
		GeneratorURL: "http://ls:9464/query/hosts?host={host}", RunbookURL: "https://wiki.example/runbooks/{rule}",
		Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	if n.ValidFor() != 4*time.Second {
		t.Errorf("ValidFor %s, want FiringFor", n.ValidFor())
	}
	fleet := testAlert(schemas.AlertFiring)
	fleet.Host, fleet.Scope, fleet.Rule, fleet.DedupKey = "", schemas.ScopeFleet, "fleet_error_rate", "logstream/fleet/1"
	var many []*schemas.Alert
	for range maxResendBatch {
		many = append(many, testAlert(schemas.AlertFiring))
	}
	if err := n.Resend(context.Background(), append(many, fleet)); err != nil {
		t.Fatal(err)
	}
	reqs := srv.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests for %d alerts, want 2 batches", len(reqs), maxResendBatch+1)
	}
	var first, second []postableAlert
	if err := json.Unmarshal(reqs[0].Body, &first); err != nil || len(first) != maxResendBatch {
		t.Fatalf("first batch: %d alerts (%v)", len(first), err)
	}
	if err := json.Unmarshal(reqs[1].Body, &second); err != nil || len(second) != 1 {
		t.Fatalf("second batch: %d alerts (%v)", len(second), err)
	}
	host, fl := first[0], second[0]
	if want := rfc3339(testNow.Add(4 * time.Second)); host.EndsAt != want || fl.EndsAt != want {
		t.Errorf("endsAt %s / %s, want now + FiringFor = %s", host.EndsAt, fl.EndsAt, want)
	}
	if host.GeneratorURL != "http://ls:9464/query/hosts?host=web-3" || host.Annotations["runbook_url"] != "https://wiki.example/runbooks/host_error_rate" {
		t.Errorf("host alert links: %q, %q", host.GeneratorURL, host.Annotations["runbook_url"])
	}
	// A fleet-wide alert has no host: the query then shows every host.
	if fl.GeneratorURL != "http://ls:9464/query/hosts?host=" || fl.Annotations["runbook_url"] != "https://wiki.example/runbooks/fleet_error_rate" {
		t.Errorf("fleet alert links: %q, %q", fl.GeneratorURL, fl.Annotations["runbook_url"])
	}

	// Without the settings: no generatorURL, no runbook_url.
	plain, err := NewAlertmanager(AlertmanagerConfig{URL: srv.URL, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	p := plain.postable(testAlert(schemas.AlertFiring))
	if _, ok := p.Annotations["runbook_url"]; ok || p.GeneratorURL != "" {
		t.Errorf("links without settings: %q %v", p.GeneratorURL, p.Annotations)
	}
	if p.EndsAt != rfc3339(testNow.Add(DefaultFiringFor)) || DefaultFiringFor != 4*time.Minute {
		t.Errorf("default endsAt %s (DefaultFiringFor %s), want now + 4m", p.EndsAt, DefaultFiringFor)
	}
	if _, err := NewAlertmanager(AlertmanagerConfig{URL: srv.URL, RunbookURL: "wiki/{rule}"}); err == nil || !strings.Contains(err.Error(), "runbook URL") {
		t.Errorf("bad runbook template: %v", err)
	}
}
