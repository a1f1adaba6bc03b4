package statetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/state"
)

var taskTests = []test{
	{"create sets defaults", testCreateDefaults},
	{"update edits one task", testUpdateTask},
	{"update error aborts", testUpdateAborts},
	{"filters and indexes", testTaskFilters},
	{"paging", testTaskPaging},
	{"active tasks", testActiveTasks},
	{"status events", testStatusEvents},
}

func testCreateDefaults(t *testing.T, s Store) {
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	in := newTask("p", "t")
	in.ExitCode, in.LogLines, in.LogBytes = 7, 9, 9
	in.Vars = map[string]any{"version": "1.2"}
	a := mustCreate(t, s, in)
	if a.ID == 0 || a.Status != state.StatusWaiting || a.ExitCode != -1 || a.LogLines != 0 || a.LogBytes != 0 || a.Created.Before(before) {
		t.Errorf("created %+v, want an id, waiting, exit -1, no log, created now", a)
	}
	given := newTask("p", "t")
	given.Status = state.StatusStarting
	given.Created = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	b := mustCreate(t, s, given)
	if b.ID <= a.ID || b.Status != state.StatusStarting || !b.Created.Equal(given.Created) {
		t.Errorf("created %+v, want an id after %d, starting, created %v", b, a.ID, given.Created)
	}
	got, err := s.Task(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != a.ID || got.Project != "p" || got.Template != "t" || got.Status != a.Status || !got.Created.Equal(a.Created) || got.Vars["version"] != "1.2" {
		t.Errorf("Task(%d) = %+v, want %+v", a.ID, got, a)
	}
	if _, err := s.Task(ctx, b.ID+100); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("Task of an unknown id: got %v, want ErrNotFound", err)
	}
}

