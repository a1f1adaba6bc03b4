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

	"github.com/prometheus/client_golang/prometheus"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/exec/runner"
	"github.com/semaphored/semaphored/internal/gitcache"
	"github.com/semaphored/semaphored/internal/state"
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
	defaultPruneEvery  = 10 * time.Minute
	defaultPruneDelay  = 30 * time.Second
	// defaultEventDays is how long events are kept when
	// retention.keep_days is 0; keepRevisions is how many revision
	// records are kept.
	defaultEventDays = 30
	keepRevisions    = 100
)

// Request asks for a task of a template. Fields other than Project,
// Template, Trigger and TriggeredBy are overrides, each allowed only when
// the template lists it in allow_overrides (Commit and Branch are always
// allowed for triggers other than api/cli).
type Request struct {
	Project, Template    string
	Trigger, TriggeredBy string
	Commit, Branch       string
	Vars                 map[string]any
	Arguments            []string
	Limit                string
	Tags, SkipTags       []string
	Workspace            string
	DryRun               bool
}

// ActiveConfig gives the configuration currently in force.
type ActiveConfig interface {
	Active() *config.Config
}

// RunFunc runs one prepared task; runner.Run is the real one.
type RunFunc func(ctx context.Context, spec runner.Spec, sink runner.Sink, hooks runner.Hooks) runner.Result

// Options configure New.
type Options struct {
	Store   *state.Store
	Config  ActiveConfig
	Git     *gitcache.Cache
	Secrets *config.Resolver
	// WorkDir holds per-task private directories and the shared caches.
	WorkDir    string
	Logger     *slog.Logger
	Registerer prometheus.Registerer

	// ConfigRoot returns the root directory of the active config tree;
	// relative local repository paths are resolved against it (nil: the
	// daemon's working directory).
	ConfigRoot func() string
	// Run runs a prepared task (nil: runner.Run). Tests put a controllable
	// fake here.
	Run RunFunc
	// PruneEvery is the retention interval (default 10m); PruneDelay is
	// the wait before the first prune after Run starts (default 30s).
	PruneEvery, PruneDelay time.Duration
}

