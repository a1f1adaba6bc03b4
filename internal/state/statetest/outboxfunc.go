package statetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/state"
)

// RunOutboxFunc runs the tests of Options.Outbox: open returns a new,
// empty store that calls fn inside each task status change.
func RunOutboxFunc(t *testing.T, open func(t *testing.T, fn state.OutboxFunc) Store) {
	t.Run("called per status change", func(t *testing.T) { testOutboxFuncCalls(t, open) })
	t.Run("replaces per target", func(t *testing.T) { testOutboxFuncReplace(t, open) })
	t.Run("aborted change enqueues nothing", func(t *testing.T) { testOutboxFuncAbort(t, open) })
	t.Run("intake tasks", func(t *testing.T) { testOutboxFuncIntake(t, open) })
}

// recorder is an OutboxFunc that records its calls and enqueues one
// untargeted notification per change.
type recorder struct {
	mu    sync.Mutex
	calls [][2]state.TaskStatus
}

func (r *recorder) fn(old, new state.Task) []state.OutboxEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, [2]state.TaskStatus{old.Status, new.Status})
	return []state.OutboxEntry{{Kind: state.OutboxNotification, Payload: []byte(string(old.Status) + ">" + string(new.Status))}}
}

func (r *recorder) got() [][2]state.TaskStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

func testOutboxFuncCalls(t *testing.T, open func(t *testing.T, fn state.OutboxFunc) Store) {
	ctx := context.Background()
	var r recorder
	s := open(t, r.fn)
	tk := mustCreate(t, s, newTask("p", "t"))
	if _, err := s.UpdateTask(ctx, tk.ID, func(t *state.Task) error { t.Message = "queued"; return nil }); err != nil {
		t.Fatal(err)
	}
	setStatus(t, s, tk.ID, state.StatusRunning, time.Time{})
	setStatus(t, s, tk.ID, state.StatusSuccess, time.Now())
	want := [][2]state.TaskStatus{{"", state.StatusWaiting}, {state.StatusWaiting, state.StatusRunning}, {state.StatusRunning, state.StatusSuccess}}
	if got := r.got(); !slices.Equal(got, want) {
		t.Errorf("OutboxFunc calls = %v, want %v", got, want)
	}
	due, err := s.DueOutbox(ctx, far, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 3 {
		t.Fatalf("got %d entries, want 3", len(due))
	}
	for i, e := range due {
		if e.TaskID != tk.ID || e.Status != want[i][1] || string(e.Payload) != string(want[i][0])+">"+string(want[i][1]) || e.Created.IsZero() {
			t.Errorf("entry %d = %+v, want task %d, status %s (defaults from the task)", i, e, tk.ID, want[i][1])
		}
	}
}

func testOutboxFuncReplace(t *testing.T, open func(t *testing.T, fn state.OutboxFunc) Store) {
	ctx := context.Background()
	s := open(t, func(old, new state.Task) []state.OutboxEntry {
		e := state.OutboxEntry{Kind: state.OutboxCommitStatus, Target: "github:acme/site@sha#semaphored/" + new.Template, Payload: []byte(new.Status)}
		if new.Status.Terminal() {
			return []state.OutboxEntry{e, {Kind: state.OutboxNotification, Target: "slack:#ops", Payload: []byte(new.Status)}}
		}
		return []state.OutboxEntry{e}
	})
	a := mustCreate(t, s, newTask("p", "deploy"))
	b := mustCreate(t, s, newTask("p", "lint"))
	setStatus(t, s, a.ID, state.StatusRunning, time.Time{})
	setStatus(t, s, a.ID, state.StatusFailure, time.Now())
	due, err := s.DueOutbox(ctx, far, 0)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		task    uint64
		kind    state.OutboxKind
		payload string
	}
	var got []row
	for _, e := range due {
		got = append(got, row{e.TaskID, e.Kind, string(e.Payload)})
	}
	want := []row{{b.ID, state.OutboxCommitStatus, "waiting"}, {a.ID, state.OutboxCommitStatus, "failure"}, {a.ID, state.OutboxNotification, "failure"}}
	if !slices.Equal(got, want) {
		t.Errorf("outbox = %v, want %v", got, want)
	}
}

func testOutboxFuncAbort(t *testing.T, open func(t *testing.T, fn state.OutboxFunc) Store) {
	ctx := context.Background()
	var r recorder
	s := open(t, r.fn)
	tk := mustCreate(t, s, newTask("p", "t"))
	boom := errors.New("boom")
	if _, err := s.UpdateTask(ctx, tk.ID, func(t *state.Task) error { t.Status = state.StatusRunning; return boom }); !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
	if n, _ := s.PendingOutbox(ctx); n != 1 {
		t.Errorf("PendingOutbox = %d, want 1 (the creation only)", n)
	}
	// A duplicate create changes no status: nothing enqueued.
	k := mustCreate(t, s, keyedTask("p", "t", "k"))
	if _, err := s.CreateTask(ctx, keyedTask("p", "t", "k")); !errors.Is(err, state.ErrDuplicate) {
		t.Fatalf("got %v, want ErrDuplicate", err)
	}
	if n, _ := s.PendingOutbox(ctx); n != 2 {
		t.Errorf("PendingOutbox = %d after a duplicate create of task %d, want 2", n, k.ID)
	}
}

func testOutboxFuncIntake(t *testing.T, open func(t *testing.T, fn state.OutboxFunc) Store) {
	ctx := context.Background()
	var r recorder
	s := open(t, r.fn)
	d := delivery("d1")
	d.Pending = true
	if _, _, _, err := s.AcceptDelivery(ctx, d, []state.Task{newTask("p", "a"), newTask("p", "b")}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.AcceptDelivery(ctx, d, []state.Task{newTask("p", "a")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CompleteDelivery(ctx, "github", "d1", []state.Task{newTask("p", "c")}, ""); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.PendingOutbox(ctx); n != 3 || len(r.got()) != 3 {
		t.Errorf("PendingOutbox = %d, %d calls; want 3 and 3 (one per created task)", n, len(r.got()))
	}
}
