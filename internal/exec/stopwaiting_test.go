package exec

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/exec/runner"
	"github.com/semaphored/semaphored/internal/gitcache"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
)

// Before Run has recovered, the waiting tasks a previous process left are
// only in the state; StopWaiting stops those too, and Run then starts
// only the others.
func TestStopWaitingBeforeRecovery(t *testing.T) {
	tests := []struct {
		name              string
		project, template string
		stopped           []int // indexes into the tasks below
	}{
		{"whole project", "p", "", []int{0, 1, 2}},
		{"one template", "p", "a", []int{0, 1}},
		{"other project", "q", "", []int{3}},
	}
	tasks := []struct{ project, template string }{{"p", "a"}, {"p", "a"}, {"p", "b"}, {"q", "a"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t.TempDir(), &config.Template{Name: "a"}, &config.Template{Name: "b"})
			st := openStore(t, filepath.Join(t.TempDir(), "state.db"))
			defer st.Close()
			ctx := context.Background()
			var ids []uint64
			for _, k := range tasks {
				task, err := st.CreateTask(ctx, state.Task{Request: task.Request{Project: k.project, Template: k.template, Trigger: task.Trigger{Type: "api"}}, Status: state.StatusWaiting, ExitCode: -1})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, task.ID)
			}
			f := newFakeRunner()
			git := gitcache.New(filepath.Join(t.TempDir(), "git"), gitcache.Options{})
			defer git.Close()
			e := mustEngine(t, Options{Store: st, Config: &fakeConfig{cfg: cfg}, Run: f.run, Checkouts: git, WorkDir: filepath.Join(t.TempDir(), "work")})

			n, err := e.StopWaiting(ctx, tt.project, tt.template)
			if err != nil || n != len(tt.stopped) {
				t.Fatalf("StopWaiting %s/%s: got %d, %v, want %d", tt.project, tt.template, n, err, len(tt.stopped))
			}
			h := &harness{t: t, e: e, store: st}
			h.start()
			defer h.stop()
			var want []uint64
			for i, id := range ids {
				if slices.Contains(tt.stopped, i) {
					task, err := st.Task(ctx, id)
					if err != nil {
						t.Fatal(err)
					}
					if task.Status != state.StatusStopped || task.Message != msgStopped {
						t.Errorf("task %d: got %s %q, want stopped %q", id, task.Status, task.Message, msgStopped)
					}
					continue
				}
				want = append(want, id)
			}
			// The others start; p/a runs one at a time, so end each run.
			var got []uint64
			for range want {
				r := f.next(t)
				id := taskID(t, r)
				got = append(got, id)
				r.end(runner.Success)
				h.wait(id, state.StatusSuccess)
			}
			if !slices.Equal(sorted(got), want) {
				t.Errorf("started tasks: got %v, want %v", sorted(got), want)
			}
			select {
			case r := <-f.started:
				t.Errorf("task %d started after StopWaiting stopped it", taskID(t, r))
			default:
			}
		})
	}
}
