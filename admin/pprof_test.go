package admin

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// serve runs an admin server with opts until the test ends and returns its
// base URL.
func serve(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	s, err := Listen("127.0.0.1:0", NewRegistry(), nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return s, "http://" + s.Addr()
}

var pprofPaths = []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/goroutine", "/debug/pprof/cmdline",
	"/debug/pprof/profile?seconds=1", "/debug/pprof/symbol", "/debug/pprof/trace?seconds=1"}

// Without Options.Pprof no profile is served.
func TestPprofOffByDefault(t *testing.T) {
	s, base := serve(t, Options{})
	for _, p := range pprofPaths {
		if code, _ := get(t, base+p); code != http.StatusNotFound {
			t.Errorf("%s without Pprof: %d, want 404", p, code)
		}
	}
	if slices.ContainsFunc(s.Endpoints(), func(e string) bool { return strings.HasPrefix(e, "/debug/") }) {
		t.Errorf("endpoints %v list pprof", s.Endpoints())
	}
}

// With Options.Pprof the profiles are served, and the command line shows
// no secret.
func TestPprofOn(t *testing.T) {
	args := []string{"/bin/logstream", "sink", "openobserve", "--openobserve-password", "hunter2", "--openobserve-user", "ops",
		"-openobserve-password=s3cr=t", "--log-level=debug"}
	s, base := serve(t, Options{Pprof: true, SecretFlags: []string{"openobserve-password"}, Args: args})
	for _, p := range pprofPaths {
		if code, body := get(t, base+p); code != http.StatusOK || body == "" {
			t.Errorf("%s with Pprof: %d (%d bytes), want 200 and a body", p, code, len(body))
		}
	}
	if code, body := get(t, base+"/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("pprof index: %d", code)
	}
	if !slices.Contains(s.Endpoints(), "/debug/pprof/") {
		t.Errorf("endpoints %v lack /debug/pprof/", s.Endpoints())
	}
	_, body := get(t, base+"/debug/pprof/cmdline")
	want := []string{"/bin/logstream", "sink", "openobserve", "--openobserve-password", RedactedValue, "--openobserve-user", "ops",
		"-openobserve-password=" + RedactedValue, "--log-level=debug"}
	if got := strings.Split(body, "\x00"); !slices.Equal(got, want) {
		t.Errorf("cmdline %q, want %q", got, want)
	}
	if strings.Contains(body, "hunter2") || strings.Contains(body, "s3cr") {
		t.Errorf("cmdline shows a secret: %q", body)
	}
}

func TestRedactArgs(t *testing.T) {
	secret := map[string]bool{"openobserve-password": true, "kafka-sasl-password": true}
	cases := []struct{ in, want []string }{
		{ // both forms, one or two dashes; the rest untouched
			[]string{"logstream", "--openobserve-password", "a", "--kafka-sasl-password=b=c", "-openobserve-password", "d", "--brokers", "k:9092"},
			[]string{"logstream", "--openobserve-password", RedactedValue, "--kafka-sasl-password=" + RedactedValue, "-openobserve-password", RedactedValue, "--brokers", "k:9092"},
		},
		{ // a value that looks like a flag is still the secret's value
			[]string{"logstream", "--openobserve-password", "--log-level", "x"},
			[]string{"logstream", "--openobserve-password", RedactedValue, "x"},
		},
		{ // an empty value given with =
			[]string{"logstream", "--openobserve-password="},
			[]string{"logstream", "--openobserve-password=" + RedactedValue},
		},
		{ // the flag last, without its value: nothing to hide
			[]string{"logstream", "--openobserve-password"},
			[]string{"logstream", "--openobserve-password"},
		},
		{ // a similar name, positional arguments, and everything after --
			[]string{"logstream", "--openobserve-passwords", "a", "openobserve-password", "b", "--", "--openobserve-password", "c"},
			[]string{"logstream", "--openobserve-passwords", "a", "openobserve-password", "b", "--", "--openobserve-password", "c"},
		},
		{ // the program name is never read as a flag
			[]string{"--openobserve-password", "x"},
			[]string{"--openobserve-password", "x"},
		},
		{ // a password in a URL, whatever the flag; a user alone is no secret
			[]string{"logstream", "--registry", "http://u:p4ss@reg:8081", "--webhook=https://ops:t0k@h/x", "--alertmanager-url", "http://u@am:9093"},
			[]string{"logstream", "--registry", "http://u:xxxxx@reg:8081", "--webhook=https://ops:xxxxx@h/x", "--alertmanager-url", "http://u@am:9093"},
		},
	}
	for _, tc := range cases {
		in := slices.Clone(tc.in)
		if got := RedactArgs(tc.in, secret); !slices.Equal(got, tc.want) {
			t.Errorf("RedactArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if !slices.Equal(tc.in, in) {
			t.Errorf("RedactArgs changed its input: %q", tc.in)
		}
	}
}
