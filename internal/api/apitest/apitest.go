// Package apitest holds hand-written fakes of what package api consumes:
// an in-memory task store, an engine that runs scripted tasks on it, a
// switchable active configuration and a secret resolver. Tests of the API,
// the client and the CLI use them; they follow the documented semantics of
// state.Store and exec.Engine (paging, statuses, FollowLog until the task
// is terminal) so that the handler is tested against realistic behaviour.
package apitest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/exec"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
)

// Store is an in-memory task store. It is safe for concurrent use.
type Store struct {
	mu      sync.Mutex
	tasks   map[uint64]*state.Task
	logs    map[uint64][]state.LogLine
	next    uint64
	changed chan struct{} // closed and replaced on every change

	// Err, when set, is returned by every read.
	Err error
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{tasks: map[uint64]*state.Task{}, logs: map[uint64][]state.LogLine{}, changed: make(chan struct{})}
}

// notify wakes the waiters; s.mu is held.
func (s *Store) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Add stores t with the next ID (status waiting and Created now unless set).
func (s *Store) Add(t state.Task) state.Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	t.ID = s.next
	if t.Status == "" {
		t.Status = state.StatusWaiting
	}
	if t.Created.IsZero() {
		t.Created = time.Now().UTC()
	}
	if t.ExitCode == 0 && !t.Status.Terminal() {
		t.ExitCode = -1
	}
	s.tasks[t.ID] = &t
	s.notify()
	return t
}

// Update edits a task in place.
func (s *Store) Update(id uint64, fn func(*state.Task) error) (state.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tasks[id]
	if !ok {
		return state.Task{}, fmt.Errorf("task %d: %w", id, state.ErrNotFound)
	}
	c := *t
	if err := fn(&c); err != nil {
		return state.Task{}, err
	}
	*t = c
	s.notify()
	return c, nil
}

// Finish ends a task with a terminal status and exit code.
func (s *Store) Finish(id uint64, st state.TaskStatus, exitCode int) {
	_, _ = s.Update(id, func(t *state.Task) error {
		t.Status, t.ExitCode, t.Ended = st, exitCode, time.Now().UTC()
		return nil
	})
}

// AppendLog stores lines of text after the task's last line.
func (s *Store) AppendLog(id uint64, texts ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tasks[id]
	for _, text := range texts {
		n := uint64(len(s.logs[id])) + 1
		s.logs[id] = append(s.logs[id], state.LogLine{N: n, Time: time.Now().UTC(), Text: text})
		if t != nil {
			t.LogLines++
			t.LogBytes += uint64(len(text)) + 1
		}
	}
	s.notify()
}

// Task implements api.TaskStore.
func (s *Store) Task(ctx context.Context, id uint64) (state.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return state.Task{}, s.Err
	}
	t, ok := s.tasks[id]
	if !ok {
		return state.Task{}, fmt.Errorf("task %d: %w", id, state.ErrNotFound)
	}
	return *t, nil
}

// Tasks implements api.TaskStore: newest first, ID < before (0: all).
func (s *Store) Tasks(ctx context.Context, f state.TaskFilter, before uint64, limit int) ([]state.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return nil, s.Err
	}
	ids := make([]uint64, 0, len(s.tasks))
	for id := range s.tasks {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] > ids[j] })
	var out []state.Task
	for _, id := range ids {
		if len(out) >= limit {
			break
		}
		t := s.tasks[id]
		if before != 0 && id >= before || !matches(f, t) {
			continue
		}
		out = append(out, *t)
	}
	return out, nil
}

func matches(f state.TaskFilter, t *state.Task) bool {
	if f.Project != "" && t.Project != f.Project || f.Template != "" && t.Template != f.Template {
		return false
	}
	if len(f.Status) == 0 {
		return true
	}
	for _, st := range f.Status {
		if t.Status == st {
			return true
		}
	}
	return false
}

// ReadLog implements api.TaskStore.
func (s *Store) ReadLog(ctx context.Context, id uint64, from uint64, max int) ([]state.LogLine, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return nil, s.Err
	}
	if _, ok := s.tasks[id]; !ok {
		return nil, fmt.Errorf("task %d: %w", id, state.ErrNotFound)
	}
	var out []state.LogLine
	for _, l := range s.logs[id] {
		if l.N >= from && len(out) < max {
			out = append(out, l)
		}
	}
	return out, nil
}

// snapshot returns the task and the channel closed on the next change.
func (s *Store) snapshot(id uint64) (state.Task, <-chan struct{}, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tasks[id]
	if !ok {
		return state.Task{}, s.changed, false
	}
	return *t, s.changed, true
}

// Engine is a fake exec engine over a Store. Submitted tasks are stored
// waiting; when Run is set, it runs in a goroutine the engine owns (Wait
// waits for them all).
type Engine struct {
	Store *Store
	// SubmitErr, when set, is what Submit returns.
	SubmitErr error
	// Run, when set, plays a submitted task (append log lines, finish it).
	Run func(s *Store, t state.Task)

	mu        sync.Mutex
	submitted []task.Request
	wg        sync.WaitGroup
	followers atomic.Int64
}

