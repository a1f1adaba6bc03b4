package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/prom"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
)

// Engine is what the API asks of the task engine (exec.Engine).
type Engine interface {
	Submit(ctx context.Context, r task.Request) (state.Task, error)
	Stop(ctx context.Context, id uint64) (state.Task, error)
	StopWaiting(ctx context.Context, project, template string) (int, error)
	Confirm(ctx context.Context, id uint64) (state.Task, error)
	Reject(ctx context.Context, id uint64) (state.Task, error)
	FollowLog(ctx context.Context, id uint64, from uint64, fn func([]state.LogLine) error) error
}

// TaskStore is what the API reads from the state (state.Store).
type TaskStore interface {
	Task(ctx context.Context, id uint64) (state.Task, error)
	Tasks(ctx context.Context, f state.TaskFilter, before uint64, limit int) ([]state.Task, error)
	ReadLog(ctx context.Context, taskID uint64, from uint64, max int) ([]state.LogLine, error)
}

// Snapshots gives the configuration in force (a nil Config before the
// first valid revision).
type Snapshots interface {
	Snapshot() config.Snapshot
}

// SecretResolver turns the token references of settings.api_tokens into
// clear values (config.Resolver).
type SecretResolver interface {
	Resolve(s config.Secret) (string, error)
}

// Options configure New. Engine, Store and Config are required.
type Options struct {
	Engine  Engine
	Store   TaskStore
	Config  Snapshots
	Secrets SecretResolver
	// AdminToken is the token of DATA/admin.token (scope admin, every
	// project); empty disables it.
	AdminToken string
	// Logger defaults to a logger that discards.
	Logger *slog.Logger
	// Registerer receives the HTTP metrics; nil registers them nowhere.
	Registerer prom.Registerer
	// StreamWriteTimeout bounds each write of a streamed answer (a task
	// list, a log, a followed log): a caller that takes longer to accept
	// one batch is dropped. The deadline is renewed before every write, so
	// a follower that keeps reading is never cut. Default
	// DefaultStreamWriteTimeout.
	StreamWriteTimeout time.Duration
}

// DefaultStreamWriteTimeout is the StreamWriteTimeout when none is set.
const DefaultStreamWriteTimeout = 30 * time.Second

// Limits of the API.
const (
	// DefaultPageSize is the number of items (tasks, events, failed
	// outbox entries) a list answers without ?limit.
	DefaultPageSize = 50
	// MaxPageSize is the largest ?limit of a list.
	MaxPageSize = 1000
	// logBatch is how many log lines are read from the store at a time.
	logBatch = 1000
)

// Handler serves /api/v1/. It is safe for concurrent use and holds no
// per-request state. Mount it with mux.Handle("/api/v1/", h).
type Handler struct {
	engine  Engine
	store   TaskStore
	config  Snapshots
	log     *slog.Logger
	auth    *authenticator
	routes  *http.ServeMux
	metrics *metrics
	// writeTimeout is Options.StreamWriteTimeout.
	writeTimeout time.Duration
	// listBuffer is listBufferBytes; tests lower it.
	listBuffer int

	// streams ends every followed log when CloseStreams is called.
	streams      context.Context
	closeStreams context.CancelFunc
}

// CloseStreams ends every followed log now and any started later, so a
// graceful shutdown need not wait for running tasks to end. Register it
// with http.Server.RegisterOnShutdown. The followers see their stream
// broken (not a clean end), so a client does not mistake it for the end
// of the task.
func (h *Handler) CloseStreams() { h.closeStreams() }

