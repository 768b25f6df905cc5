package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ShutdownTimeout is how long Serve waits, once its context ends, for
// requests in flight to finish before it closes their connections.
const ShutdownTimeout = 5 * time.Second

// Serve listens on addr (host:port; port 0 picks a free one) and serves h
// until ctx ends. Once it listens it calls ready, when not nil, with the
// bound address, so a caller can print it or a test can connect to it.
// When ctx ends it stops accepting connections and lets requests in flight
// finish for up to ShutdownTimeout: it returns nil when they did, and an
// error naming the timeout when it had to close their connections. It also
// returns an error when it cannot listen or the server fails.
func Serve(ctx context.Context, addr string, h http.Handler, ready func(net.Addr)) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	if ready != nil {
		ready(ln.Addr())
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("registry: serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if err != nil {
		_ = srv.Close()
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("registry: serving on %s: %w", ln.Addr(), serr)
	}
	if err != nil {
		return fmt.Errorf("registry: shutting down: %w", err)
	}
	return nil
}
