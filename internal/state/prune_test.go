package state

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/task"
)

// pruneFixture builds, per template, terminal tasks ended one hour apart
// (oldest first) and some non-terminal tasks among them, each with a log
// and outbox entries.
type pruneFixture struct {
	s        *Store
	c        *clock
	terminal map[string][]uint64 // template → ids, oldest first
	active   []uint64
}

func newPruneFixture(t *testing.T, templates []string, terminalPer, activePer int) *pruneFixture {
	t.Helper()
	ctx := context.Background()
	c := newClock()
	s := openTest(t, c)
	fx := &pruneFixture{s: s, c: c, terminal: map[string][]uint64{}}
	var in []Task
	base := c.Now().Add(-time.Duration(terminalPer) * time.Hour)
	for _, tpl := range templates {
		for i := range terminalPer {
			in = append(in, Task{Request: task.Request{Project: "p", Template: tpl}, Status: StatusSuccess, Ended: base.Add(time.Duration(i) * time.Hour)})
			if activePer > 0 && i%(terminalPer/activePer+1) == 0 {
				in = append(in, Task{Request: task.Request{Project: "p", Template: tpl}, Status: StatusRunning})
			}
		}
	}
	in = insertTasks(t, s, in)
	for _, tk := range in {
		if tk.Status.Terminal() {
			fx.terminal[tk.Template] = append(fx.terminal[tk.Template], tk.ID)
		} else {
			fx.active = append(fx.active, tk.ID)
		}
	}
	// Logs and outbox entries for a sample of tasks, through the API.
	for _, tk := range in[:min(len(in), 40)] {
		if err := s.AppendLog(ctx, tk.ID, []LogLine{{Text: "hello"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateTask(ctx, tk.ID, func(t *Task) error { t.Status = StatusStopped; return nil }); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateTask(ctx, tk.ID, func(t *Task) error { t.Status = tk.Status; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	return fx
}

func TestPruneTasks(t *testing.T) {
	templates := []string{"deploy", "lint", "test"}
	tests := []struct {
		name string
		r    Retention
		// keep reports whether the i-th oldest of n terminal tasks stays.
		keep func(i, n int) bool
	}{
		{"keep newest 100", Retention{KeepTasks: 100}, func(i, n int) bool { return i >= n-100 }},
		{"max age 200h", Retention{MaxAge: 200 * time.Hour}, func(i, n int) bool { return n-i <= 200 }},
		{"both axes", Retention{KeepTasks: 300, MaxAge: 100 * time.Hour}, func(i, n int) bool { return i >= n-300 && n-i <= 100 }},
		{"keep more than exist", Retention{KeepTasks: 5000}, func(i, n int) bool { return true }},
		{"disabled", Retention{}, func(i, n int) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			fx := newPruneFixture(t, templates, 1200, 30)
			wantDeleted := 0
			for _, ids := range fx.terminal {
				for i := range ids {
					if !tt.keep(i, len(ids)) {
						wantDeleted++
					}
				}
			}
			deleted, err := fx.s.PruneTasks(ctx, tt.r)
			if err != nil {
				t.Fatal(err)
			}
			if deleted != wantDeleted {
				t.Errorf("deleted %d tasks, want %d", deleted, wantDeleted)
			}
			for tpl, ids := range fx.terminal {
				for i, id := range ids {
					_, err := fx.s.Task(ctx, id)
					kept := err == nil
					if err != nil && !errors.Is(err, ErrNotFound) {
						t.Fatal(err)
					}
					if kept != tt.keep(i, len(ids)) {
						t.Fatalf("%s task %d (%d of %d): kept %v, want %v", tpl, id, i, len(ids), kept, !kept)
					}
					if !kept {
						if _, err := fx.s.ReadLog(ctx, id, 0, 0); !errors.Is(err, ErrNotFound) {
							t.Fatalf("log of pruned task %d: got %v, want ErrNotFound", id, err)
						}
					}
				}
			}
			for _, id := range fx.active {
				if _, err := fx.s.Task(ctx, id); err != nil {
					t.Fatalf("non-terminal task %d: %v", id, err)
				}
			}
			active, _ := fx.s.ActiveTasks(ctx)
			if len(active) != len(fx.active) {
				t.Errorf("ActiveTasks = %d, want %d", len(active), len(fx.active))
			}
			// The indexes agree with the tasks bucket.
			for _, tpl := range templates {
				listed, _ := fx.s.Tasks(ctx, TaskFilter{Project: "p", Template: tpl}, 0, 0)
				for _, tk := range listed {
					if tk.Template != tpl {
						t.Fatalf("task %d of %s listed under %s", tk.ID, tk.Template, tpl)
					}
				}
			}
			// A second run has nothing left to do.
			if again, err := fx.s.PruneTasks(ctx, tt.r); err != nil || again != 0 {
				t.Errorf("second prune deleted %d, %v; want 0", again, err)
			}
		})
	}
}

func TestPruneTasksStopsOnCancel(t *testing.T) {
	fx := newPruneFixture(t, []string{"a"}, 1500, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n, err := fx.s.PruneTasks(ctx, Retention{KeepTasks: 1})
	if err != nil || n != 1499 {
		t.Fatalf("got %d, %v; want 1499 deleted", n, err)
	}

	fx = newPruneFixture(t, []string{"a"}, 1500, 0)
	batches := 0
	fx.s.afterPruneBatch = func() {
		batches++
		cancel()
	}
	n, err = fx.s.PruneTasks(ctx, Retention{KeepTasks: 1})
	if !errors.Is(err, context.Canceled) || n != pruneBatch || batches != 1 {
		t.Errorf("got %d deleted in %d batches, %v; want %d in 1, context.Canceled", n, batches, err, pruneBatch)
	}
	fx.s.afterPruneBatch = nil
	n, err = fx.s.PruneTasks(context.Background(), Retention{KeepTasks: 1})
	if err != nil || n != 1499-pruneBatch {
		t.Errorf("resumed prune: got %d, %v; want %d", n, err, 1499-pruneBatch)
	}
}