// New returns the API handler. It fails when a required option is missing
// or the metrics cannot be registered.
func New(opts Options) (*Handler, error) {
	if opts.Engine == nil || opts.Store == nil || opts.Config == nil {
		return nil, errors.New("api: Engine, Store and Config are required")
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("api: register metrics: %w", err)
	}
	h := &Handler{
		engine:  opts.Engine,
		store:   opts.Store,
		config:  opts.Config,
		log:     logger,
		auth:    newAuthenticator(opts.Secrets, opts.AdminToken, logger),
		routes:  http.NewServeMux(),
		metrics: m,

		writeTimeout: cmp.Or(opts.StreamWriteTimeout, DefaultStreamWriteTimeout),
		listBuffer:   listBufferBytes,
	}
	h.streams, h.closeStreams = context.WithCancel(context.Background())
	h.handle("GET /api/v1/projects", config.ScopeRead, h.listProjects)
	h.handle("GET /api/v1/projects/{project}/templates", config.ScopeRead, h.listTemplates)
	h.handle("POST /api/v1/projects/{project}/templates/{template}/tasks", config.ScopeRun, h.createTask)
	h.handle("POST /api/v1/projects/{project}/stop", config.ScopeRun, h.stopProject)
	h.handle("POST /api/v1/projects/{project}/templates/{template}/stop", config.ScopeRun, h.stopProject)
	h.handle("GET /api/v1/events", config.ScopeRead, h.listEvents)
	h.handle("GET /api/v1/tasks", config.ScopeRead, h.listTasks)
	h.handle("GET /api/v1/tasks/{id}", config.ScopeRead, h.getTask)
	h.handle("GET /api/v1/tasks/{id}/log", config.ScopeRead, h.taskLog)
	h.handle("POST /api/v1/tasks/{id}/stop", config.ScopeRun, h.taskAction(opts.Engine.Stop))
	h.handle("POST /api/v1/tasks/{id}/confirm", config.ScopeRun, h.taskAction(opts.Engine.Confirm))
	h.handle("POST /api/v1/tasks/{id}/reject", config.ScopeRun, h.taskAction(opts.Engine.Reject))
	h.handle("GET /api/v1/backup", backupScope, h.backup)
	h.handle("GET /api/v1/outbox", outboxScope, h.outbox)
	return h, nil
}

// handlerFunc is an API handler: it gets the authenticated caller and
// returns an error to answer, or nil once it answered.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p *principal) error

// handle registers fn behind authentication and the scope check. Both
// happen before anything reads the request's body, so a caller without a
// valid token is answered at once (and its connection closed, see
// writeError) even when it announced a body it never sends.
func (h *Handler) handle(pattern string, need config.Scope, fn handlerFunc) {
	h.routes.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		p, err := h.auth.authenticate(r, h.config.Snapshot().Config)
		if err == nil && !p.allows(need) {
			err = errorf(http.StatusForbidden, "token %q has scope %s; this needs %s", p.name, p.scope, need)
		}
		if err == nil {
			err = fn(w, r, p)
		}
		if err != nil {
			h.writeError(w, r, err)
		}
	})
}

// ServeHTTP routes the request, answers unknown paths and methods with a
// JSON error, and records the request's metrics by route pattern.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	if _, pattern := h.routes.Handler(r); pattern == "" {
		h.unrouted(sw, r)
		h.metrics.observe("unmatched", sw.code(), time.Since(start))
		return
	}
	// Deferred: a stream cut short ends the handler with a panic
	// (http.ErrAbortHandler) and is counted too.
	defer func() {
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		h.metrics.observe(route, sw.code(), time.Since(start))
	}()
	h.routes.ServeHTTP(sw, r)
}

// unrouted answers a request no pattern matches: 404, or 405 with Allow
// when the path exists for other methods. The mux decides which; its
// plain-text body is replaced by the JSON error.
func (h *Handler) unrouted(w http.ResponseWriter, r *http.Request) {
	inner, _ := h.routes.Handler(r)
	c := &captureWriter{header: http.Header{}}
	inner.ServeHTTP(c, r)
	code := c.status
	if code == 0 || code == http.StatusOK {
		code = http.StatusNotFound
	}
	if allow := c.header.Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
	}
	closeAfterAnswer(w, r)
	msg := "no such API path"
	if code == http.StatusMethodNotAllowed {
		msg = "method " + r.Method + " not allowed here"
	}
	writeJSON(w, code, errorBody{Error: msg})
}

// captureWriter takes what the mux's own not-found and method-not-allowed
// handlers write, keeping only the status and the headers.
type captureWriter struct {
	header http.Header
	status int
}

func (c *captureWriter) Header() http.Header         { return c.header }
func (c *captureWriter) Write(b []byte) (int, error) { return len(b), nil }
func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}

// statusWriter remembers the status code written, for the metrics. It
// unwraps for http.ResponseController (flush, deadlines).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap gives http.ResponseController the underlying writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) code() string {
	if s.status == 0 {
		return "200"
	}
	return strconv.Itoa(s.status)
}

// pageLimit is the ?limit= of a list request: DefaultPageSize when absent,
// else 1 to MaxPageSize.
func pageLimit(q url.Values) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return DefaultPageSize, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxPageSize {
		return 0, errorf(http.StatusBadRequest, "bad limit %q: want 1 to %d", v, MaxPageSize)
	}
	return n, nil
}
