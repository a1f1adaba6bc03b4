package exec

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/exec/runner"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
)

// startedIDs receives n runs and returns their task IDs in start order.
func startedIDs(t *testing.T, f *fakeRunner, n int) ([]uint64, []*fakeRun) {
	t.Helper()
	var ids []uint64
	var runs []*fakeRun
	for range n {
		r := f.next(t)
		ids = append(ids, taskID(t, r))
		runs = append(runs, r)
	}
	return ids, runs
}

func TestLimits(t *testing.T) {
	tests := []struct {
		name     string
		global   int
		projMax  int
		conc     int
		submit   []string // project of each submission (template a)
		startNow int      // runs that start at once
	}{
		{name: "global limit", global: 2, conc: 10, submit: []string{"p", "p", "q", "q"}, startNow: 2},
		{name: "project limit", global: 10, projMax: 1, conc: 10, submit: []string{"p", "p", "p"}, startNow: 1},
		{name: "template concurrency 1", global: 10, conc: 1, submit: []string{"p", "p", "p"}, startNow: 1},
		{name: "template concurrency N", global: 10, conc: 3, submit: []string{"p", "p", "p", "p", "p"}, startNow: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t.TempDir(), &config.Template{Name: "a", Concurrency: tc.conc})
			cfg.Settings.MaxParallelTasks = tc.global
			cfg.Projects["p"].MaxParallelTasks = tc.projMax
			cfg.Projects["q"].MaxParallelTasks = tc.projMax
			f := newFakeRunner()
			h := newHarness(t, cfg, withRun(f.run))
			var want []uint64
			for _, p := range tc.submit {
				want = append(want, h.submit(p, "a").ID)
			}
			ids, runs := startedIDs(t, f, tc.startNow)
			h.expectActive(t, tc.startNow)
			// Runs started together reach the runner in any order; the
			// set must be the oldest tasks.
			if got := sorted(ids); !slices.Equal(got, want[:tc.startNow]) {
				t.Errorf("started %v, want %v (the oldest)", got, want[:tc.startNow])
			}
			// Each end frees one slot and the next task starts at once.
			for i := tc.startNow; i < len(want); i++ {
				runs[0].end(runner.Success)
				h.wait(taskID(t, runs[0]), state.StatusSuccess)
				runs = runs[1:]
				r := f.next(t)
				if got := taskID(t, r); got != want[i] {
					t.Errorf("after a slot freed: got task %d, want %d", got, want[i])
				}
				runs = append(runs, r)
			}
			for _, r := range runs {
				r.end(runner.Success)
			}
			for _, id := range want {
				if got := h.wait(id, state.StatusSuccess, state.StatusFailure, state.StatusError); got.Status != state.StatusSuccess {
					t.Errorf("task %d: got %s (%s), want success", id, got.Status, got.Message)
				}
			}
		})
	}
}

func TestNoHeadOfLineBlocking(t *testing.T) {
	cfg := testConfig(t.TempDir(), &config.Template{Name: "a", Concurrency: 1}, &config.Template{Name: "b", Concurrency: 1})
	cfg.Settings.MaxParallelTasks = 4
	f := newFakeRunner()
	h := newHarness(t, cfg, withRun(f.run))
	a1 := h.submit("p", "a")
	a2 := h.submit("p", "a")
	a3 := h.submit("p", "a")
	b1 := h.submit("p", "b")
	ids, runs := startedIDs(t, f, 2)
	if runs[0].id != itoa(a1.ID) {
		runs[0], runs[1] = runs[1], runs[0]
	}
	if ids = sorted(ids); ids[0] != a1.ID || ids[1] != b1.ID {
		t.Fatalf("started %v, want [%d %d]: b must not wait behind a's queue", ids, a1.ID, b1.ID)
	}
	h.expectActive(t, 2)
	runs[0].end(runner.Success)
	if got := taskID(t, f.next(t)); got != a2.ID {
		t.Errorf("after a1: got task %d, want %d", got, a2.ID)
	}
	if w := h.wait(a3.ID, state.StatusWaiting); w.Status != state.StatusWaiting {
		t.Errorf("a3: got %s, want waiting", w.Status)
	}
}

