package forge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// This file holds what the commit status clients share: the status they
// post, the error that says whether a failed post is worth a retry, and the
// parsing of the headers that say when. Each forge has its own file
// (status_github.go, status_gitlab.go, status_gitea.go); all three are
// checked by one test suite (status_test.go) against httptest servers that
// speak each forge's request and response shapes.

// State is the state of a commit status, in the daemon's words. Each
// client maps it to its forge's vocabulary (GitLab "failed", "canceled").
type State string

// The states a commit status can have.
const (
	StatePending  State = "pending"
	StateRunning  State = "running"
	StateSuccess  State = "success"
	StateFailure  State = "failure"
	StateError    State = "error"
	StateCanceled State = "canceled"
)

// Valid reports whether s is one of the known states.
func (s State) Valid() bool {
	switch s {
	case StatePending, StateRunning, StateSuccess, StateFailure, StateError, StateCanceled:
		return true
	}
	return false
}

// Status is one commit status to post.
type Status struct {
	// Repo is "owner/name" (GitLab: the project path, "group/sub/name").
	Repo string `json:"repo"`
	// SHA is the full commit id.
	SHA   string `json:"sha"`
	State State  `json:"state"`
	// Context tells this status from others on the same commit
	// ("semaphored/web/deploy"); GitLab calls it name.
	Context     string `json:"context"`
	Description string `json:"description,omitempty"`
	TargetURL   string `json:"target_url,omitempty"`
}

func (s Status) check() error {
	if !s.State.Valid() {
		return &StatusError{Message: fmt.Sprintf("unknown status state %q", s.State)}
	}
	owner, name, ok := strings.Cut(s.Repo, "/")
	if !ok || owner == "" || name == "" {
		return &StatusError{Message: fmt.Sprintf("repository %q is not owner/name", s.Repo)}
	}
	if s.SHA == "" {
		return &StatusError{Message: "no commit"}
	}
	return nil
}

// MaxDescription is the longest description the forges accept (GitHub: 140
// characters); longer ones are cut by the clients.
const MaxDescription = 140

// truncate cuts s to at most n characters (runes), ending with "…" when cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// StatusError is a commit status the forge did not accept. It never holds
// the token: Message is the forge's own message, or ours.
type StatusError struct {
	// Forge is "github", "gitlab" or "gitea"; empty for a status refused
	// before any request was sent.
	Forge string
	// Code is the HTTP status code, 0 when there was no response.
	Code int
	// Message is what the forge said (or what went wrong before it could).
	Message string
	// Retryable says a later attempt may succeed (5xx, 429, a rate limit,
	// a timeout or a connection error); otherwise the failure is final.
	Retryable bool
	// RetryAfter is how long the forge asked to wait (Retry-After, or the
	// rate limit reset); zero when it did not say.
	RetryAfter time.Duration
	// Err is the underlying transport error, when there was one.
	Err error
}

func (e *StatusError) Error() string {
	var b strings.Builder
	if e.Forge != "" {
		b.WriteString(e.Forge)
		b.WriteString(": ")
	}
	b.WriteString("commit status")
	if e.Code != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter.Round(time.Second))
	}
	return b.String()
}

func (e *StatusError) Unwrap() error { return e.Err }

// Classify says whether err, returned by a status client, is worth a retry
// and after how long the forge asked to wait (zero: the caller's backoff
// decides). Errors that are not a *StatusError are treated as transport
// errors: retryable.
func Classify(err error) (retry bool, after time.Duration) {
	if err == nil {
		return false, 0
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.Retryable, se.RetryAfter
	}
	return true, 0
}

// httpStatusError classifies a non-2xx response: 5xx, 429 and 408 are
// retryable, and so is a 403 that says the rate limit is spent; other 4xx
// are final.
func httpStatusError(forge string, resp *http.Response, msg string, now time.Time) *StatusError {
	e := &StatusError{Forge: forge, Code: resp.StatusCode, Message: msg}
	switch {
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusRequestTimeout:
		e.Retryable = true
	case resp.StatusCode == http.StatusForbidden && rateLimitSpent(resp.Header):
		e.Retryable = true
	}
	if e.Retryable {
		e.RetryAfter = retryAfter(resp.Header, now)
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

// rateLimitSpent reports whether the response says the rate limit is used
// up (GitHub and Gitea "X-RateLimit-Remaining", GitLab "RateLimit-Remaining").
func rateLimitSpent(h http.Header) bool {
	for _, k := range []string{"X-RateLimit-Remaining", "RateLimit-Remaining"} {
		if v := h.Get(k); v != "" {
			return strings.TrimSpace(v) == "0"
		}
	}
	return false
}

// retryAfter reads Retry-After (seconds or an HTTP date), then a spent
// rate limit's reset time (Unix seconds: "X-RateLimit-Reset" on GitHub,
// "RateLimit-Reset" on GitLab). Zero when none says.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if s, err := strconv.Atoi(v); err == nil && s >= 0 {
			return time.Duration(s) * time.Second
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0)
		}
	}
	if rateLimitSpent(h) {
		for _, k := range []string{"X-RateLimit-Reset", "RateLimit-Reset"} {
			if v := strings.TrimSpace(h.Get(k)); v != "" {
				if s, err := strconv.ParseInt(v, 10, 64); err == nil {
					return max(time.Unix(s, 0).Sub(now), time.Second)
				}
			}
		}
	}
	return 0
}

// transportError wraps an error of the HTTP round trip: always retryable
// (a timeout, a refused or reset connection, a DNS failure), unless the
// caller's context ended. The URL of a *url.Error is kept out: it holds no
// token here, but the message stays short.
func transportError(forge string, err error) *StatusError {
	e := &StatusError{Forge: forge, Err: err, Retryable: true}
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		e.Message = "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		e.Message = "timeout"
	default:
		var oe *net.OpError
		if errors.As(err, &oe) {
			e.Message = "connection error: " + oe.Err.Error()
		} else {
			e.Message = "connection error"
		}
	}
	return e
}

// DefaultTimeout bounds one status request when the caller's HTTP client
// has no timeout of its own.
const DefaultTimeout = 30 * time.Second

func httpClient(hc *http.Client) *http.Client {
	if hc != nil {
		return hc
	}
	return &http.Client{Timeout: DefaultTimeout}
}

// apiBase returns apiURL with suffix appended unless it already ends in it
// ("https://gitlab.example.com" and "https://gitlab.example.com/api/v4"
// both work), without a trailing slash.
func apiBase(apiURL, suffix string) (string, error) {
	u := strings.TrimRight(strings.TrimSpace(apiURL), "/")
	if u == "" {
		return "", errors.New("no api_url")
	}
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return "", fmt.Errorf("api_url %q is not http(s)", apiURL)
	}
	if !strings.HasSuffix(u, suffix) {
		u += suffix
	}
	return u, nil
}

// Retry says whether the failed post is worth a retry and after how long
// the forge asked to wait; the outbox worker classifies errors by it.
func (e *StatusError) Retry() (bool, time.Duration) { return e.Retryable, e.RetryAfter }
