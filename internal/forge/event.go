package forge

import (
	"errors"
	"fmt"
	"strings"
)

// Type names a forge. The values equal config.ForgeType's.
type Type string

// The forges.
const (
	GitHub Type = "github"
	GitLab Type = "gitlab"
	Gitea  Type = "gitea"
)

// Kind is what an event is about, across forges.
type Kind string

// The kinds of event. KindOther covers everything semaphored does not act
// on (GitHub create/delete, labels, issues, ...): Event.Name says which.
const (
	KindPush        Kind = "push"
	KindPullRequest Kind = "pull_request"
	KindPing        Kind = "ping"
	KindOther       Kind = "other"
)

// ZeroSHA is the all-zero object id forges send as "before" of a created
// ref and "after" of a deleted one.
const ZeroSHA = "0000000000000000000000000000000000000000"

// Event is one webhook delivery, normalised. Repo is the repository the hook
// is installed on (for a pull request: the base repository).
type Event struct {
	Forge Type `json:"forge"`
	Kind  Kind `json:"kind"`
	// Name is the forge's own event name ("push", "Merge Request Hook").
	Name string `json:"name"`
	// Repo is "owner/name" (GitLab: the full project path).
	Repo string `json:"repo"`
	// Sender is the login of who caused the event, when the payload says.
	Sender string `json:"sender,omitempty"`

	Push        *Push        `json:"push,omitempty"`
	PullRequest *PullRequest `json:"pull_request,omitempty"`
}

// Push is a push of a branch or a tag.
type Push struct {
	// Ref is the full ref ("refs/heads/main", "refs/tags/v1").
	Ref string `json:"ref"`
	// Branch or Tag is set, from Ref; both are empty for other refs.
	Branch string `json:"branch,omitempty"`
	Tag    string `json:"tag,omitempty"`
	Before string `json:"before"`
	After  string `json:"after"`
	// Commit is the commit to run at: the pushed commit (for an annotated
	// tag, the commit it points at when the forge says: GitHub's
	// head_commit, GitLab's checkout_sha), else After. Empty on deletion.
	Commit string `json:"commit,omitempty"`
	// Created and Deleted say the ref appeared or went away.
	Created bool `json:"created,omitempty"`
	Deleted bool `json:"deleted,omitempty"`
	// Commits is how many commits the push carried, as the forge counts
	// them (may exceed the listed ones).
	Commits int `json:"commits"`
	// Changed is the sorted union of added, modified and removed paths over
	// the listed commits.
	Changed []string `json:"changed,omitempty"`
	// Complete says Changed covers every commit of the push: false when the
	// forge listed fewer commits than it pushed (GitHub lists at most 20,
	// GitLab's total_commits_count can exceed its list) or left file lists
	// out (old Gitea payloads). Then the changed paths must come from a diff
	// Before..After in a clone.
	Complete bool `json:"complete"`
}

// PRAction is what happened to a pull request, normalised across forges.
type PRAction string

// The normalised pull request actions. PRUpdated means new commits on the
// head (GitHub synchronize, GitLab update with oldrev, Gitea synchronized);
// PROther is everything else (labels, edits, review requests, ...).
const (
	PROpened   PRAction = "opened"
	PRUpdated  PRAction = "updated"
	PRReopened PRAction = "reopened"
	PRReady    PRAction = "ready_for_review"
	PRClosed   PRAction = "closed"
	PROther    PRAction = "other"
)

// Runs reports whether the action asks for a check run at the head.
func (a PRAction) Runs() bool {
	switch a {
	case PROpened, PRUpdated, PRReopened, PRReady:
		return true
	}
	return false
}

// PullRequest is a pull request (GitLab: merge request) event.
type PullRequest struct {
	Number int      `json:"number"`
	Action PRAction `json:"action"`
	// RawAction is the forge's own action word ("synchronize", "update").
	RawAction string `json:"raw_action"`
	HeadRef   string `json:"head_ref"`
	HeadSHA   string `json:"head_sha"`
	// HeadRepo is the repository the head branch lives in.
	HeadRepo string `json:"head_repo"`
	BaseRef  string `json:"base_ref"`
	// BaseSHA is the base branch's commit when the forge says (GitLab does
	// not): empty means the base branch's head.
	BaseSHA  string `json:"base_sha,omitempty"`
	BaseRepo string `json:"base_repo"`
	// Fork is true when the head repository is not the base repository.
	Fork  bool `json:"fork,omitempty"`
	Draft bool `json:"draft,omitempty"`
	// Merged is set on a close that merged.
	Merged bool `json:"merged,omitempty"`
}

// ErrMalformed wraps every parse error: the payload is not what the forge
// sends (bad JSON or a missing field). The message says which field.
var ErrMalformed = errors.New("malformed payload")

func malformed(format string, args ...any) error {
	return &parseError{msg: fmt.Sprintf(format, args...)}
}

type parseError struct{ msg string }

func (e *parseError) Error() string { return e.msg }
func (e *parseError) Unwrap() error { return ErrMalformed }

// splitRef returns the branch or tag a full ref names.
func splitRef(ref string) (branch, tag string) {
	if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
		return b, ""
	}
	if t, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
		return "", t
	}
	return "", ""
}

func isZero(sha string) bool {
	return sha == "" || strings.Trim(sha, "0") == ""
}
