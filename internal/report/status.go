package report

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/forge"
	"github.com/semaphored/semaphored/internal/state"
)

// StatusClient posts one commit status; the forge package's clients have it.
type StatusClient interface {
	SetStatus(ctx context.Context, st forge.Status) error
}

// SecretResolver turns a secret reference into its value (config.Resolver).
type SecretResolver interface {
	Resolve(s config.Secret) (string, error)
}

// Linker makes the signed link of a task page (link.Signer).
type Linker interface {
	URL(publicURL string, id uint64, ttl time.Duration) string
}

// Links makes signed task links under a public URL, with the expiry of the
// active config.
type Links struct {
	Signer    Linker
	PublicURL string
	// Expiry returns settings.links.expiry of the active config (nil or
	// zero: the default, 90 days).
	Expiry func() time.Duration
}

// TaskURL is the signed link of task id, or "" when no signer is set.
func (l *Links) TaskURL(id uint64) string {
	if l == nil || l.Signer == nil || l.PublicURL == "" || id == 0 {
		return ""
	}
	var ttl time.Duration
	if l.Expiry != nil {
		ttl = l.Expiry()
	}
	return l.Signer.URL(l.PublicURL, id, ttl)
}

// StatusSender delivers commit_status entries.
type StatusSender struct {
	Tasks   Tasks
	Secrets SecretResolver
	Links   *Links
	// HTTPClient is shared by the forge clients (nil: one with
	// forge.DefaultTimeout).
	HTTPClient *http.Client
	// NewClient overrides how a forge client is made (tests).
	NewClient func(typ config.ForgeType, apiURL, token string, hc *http.Client) (StatusClient, error)
}

// tailLines is how much of a log's end Describe reads.
const tailLines = 400

// logTail reads the texts of the last tailLines lines of t's log, for
// Describe; a log pruned meanwhile has none.
func logTail(ctx context.Context, tasks Tasks, t state.Task) ([]string, error) {
	from := uint64(1)
	if t.LogLines > tailLines {
		from = t.LogLines - tailLines + 1
	}
	lines, err := tasks.ReadLog(ctx, t.ID, from, tailLines)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return nil, err
	}
	var tail []string
	for _, l := range lines {
		tail = append(tail, l.Text)
	}
	return tail, nil
}

// NewStatusClient returns the client of a forge type.
func NewStatusClient(typ config.ForgeType, apiURL, token string, hc *http.Client) (StatusClient, error) {
	switch typ {
	case config.ForgeGitHub:
		return forge.NewGitHubStatus(apiURL, token, hc)
	case config.ForgeGitLab:
		return forge.NewGitLabStatus(apiURL, token, hc)
	case config.ForgeGitea:
		return forge.NewGiteaStatus(apiURL, token, hc)
	}
	return nil, final("unknown forge type %q", typ)
}

// Status renders the status an entry posts: a terminal task status gets
// its description from the task and its log tail, and every task status
// the signed link of its page.
func (s *StatusSender) Status(ctx context.Context, e OutboxEntry) (StatusPayload, forge.Status, error) {
	var p StatusPayload
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		return p, forge.Status{}, final("decode the commit status payload: %v", err)
	}
	st := forge.Status{Repo: p.Repo, SHA: p.SHA, State: p.State, Context: p.Context, Description: p.Description}
	if p.TaskID != 0 {
		st.TargetURL = s.Links.TaskURL(p.TaskID)
	}
	if p.Final && s.Tasks != nil {
		t, err := s.Tasks.Task(ctx, p.TaskID)
		switch {
		case errors.Is(err, state.ErrNotFound):
			st.Description = string(e.Status) // pruned meanwhile
		case err != nil:
			return p, st, err // the store: retry
		default:
			tail, err := logTail(ctx, s.Tasks, t)
			if err != nil {
				return p, st, err
			}
			st.Description = Describe(t, tail)
		}
	}
	return p, st, nil
}

