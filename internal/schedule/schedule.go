package schedule

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/prom"
	"github.com/semaphored/semaphored/internal/trigger"
)

// Source is the delivery source of schedule fires.
const Source = "schedule"

// LookBack bounds how far back catch_up: last looks for missed slots: the
// time the state keeps deliveries.
const LookBack = 7 * 24 * time.Hour

// Store is what the scheduler needs of the state.
type Store interface {
	AcceptDelivery(ctx context.Context, d trigger.Delivery, tasks []trigger.Task) (trigger.Delivery, []trigger.Task, bool, error)
	Delivery(ctx context.Context, source, id string) (trigger.Delivery, []trigger.Task, error)
	ActiveTasks(ctx context.Context) ([]trigger.Task, error)
}

// Queue takes tasks created in the store into the run queue
// ((*exec.Engine).Adopt); after shutdown began it returns an error and the
// tasks stay waiting for the next start.
type Queue interface {
	Adopt(tasks ...trigger.Task) error
}

// Options configure New.
type Options struct {
	Store  Store
	Queue  Queue
	Logger *slog.Logger
	// Registerer receives the metrics (none when nil).
	Registerer prom.Registerer
	// Now is the clock (default time.Now); tests pass a fake one.
	Now func() time.Time
}

// Scheduler fires schedules. Create it with New, feed it configs with
// Update (or Subscribe's callback), and drive it with Run.
type Scheduler struct {
	store Store
	queue Queue
	log   *slog.Logger
	now   func() time.Time
	m     metrics

	mu      sync.Mutex
	pending *config.Config // the latest config not applied yet
	applied bool           // a config was applied since start
	entries map[string]*entry
	wake    chan struct{}
}

type metrics struct {
	fires *prom.CounterVec
	next  *prom.Gauge
}

// entry is one active schedule.
type entry struct {
	key      string // "PROJECT/NAME"
	project  string
	name     string // the schedule's name, or "templates.TEMPLATE"
	template string
	decl     string // identity of the declaration: unchanged means keep next
	slots    slots
	overlap  config.Overlap
	catchUp  config.CatchUp
	vars     map[string]any
	branch   string
	next     time.Time
}

// New returns a scheduler with no schedules; it registers its metrics on
// opts.Registerer.
func New(opts Options) (*Scheduler, error) {
	s := &Scheduler{
		store:   opts.Store,
		queue:   opts.Queue,
		log:     opts.Logger,
		now:     opts.Now,
		entries: map[string]*entry{},
		wake:    make(chan struct{}, 1),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.m = metrics{
		fires: prom.NewCounterVec(prom.CounterOpts{
			Name: "semaphored_schedule_fires_total",
			Help: "Schedule slots by outcome: fired (a task queued), skipped (the previous task still waits or runs), caught_up (a slot missed while down), error.",
		}, []string{"outcome"}),
		next: prom.NewGauge(prom.GaugeOpts{
			Name: "semaphored_schedule_next_fire_timestamp_seconds",
			Help: "When the next schedule slot is due, as a Unix time; 0 when no schedule is active.",
		}),
	}
	for _, o := range []string{"fired", "skipped", "caught_up", "error"} {
		s.m.fires.WithLabelValues(o)
	}
	if opts.Registerer != nil {
		for _, c := range []prom.Collector{s.m.fires, s.m.next} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("register schedule metrics: %w", err)
			}
		}
	}
	return s, nil
}

// Update hands the scheduler a new active config. It never blocks: Run
// applies it. It is the function to give to Subscribe.
func (s *Scheduler) Update(cfg *config.Config) {
	if cfg == nil {
		return
	}
	s.mu.Lock()
	s.pending = cfg
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Next returns the next slot of each active schedule, by "PROJECT/NAME".
func (s *Scheduler) Next() map[string]time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]time.Time, len(s.entries))
	for k, e := range s.entries {
		out[k] = e.next
	}
	return out
}

// Run fires schedules until ctx ends; it returns nil then.
func (s *Scheduler) Run(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.apply(ctx)
		s.fireDue(ctx)
		wait := s.untilNext()
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		case <-timer.C:
		}
	}
}

