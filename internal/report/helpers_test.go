package report

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
)

// testStore is a real BoltDB state in a test directory, with the helpers
// the tests drive tasks through. Its Outbox option is the reporter's
// OutboxFunc, as main sets it.
type testStore struct {
	*state.Store
	t testing.TB
}

func openStore(t testing.TB, dir string, fn state.OutboxFunc) *testStore {
	t.Helper()
	s, err := state.Open(filepath.Join(dir, "state.db"), state.Options{Outbox: fn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &testStore{Store: s, t: t}
}

func (s *testStore) create(tk state.Task) state.Task {
	s.t.Helper()
	tk, err := s.CreateTask(context.Background(), tk)
	if err != nil {
		s.t.Fatal(err)
	}
	return tk
}

func (s *testStore) set(id uint64, fn func(*state.Task)) state.Task {
	s.t.Helper()
	tk, err := s.UpdateTask(context.Background(), id, func(t *state.Task) error { fn(t); return nil })
	if err != nil {
		s.t.Fatal(err)
	}
	return tk
}

func (s *testStore) appendLog(id uint64, texts ...string) {
	s.t.Helper()
	lines := make([]state.LogLine, len(texts))
	for i, x := range texts {
		lines[i] = state.LogLine{Time: time.Now(), Text: x}
	}
	if err := s.AppendLog(context.Background(), id, lines); err != nil {
		s.t.Fatal(err)
	}
}

func (s *testStore) pending() int {
	s.t.Helper()
	n, err := s.PendingOutbox(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	return n
}

func (s *testStore) failedEntries() []OutboxEntry {
	s.t.Helper()
	f, err := s.FailedOutbox(context.Background(), 0)
	if err != nil {
		s.t.Fatal(err)
	}
	return f
}

// waiting lists the entries waiting for delivery, due or not.
func (s *testStore) waiting() []OutboxEntry {
	s.t.Helper()
	w, err := s.DueOutbox(context.Background(), farFuture, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	return w
}

// newTask builds a task by assignment (it survives state.Task embedding
// task.Request).
func newTask(project, template, commit string, status state.TaskStatus) state.Task {
	var t state.Task
	t.Project, t.Template, t.Commit, t.Status, t.ExitCode = project, template, commit, status, -1
	return t
}

// setTrigger sets what created t ("push", "pull_request", ...); the one
// place that knows the trigger's shape.
func setTrigger(t *state.Task, typ string) { t.Trigger.Type = task.TriggerType(typ) }

// lifecycle drives a new task of web/deploy at commit through queued,
// running (with an ansible recap in its log) and end; it returns its id.
func lifecycle(s *testStore, commit string, end state.TaskStatus) uint64 {
	nt := newTask("web", "deploy", commit, state.StatusWaiting)
	setTrigger(&nt, "push")
	tk := s.create(nt)
	s.set(tk.ID, func(t *state.Task) { t.Status, t.Started = state.StatusStarting, time.Now() })
	s.set(tk.ID, func(t *state.Task) { t.Status = state.StatusRunning })
	s.appendLog(tk.ID, "PLAY RECAP ***", "web1 : ok=3 changed=1 unreachable=0 failed=0 skipped=0")
	s.set(tk.ID, func(t *state.Task) { t.Status, t.Ended, t.ExitCode = end, t.Started.Add(2*time.Second), 0 })
	return tk.ID
}