// Send posts the commit status of e.
func (s *StatusSender) Send(ctx context.Context, e OutboxEntry) error {
	p, st, err := s.Status(ctx, e)
	if err != nil {
		return err
	}
	token := ""
	if p.Token != nil && !p.Token.IsZero() {
		if s.Secrets == nil {
			return final("forge token %s: no secret resolver", p.Token)
		}
		v, err := s.Secrets.Resolve(*p.Token)
		if err != nil {
			return final("forge token: %v", err)
		}
		token = v
	}
	newc := s.NewClient
	if newc == nil {
		newc = NewStatusClient
	}
	c, err := newc(p.Forge, p.APIURL, token, s.HTTPClient)
	if err != nil {
		return final("forge client: %v", err)
	}
	return c.SetStatus(ctx, st)
}

// Enqueuer writes outbox entries (the store's EnqueueOutbox).
type Enqueuer interface {
	EnqueueOutbox(ctx context.Context, entries ...OutboxEntry) error
}

// ConfigContext is the commit status context of config revisions.
const ConfigContext = "semaphored/config"

// isCommitID reports whether s is a full git commit id (SHA-1 or SHA-256
// hex); a config read from a directory has a content hash instead, which
// no forge knows.
func isCommitID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ConfigStatusEntry is the commit status of a config revision on the
// config repository's forge f: success when it became active, failure
// with the first errors when it did not validate. ok false when f is nil
// or sha is not a commit id (a directory source's revision).
func ConfigStatusEntry(f *config.Forge, sha string, valid bool, errs []string, now time.Time) (OutboxEntry, bool) {
	if f == nil || !isCommitID(sha) || f.Repo == "" {
		return OutboxEntry{}, false
	}
	p := StatusPayload{Forge: f.Type, APIURL: f.APIURL, Token: f.Token, Repo: f.Repo, SHA: sha, Context: ConfigContext}
	status := state.StatusSuccess
	if valid {
		p.State, p.Description = forge.StateSuccess, "active"
	} else {
		status = state.StatusFailure
		p.State = forge.StateFailure
		desc := ""
		for i, e := range errs {
			if i > 0 {
				desc += "; "
			}
			desc += e
			if len([]rune(desc)) > forge.MaxDescription {
				break
			}
		}
		if desc == "" {
			desc = "invalid"
		}
		p.Description = truncate(desc, forge.MaxDescription)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return OutboxEntry{}, false
	}
	return OutboxEntry{Kind: KindCommitStatus, Target: StatusTarget(p), Status: status, Payload: b, Created: now, NextAttempt: now}, true
}

// ReportConfig enqueues the commit status of a config revision (see
// ConfigStatusEntry) and wakes the worker. Nothing when f is nil.
func (r *Reporter) ReportConfig(ctx context.Context, enq Enqueuer, f *config.Forge, sha string, valid bool, errs []string) error {
	e, ok := ConfigStatusEntry(f, sha, valid, errs, r.now())
	if !ok {
		return nil
	}
	if err := enq.EnqueueOutbox(ctx, e); err != nil {
		return err
	}
	if fn := r.wake.Load(); fn != nil {
		(*fn)()
	}
	return nil
}

// ConfigRejected enqueues the failure status of a rejected config
// revision sha, with its first problems, on the config repository's forge
// of the active configuration active (a rejected revision's own settings
// are not trusted). Nothing when none is declared.
func (r *Reporter) ConfigRejected(ctx context.Context, enq Enqueuer, active config.Snapshot, sha string, problems []string) error {
	return r.ReportConfig(ctx, enq, configForge(active.Config), sha, false, problems)
}

// ConfigActive enqueues the success status of a config revision that
// became active, on the config repository's forge
// (settings.config_repo.forge of that revision), when one is declared and
// the revision is a commit. Main calls it from the syncer's Subscribe.
func (r *Reporter) ConfigActive(ctx context.Context, enq Enqueuer, snap config.Snapshot) error {
	return r.ReportConfig(ctx, enq, configForge(snap.Config), snap.Revision, true, nil)
}

// configForge is the config repository's forge that c declares, or nil.
func configForge(c *config.Config) *config.Forge {
	if c == nil || c.Settings.ConfigRepo == nil {
		return nil
	}
	return c.Settings.ConfigRepo.Forge
}