// untilNext is how long to sleep until the earliest slot (at most an hour,
// so a clock jump is noticed).
func (s *Scheduler) untilNext() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first time.Time
	for _, e := range s.entries {
		if !e.next.IsZero() && (first.IsZero() || e.next.Before(first)) {
			first = e.next
		}
	}
	if first.IsZero() {
		s.m.next.Set(0)
		return time.Hour
	}
	s.m.next.Set(float64(first.Unix()))
	d := first.Sub(s.now())
	return min(max(d, 0), time.Hour)
}

// declarations lists the active schedules of cfg.
func declarations(cfg *config.Config) map[string]*entry {
	out := map[string]*entry{}
	for pname, p := range cfg.Projects {
		for name, sc := range p.Schedules {
			if sc.Active != nil && !*sc.Active {
				continue
			}
			out[pname+"/"+name] = &entry{project: pname, name: name, template: sc.Template,
				overlap: sc.Overlap, catchUp: sc.CatchUp, vars: sc.Vars, branch: sc.Branch}
			out[pname+"/"+name].decl = declString(sc.Cron, sc.Timezone, sc)
		}
		for tname, t := range p.Templates {
			st := t.Triggers.Schedule
			if st == nil {
				continue
			}
			name := "templates." + tname
			out[pname+"/"+name] = &entry{project: pname, name: name, template: tname,
				overlap: st.Overlap, catchUp: st.CatchUp, decl: declString(st.Cron, st.Timezone, st)}
		}
	}
	for k, e := range out {
		e.key = k
		if e.overlap == "" {
			e.overlap = config.OverlapSkip
		}
	}
	return out
}

func declString(spec, tz string, v any) string {
	b, _ := json.Marshal(v)
	return spec + "\x00" + tz + "\x00" + string(b)
}

// apply installs the pending config: unchanged schedules keep their next
// slot, changed and new ones start from now, removed ones go. The first
// config after start also catches up what catch_up: last asks for.
func (s *Scheduler) apply(ctx context.Context) {
	s.mu.Lock()
	cfg := s.pending
	s.pending = nil
	first := !s.applied && cfg != nil
	if cfg != nil {
		s.applied = true
	}
	s.mu.Unlock()
	if cfg == nil {
		return
	}
	now := s.now()
	decl := declarations(cfg)
	var catchUp []*entry
	s.mu.Lock()
	next := map[string]*entry{}
	for k, e := range decl {
		if old, ok := s.entries[k]; ok && old.decl == e.decl {
			next[k] = old
			continue
		}
		sp := cfg.Projects[e.project]
		spec, tz := "", ""
		if sc, ok := sp.Schedules[e.name]; ok {
			spec, tz = sc.Cron, sc.Timezone
		} else if t := sp.Templates[e.template]; t != nil && t.Triggers.Schedule != nil {
			spec, tz = t.Triggers.Schedule.Cron, t.Triggers.Schedule.Timezone
		}
		sl, err := parseSlots(spec, tz)
		if err != nil {
			s.log.Error("schedule not installed", "schedule", k, "err", err)
			continue
		}
		e.slots = sl
		e.next = sl.next(now)
		next[k] = e
		if first && e.catchUp == config.CatchUpLast {
			catchUp = append(catchUp, e)
		}
	}
	s.entries = next
	s.mu.Unlock()
	sort.Slice(catchUp, func(i, j int) bool { return catchUp[i].key < catchUp[j].key })
	for _, e := range catchUp {
		s.catchUp(ctx, e, now)
	}
}

// slotID is the delivery id of a slot.
func slotID(e *entry, slot time.Time) string {
	return e.key + "@" + slot.UTC().Format(time.RFC3339)
}

// catchUp fires the last slot before now when it was missed: not recorded
// while an earlier slot within LookBack was (so a new schedule does not
// fire at once).
func (s *Scheduler) catchUp(ctx context.Context, e *entry, now time.Time) {
	var recent []time.Time
	for t := e.slots.next(now.Add(-LookBack)); !t.IsZero() && !t.After(now); t = e.slots.next(t) {
		recent = append(recent, t)
		if len(recent) > 2000 {
			recent = recent[1000:]
		}
	}
	if len(recent) == 0 {
		return
	}
	last := recent[len(recent)-1]
	if s.recorded(ctx, e, last) {
		return
	}
	for i := len(recent) - 2; i >= 0; i-- {
		if s.recorded(ctx, e, recent[i]) {
			s.log.Info("schedule catches up a missed slot", "schedule", e.key, "slot", last)
			s.fire(ctx, e, last, true)
			return
		}
	}
}

