package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/link"
	"github.com/semaphored/semaphored/internal/prom"
	"github.com/semaphored/semaphored/internal/state"
)

// Tasks is what the page reads of the store.
type Tasks interface {
	Task(ctx context.Context, id uint64) (state.Task, error)
	ReadLog(ctx context.Context, taskID uint64, from uint64, max int) ([]state.LogLine, error)
}

// Follower streams a task's log until it ends (exec.Engine.FollowLog).
type Follower interface {
	FollowLog(ctx context.Context, id uint64, from uint64, fn func([]state.LogLine) error) error
}

// TokenAuth is the API's bearer token check: 0 and nil when r's token may
// read project, else the HTTP code (401, 403) and why.
type TokenAuth interface {
	Authorize(r *http.Request, project string) (int, error)
}

// Links verifies signed task links and makes short ones for the page's
// own requests (link.Signer).
type Links interface {
	Verify(id uint64, q url.Values) error
	Query(id uint64, ttl time.Duration) string
}

// Options configure New.
type Options struct {
	Tasks    Tasks    // required
	Follower Follower // required for live lines
	// Auth checks bearer tokens; nil refuses them.
	Auth TokenAuth
	// Links checks signed links; nil refuses them.
	Links Links
	// Config returns the active config (for commit links); may be nil.
	Config     func() *config.Config
	Logger     *slog.Logger
	Registerer prom.Registerer
	// Tail is how many last lines the page shows at first (default 1000).
	Tail int
}

// Handler serves /tasks/{id}, /tasks/{id}/log and /tasks/{id}/events.
// CloseStreams ends the open event streams (at shutdown).
type Handler struct {
	o      Options
	log    *slog.Logger
	m      *metrics
	mux    *http.ServeMux
	ctx    context.Context
	cancel context.CancelFunc
}

// New returns the handler and registers its metrics.
func New(o Options) (*Handler, error) {
	if o.Tasks == nil {
		return nil, errors.New("web: Tasks is required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Tail <= 0 {
		o.Tail = 1000
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Handler{o: o, log: o.Logger, m: m, mux: http.NewServeMux(), ctx: ctx, cancel: cancel}
	h.mux.HandleFunc("GET /tasks/{id}", h.route("page", h.page))
	h.mux.HandleFunc("GET /tasks/{id}/log", h.route("log", h.earlier))
	h.mux.HandleFunc("GET /tasks/{id}/events", h.route("events", h.events))
	return h, nil
}

// ServeHTTP serves the task routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// CloseStreams ends every open event stream; the pages reconnect to the
// next daemon.
func (h *Handler) CloseStreams() { h.cancel() }

// access is how a request proved it may see a task.
type access struct {
	task state.Task
	auth string // "token" or "link"
	// query is what the page's own requests carry: the link's exp and sig,
	// or a fresh short link when the page was opened with a token.
	query string
}

// httpError is an answer other than 200.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

// pageLinkTTL is how long the link a token-opened page uses for its own
// requests works.
const pageLinkTTL = 12 * time.Hour

// authorize checks r for task id: a signed link (exp and sig in the
// query) or a bearer token.
func (h *Handler) authorize(r *http.Request) (access, string, error) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || id == 0 {
		return access{}, "none", &httpError{http.StatusNotFound, "no such task"}
	}
	q := r.URL.Query()
	if q.Has("sig") || q.Has("exp") {
		if h.o.Links == nil {
			return access{}, "link", &httpError{http.StatusForbidden, "signed links are not enabled"}
		}
		switch err := h.o.Links.Verify(id, q); {
		case errors.Is(err, link.ErrExpired):
			return access{}, "link", &httpError{http.StatusForbidden, "this link has expired; ask for a new one or use a token"}
		case err != nil:
			return access{}, "link", &httpError{http.StatusForbidden, "this link is not valid for this task"}
		}
		t, err := h.o.Tasks.Task(r.Context(), id)
		if err != nil {
			return access{}, "link", notFound(err)
		}
		return access{task: t, auth: "link", query: "exp=" + url.QueryEscape(q.Get("exp")) + "&sig=" + url.QueryEscape(q.Get("sig"))}, "link", nil
	}
	if r.Header.Get("Authorization") == "" || h.o.Auth == nil {
		return access{}, "none", &httpError{http.StatusUnauthorized, "open this page with the signed link of a commit status or notification, or with a bearer token (Authorization: Bearer TOKEN)"}
	}
	t, err := h.o.Tasks.Task(r.Context(), id)
	if err != nil {
		// Check the token first, so that an unknown caller cannot tell
		// which ids exist.
		if code, aerr := h.o.Auth.Authorize(r, ""); aerr != nil {
			return access{}, "token", &httpError{code, aerr.Error()}
		}
		return access{}, "token", notFound(err)
	}
	if code, err := h.o.Auth.Authorize(r, t.Project); err != nil {
		if code == 0 {
			code = http.StatusForbidden
		}
		return access{}, "token", &httpError{code, err.Error()}
	}
	a := access{task: t, auth: "token"}
	if h.o.Links != nil {
		a.query = h.o.Links.Query(id, pageLinkTTL)
	}
	return a, "token", nil
}

func notFound(err error) error {
	if errors.Is(err, state.ErrNotFound) {
		return &httpError{http.StatusNotFound, "no such task"}
	}
	return &httpError{http.StatusInternalServerError, "read the task"}
}

// route wraps a route with the access check, the metrics and the error page.
func (h *Handler) route(name string, fn func(w http.ResponseWriter, r *http.Request, a access) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Cache-Control", "no-store")
		a, how, err := h.authorize(r)
		if err == nil {
			err = fn(w, r, a)
		}
		code := http.StatusOK
		var he *httpError
		switch {
		case err == nil:
		case errors.As(err, &he):
			code = he.code
			writeError(w, name, he)
		default:
			code = http.StatusInternalServerError
			h.log.Error("task page", "route", name, "err", err)
			writeError(w, name, &httpError{code, "internal error"})
		}
		h.m.count(name, how, code)
	}
}

