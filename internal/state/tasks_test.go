package state

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/semaphored/semaphored/internal/task"
)

func TestCreateTaskDefaults(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := openTestOpts(t, filepath.Join(t.TempDir(), "state.db"), c, Options{Outbox: notifyEach})
	tests := []struct {
		name       string
		in         Task
		wantID     uint64
		wantStatus TaskStatus
		wantTime   time.Time
	}{
		{"defaults", Task{Request: task.Request{Project: "p", Template: "t", Trigger: task.Trigger{Type: "api"}}, ExitCode: 7, LogLines: 9}, 1, StatusWaiting, c.Now()},
		{"given status and time", Task{Request: task.Request{Project: "p", Template: "t"}, Status: StatusStarting, Created: c.Now().Add(-time.Hour)}, 2, StatusStarting, c.Now().Add(-time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustCreate(t, s, tt.in)
			if got.ID != tt.wantID || got.Status != tt.wantStatus || !got.Created.Equal(tt.wantTime) || got.ExitCode != -1 || got.LogLines != 0 {
				t.Errorf("got %+v, want id %d, status %s, created %v, exit -1, no log", got, tt.wantID, tt.wantStatus, tt.wantTime)
			}
			stored, err := s.Task(ctx, got.ID)
			if err != nil {
				t.Fatal(err)
			}
			if stored.ID != got.ID || stored.Status != got.Status || !stored.Created.Equal(got.Created) || stored.Trigger != got.Trigger {
				t.Errorf("stored %+v, want %+v", stored, got)
			}
		})
	}
	if _, err := s.Task(ctx, 99); !errors.Is(err, ErrNotFound) {
		t.Errorf("Task(99): got %v, want ErrNotFound", err)
	}
	// Each creation wrote one status event and one outbox entry.
	events, _ := s.Events(ctx, 0, 0)
	outbox := allOutbox(t, s)
	if len(events) != 2 || len(outbox) != 2 {
		t.Errorf("got %d events and %d outbox entries after 2 creations, want 2 and 2", len(events), len(outbox))
	}
}

