package report

import (
	"encoding/json"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/forge"
	"github.com/semaphored/semaphored/internal/state"
)

// StatusPayload is the payload of a commit_status entry: everything needed
// to post the status later, even after the config changed. Token is a
// secret reference (resolved at delivery), never a value.
type StatusPayload struct {
	Forge   config.ForgeType `json:"forge"`
	APIURL  string           `json:"api_url,omitempty"`
	Token   *config.Secret   `json:"token,omitempty"`
	Repo    string           `json:"repo"`
	SHA     string           `json:"sha"`
	State   forge.State      `json:"state"`
	Context string           `json:"context"`
	// Description is set for pending and running statuses (and config
	// statuses); a terminal task status gets its description from the log
	// at delivery (Describe).
	Description string `json:"description,omitempty"`
	// TaskID links the status to the task page (a signed link made at
	// delivery); 0 for config statuses.
	TaskID uint64 `json:"task_id,omitempty"`
	// Final marks a terminal task status.
	Final bool `json:"final,omitempty"`
}

// NotificationPayload is the payload of a notification entry: the
// destination as declared (secret references only) and what it is for.
type NotificationPayload struct {
	Project      string              `json:"project"`
	Notification config.Notification `json:"notification"`
	// RecoveryOnly: sent only when the previous finished task of the
	// template did not succeed (the worker checks at delivery).
	RecoveryOnly bool `json:"recovery_only,omitempty"`
}

// Reporter turns task status changes into outbox entries. SetConfig is
// called by main whenever a config revision becomes active; OutboxFunc is
// what state.Options.Outbox gets. Safe for concurrent use.
type Reporter struct {
	cfg  atomic.Pointer[config.Config]
	wake atomic.Pointer[func()]
	now  func() time.Time
}

// NewReporter returns a Reporter with no config yet (it enqueues nothing
// until SetConfig). now nil means time.Now.
func NewReporter(now func() time.Time) *Reporter {
	if now == nil {
		now = time.Now
	}
	return &Reporter{now: now}
}

// SetConfig makes cfg the config OutboxFunc reads (nil: none).
func (r *Reporter) SetConfig(cfg *config.Config) { r.cfg.Store(cfg) }

// OnEnqueue sets fn to be called after OutboxFunc returned entries (the
// worker's Wake). fn must not block.
func (r *Reporter) OnEnqueue(fn func()) { r.wake.Store(&fn) }

// StatusContext is the commit status context of a task: semaphored/PROJECT/
// TEMPLATE, with /check added for pull-request runs.
func StatusContext(t state.Task) string {
	c := "semaphored/" + t.Project + "/" + t.Template
	if triggerType(t) == "pull_request" {
		c += "/check"
	}
	return c
}

// StatusTarget is the outbox target of a commit status: one per forge,
// repository, commit and context, so that a newer state replaces an older
// one still undelivered.
func StatusTarget(p StatusPayload) string {
	return string(p.Forge) + ":" + p.Repo + "@" + p.SHA + "#" + p.Context
}

// taskState maps a task status change to the commit state to post and its
// description; ok false when the change posts nothing.
func taskState(old, new state.Task) (st forge.State, desc string, ok bool) {
	if old.Status == new.Status && old.Commit == new.Commit {
		return "", "", false
	}
	switch new.Status {
	case state.StatusWaiting:
		return forge.StatePending, "Queued", true
	case state.StatusStarting:
		if old.Commit == "" && new.Commit != "" {
			return forge.StatePending, "Starting", true
		}
		return "", "", false
	case state.StatusRunning:
		return forge.StateRunning, "Running", true
	case state.StatusWaitingConfirmation:
		return forge.StatePending, "Waiting for confirmation", true
	case state.StatusSuccess:
		return forge.StateSuccess, "", true
	case state.StatusFailure:
		return forge.StateFailure, "", true
	case state.StatusStopped:
		return forge.StateCanceled, "", true
	case state.StatusError, state.StatusInterrupted:
		return forge.StateError, "", true
	}
	return "", "", false
}

// OutboxFunc returns the outbox entries of one task status change (old
// has Status "" on create): a commit status when the task has a commit and
// its template's repository a forge, and on a terminal status one
// notification per matching destination of the project. Pure and fast: it
// reads the config stored by SetConfig and does no I/O.
func (r *Reporter) OutboxFunc(old, new state.Task) []OutboxEntry {
	cfg := r.cfg.Load()
	if cfg == nil {
		return nil
	}
	p := cfg.Projects[new.Project]
	if p == nil {
		return nil
	}
	now := r.now()
	var out []OutboxEntry
	if e, ok := statusEntry(p, old, new, now); ok {
		out = append(out, e)
	}
	if new.Status.Terminal() && !old.Status.Terminal() {
		out = append(out, notificationEntries(p, new, now)...)
	}
	if len(out) > 0 {
		if fn := r.wake.Load(); fn != nil {
			(*fn)()
		}
	}
	return out
}

func statusEntry(p *config.Project, old, new state.Task, now time.Time) (OutboxEntry, bool) {
	if new.Commit == "" {
		return OutboxEntry{}, false
	}
	tpl := p.Templates[new.Template]
	if tpl == nil {
		return OutboxEntry{}, false
	}
	repo := p.Repositories[tpl.Repository]
	if repo == nil || repo.Forge == nil {
		return OutboxEntry{}, false
	}
	st, desc, ok := taskState(old, new)
	if !ok {
		return OutboxEntry{}, false
	}
	f := repo.Forge
	pl := StatusPayload{
		Forge: f.Type, APIURL: f.APIURL, Token: f.Token, Repo: repo.ForgeRepo(),
		SHA: new.Commit, State: st, Context: StatusContext(new), Description: desc,
		TaskID: new.ID, Final: new.Status.Terminal(),
	}
	b, err := json.Marshal(pl)
	if err != nil {
		return OutboxEntry{}, false
	}
	return OutboxEntry{
		Kind: KindCommitStatus, Target: StatusTarget(pl), TaskID: new.ID, Status: new.Status,
		Payload: b, Created: now, NextAttempt: now,
	}, true
}

func notificationEntries(p *config.Project, t state.Task, now time.Time) []OutboxEntry {
	var out []OutboxEntry
	for _, name := range sortedNames(p.Notifications) {
		n := p.Notifications[name]
		if !n.Wants(t.Template) {
			continue
		}
		pl := NotificationPayload{Project: p.Name, Notification: *n}
		switch {
		case n.Sends(config.OnEnd):
		case t.Status == state.StatusSuccess && n.Sends(config.OnRecovery):
			pl.RecoveryOnly = true
		case t.Status != state.StatusSuccess && n.Sends(config.OnFailure):
		default:
			continue
		}
		b, err := json.Marshal(pl)
		if err != nil {
			continue
		}
		out = append(out, OutboxEntry{
			Kind:   KindNotification,
			Target: string(n.Type) + ":" + p.Name + "/" + n.Name + "#" + strconv.FormatUint(t.ID, 10),
			TaskID: t.ID, Status: t.Status, Payload: b, Created: now, NextAttempt: now,
		})
	}
	return out
}
