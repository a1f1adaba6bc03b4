package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// startServer runs a server with opts (Listener set here) until the test
// ends and returns its address.
func startServer(t *testing.T, opts Options) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.Listener = ln
	srv := New(opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return srv.Addr()
}

// rawConn opens a connection and writes raw, as a client that may never
// finish its request would.
func rawConn(t *testing.T, addr, raw string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	return c, bufio.NewReader(c)
}

// readAnswer reads one response, failing if none comes within wait.
func readAnswer(t *testing.T, c net.Conn, br *bufio.Reader, wait time.Duration) (*http.Response, string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no answer within %s: %v", wait, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read answer body: %v", err)
	}
	return resp, string(b)
}

// waitClosed fails unless the server closes c within wait.
func waitClosed(t *testing.T, c net.Conn, br *bufio.Reader, wait time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	_, err := io.Copy(io.Discard, br)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection still open after %s", wait)
	}
}

// TestJSONErrorsEverywhere checks that what no handler serves is answered
// with a JSON error, under every prefix of the listener.
func TestJSONErrorsEverywhere(t *testing.T) {
	addr := startServer(t, Options{Handlers: map[string]http.Handler{
		"POST /hooks/github": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
	}})
	tests := []struct {
		method, path string
		code         int
		allow        string
	}{
		{"GET", "/nope", 404, ""},
		{"GET", "/api/v1/tasks", 404, ""},
		{"GET", "/hooks/gitlab", 404, ""},
		{"GET", "/hooks/github", 405, "POST"},
		{"POST", "/healthz", 405, "GET, HEAD"},
		{"DELETE", "/metrics/x", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, "http://"+addr+tt.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Error string `json:"error"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Error == "" {
				t.Errorf("body: not a JSON error (%v)", err)
			}
			if resp.StatusCode != tt.code || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Allow") != tt.allow {
				t.Errorf("got %d %q Allow %q, want %d application/json Allow %q",
					resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Allow"), tt.code, tt.allow)
			}
		})
	}
}

// TestSlowClients holds connections the way an attacker would and checks
// that none of them is kept: headers never finished, a body announced and
// never sent (to a path nobody serves: answered at once; to a handler
// that reads it: cut at the read timeout).
func TestSlowClients(t *testing.T) {
	readBody := make(chan error, 1)
	addr := startServer(t, Options{
		ReadHeaderTimeout: 300 * time.Millisecond,
		ReadTimeout:       600 * time.Millisecond,
		Handlers: map[string]http.Handler{
			"POST /hooks/github": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, err := io.ReadAll(r.Body)
				readBody <- err
				if err != nil {
					w.WriteHeader(http.StatusRequestTimeout)
				}
			}),
		},
	})
	const wait = 10 * time.Second

	t.Run("headers never finished", func(t *testing.T) {
		c, br := rawConn(t, addr, "GET /healthz HTTP/1.1\r\nHost: x\r\n")
		waitClosed(t, c, br, wait)
	})
	t.Run("idle after connecting", func(t *testing.T) {
		c, br := rawConn(t, addr, "")
		waitClosed(t, c, br, wait)
	})
	t.Run("body never sent to an unknown path", func(t *testing.T) {
		// A read timeout far beyond the wait: the answer must not wait for
		// the body.
		addr := startServer(t, Options{ReadTimeout: time.Hour})
		c, br := rawConn(t, addr, "POST /api/v1/nothing HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
		resp, body := readAnswer(t, c, br, wait)
		if resp.StatusCode != 404 || !resp.Close || !strings.Contains(body, `"error"`) {
			t.Errorf("got %d close=%v %q, want a JSON 404 closing the connection", resp.StatusCode, resp.Close, body)
		}
		waitClosed(t, c, br, wait)
	})
	t.Run("body never sent to a handler that reads it", func(t *testing.T) {
		c, br := rawConn(t, addr, "POST /hooks/github HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
		select {
		case err := <-readBody:
			if err == nil {
				t.Error("the handler read a whole body that was never sent")
			}
		case <-time.After(wait):
			t.Fatalf("the handler still reads the body after %s", wait)
		}
		waitClosed(t, c, br, wait)
	})
}

// TestAnswerBeforeBody checks the rule of closeUnread on a handler that
// knows nothing of it: an answer given without reading the announced
// body comes at once and ends the connection; an answer after reading
// the body whole (even without seeing EOF) keeps the connection.
func TestAnswerBeforeBody(t *testing.T) {
	addr := startServer(t, Options{
		ReadTimeout: time.Hour, // the answer must not wait for it
		Handlers: map[string]http.Handler{
			"POST /refuse": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusUnauthorized)
			}),
			"POST /decode": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var v map[string]any
				if err := json.NewDecoder(r.Body).Decode(&v); err != nil {
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				io.WriteString(w, "ok")
			}),
		},
	})
	const wait = 10 * time.Second

	c, br := rawConn(t, addr, "POST /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{")
	resp, _ := readAnswer(t, c, br, wait)
	if resp.StatusCode != 401 || !resp.Close {
		t.Errorf("refused before the body: got %d close=%v, want 401 closing the connection", resp.StatusCode, resp.Close)
	}
	waitClosed(t, c, br, wait)

	body := `{"a":1}`
	req := fmt.Sprintf("POST /decode HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	c, br = rawConn(t, addr, req)
	for i := range 2 { // the same connection serves a second request
		if i > 0 {
			io.WriteString(c, req)
		}
		resp, got := readAnswer(t, c, br, wait)
		if resp.StatusCode != 200 || resp.Close || got != "ok" {
			t.Fatalf("request %d after reading the body: got %d close=%v %q, want 200 ok on a kept connection", i+1, resp.StatusCode, resp.Close, got)
		}
	}
}
