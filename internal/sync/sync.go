package sync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	gosync "sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/prom"
	"github.com/semaphored/semaphored/internal/state"
)

// ErrInvalid wraps the load and validation errors of a rejected revision.
var ErrInvalid = errors.New("invalid configuration")

// Store is the part of the state the syncer uses.
type Store interface {
	Objects(ctx context.Context) ([]state.Object, error)
	ActiveRevision(ctx context.Context) (state.Revision, bool, error)
	LastRevision(ctx context.Context) (state.Revision, bool, error)
	ApplyRevision(ctx context.Context, rev state.Revision, changes []state.Change) error
	RecordInvalidRevision(ctx context.Context, rev state.Revision) error
}

// Options configure New.
type Options struct {
	Source Source
	Store  Store
	Load   config.LoadOptions
	// Poll is the interval between checks of the source (0: 1 minute for
	// git; DefaultDirPoll for a directory, whose fsnotify watch gives
	// changes at once and the poll bounds what a lost watch costs).
	Poll time.Duration
	// Debounce groups bursts of file events (default 200ms).
	Debounce   time.Duration
	Logger     *slog.Logger
	Registerer prom.Registerer
	Now        func() time.Time
	// OnRejected is called once for each revision rejected by validation,
	// after it was recorded, on the sync goroutine: it must not block for
	// long. The reporter posts the failure status of the config commit.
	OnRejected func(rev state.Revision)
}

// Result says what one sync pass did.
type Result struct {
	// Unchanged: the head did not move, nothing was read.
	Unchanged bool
	Revision  state.Revision
	Changes   []state.Change
}

// Active is the configuration in force.
type Active struct {
	Config   *config.Config
	Revision state.Revision
	// Base is what relative local repository paths resolve against.
	Base string
}

// Syncer reconciles a source into the state and holds the active config.
// Sync passes are serialised; Active, Snapshot, Subscribe and Kick are
// safe from any goroutine.
type Syncer struct {
	opts    Options
	log     *slog.Logger
	active  atomic.Pointer[Active]
	kick    chan struct{}
	mu      gosync.Mutex // serialises passes; guards lastHead
	last    string
	metrics metrics
	subs    subscribers
	// rejected is set while the newest revision looked at was invalid.
	rejected atomic.Bool
}

type metrics struct {
	syncs       *prom.CounterVec
	lastSuccess *prom.Gauge
	lastValid   *prom.Gauge
	sourceUp    *prom.Gauge
	revision    *prom.GaugeVec
	objects     *prom.Gauge
	duration    *prom.Histogram
}

