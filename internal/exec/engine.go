// Package exec owns the task queue and the life of each task: limits and
// per-template locks, checkout, secrets resolved for one run, the run
// itself (package runner), log capture into the state, stop, timeouts,
// approval, crash recovery and retention.
package exec

import (
	"context"
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/gitcache"
	"github.com/semaphored/semaphored/internal/state"
)

// Errors the API maps to status codes.
var (
	ErrUnknownTemplate     = errors.New("no such project or template")       // 404
	ErrBadRequest          = errors.New("bad task request")                  // 400 (wrapped with the reason)
	ErrNotStoppable        = errors.New("task is not stoppable")             // 409
	ErrNotAwaitingApproval = errors.New("task is not waiting_confirmation") // 409
)

// Request asks for a task of a template. Fields other than Project,
// Template, Trigger and TriggeredBy are overrides, each allowed only when
// the template lists it in allow_overrides (Commit and Branch are always
// allowed for triggers other than api/cli).
type Request struct {
	Project, Template    string
	Trigger, TriggeredBy string
	Commit, Branch       string
	Vars                 map[string]any
	Arguments            []string
	Limit                string
	Tags, SkipTags       []string
	Workspace            string
	DryRun               bool
}

// ActiveConfig gives the configuration currently in force.
type ActiveConfig interface {
	Active() *config.Config
}

// Options configure New.
type Options struct {
	Store   *state.Store
	Config  ActiveConfig
	Git     *gitcache.Cache
	Secrets *config.Resolver
	// WorkDir holds per-task private directories and the shared caches.
	WorkDir    string
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Engine runs tasks. Create with New; Run drives it.
type Engine struct{}

var errTODO = errors.New("exec: not implemented yet")

// New returns an engine; nothing runs before Run.
func New(opts Options) *Engine { return &Engine{} }

// Run recovers from a previous crash (running tasks → interrupted,
// waiting tasks queued), then starts tasks as slots free up until ctx ends;
// then it stops running tasks (SIGTERM, grace, SIGKILL) and returns.
func (e *Engine) Run(ctx context.Context) error { return errTODO }

// Wake tells the engine the active configuration changed (limits, templates).
func (e *Engine) Wake() {}

// Submit validates and persists a task (waiting) and starts it as soon as
// limits allow.
func (e *Engine) Submit(ctx context.Context, r Request) (state.Task, error) {
	return state.Task{}, errTODO
}

// Stop stops a waiting, running or waiting_confirmation task.
func (e *Engine) Stop(ctx context.Context, id uint64) (state.Task, error) {
	return state.Task{}, errTODO
}

// StopWaiting stops every waiting task of a project (template "" = all of
// its templates) and returns how many.
func (e *Engine) StopWaiting(ctx context.Context, project, template string) (int, error) {
	return 0, errTODO
}

// Confirm approves a plan waiting for confirmation; Reject refuses it.
func (e *Engine) Confirm(ctx context.Context, id uint64) (state.Task, error) {
	return state.Task{}, errTODO
}

// Reject refuses a plan waiting for confirmation; the task ends stopped.
func (e *Engine) Reject(ctx context.Context, id uint64) (state.Task, error) {
	return state.Task{}, errTODO
}

// FollowLog calls fn with the task's lines from line from on, as they are
// stored, until the task is terminal and every line was passed, or ctx ends.
func (e *Engine) FollowLog(ctx context.Context, id uint64, from uint64, fn func([]state.LogLine) error) error {
	return errTODO
}
