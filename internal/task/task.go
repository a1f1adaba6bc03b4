package task

import "time"

// Overrides are the parameters a caller may set on a task, each allowed
// only when the template lists it in allow_overrides. Zero values mean
// "as the template declares".
type Overrides struct {
	// Commit is the SHA to run at; empty means the head of Branch when
	// the task starts.
	Commit    string         `json:"commit,omitempty"`
	Branch    string         `json:"branch,omitempty"`
	Vars      map[string]any `json:"vars,omitempty"`
	Arguments []string       `json:"arguments,omitempty"`
	Limit     string         `json:"limit,omitempty"`
	Tags      []string       `json:"tags,omitempty"`
	SkipTags  []string       `json:"skip_tags,omitempty"`
	Workspace string         `json:"workspace,omitempty"`
	// DryRun runs in check/plan mode and never applies.
	DryRun bool `json:"dry_run,omitempty"`
}

// The names of the overrides, as written in a template's allow_overrides
// and in the JSON of a task.
const (
	OverrideCommit    = "commit"
	OverrideBranch    = "branch"
	OverrideVars      = "vars"
	OverrideArguments = "arguments"
	OverrideLimit     = "limit"
	OverrideTags      = "tags"
	OverrideSkipTags  = "skip_tags"
	OverrideWorkspace = "workspace"
	OverrideDryRun    = "dry_run"
)

// Set returns the names of the overrides o sets, in a fixed order.
func (o Overrides) Set() []string {
	var out []string
	add := func(set bool, name string) {
		if set {
			out = append(out, name)
		}
	}
	add(o.Commit != "", OverrideCommit)
	add(o.Branch != "", OverrideBranch)
	add(len(o.Vars) > 0, OverrideVars)
	add(len(o.Arguments) > 0, OverrideArguments)
	add(o.Limit != "", OverrideLimit)
	add(len(o.Tags) > 0, OverrideTags)
	add(len(o.SkipTags) > 0, OverrideSkipTags)
	add(o.Workspace != "", OverrideWorkspace)
	add(o.DryRun, OverrideDryRun)
	return out
}

// TriggerType says what kind of producer created a task.
type TriggerType string

// The trigger types. More may be added; an unknown type is stored and
// shown as it is.
const (
	TriggerAPI         TriggerType = "api"
	TriggerCLI         TriggerType = "cli"
	TriggerPush        TriggerType = "push"
	TriggerPullRequest TriggerType = "pull_request"
	TriggerSchedule    TriggerType = "schedule"
	TriggerIntegration TriggerType = "integration"
)

// Machine reports whether t is a trigger other than a person through the
// API or the CLI (push, pull_request, schedule, integration, ...): such
// producers pick the commit and branch themselves, so those need no
// allow_overrides entry.
func (t TriggerType) Machine() bool {
	return t != "" && t != TriggerAPI && t != TriggerCLI
}

// Trigger is what created a task, and where it came from. It never holds
// a secret. Tasks stored before it was an object ("trigger":"api" with a
// sibling "triggered_by") are read by the state, which knows that form.
type Trigger struct {
	Type TriggerType `json:"type"`
	// Actor is the token name, sender login, schedule or integration name.
	Actor string `json:"actor,omitempty"`
	// Source is "github", "gitlab", "gitea", "schedule" or "integration".
	Source     string `json:"source,omitempty"`
	DeliveryID string `json:"delivery_id,omitempty"`
	PR         int    `json:"pr,omitempty"`
	// Head and Base are the pull request's head and base branches.
	Head string `json:"head,omitempty"`
	Base string `json:"base,omitempty"`
	// Fork is true for a pull request from a fork: it runs without the
	// project's secrets.
	Fork bool `json:"fork,omitempty"`
	// Slot is the schedule slot the task was created for.
	Slot time.Time `json:"slot,omitzero"`
}

// Request asks for a task of a template. The overrides are checked
// against the template's allow_overrides by the engine.
type Request struct {
	Project  string  `json:"project"`
	Template string  `json:"template"`
	Trigger  Trigger `json:"trigger"`
	// DedupeKey, when not empty, makes the request idempotent: at most one
	// task ever exists per key (e.g. "github:<delivery>/web/deploy").
	DedupeKey string `json:"dedupe_key,omitempty"`
	Overrides
}