// Submit implements api.Engine.
func (e *Engine) Submit(ctx context.Context, r task.Request) (state.Task, error) {
	if e.SubmitErr != nil {
		return state.Task{}, e.SubmitErr
	}
	e.mu.Lock()
	e.submitted = append(e.submitted, r)
	e.mu.Unlock()
	t := e.Store.Add(state.Task{Request: r})
	if e.Run != nil {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.Run(e.Store, t)
		}()
	}
	return t, nil
}

// Submitted returns the requests Submit accepted.
func (e *Engine) Submitted() []task.Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]task.Request(nil), e.submitted...)
}

// Wait waits for the goroutines Run plays.
func (e *Engine) Wait() { e.wg.Wait() }

// Followers is how many FollowLog calls are in progress.
func (e *Engine) Followers() int64 { return e.followers.Load() }

// Stop implements api.Engine.
func (e *Engine) Stop(ctx context.Context, id uint64) (state.Task, error) {
	return e.Store.Update(id, func(t *state.Task) error {
		if t.Status.Terminal() {
			return fmt.Errorf("task %d is %s: %w", id, t.Status, exec.ErrNotStoppable)
		}
		t.Status, t.Ended, t.Message = state.StatusStopped, time.Now().UTC(), "stopped by API"
		return nil
	})
}

// StopWaiting implements api.Engine.
func (e *Engine) StopWaiting(ctx context.Context, project, template string) (int, error) {
	ts, err := e.Store.Tasks(ctx, state.TaskFilter{Project: project, Template: template, Status: []state.TaskStatus{state.StatusWaiting}}, 0, 1<<30)
	if err != nil {
		return 0, err
	}
	for _, t := range ts {
		if _, err := e.Stop(ctx, t.ID); err != nil {
			return 0, err
		}
	}
	return len(ts), nil
}

// Confirm implements api.Engine.
func (e *Engine) Confirm(ctx context.Context, id uint64) (state.Task, error) {
	return e.Store.Update(id, func(t *state.Task) error {
		if t.Status != state.StatusWaitingConfirmation {
			return fmt.Errorf("task %d is %s: %w", id, t.Status, exec.ErrNotAwaitingApproval)
		}
		t.Status = state.StatusRunning
		return nil
	})
}

// Reject implements api.Engine.
func (e *Engine) Reject(ctx context.Context, id uint64) (state.Task, error) {
	return e.Store.Update(id, func(t *state.Task) error {
		if t.Status != state.StatusWaitingConfirmation {
			return fmt.Errorf("task %d is %s: %w", id, t.Status, exec.ErrNotAwaitingApproval)
		}
		t.Status, t.Ended, t.Message = state.StatusStopped, time.Now().UTC(), "rejected"
		return nil
	})
}

// FollowLog implements api.Engine: it passes the lines from line from on
// as they are stored, until the task is terminal and every line passed,
// or ctx ends.
func (e *Engine) FollowLog(ctx context.Context, id uint64, from uint64, fn func([]state.LogLine) error) error {
	e.followers.Add(1)
	defer e.followers.Add(-1)
	if from == 0 {
		from = 1
	}
	for {
		t, changed, ok := e.Store.snapshot(id)
		if !ok {
			return fmt.Errorf("task %d: %w", id, state.ErrNotFound)
		}
		lines, err := e.Store.ReadLog(ctx, id, from, 1000)
		if err != nil {
			return err
		}
		if len(lines) > 0 {
			if err := fn(lines); err != nil {
				return err
			}
			from = lines[len(lines)-1].N + 1
			continue
		}
		if t.Status.Terminal() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// Config is a switchable active configuration.
type Config struct {
	p atomic.Pointer[config.Config]
}

// NewConfig returns a Config with cfg active.
func NewConfig(cfg *config.Config) *Config {
	c := &Config{}
	c.p.Store(cfg)
	return c
}

// Snapshot implements api.Snapshots.
func (c *Config) Snapshot() config.Snapshot {
	cfg := c.p.Load()
	if cfg == nil {
		return config.Snapshot{}
	}
	return config.Snapshot{Config: cfg, Revision: "test"}
}

// Set makes cfg active.
func (c *Config) Set(cfg *config.Config) { c.p.Store(cfg) }

// Secrets resolves {env: NAME} references from a map and counts calls.
type Secrets struct {
	Values map[string]string
	calls  atomic.Int64
}

// Resolve implements api.SecretResolver.
func (s *Secrets) Resolve(sec config.Secret) (string, error) {
	s.calls.Add(1)
	v, ok := s.Values[sec.Env]
	if sec.Env == "" || !ok {
		return "", fmt.Errorf("resolve secret {env: %s}: not set", sec.Env)
	}
	return v, nil
}

// Calls is how many times Resolve ran.
func (s *Secrets) Calls() int64 { return s.calls.Load() }
