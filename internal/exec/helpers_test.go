package exec

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/exec/runner"
	"github.com/semaphored/semaphored/internal/gitcache"
	"github.com/semaphored/semaphored/internal/prom"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
)

// waitFor bounds every wait of the tests.
const waitFor = 30 * time.Second

// fakeConfig is an ActiveConfig tests change under a lock.
type fakeConfig struct {
	mu   sync.Mutex
	cfg  *config.Config
	root string
}

func (f *fakeConfig) Snapshot() config.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return config.Snapshot{Config: f.cfg, Revision: "test", Root: f.root}
}

func (f *fakeConfig) update(fn func(*config.Config)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f.cfg)
}

// testConfig returns a config with project p (and q) whose repository r is
// the plain directory dir, and the given templates of app bash.
func testConfig(dir string, tmpls ...*config.Template) *config.Config {
	cfg := &config.Config{
		Settings: config.Settings{MaxParallelTasks: 10, StopGracePeriod: config.Duration(2 * time.Second)},
		Projects: map[string]*config.Project{},
	}
	for _, name := range []string{"p", "q"} {
		cfg.Projects[name] = &config.Project{
			Name:         name,
			Repositories: map[string]*config.Repository{"r": {Name: "r", URL: dir, Branch: "main"}},
			Templates:    map[string]*config.Template{},
			Environments: map[string]*config.Environment{},
			Keys:         map[string]*config.Key{},
			Inventories:  map[string]*config.Inventory{},
		}
	}
	for _, t := range tmpls {
		cp := *t
		if cp.App == "" {
			cp.App = config.AppBash
		}
		if cp.Repository == "" {
			cp.Repository = "r"
		}
		if cp.Script == "" {
			cp.Script = "job.sh"
		}
		cfg.Projects["p"].Templates[cp.Name] = &cp
		cp2 := cp
		cfg.Projects["q"].Templates[cp.Name] = &cp2
	}
	return cfg
}

// scriptDir returns a plain directory with job.sh holding script.
func scriptDir(t testing.TB, script string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "job.sh"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// fakeRun is one call of the controllable run function.
type fakeRun struct {
	ctx    context.Context
	spec   runner.Spec
	sink   runner.Sink
	hooks  runner.Hooks
	result chan runner.Result
	id     string // the task ID, from the task directory
}

// fakeRunner hands each run to the test on started; the run ends when the
// test sends its result, or stopped when its ctx ends.
type fakeRunner struct {
	started chan *fakeRun
}

func newFakeRunner() *fakeRunner { return &fakeRunner{started: make(chan *fakeRun, 1000)} }

func (f *fakeRunner) run(ctx context.Context, spec runner.Spec, sink runner.Sink, hooks runner.Hooks) runner.Result {
	r := &fakeRun{ctx: ctx, spec: spec, sink: sink, hooks: hooks, result: make(chan runner.Result, 1),
		id: filepath.Base(filepath.Dir(spec.RepoDir))}
	f.started <- r
	select {
	case res := <-r.result:
		return res
	case <-ctx.Done():
		return runner.Result{Status: runner.Stopped, ExitCode: -1, Message: "stopped"}
	}
}

// next returns the next run started, failing after waitFor.
func (f *fakeRunner) next(t testing.TB) *fakeRun {
	t.Helper()
	select {
	case r := <-f.started:
		return r
	case <-time.After(waitFor):
		t.Fatal("no run started")
		return nil
	}
}

// expectActive checks that exactly n tasks are past waiting. The
// scheduler decides synchronously under its lock, so a start that the
// limits allow is already visible here.
func (h *harness) expectActive(t testing.TB, n int) {
	t.Helper()
	h.e.mu.Lock()
	got := len(h.e.active)
	h.e.mu.Unlock()
	if got != n {
		t.Fatalf("got %d tasks past waiting, want %d", got, n)
	}
}

func (r *fakeRun) end(s runner.Status) { r.result <- runner.Result{Status: s, ExitCode: 0} }

type harness struct {
	t      testing.TB
	e      *Engine
	store  *state.Store
	cfg    *fakeConfig
	reg    *prom.Registry
	work   string
	cancel context.CancelFunc
	done   chan error
}

type harnessOpt func(*Options)

func withRun(f RunFunc) harnessOpt { return func(o *Options) { o.Run = f } }

func openStore(t testing.TB, path string) *state.Store {
	t.Helper()
	s, err := state.Open(path, state.Options{})
	if err != nil {
		t.Fatalf("open state: %v", err)
	}
	return s
}

// newHarness opens a real state file, starts an engine on cfg and stops
// it at cleanup.
func newHarness(t testing.TB, cfg *config.Config, opts ...harnessOpt) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{t: t, cfg: &fakeConfig{cfg: cfg}, reg: prom.NewRegistry(), work: filepath.Join(dir, "work")}
	h.store = openStore(t, filepath.Join(dir, "state.db"))
	git := gitcache.New(filepath.Join(dir, "git"), gitcache.Options{})
	o := Options{
		Store: h.store, Config: h.cfg, Secrets: &config.Resolver{},
		Checkouts: git,
		WorkDir:   h.work, Registerer: h.reg,
	}
	for _, f := range opts {
		f(&o)
	}
	e, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	h.e = e
	h.start()
	t.Cleanup(func() {
		h.stop()
		if err := git.Close(); err != nil {
			t.Errorf("close git cache: %v", err)
		}
		if err := h.store.Close(); err != nil {
			t.Errorf("close state: %v", err)
		}
	})
	return h
}

