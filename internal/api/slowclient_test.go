package api_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/api"
	"github.com/semaphored/semaphored/internal/server"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/testenv"
)

// dialRaw connects to srv with a small receive buffer (so that a client
// that does not read fills it quickly) and writes raw.
func dialRaw(t *testing.T, srv *httptest.Server, raw string) (net.Conn, *bufio.Reader) {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	c, err := d.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	return c, bufio.NewReader(c)
}

// TestUnauthenticatedBodyNeverSent announces a body, never sends it, and
// expects the refusal at once, closing the connection: the server has no
// read timeout here, so an answer that waited for the body never comes.
func TestUnauthenticatedBodyNeverSent(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	const path = "/api/v1/projects/web/templates/deploy/tasks"
	tests := []struct {
		name, headers string
		want          int
	}{
		{"no token", "", 401},
		{"unknown token", "Authorization: Bearer nope\r\n", 401},
		{"read token", "Authorization: Bearer " + readToken + "\r\n", 403},
		{"not JSON", "Authorization: Bearer " + runToken + "\r\nContent-Type: text/plain\r\n", 415},
		{"other project", "Authorization: Bearer " + webToken + "\r\n", 404},
		{"unknown path", "Authorization: Bearer " + runToken + "\r\n", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := path
			switch tt.name {
			case "other project":
				p = "/api/v1/projects/db/templates/backup/tasks"
			case "unknown path":
				p = "/api/v1/nothing"
			}
			if !strings.Contains(tt.headers, "Content-Type") {
				tt.headers += "Content-Type: application/json\r\n"
			}
			c, br := dialRaw(t, srv, "POST "+p+" HTTP/1.1\r\nHost: x\r\n"+tt.headers+"Content-Length: 100000\r\n\r\n{")
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer while the body is missing: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want || !resp.Close || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("got %d close=%v %q %s, want %d, JSON, closing the connection",
					resp.StatusCode, resp.Close, resp.Header.Get("Content-Type"), body, tt.want)
			}
			// The server closes its end without waiting for the body.
			if _, err := io.Copy(io.Discard, br); errors.Is(err, os.ErrDeadlineExceeded) {
				t.Error("the connection stays open")
			}
		})
	}
	if len(f.engine.Submitted()) != 0 {
		t.Error("a task was submitted")
	}
}

// droppedStreams reads semaphored_http_streams_dropped_total.
func (f *fixture) droppedStreams(t *testing.T) float64 {
	t.Helper()
	for _, mf := range f.reg.Gather() {
		if mf.Name == "semaphored_http_streams_dropped_total" {
			return mf.Series[0].Value
		}
	}
	return 0
}

// TestStalledFollowerDropped follows a busy log with two clients: one
// reads everything, one stops reading. The stalled one is dropped once a
// write to it has waited longer than the stream write timeout; the
// healthy one gets every line, also those written after the drop, and a
// clean end when the task ends.
func TestStalledFollowerDropped(t *testing.T) {
	f := newFixtureWith(t, func(o *api.Options) { o.StreamWriteTimeout = time.Second })
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	task := state.Task{Status: state.StatusRunning}
	task.Project, task.Template = "web", "plan"
	task = f.store.Add(task)
	f.store.AppendLog(task.ID, "line 0")

	stalled, stalledBr := dialRaw(t, srv, fmt.Sprintf("GET /api/v1/tasks/%d/log?follow=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", task.ID, readToken))

	resp := follow(t, t.Context(), srv, task.ID)
	defer resp.Body.Close()
	healthy := make(chan error, 1)
	var received int
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if want := fmt.Sprintf("line %d", received); !strings.HasPrefix(sc.Text(), want+" ") && sc.Text() != want {
				healthy <- fmt.Errorf("got %.20q, want %q", sc.Text(), want)
				return
			}
			received++
		}
		healthy <- sc.Err()
	}()

	// Write 1 KiB lines until the stalled follower is dropped.
	pad := strings.Repeat("x", 1024)
	n := 1
	deadline := time.Now().Add(30 * time.Second)
	for f.droppedStreams(t) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the stalled follower was not dropped after %d lines", n)
		}
		lines := make([]string, 200)
		for i := range lines {
			lines[i] = fmt.Sprintf("line %d %s", n, pad)
			n++
		}
		f.store.AppendLog(task.ID, lines...)
		time.Sleep(10 * time.Millisecond)
	}
	testenv.WaitFor(t, "one follower left", 0, func() bool { return f.engine.Followers() == 1 })

	// The healthy follower goes on; the task ends; it gets a clean end.
	for range 5 {
		f.store.AppendLog(task.ID, fmt.Sprintf("line %d", n))
		n++
	}
	f.store.Finish(task.ID, state.StatusSuccess, 0)
	select {
	case err := <-healthy:
		if err != nil || received != n {
			t.Errorf("healthy follower: got %d lines (%v), want all %d and a clean end", received, err, n)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("healthy follower: still reading after the task ended (%d of %d lines)", received, n)
	}

	// The stalled client finds its connection closed once it reads what
	// was buffered, before the end of the task's log.
	stalled.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(stalledBr)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the stalled follower's connection is still open")
	}
	if strings.Contains(string(got), fmt.Sprintf("line %d\n", n-1)) {
		t.Error("the stalled follower got the whole log: it was not dropped")
	}
}

// TestFollowOutlivesServerTimeouts follows a log through the daemon's
// real listener with read, write and stream timeouts of 300 ms, for
// several times as long, with a quiet spell longer than any of them: a
// follower that reads is never cut, and gets a clean end with every line.
func TestFollowOutlivesServerTimeouts(t *testing.T) {
	const d = 300 * time.Millisecond
	f := newFixtureWith(t, func(o *api.Options) { o.StreamWriteTimeout = d })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Options{
		Listener: ln, ReadHeaderTimeout: d, ReadTimeout: d, WriteTimeout: d,
		Handlers: map[string]http.Handler{"/api/v1/": f.h},
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	}()

	task := state.Task{Status: state.StatusRunning}
	task.Project, task.Template = "web", "plan"
	task = f.store.Add(task)
	req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://%s/api/v1/tasks/%d/log?follow=1", srv.Addr(), task.ID), nil)
	req.Header.Set("Authorization", "Bearer "+readToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make(chan []string, 1)
	go func() {
		var lines []string
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		if err := sc.Err(); err != nil {
			lines = append(lines, "error: "+err.Error())
		}
		got <- lines
	}()
	var want []string
	for i := range 30 {
		if i == 15 {
			time.Sleep(3 * d) // quiet: no write for longer than every timeout
		}
		line := fmt.Sprintf("line %d", i)
		f.store.AppendLog(task.ID, line)
		want = append(want, line)
		time.Sleep(d / 6)
	}
	f.store.Finish(task.ID, state.StatusSuccess, 0)
	select {
	case lines := <-got:
		if strings.Join(lines, "|") != strings.Join(want, "|") {
			t.Errorf("got %q, want %q and a clean end", lines, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the follow did not end with the task")
	}
}