func TestWakeRaisesLimits(t *testing.T) {
	cfg := testConfig(t.TempDir(), &config.Template{Name: "a", Concurrency: 10})
	cfg.Settings.MaxParallelTasks = 1
	f := newFakeRunner()
	h := newHarness(t, cfg, withRun(f.run))
	h.submit("p", "a")
	h.submit("p", "a")
	h.submit("p", "a")
	f.next(t)
	h.expectActive(t, 1)
	h.cfg.update(func(c *config.Config) { c.Settings.MaxParallelTasks = 3 })
	h.e.Wake()
	f.next(t)
	f.next(t)
}

func TestSupersede(t *testing.T) {
	cfg := testConfig(t.TempDir(), &config.Template{Name: "a", Concurrency: 1, Supersede: true})
	f := newFakeRunner()
	h := newHarness(t, cfg, withRun(f.run))
	t1 := h.submit("p", "a")
	r1 := f.next(t)
	t2 := h.submit("p", "a")
	t3 := h.submit("p", "a")
	t4 := h.submit("p", "a")
	for _, c := range [][2]uint64{{t2.ID, t3.ID}, {t3.ID, t4.ID}} {
		got := h.wait(c[0], state.StatusStopped)
		if want := "superseded by task " + itoa(c[1]); got.Message != want {
			t.Errorf("task %d: got message %q, want %q", c[0], got.Message, want)
		}
	}
	if got := h.wait(t1.ID, state.StatusRunning); got.Status != state.StatusRunning {
		t.Errorf("running task: got %s, want running (supersede only stops waiting tasks)", got.Status)
	}
	r1.end(runner.Success)
	if got := taskID(t, f.next(t)); got != t4.ID {
		t.Errorf("next run: got task %d, want %d", got, t4.ID)
	}
}

func TestStop(t *testing.T) {
	cfg := testConfig(t.TempDir(), &config.Template{Name: "a", Concurrency: 1},
		&config.Template{Name: "plan", App: config.AppTofu, Directory: ".", Concurrency: 1})
	f := newFakeRunner()
	h := newHarness(t, cfg, withRun(f.run))
	ctx := context.Background()

	running := h.submit("p", "a")
	r := f.next(t)
	waiting := h.submit("p", "a")

	t.Run("waiting", func(t *testing.T) {
		got, err := h.e.Stop(ctx, waiting.ID)
		if err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if got.Status != state.StatusStopped || got.Message != msgStopped {
			t.Errorf("got %s %q, want stopped %q", got.Status, got.Message, msgStopped)
		}
	})
	t.Run("running", func(t *testing.T) {
		r.sink.WriteLine(h.e.now(), "working")
		got, err := h.e.Stop(ctx, running.ID)
		if err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if got.Status != state.StatusStopped || got.Message != msgStopped {
			t.Errorf("got %s %q, want stopped %q", got.Status, got.Message, msgStopped)
		}
		if lines := h.lines(running.ID); !contains(lines, "working") || !contains(lines, "task stopped") {
			t.Errorf("log %q: want the run's line and the stop line", lines)
		}
	})
	t.Run("terminal", func(t *testing.T) {
		if _, err := h.e.Stop(ctx, running.ID); !errors.Is(err, ErrNotStoppable) {
			t.Errorf("got %v, want ErrNotStoppable", err)
		}
	})
	t.Run("waiting_confirmation", func(t *testing.T) {
		task := h.submit("p", "plan")
		r := f.next(t)
		approved := make(chan bool, 1)
		go func() {
			ok, _ := r.hooks.AwaitApproval(r.ctx)
			approved <- ok
			<-r.ctx.Done()
		}()
		h.wait(task.ID, state.StatusWaitingConfirmation)
		got, err := h.e.Stop(ctx, task.ID)
		if err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if got.Status != state.StatusStopped {
			t.Errorf("got %s, want stopped", got.Status)
		}
		if <-approved {
			t.Error("AwaitApproval: got approved after a stop")
		}
	})
	t.Run("unknown", func(t *testing.T) {
		if _, err := h.e.Stop(ctx, 9999); !errors.Is(err, state.ErrNotFound) {
			t.Errorf("got %v, want ErrNotFound", err)
		}
	})
}

