package server

import (
	"context"
	"github.com/semaphored/semaphored/internal/prom"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reg := prom.NewRegistry()
	c := prom.NewCounter(prom.CounterOpts{Name: "semaphored_test_total", Help: "A test counter."})
	reg.MustRegister(c)
	c.Inc()
	var ready atomic.Bool
	// http.Server runs OnShutdown on its own goroutine: it may run after
	// Run returned, so the test waits for it.
	shutdownCalled := make(chan struct{})
	srv := New(Options{
		Listener: ln,
		Metrics:  reg,
		Ready: func() (bool, string) {
			if ready.Load() {
				return true, "ready: revision r1"
			}
			return false, "not ready: no config revision is active yet"
		},
		OnShutdown: func() { close(shutdownCalled) },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- srv.Run(ctx) }()
	base := "http://" + srv.Addr()

	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/healthz", 200, "ok\n"},
		{"/readyz", 503, "not ready: no config revision is active yet\n"},
		{"/api/v1/tasks", 404, `{"error":"no such path"}` + "\n"},
	} {
		if code, body := get(t, base+tc.path); code != tc.code || body != tc.body {
			t.Errorf("GET %s before ready: got %d %q, want %d %q", tc.path, code, body, tc.code, tc.body)
		}
	}
	ready.Store(true)
	srv.Handle("/api/v1/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "api") }))
	if code, body := get(t, base+"/readyz"); code != 200 || body != "ready: revision r1\n" {
		t.Errorf("/readyz when ready: got %d %q", code, body)
	}
	if code, body := get(t, base+"/api/v1/tasks"); code != 200 || body != "api" {
		t.Errorf("mounted late: got %d %q", code, body)
	}
	if code, body := get(t, base+"/metrics"); code != 200 || !strings.Contains(body, "semaphored_test_total 1") {
		t.Errorf("/metrics: got %d %q", code, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	select {
	case <-shutdownCalled:
	case <-time.After(5 * time.Second):
		t.Error("OnShutdown was not called")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}
}
