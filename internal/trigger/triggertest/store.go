// Package triggertest holds an in-memory store with the semantics of the
// state's durable intake (AcceptDelivery, CompleteDelivery,
// PendingDeliveries, dedupe keys), for the tests of the trigger consumers
// until the BoltDB store with schema v4 is merged; tests that need
// durability across a restart use the real store.
package triggertest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/semaphored/semaphored/internal/trigger"
)

// Store keeps deliveries and tasks in memory. Safe for concurrent use.
type Store struct {
	mu         sync.Mutex
	deliveries map[string]trigger.Delivery
	tasks      []trigger.Task
	dedupe     map[string]uint64
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{deliveries: map[string]trigger.Delivery{}, dedupe: map[string]uint64{}}
}

func key(source, id string) string { return source + "\x00" + id }

func (s *Store) create(d *trigger.Delivery, tasks []trigger.Task) []trigger.Task {
	out := make([]trigger.Task, 0, len(tasks))
	for _, t := range tasks {
		if id, ok := s.dedupe[t.DedupeKey]; ok && t.DedupeKey != "" {
			out = append(out, s.tasks[id-1])
		} else {
			t.ID = uint64(len(s.tasks) + 1)
			if t.Status == "" {
				t.Status = trigger.StatusWaiting
			}
			t.Created = time.Now()
			s.tasks = append(s.tasks, t)
			if t.DedupeKey != "" {
				s.dedupe[t.DedupeKey] = t.ID
			}
			out = append(out, t)
		}
		if !slices.Contains(d.TaskIDs, out[len(out)-1].ID) {
			d.TaskIDs = append(d.TaskIDs, out[len(out)-1].ID)
		}
	}
	return out
}

func (s *Store) tasksOf(d trigger.Delivery) []trigger.Task {
	var out []trigger.Task
	for _, id := range d.TaskIDs {
		out = append(out, s.tasks[id-1])
	}
	return out
}

// AcceptDelivery is state.AcceptDelivery.
func (s *Store) AcceptDelivery(_ context.Context, d trigger.Delivery, tasks []trigger.Task) (trigger.Delivery, []trigger.Task, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.Source == "" || d.ID == "" {
		return trigger.Delivery{}, nil, false, fmt.Errorf("accept delivery: source and id are required")
	}
	if old, ok := s.deliveries[key(d.Source, d.ID)]; ok {
		return old, s.tasksOf(old), false, nil
	}
	if d.Received.IsZero() {
		d.Received = time.Now()
	}
	if !d.Pending {
		d.Payload = nil
	}
	out := s.create(&d, tasks)
	s.deliveries[key(d.Source, d.ID)] = d
	return d, out, true, nil
}

// CompleteDelivery is state.CompleteDelivery.
func (s *Store) CompleteDelivery(_ context.Context, source, id string, tasks []trigger.Task, note string) (trigger.Delivery, []trigger.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deliveries[key(source, id)]
	if !ok {
		return trigger.Delivery{}, nil, trigger.ErrNotFound
	}
	if !d.Pending {
		return d, s.tasksOf(d), nil
	}
	out := s.create(&d, tasks)
	d.Pending, d.Payload, d.Note = false, nil, note
	s.deliveries[key(source, id)] = d
	return d, out, nil
}

// PendingDeliveries is state.PendingDeliveries.
func (s *Store) PendingDeliveries(context.Context) ([]trigger.Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []trigger.Delivery
	for _, d := range s.deliveries {
		if d.Pending {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b trigger.Delivery) int { return a.Received.Compare(b.Received) })
	return out, nil
}

// Delivery is state.Delivery.
func (s *Store) Delivery(_ context.Context, source, id string) (trigger.Delivery, []trigger.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.deliveries[key(source, id)]
	if !ok {
		return trigger.Delivery{}, nil, trigger.ErrNotFound
	}
	return d, s.tasksOf(d), nil
}

// ActiveTasks returns the tasks not in a terminal status.
func (s *Store) ActiveTasks(context.Context) ([]trigger.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []trigger.Task
	for _, t := range s.tasks {
		if t.Status == trigger.StatusWaiting || t.Status == trigger.StatusStarting || t.Status == trigger.StatusRunning {
			out = append(out, t)
		}
	}
	return out, nil
}

// Tasks returns every task, by id.
func (s *Store) Tasks() []trigger.Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.tasks)
}

// Deliveries returns every delivery, by time received.
func (s *Store) Deliveries() []trigger.Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []trigger.Delivery
	for _, d := range s.deliveries {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b trigger.Delivery) int {
		if c := a.Received.Compare(b.Received); c != 0 {
			return c
		}
		return compareStr(a.ID, b.ID)
	})
	return out
}

func compareStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// SetStatus sets the status of task id (as the engine would).
func (s *Store) SetStatus(id uint64, st trigger.TaskStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tasks[id-1].Status = st
}