func writeError(w http.ResponseWriter, route string, e *httpError) {
	if route != "page" {
		http.Error(w, e.msg, e.code)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.WriteHeader(e.code)
	fmt.Fprintf(w, `<!doctype html><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>%d</title><body style="font:16px system-ui,sans-serif;margin:2em;max-width:40em"><h1>%d %s</h1><p>%s</p>`,
		e.code, e.code, http.StatusText(e.code), htmlEscape(e.msg))
}

// page renders the task page with the log's tail.
func (h *Handler) page(w http.ResponseWriter, r *http.Request, a access) error {
	t := a.task
	from := uint64(1)
	if t.LogLines > uint64(h.o.Tail) {
		from = t.LogLines - uint64(h.o.Tail) + 1
	}
	lines, err := h.o.Tasks.ReadLog(r.Context(), t.ID, from, h.o.Tail)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		return fmt.Errorf("read the log of task %d: %w", t.ID, err)
	}
	var cfg *config.Config
	if h.o.Config != nil {
		cfg = h.o.Config()
	}
	var buf bytes.Buffer
	if err := renderPage(&buf, t, lines, a.query, commitURL(cfg, t)); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; img-src data:")
	_, _ = w.Write(buf.Bytes()) // an error means the caller left
	return nil
}

// maxEarlier bounds one request of earlier lines.
const maxEarlier = 5000

// earlier answers lines before ?before=N (up to ?limit, default 2000) as
// HTML, one <div> per line, oldest first.
func (h *Handler) earlier(w http.ResponseWriter, r *http.Request, a access) error {
	q := r.URL.Query()
	before, err := strconv.ParseUint(q.Get("before"), 10, 64)
	if err != nil || before < 1 {
		return &httpError{http.StatusBadRequest, "before: want a line number"}
	}
	limit := 2000
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 {
			return &httpError{http.StatusBadRequest, "limit: want a positive number"}
		}
	}
	limit = min(limit, maxEarlier)
	from := uint64(1)
	if before > uint64(limit) {
		from = before - uint64(limit)
	}
	if before <= 1 {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		return nil
	}
	lines, err := h.o.Tasks.ReadLog(r.Context(), a.task.ID, from, int(before-from))
	if err != nil {
		return fmt.Errorf("read the log of task %d: %w", a.task.ID, err)
	}
	var b bytes.Buffer
	writeLines(&b, lines)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(b.Bytes()) // an error means the caller left
	return nil
}

// eventLine is one log line of a "lines" event: its number and HTML.
type eventLine struct {
	N uint64 `json:"n"`
	H string `json:"h"`
}

// eventBatch bounds the lines of one event.
const eventBatch = 500

