package admin

import (
	"context"
	"fmt"
	"net/http"
	"testing"
)

// Handle mounts an endpoint next to the built-in ones, also while the
// server runs.
func TestHandleMountsExtraEndpoint(t *testing.T) {
	s, err := Listen("127.0.0.1:0", NewRegistry(), nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	base := "http://" + s.Addr()
	if code, _ := get(t, base+"/extra"); code != http.StatusNotFound {
		t.Errorf("/extra before Handle: %d", code)
	}
	s.Handle("/extra", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "extra %s", r.URL.Query().Get("q"))
	}))
	if code, body := get(t, base+"/extra?q=1"); code != 200 || body != "extra 1" {
		t.Errorf("/extra: %d %q", code, body)
	}
	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
}
