package forge

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v89/github"
)

// GitHubStatus posts commit statuses through go-github (GitHub.com or
// GitHub Enterprise Server). Safe for concurrent use.
type GitHubStatus struct {
	c   *github.Client
	now func() time.Time
}

// NewGitHubStatus returns a client for the GitHub API at apiURL (empty:
// https://api.github.com; a GitHub Enterprise URL such as
// "https://ghe.example.com/api/v3/" otherwise), authenticating with token.
// hc nil means a client with DefaultTimeout. go-github's own pre-emptive
// rate limit check is off: the caller (the outbox worker) waits out the
// reset it is told.
func NewGitHubStatus(apiURL, token string, hc *http.Client) (*GitHubStatus, error) {
	opts := []github.ClientOptionsFunc{
		github.WithHTTPClient(httpClient(hc)),
		github.WithUserAgent("semaphored"),
		github.WithDisableRateLimitCheck(),
	}
	if token != "" {
		opts = append(opts, github.WithAuthToken(token))
	}
	if u := strings.TrimSpace(apiURL); u != "" && strings.TrimRight(u, "/") != "https://api.github.com" {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return nil, &StatusError{Forge: "github", Message: "api_url is not http(s)"}
		}
		opts = append(opts, github.WithEnterpriseURLs(u, u))
	}
	c, err := github.NewClient(opts...)
	if err != nil {
		return nil, &StatusError{Forge: "github", Message: "api_url: " + err.Error()}
	}
	return &GitHubStatus{c: c, now: time.Now}, nil
}

// githubState maps a State to GitHub's: error, failure, pending, success.
func githubState(s State) string {
	switch s {
	case StateRunning:
		return "pending"
	case StateCanceled:
		return "error"
	}
	return string(s)
}

// SetStatus posts st.
func (c *GitHubStatus) SetStatus(ctx context.Context, st Status) error {
	if err := st.check(); err != nil {
		err.(*StatusError).Forge = "github"
		return err
	}
	owner, name, _ := strings.Cut(st.Repo, "/")
	rs := github.RepoStatus{
		State:   github.Ptr(githubState(st.State)),
		Context: github.Ptr(st.Context),
	}
	if st.Description != "" {
		rs.Description = github.Ptr(truncate(st.Description, MaxDescription))
	}
	if st.TargetURL != "" {
		rs.TargetURL = github.Ptr(st.TargetURL)
	}
	_, resp, err := c.c.Repositories.CreateStatus(ctx, owner, name, st.SHA, rs)
	if err == nil {
		return nil
	}
	return c.classify(err, resp)
}

// classify turns a go-github error into a *StatusError.
func (c *GitHubStatus) classify(err error, resp *github.Response) error {
	now := c.now()
	var rl *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	var er *github.ErrorResponse
	switch {
	case errors.As(err, &rl):
		e := &StatusError{Forge: "github", Message: rl.Message, Retryable: true}
		if rl.Response != nil {
			e.Code = rl.Response.StatusCode
		}
		if !rl.Rate.Reset.IsZero() {
			e.RetryAfter = max(rl.Rate.Reset.Sub(now), time.Second)
		}
		if e.Message == "" {
			e.Message = "API rate limit exceeded"
		}
		return e
	case errors.As(err, &abuse):
		e := &StatusError{Forge: "github", Message: abuse.Message, Retryable: true}
		if abuse.Response != nil {
			e.Code = abuse.Response.StatusCode
		}
		if abuse.RetryAfter != nil {
			e.RetryAfter = *abuse.RetryAfter
		} else {
			e.RetryAfter = time.Minute
		}
		return e
	case errors.As(err, &er) && er.Response != nil:
		msg := er.Message
		if len(er.Errors) > 0 && er.Errors[0].Message != "" {
			msg += ": " + er.Errors[0].Message
		}
		return httpStatusError("github", er.Response, msg, now)
	case resp != nil && resp.Response != nil && resp.StatusCode >= 300:
		return httpStatusError("github", resp.Response, "", now)
	}
	return transportError("github", err)
}