func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.e.Run(ctx) }()
	select {
	case <-h.e.ready:
	case err := <-h.done:
		h.t.Fatalf("Run: %v", err)
	case <-time.After(waitFor):
		h.t.Fatal("engine did not recover in time")
	}
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run: %v", err)
		}
	case <-time.After(waitFor):
		h.t.Error("Run did not return after cancel")
	}
	h.cancel = nil
}

func (h *harness) submit(project, tmpl string) state.Task {
	h.t.Helper()
	t, err := h.e.Submit(context.Background(), task.Request{Project: project, Template: tmpl, Trigger: task.Trigger{Type: "api"}})
	if err != nil {
		h.t.Fatalf("submit %s/%s: %v", project, tmpl, err)
	}
	return t
}

// wait returns the task once its status is one of want, sleeping on the
// engine's notifications (no polling).
func (h *harness) wait(id uint64, want ...state.TaskStatus) state.Task {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	for {
		ch, release := h.e.follow.Watch(id)
		task, err := h.store.Task(ctx, id)
		if err != nil {
			release()
			h.t.Fatalf("task %d: %v", id, err)
		}
		for _, w := range want {
			if task.Status == w {
				release()
				return task
			}
		}
		select {
		case <-ch:
			release()
		case <-ctx.Done():
			release()
			h.t.Fatalf("task %d: status %s (%s), want %v", id, task.Status, task.Message, want)
		}
	}
}

func (h *harness) lines(id uint64) []string {
	h.t.Helper()
	var out []string
	from := uint64(1)
	for {
		ls, err := h.store.ReadLog(context.Background(), id, from, 10000)
		if err != nil {
			h.t.Fatalf("read log %d: %v", id, err)
		}
		if len(ls) == 0 {
			return out
		}
		for _, l := range ls {
			out = append(out, l.Text)
		}
		from = ls[len(ls)-1].N + 1
	}
}

func taskID(t testing.TB, r *fakeRun) uint64 {
	t.Helper()
	var id uint64
	if _, err := fmt.Sscan(r.id, &id); err != nil {
		t.Fatalf("task id of run dir %q: %v", r.id, err)
	}
	return id
}

// failingStore fails AppendLog once fail is set.
type failingStore struct {
	Store
	mu   sync.Mutex
	fail error
}

func (s *failingStore) AppendLog(ctx context.Context, id uint64, lines []state.LogLine) error {
	s.mu.Lock()
	err := s.fail
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return s.Store.AppendLog(ctx, id, lines)
}

var errDiskFull = errors.New("disk full (injected)")

func contains(lines []string, s string) bool {
	for _, l := range lines {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

func itoa(n uint64) string { return fmt.Sprint(n) }

func containsStr(s, sub string) bool { return strings.Contains(s, sub) }

func sorted(ids []uint64) []uint64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// request is a request for a task of project/tmpl from the API.
func (h *harness) request(project, tmpl string) task.Request {
	return task.Request{Project: project, Template: tmpl, Trigger: task.Trigger{Type: task.TriggerAPI}}
}

// mustEngine returns New(o) or fails the test. A missing Config is an
// empty one.
func mustEngine(t testing.TB, o Options) *Engine {
	t.Helper()
	if o.Config == nil {
		o.Config = &fakeConfig{}
	}
	e, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