func TestStopWaiting(t *testing.T) {
	cfg := testConfig(t.TempDir(), &config.Template{Name: "a", Concurrency: 1}, &config.Template{Name: "b", Concurrency: 1})
	f := newFakeRunner()
	h := newHarness(t, cfg, withRun(f.run))
	a1 := h.submit("p", "a")
	f.next(t)
	b1 := h.submit("p", "b")
	f.next(t)
	var aw, bw []uint64
	for range 3 {
		aw = append(aw, h.submit("p", "a").ID)
		bw = append(bw, h.submit("p", "b").ID)
	}
	q := h.submit("q", "a")
	f.next(t)
	n, err := h.e.StopWaiting(context.Background(), "p", "a")
	if err != nil || n != 3 {
		t.Fatalf("StopWaiting p/a: got %d, %v, want 3", n, err)
	}
	for _, id := range aw {
		h.wait(id, state.StatusStopped)
	}
	for _, id := range append(bw, a1.ID, b1.ID, q.ID) {
		if got, _ := h.store.Task(context.Background(), id); got.Status == state.StatusStopped {
			t.Errorf("task %d: got stopped, want untouched", id)
		}
	}
	n, err = h.e.StopWaiting(context.Background(), "p", "")
	if err != nil || n != 3 {
		t.Fatalf("StopWaiting p: got %d, %v, want 3", n, err)
	}
	for _, id := range bw {
		h.wait(id, state.StatusStopped)
	}
}

func TestApproval(t *testing.T) {
	cfg := testConfig(t.TempDir(),
		&config.Template{Name: "plan", App: config.AppTofu, Directory: ".", Concurrency: 1},
		&config.Template{Name: "other", Concurrency: 1})
	cfg.Settings.MaxParallelTasks = 1
	ctx := context.Background()

	for _, confirm := range []bool{true, false} {
		name := map[bool]string{true: "confirm", false: "reject"}[confirm]
		t.Run(name, func(t *testing.T) {
			f := newFakeRunner()
			h := newHarness(t, cfg, withRun(f.run))
			plan := h.submit("p", "plan")
			r := f.next(t)
			next := h.submit("p", "plan") // same template: must not overtake
			other := h.submit("p", "other")
			approved := make(chan bool, 1)
			go func() {
				ok, _ := r.hooks.AwaitApproval(r.ctx)
				approved <- ok
			}()
			h.wait(plan.ID, state.StatusWaitingConfirmation)
			// The global slot was given back: other runs; next does not.
			ro := f.next(t)
			if got := taskID(t, ro); got != other.ID {
				t.Fatalf("started task %d, want %d (other template)", got, other.ID)
			}
			h.expectActive(t, 2)
			if _, err := h.e.Confirm(ctx, other.ID); !errors.Is(err, ErrNotAwaitingApproval) {
				t.Errorf("Confirm of a running task: got %v, want ErrNotAwaitingApproval", err)
			}
			if confirm {
				// The only global slot is busy: the plan waits for it.
				got, err := h.e.Confirm(ctx, plan.ID)
				if err != nil {
					t.Fatalf("Confirm: %v", err)
				}
				if got.Status != state.StatusWaitingConfirmation {
					t.Errorf("Confirm with no free slot: got %s, want waiting_confirmation", got.Status)
				}
				ro.end(runner.Success)
				if !<-approved {
					t.Fatal("AwaitApproval: got rejected, want approved")
				}
				h.wait(plan.ID, state.StatusRunning)
				h.expectActive(t, 1)
				r.end(runner.Success)
				h.wait(plan.ID, state.StatusSuccess)
			} else {
				got, err := h.e.Reject(ctx, plan.ID)
				if err != nil {
					t.Fatalf("Reject: %v", err)
				}
				if got.Status != state.StatusStopped || got.Message != "plan rejected" {
					t.Errorf("Reject: got %s %q, want stopped \"plan rejected\"", got.Status, got.Message)
				}
				ro.end(runner.Success)
			}
			if got := taskID(t, f.next(t)); got != next.ID {
				t.Errorf("after the plan: got task %d, want %d", got, next.ID)
			}
		})
	}
}

