package web

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/link"
	"github.com/semaphored/semaphored/internal/prom"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/state/statetest"
	"github.com/semaphored/semaphored/internal/task"
)

// storeFollower follows logs in a real store the way exec.Engine.FollowLog
// does (read what is stored, then sleep until told that more was
// written), woken by the test's append and update helpers.
type storeFollower struct {
	s       *state.Store
	mu      sync.Mutex
	changed chan struct{}
	calls   chan struct{}
}

func newFollower(s *state.Store) *storeFollower {
	return &storeFollower{s: s, changed: make(chan struct{}), calls: make(chan struct{}, 100)}
}

func (f *storeFollower) wake() {
	f.mu.Lock()
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

func (f *storeFollower) FollowLog(ctx context.Context, id uint64, from uint64, fn func([]state.LogLine) error) error {
	select {
	case f.calls <- struct{}{}:
	default:
	}
	if from == 0 {
		from = 1
	}
	for {
		f.mu.Lock()
		ch := f.changed
		f.mu.Unlock()
		t, err := f.s.Task(ctx, id)
		if err != nil {
			return err
		}
		lines, err := f.s.ReadLog(ctx, id, from, 0)
		if err != nil {
			return err
		}
		if len(lines) > 0 {
			if err := fn(lines); err != nil {
				return err
			}
			from = lines[len(lines)-1].N + 1
		}
		if t.Status.Terminal() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// tokenAuth accepts "Bearer good" for every project and "Bearer other"
// for project "other" only.
type tokenAuth struct{}

func (tokenAuth) Authorize(r *http.Request, project string) (int, error) {
	switch r.Header.Get("Authorization") {
	case "Bearer good":
		return 0, nil
	case "Bearer other":
		if project == "" || project == "other" {
			return 0, nil
		}
		return http.StatusForbidden, errors.New("token other may not read project " + project)
	}
	return http.StatusUnauthorized, errors.New("unknown token")
}

// setTrigger sets what created t and who; the one place in these tests
// that knows the trigger's shape.
func setTrigger(t *state.Task, typ, actor string) {
	t.Trigger.Type, t.Trigger.Actor = task.TriggerType(typ), actor
}

type rig struct {
	store  *state.Store
	follow *storeFollower
	signer *link.Signer
	h      *Handler
	srv    *httptest.Server
	reg    *prom.Registry
}

func newRig(t testing.TB) *rig {
	t.Helper()
	s := statetest.Open(t, "", state.Options{})
	signer, err := link.New([]byte("0123456789abcdef0123456789abcdef"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadFS(mapFS(`project: web
repositories:
  site:
    url: https://github.com/acme/site.git
    forge: {type: github}
templates:
  deploy: {app: ansible, repository: site, playbook: site.yml}
`), config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := newFollower(s)
	reg := prom.NewRegistry()
	h, err := New(Options{Tasks: s, Follower: f, Auth: tokenAuth{}, Links: signer, Config: func() *config.Config { return cfg }, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { h.CloseStreams(); srv.Close() })
	return &rig{store: s, follow: f, signer: signer, h: h, srv: srv, reg: reg}
}

func (r *rig) task(t testing.TB, status state.TaskStatus, lines ...string) state.Task {
	t.Helper()
	ctx := context.Background()
	var nt state.Task
	nt.Project, nt.Template, nt.Status, nt.ExitCode = "web", "deploy", state.StatusWaiting, -1
	nt.Commit, nt.Branch = "6dcb09b5b57875f334f61aebed695e2e4193db5e", "main"
	setTrigger(&nt, "push", "alice")
	tk, err := r.store.CreateTask(ctx, nt)
	if err != nil {
		t.Fatal(err)
	}
	r.appendLines(t, tk.ID, lines...)
	return r.setStatus(t, tk.ID, status)
}

func (r *rig) appendLines(t testing.TB, id uint64, lines ...string) {
	t.Helper()
	for len(lines) > 0 {
		n := min(len(lines), 10000)
		batch := make([]state.LogLine, n)
		for i := range batch {
			batch[i] = state.LogLine{Time: time.Now(), Text: lines[i]}
		}
		if err := r.store.AppendLog(context.Background(), id, batch); err != nil {
			t.Fatal(err)
		}
		lines = lines[n:]
	}
	r.follow.wake()
}

func (r *rig) setStatus(t testing.TB, id uint64, st state.TaskStatus) state.Task {
	t.Helper()
	tk, err := r.store.UpdateTask(context.Background(), id, func(t *state.Task) error {
		if st != state.StatusWaiting && t.Started.IsZero() {
			t.Started = time.Now().Add(-90 * time.Second)
		}
		if st.Terminal() {
			t.Ended, t.ExitCode = time.Now(), 2
			if st == state.StatusFailure {
				t.Message = "exit code 2"
			}
		}
		t.Status = st
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r.follow.wake()
	return tk
}

func (r *rig) link(id uint64) string { return r.signer.URL(r.srv.URL, id, time.Hour) }

func get(t testing.TB, url, auth string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String()
}