func testUpdateTask(t *testing.T, s Store) {
	ctx := context.Background()
	in := newTask("p", "t")
	in.Vars = map[string]any{"env": "prod"}
	tk := mustCreate(t, s, in)
	other := mustCreate(t, s, newTask("p", "t"))
	started := time.Now().Truncate(time.Second)
	got, err := s.UpdateTask(ctx, tk.ID, func(t *state.Task) error {
		t.Status, t.Started, t.Message = state.StatusRunning, started, "running on runner 1"
		t.ID, t.LogLines, t.DedupeKey = 999, 5, "sneaky" // ignored
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != tk.ID || got.Status != state.StatusRunning || !got.Started.Equal(started) || got.Message != "running on runner 1" || got.LogLines != 0 || got.DedupeKey != "" || got.Vars["env"] != "prod" {
		t.Errorf("UpdateTask returned %+v", got)
	}
	stored, err := s.Task(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Status != state.StatusRunning || stored.Message != got.Message || stored.ID != tk.ID || stored.DedupeKey != "" {
		t.Errorf("stored %+v, want the update", stored)
	}
	if o, _ := s.Task(ctx, other.ID); o.Status != state.StatusWaiting || o.Message != "" {
		t.Errorf("other task changed: %+v", o)
	}
	if _, err := s.UpdateTask(ctx, other.ID+100, func(*state.Task) error { return nil }); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("UpdateTask of an unknown id: got %v, want ErrNotFound", err)
	}
}

func testUpdateAborts(t *testing.T, s Store) {
	ctx := context.Background()
	in := newTask("p", "t")
	in.Vars = map[string]any{"env": "prod"}
	in.Tags = []string{"a"}
	tk := mustCreate(t, s, in)
	events, err := s.Events(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	_, err = s.UpdateTask(ctx, tk.ID, func(t *state.Task) error {
		t.Status = state.StatusFailure
		t.Vars["env"] = "dev"
		t.Tags[0] = "b"
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
	got, err := s.Task(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != state.StatusWaiting || got.Vars["env"] != "prod" || got.Tags[0] != "a" {
		t.Errorf("after an aborted update: %+v, want it unchanged", got)
	}
	if after, _ := s.Events(ctx, 0, 0); len(after) != len(events) {
		t.Errorf("an aborted update wrote %d events", len(after)-len(events))
	}
	if n, _ := s.PendingOutbox(ctx); n != 0 {
		t.Errorf("PendingOutbox = %d without an outbox func, want 0", n)
	}
}

// taskSet creates tasks of two projects and three templates, some of them
// terminal, and returns them in creation order.
func taskSet(t *testing.T, s Store) []state.Task {
	t.Helper()
	var out []state.Task
	layout := []struct {
		project, template string
		status            state.TaskStatus
	}{
		{"web", "deploy", state.StatusSuccess},
		{"web", "lint", state.StatusFailure},
		{"db", "deploy", state.StatusWaiting},
		{"web", "deploy", state.StatusRunning},
		{"web", "deploy", state.StatusFailure},
		{"db", "backup", state.StatusSuccess},
		{"web", "lint", state.StatusWaiting},
	}
	for _, l := range layout {
		tk := mustCreate(t, s, newTask(l.project, l.template))
		if l.status != state.StatusWaiting {
			var ended time.Time
			if l.status.Terminal() {
				ended = time.Now()
			}
			tk = setStatus(t, s, tk.ID, l.status, ended)
		}
		out = append(out, tk)
	}
	return out
}

func testTaskFilters(t *testing.T, s Store) {
	ctx := context.Background()
	all := taskSet(t, s)
	pick := func(keep func(state.Task) bool) []uint64 {
		var out []uint64
		for i := len(all) - 1; i >= 0; i-- {
			if keep(all[i]) {
				out = append(out, all[i].ID)
			}
		}
		return out
	}
	tests := []struct {
		name string
		f    state.TaskFilter
		want []uint64
	}{
		{"all", state.TaskFilter{}, pick(func(state.Task) bool { return true })},
		{"project", state.TaskFilter{Project: "web"}, pick(func(t state.Task) bool { return t.Project == "web" })},
		{"project and template", state.TaskFilter{Project: "web", Template: "deploy"}, pick(func(t state.Task) bool { return t.Project == "web" && t.Template == "deploy" })},
		{"template alone", state.TaskFilter{Template: "deploy"}, pick(func(t state.Task) bool { return t.Template == "deploy" })},
		{"status", state.TaskFilter{Status: []state.TaskStatus{state.StatusFailure, state.StatusWaiting}}, pick(func(t state.Task) bool {
			return t.Status == state.StatusFailure || t.Status == state.StatusWaiting
		})},
		{"project and status", state.TaskFilter{Project: "web", Status: []state.TaskStatus{state.StatusSuccess}}, pick(func(t state.Task) bool {
			return t.Project == "web" && t.Status == state.StatusSuccess
		})},
		{"template and status", state.TaskFilter{Template: "deploy", Status: []state.TaskStatus{state.StatusRunning}}, pick(func(t state.Task) bool {
			return t.Template == "deploy" && t.Status == state.StatusRunning
		})},
		{"no match", state.TaskFilter{Project: "nope"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Tasks(ctx, tt.f, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tt.want) {
				t.Errorf("got ids %v, want %v (newest first)", ids(got), tt.want)
			}
		})
	}
	// The indexes follow a status change.
	moved := setStatus(t, s, all[2].ID, state.StatusStopped, time.Now())
	got, err := s.Tasks(ctx, state.TaskFilter{Status: []state.TaskStatus{state.StatusStopped}}, 0, 0)
	if err != nil || !slices.Equal(ids(got), []uint64{moved.ID}) {
		t.Errorf("Tasks(stopped) after a change = %v, %v; want [%d]", ids(got), err, moved.ID)
	}
	got, err = s.Tasks(ctx, state.TaskFilter{Project: "db", Status: []state.TaskStatus{state.StatusWaiting}}, 0, 0)
	if err != nil || len(got) != 0 {
		t.Errorf("Tasks(db, waiting) after the change = %v, %v; want none", ids(got), err)
	}
}

func testTaskPaging(t *testing.T, s Store) {
	ctx := context.Background()
	var want []uint64
	for i := range 23 {
		tk := mustCreate(t, s, newTask("p", fmt.Sprintf("t%d", i%2)))
		want = append([]uint64{tk.ID}, want...)
	}
	for _, f := range []state.TaskFilter{{}, {Project: "p"}, {Status: []state.TaskStatus{state.StatusWaiting}}} {
		var got []uint64
		before := uint64(0)
		for page := 0; ; page++ {
			tasks, err := s.Tasks(ctx, f, before, 5)
			if err != nil {
				t.Fatal(err)
			}
			if len(tasks) > 5 {
				t.Fatalf("filter %+v: page of %d, want at most 5", f, len(tasks))
			}
			if len(tasks) == 0 {
				break
			}
			got = append(got, ids(tasks)...)
			before = tasks[len(tasks)-1].ID
			if page > 10 {
				t.Fatalf("filter %+v: paging does not end", f)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("filter %+v: paged ids %v, want %v", f, got, want)
		}
	}
}

func testActiveTasks(t *testing.T, s Store) {
	ctx := context.Background()
	all := taskSet(t, s)
	var want []uint64
	for _, tk := range all {
		if !tk.Status.Terminal() {
			want = append(want, tk.ID)
		}
	}
	got, err := s.ActiveTasks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(got), want) {
		t.Errorf("ActiveTasks = %v, want %v (oldest first)", ids(got), want)
	}
	setStatus(t, s, want[0], state.StatusSuccess, time.Now())
	got, _ = s.ActiveTasks(ctx)
	if !slices.Equal(ids(got), want[1:]) {
		t.Errorf("ActiveTasks after one ended = %v, want %v", ids(got), want[1:])
	}
}

func testStatusEvents(t *testing.T, s Store) {
	ctx := context.Background()
	start, err := s.Events(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var after uint64
	if len(start) > 0 {
		after = start[len(start)-1].Seq
	}
	tk := mustCreate(t, s, newTask("p", "t"))
	if _, err := s.UpdateTask(ctx, tk.ID, func(t *state.Task) error { t.Message = "queued"; return nil }); err != nil {
		t.Fatal(err)
	}
	setStatus(t, s, tk.ID, state.StatusRunning, time.Time{})
	setStatus(t, s, tk.ID, state.StatusSuccess, time.Now())
	events, err := s.Events(ctx, after, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []state.TaskStatus{state.StatusWaiting, state.StatusRunning, state.StatusSuccess}
	if len(events) != len(want) {
		t.Fatalf("got %d events, want %d (one per status, none for a message edit): %+v", len(events), len(want), events)
	}
	for i, e := range events {
		if e.Type != state.EventTaskStatus || e.TaskID != tk.ID || e.Status != want[i] || (i > 0 && e.Seq <= events[i-1].Seq) {
			t.Errorf("event %d = %+v, want task %d %s, increasing seq", i, e, tk.ID, want[i])
		}
	}
}
