package trigger

import (
	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
)

// This file names the shared shapes of CONTRACTS.md §1–3 the way this
// package and its consumers (webhook, schedule) use them.

// TriggerType says what kind of producer created a task.
type TriggerType = task.TriggerType

// The trigger types this package creates.
const (
	TypePush        = task.TriggerPush
	TypePullRequest = task.TriggerPullRequest
	TypeSchedule    = task.TriggerSchedule
	TypeIntegration = task.TriggerIntegration
)

// Trigger is what created a task.
type Trigger = task.Trigger

// Overrides are a task's parameters.
type Overrides = task.Overrides

// Request asks for one task.
type Request = task.Request

// TaskStatus is where a task is in its life.
type TaskStatus = state.TaskStatus

// The statuses this package looks at.
const (
	StatusWaiting  = state.StatusWaiting
	StatusStarting = state.StatusStarting
	StatusRunning  = state.StatusRunning
)

// Task is a stored task.
type Task = state.Task

// Delivery is one recorded event from outside.
type Delivery = state.Delivery

// Snapshot is the active config revision.
type Snapshot = config.Snapshot

// ErrNotFound is the store's not-found error.
var ErrNotFound = state.ErrNotFound
