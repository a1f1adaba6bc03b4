package exec

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/exec/runner"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
	"github.com/semaphored/semaphored/internal/testenv"
)

// TestSubmitDedupe submits one request twice (a redelivered webhook): the
// real store's dedupe rule gives the existing task back, and it runs once.
func TestSubmitDedupe(t *testing.T) {
	cfg := testConfig(t.TempDir(), &config.Template{Name: "a", Concurrency: 5})
	f := newFakeRunner()
	h := newHarness(t, cfg, withRun(f.run))
	ctx := context.Background()
	req := task.Request{Project: "p", Template: "a", DedupeKey: "github:d-1/p/a",
		Trigger: task.Trigger{Type: task.TriggerPush, Source: "github", DeliveryID: "d-1", Actor: "octo"}}
	first, err := h.e.Submit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if first.DedupeKey != req.DedupeKey || first.Trigger != req.Trigger {
		t.Errorf("stored request: got key %q trigger %+v, want %q %+v", first.DedupeKey, first.Trigger, req.DedupeKey, req.Trigger)
	}
	again, err := h.e.Submit(ctx, req)
	if err != nil {
		t.Fatalf("second Submit with the same key: %v", err)
	}
	if again.ID != first.ID {
		t.Errorf("second Submit: got task %d, want the existing %d", again.ID, first.ID)
	}
	other := req
	other.DedupeKey = "github:d-2/p/a"
	third, err := h.e.Submit(ctx, other)
	if err != nil || third.ID == first.ID {
		t.Fatalf("Submit with another key: got task %d (%v), want a new one", third.ID, err)
	}
	for range 2 {
		f.next(t).end(runner.Success)
	}
	h.wait(first.ID, state.StatusSuccess)
	h.wait(third.ID, state.StatusSuccess)
	select {
	case r := <-f.started:
		t.Fatalf("a third run started (task %d): the duplicate ran", taskID(t, r))
	default:
	}
}

func TestAdopt(t *testing.T) {
	cfg := testConfig(t.TempDir(), &config.Template{Name: "a", Concurrency: 5}, &config.Template{Name: "s", Supersede: true})
	f := newFakeRunner()
	h := newHarness(t, cfg, withRun(f.run))
	ctx := context.Background()
	create := func(tmpl string, st state.TaskStatus) state.Task {
		t.Helper()
		tk, err := h.store.CreateTask(ctx, state.Task{Request: task.Request{Project: "p", Template: tmpl,
			Trigger: task.Trigger{Type: task.TriggerIntegration, Actor: "alerts"}}, Status: st})
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	a1, a2, done := create("a", state.StatusWaiting), create("a", state.StatusWaiting), create("a", state.StatusSuccess)
	if err := h.e.Adopt(a2, a1, done); err != nil {
		t.Fatal(err)
	}
	// Adopting again (a redelivery, a recovery race) changes nothing.
	if err := h.e.Adopt(a1, a2); err != nil {
		t.Fatal(err)
	}
	ids, runs := startedIDs(t, f, 2)
	if got := sorted(ids); got[0] != a1.ID || got[1] != a2.ID {
		t.Fatalf("started %v, want [%d %d]", got, a1.ID, a2.ID)
	}
	for _, r := range runs {
		r.end(runner.Success)
	}
	h.wait(a1.ID, state.StatusSuccess)
	h.wait(a2.ID, state.StatusSuccess)

	// Supersede applies to adopted tasks: the running one goes on, the
	// older waiting one is stopped by the newer.
	running := h.submit("p", "s")
	r := f.next(t)
	s1, s2 := create("s", state.StatusWaiting), create("s", state.StatusWaiting)
	if err := h.e.Adopt(s1); err != nil {
		t.Fatal(err)
	}
	if err := h.e.Adopt(s2); err != nil {
		t.Fatal(err)
	}
	got := h.wait(s1.ID, state.StatusStopped)
	if want := fmt.Sprintf("superseded by task %d", s2.ID); got.Message != want {
		t.Errorf("superseded task: got message %q, want %q", got.Message, want)
	}
	r.end(runner.Success)
	h.wait(running.ID, state.StatusSuccess)
	f.next(t).end(runner.Success)
	h.wait(s2.ID, state.StatusSuccess)
}

// TestShutdownDrains: once Shutdown begins, nothing new is taken or
// starts, running tasks finish within the drain, and those still running
// when it ends are stopped.
func TestShutdownDrains(t *testing.T) {
	cfg := testConfig(t.TempDir(), &config.Template{Name: "a", Concurrency: 2}, &config.Template{Name: "slow"})
	cfg.Settings.MaxParallelTasks = 3
	f := newFakeRunner()
	h := newHarness(t, cfg, withRun(f.run))
	finishing := h.submit("p", "a")
	slow := h.submit("p", "slow")
	runs := map[uint64]*fakeRun{}
	for range 2 {
		r := f.next(t)
		runs[taskID(t, r)] = r
	}
	queued := h.submit("p", "slow") // waits for the slow template's slot

	drainCtx, endDrain := context.WithCancel(context.Background())
	shut := make(chan error, 1)
	go func() { shut <- h.e.Shutdown(drainCtx) }()
	// Submit is refused as soon as the shutdown began.
	testenv.WaitFor(t, "the shutdown to begin", waitFor, h.e.isClosed)
	if _, err := h.e.Submit(context.Background(), h.request("p", "a")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit while draining: got %v, want ErrClosed", err)
	}
	if err := h.e.Adopt(queued); !errors.Is(err, ErrClosed) {
		t.Errorf("Adopt while draining: got %v, want ErrClosed", err)
	}
	// A running task finishes normally during the drain.
	runs[finishing.ID].end(runner.Success)
	if got := h.wait(finishing.ID, state.StatusSuccess); got.Status != state.StatusSuccess {
		t.Fatalf("finishing task: got %s", got.Status)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned (%v) while a task still runs", err)
	default:
	}
	// The drain ends (drain_timeout, or a second signal): the slow task is
	// stopped.
	endDrain()
	select {
	case err := <-shut:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitFor):
		t.Fatal("Shutdown did not return after the drain ended")
	}
	if got := h.wait(slow.ID, state.StatusStopped); got.Message != "daemon shutting down" {
		t.Errorf("slow task: got %s %q, want stopped \"daemon shutting down\"", got.Status, got.Message)
	}
	// The waiting task never started and stays waiting for the next start.
	if got, err := h.store.Task(context.Background(), queued.ID); err != nil || got.Status != state.StatusWaiting {
		t.Errorf("queued task: got %s (%v), want waiting", got.Status, err)
	}
	select {
	case r := <-f.started:
		t.Errorf("task %d started during the shutdown", taskID(t, r))
	default:
	}
}
