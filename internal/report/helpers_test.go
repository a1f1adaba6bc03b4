package report

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/semaphored/semaphored/internal/state"
)

// memStore keeps the outbox in memory with the semantics of CONTRACTS.md §2
// (replacement by Kind and Target, due by NextAttempt, last delivered
// remembered on ack), and tasks with their logs. It stands in for the
// BoltDB store until state's schema v4 is merged.
type memStore struct {
	mu        sync.Mutex
	now       func() time.Time
	seq       uint64
	entries   map[uint64]*OutboxEntry
	delivered map[string][]byte
	tasks     map[uint64]state.Task
	logs      map[uint64][]state.LogLine
	fn        func(old, new state.Task) []OutboxEntry
}

func newMemStore(now func() time.Time) *memStore {
	return &memStore{now: now, entries: map[uint64]*OutboxEntry{}, delivered: map[string][]byte{},
		tasks: map[uint64]state.Task{}, logs: map[uint64][]state.LogLine{}}
}

func (s *memStore) enqueue(e OutboxEntry) {
	s.seq++
	e.Seq = s.seq
	if e.Created.IsZero() {
		e.Created = s.now()
	}
	if e.NextAttempt.IsZero() {
		e.NextAttempt = e.Created
	}
	e.Attempts, e.LastError, e.Failed = 0, "", false
	if e.Target != "" {
		for k, o := range s.entries {
			if o.Kind == e.Kind && o.Target == e.Target && !o.Failed {
				delete(s.entries, k)
			}
		}
	}
	s.entries[e.Seq] = &e
}

func (s *memStore) EnqueueOutbox(_ context.Context, entries ...OutboxEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range entries {
		s.enqueue(e)
	}
	return nil
}

// change stores a task status change as the state does: the task and the
// entries OutboxFunc returns, in one step.
func (s *memStore) change(t state.Task) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.tasks[t.ID]
	s.tasks[t.ID] = t
	if s.fn == nil {
		return
	}
	for _, e := range s.fn(old, t) {
		if e.TaskID == 0 {
			e.TaskID = t.ID
		}
		if e.Status == "" {
			e.Status = t.Status
		}
		s.enqueue(e)
	}
}

func (s *memStore) appendLog(id uint64, texts ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tasks[id]
	for _, x := range texts {
		t.LogLines++
		s.logs[id] = append(s.logs[id], state.LogLine{N: t.LogLines, Time: s.now(), Text: x})
	}
	s.tasks[id] = t
}

func (s *memStore) sorted(pred func(*OutboxEntry) bool) []OutboxEntry {
	var out []OutboxEntry
	for _, e := range s.entries {
		if pred(e) {
			out = append(out, *e)
		}
	}
	slices.SortFunc(out, func(a, b OutboxEntry) int { return int(a.Seq) - int(b.Seq) })
	return out
}

func (s *memStore) DueOutbox(_ context.Context, now time.Time, limit int) ([]OutboxEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.sorted(func(e *OutboxEntry) bool { return !e.Failed && !e.NextAttempt.After(now) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func (s *memStore) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sorted(func(e *OutboxEntry) bool { return !e.Failed }))
}

func (s *memStore) failedEntries() []OutboxEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sorted(func(e *OutboxEntry) bool { return e.Failed })
}

func (s *memStore) AckOutbox(_ context.Context, seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[seq]
	if !ok {
		return nil
	}
	delete(s.entries, seq)
	if e.Target != "" {
		s.delivered[string(e.Kind)+"\x00"+e.Target] = e.Payload
	}
	return nil
}

func (s *memStore) LastDelivered(_ context.Context, kind OutboxKind, target string) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.delivered[string(kind)+"\x00"+target]
	return p, ok, nil
}

func (s *memStore) FailOutbox(_ context.Context, seq uint64, msg string, next time.Time, final bool) (OutboxEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[seq]
	if !ok {
		return OutboxEntry{}, state.ErrNotFound
	}
	e.Attempts++
	e.LastError, e.NextAttempt, e.Failed = msg, next, final
	return *e, nil
}

func (s *memStore) Task(_ context.Context, id uint64) (state.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tasks[id]
	if !ok {
		return state.Task{}, state.ErrNotFound
	}
	return t, nil
}

func (s *memStore) ReadLog(_ context.Context, id uint64, from uint64, max int) ([]state.LogLine, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []state.LogLine
	for _, l := range s.logs[id] {
		if l.N >= from && (max <= 0 || len(out) < max) {
			out = append(out, l)
		}
	}
	return out, nil
}

func (s *memStore) Tasks(_ context.Context, f state.TaskFilter, before uint64, limit int) ([]state.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []state.Task
	for _, t := range s.tasks {
		if (f.Project == "" || t.Project == f.Project) && (f.Template == "" || t.Template == f.Template) && (before == 0 || t.ID < before) {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b state.Task) int { return int(b.ID) - int(a.ID) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
