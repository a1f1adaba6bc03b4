package exec

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/exec/runner"
	"github.com/semaphored/semaphored/internal/prom"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
)

// Errors the API maps to status codes.
var (
	ErrUnknownTemplate     = errors.New("no such project or template")      // 404
	ErrBadRequest          = errors.New("bad task request")                 // 400 (wrapped with the reason)
	ErrNotStoppable        = errors.New("task is not stoppable")            // 409
	ErrNotAwaitingApproval = errors.New("task is not waiting_confirmation") // 409
	// ErrClosed is returned by Submit once Run has returned or is shutting down.
	ErrClosed = errors.New("task engine is shutting down") // 503
)

// Stop causes, set on a run's context; they decide the stopped message.
var (
	errStopRequested = errors.New("task stopped by request")
	errShutdown      = errors.New("daemon shutting down")
	errRejected      = errors.New("plan rejected")
	errNotWaiting    = errors.New("task is no longer waiting")
)

// Messages stored on tasks.
const (
	msgInterrupted = "interrupted: the daemon stopped while the task was running"
	msgStopped     = "stopped by request"
)

// Defaults applied when the active settings leave a value zero.
const (
	defaultMaxParallel = 4
	defaultTimeout     = time.Hour
	defaultGrace       = 10 * time.Second
	defaultMaxLogBytes = 64 << 20
)

// RunFunc runs one prepared task; runner.Run is the real one.
type RunFunc func(ctx context.Context, spec runner.Spec, sink runner.Sink, hooks runner.Hooks) runner.Result

// Options configure New. Store and Config are required.
type Options struct {
	Store  Store
	Config Snapshots
	// Checkouts fetches repositories (a *gitcache.Cache); nil fails
	// every checkout.
	Checkouts Checkouts
	// Secrets resolves secret references (nil: a config.Resolver without
	// age identities).
	Secrets SecretResolver
	// Followers wakes FollowLog (nil: an in-memory Hub).
	Followers Followers
	// WorkDir holds per-task private directories and the shared caches.
	WorkDir    string
	Logger     *slog.Logger
	Registerer prom.Registerer
	// Run runs a prepared task (nil: runner.Run). Tests put a controllable
	// fake here.
	Run RunFunc
}

// Engine runs tasks. Create with New; Run drives it. All its methods are
// safe for concurrent use.
//
// The scheduler is the mutex-guarded structure below (mu): the queues,
// the running tasks and the slot counters are only touched under mu, and
// schedule is called under mu whenever a slot may have freed or a task may
// have become startable. mu is never held across a store write or a
// process start: the scheduler only decides, task goroutines do the work.
type Engine struct {
	opts    Options
	store   Store
	follow  Followers
	secrets SecretResolver
	log     *slog.Logger
	run     RunFunc
	met     *metrics
	now     func() time.Time

	mu       sync.Mutex
	running  bool // Run was called
	started  bool // Run has recovered: tasks may start
	ready    chan struct{}
	closed   bool          // shutdown began: nothing new is taken or starts
	drained  chan struct{} // closed when closed is set and no task is active
	baseCtx  context.Context
	queues   map[tmplKey][]uint64 // waiting tasks per template, in ID order
	queuedAt map[uint64]tmplKey   // every queued ID
	active   map[uint64]*taskRun  // tasks past waiting, until terminal
	global   int                  // global slots held
	projects map[string]int       // project slots held
	tmpls    map[tmplKey]int      // template slots held (waiting_confirmation included)
	resumes  []*taskRun           // confirmed plans waiting for global/project slots
	tasks    sync.WaitGroup       // one per task goroutine
}

type tmplKey struct{ project, template string }

// taskRun is the in-memory side of a task past waiting. Its fields other
// than the channels are guarded by Engine.mu.
type taskRun struct {
	id     uint64
	key    tmplKey
	ctx    context.Context
	cancel context.CancelCauseFunc

	holdsSlots bool // global and project slots held
	awaiting   bool // in waiting_confirmation, no decision yet
	rejected   bool

	decision chan bool     // Confirm/Reject → the run (buffered 1)
	resumed  chan struct{} // closed when the slots are granted back
	decided  chan struct{} // closed when the confirm was taken into account
	done     chan struct{} // closed when the task is terminal
}

