package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/semaphored/semaphored/internal/task"
)

// Errors callers check with errors.Is.
var (
	// ErrLocked means another process holds the state file.
	ErrLocked = errors.New("state file is locked by another process")
	// ErrNotFound means no record has that key.
	ErrNotFound = errors.New("not found")
	// ErrDuplicate means a task with the same dedupe key exists already;
	// CreateTask returns that task beside it.
	ErrDuplicate = errors.New("dedupe key already used")
)

// Kind is the kind of a declared object, as stored.
type Kind string

// The stored kinds. Settings and API tokens have an empty project.
const (
	KindSettings    Kind = "settings"
	KindAPIToken    Kind = "api_token"
	KindProject     Kind = "project"
	KindRepository  Kind = "repository"
	KindKey         Kind = "key"
	KindInventory   Kind = "inventory"
	KindEnvironment Kind = "environment"
	KindTemplate    Kind = "template"
	KindSchedule    Kind = "schedule"
	KindIntegration Kind = "integration"
	// KindNotification is a project's notification destination (report).
	KindNotification Kind = "notification"
)

// ObjectKey names one declared object. Project is empty for settings and
// API tokens; Name is the project's own name for KindProject.
type ObjectKey struct {
	Project string `json:"project,omitempty"`
	Kind    Kind   `json:"kind"`
	Name    string `json:"name"`
}

// Object is a declared object as stored: its canonical JSON encoding. The
// encoding holds secret references only, never clear values.
type Object struct {
	Key   ObjectKey
	Value []byte
}

// Op is what a change does to an object.
type Op string

// The ops of a change.
const (
	OpCreate Op = "create"
	OpUpdate Op = "update"
	OpDelete Op = "delete"
)

// Change is one step of applying a revision. Value is nil for OpDelete.
type Change struct {
	Op    Op
	Key   ObjectKey
	Value []byte
}

// Revision is one revision of the config source that sync looked at.
type Revision struct {
	// ID is the commit SHA (git source) or a content hash (local directory).
	ID string `json:"id"`
	// Source is where it came from, credentials stripped.
	Source  string `json:"source"`
	Message string `json:"message,omitempty"`
	Author  string `json:"author,omitempty"`
	// Valid is false when it failed to load or validate; Errors says why,
	// one "file:line:col: message" per entry.
	Valid  bool     `json:"valid"`
	Errors []string `json:"errors,omitempty"`
	// Seen is when sync first looked at it; Applied when it became active.
	Seen    time.Time `json:"seen"`
	Applied time.Time `json:"applied,omitzero"`
}

// EventType says what an event records.
type EventType string

// The event types.
const (
	EventConfig     EventType = "config"      // an object created, updated or deleted by a revision
	EventRevision   EventType = "revision"    // a revision became active, or was rejected
	EventTaskStatus EventType = "task_status" // a task changed status
	EventDelivery   EventType = "delivery"    // a webhook delivery, integration call or schedule slot was accepted or completed
)

// Event is an entry of the append-only event log.
type Event struct {
	Seq      uint64     `json:"seq"`
	At       time.Time  `json:"at"`
	Type     EventType  `json:"type"`
	Revision string     `json:"revision,omitempty"`
	Op       Op         `json:"op,omitempty"`
	Key      *ObjectKey `json:"key,omitempty"`
	TaskID   uint64     `json:"task_id,omitempty"`
	Status   TaskStatus `json:"status,omitempty"`
	Message  string     `json:"message,omitempty"`
	// Source, Delivery, TaskIDs and Projects describe a delivery event:
	// where it came from, its id, the tasks it created and their projects.
	Source   string   `json:"source,omitempty"`
	Delivery string   `json:"delivery,omitempty"`
	TaskIDs  []uint64 `json:"task_ids,omitempty"`
	Projects []string `json:"projects,omitempty"`
}

// TaskStatus is where a task is in its life.
type TaskStatus string

// Task statuses. waiting → starting → running → one terminal status;
// a plan that needs approval goes running → waiting_confirmation → running.
const (
	StatusWaiting             TaskStatus = "waiting"
	StatusStarting            TaskStatus = "starting"
	StatusRunning             TaskStatus = "running"
	StatusWaitingConfirmation TaskStatus = "waiting_confirmation"
	StatusSuccess             TaskStatus = "success"
	StatusFailure             TaskStatus = "failure"
	StatusError               TaskStatus = "error"
	StatusStopped             TaskStatus = "stopped"
	StatusInterrupted         TaskStatus = "interrupted"
)

// Terminal reports whether s is a final status.
func (s TaskStatus) Terminal() bool {
	switch s {
	case StatusSuccess, StatusFailure, StatusError, StatusStopped, StatusInterrupted:
		return true
	}
	return false
}

// Task is one run of a template: the request that created it (project,
// template, trigger, dedupe key, overrides) and what became of it. Vars
// hold caller-given values only; secrets are resolved at run time from
// references and never stored.
type Task struct {
	ID uint64 `json:"id"`
	task.Request
	Status TaskStatus `json:"status"`

	// Message says why the task has its status ("timed out", "superseded by task 12").
	Message string `json:"message,omitempty"`
	// ExitCode of the app's last process, -1 when none ran.
	ExitCode int `json:"exit_code"`

	Created time.Time `json:"created"`
	Started time.Time `json:"started,omitzero"`
	Ended   time.Time `json:"ended,omitzero"`

	// LogLines and LogBytes count what AppendLog stored.
	LogLines uint64 `json:"log_lines"`
	LogBytes uint64 `json:"log_bytes"`
}

// legacyActor is the key of the actor in tasks stored before the trigger
// became an object.
var legacyActor = []byte(`"triggered_by"`)

// decodeTask decodes a stored task. Tasks stored before the trigger
// became an object have "trigger":"api" and the actor in a sibling
// "triggered_by": those become Trigger.Type and Trigger.Actor. Only such
// tasks pay for a second decode; the current form is decoded once.
func decodeTask(v []byte, t *Task) error {
	err := json.Unmarshal(v, t)
	var te *json.UnmarshalTypeError
	legacyType := errors.As(err, &te) && te.Value == "string" && strings.HasSuffix(te.Field, "trigger")
	if err != nil && !legacyType {
		return err
	}
	if !legacyType && (t.Trigger.Actor != "" || !bytes.Contains(v, legacyActor)) {
		return nil
	}
	var legacy struct {
		Trigger     any    `json:"trigger"`
		TriggeredBy string `json:"triggered_by"`
	}
	if err := json.Unmarshal(v, &legacy); err != nil {
		return err
	}
	if s, ok := legacy.Trigger.(string); ok {
		t.Trigger.Type = task.TriggerType(s)
	}
	if t.Trigger.Actor == "" {
		t.Trigger.Actor = legacy.TriggeredBy
	}
	return nil
}

// TaskFilter selects tasks; empty fields match everything.
type TaskFilter struct {
	Project  string
	Template string
	Status   []TaskStatus
}

// LogLine is one stored line of a task's output. N is assigned by
// AppendLog: 1 for the first line of a task, then consecutive.
type LogLine struct {
	N    uint64    `json:"n"`
	Time time.Time `json:"t"`
	Text string    `json:"text"`
}

// Retention is a pruning policy applied per template: a terminal task is
// pruned when it is beyond the newest KeepTasks terminal tasks of its
// template, or ended before now-MaxAge. Zero disables that axis.
type Retention struct {
	KeepTasks int
	MaxAge    time.Duration
}
