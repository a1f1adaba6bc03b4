package exec

import (
	"context"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/gitcache"
	"github.com/semaphored/semaphored/internal/state"
)

// The engine's dependencies are small interfaces declared here, at their
// consumer; *state.Store, *gitcache.Cache, *config.Resolver and
// *sync.Syncer are the real ones, and tests inject theirs through Options.

// TaskStore is how the engine creates, reads and moves tasks.
// CreateTask with a DedupeKey already used returns the task holding it
// and an error wrapping state.ErrDuplicate.
type TaskStore interface {
	CreateTask(ctx context.Context, t state.Task) (state.Task, error)
	// UpdateTask's fn may run more than once (a retried transaction): it
	// only edits the task it gets.
	UpdateTask(ctx context.Context, id uint64, fn func(*state.Task) error) (state.Task, error)
	Task(ctx context.Context, id uint64) (state.Task, error)
	// ActiveTasks returns every task not yet terminal.
	ActiveTasks(ctx context.Context) ([]state.Task, error)
}

// LogStore is how the engine stores and reads task logs.
type LogStore interface {
	AppendLog(ctx context.Context, taskID uint64, lines []state.LogLine) error
	ReadLog(ctx context.Context, taskID uint64, from uint64, max int) ([]state.LogLine, error)
}

// Store is the part of the state the engine uses.
type Store interface {
	TaskStore
	LogStore
}

// Checkouts writes a repository at a commit (or the head of a branch)
// into a directory; a plain local directory is copied with an empty SHA.
type Checkouts interface {
	Checkout(ctx context.Context, url string, auth gitcache.Auth, sha, branch, dst string) (gitcache.Commit, error)
}

// SecretResolver turns a secret reference into its clear value.
type SecretResolver interface {
	Resolve(s config.Secret) (string, error)
}

// Snapshots gives the configuration in force with its revision and root,
// as one value.
type Snapshots interface {
	Snapshot() config.Snapshot
}