// New returns a syncer. Call Restore, then Run. It fails only when the
// metrics cannot be registered.
func New(opts Options) (*Syncer, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Debounce == 0 {
		opts.Debounce = 200 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Registerer == nil {
		opts.Registerer = prom.NewRegistry()
	}
	if opts.Load.Logger == nil {
		opts.Load.Logger = opts.Logger // lists the skipped non-declaration files at debug level
	}
	m := metrics{
		syncs: prom.NewCounterVec(prom.CounterOpts{
			Name: "semaphored_config_syncs_total",
			Help: "Config sync passes by result: applied, unchanged, invalid, error.",
		}, []string{"result"}),
		lastSuccess: prom.NewGauge(prom.GaugeOpts{
			Name: "semaphored_config_last_success_timestamp_seconds",
			Help: "When a sync pass last succeeded (applied or unchanged), as a Unix time.",
		}),
		lastValid: prom.NewGauge(prom.GaugeOpts{
			Name: "semaphored_config_last_revision_valid",
			Help: "1 when the newest revision looked at was valid, 0 when it was rejected (the last good one stays active).",
		}),
		sourceUp: prom.NewGauge(prom.GaugeOpts{
			Name: "semaphored_config_source_up",
			Help: "1 when the last read of the config source worked, 0 when it failed (missing directory, unreachable repository): the active revision stays.",
		}),
		revision: prom.NewGaugeVec(prom.GaugeOpts{
			Name: "semaphored_config_active_revision_info",
			Help: "The active config revision, as a label on a constant 1 (one series at a time).",
		}, []string{"revision"}),
		objects: prom.NewGauge(prom.GaugeOpts{
			Name: "semaphored_config_objects",
			Help: "Declared objects in the active revision.",
		}),
		duration: prom.NewHistogram(prom.HistogramOpts{
			Name:    "semaphored_config_sync_duration_seconds",
			Help:    "Time of sync passes that read the source (load, validate, diff, apply).",
			Buckets: []float64{.001, .005, .025, .1, .5, 1, 5, 30},
		}),
	}
	for _, c := range []prom.Collector{m.syncs, m.lastSuccess, m.lastValid, m.sourceUp, m.revision, m.objects, m.duration} {
		if err := opts.Registerer.Register(c); err != nil {
			return nil, fmt.Errorf("sync: register metrics: %w", err)
		}
	}
	m.syncs.WithLabelValues("applied")
	m.syncs.WithLabelValues("unchanged")
	m.syncs.WithLabelValues("invalid")
	m.syncs.WithLabelValues("error")
	return &Syncer{opts: opts, log: opts.Logger, kick: make(chan struct{}, 1), metrics: m}, nil
}

// Restore makes the last good revision in the state active, before the
// first pass: after a restart the daemon runs on what it had, even when
// the source is broken or missing now. The restored revision keeps its
// root (see restoredRoot), so relative repository paths still resolve.
func (s *Syncer) Restore(ctx context.Context) error {
	rev, ok, err := s.opts.Store.ActiveRevision(ctx)
	if err != nil || !ok {
		return err
	}
	objs, err := s.opts.Store.Objects(ctx)
	if err != nil {
		return err
	}
	cfg, err := FromObjects(objs)
	if err != nil {
		return err
	}
	s.setActive(&Active{Config: cfg, Revision: rev, Base: s.restoredRoot(ctx, rev)}, len(objs))
	s.log.Info("restored the last good config revision", "revision", rev.ID)
	return nil
}

// restoredRoot is the root of a revision restored from the state. A
// directory source's root is its directory whatever it holds now (the
// files may have changed or be broken, or the directory may be missing
// until it comes back); a git source opens the revision's own checkout,
// from the cache when it is gone.
func (s *Syncer) restoredRoot(ctx context.Context, rev state.Revision) string {
	if d, ok := s.opts.Source.(*DirSource); ok {
		return d.Dir
	}
	tree, err := s.opts.Source.Open(ctx, Head{Key: rev.ID})
	if err != nil || tree.ID != rev.ID {
		s.log.Warn("the checkout of the restored config revision cannot be opened; relative repository paths will not resolve until a revision is applied",
			"revision", rev.ID, "err", err)
		return ""
	}
	return tree.Base
}

// Active returns the configuration in force, nil before the first one.
func (s *Syncer) Active() *Active { return s.active.Load() }

// Snapshot returns the configuration in force, its revision and its root
// as one value (a zero Snapshot before the first revision).
func (s *Syncer) Snapshot() config.Snapshot {
	a := s.active.Load()
	if a == nil {
		return config.Snapshot{}
	}
	return a.Snapshot()
}

// Snapshot returns a as a config.Snapshot.
func (a *Active) Snapshot() config.Snapshot {
	return config.Snapshot{Config: a.Config, Revision: a.Revision.ID, Root: a.Base}
}

// Subscribe calls fn after each revision becomes active (restored at
// start or applied by a pass), with its snapshot, until cancel is called.
// When a revision is active already, fn is called with it before
// Subscribe returns, so a late subscriber misses nothing. fn runs on the
// goroutine that activated the revision and must not block; calls to one
// subscriber never overlap.
func (s *Syncer) Subscribe(fn func(config.Snapshot)) (cancel func()) {
	return s.subs.add(fn, s.active.Load)
}

// Kick asks for a sync pass now (a config-repo webhook, an API call).
func (s *Syncer) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run syncs now, then on every kick, file change and poll tick, until ctx
// ends. Failed passes are logged and retried on the next occasion.
func (s *Syncer) Run(ctx context.Context) error {
	var dw *dirWatch
	if d, ok := s.opts.Source.(*DirSource); ok {
		if s.opts.Poll == 0 {
			s.opts.Poll = DefaultDirPoll
		}
		var err error
		if dw, err = newDirWatch(d.Dir, s.log); err != nil {
			s.log.Warn("config directory not watched; relying on polling", "dir", d.Dir, "poll", s.opts.Poll, "err", err)
		} else {
			defer dw.Close()
		}
	} else if s.opts.Poll == 0 {
		s.opts.Poll = time.Minute
	}
	var tick <-chan time.Time
	if s.opts.Poll > 0 {
		t := time.NewTicker(s.opts.Poll)
		defer t.Stop()
		tick = t.C
	}
	for {
		s.pass(ctx)
		if !s.next(ctx, dw, tick) {
			return nil
		}
	}
}

// next waits for the occasion of the next pass: a kick, a poll tick (which
// also checks that the directory watch still watches the directory), or a
// burst of relevant file events once it has settled. False: ctx ended.
func (s *Syncer) next(ctx context.Context, dw *dirWatch, tick <-chan time.Time) bool {
	var events <-chan fsnotify.Event
	var watchErrs <-chan error
	if dw != nil {
		events, watchErrs = dw.w.Events, dw.w.Errors
	}
	var quiet <-chan time.Time // set while a burst of events settles
	var debounce *time.Timer
	defer func() {
		if debounce != nil {
			debounce.Stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-s.kick:
			return true
		case <-tick:
			if dw != nil {
				dw.check()
			}
			return true
		case ev := <-events:
			if !dw.handle(ev) {
				continue
			}
			if debounce == nil {
				debounce = time.NewTimer(s.opts.Debounce)
			} else {
				debounce.Reset(s.opts.Debounce)
			}
			quiet = debounce.C
		case <-quiet:
			return true
		case err := <-watchErrs:
			s.log.Warn("config watch", "err", err)
		}
	}
}

func (s *Syncer) pass(ctx context.Context) {
	res, err := s.Sync(ctx)
	switch {
	case errors.Is(err, ErrInvalid):
		// Logged with every message by Sync.
	case err != nil && ctx.Err() == nil:
		if a := s.Active(); a != nil {
			s.log.Error("config sync failed; the active revision stays", "source", s.opts.Source.String(), "revision", a.Revision.ID, "err", err)
		} else {
			s.log.Error("config sync failed; no revision is active yet", "source", s.opts.Source.String(), "err", err)
		}
	case err == nil && !res.Unchanged:
		s.log.Info("config revision applied", "revision", res.Revision.ID, "changes", len(res.Changes))
		logPrunedProjects(s.log, res.Changes)
	}
}

// logPrunedProjects warns once per project a revision removed as a whole,
// with how many of its objects went with it: serving another config on
// the same data directory should not drop a project silently.
func logPrunedProjects(log *slog.Logger, changes []state.Change) {
	objects := map[string]int{}
	for _, c := range changes {
		if c.Op == state.OpDelete && c.Key.Project != "" {
			objects[c.Key.Project]++
		}
	}
	for _, c := range changes {
		if c.Op == state.OpDelete && c.Key.Kind == state.KindProject {
			log.Warn("pruned project: it is not in this revision", "project", c.Key.Name, "objects", objects[c.Key.Name])
		}
	}
}

// Sync runs one pass: head → (unchanged: done) → open → load and validate
// → diff against the state → apply in one transaction. An invalid revision
// is recorded with its errors, the active one stays, and the error wraps
// ErrInvalid.
func (s *Syncer) Sync(ctx context.Context) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	head, err := s.opts.Source.Head(ctx)
	if err != nil {
		s.metrics.syncs.WithLabelValues("error").Inc()
		s.metrics.sourceUp.Set(0)
		return Result{}, fmt.Errorf("read config source %s: %w", s.opts.Source, err)
	}
	s.metrics.sourceUp.Set(1)
	if head.Key == s.last && s.Active() != nil {
		s.metrics.syncs.WithLabelValues("unchanged").Inc()
		s.metrics.lastSuccess.Set(float64(s.opts.Now().Unix()))
		return Result{Unchanged: true}, nil
	}
	start := time.Now()
	defer func() { s.metrics.duration.Observe(time.Since(start).Seconds()) }()
	tree, err := untilDone(ctx, func() (Tree, error) { return s.opts.Source.Open(ctx, head) })
	if err != nil {
		s.metrics.syncs.WithLabelValues("error").Inc()
		return Result{}, fmt.Errorf("open config revision %s: %w", head.Key, err)
	}
	rev := state.Revision{ID: tree.ID, Source: s.opts.Source.String(), Message: tree.Message, Author: tree.Author, Seen: s.opts.Now()}
	if a := s.Active(); a != nil && a.Revision.ID == tree.ID {
		s.last = head.Key
		s.metrics.syncs.WithLabelValues("unchanged").Inc()
		s.metrics.lastSuccess.Set(float64(s.opts.Now().Unix()))
		s.backToActive(a.Revision.ID)
		return Result{Unchanged: true, Revision: a.Revision}, nil
	}
	if last, ok, err := s.opts.Store.LastRevision(ctx); err == nil && ok && !last.Valid && last.ID == tree.ID {
		// Already rejected: say so again without recording it twice.
		s.last = head.Key
		s.metrics.syncs.WithLabelValues("invalid").Inc()
		s.metrics.lastValid.Set(0)
		s.rejected.Store(true)
		return Result{Revision: last}, fmt.Errorf("revision %s: %w (already recorded)", last.ID, ErrInvalid)
	}
	cfg, err := untilDone(ctx, func() (*config.Config, error) { return config.Load(tree.Root, s.opts.Load) })
	if ctx.Err() != nil {
		s.metrics.syncs.WithLabelValues("error").Inc()
		return Result{}, fmt.Errorf("load config revision %s: %w", rev.ID, ctx.Err())
	}
	if err != nil {
		rev.Errors = strings.Split(strings.TrimRight(err.Error(), "\n"), "\n")
		if rerr := s.opts.Store.RecordInvalidRevision(ctx, rev); rerr != nil {
			s.metrics.syncs.WithLabelValues("error").Inc()
			return Result{}, fmt.Errorf("record invalid revision %s: %w", rev.ID, rerr)
		}
		s.last = head.Key
		s.metrics.syncs.WithLabelValues("invalid").Inc()
		s.metrics.lastValid.Set(0)
		s.rejected.Store(true)
		s.log.Error("config revision rejected; the last good revision stays active",
			"revision", rev.ID, "problems", len(rev.Errors))
		for _, e := range rev.Errors {
			s.log.Error("config problem", "revision", rev.ID, "problem", e)
		}
		if s.opts.OnRejected != nil {
			s.opts.OnRejected(rev)
		}
		return Result{Revision: rev}, fmt.Errorf("revision %s: %w:\n%s", rev.ID, ErrInvalid, err)
	}
	desired, err := Objects(cfg)
	if err != nil {
		s.metrics.syncs.WithLabelValues("error").Inc()
		return Result{}, err
	}
	stored, err := s.opts.Store.Objects(ctx)
	if err != nil {
		s.metrics.syncs.WithLabelValues("error").Inc()
		return Result{}, fmt.Errorf("read state: %w", err)
	}
	changes := Diff(desired, stored)
	rev.Valid = true
	rev.Applied = s.opts.Now()
	if err := s.opts.Store.ApplyRevision(ctx, rev, changes); err != nil {
		s.metrics.syncs.WithLabelValues("error").Inc()
		return Result{}, fmt.Errorf("apply revision %s: %w", rev.ID, err)
	}
	s.last = head.Key
	s.setActive(&Active{Config: cfg, Revision: rev, Base: tree.Base}, len(desired))
	s.metrics.syncs.WithLabelValues("applied").Inc()
	s.metrics.lastSuccess.Set(float64(s.opts.Now().Unix()))
	s.metrics.lastValid.Set(1)
	s.rejected.Store(false)
	return Result{Revision: rev, Changes: changes}, nil
}

