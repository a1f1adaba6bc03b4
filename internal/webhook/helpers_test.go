package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/forge"
	"github.com/semaphored/semaphored/internal/gitcache"
	"github.com/semaphored/semaphored/internal/prom"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/state/statetest"
	"github.com/semaphored/semaphored/internal/testenv"
	"github.com/semaphored/semaphored/internal/trigger"
)

const fixtures = "/work/shared/fixtures/webhooks"

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		b, err = os.ReadFile(filepath.Join("../forge/testdata", filepath.Base(name)))
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// snapshots serves one config.
type snapshots struct {
	mu  sync.Mutex
	cfg *config.Config
}

func (s *snapshots) Snapshot() trigger.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	return trigger.Snapshot{Config: s.cfg, Revision: "r1"}
}

// realStore is a real BoltDB state in a temporary directory, with the
// lookups the tests make.
type realStore struct {
	*state.Store
	t testing.TB
}

// openStore opens the state at path (a new temporary file when empty),
// closed when the test ends unless the test closes it first.
func openStore(t testing.TB, path string) *realStore {
	t.Helper()
	return &realStore{Store: statetest.Open(t, path, state.Options{}), t: t}
}

// allTasks lists every task, by id.
func (s *realStore) allTasks() []state.Task {
	s.t.Helper()
	ts, err := s.Tasks(context.Background(), state.TaskFilter{}, 0, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	slices.SortFunc(ts, func(a, b state.Task) int { return int(a.ID) - int(b.ID) })
	return ts
}

// setStatus sets a task's status, as the engine would.
func (s *realStore) setStatus(id uint64, st state.TaskStatus) {
	s.t.Helper()
	if _, err := s.UpdateTask(context.Background(), id, func(t *state.Task) error { t.Status = st; return nil }); err != nil {
		s.t.Fatal(err)
	}
}

// has reports whether a delivery is recorded.
func (s *realStore) has(source, id string) bool {
	s.t.Helper()
	_, _, err := s.Delivery(context.Background(), source, id)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		s.t.Fatal(err)
	}
	return err == nil
}

// engine records what the receiver asks of the engine and marks stopped
// tasks in the store, as the engine does.
type engine struct {
	store   *realStore
	mu      sync.Mutex
	adopted []uint64
	stopped []uint64
}

func (e *engine) Adopt(ts ...trigger.Task) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, t := range ts {
		if !slices.Contains(e.adopted, t.ID) {
			e.adopted = append(e.adopted, t.ID)
		}
	}
	return nil
}

func (e *engine) Stop(_ context.Context, id uint64) (trigger.Task, error) {
	e.mu.Lock()
	e.stopped = append(e.stopped, id)
	e.mu.Unlock()
	e.store.setStatus(id, state.StatusStopped)
	return trigger.Task{ID: id}, nil
}

func (e *engine) snapshot() (adopted, stopped []uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]uint64(nil), e.adopted...), append([]uint64(nil), e.stopped...)
}

type kicker struct{ n int }

func (k *kicker) Kick() { k.n++ }

type harness struct {
	t      *testing.T
	store  *realStore
	engine *engine
	kick   *kicker
	recv   *Receiver
	srv    *httptest.Server
	reg    *prom.Registry
}

// secrets are the env values of the test configs' secret references.
var secrets = map[string]string{
	"GH_SECRET": "gh-s3cret", "GL_SECRET": "gl-t0ken", "GT_SECRET": "gt-s3cret",
	"CONFIG_SECRET": "cfg-s3cret", "ALERT_TOKEN": "alert-t0ken", "HMAC_KEY": "hmac-k3y",
}

func resolver() *config.Resolver {
	return &config.Resolver{LookupEnv: func(k string) (string, bool) { v, ok := secrets[k]; return v, ok }}
}

// loadConfig writes files into a new tree and loads it.
func loadConfig(t testing.TB, files map[string]string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(dir, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newHarness(t *testing.T, cfg *config.Config, store *realStore) *harness {
	t.Helper()
	if store == nil {
		store = openStore(t, "")
	}
	h := &harness{t: t, store: store, engine: &engine{store: store}, kick: &kicker{}, reg: prom.NewRegistry()}
	var err error
	h.recv, err = New(Options{
		Store: store, Engine: h.engine, Snapshots: &snapshots{cfg: cfg}, Sync: h.kick,
		Differ:  gitcache.New(t.TempDir(), gitcache.Options{Timeout: time.Minute}),
		Secrets: resolver(), Registerer: h.reg, DiffRetry: time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.srv = httptest.NewServer(h.recv.Handler())
	t.Cleanup(h.srv.Close)
	return h
}

// run starts the intake worker until the test ends.
func (h *harness) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.recv.Run(ctx); close(done) }()
	h.t.Cleanup(func() { cancel(); <-done })
}

type response struct {
	code   int
	answer Answer
}

func (h *harness) post(path string, hdr http.Header, body []byte) response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var a Answer
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &a); err != nil {
		h.t.Fatalf("answer %d is not JSON: %q", resp.StatusCode, b)
	}
	return response{resp.StatusCode, a}
}

// github signs body as GitHub does.
func github(event, delivery, secret string, body []byte) http.Header {
	h := http.Header{}
	h.Set("X-GitHub-Event", event)
	h.Set("X-GitHub-Delivery", delivery)
	h.Set("X-Hub-Signature-256", "sha256="+forge.Sign([]byte(secret), body))
	return h
}

func gitlab(event, uuid, token string) http.Header {
	h := http.Header{}
	h.Set("X-Gitlab-Event", event)
	h.Set("X-Gitlab-Event-UUID", uuid)
	h.Set("X-Gitlab-Token", token)
	return h
}

func gitea(event, delivery, secret string, body []byte) http.Header {
	h := http.Header{}
	h.Set("X-Gitea-Event", event)
	h.Set("X-Gitea-Delivery", delivery)
	h.Set("X-Gitea-Signature", forge.Sign([]byte(secret), body))
	return h
}

// waitFor polls cond until it holds, for up to 20s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, what, 20*time.Second, cond)
}
