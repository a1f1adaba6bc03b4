package forge

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// GitLabStatus posts commit statuses through GitLab's REST API:
// POST /projects/:id/statuses/:sha, where :id is the URL-encoded project
// path. Safe for concurrent use.
type GitLabStatus struct {
	base  string
	token string
	hc    *http.Client
	now   func() time.Time
}

// NewGitLabStatus returns a client for the GitLab at apiURL
// ("https://gitlab.example.com" or ".../api/v4"), authenticating with token
// (a personal, project or group access token with the api scope). hc nil
// means a client with DefaultTimeout.
func NewGitLabStatus(apiURL, token string, hc *http.Client) (*GitLabStatus, error) {
	base, err := apiBase(apiURL, "/api/v4")
	if err != nil {
		return nil, &StatusError{Forge: "gitlab", Message: err.Error()}
	}
	return &GitLabStatus{base: base, token: token, hc: httpClient(hc), now: time.Now}, nil
}

// gitlabState maps a State to GitLab's: pending, running, success, failed,
// canceled (GitLab has no "error").
func gitlabState(s State) string {
	switch s {
	case StateFailure, StateError:
		return "failed"
	}
	return string(s)
}

// SetStatus posts st. A 400 saying the status cannot transition (the same
// state posted twice: GitLab refuses pending → pending) means the commit
// already shows that state, and is not an error.
func (c *GitLabStatus) SetStatus(ctx context.Context, st Status) error {
	if err := st.check(); err != nil {
		err.(*StatusError).Forge = "gitlab"
		return err
	}
	u := c.base + "/projects/" + url.PathEscape(st.Repo) + "/statuses/" + url.PathEscape(st.SHA)
	body := map[string]string{
		"state": gitlabState(st.State),
		"name":  st.Context,
	}
	if st.Description != "" {
		body["description"] = truncate(st.Description, MaxDescription)
	}
	if st.TargetURL != "" {
		body["target_url"] = st.TargetURL
	}
	err := postJSON(ctx, c.hc, "gitlab", u, "PRIVATE-TOKEN", c.token, body, c.now)
	if se, ok := err.(*StatusError); ok && se.Code == http.StatusBadRequest && strings.Contains(se.Message, "Cannot transition status") {
		return nil
	}
	return err
}
