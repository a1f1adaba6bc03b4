package housekeep

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/state"
)

// Store is the part of the state a Housekeeper prunes (*state.Store).
type Store interface {
	PruneTasks(ctx context.Context, r state.Retention) (int, error)
	PruneEvents(ctx context.Context, before time.Time) (int, error)
	PruneRevisions(ctx context.Context, keep int) (int, error)
	PruneDeliveries(ctx context.Context, before time.Time) (int, error)
	PruneOutbox(ctx context.Context, before time.Time) (int, error)
}

// Policy says what one pass deletes. A zero field disables its step.
type Policy struct {
	// Tasks is the per-template retention of terminal tasks.
	Tasks state.Retention
	// EventsMaxAge: events older than this are deleted.
	EventsMaxAge time.Duration
	// KeepRevisions is how many revision records are kept (the active and
	// the last one always are).
	KeepRevisions int
	// DeliveriesMaxAge: webhook delivery ids older than this are forgotten.
	DeliveriesMaxAge time.Duration
	// OutboxMaxAge: delivered-report markers and failed reports older
	// than this are forgotten (undelivered reports are kept).
	OutboxMaxAge time.Duration
}

// Pruned counts what one pass deleted.
type Pruned struct {
	Tasks      int
	Events     int
	Revisions  int
	Deliveries int
	Outbox     int
}

// Defaults of Options.
const (
	DefaultEvery = 10 * time.Minute
	DefaultDelay = 30 * time.Second
)

// Options configure New. Store and Policy are required.
type Options struct {
	Store Store
	// Policy is read at each pass.
	Policy func() Policy
	// Every is the interval between passes (default 10m); Delay the wait
	// before the first one after Run starts (default 30s), so a start is
	// not slowed down.
	Every, Delay time.Duration
	Logger       *slog.Logger
	Now          func() time.Time
}

// Housekeeper prunes the state on a timer. Pass may be called from any
// goroutine; passes are not serialised (each step is one transaction).
type Housekeeper struct {
	opts Options
	log  *slog.Logger
}

// New returns a housekeeper; nothing runs before Run.
func New(opts Options) *Housekeeper {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Every <= 0 {
		opts.Every = DefaultEvery
	}
	if opts.Delay <= 0 {
		opts.Delay = DefaultDelay
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Housekeeper{opts: opts, log: opts.Logger}
}

// Run passes after Delay, then every Every, until ctx ends. Failures are
// logged and retried at the next pass; Run returns nil when ctx ends.
func (h *Housekeeper) Run(ctx context.Context) error {
	t := time.NewTimer(h.opts.Delay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		p, err := h.Pass(ctx)
		if err != nil && ctx.Err() == nil {
			h.log.Error("housekeeping", "err", err)
		}
		if p != (Pruned{}) {
			h.log.Info("housekeeping pruned the state", "tasks", p.Tasks, "events", p.Events,
				"revisions", p.Revisions, "deliveries", p.Deliveries, "outbox", p.Outbox)
		}
		t.Reset(h.opts.Every)
	}
}

// Pass runs one pass with the current policy: tasks, events, revisions,
// deliveries, outbox. Each step runs even when an earlier one failed; the errors
// (which name their operation) are joined.
func (h *Housekeeper) Pass(ctx context.Context) (Pruned, error) {
	pol := h.opts.Policy()
	now := h.opts.Now()
	var (
		p    Pruned
		errs []error
	)
	step := func(n *int, enabled bool, fn func() (int, error)) {
		if !enabled {
			return
		}
		var err error
		if *n, err = fn(); err != nil {
			errs = append(errs, err)
		}
	}
	step(&p.Tasks, pol.Tasks != (state.Retention{}), func() (int, error) {
		return h.opts.Store.PruneTasks(ctx, pol.Tasks)
	})
	step(&p.Events, pol.EventsMaxAge > 0, func() (int, error) {
		return h.opts.Store.PruneEvents(ctx, now.Add(-pol.EventsMaxAge))
	})
	step(&p.Revisions, pol.KeepRevisions > 0, func() (int, error) {
		return h.opts.Store.PruneRevisions(ctx, pol.KeepRevisions)
	})
	step(&p.Deliveries, pol.DeliveriesMaxAge > 0, func() (int, error) {
		return h.opts.Store.PruneDeliveries(ctx, now.Add(-pol.DeliveriesMaxAge))
	})
	step(&p.Outbox, pol.OutboxMaxAge > 0, func() (int, error) {
		return h.opts.Store.PruneOutbox(ctx, now.Add(-pol.OutboxMaxAge))
	})
	return p, errors.Join(errs...)
}

// Retention defaults of PolicyOf.
const (
	// DefaultEventDays is how long events are kept when
	// retention.keep_days is 0.
	DefaultEventDays = 30
	// KeepRevisions is how many revision records are kept.
	KeepRevisions = 100
)

// PolicyOf is the policy of a configuration: terminal tasks by
// settings.retention (keep_tasks, keep_days, per template; nothing when
// both are 0), events and finished outbox records for keep_days (30 days
// when 0), the newest 100 revision records and webhook delivery ids for
// state.DeliveryTTL. A nil cfg (no revision active yet) keeps every task.
func PolicyOf(cfg *config.Config) Policy {
	p := Policy{
		EventsMaxAge:     DefaultEventDays * 24 * time.Hour,
		KeepRevisions:    KeepRevisions,
		DeliveriesMaxAge: state.DeliveryTTL,
		OutboxMaxAge:     DefaultEventDays * 24 * time.Hour,
	}
	if cfg == nil {
		return p
	}
	r := cfg.Settings.Retention
	p.Tasks = state.Retention{KeepTasks: r.KeepTasks, MaxAge: time.Duration(r.KeepDays) * 24 * time.Hour}
	if r.KeepDays > 0 {
		p.EventsMaxAge = time.Duration(r.KeepDays) * 24 * time.Hour
	}
	p.OutboxMaxAge = p.EventsMaxAge
	return p
}
