// Package statetest is the conformance suite of the state store: one set
// of tests of the contract the rest of semaphored relies on (tasks and
// their indexes and paging, logs, revisions and events, durable intake,
// the outbox, retention, concurrency), written against the Store
// interface so that every implementation runs it unchanged: the BoltDB
// store in internal/state today, a PostgreSQL one later.
//
// The suite uses the wall clock and passes explicit times where the
// contract takes them (Created, Ended, Received, NextAttempt, the cutoffs
// of the Prune methods), so an implementation needs no fake clock. Each
// test opens its own empty store.
//
// Open is for the tests of other packages: a real BoltDB store in the
// test's temporary directory, closed when the test ends.
package statetest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/state"
)

// Store is the contract of the state store, as *state.Store implements
// it. Every method is one logical change (or one read) and must hold with
// other writer processes on the same data: the suite only assumes what a
// transaction with unique keys gives.
type Store interface {
	ApplyRevision(ctx context.Context, rev state.Revision, changes []state.Change) error
	RecordInvalidRevision(ctx context.Context, rev state.Revision) error
	Objects(ctx context.Context) ([]state.Object, error)
	Object(ctx context.Context, key state.ObjectKey) (state.Object, error)
	ActiveRevision(ctx context.Context) (state.Revision, bool, error)
	LastRevision(ctx context.Context) (state.Revision, bool, error)
	Revisions(ctx context.Context, limit int) ([]state.Revision, error)
	Events(ctx context.Context, after uint64, limit int) ([]state.Event, error)

	CreateTask(ctx context.Context, t state.Task) (state.Task, error)
	UpdateTask(ctx context.Context, id uint64, fn func(*state.Task) error) (state.Task, error)
	Task(ctx context.Context, id uint64) (state.Task, error)
	Tasks(ctx context.Context, f state.TaskFilter, before uint64, limit int) ([]state.Task, error)
	ActiveTasks(ctx context.Context) ([]state.Task, error)
	AppendLog(ctx context.Context, taskID uint64, lines []state.LogLine) error
	ReadLog(ctx context.Context, taskID uint64, from uint64, max int) ([]state.LogLine, error)

	AcceptDelivery(ctx context.Context, d state.Delivery, tasks []state.Task) (state.Delivery, []state.Task, bool, error)
	PendingDeliveries(ctx context.Context) ([]state.Delivery, error)
	CompleteDelivery(ctx context.Context, source, id string, tasks []state.Task, note string) (state.Delivery, []state.Task, error)
	Delivery(ctx context.Context, source, id string) (state.Delivery, []state.Task, error)

	EnqueueOutbox(ctx context.Context, entries ...state.OutboxEntry) error
	DueOutbox(ctx context.Context, now time.Time, limit int) ([]state.OutboxEntry, error)
	PendingOutbox(ctx context.Context) (int, error)
	AckOutbox(ctx context.Context, seq uint64) error
	LastDelivered(ctx context.Context, kind state.OutboxKind, target string) ([]byte, bool, error)
	FailOutbox(ctx context.Context, seq uint64, errMsg string, next time.Time, final bool) (state.OutboxEntry, error)
	FailedOutbox(ctx context.Context, limit int) ([]state.OutboxEntry, error)

	PruneTasks(ctx context.Context, r state.Retention) (int, error)
	PruneEvents(ctx context.Context, before time.Time) (int, error)
	PruneRevisions(ctx context.Context, keep int) (int, error)
	PruneDeliveries(ctx context.Context, before time.Time) (int, error)
	PruneOutbox(ctx context.Context, before time.Time) (int, error)
}

// Reopener is implemented by a Store the suite can close and open again
// on the same data, as after a restart. The tests of what survives a
// restart skip without it.
type Reopener interface {
	Reopen(t *testing.T) Store
}

// Run runs the whole contract against stores made by open. open returns a
// new, empty store for each test and arranges its closing with t.Cleanup.
// The tests that need Options.Outbox are in RunOutboxFunc.
func Run(t *testing.T, open func(t *testing.T) Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"tasks", taskTests},
		{"dedupe", dedupeTests},
		{"logs", logTests},
		{"revisions", revisionTests},
		{"intake", intakeTests},
		{"outbox", outboxTests},
		{"retention", retentionTests},
		{"concurrency", concurrencyTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tt := range g.tests {
				t.Run(tt.name, func(t *testing.T) { tt.fn(t, open(t)) })
			}
		})
	}
}

// test is one contract test.
type test struct {
	name string
	fn   func(t *testing.T, s Store)
}

// newTask is a task of project and template. It sets fields by
// assignment, not in a literal, so that it compiles however Task groups
// them.
func newTask(project, template string) state.Task {
	var t state.Task
	t.Project = project
	t.Template = template
	return t
}

// keyedTask is newTask with a dedupe key.
func keyedTask(project, template, key string) state.Task {
	t := newTask(project, template)
	t.DedupeKey = key
	return t
}

func mustCreate(t *testing.T, s Store, tk state.Task) state.Task {
	t.Helper()
	got, err := s.CreateTask(context.Background(), tk)
	if err != nil {
		t.Fatalf("CreateTask(%s/%s): %v", tk.Project, tk.Template, err)
	}
	return got
}

func setStatus(t *testing.T, s Store, id uint64, st state.TaskStatus, ended time.Time) state.Task {
	t.Helper()
	got, err := s.UpdateTask(context.Background(), id, func(tk *state.Task) error {
		tk.Status = st
		tk.Ended = ended
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateTask(%d, %s): %v", id, st, err)
	}
	return got
}

func ids(tasks []state.Task) []uint64 {
	out := make([]uint64, len(tasks))
	for i, t := range tasks {
		out[i] = t.ID
	}
	return out
}

func seqs(entries []state.OutboxEntry) []uint64 {
	out := make([]uint64, len(entries))
	for i, e := range entries {
		out[i] = e.Seq
	}
	return out
}

// far is a time after every entry the suite enqueues.
var far = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)

// Open opens a BoltDB store at path (a new file in t.TempDir() when
// empty) with opts, failing t on error; the store is closed when the test
// ends, unless the test closed it first.
func Open(t testing.TB, path string, opts state.Options) *state.Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "state.db")
	}
	s, err := state.Open(path, opts)
	if err != nil {
		t.Fatalf("open state: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
