package exec

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/gitcache"
	"github.com/semaphored/semaphored/internal/state"
)

// TestInterruptedSaysWhere leaves tasks in each status past waiting, as
// a killed daemon would, and checks that recovery's message says which
// one the task was in.
func TestInterruptedSaysWhere(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, filepath.Join(dir, "state.db"))
	defer st.Close()
	ctx := context.Background()
	want := map[uint64]string{}
	for _, s := range []state.TaskStatus{state.StatusStarting, state.StatusRunning, state.StatusWaitingConfirmation} {
		var task state.Task
		task.Project, task.Template = "p", "t"
		task, err := st.CreateTask(ctx, task)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.UpdateTask(ctx, task.ID, func(t *state.Task) error { t.Status = s; return nil }); err != nil {
			t.Fatal(err)
		}
		want[task.ID] = "interrupted: the daemon stopped while the task was " + string(s)
	}
	want[2] = msgInterrupted

	git := gitcache.New(filepath.Join(dir, "git"), gitcache.Options{})
	defer git.Close()
	e, err := New(Options{Store: st, Config: &fakeConfig{cfg: testConfig(t.TempDir())}, Secrets: &config.Resolver{},
		WorkDir: filepath.Join(dir, "work"), Checkouts: git})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, e: e, store: st}
	h.start()
	defer h.stop()
	for id, msg := range want {
		if got := h.wait(id, state.StatusInterrupted); got.Message != msg {
			t.Errorf("task %d: got %q, want %q", id, got.Message, msg)
		}
		lines, err := st.ReadLog(ctx, id, 0, 0)
		if err != nil || len(lines) == 0 || lines[len(lines)-1].Text != "*** "+msg+" ***" {
			t.Errorf("task %d: log %v, %v; want it to end with the message", id, lines, err)
		}
	}
}