// events streams new lines from ?from=N (or the Last-Event-ID of a
// reconnecting EventSource) as "lines" events, then a "status" event when
// the task is over.
func (h *Handler) events(w http.ResponseWriter, r *http.Request, a access) error {
	if h.o.Follower == nil {
		return &httpError{http.StatusNotFound, "live lines are not available"}
	}
	from, _ := strconv.ParseUint(r.URL.Query().Get("from"), 10, 64)
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			from = n + 1
		}
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(h.ctx, cancel)
	defer stop()

	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	h.m.streams.Inc()
	defer h.m.streams.Dec()
	rc := http.NewResponseController(w)
	var mu sync.Mutex
	send := func(event, id string, data []byte) error {
		mu.Lock()
		defer mu.Unlock()
		_ = rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		var b bytes.Buffer
		if id != "" {
			b.WriteString("id: " + id + "\n")
		}
		if event != "" {
			b.WriteString("event: " + event + "\n")
		}
		if data != nil {
			b.WriteString("data: ")
			b.Write(data)
			b.WriteString("\n")
		} else {
			b.WriteString(": ping\n")
		}
		b.WriteString("\n")
		if _, err := w.Write(b.Bytes()); err != nil {
			return err
		}
		return rc.Flush()
	}
	if err := send("", "", nil); err != nil {
		return nil
	}
	go func() {
		tick := time.NewTicker(15 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if send("", "", nil) != nil {
					cancel()
					return
				}
			}
		}
	}()
	err := h.o.Follower.FollowLog(ctx, a.task.ID, from, func(lines []state.LogLine) error {
		for len(lines) > 0 {
			n := min(len(lines), eventBatch)
			batch := make([]eventLine, n)
			for i, l := range lines[:n] {
				batch[i] = eventLine{l.N, ANSIToHTML(l.Text)}
			}
			b, err := json.Marshal(batch)
			if err != nil {
				return err
			}
			if err := send("lines", strconv.FormatUint(lines[n-1].N, 10), b); err != nil {
				return err
			}
			lines = lines[n:]
		}
		return nil
	})
	if ctx.Err() != nil {
		return nil // the page left, or shutdown
	}
	if err != nil {
		h.log.Warn("follow the log of a task page", "task", a.task.ID, "err", err)
		return nil
	}
	t, err := h.o.Tasks.Task(ctx, a.task.ID)
	if err != nil {
		return nil
	}
	b, _ := json.Marshal(statusOf(t))
	_ = send("status", "", b)
	return nil
}

// taskStatus is the "status" event: what the header shows at the end.
type taskStatus struct {
	Status   string `json:"status"`
	Message  string `json:"message,omitempty"`
	Duration string `json:"duration,omitempty"`
	Lines    uint64 `json:"lines"`
}

func statusOf(t state.Task) taskStatus {
	return taskStatus{Status: string(t.Status), Message: t.Message, Duration: durationText(t, time.Now()), Lines: t.LogLines}
}

// durationText is how long t ran (or has been running).
func durationText(t state.Task, now time.Time) string {
	if t.Started.IsZero() {
		return ""
	}
	end := t.Ended
	if end.IsZero() {
		end = now
	}
	d := end.Sub(t.Started)
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

// commitURL links t's commit on its repository's forge, or "".
func commitURL(cfg *config.Config, t state.Task) string {
	if cfg == nil || t.Commit == "" {
		return ""
	}
	p := cfg.Projects[t.Project]
	if p == nil {
		return ""
	}
	tpl := p.Templates[t.Template]
	if tpl == nil {
		return ""
	}
	repo := p.Repositories[tpl.Repository]
	if repo == nil || repo.Forge == nil {
		return ""
	}
	f := repo.Forge
	path := repo.ForgeRepo()
	base := strings.TrimRight(f.APIURL, "/")
	switch f.Type {
	case config.ForgeGitHub:
		if base == "" || base == "https://api.github.com" {
			base = "https://github.com"
		}
		base = strings.TrimSuffix(base, "/api/v3")
		return base + "/" + path + "/commit/" + url.PathEscape(t.Commit)
	case config.ForgeGitLab:
		return strings.TrimSuffix(base, "/api/v4") + "/" + path + "/-/commit/" + url.PathEscape(t.Commit)
	case config.ForgeGitea:
		return strings.TrimSuffix(base, "/api/v1") + "/" + path + "/commit/" + url.PathEscape(t.Commit)
	}
	return ""
}
