package report

import (
	"context"
	"time"

	"github.com/semaphored/semaphored/internal/state"
)

// OutboxKind and OutboxEntry are the state's (CONTRACTS.md §2).
type (
	OutboxKind  = state.OutboxKind
	OutboxEntry = state.OutboxEntry
)

// The outbox kinds this package produces and delivers.
const (
	KindCommitStatus = state.OutboxCommitStatus
	KindNotification = state.OutboxNotification
)

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
func triggerType(t state.Task) string { return string(t.Trigger.Type) }