func (s *Scheduler) recorded(ctx context.Context, e *entry, slot time.Time) bool {
	_, _, err := s.store.Delivery(ctx, Source, slotID(e, slot))
	return err == nil || !errors.Is(err, trigger.ErrNotFound)
}

// fireDue fires every schedule whose next slot has come: the latest due
// slot only, when the process was late for several.
func (s *Scheduler) fireDue(ctx context.Context) {
	now := s.now()
	type due struct {
		e    *entry
		slot time.Time
	}
	var fires []due
	s.mu.Lock()
	for _, e := range s.entries {
		if e.next.IsZero() || e.next.After(now) {
			continue
		}
		slot := e.next
		for range 100000 {
			n := e.slots.next(slot)
			if n.IsZero() || n.After(now) {
				e.next = n
				break
			}
			slot = n
		}
		fires = append(fires, due{e, slot})
	}
	s.mu.Unlock()
	sort.Slice(fires, func(i, j int) bool { return fires[i].e.key < fires[j].e.key })
	for _, f := range fires {
		s.fire(ctx, f.e, f.slot, false)
	}
}

// fire records one slot: a task, or a skip when the previous task of the
// schedule still waits or runs and overlap is skip.
func (s *Scheduler) fire(ctx context.Context, e *entry, slot time.Time, caughtUp bool) {
	id := slotID(e, slot)
	log := s.log.With("schedule", e.key, "slot", slot.UTC().Format(time.RFC3339))
	d := trigger.Delivery{Source: Source, ID: id, Event: "fire", Received: s.now()}
	var tasks []trigger.Task
	outcome := "fired"
	if caughtUp {
		outcome = "caught_up"
	}
	if e.overlap == config.OverlapSkip {
		active, err := s.store.ActiveTasks(ctx)
		if err != nil {
			log.Error("schedule slot not fired", "err", err)
			s.m.fires.WithLabelValues("error").Inc()
			return
		}
		for _, t := range active {
			if t.Project == e.project && t.Template == e.template && t.Trigger.Type == trigger.TypeSchedule && t.Trigger.Actor == e.name {
				d.Note = fmt.Sprintf("schedule %s slot %s skipped: task %d is still %s (overlap: skip)", e.key, slot.UTC().Format(time.RFC3339), t.ID, t.Status)
				outcome = "skipped"
				break
			}
		}
	}
	if outcome != "skipped" {
		tasks = []trigger.Task{{Request: trigger.Request{
			Project:   e.project,
			Template:  e.template,
			DedupeKey: Source + ":" + id,
			Trigger: trigger.Trigger{Type: trigger.TypeSchedule, Actor: e.name, Source: Source,
				DeliveryID: id, Slot: slot.UTC()},
			Overrides: trigger.Overrides{Vars: e.vars, Branch: e.branch},
		}}}
		d.Note = fmt.Sprintf("schedule %s slot %s: task for %s/%s", e.key, slot.UTC().Format(time.RFC3339), e.project, e.template)
		if caughtUp {
			d.Note += " (missed while the daemon was down; catch_up: last)"
		}
	}
	_, created, isNew, err := s.store.AcceptDelivery(ctx, d, tasks)
	if err != nil {
		log.Error("schedule slot not recorded", "err", err)
		s.m.fires.WithLabelValues("error").Inc()
		return
	}
	if !isNew {
		log.Debug("schedule slot already recorded")
		return
	}
	s.m.fires.WithLabelValues(outcome).Inc()
	if len(created) > 0 {
		log.Info("schedule fired", "task", created[0].ID)
		if s.queue != nil {
			if err := s.queue.Adopt(created...); err != nil {
				log.Warn("schedule task recorded but not queued now; it runs after the next start", "err", err)
			}
		}
	} else {
		log.Info("schedule slot skipped", "note", d.Note)
	}
}
