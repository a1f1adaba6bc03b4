package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Message is what a notification says about one finished task.
type Message struct {
	// Event is "failure", "recovery" or "end".
	Event    string        `json:"event"`
	Project  string        `json:"project"`
	Template string        `json:"template"`
	TaskID   uint64        `json:"task_id"`
	Status   string        `json:"status"`
	Summary  string        `json:"summary,omitempty"`
	URL      string        `json:"url,omitempty"`
	Commit   string        `json:"commit,omitempty"`
	Branch   string        `json:"branch,omitempty"`
	Trigger  string        `json:"trigger,omitempty"`
	Duration time.Duration `json:"-"`
}

// Title is one line: a mark, PROJECT/TEMPLATE #ID and what happened.
func (m Message) Title() string {
	mark, verb := "❌", m.Status
	switch {
	case m.Event == "recovery":
		mark, verb = "✅", "recovered"
	case m.Status == "success":
		mark, verb = "✅", "succeeded"
	case m.Status == "failure":
		verb = "failed"
	case m.Status == "stopped":
		mark = "⏹"
	case m.Status == "interrupted", m.Status == "error":
		mark = "⚠️"
	}
	return fmt.Sprintf("%s %s/%s #%d %s", mark, m.Project, m.Template, m.TaskID, verb)
}

// Details is the summary and the commit, one per line.
func (m Message) Details() []string {
	var out []string
	if m.Summary != "" {
		out = append(out, m.Summary)
	}
	if m.Commit != "" {
		c := m.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		s := "commit " + c
		if m.Branch != "" {
			s += " on " + m.Branch
		}
		if m.Trigger != "" {
			s += " (" + m.Trigger + ")"
		}
		out = append(out, s)
	}
	if m.Duration > 0 {
		out = append(out, "took "+m.Duration.Round(time.Second).String())
	}
	return out
}

// Text is the message as plain text: title, details, link.
func (m Message) Text() string {
	lines := append([]string{m.Title()}, m.Details()...)
	if m.URL != "" {
		lines = append(lines, m.URL)
	}
	return strings.Join(lines, "\n")
}

// Error is a message a channel did not take. Message is what the service
// said or what went wrong; it never holds a URL or a token.
type Error struct {
	Channel    string
	Code       int
	Message    string
	Retryable  bool
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	s := e.Channel + ": send"
	if e.Code != 0 {
		s += fmt.Sprintf(": HTTP %d", e.Code)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Retry says whether a retry may help and after how long the service
// asked to wait.
func (e *Error) Retry() (bool, time.Duration) { return e.Retryable, e.RetryAfter }

// DefaultTimeout bounds one request when the caller's client has none.
const DefaultTimeout = 30 * time.Second

func client(hc *http.Client) *http.Client {
	if hc != nil {
		return hc
	}
	return &http.Client{Timeout: DefaultTimeout}
}

// netError classifies a transport error without its text (a *url.Error
// names the URL, which is a secret here).
func netError(channel string, err error) *Error {
	e := &Error{Channel: channel, Retryable: true, Err: errors.Unwrap(err)}
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.Is(err, context.Canceled):
		e.Message = "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		e.Message = "timeout"
	case errors.As(err, &oe):
		e.Message = "connection error: " + oe.Err.Error()
	default:
		e.Message = "connection error"
	}
	return e
}

// post sends body to url and classifies the answer with the service's
// message taken from the body by msg. The url never appears in an error.
func post(ctx context.Context, hc *http.Client, channel, url string, header http.Header, body []byte, msg func([]byte) (string, time.Duration)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return &Error{Channel: channel, Message: "invalid URL"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "semaphored")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client(hc).Do(req)
	if err != nil {
		return netError(channel, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	e := &Error{Channel: channel, Code: resp.StatusCode}
	var after time.Duration
	if msg != nil {
		e.Message, after = msg(data)
	}
	if e.Message == "" {
		e.Message = plain(data)
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout {
		e.Retryable = true
		e.RetryAfter = retryAfter(resp.Header)
		if after > e.RetryAfter {
			e.RetryAfter = after
		}
	}
	return e
}

// plain is a short plain-text message from a body (Slack answers
// "invalid_payload", "no_service"...).
func plain(data []byte) string {
	s := strings.TrimSpace(string(data))
	if s == "" || strings.HasPrefix(s, "<") {
		return ""
	}
	if r := []rune(s); len(r) > 300 {
		s = string(r[:300]) + "…"
	}
	return s
}

func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// postJSON marshals v and posts it (see post).
func postJSON(ctx context.Context, hc *http.Client, channel, url string, header http.Header, v any, msg func([]byte) (string, time.Duration)) error {
	body, err := json.Marshal(v)
	if err != nil {
		return &Error{Channel: channel, Message: "encode: " + err.Error()}
	}
	return post(ctx, hc, channel, url, header, body, msg)
}
