package state

import (
	"context"
	"errors"
	"time"
)

// errTODO marks the methods still being written; it goes away with them.
var errTODO = errors.New("state: not implemented yet")

// Options tune Open.
type Options struct {
	// LockTimeout is how long Open waits for the file lock before it
	// reports ErrLocked (default 1s).
	LockTimeout time.Duration
	// Now returns the time (default time.Now).
	Now func() time.Time
}

// Store is the BoltDB state file. It is safe for concurrent use.
type Store struct{}

// Open opens or creates the state file at path, takes its lock, and
// migrates its schema to the current version.
func Open(path string, opts Options) (*Store, error) { return nil, errTODO }

// Close releases the file.
func (s *Store) Close() error { return errTODO }

// SchemaVersion is the schema version of the open file.
func (s *Store) SchemaVersion() int { return 0 }

// Objects returns every declared object, sorted by key.
func (s *Store) Objects(ctx context.Context) ([]Object, error) { return nil, errTODO }

// ActiveRevision returns the revision the objects come from.
func (s *Store) ActiveRevision(ctx context.Context) (Revision, bool, error) {
	return Revision{}, false, errTODO
}

// LastRevision returns the newest revision sync looked at, valid or not.
func (s *Store) LastRevision(ctx context.Context) (Revision, bool, error) {
	return Revision{}, false, errTODO
}

// Revisions returns up to limit revisions, newest first.
func (s *Store) Revisions(ctx context.Context, limit int) ([]Revision, error) { return nil, errTODO }

// ApplyRevision applies changes, records an event per change, and makes rev
// the active revision, all in one transaction: all of it happens or none.
func (s *Store) ApplyRevision(ctx context.Context, rev Revision, changes []Change) error {
	return errTODO
}

// RecordInvalidRevision records a revision that failed validation; the
// active revision and the objects stay as they are.
func (s *Store) RecordInvalidRevision(ctx context.Context, rev Revision) error { return errTODO }

// Events returns up to limit events with Seq > after, oldest first.
func (s *Store) Events(ctx context.Context, after uint64, limit int) ([]Event, error) {
	return nil, errTODO
}

// CreateTask stores a new task with the next ID (status waiting unless
// set, Created now unless set, ExitCode -1) and returns it. An event and
// an outbox entry are written in the same transaction.
func (s *Store) CreateTask(ctx context.Context, t Task) (Task, error) { return Task{}, errTODO }

// UpdateTask changes a task in one transaction: fn gets the current task
// and edits it in place; an error from fn aborts. When the status changes
// an event and an outbox entry are written in the same transaction.
// ErrNotFound when there is no such task.
func (s *Store) UpdateTask(ctx context.Context, id uint64, fn func(*Task) error) (Task, error) {
	return Task{}, errTODO
}

// Task returns one task.
func (s *Store) Task(ctx context.Context, id uint64) (Task, error) { return Task{}, errTODO }

// Tasks returns up to limit tasks matching f with ID < before (before 0:
// from the newest), newest first; page by passing the last ID back.
func (s *Store) Tasks(ctx context.Context, f TaskFilter, before uint64, limit int) ([]Task, error) {
	return nil, errTODO
}

// ActiveTasks returns every task not in a terminal status, oldest first.
func (s *Store) ActiveTasks(ctx context.Context) ([]Task, error) { return nil, errTODO }

// AppendLog stores lines after the task's last line in one transaction,
// numbering them (LogLine.N is set on the stored copy) and adding to the
// task's LogLines/LogBytes.
func (s *Store) AppendLog(ctx context.Context, taskID uint64, lines []LogLine) error {
	return errTODO
}

// ReadLog returns up to max lines of a task with N >= from, in order.
func (s *Store) ReadLog(ctx context.Context, taskID uint64, from uint64, max int) ([]LogLine, error) {
	return nil, errTODO
}

// PruneTasks deletes terminal tasks (and their logs) that r says to drop,
// in bounded transactions, and returns how many it deleted.
func (s *Store) PruneTasks(ctx context.Context, r Retention) (int, error) { return 0, errTODO }

// Outbox returns up to limit pending outbox entries, oldest first.
func (s *Store) Outbox(ctx context.Context, limit int) ([]OutboxEntry, error) { return nil, errTODO }

// AckOutbox removes a delivered outbox entry.
func (s *Store) AckOutbox(ctx context.Context, seq uint64) error { return errTODO }

// SeenDelivery records a webhook delivery id of source and reports whether
// it had been recorded before (a replay).
func (s *Store) SeenDelivery(ctx context.Context, source, id string) (bool, error) {
	return false, errTODO
}