// taskStore is what the engine needs of the state; *state.Store is the
// real one, tests wrap it to inject failures.
type taskStore interface {
	CreateTask(ctx context.Context, t state.Task) (state.Task, error)
	UpdateTask(ctx context.Context, id uint64, fn func(*state.Task) error) (state.Task, error)
	Task(ctx context.Context, id uint64) (state.Task, error)
	ActiveTasks(ctx context.Context) ([]state.Task, error)
	AppendLog(ctx context.Context, taskID uint64, lines []state.LogLine) error
	ReadLog(ctx context.Context, taskID uint64, from uint64, max int) ([]state.LogLine, error)
	PruneTasks(ctx context.Context, r state.Retention) (int, error)
	PruneEvents(ctx context.Context, before time.Time) (int, error)
	PruneRevisions(ctx context.Context, keep int) (int, error)
	PruneDeliveries(ctx context.Context, before time.Time) (int, error)
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
	opts  Options
	store taskStore
	log   *slog.Logger
	run   RunFunc
	met   *metrics
	now   func() time.Time

	mu       sync.Mutex
	running  bool // Run was called
	started  bool // Run has recovered: tasks may start
	ready    chan struct{}
	closed   bool // Run's ctx ended: nothing new starts
	baseCtx  context.Context
	queues   map[tmplKey][]uint64 // waiting tasks per template, in ID order
	queuedAt map[uint64]tmplKey   // every queued ID
	active   map[uint64]*taskRun  // tasks past waiting, until terminal
	global   int                  // global slots held
	projects map[string]int       // project slots held
	tmpls    map[tmplKey]int      // template slots held (waiting_confirmation included)
	resumes  []*taskRun           // confirmed plans waiting for global/project slots
	tasks    sync.WaitGroup       // one per task goroutine

	wmu     sync.Mutex
	waiters map[uint64]*waiter // log/status followers per task
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

// New returns an engine; nothing runs before Run.
func New(opts Options) *Engine {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.PruneEvery <= 0 {
		opts.PruneEvery = defaultPruneEvery
	}
	if opts.PruneDelay <= 0 {
		opts.PruneDelay = defaultPruneDelay
	}
	e := &Engine{
		opts:     opts,
		log:      opts.Logger,
		run:      opts.Run,
		now:      time.Now,
		queues:   map[tmplKey][]uint64{},
		queuedAt: map[uint64]tmplKey{},
		active:   map[uint64]*taskRun{},
		projects: map[string]int{},
		tmpls:    map[tmplKey]int{},
		waiters:  map[uint64]*waiter{},
		ready:    make(chan struct{}),
	}
	if opts.Store != nil {
		e.store = opts.Store
	}
	if e.run == nil {
		e.run = runner.Run
	}
	e.met = newMetrics(opts.Registerer, e.log)
	return e
}

// Run recovers from a previous crash (running tasks → interrupted,
// waiting tasks queued), then starts tasks as slots free up until ctx ends;
// then it stops running tasks (SIGTERM, grace, SIGKILL) and returns once
// every task goroutine has ended. Tasks still waiting stay waiting in the
// state and run after the next start. Run may be called once.
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
		e.mu.Lock()
		e.closed = true
		e.mu.Unlock()
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

	var bg sync.WaitGroup
	bg.Go(func() { e.pruneLoop(ctx) })

	<-ctx.Done()
	e.mu.Lock()
	e.closed = true
	for _, r := range e.active {
		r.cancel(errShutdown)
	}
	e.mu.Unlock()
	e.tasks.Wait()
	bg.Wait()
	return nil
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
		if err := e.store.AppendLog(ctx, t.ID, []state.LogLine{{Time: now, Text: "*** " + msgInterrupted + " ***"}}); err != nil {
			e.met.logWriteErrors.Inc()
			e.log.Error("append interruption line", "task", t.ID, "err", err)
		}
		nt, err := e.store.UpdateTask(ctx, t.ID, func(t *state.Task) error {
			t.Message = fmt.Sprintf("interrupted: the daemon stopped while the task was %s", t.Status) // msgInterrupted when running
			t.Status = state.StatusInterrupted
			t.Ended = now
			return nil
		})
		if err != nil {
			return fmt.Errorf("mark task %d interrupted: %w", t.ID, err)
		}
		e.met.finished(nt)
		e.notify(t.ID)
		e.log.Warn("task interrupted by a previous stop", "task", t.ID, "project", t.Project, "template", t.Template, "status", t.Status)
	}
	if queued > 0 {
		e.log.Info("queued waiting tasks from the state", "count", queued)
	}
	return nil
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
// copy is the one created (it may have moved on already).
func (e *Engine) Submit(ctx context.Context, r Request) (state.Task, error) {
	cfg := e.opts.Config.Active()
	tmpl, err := lookupTemplate(cfg, r.Project, r.Template)
	if err != nil {
		return state.Task{}, err
	}
	if err := checkOverrides(tmpl, r); err != nil {
		return state.Task{}, err
	}
	trigger := r.Trigger
	if trigger == "" {
		trigger = "api"
	}
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return state.Task{}, ErrClosed
	}
	t, err := e.store.CreateTask(ctx, state.Task{
		Project: r.Project, Template: r.Template, Status: state.StatusWaiting,
		Trigger: trigger, TriggeredBy: r.TriggeredBy,
		Commit: r.Commit, Branch: r.Branch,
		Vars: r.Vars, Arguments: r.Arguments, Limit: r.Limit,
		Tags: r.Tags, SkipTags: r.SkipTags, Workspace: r.Workspace, DryRun: r.DryRun,
		ExitCode: -1,
	})
	if err != nil {
		return state.Task{}, fmt.Errorf("create task of %s/%s: %w", r.Project, r.Template, err)
	}
	key := tmplKey{r.Project, r.Template}
	var superseded []uint64
	e.mu.Lock()
	if tmpl.Supersede {
		superseded = e.dequeueWhere(func(id uint64, k tmplKey) bool { return k == key && id < t.ID })
	}
	e.enqueue(t.ID, key)
	e.schedule()
	e.mu.Unlock()
	e.notify(t.ID)
	for _, id := range superseded {
		if _, err := e.stopWaiting(ctx, id, fmt.Sprintf("superseded by task %d", t.ID)); err != nil && !errors.Is(err, ErrNotStoppable) {
			e.log.Error("supersede task", "task", id, "by", t.ID, "err", err)
		}
	}
	e.log.Info("task queued", "task", t.ID, "project", t.Project, "template", t.Template, "trigger", trigger)
	return t, nil
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
// allow, and vars that are not a JSON object.
func checkOverrides(t *config.Template, r Request) error {
	allowed := func(o config.Override) bool { return slices.Contains(t.AllowOverrides, o) }
	machine := r.Trigger != "" && r.Trigger != "api" && r.Trigger != "cli"
	checks := []struct {
		set bool
		o   config.Override
	}{
		{len(r.Vars) > 0, config.OverrideVars},
		{r.Commit != "" && !machine, config.OverrideCommit},
		{r.Branch != "" && !machine, config.OverrideBranch},
		{len(r.Arguments) > 0, config.OverrideArguments},
		{r.Limit != "", config.OverrideLimit},
		{len(r.Tags) > 0, config.OverrideTags},
		{len(r.SkipTags) > 0, config.OverrideSkipTags},
		{r.Workspace != "", config.OverrideWorkspace},
		{r.DryRun, config.OverrideDryRun},
	}
	for _, c := range checks {
		if c.set && !allowed(c.o) {
			return fmt.Errorf("%w: %s not allowed by template %s", ErrBadRequest, c.o, t.Name)
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
	e.notify(id)
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

// Prune applies the active retention policy once and returns how many
// tasks it deleted.
func (e *Engine) Prune(ctx context.Context) (int, error) {
	cfg := e.opts.Config.Active()
	if cfg == nil {
		return 0, nil
	}
	ret := cfg.Settings.Retention
	if ret.KeepTasks <= 0 && ret.KeepDays <= 0 {
		return 0, nil
	}
	n, err := e.store.PruneTasks(ctx, state.Retention{
		KeepTasks: ret.KeepTasks,
		MaxAge:    time.Duration(ret.KeepDays) * 24 * time.Hour,
	})
	if err != nil {
		return n, fmt.Errorf("prune tasks: %w", err)
	}
	return n, nil
}

// Pruned counts what one housekeeping pass deleted from the state.
type Pruned struct {
	Tasks      int // by the retention policy
	Events     int // older than retention.keep_days (30 days when 0)
	Revisions  int // beyond the newest 100 (the active and last are kept)
	Deliveries int // webhook delivery ids older than state.DeliveryTTL
}

// Housekeep runs one housekeeping pass over the state: the task retention
// policy (Prune), then events older than retention.keep_days (30 days
// when it is 0), revision records beyond the newest 100 and webhook
// delivery ids older than state.DeliveryTTL. Each step runs even when an
// earlier one failed; the errors are joined.
func (e *Engine) Housekeep(ctx context.Context) (Pruned, error) {
	var (
		p    Pruned
		errs []error
		err  error
	)
	days := defaultEventDays
	if cfg := e.opts.Config.Active(); cfg != nil && cfg.Settings.Retention.KeepDays > 0 {
		days = cfg.Settings.Retention.KeepDays
	}
	now := e.now()
	if p.Tasks, err = e.Prune(ctx); err != nil {
		errs = append(errs, err)
	}
	// The store's errors already name the operation ("prune events: ...").
	if p.Events, err = e.store.PruneEvents(ctx, now.Add(-time.Duration(days)*24*time.Hour)); err != nil {
		errs = append(errs, err)
	}
	if p.Revisions, err = e.store.PruneRevisions(ctx, keepRevisions); err != nil {
		errs = append(errs, err)
	}
	if p.Deliveries, err = e.store.PruneDeliveries(ctx, now.Add(-state.DeliveryTTL)); err != nil {
		errs = append(errs, err)
	}
	return p, errors.Join(errs...)
}

func (e *Engine) pruneLoop(ctx context.Context) {
	t := time.NewTimer(e.opts.PruneDelay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p, err := e.Housekeep(ctx)
		if err != nil && ctx.Err() == nil {
			e.log.Error("housekeeping", "err", err)
		}
		if p != (Pruned{}) {
			e.log.Info("housekeeping pruned the state", "tasks", p.Tasks, "events", p.Events,
				"revisions", p.Revisions, "deliveries", p.Deliveries)
		}
		t.Reset(e.opts.PruneEvery)
	}
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
