package report

import (
	"context"
	"time"

	"github.com/semaphored/semaphored/internal/state"
)

// OutboxKind and OutboxEntry are the outbox shapes of CONTRACTS.md §2.
// They are declared here until the state's schema v4 provides them; then
// these become aliases of state.OutboxKind and state.OutboxEntry.
type OutboxKind string

// The outbox kinds this package produces and delivers.
const (
	KindCommitStatus OutboxKind = "commit_status"
	KindNotification OutboxKind = "notification"
)

// OutboxEntry is one thing to deliver (see CONTRACTS.md §2).
type OutboxEntry struct {
	Seq         uint64           `json:"seq"`
	Kind        OutboxKind       `json:"kind"`
	Target      string           `json:"target"`
	TaskID      uint64           `json:"task_id"`
	Status      state.TaskStatus `json:"status"`
	Payload     []byte           `json:"payload,omitempty"`
	Created     time.Time        `json:"created"`
	NextAttempt time.Time        `json:"next_attempt"`
	Attempts    int              `json:"attempts"`
	LastError   string           `json:"last_error,omitempty"`
	Failed      bool             `json:"failed,omitempty"`
}

// Outbox is what the worker needs of the store's outbox.
type Outbox interface {
	DueOutbox(ctx context.Context, now time.Time, limit int) ([]OutboxEntry, error)
	AckOutbox(ctx context.Context, seq uint64) error
	FailOutbox(ctx context.Context, seq uint64, errMsg string, next time.Time, final bool) (OutboxEntry, error)
	LastDelivered(ctx context.Context, kind OutboxKind, target string) ([]byte, bool, error)
}

// Tasks is what the senders read of tasks: the task, its log (for the
// description of a terminal status), and earlier tasks of its template
// (to tell a recovery).
type Tasks interface {
	Task(ctx context.Context, id uint64) (state.Task, error)
	ReadLog(ctx context.Context, taskID uint64, from uint64, max int) ([]state.LogLine, error)
	Tasks(ctx context.Context, f state.TaskFilter, before uint64, limit int) ([]state.Task, error)
}

// triggerType is the type of what created t ("push", "pull_request", ...).
func triggerType(t state.Task) string { return t.Trigger }
