package client_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/semaphored/semaphored/internal/api"
	"github.com/semaphored/semaphored/internal/api/apitest"
	"github.com/semaphored/semaphored/internal/client"
	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
)

const token = "0123456789abcdef0123456789abcdef"

type fixture struct {
	store  *apitest.Store
	engine *apitest.Engine
	srv    *httptest.Server
	c      *client.Client
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	cfg := &config.Config{Projects: map[string]*config.Project{
		"web": {Name: "web", Description: "web tier", Templates: map[string]*config.Template{
			"deploy": {Name: "deploy", App: config.AppAnsible, Repository: "site", AllowOverrides: []config.Override{config.OverrideVars}},
		}},
	}}
	f := &fixture{store: apitest.NewStore()}
	f.engine = &apitest.Engine{Store: f.store}
	h, err := api.New(api.Options{Engine: f.engine, Store: f.store, Config: apitest.NewConfig(cfg), AdminToken: token, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	t.Cleanup(f.engine.Wait)
	f.c = client.New(f.srv.URL+"/", token, f.srv.Client())
	return f
}

func TestProjectsTemplates(t *testing.T) {
	f := newFixture(t)
	ps, err := f.c.Projects(t.Context())
	if err != nil || len(ps) != 1 || ps[0] != (api.Project{Name: "web", Description: "web tier", Templates: 1}) {
		t.Errorf("Projects: got %+v (%v), want web with 1 template", ps, err)
	}
	ts, err := f.c.Templates(t.Context(), "web")
	if err != nil || len(ts) != 1 || ts[0].Name != "deploy" || ts[0].App != config.AppAnsible {
		t.Errorf("Templates: got %+v (%v), want deploy (ansible)", ts, err)
	}
	_, err = f.c.Templates(t.Context(), "nope")
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 404 || !strings.Contains(ce.Message, "nope") {
		t.Errorf("Templates of an unknown project: got %v, want *Error 404 naming it", err)
	}
}

func TestErrors(t *testing.T) {
	f := newFixture(t)
	done := f.store.Add(state.Task{Request: task.Request{Project: "web", Template: "deploy"}, Status: state.StatusSuccess})
	tests := []struct {
		name   string
		call   func(*client.Client) error
		status int
	}{
		{"bad token", func(*client.Client) error {
			_, err := client.New(f.srv.URL, "wrong", nil).Projects(t.Context())
			return err
		}, 401},
		{"stop a finished task", func(c *client.Client) error { _, err := c.Stop(t.Context(), done.ID); return err }, 409},
		{"confirm a finished task", func(c *client.Client) error { _, err := c.Confirm(t.Context(), done.ID); return err }, 409},
		{"reject an unknown task", func(c *client.Client) error { _, err := c.Reject(t.Context(), 999); return err }, 404},
		{"unknown task", func(c *client.Client) error { _, err := c.Task(t.Context(), 999); return err }, 404},
		{"unknown template", func(c *client.Client) error {
			_, err := c.CreateTask(t.Context(), "web", "nope", api.CreateTaskRequest{})
			return err
		}, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(f.c)
			var ce *client.Error
			if !errors.As(err, &ce) || ce.Status != tt.status || ce.Message == "" {
				t.Fatalf("got %v, want *client.Error with status %d and a message", err, tt.status)
			}
			if !strings.Contains(ce.Error(), fmt.Sprint(tt.status)) {
				t.Errorf("Error(): got %q, want the status in it", ce.Error())
			}
		})
	}
}

func TestCreateAndActions(t *testing.T) {
	f := newFixture(t)
	tk, err := f.c.AsCLI().CreateTask(t.Context(), "web", "deploy", api.CreateTaskRequest{Overrides: task.Overrides{Vars: map[string]any{"v": 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if tk.ID == 0 || tk.Trigger != "cli" || tk.Status != state.StatusWaiting {
		t.Errorf("created: got %+v, want an ID, trigger cli, status waiting", tk)
	}
	got, err := f.c.Task(t.Context(), tk.ID)
	if err != nil || got.ID != tk.ID {
		t.Errorf("Task: got %+v (%v)", got, err)
	}
	f.store.Add(state.Task{Request: task.Request{Project: "web", Template: "deploy"}})
	n, err := f.c.StopWaiting(t.Context(), "web", "deploy")
	if err != nil || n != 2 {
		t.Errorf("StopWaiting: got %d (%v), want 2", n, err)
	}
	if _, err := f.c.Stop(t.Context(), tk.ID); err == nil {
		t.Error("Stop of a stopped task: got nil error, want 409")
	}
	wc := f.store.Add(state.Task{Request: task.Request{Project: "web", Template: "deploy"}, Status: state.StatusWaitingConfirmation})
	if got, err := f.c.Confirm(t.Context(), wc.ID); err != nil || got.Status != state.StatusRunning {
		t.Errorf("Confirm: got %s (%v), want running", got.Status, err)
	}
}

func TestTasksPaging(t *testing.T) {
	f := newFixture(t)
	for range 25 {
		f.store.Add(state.Task{Request: task.Request{Project: "web", Template: "deploy"}})
	}
	var ids []uint64
	before := uint64(0)
	for pages := 0; ; pages++ {
		page, next, err := f.c.Tasks(t.Context(), state.TaskFilter{Project: "web", Status: []state.TaskStatus{state.StatusWaiting}}, before, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range page {
			ids = append(ids, tk.ID)
		}
		if next == 0 {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		before = next
	}
	if len(ids) != 25 || ids[0] != 25 || ids[24] != 1 {
		t.Errorf("ids: got %v, want 25 down to 1", ids)
	}
}

func TestLog(t *testing.T) {
	f := newFixture(t)
	tk := f.store.Add(state.Task{Request: task.Request{Project: "web", Template: "deploy"}, Status: state.StatusRunning})
	f.store.AppendLog(tk.ID, "one", "two")
	var b strings.Builder
	if err := f.c.Log(t.Context(), tk.ID, false, &b); err != nil || b.String() != "one\ntwo\n" {
		t.Errorf("Log: got %q (%v), want one, two", b.String(), err)
	}

	// Follow: the engine plays the rest of the task while we read.
	f.engine.Run = nil
	done := make(chan error, 1)
	var fb strings.Builder
	go func() { done <- f.c.Log(t.Context(), tk.ID, true, &fb) }()
	f.store.AppendLog(tk.ID, "three")
	f.store.Finish(tk.ID, state.StatusSuccess, 0)
	if err := <-done; err != nil || fb.String() != "one\ntwo\nthree\n" {
		t.Errorf("Log follow: got %q (%v), want one, two, three", fb.String(), err)
	}
}

// TestLogResumes cuts a followed stream in the middle of a line: the
// client resumes after the last complete line, repeating and losing none.
func TestLogResumes(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			if r.URL.Query().Get("from") != "" {
				t.Errorf("first request: from=%q, want none", r.URL.Query().Get("from"))
			}
			fmt.Fprint(w, "l1\nl2\nl3 cut")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		default:
			if got := r.URL.Query().Get("from"); got != "3" {
				t.Errorf("resume: from=%q, want 3", got)
			}
			fmt.Fprint(w, "l3 whole\nl4\n")
		}
	}))
	defer srv.Close()
	var b strings.Builder
	err := client.New(srv.URL, "t", srv.Client()).Log(t.Context(), 7, true, &b)
	if err != nil || b.String() != "l1\nl2\nl3 whole\nl4\n" {
		t.Errorf("got %q (%v), want l1..l4 once each", b.String(), err)
	}
}

// TestLogRetries resumes a follow across a gateway error and a refused
// connection, and gives up on an answer of the daemon itself.
func TestLogRetries(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			fmt.Fprint(w, "l1\n")
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		case 2:
			http.Error(w, `{"error":"restarting"}`, http.StatusBadGateway)
		default:
			if got := r.URL.Query().Get("from"); got != "2" {
				t.Errorf("resume: from=%q, want 2", got)
			}
			fmt.Fprint(w, "l2\n")
		}
	}))
	defer srv.Close()
	var b strings.Builder
	if err := client.New(srv.URL, "t", srv.Client()).Log(t.Context(), 7, true, &b); err != nil || b.String() != "l1\nl2\n" {
		t.Errorf("got %q (%v), want l1, l2", b.String(), err)
	}

	notFound := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"error":"no such task 7"}`, http.StatusNotFound)
	}))
	defer notFound.Close()
	err := client.New(notFound.URL, "t", nil).Log(t.Context(), 7, true, io.Discard)
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 404 || ce.Message != "no such task 7" {
		t.Errorf("404 while following: got %v, want *Error 404 at once", err)
	}
}