func TestUpdateTaskStatusWritesEventAndOutbox(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := openTestOpts(t, filepath.Join(t.TempDir(), "state.db"), c, Options{Outbox: notifyEach})
	tk := mustCreate(t, s, Task{Request: task.Request{Project: "p", Template: "t", Overrides: task.Overrides{Vars: map[string]any{"env": "prod"}}}})
	countAfter := func() (int, int) {
		t.Helper()
		ev, err := s.Events(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		return len(ev), len(allOutbox(t, s))
	}

	// A non-status edit writes neither.
	if _, err := s.UpdateTask(ctx, tk.ID, func(t *Task) error { t.Message = "queued behind 3"; return nil }); err != nil {
		t.Fatal(err)
	}
	if ev, ob := countAfter(); ev != 1 || ob != 1 {
		t.Errorf("after a message edit: %d events, %d outbox entries, want 1 and 1", ev, ob)
	}

	// A status change writes both, in the same transaction.
	c.Add(time.Second)
	got, err := s.UpdateTask(ctx, tk.ID, func(t *Task) error {
		t.Status = StatusRunning
		t.Started = c.Now()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusRunning || got.Message != "queued behind 3" || got.Vars["env"] != "prod" {
		t.Errorf("updated task = %+v", got)
	}
	events, _ := s.Events(ctx, 1, 0)
	outbox := allOutbox(t, s)
	if len(events) != 1 || events[0].Type != EventTaskStatus || events[0].TaskID != tk.ID || events[0].Status != StatusRunning || !events[0].At.Equal(c.Now()) {
		t.Errorf("events after status change = %+v, want one running event", events)
	}
	if len(outbox) != 2 || outbox[1].TaskID != tk.ID || outbox[1].Status != StatusRunning || outbox[1].Attempts != 0 {
		t.Errorf("outbox after status change = %+v, want a second entry for running", outbox)
	}

	// An error from fn aborts and leaves everything as it was.
	boom := errors.New("boom")
	_, err = s.UpdateTask(ctx, tk.ID, func(t *Task) error {
		t.Status = StatusFailure
		t.Vars["env"] = "dev"
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("got %v, want boom", err)
	}
	stored, _ := s.Task(ctx, tk.ID)
	if stored.Status != StatusRunning || stored.Vars["env"] != "prod" {
		t.Errorf("after an aborted update: %+v, want running with env prod", stored)
	}
	if ev, ob := countAfter(); ev != 2 || ob != 2 {
		t.Errorf("after an aborted update: %d events, %d outbox entries, want 2 and 2", ev, ob)
	}

	// fn cannot change the ID or the log counters.
	got, err = s.UpdateTask(ctx, tk.ID, func(t *Task) error { t.ID = 77; t.LogLines = 5; return nil })
	if err != nil || got.ID != tk.ID || got.LogLines != 0 {
		t.Errorf("got %+v, %v; want id %d and no log lines", got, err, tk.ID)
	}

	if _, err := s.UpdateTask(ctx, 12345, func(*Task) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("update of a missing task: got %v, want ErrNotFound", err)
	}
}

// insertTasks stores many tasks in one transaction through the same code
// CreateTask uses, so tests can build 10,000 tasks without 10,000 fsyncs.
func insertTasks(tb testing.TB, s *Store, tasks []Task) []Task {
	tb.Helper()
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketTasks)
		b.FillPercent = 1
		for i := range tasks {
			id, err := b.NextSequence()
			if err != nil {
				return err
			}
			tasks[i].ID = id
			if tasks[i].Status == "" {
				tasks[i].Status = StatusWaiting
			}
			if err := putTask(tx, &tasks[i]); err != nil {
				return err
			}
			if err := putTaskIndexes(tx, &tasks[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return tasks
}

func TestTasksPaging10000(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, nil)
	statuses := []TaskStatus{StatusSuccess, StatusFailure, StatusRunning, StatusWaiting}
	var in []Task
	for i := range 10000 {
		in = append(in, Task{Request: task.Request{Project: fmt.Sprintf("p%d", i%4), Template: fmt.Sprintf("t%d", i%10)}, Status: statuses[i%len(statuses)]})
	}
	in = insertTasks(t, s, in)

	match := func(f TaskFilter, tk Task) bool {
		if f.Project != "" && tk.Project != f.Project || f.Template != "" && tk.Template != f.Template {
			return false
		}
		if len(f.Status) == 0 {
			return true
		}
		for _, st := range f.Status {
			if st == tk.Status {
				return true
			}
		}
		return false
	}
	tests := []struct {
		name  string
		f     TaskFilter
		limit int
	}{
		{"all", TaskFilter{}, 500},
		{"project", TaskFilter{Project: "p1"}, 300},
		{"template", TaskFilter{Project: "p2", Template: "t2"}, 77},
		{"template absent from project", TaskFilter{Project: "p1", Template: "t2"}, 50},
		{"template only", TaskFilter{Template: "t3"}, 100},
		{"status", TaskFilter{Status: []TaskStatus{StatusSuccess}}, 1000},
		{"active statuses", TaskFilter{Status: []TaskStatus{StatusRunning, StatusWaiting}}, 999},
		{"project and status", TaskFilter{Project: "p0", Status: []TaskStatus{StatusSuccess}}, 64},
		{"template and status without project", TaskFilter{Template: "t4", Status: []TaskStatus{StatusSuccess, StatusFailure, StatusSuccess}}, 33},
		{"every status", TaskFilter{Status: []TaskStatus{StatusSuccess, StatusFailure, StatusRunning, StatusWaiting, StatusStopped}}, 2500},
		{"no such project", TaskFilter{Project: "zz"}, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []uint64
			for i := len(in) - 1; i >= 0; i-- {
				if match(tt.f, in[i]) {
					want = append(want, in[i].ID)
				}
			}
			var got []uint64
			var before uint64
			for pages := 0; ; pages++ {
				if pages > len(in) {
					t.Fatal("paging does not end")
				}
				page, err := s.Tasks(ctx, tt.f, before, tt.limit)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > tt.limit {
					t.Fatalf("page of %d, want at most %d", len(page), tt.limit)
				}
				if len(page) == 0 {
					break
				}
				got = append(got, taskIDs(page)...)
				before = page[len(page)-1].ID
			}
			if !equalIDs(got, want) {
				t.Errorf("paged %d tasks, want %d (first got %v, want %v)", len(got), len(want), head(got), head(want))
			}
		})
	}

	all, err := s.Tasks(ctx, TaskFilter{}, 0, 0)
	if err != nil || len(all) != 10000 {
		t.Errorf("Tasks with no limit: %d tasks, %v; want 10000", len(all), err)
	}
	active, err := s.ActiveTasks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 5000 {
		t.Fatalf("ActiveTasks = %d tasks, want 5000", len(active))
	}
	for i := 1; i < len(active); i++ {
		if active[i-1].ID >= active[i].ID || active[i].Status.Terminal() {
			t.Fatalf("ActiveTasks not oldest first or holds a terminal task at %d: %d then %d (%s)", i, active[i-1].ID, active[i].ID, active[i].Status)
		}
	}
}

func head(ids []uint64) []uint64 { return ids[:min(5, len(ids))] }

func TestIndexesFollowStatus(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, nil)
	a := mustCreate(t, s, Task{Request: task.Request{Project: "p", Template: "t"}})
	b := mustCreate(t, s, Task{Request: task.Request{Project: "p", Template: "t"}})
	if _, err := s.UpdateTask(ctx, a.ID, func(t *Task) error { t.Status = StatusSuccess; t.Ended = time.Now(); return nil }); err != nil {
		t.Fatal(err)
	}
	active, _ := s.ActiveTasks(ctx)
	if ids := taskIDs(active); !equalIDs(ids, []uint64{b.ID}) {
		t.Errorf("ActiveTasks = %v, want [%d]", ids, b.ID)
	}
	done, _ := s.Tasks(ctx, TaskFilter{Project: "p", Template: "t", Status: []TaskStatus{StatusSuccess}}, 0, 10)
	if ids := taskIDs(done); !equalIDs(ids, []uint64{a.ID}) {
		t.Errorf("successful tasks = %v, want [%d]", ids, a.ID)
	}
	waiting, _ := s.Tasks(ctx, TaskFilter{Status: []TaskStatus{StatusWaiting}}, 0, 10)
	if ids := taskIDs(waiting); !equalIDs(ids, []uint64{b.ID}) {
		t.Errorf("waiting tasks = %v, want [%d]", ids, b.ID)
	}
	// Moving a task to another template moves its index entries.
	if _, err := s.UpdateTask(ctx, b.ID, func(t *Task) error { t.Template = "u"; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Tasks(ctx, TaskFilter{Project: "p", Template: "t"}, 0, 0); len(got) != 1 {
		t.Errorf("template t holds %d tasks, want 1", len(got))
	}
	if got, _ := s.Tasks(ctx, TaskFilter{Project: "p", Template: "u"}, 0, 0); len(got) != 1 {
		t.Errorf("template u holds %d tasks, want 1", len(got))
	}
}
