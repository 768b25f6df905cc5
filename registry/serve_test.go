package registry

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestServe(t *testing.T) {
	h := newHandler(t, embedded(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, "127.0.0.1:0", h, func(a net.Addr) { addrc <- a }) }()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	}
	if addr.(*net.TCPAddr).Port == 0 {
		t.Fatalf("ready got %s, want the bound port", addr)
	}
	resp, err := http.Get("http://" + addr.String() + "/subjects")
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	err = json.NewDecoder(resp.Body).Decode(&subjects)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(subjects) == 0 || resp.Header.Get("Content-Type") != ContentType {
		t.Fatalf("GET /subjects: %d %v %v", resp.StatusCode, subjects, err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve returned %v after its context ended, want nil", err)
		}
	case <-time.After(ShutdownTimeout):
		t.Fatal("Serve did not return after its context ended")
	}
	if c, err := net.DialTimeout("tcp", addr.String(), time.Second); err == nil {
		c.Close()
		t.Fatal("still listening after Serve returned")
	}
}

// A request in flight when the context ends still gets its answer.
func TestServeFinishesRequestsInFlight(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "done")
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, "127.0.0.1:0", slow, func(a net.Addr) { addrc <- a }) }()
	addr := <-addrc

	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + addr.String() + "/")
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-entered
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Serve returned (%v) while a request was in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if b := <-got; b != "done" {
		t.Fatalf("the request in flight got %q", b)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

func TestServeListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	called := false
	err = Serve(context.Background(), ln.Addr().String(), http.NotFoundHandler(), func(net.Addr) { called = true })
	if err == nil || !strings.HasPrefix(err.Error(), "registry: ") || called {
		t.Fatalf("Serve on a busy port: %v (ready called: %v)", err, called)
	}
}
