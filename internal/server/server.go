// Package server owns the daemon's one HTTP listener: /healthz, /readyz,
// /metrics, and the handlers other packages mount (the API under /api/v1/,
// webhooks under /hooks/, task pages under /tasks/). It starts listening
// before anything slow happens, so a supervisor sees the daemon alive within
// milliseconds, and shuts down gracefully when its context ends.
//
// Every connection is bounded in time: headers within ReadHeaderTimeout, the
// whole request within ReadTimeout, the answer within WriteTimeout, and an
// idle kept-alive connection within IdleTimeout. A handler whose answer
// lasts longer (a followed log) renews the write deadline before each write
// with http.ResponseController; package api does. What no handler serves is
// answered with a JSON error (404, or 405 with Allow). Any answer a handler
// starts before it read the request's body whole is sent at once and closes
// the connection (see closeUnread): no caller holds a connection by
// announcing a body it never sends.
package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/semaphored/semaphored/internal/prom"
)

// Options configure New.
type Options struct {
	// Listener is already bound (so that the caller can bind first, then
	// open the rest). Required.
	Listener net.Listener
	Logger   *slog.Logger
	// Metrics serves /metrics.
	Metrics *prom.Registry
	// Ready reports whether a config revision is active, and if not why.
	Ready func() (bool, string)
	// Handlers are mounted as given: pattern → handler (Go 1.22 patterns).
	Handlers map[string]http.Handler
	// OnShutdown runs when shutdown begins (e.g. to end followed logs, which
	// would otherwise hold the shutdown until their tasks end).
	OnShutdown func()
	// ShutdownTimeout bounds the graceful shutdown (default 10s).
	ShutdownTimeout time.Duration

	// ReadHeaderTimeout bounds reading a request's headers (default
	// DefaultReadHeaderTimeout).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included (default
	// DefaultReadTimeout). It does not bound the answer: net/http lifts the
	// read deadline once the body is read.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing an answer (default DefaultWriteTimeout),
	// counted from the end of the request's headers. Handlers that stream
	// renew it with http.ResponseController.SetWriteDeadline before each
	// write.
	WriteTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a kept-alive
	// connection (default DefaultIdleTimeout).
	IdleTimeout time.Duration
}

// Default timeouts of the listener. A client that sends its headers or
// body slower than these, or does not take its answer, loses the
// connection, so idle or stalled connections cannot pile up.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout leaves room for the largest webhook body (25 MB)
	// at 7 Mbit/s; forges give up on a delivery after 10 s anyway.
	DefaultReadTimeout  = 30 * time.Second
	DefaultWriteTimeout = time.Minute
	DefaultIdleTimeout  = 2 * time.Minute
)

// Server is the HTTP server. Run serves until its context ends.
type Server struct {
	opts Options
	mux  *http.ServeMux
	srv  *http.Server
}

// New returns a server; nothing is served before Run.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 10 * time.Second
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		ok, why := true, "ready"
		if opts.Ready != nil {
			ok, why = opts.Ready()
		}
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintln(w, why)
	})
	if opts.Metrics != nil {
		mux.Handle("GET /metrics", MetricsHandler(opts.Metrics, opts.Logger))
	}
	for pattern, h := range opts.Handlers {
		mux.Handle(pattern, h)
	}
	srv := &http.Server{
		Handler:           closeUnread(jsonErrors{mux}),
		ReadHeaderTimeout: cmp.Or(opts.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		ReadTimeout:       cmp.Or(opts.ReadTimeout, DefaultReadTimeout),
		WriteTimeout:      cmp.Or(opts.WriteTimeout, DefaultWriteTimeout),
		IdleTimeout:       cmp.Or(opts.IdleTimeout, DefaultIdleTimeout),
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelWarn),
	}
	if opts.OnShutdown != nil {
		srv.RegisterOnShutdown(opts.OnShutdown)
	}
	return &Server{opts: opts, mux: mux, srv: srv}
}

// Handle mounts h at pattern while the server runs: parts that take time
// to build are added once they exist, so /healthz never waits for them.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.opts.Listener.Addr().String() }

// Run serves until ctx ends, then shuts down gracefully: it stops accepting,
// lets requests in flight finish within ShutdownTimeout, and returns.
// Followers of live logs are cut off by the shutdown deadline.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.srv.Serve(s.opts.Listener) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}
