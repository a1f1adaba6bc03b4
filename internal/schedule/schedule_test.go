package schedule

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/prom"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/trigger"
)

// writeConfig writes a config tree with one project "p", two bash
// templates (a, b) and the given schedules YAML, and loads it.
func writeConfig(t *testing.T, schedules string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	y := `project: p
repositories:
  r: {url: .}
templates:
  a: {app: bash, repository: r, script: a.sh}
  b:
    app: bash
    repository: r
    script: b.sh
    triggers:
      schedule: {cron: "0 6 * * *", timezone: Asia/Kolkata, overlap: queue}
schedules:
` + schedules
	if err := os.WriteFile(filepath.Join(dir, "p.yaml"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(dir, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

type queue struct {
	mu  sync.Mutex
	ids []uint64
}

func (q *queue) Adopt(ts ...trigger.Task) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, t := range ts {
		q.ids = append(q.ids, t.ID)
	}
	return nil
}

// clockAt returns a clock that reads at when the bubble starts and moves
// with the bubble's fake time.
func clockAt(at time.Time) func() time.Time {
	off := time.Until(at)
	return func() time.Time { return time.Now().Add(off) }
}

type harness struct {
	store  *realStore
	queue  *queue
	sched  *Scheduler
	reg    *prom.Registry
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, store *realStore, now func() time.Time, cfg *config.Config) *harness {
	t.Helper()
	h := &harness{store: store, queue: &queue{}, reg: prom.NewRegistry(), done: make(chan error, 1)}
	var err error
	h.sched, err = New(Options{Store: store, Queue: h.queue, Registerer: h.reg, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	h.sched.Update(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- h.sched.Run(ctx) }()
	synctest.Wait()
	return h
}

func (h *harness) stop(t *testing.T) {
	h.cancel()
	if err := <-h.done; err != nil {
		t.Fatal(err)
	}
}

// realStore is a real BoltDB state; open it inside the bubble and close
// it before the bubble ends.
type realStore struct {
	*state.Store
	t *testing.T
}

func openStore(t *testing.T, dir string) *realStore {
	t.Helper()
	s, err := state.Open(filepath.Join(dir, "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &realStore{Store: s, t: t}
}

// tasks lists every task, by id.
func (s *realStore) tasks() []state.Task {
	s.t.Helper()
	ts, err := s.Tasks(context.Background(), state.TaskFilter{}, 0, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	slices.SortFunc(ts, func(a, b state.Task) int { return int(a.ID) - int(b.ID) })
	return ts
}

// fired lists the slot ("KEY@SLOT") of every task schedules created.
func fired(s *realStore) []string {
	var out []string
	for _, t := range s.tasks() {
		out = append(out, t.Trigger.DeliveryID)
	}
	return out
}

func TestSchedulerTwoTimezonesAcrossDST(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := writeConfig(t, `  berlin: {cron: "30 2 * * *", timezone: Europe/Berlin, template: a, overlap: queue}
  newyork: {cron: "30 1 * * *", timezone: America/New_York, template: a, overlap: queue, vars: {x: 1}}
  off: {cron: "* * * * *", template: a, active: false}
`)
		store := openStore(t, t.TempDir())
		defer store.Close()
		now := clockAt(time.Date(2026, 10, 24, 12, 0, 0, 0, time.UTC))
		h := start(t, store, now, cfg)
		time.Sleep(10 * 24 * time.Hour)
		synctest.Wait()
		h.stop(t)
		var berlin, ny, kolkata []string
		for _, id := range fired(store) {
			switch {
			case strings.HasPrefix(id, "p/berlin@"):
				berlin = append(berlin, strings.TrimPrefix(id, "p/berlin@"))
			case strings.HasPrefix(id, "p/newyork@"):
				ny = append(ny, strings.TrimPrefix(id, "p/newyork@"))
			case strings.HasPrefix(id, "p/templates.b@"):
				kolkata = append(kolkata, id)
			default:
				t.Errorf("unexpected fire %s", id)
			}
		}
		// Berlin leaves summer time on 25 October, New York on 1 November:
		// each fires once a day, an hour later in UTC after the change.
		wantBerlin := []string{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z", "2026-10-27T01:30:00Z", "2026-10-28T01:30:00Z",
			"2026-10-29T01:30:00Z", "2026-10-30T01:30:00Z", "2026-10-31T01:30:00Z", "2026-11-01T01:30:00Z", "2026-11-02T01:30:00Z", "2026-11-03T01:30:00Z"}
		wantNY := []string{"2026-10-25T05:30:00Z", "2026-10-26T05:30:00Z", "2026-10-27T05:30:00Z", "2026-10-28T05:30:00Z",
			"2026-10-29T05:30:00Z", "2026-10-30T05:30:00Z", "2026-10-31T05:30:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z", "2026-11-03T06:30:00Z"}
		if !slices.Equal(berlin, wantBerlin) {
			t.Errorf("berlin: got %v, want %v", berlin, wantBerlin)
		}
		if !slices.Equal(ny, wantNY) {
			t.Errorf("new york: got %v, want %v", ny, wantNY)
		}
		if len(kolkata) != 10 {
			t.Errorf("template trigger in Asia/Kolkata: got %d fires, want 10: %v", len(kolkata), kolkata)
		}
		tasks := store.tasks()
		if len(tasks) != 30 || len(h.queue.ids) != 30 {
			t.Fatalf("got %d tasks, %d adopted, want 30", len(tasks), len(h.queue.ids))
		}
		for _, task := range tasks {
			if task.Trigger.Type != trigger.TypeSchedule || task.Trigger.Slot.IsZero() || task.Trigger.Source != "schedule" {
				t.Errorf("task %+v", task)
			}
			if task.Trigger.Actor == "newyork" && fmt.Sprint(task.Vars["x"]) != "1" {
				t.Errorf("newyork task vars %v", task.Vars)
			}
		}
		if got := h.sched.m.fires.WithLabelValues("fired").Value(); got != 30 {
			t.Errorf("fires metric %v, want 30", got)
		}
	})
}

func TestSchedulerRestartAndReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := writeConfig(t, `  every: {cron: "@every 30s", template: a, overlap: queue}
  hourly: {cron: "@hourly", template: a, overlap: queue}
`)
		store := openStore(t, t.TempDir())
		defer store.Close()
		now := clockAt(time.Date(2026, 12, 1, 10, 59, 50, 0, time.UTC))
		h := start(t, store, now, cfg)
		time.Sleep(65 * time.Second)
		synctest.Wait()
		h.stop(t)
		before := fired(store)
		// A restart at the same instant: the slots already recorded are not
		// fired again, even by a second scheduler racing the first.
		h2 := start(t, store, now, cfg)
		h3 := start(t, store, now, cfg)
		time.Sleep(time.Second)
		synctest.Wait()
		h2.stop(t)
		h3.stop(t)
		if got := fired(store); len(got) != len(before) {
			t.Errorf("restart: got %v, want %v", got, before)
		}
		// A reload keeps the next slot of an unchanged schedule and
		// restarts a changed one from now.
		h4 := start(t, store, now, cfg)
		next := h4.sched.Next()
		time.Sleep(5 * time.Second)
		changed := writeConfig(t, `  every: {cron: "@every 45s", template: a, overlap: queue}
  hourly: {cron: "@hourly", template: a, overlap: queue}
`)
		h4.sched.Update(changed)
		synctest.Wait()
		after := h4.sched.Next()
		if !after["p/hourly"].Equal(next["p/hourly"]) {
			t.Errorf("unchanged hourly: next %v, was %v", after["p/hourly"], next["p/hourly"])
		}
		if want := now().Add(45 * time.Second).Truncate(time.Second); !after["p/every"].Equal(want) {
			t.Errorf("changed every: next %v, want %v", after["p/every"], want)
		}
		h4.stop(t)
	})
}

func TestSchedulerOverlapSkip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := writeConfig(t, `  often: {cron: "*/10 * * * *", template: a}
`)
		store := openStore(t, t.TempDir())
		defer store.Close()
		now := clockAt(time.Date(2026, 12, 1, 10, 5, 0, 0, time.UTC))
		h := start(t, store, now, cfg)
		time.Sleep(21 * time.Minute) // 10:10 fires, 10:20 is skipped: the task still waits
		synctest.Wait()
		if _, err := store.UpdateTask(context.Background(), 1, func(t *state.Task) error { t.Status = state.StatusSuccess; return nil }); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Minute) // 10:30 fires again
		synctest.Wait()
		h.stop(t)
		want := []string{"p/often@2026-12-01T10:10:00Z", "p/often@2026-12-01T10:30:00Z"}
		if got := fired(store); !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
		d, skipped, err := store.Delivery(context.Background(), Source, "p/often@2026-12-01T10:20:00Z")
		if err != nil || len(skipped) != 0 || !strings.Contains(d.Note, "skipped: task 1 is still waiting") {
			t.Errorf("skip note %q", d.Note)
		}
		if got := h.sched.m.fires.WithLabelValues("skipped").Value(); got != 1 {
			t.Errorf("skipped metric %v", got)
		}
	})
}

func TestSchedulerCatchUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := writeConfig(t, `  last: {cron: "0 * * * *", template: a, overlap: queue, catch_up: last}
  none: {cron: "0 * * * *", template: a, overlap: queue}
`)
		store := openStore(t, t.TempDir())
		defer store.Close()
		base := time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
		h := start(t, store, clockAt(base), cfg)
		time.Sleep(time.Hour) // 10:00 fires for both
		synctest.Wait()
		h.stop(t)
		// Down from 10:30 to 13:30: 11:00, 12:00 and 13:00 were missed.
		h = start(t, store, clockAt(base.Add(4*time.Hour)), cfg)
		synctest.Wait()
		h.stop(t)
		want := []string{"p/last@2026-12-01T10:00:00Z", "p/none@2026-12-01T10:00:00Z", "p/last@2026-12-01T13:00:00Z"}
		if got := fired(store); !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
		// A schedule that never fired before does not catch up at once.
		fresh := openStore(t, t.TempDir())
		defer fresh.Close()
		h = start(t, fresh, clockAt(base), cfg)
		synctest.Wait()
		h.stop(t)
		if got := fired(fresh); len(got) != 0 {
			t.Errorf("new schedule caught up %v", got)
		}
	})
}
