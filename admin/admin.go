// Package admin is a pod's operations port: Prometheus metrics, liveness
// and readiness probes, and, when asked for, pprof.
//
//	/metrics        Prometheus text format: stage counters, consumer lag
//	                per partition, Go runtime and process metrics
//	/healthz        200 while the process serves requests
//	/readyz         200 once every stage has recovered its state, else 503
//	/debug/pprof/   the standard Go profiles, only with Options.Pprof
//
// Handle mounts more endpoints (the pipeline's /query/hosts).
package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a registry with the Go runtime and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Options are the admin server's optional endpoints.
type Options struct {
	// Pprof mounts Go's profiles under /debug/pprof/. Off by default: a
	// profile costs CPU while it runs, and the port usually listens where
	// more than operators can reach it.
	Pprof bool
	// SecretFlags are the names (without dashes) of flags whose values are
	// secrets: /debug/pprof/cmdline shows them as RedactedValue, in both
	// the "--flag value" and "--flag=value" forms.
	SecretFlags []string
	// Args is the command line /debug/pprof/cmdline shows; nil means
	// os.Args.
	Args []string
}

// Server serves the admin endpoints.
type Server struct {
	ln  net.Listener
	srv *http.Server
	mux *http.ServeMux

	mu        sync.Mutex
	endpoints []string
}

// Listen binds addr ("127.0.0.1:0" picks a port). ready reports readiness.
func Listen(addr string, reg *prometheus.Registry, ready func() bool, opts Options) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin: listen %s: %w", addr, err)
	}
	s := &Server{ln: ln, mux: http.NewServeMux()}
	s.srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
	s.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	s.Handle("/healthz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	}))
	s.Handle("/readyz", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if ready != nil && ready() {
			fmt.Fprintln(w, "ready")
			return
		}
		http.Error(w, "not ready: state recovery in progress", http.StatusServiceUnavailable)
	}))
	if opts.Pprof {
		// pprof.Index also serves the named profiles (heap, goroutine,
		// allocs...) below /debug/pprof/.
		s.Handle("/debug/pprof/", http.HandlerFunc(pprof.Index))
		// Not pprof.Cmdline: it prints os.Args as they are, secrets and all.
		s.mux.Handle("/debug/pprof/cmdline", Cmdline(opts.Args, opts.SecretFlags))
		s.mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		s.mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		s.mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return s, nil
}

// Handle mounts h at pattern (http.ServeMux patterns), also while the
// server runs. It panics when pattern is taken, as ServeMux does.
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
	s.mu.Lock()
	s.endpoints = append(s.endpoints, pattern)
	s.mu.Unlock()
}

// Endpoints returns the patterns mounted so far, for the start-up log.
func (s *Server) Endpoints() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.endpoints)
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Run serves until ctx is done, then shuts down, giving open requests up
// to five seconds.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("admin: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("admin: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin: %w", err)
	}
	return nil
}
