package trigger

import (
	"errors"
	"time"

	"github.com/semaphored/semaphored/internal/config"
)

// This file mirrors the shapes of CONTRACTS.md §1–3 (task.Request,
// state.Delivery, state.Task, config.Snapshot) until the branches that own
// them are merged; then each type here becomes an alias (type Request =
// task.Request, ...) and nothing else changes.

// TriggerType says what kind of producer created a task (task.TriggerType).
type TriggerType string

// The trigger types this package creates.
const (
	TypePush        TriggerType = "push"
	TypePullRequest TriggerType = "pull_request"
	TypeSchedule    TriggerType = "schedule"
	TypeIntegration TriggerType = "integration"
)

// Trigger is what created a task (task.Trigger).
type Trigger struct {
	Type       TriggerType `json:"type"`
	Actor      string      `json:"actor,omitempty"`
	Source     string      `json:"source,omitempty"`
	DeliveryID string      `json:"delivery_id,omitempty"`
	PR         int         `json:"pr,omitempty"`
	Head       string      `json:"head,omitempty"`
	Base       string      `json:"base,omitempty"`
	Fork       bool        `json:"fork,omitempty"`
	Slot       time.Time   `json:"slot,omitzero"`
}

// Overrides are a task's parameters (task.Overrides).
type Overrides struct {
	Commit    string         `json:"commit,omitempty"`
	Branch    string         `json:"branch,omitempty"`
	Vars      map[string]any `json:"vars,omitempty"`
	Arguments []string       `json:"arguments,omitempty"`
	Limit     string         `json:"limit,omitempty"`
	Tags      []string       `json:"tags,omitempty"`
	SkipTags  []string       `json:"skip_tags,omitempty"`
	Workspace string         `json:"workspace,omitempty"`
	DryRun    bool           `json:"dry_run,omitempty"`
}

// Request asks for one task (task.Request).
type Request struct {
	Project, Template string
	Trigger           Trigger
	DedupeKey         string
	Overrides
}

// TaskStatus is where a task is in its life (state.TaskStatus).
type TaskStatus string

// The statuses this package looks at.
const (
	StatusWaiting  TaskStatus = "waiting"
	StatusStarting TaskStatus = "starting"
	StatusRunning  TaskStatus = "running"
)

// Task is a stored task (state.Task).
type Task struct {
	ID      uint64     `json:"id"`
	Status  TaskStatus `json:"status"`
	Message string     `json:"message,omitempty"`
	Created time.Time  `json:"created"`
	Request
}

// Delivery is one recorded event from outside (state.Delivery).
type Delivery struct {
	Source   string    `json:"source"`
	ID       string    `json:"id"`
	Event    string    `json:"event"`
	Received time.Time `json:"received"`
	Pending  bool      `json:"pending,omitempty"`
	Payload  []byte    `json:"payload,omitempty"`
	TaskIDs  []uint64  `json:"task_ids,omitempty"`
	Note     string    `json:"note,omitempty"`
}

// Snapshot is the active config revision (config.Snapshot).
type Snapshot struct {
	Config   *config.Config
	Revision string
	Root     string
}

// ErrNotFound is the store's not-found error (state.ErrNotFound).
var ErrNotFound = errors.New("not found")
