package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthURL(t *testing.T) {
	tests := []struct{ listen, want string }{
		{":8080", "http://127.0.0.1:8080/healthz"},
		{"0.0.0.0:9000", "http://127.0.0.1:9000/healthz"},
		{"[::]:8080", "http://[::1]:8080/healthz"},
		{"10.0.0.5:8080", "http://10.0.0.5:8080/healthz"},
		{"localhost:1", "http://localhost:1/healthz"},
	}
	for _, tt := range tests {
		if got, err := healthURL(tt.listen); err != nil || got != tt.want {
			t.Errorf("healthURL(%q) = %q, %v; want %q", tt.listen, got, err, tt.want)
		}
	}
	if _, err := healthURL("8080"); err == nil {
		t.Error("healthURL(\"8080\"): want an error for an address without a port")
	}
}

// TestHealthcheckStatus checks the exit status against a server that is
// alive and one that is not.
func TestHealthcheckStatus(t *testing.T) {
	code := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(code)
		w.Write([]byte("ok\n"))
	}))
	defer srv.Close()
	listen := strings.TrimPrefix(srv.URL, "http://")
	if out, stderr, c := runCmd(t, "healthcheck", "--listen", listen); c != 0 || !strings.Contains(out, "ok") {
		t.Errorf("alive: exit %d, %q %q", c, out, stderr)
	}
	code = http.StatusServiceUnavailable
	if _, stderr, c := runCmd(t, "healthcheck", "--listen", listen); c != 1 || !strings.Contains(stderr, "503") {
		t.Errorf("503: exit %d, %q; want 1", c, stderr)
	}
	if _, _, c := runCmd(t, "healthcheck", "--url", srv.URL+"/nope"); c != 1 {
		t.Errorf("404: exit %d, want 1", c)
	}
}
