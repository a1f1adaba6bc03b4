package forge

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// GiteaStatus posts commit statuses through the Gitea and Forgejo API:
// POST /api/v1/repos/{owner}/{repo}/statuses/{sha}. Safe for concurrent use.
type GiteaStatus struct {
	base  string
	token string
	hc    *http.Client
	now   func() time.Time
}

// NewGiteaStatus returns a client for the Gitea or Forgejo at apiURL
// ("https://git.example.com" or ".../api/v1"), authenticating with token
// (an access token with write:repository). hc nil means a client with
// DefaultTimeout.
func NewGiteaStatus(apiURL, token string, hc *http.Client) (*GiteaStatus, error) {
	base, err := apiBase(apiURL, "/api/v1")
	if err != nil {
		return nil, &StatusError{Forge: "gitea", Message: err.Error()}
	}
	return &GiteaStatus{base: base, token: token, hc: httpClient(hc), now: time.Now}, nil
}

// giteaState maps a State to Gitea's: pending, success, error, failure,
// warning (no running or canceled).
func giteaState(s State) string {
	switch s {
	case StateRunning:
		return "pending"
	case StateCanceled:
		return "error"
	}
	return string(s)
}

// SetStatus posts st.
func (c *GiteaStatus) SetStatus(ctx context.Context, st Status) error {
	if err := st.check(); err != nil {
		err.(*StatusError).Forge = "gitea"
		return err
	}
	owner, name, _ := strings.Cut(st.Repo, "/")
	u := c.base + "/repos/" + url.PathEscape(owner) + "/" + url.PathEscape(name) + "/statuses/" + url.PathEscape(st.SHA)
	body := map[string]string{
		"state":       giteaState(st.State),
		"context":     st.Context,
		"description": truncate(st.Description, MaxDescription),
		"target_url":  st.TargetURL,
	}
	auth := ""
	if c.token != "" {
		auth = "token " + c.token
	}
	return postJSON(ctx, c.hc, "gitea", u, "Authorization", auth, body, c.now)
}
