package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
)

// CreateTaskRequest is the JSON body of POST
// /api/v1/projects/{project}/templates/{template}/tasks. Every field is an
// override the template must allow (the engine decides); an empty body
// runs the template as declared.
type CreateTaskRequest struct {
	task.Overrides
}

// Task is a task as the API answers it: the same JSON whatever the store
// keeps beside it (leases, intake records), so nothing stored leaks into
// the public API by accident. Lists leave Vars out (a task's vars can be
// large; GET /api/v1/tasks/{id} has them).
type Task struct {
	ID       uint64           `json:"id"`
	Project  string           `json:"project"`
	Template string           `json:"template"`
	Status   state.TaskStatus `json:"status"`
	// Trigger is what created it: api, cli, push, pull_request, schedule,
	// integration.
	Trigger string `json:"trigger"`
	// TriggeredBy names who or what (a token name, a schedule); no secret.
	TriggeredBy string `json:"triggered_by,omitempty"`
	// Origin says which delivery, pull request or schedule slot created
	// the task; absent for API and CLI tasks.
	Origin *Origin `json:"origin,omitempty"`
	// Commit is the SHA it ran at (or will: empty means the head of Branch
	// when it starts).
	Commit    string         `json:"commit,omitempty"`
	Branch    string         `json:"branch,omitempty"`
	Vars      map[string]any `json:"vars,omitempty"`
	Arguments []string       `json:"arguments,omitempty"`
	Limit     string         `json:"limit,omitempty"`
	Tags      []string       `json:"tags,omitempty"`
	SkipTags  []string       `json:"skip_tags,omitempty"`
	Workspace string         `json:"workspace,omitempty"`
	DryRun    bool           `json:"dry_run,omitempty"`
	// Message says why the task has its status.
	Message string `json:"message,omitempty"`
	// ExitCode of the app's last process, -1 when none ran.
	ExitCode int       `json:"exit_code"`
	Created  time.Time `json:"created"`
	Started  time.Time `json:"started,omitzero"`
	Ended    time.Time `json:"ended,omitzero"`
	LogLines uint64    `json:"log_lines"`
	LogBytes uint64    `json:"log_bytes"`
}

// Origin is where a triggered task came from.
type Origin struct {
	Source     string    `json:"source,omitempty"`
	DeliveryID string    `json:"delivery_id,omitempty"`
	PR         int       `json:"pr,omitempty"`
	Head       string    `json:"head,omitempty"`
	Base       string    `json:"base,omitempty"`
	Fork       bool      `json:"fork,omitempty"`
	Slot       time.Time `json:"slot,omitzero"`
}

// originOf is the origin of a trigger; nil when it names none.
func originOf(tr task.Trigger) *Origin {
	o := Origin{Source: tr.Source, DeliveryID: tr.DeliveryID, PR: tr.PR, Head: tr.Head, Base: tr.Base, Fork: tr.Fork, Slot: tr.Slot}
	if o == (Origin{}) {
		return nil
	}
	return &o
}

// TaskOf is the API's view of a stored task.
func TaskOf(t state.Task) Task {
	return Task{
		ID: t.ID, Project: t.Project, Template: t.Template, Status: t.Status,
		Trigger: string(t.Trigger.Type), TriggeredBy: t.Trigger.Actor, Origin: originOf(t.Trigger),
		Commit: t.Commit, Branch: t.Branch, Vars: t.Vars, Arguments: t.Arguments,
		Limit: t.Limit, Tags: t.Tags, SkipTags: t.SkipTags, Workspace: t.Workspace, DryRun: t.DryRun,
		Message: t.Message, ExitCode: t.ExitCode,
		Created: t.Created, Started: t.Started, Ended: t.Ended,
		LogLines: t.LogLines, LogBytes: t.LogBytes,
	}
}

// taskSummary is TaskOf without the vars, for lists.
func taskSummary(t state.Task) Task {
	s := TaskOf(t)
	s.Vars = nil
	return s
}

// StopResult answers the project and template stop calls.
type StopResult struct {
	Stopped int `json:"stopped"`
}

// TriggerHeader names the request header a client sets to "cli" so the
// task records it was created from the command line; any other value, or
// none, records "api".
const TriggerHeader = "X-Semaphored-Trigger"

// taskID parses the {id} path value.
func taskID(r *http.Request) (uint64, error) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || id == 0 {
		return 0, errorf(http.StatusBadRequest, "bad task id %q", r.PathValue("id"))
	}
	return id, nil
}