func TestSubmitValidation(t *testing.T) {
	cfg := testConfig(t.TempDir(),
		&config.Template{Name: "strict"},
		&config.Template{Name: "open", AllowOverrides: []config.Override{
			config.OverrideVars, config.OverrideCommit, config.OverrideBranch, config.OverrideArguments,
			config.OverrideLimit, config.OverrideTags, config.OverrideSkipTags, config.OverrideDryRun, config.OverrideWorkspace}})
	f := newFakeRunner()
	h := newHarness(t, cfg, withRun(f.run))
	tests := []struct {
		name    string
		req     task.Request
		wantErr error
		msg     string
	}{
		{"unknown project", task.Request{Project: "x", Template: "strict"}, ErrUnknownTemplate, ""},
		{"unknown template", task.Request{Project: "p", Template: "x"}, ErrUnknownTemplate, ""},
		{"vars", task.Request{Project: "p", Template: "strict", Overrides: task.Overrides{Vars: map[string]any{"a": 1}}}, ErrBadRequest, "vars not allowed by template strict"},
		{"commit from api", task.Request{Project: "p", Template: "strict", Trigger: task.Trigger{Type: "api"}, Overrides: task.Overrides{Commit: "abc"}}, ErrBadRequest, "commit not allowed by template strict"},
		{"branch from cli", task.Request{Project: "p", Template: "strict", Trigger: task.Trigger{Type: "cli"}, Overrides: task.Overrides{Branch: "dev"}}, ErrBadRequest, "branch not allowed"},
		{"commit from push", task.Request{Project: "p", Template: "strict", Trigger: task.Trigger{Type: "push"}, Overrides: task.Overrides{Commit: "abc", Branch: "main"}}, nil, ""},
		{"arguments", task.Request{Project: "p", Template: "strict", Overrides: task.Overrides{Arguments: []string{"-v"}}}, ErrBadRequest, "arguments not allowed"},
		{"limit", task.Request{Project: "p", Template: "strict", Overrides: task.Overrides{Limit: "web"}}, ErrBadRequest, "limit not allowed"},
		{"tags", task.Request{Project: "p", Template: "strict", Overrides: task.Overrides{Tags: []string{"x"}}}, ErrBadRequest, "tags not allowed"},
		{"skip tags", task.Request{Project: "p", Template: "strict", Overrides: task.Overrides{SkipTags: []string{"x"}}}, ErrBadRequest, "skip_tags not allowed"},
		{"workspace", task.Request{Project: "p", Template: "strict", Overrides: task.Overrides{Workspace: "w"}}, ErrBadRequest, "workspace not allowed"},
		{"dry run", task.Request{Project: "p", Template: "strict", Overrides: task.Overrides{DryRun: true}}, ErrBadRequest, "dry_run not allowed"},
		{"vars not JSON", task.Request{Project: "p", Template: "open", Overrides: task.Overrides{Vars: map[string]any{"f": func() {}}}}, ErrBadRequest, "not a JSON object"},
		{"all allowed", task.Request{Project: "p", Template: "open", Trigger: task.Trigger{Type: "api"}, Overrides: task.Overrides{Commit: "abc", Branch: "dev", Vars: map[string]any{"a": map[string]any{"b": 1}}, Arguments: []string{"-v"}, Limit: "web", Tags: []string{"t"}, SkipTags: []string{"s"}, Workspace: "w", DryRun: true}}, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			task, err := h.e.Submit(context.Background(), tc.req)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				if task.ID == 0 || task.Status != state.StatusWaiting {
					t.Errorf("got task %d %s, want a stored waiting task", task.ID, task.Status)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			}
			if tc.msg != "" && !containsStr(err.Error(), tc.msg) {
				t.Errorf("got %q, want it to say %q", err, tc.msg)
			}
		})
	}
}
