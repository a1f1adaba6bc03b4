package api_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/api"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
	"github.com/semaphored/semaphored/internal/testenv"
)

func TestLog(t *testing.T) {
	f := newFixture(t)
	tk := f.store.Add(state.Task{Request: task.Request{Project: "web", Template: "plan"}, Status: state.StatusSuccess})
	var want []string
	for i := range 2500 {
		want = append(want, fmt.Sprintf("line %d", i+1))
	}
	f.store.AppendLog(tk.ID, want...)
	empty := f.store.Add(state.Task{Request: task.Request{Project: "web", Template: "plan"}})
	tests := []struct {
		name, query string
		id          uint64
		want        []string
	}{
		{"whole", "", tk.ID, want},
		{"from", "?from=2401", tk.ID, want[2400:]},
		{"from past the end", "?from=9999", tk.ID, nil},
		{"no lines", "", empty.ID, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(t, "GET", fmt.Sprintf("/api/v1/tasks/%d/log%s", tt.id, tt.query), readToken, "")
			if rec.Code != 200 {
				t.Fatalf("got %d, want 200", rec.Code)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "text/plain; charset=utf-8" {
				t.Errorf("Content-Type: got %q", ct)
			}
			got := strings.Split(strings.TrimSuffix(rec.Body.String(), "\n"), "\n")
			if rec.Body.Len() == 0 {
				got = nil
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("got %d lines, want %d", len(got), len(tt.want))
			}
		})
	}

	rec := f.do(t, "GET", fmt.Sprintf("/api/v1/tasks/%d/log?timestamps=1&from=2500", tk.ID), readToken, "")
	stamp, text, _ := strings.Cut(strings.TrimSpace(rec.Body.String()), " ")
	if _, err := time.Parse(time.RFC3339, stamp); err != nil || text != "line 2500" || len(stamp) != len(api.LogTimeFormat)-5 {
		t.Errorf("timestamped line: got %q, want RFC 3339 time then \"line 2500\" (%v)", rec.Body.String(), err)
	}
	for _, q := range []string{"?from=x", "?follow=yes", "?timestamps=2"} {
		if rec := f.do(t, "GET", fmt.Sprintf("/api/v1/tasks/%d/log%s", tk.ID, q), readToken, ""); rec.Code != 400 {
			t.Errorf("%s: got %d, want 400", q, rec.Code)
		}
	}
	if rec := f.do(t, "GET", "/api/v1/tasks/777/log", readToken, ""); rec.Code != 404 {
		t.Errorf("log of an unknown task: got %d, want 404", rec.Code)
	}
}

// TestLogFollow streams a running task's log over a real HTTP connection:
// lines arrive while the task runs, and the stream ends when it ends.
func TestLogFollow(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	tk := f.store.Add(state.Task{Request: task.Request{Project: "web", Template: "plan"}, Status: state.StatusRunning})
	f.store.AppendLog(tk.ID, "first")

	resp := follow(t, t.Context(), srv, tk.ID)
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	readLine := func(want string) {
		t.Helper()
		got, err := br.ReadString('\n')
		if err != nil || got != want+"\n" {
			t.Fatalf("line: got %q (%v), want %q", got, err, want)
		}
	}
	// Each line is read before the next is written: it was flushed.
	readLine("first")
	for i := range 5 {
		f.store.AppendLog(tk.ID, fmt.Sprintf("live %d", i))
		readLine(fmt.Sprintf("live %d", i))
	}
	f.store.AppendLog(tk.ID, "last")
	f.store.Finish(tk.ID, state.StatusSuccess, 0)
	readLine("last")
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Errorf("after the task ended: got %q (%v), want the end of the stream", rest, err)
	}
}

// TestLogFollowerDisconnect checks that a follower who leaves frees the
// follow: FollowLog returns.
func TestLogFollowerDisconnect(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	tk := f.store.Add(state.Task{Request: task.Request{Project: "web", Template: "plan"}, Status: state.StatusRunning})
	f.store.AppendLog(tk.ID, "hello")

	const followers = 20
	for range followers {
		ctx, cancel := context.WithCancel(t.Context())
		resp := follow(t, ctx, srv, tk.ID)
		if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || line != "hello\n" {
			t.Fatalf("got %q (%v), want hello", line, err)
		}
		cancel()
		resp.Body.Close()
	}
	testenv.WaitFor(t, "followers to end", 0, func() bool { return f.engine.Followers() == 0 })
}

// follow opens a followed log of task id on srv and checks it answers 200.
func follow(t *testing.T, ctx context.Context, srv *httptest.Server, id uint64) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/api/v1/tasks/%d/log?follow=1", srv.URL, id), nil)
	req.Header.Set("Authorization", "Bearer "+readToken)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		t.Fatalf("follow the log of task %d: got %d, want 200", id, resp.StatusCode)
	}
	return resp
}

// TestCloseStreams ends live follows at shutdown with a broken stream,
// not a clean end a client would take for the end of the task.
func TestCloseStreams(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	tk := f.store.Add(state.Task{Request: task.Request{Project: "web", Template: "plan"}, Status: state.StatusRunning})
	f.store.AppendLog(tk.ID, "hello")
	resp := follow(t, t.Context(), srv, tk.ID)
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); err != nil || line != "hello\n" {
		t.Fatalf("got %q (%v), want hello", line, err)
	}
	f.h.CloseStreams()
	if _, err := io.ReadAll(br); err == nil {
		t.Error("stream after CloseStreams: got a clean end, want a broken stream")
	}
	testenv.WaitFor(t, "followers to end", 0, func() bool { return f.engine.Followers() == 0 })
	// A follow started after CloseStreams ends at once.
	resp2 := follow(t, t.Context(), srv, tk.ID)
	_, err := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if err == nil {
		t.Error("follow after CloseStreams: got a clean end, want a broken stream")
	}
}