// visibleTask loads a task the caller may see: 404 when there is none,
// and the same 404 when its project is not the caller's, so that a token
// limited to some projects cannot tell the others' task ids from unused
// ones.
func (h *Handler) visibleTask(ctx context.Context, r *http.Request, p *principal) (state.Task, error) {
	id, err := taskID(r)
	if err != nil {
		return state.Task{}, err
	}
	t, err := h.store.Task(ctx, id)
	if errors.Is(err, state.ErrNotFound) {
		return state.Task{}, errorf(http.StatusNotFound, "no such task %d", id)
	}
	if err != nil {
		return state.Task{}, fmt.Errorf("read task %d: %w", id, err)
	}
	if !p.project(t.Project) {
		return state.Task{}, errorf(http.StatusNotFound, "no such task %d", id)
	}
	return t, nil
}

func (h *Handler) getTask(w http.ResponseWriter, r *http.Request, p *principal) error {
	t, err := h.visibleTask(r.Context(), r, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, TaskOf(t))
	return nil
}

// listTasks answers a JSON array of tasks, newest first, and a Link
// header with rel="next" when there are more.
func (h *Handler) listTasks(w http.ResponseWriter, r *http.Request, p *principal) error {
	q := r.URL.Query()
	f := state.TaskFilter{Project: q.Get("project"), Template: q.Get("template")}
	for _, v := range q["status"] {
		for s := range strings.SplitSeq(v, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			if !knownStatus(state.TaskStatus(s)) {
				return errorf(http.StatusBadRequest, "unknown status %q", s)
			}
			f.Status = append(f.Status, state.TaskStatus(s))
		}
	}
	var before uint64
	if v := q.Get("before"); v != "" {
		b, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return errorf(http.StatusBadRequest, "bad before %q: want a task id", v)
		}
		before = b
	}
	limit := DefaultPageSize
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			return errorf(http.StatusBadRequest, "bad limit %q: want 1 to %d", v, MaxPageSize)
		}
		limit = n
	}
	if f.Project != "" {
		if err := p.checkProject(f.Project); err != nil {
			return err
		}
	} else if len(p.projects) == 1 {
		for name := range p.projects {
			f.Project = name
		}
	}
	return h.writeTaskList(w, r, p, f, before, limit)
}

// nextLink is the Link header of the page after one that ended at task
// last.
func nextLink(r *http.Request, f state.TaskFilter, last uint64, limit int) string {
	q := r.URL.Query()
	next := url.Values{}
	for _, k := range []string{"project", "template"} {
		if v := q.Get(k); v != "" {
			next.Set(k, v)
		}
	}
	for _, s := range f.Status {
		next.Add("status", string(s))
	}
	next.Set("before", strconv.FormatUint(last, 10))
	next.Set("limit", strconv.Itoa(limit))
	return fmt.Sprintf(`<%s?%s>; rel="next"`, r.URL.Path, next.Encode())
}

func knownStatus(s state.TaskStatus) bool {
	switch s {
	case state.StatusWaiting, state.StatusStarting, state.StatusRunning, state.StatusWaitingConfirmation:
		return true
	}
	return s.Terminal()
}

// createTask queues a task and answers 201 with it and its Location.
func (h *Handler) createTask(w http.ResponseWriter, r *http.Request, p *principal) error {
	projectName, templateName := r.PathValue("project"), r.PathValue("template")
	pr, err := h.lookupProject(p, projectName)
	if err != nil {
		return err
	}
	if pr.Templates[templateName] == nil {
		return errorf(http.StatusNotFound, "no such template %q in project %q", templateName, projectName)
	}
	var body CreateTaskRequest
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	if err := checkVarsSize(body.Vars); err != nil {
		return err
	}
	trigger := task.TriggerAPI
	if r.Header.Get(TriggerHeader) == "cli" {
		trigger = task.TriggerCLI
	}
	t, err := h.engine.Submit(r.Context(), task.Request{
		Project:   projectName,
		Template:  templateName,
		Trigger:   task.Trigger{Type: trigger, Actor: p.name},
		Overrides: body.Overrides,
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/tasks/"+strconv.FormatUint(t.ID, 10))
	writeJSON(w, http.StatusCreated, TaskOf(t))
	return nil
}

// taskAction answers a POST on one task (stop, confirm, reject) with the
// task as the engine left it.
func (h *Handler) taskAction(fn func(ctx context.Context, id uint64) (state.Task, error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p *principal) error {
		t, err := h.visibleTask(r.Context(), r, p)
		if err != nil {
			return err
		}
		t, err = fn(r.Context(), t.ID)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, TaskOf(t))
		return nil
	}
}

// stopProject stops every waiting task of a project, or of one of its
// templates, and answers how many.
func (h *Handler) stopProject(w http.ResponseWriter, r *http.Request, p *principal) error {
	projectName, templateName := r.PathValue("project"), r.PathValue("template")
	pr, err := h.lookupProject(p, projectName)
	if err != nil {
		return err
	}
	if templateName != "" && pr.Templates[templateName] == nil {
		return errorf(http.StatusNotFound, "no such template %q in project %q", templateName, projectName)
	}
	n, err := h.engine.StopWaiting(r.Context(), projectName, templateName)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, StopResult{Stopped: n})
	return nil
}