// New returns an engine; nothing runs before Run. It fails when Store or
// Config is missing or the metrics cannot be registered.
func New(opts Options) (*Engine, error) {
	if opts.Store == nil || opts.Config == nil {
		return nil, errors.New("exec: Store and Config are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prom.NewRegistry()
	}
	e := &Engine{
		opts:     opts,
		store:    opts.Store,
		follow:   opts.Followers,
		secrets:  opts.Secrets,
		log:      opts.Logger,
		run:      opts.Run,
		now:      time.Now,
		queues:   map[tmplKey][]uint64{},
		queuedAt: map[uint64]tmplKey{},
		active:   map[uint64]*taskRun{},
		projects: map[string]int{},
		tmpls:    map[tmplKey]int{},
		ready:    make(chan struct{}),
		drained:  make(chan struct{}),
	}
	if e.follow == nil {
		e.follow = &Hub{}
	}
	if e.secrets == nil {
		e.secrets = &config.Resolver{}
	}
	if e.run == nil {
		e.run = runner.Run
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("exec: register metrics: %w", err)
	}
	e.met = m
	return e, nil
}

// Run recovers from a previous crash (running tasks → interrupted,
// waiting tasks queued), then starts tasks as slots free up until ctx
// ends; then it stops running tasks at once (SIGTERM, grace, SIGKILL) and
// returns once every task goroutine has ended. A graceful stop calls
// Shutdown first, which lets running tasks finish. Tasks still waiting
// stay waiting in the state and run after the next start. Run may be
// called once.
func (e *Engine) Run(ctx context.Context) error {
	e.mu.Lock()
	if e.running {
		e.mu.Unlock()
		return errors.New("exec: engine already running")
	}
	e.running = true
	e.baseCtx = context.WithoutCancel(ctx)
	e.mu.Unlock()

	// Nothing starts before recovery is done: a task of this process can
	// never be mistaken for one a previous process left running.
	if err := e.recover(ctx); err != nil {
		e.close()
		if ctx.Err() != nil {
			return nil // shut down while recovering: the next start recovers
		}
		return fmt.Errorf("recover tasks: %w", err)
	}
	e.mu.Lock()
	e.started = true
	e.schedule()
	e.mu.Unlock()
	close(e.ready)

	<-ctx.Done()
	e.close()
	e.stopAll(errShutdown)
	e.tasks.Wait()
	return nil
}

// Shutdown begins a graceful stop. At once: Submit and Adopt return
// ErrClosed, no waiting task starts (they stay waiting in the state for
// the next start), and plans waiting for a decision, which nobody can
// give any more, are stopped. Running tasks may then finish until ctx
// ends (the drain timeout, or a second signal); those still running are
// stopped (SIGTERM, grace, SIGKILL) with "daemon shutting down".
// Shutdown returns once no task runs. It may be called more than once
// and before or after Run.
func (e *Engine) Shutdown(ctx context.Context) error {
	e.close()
	e.mu.Lock()
	var draining []uint64
	for id, r := range e.active {
		if r.awaiting || slices.Contains(e.resumes, r) {
			r.cancel(errShutdown)
			continue
		}
		draining = append(draining, id)
	}
	e.mu.Unlock()
	if len(draining) > 0 {
		slices.Sort(draining)
		e.log.Info("draining: waiting for running tasks to finish", "tasks", draining)
	}
	done := make(chan struct{})
	go func() {
		e.tasks.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	e.mu.Lock()
	n := len(e.active)
	e.mu.Unlock()
	if n > 0 {
		e.log.Warn("drain ended; stopping the tasks still running", "tasks", n, "cause", context.Cause(ctx))
	}
	e.stopAll(errShutdown)
	<-done
	return nil
}

// close marks the engine closed: nothing new is taken or starts.
func (e *Engine) close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
}

// stopAll cancels every active task with cause.
func (e *Engine) stopAll(cause error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, r := range e.active {
		r.cancel(cause)
	}
}

// recover kills the jobs and removes the task directories a previous
// process left behind, marks the tasks it left past waiting as
// interrupted, and queues the waiting ones in ID order.
func (e *Engine) recover(ctx context.Context) error {
	e.cleanLeftovers()
	tasks, err := e.store.ActiveTasks(ctx)
	if err != nil {
		return err
	}
	slices.SortFunc(tasks, func(a, b state.Task) int { return cmpU64(a.ID, b.ID) })
	var queued int
	for _, t := range tasks {
		if t.Status == state.StatusWaiting {
			e.mu.Lock()
			e.enqueue(t.ID, tmplKey{t.Project, t.Template})
			e.mu.Unlock()
			queued++
			continue
		}
		now := e.now()
		msg := interruptedMessage(t.Status)
		if err := e.store.AppendLog(ctx, t.ID, []state.LogLine{{Time: now, Text: "*** " + msg + " ***"}}); err != nil {
			e.met.logWriteErrors.Inc()
			e.log.Error("append interruption line", "task", t.ID, "err", err)
		}
		nt, err := e.store.UpdateTask(ctx, t.ID, func(t *state.Task) error {
			t.Message = msg
			t.Status = state.StatusInterrupted
			t.Ended = now
			return nil
		})
		if err != nil {
			return fmt.Errorf("mark task %d interrupted: %w", t.ID, err)
		}
		e.met.finished(nt)
		e.follow.Notify(t.ID)
		e.log.Warn("task interrupted by a previous stop", "task", t.ID, "project", t.Project, "template", t.Template, "status", t.Status)
	}
	if queued > 0 {
		e.log.Info("queued waiting tasks from the state", "count", queued)
	}
	return nil
}

// interruptedMessage says a task was interrupted and in which status;
// msgInterrupted for a running one.
func interruptedMessage(was state.TaskStatus) string {
	return "interrupted: the daemon stopped while the task was " + string(was)
}

// Wake tells the engine the active configuration changed (limits,
// templates): every task that the new limits allow starts now.
func (e *Engine) Wake() {
	e.mu.Lock()
	e.schedule()
	e.mu.Unlock()
}

// Submit validates and persists a task (waiting) and starts it as soon as
// limits allow. The task is stored before Submit returns; the returned
// copy is the one created (it may have moved on already). A request whose
// DedupeKey was used before creates nothing and returns the task that
// holds the key, without an error. After shutdown began it returns
// ErrClosed.
func (e *Engine) Submit(ctx context.Context, r task.Request) (state.Task, error) {
	tmpl, err := lookupTemplate(e.opts.Config.Snapshot().Config, r.Project, r.Template)
	if err != nil {
		return state.Task{}, err
	}
	if err := checkOverrides(tmpl, r); err != nil {
		return state.Task{}, err
	}
	if r.Trigger.Type == "" {
		r.Trigger.Type = task.TriggerAPI
	}
	if e.isClosed() {
		return state.Task{}, ErrClosed
	}
	t, err := e.store.CreateTask(ctx, state.Task{Request: r, Status: state.StatusWaiting, ExitCode: -1})
	if errors.Is(err, state.ErrDuplicate) {
		e.log.Info("task request already submitted", "task", t.ID, "dedupe_key", r.DedupeKey)
		return t, nil
	}
	if err != nil {
		return state.Task{}, fmt.Errorf("create task of %s/%s: %w", r.Project, r.Template, err)
	}
	if err := e.take(ctx, t, tmpl.Supersede); err != nil {
		return t, err
	}
	e.log.Info("task queued", "task", t.ID, "project", t.Project, "template", t.Template, "trigger", t.Trigger.Type)
	return t, nil
}

// Adopt queues waiting tasks that were created in the store by someone
// else (a webhook intake creating its tasks in the delivery's
// transaction). Tasks that are not waiting, or already known, are
// ignored; a template with supersede stops its older waiting tasks as for
// Submit (failures to stop one are returned, joined). After shutdown
// began it does nothing and returns ErrClosed: the tasks stay waiting in
// the state and the next start queues them.
func (e *Engine) Adopt(tasks ...state.Task) error {
	if e.isClosed() {
		return ErrClosed
	}
	tasks = slices.Clone(tasks)
	slices.SortFunc(tasks, func(a, b state.Task) int { return cmpU64(a.ID, b.ID) })
	snap := e.opts.Config.Snapshot()
	var errs []error
	for _, t := range tasks {
		if t.Status != state.StatusWaiting {
			continue
		}
		supersede := false
		if tmpl, err := lookupTemplate(snap.Config, t.Project, t.Template); err == nil {
			supersede = tmpl.Supersede
		}
		if err := e.take(context.Background(), t, supersede); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// take queues a stored waiting task (known ids are ignored) and, with
// supersede, stops the older waiting tasks of its template.
func (e *Engine) take(ctx context.Context, t state.Task, supersede bool) error {
	key := tmplKey{t.Project, t.Template}
	var superseded []uint64
	e.mu.Lock()
	if _, known := e.queuedAt[t.ID]; known {
		e.mu.Unlock()
		return nil
	}
	if _, known := e.active[t.ID]; known {
		e.mu.Unlock()
		return nil
	}
	if supersede {
		superseded = e.dequeueWhere(func(id uint64, k tmplKey) bool { return k == key && id < t.ID })
	}
	e.enqueue(t.ID, key)
	e.schedule()
	e.mu.Unlock()
	e.follow.Notify(t.ID)
	var errs []error
	for _, id := range superseded {
		if _, err := e.stopWaiting(ctx, id, fmt.Sprintf("superseded by task %d", t.ID)); err != nil && !errors.Is(err, ErrNotStoppable) {
			e.log.Error("supersede task", "task", id, "by", t.ID, "err", err)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (e *Engine) isClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}

func lookupTemplate(cfg *config.Config, project, template string) (*config.Template, error) {
	if cfg == nil {
		return nil, fmt.Errorf("%s/%s: %w", project, template, ErrUnknownTemplate)
	}
	p := cfg.Projects[project]
	if p == nil {
		return nil, fmt.Errorf("project %s: %w", project, ErrUnknownTemplate)
	}
	t := p.Templates[template]
	if t == nil {
		return nil, fmt.Errorf("template %s/%s: %w", project, template, ErrUnknownTemplate)
	}
	return t, nil
}

// checkOverrides refuses a request that sets what the template does not
// allow, and vars that are not a JSON object. Machine triggers (push,
// pull_request, schedule, integration) pick commit and branch themselves.
func checkOverrides(t *config.Template, r task.Request) error {
	for _, name := range r.Overrides.Set() {
		if (name == task.OverrideCommit || name == task.OverrideBranch) && r.Trigger.Type.Machine() {
			continue
		}
		if !t.Allows(config.Override(name)) {
			return fmt.Errorf("%w: %s not allowed by template %s", ErrBadRequest, name, t.Name)
		}
	}
	if len(r.Vars) > 0 {
		b, err := json.Marshal(r.Vars)
		if err != nil {
			return fmt.Errorf("%w: vars are not a JSON object: %v", ErrBadRequest, err)
		}
		var back map[string]any
		if err := json.Unmarshal(b, &back); err != nil {
			return fmt.Errorf("%w: vars are not a JSON object: %v", ErrBadRequest, err)
		}
	}
	return nil
}

// Stop stops a waiting, running or waiting_confirmation task. A waiting
// task is stopped at once; a running one is cancelled (SIGTERM, grace,
// SIGKILL) and Stop returns once it is stopped or ctx ends. A terminal
// task gives ErrNotStoppable.
func (e *Engine) Stop(ctx context.Context, id uint64) (state.Task, error) {
	e.mu.Lock()
	if _, ok := e.queuedAt[id]; ok {
		e.dequeueWhere(func(qid uint64, _ tmplKey) bool { return qid == id })
		e.mu.Unlock()
		return e.stopWaiting(ctx, id, msgStopped)
	}
	if r, ok := e.active[id]; ok {
		r.cancel(errStopRequested)
		e.mu.Unlock()
		select {
		case <-r.done:
		case <-ctx.Done():
			return state.Task{}, fmt.Errorf("stop task %d: %w", id, ctx.Err())
		}
		return e.store.Task(ctx, id)
	}
	e.mu.Unlock()
	// Not known in memory: waiting before Run recovered it, or terminal.
	return e.stopWaiting(ctx, id, msgStopped)
}

// stopWaiting moves a task from waiting to stopped in the state.
func (e *Engine) stopWaiting(ctx context.Context, id uint64, msg string) (state.Task, error) {
	now := e.now()
	t, err := e.store.UpdateTask(ctx, id, func(t *state.Task) error {
		if t.Status != state.StatusWaiting {
			return fmt.Errorf("task %d is %s: %w", id, t.Status, ErrNotStoppable)
		}
		t.Status = state.StatusStopped
		t.Message = msg
		t.Ended = now
		return nil
	})
	if err != nil {
		return state.Task{}, fmt.Errorf("stop task %d: %w", id, err)
	}
	e.met.finished(t)
	e.follow.Notify(id)
	e.mu.Lock()
	e.met.waiting.Set(float64(len(e.queuedAt)))
	e.mu.Unlock()
	return t, nil
}

// StopWaiting stops every waiting task of a project (template "" = all of
// its templates) and returns how many. Before Run has recovered, waiting
// tasks a previous process left are only in the state: they are found
// there and stopped too.
func (e *Engine) StopWaiting(ctx context.Context, project, template string) (int, error) {
	match := func(k tmplKey) bool {
		return k.project == project && (template == "" || k.template == template)
	}
	e.mu.Lock()
	ids := e.dequeueWhere(func(_ uint64, k tmplKey) bool { return match(k) })
	started := e.started
	e.mu.Unlock()
	if !started {
		tasks, err := e.store.ActiveTasks(ctx)
		if err != nil {
			return 0, fmt.Errorf("stop waiting tasks of %s: %w", project, err)
		}
		for _, t := range tasks {
			if t.Status == state.StatusWaiting && match(tmplKey{t.Project, t.Template}) && !slices.Contains(ids, t.ID) {
				ids = append(ids, t.ID)
			}
		}
		slices.Sort(ids)
	}
	var (
		stopped []uint64
		errs    []error
	)
	for _, id := range ids {
		if _, err := e.stopWaiting(ctx, id, msgStopped); err != nil {
			if !errors.Is(err, ErrNotStoppable) {
				errs = append(errs, err)
			}
			continue
		}
		stopped = append(stopped, id)
	}
	if !started {
		// A recovery running meanwhile may have queued some of them.
		e.mu.Lock()
		e.dequeueWhere(func(id uint64, _ tmplKey) bool { return slices.Contains(stopped, id) })
		e.mu.Unlock()
	}
	return len(stopped), errors.Join(errs...)
}

// Confirm approves a plan waiting for confirmation. The task gets its
// global and project slots back (at once when free, else before any
// waiting task) and its status returns to running; the returned task is
// running, or still waiting_confirmation while those slots are busy.
func (e *Engine) Confirm(ctx context.Context, id uint64) (state.Task, error) {
	r, err := e.decide(id, false)
	if err != nil {
		return state.Task{}, err
	}
	select {
	case <-r.decided:
	case <-r.done:
	case <-ctx.Done():
		return state.Task{}, fmt.Errorf("confirm task %d: %w", id, ctx.Err())
	}
	return e.store.Task(ctx, id)
}

// Reject refuses a plan waiting for confirmation; the task ends stopped
// with message "plan rejected", and Reject returns it.
func (e *Engine) Reject(ctx context.Context, id uint64) (state.Task, error) {
	r, err := e.decide(id, true)
	if err != nil {
		return state.Task{}, err
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		return state.Task{}, fmt.Errorf("reject task %d: %w", id, ctx.Err())
	}
	return e.store.Task(ctx, id)
}

func (e *Engine) decide(id uint64, reject bool) (*taskRun, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, ok := e.active[id]
	if !ok || !r.awaiting {
		return nil, fmt.Errorf("task %d: %w", id, ErrNotAwaitingApproval)
	}
	r.awaiting = false
	r.rejected = reject
	r.decision <- !reject
	if reject {
		r.cancel(errRejected) // whatever the runner does with a refusal, the run ends
	}
	return r, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