// backToActive is called when the source holds the active revision again:
// after a rejected revision (a bad edit reverted, a git branch reset to the
// good commit), the newest revision looked at is valid once more.
func (s *Syncer) backToActive(id string) {
	if s.rejected.Swap(false) {
		s.metrics.lastValid.Set(1)
		s.log.Info("config back to the active revision "+id, "revision", id)
	}
}

// setActive makes a the configuration in force and tells the subscribers.
func (s *Syncer) setActive(a *Active, objects int) {
	s.subs.publish(a, func() { s.active.Store(a) })
	s.metrics.revision.Reset()
	s.metrics.revision.WithLabelValues(a.Revision.ID).Set(1)
	s.metrics.objects.Set(float64(objects))
}

// Plan loads the source's current tree and returns the changes a sync
// would apply to the store, without applying them.
func Plan(ctx context.Context, src Source, store Store, opts config.LoadOptions) ([]state.Change, []state.Object, error) {
	head, err := src.Head(ctx)
	if err != nil {
		return nil, nil, err
	}
	tree, err := src.Open(ctx, head)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := untilDone(ctx, func() (*config.Config, error) { return config.Load(tree.Root, opts) })
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("%w:\n%w", ErrInvalid, err)
	}
	desired, err := Objects(cfg)
	if err != nil {
		return nil, nil, err
	}
	var stored []state.Object
	if store != nil {
		if stored, err = store.Objects(ctx); err != nil {
			return nil, nil, err
		}
	}
	return Diff(desired, stored), stored, nil
}
