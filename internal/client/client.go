package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/semaphored/semaphored/internal/api"
	"github.com/semaphored/semaphored/internal/state"
)

// Error is an error answer of the server: its HTTP status and message.
type Error struct {
	Status  int
	Message string
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("server answered %d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// Client calls one semaphored server with one token.
type Client struct {
	base    string
	token   string
	http    *http.Client
	trigger string
}

// New returns a client of the server at baseURL (e.g.
// "http://127.0.0.1:8080") authenticating with token. httpClient nil means
// a client with no overall timeout (contexts bound each call).
func New(baseURL, token string, httpClient *http.Client) *Client {
	if httpClient == nil {
		httpClient = &http.Client{}
	}
	return &Client{base: strings.TrimRight(baseURL, "/"), token: token, http: httpClient}
}

// AsCLI marks the tasks this client creates as triggered by "cli" rather
// than "api", and returns c.
func (c *Client) AsCLI() *Client {
	c.trigger = "cli"
	return c
}

// Projects lists the projects the token may see.
func (c *Client) Projects(ctx context.Context) ([]api.Project, error) {
	var out []api.Project
	_, err := c.do(ctx, http.MethodGet, "/api/v1/projects", nil, &out)
	return out, err
}

// Templates lists the templates of a project.
func (c *Client) Templates(ctx context.Context, project string) ([]api.Template, error) {
	var out []api.Template
	_, err := c.do(ctx, http.MethodGet, "/api/v1/projects/"+url.PathEscape(project)+"/templates", nil, &out)
	return out, err
}

// Tasks lists up to limit tasks matching f with an ID below before (0:
// from the newest), newest first (limit 0: the server's default page). It
// returns the before cursor of the next page, 0 when this was the last.
func (c *Client) Tasks(ctx context.Context, f state.TaskFilter, before uint64, limit int) ([]api.Task, uint64, error) {
	q := url.Values{}
	if f.Project != "" {
		q.Set("project", f.Project)
	}
	if f.Template != "" {
		q.Set("template", f.Template)
	}
	for _, s := range f.Status {
		q.Add("status", string(s))
	}
	if before > 0 {
		q.Set("before", strconv.FormatUint(before, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := "/api/v1/tasks"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out []api.Task
	resp, err := c.do(ctx, http.MethodGet, path, nil, &out)
	if err != nil {
		return nil, 0, err
	}
	next, err := nextCursor(resp.Header.Get("Link"))
	if err != nil {
		return nil, 0, fmt.Errorf("list tasks: %w", err)
	}
	return out, next, nil
}

// nextCursor reads the before parameter of a Link rel="next" header.
func nextCursor(link string) (uint64, error) {
	for part := range strings.SplitSeq(link, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if !ok || !strings.Contains(params, `rel="next"`) {
			continue
		}
		u, err := url.Parse(strings.Trim(strings.TrimSpace(target), "<>"))
		if err != nil {
			return 0, fmt.Errorf("bad Link header %q: %w", link, err)
		}
		b, err := strconv.ParseUint(u.Query().Get("before"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bad Link header %q: no before cursor", link)
		}
		return b, nil
	}
	return 0, nil
}

// Task returns one task.
func (c *Client) Task(ctx context.Context, id uint64) (api.Task, error) {
	var t api.Task
	_, err := c.do(ctx, http.MethodGet, taskPath(id, ""), nil, &t)
	return t, err
}

// CreateTask queues a task of project/template and returns it.
func (c *Client) CreateTask(ctx context.Context, project, template string, req api.CreateTaskRequest) (api.Task, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return api.Task{}, fmt.Errorf("create task: %w", err)
	}
	var t api.Task
	path := "/api/v1/projects/" + url.PathEscape(project) + "/templates/" + url.PathEscape(template) + "/tasks"
	_, err = c.do(ctx, http.MethodPost, path, body, &t)
	return t, err
}

// Stop stops a task and returns it.
func (c *Client) Stop(ctx context.Context, id uint64) (api.Task, error) {
	return c.action(ctx, id, "stop")
}

// Confirm approves a task waiting for confirmation and returns it.
func (c *Client) Confirm(ctx context.Context, id uint64) (api.Task, error) {
	return c.action(ctx, id, "confirm")
}

// Reject refuses a task waiting for confirmation and returns it.
func (c *Client) Reject(ctx context.Context, id uint64) (api.Task, error) {
	return c.action(ctx, id, "reject")
}

// StopWaiting stops every waiting task of a project (template "": all of
// its templates) and returns how many.
func (c *Client) StopWaiting(ctx context.Context, project, template string) (int, error) {
	path := "/api/v1/projects/" + url.PathEscape(project)
	if template != "" {
		path += "/templates/" + url.PathEscape(template)
	}
	var out api.StopResult
	_, err := c.do(ctx, http.MethodPost, path+"/stop", []byte("{}"), &out)
	return out.Stopped, err
}

func (c *Client) action(ctx context.Context, id uint64, what string) (api.Task, error) {
	var t api.Task
	_, err := c.do(ctx, http.MethodPost, taskPath(id, "/"+what), nil, &t)
	return t, err
}

// Log copies the task's log to w. With follow it streams until the task
// ends or ctx does; when the stream breaks before the server ended it (the
// daemon restarted, a proxy cut it) or the daemon cannot be reached for a
// moment, it retries with backoff for about half a minute and resumes
// after the last complete line it copied, so no line is lost or repeated.
func (c *Client) Log(ctx context.Context, id uint64, follow bool, w io.Writer) error {
	var from uint64 // 0: from the start
	lw := &lineWriter{w: w}
	backoff := followBackoff
	for failures := 0; ; failures++ {
		q := url.Values{}
		if follow {
			q.Set("follow", "1")
		}
		if from > 0 {
			q.Set("from", strconv.FormatUint(from, 10))
		}
		path := taskPath(id, "/log")
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
		before := lw.lines
		resp, err := c.send(ctx, http.MethodGet, path, nil)
		if err == nil {
			_, err = io.Copy(lw, resp.Body)
			resp.Body.Close()
			if err == nil {
				return lw.flush()
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if lw.lines > before {
			failures, backoff = 0, followBackoff // progress: a new outage
		}
		if !follow || failures >= followRetries || !retryable(err) {
			return fmt.Errorf("read log of task %d: %w", id, err)
		}
		// Lines are numbered from 1; resume after the last one written.
		from = lw.lines + 1
		lw.partial = lw.partial[:0]
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 4*time.Second)
	}
}

// How a followed log retries: about 30 s of consecutive failures.
const (
	followBackoff = 250 * time.Millisecond
	followRetries = 10
)

// retryable reports whether a follow that failed with err may be resumed:
// a broken stream or an unreachable daemon, or a gateway answering for a
// daemon that is restarting; not an answer of the daemon itself, nor a
// failure to write the output.
func retryable(err error) bool {
	var we *writeError
	if errors.As(err, &we) {
		return false
	}
	var ce *Error
	if errors.As(err, &ce) {
		switch ce.Status {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	return true
}

// lineWriter passes only complete lines to w, so a resumed stream neither
// repeats nor cuts a line, and counts them.
type lineWriter struct {
	w       io.Writer
	partial []byte
	lines   uint64
}

// writeError marks a failure of the destination writer, not of the stream.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

func (l *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	i := bytes.LastIndexByte(p, '\n')
	if i < 0 {
		l.partial = append(l.partial, p...)
		return n, nil
	}
	if len(l.partial) > 0 {
		if _, err := l.w.Write(l.partial); err != nil {
			return 0, &writeError{err}
		}
		l.partial = l.partial[:0]
	}
	if _, err := l.w.Write(p[:i+1]); err != nil {
		return 0, &writeError{err}
	}
	l.lines += uint64(bytes.Count(p[:i+1], []byte{'\n'}))
	l.partial = append(l.partial, p[i+1:]...)
	return n, nil
}

// flush writes a last line that had no newline.
func (l *lineWriter) flush() error {
	if len(l.partial) == 0 {
		return nil
	}
	_, err := l.w.Write(l.partial)
	l.partial = nil
	return err
}

func taskPath(id uint64, suffix string) string {
	return "/api/v1/tasks/" + strconv.FormatUint(id, 10) + suffix
}

// do sends a request and decodes a 2xx JSON answer into out.
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) (*http.Response, error) {
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return nil, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return resp, nil
}

// send sends a request and returns a 2xx response whose body the caller
// closes; any other status becomes *Error.
func (c *Client) send(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.trigger != "" {
		req.Header.Set(api.TriggerHeader, c.trigger)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	e := &Error{Status: resp.StatusCode}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var eb struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &eb) == nil && eb.Error != "" {
		e.Message = eb.Error
	} else {
		e.Message = strings.TrimSpace(string(b))
	}
	return nil, e
}
