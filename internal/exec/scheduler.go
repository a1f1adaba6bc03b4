package exec

import (
	"context"
	"slices"

	"github.com/semaphored/semaphored/internal/config"
)

// This file is the scheduler: every function here runs with Engine.mu held.

// enqueue appends a waiting task to its template's queue, keeping ID order
// (recovered tasks may arrive after newer submissions).
func (e *Engine) enqueue(id uint64, k tmplKey) {
	if _, ok := e.queuedAt[id]; ok {
		return
	}
	if _, ok := e.active[id]; ok {
		return
	}
	q := e.queues[k]
	i, _ := slices.BinarySearch(q, id)
	e.queues[k] = slices.Insert(q, i, id)
	e.queuedAt[id] = k
	e.met.waiting.Set(float64(len(e.queuedAt)))
}

// dequeueWhere removes the queued tasks match selects and returns their IDs.
func (e *Engine) dequeueWhere(match func(id uint64, k tmplKey) bool) []uint64 {
	var out []uint64
	for k, q := range e.queues {
		kept := q[:0]
		for _, id := range q {
			if match(id, k) {
				out = append(out, id)
				delete(e.queuedAt, id)
				continue
			}
			kept = append(kept, id)
		}
		if len(kept) == 0 {
			delete(e.queues, k)
		} else {
			e.queues[k] = kept
		}
	}
	slices.Sort(out)
	e.met.waiting.Set(float64(len(e.queuedAt)))
	return out
}

// limits are the active limits, read once per scheduling pass.
type limits struct {
	cfg    *config.Config
	global int
}

func (e *Engine) limits() limits {
	l := limits{cfg: e.opts.Config.Snapshot().Config, global: defaultMaxParallel}
	if l.cfg != nil && l.cfg.Settings.MaxParallelTasks > 0 {
		l.global = l.cfg.Settings.MaxParallelTasks
	}
	return l
}

func (l limits) project(name string) int {
	if l.cfg == nil || l.cfg.Projects[name] == nil {
		return 0
	}
	return l.cfg.Projects[name].MaxParallelTasks
}

func (l limits) template(k tmplKey) int {
	if l.cfg == nil || l.cfg.Projects[k.project] == nil || l.cfg.Projects[k.project].Templates[k.template] == nil {
		return 1 // gone from the config: the task starts alone and ends in error
	}
	if c := l.cfg.Projects[k.project].Templates[k.template].Concurrency; c > 0 {
		return c
	}
	return 1
}

func (e *Engine) projectFree(l limits, project string) bool {
	max := l.project(project)
	return max <= 0 || e.projects[project] < max
}

// schedule starts every task the limits allow: first confirmed plans
// waiting for their slots back, then waiting tasks, oldest head first
// across templates. A template at its limit (or a project at its limit) is
// skipped, never blocking the others.
func (e *Engine) schedule() {
	defer func() {
		e.met.waiting.Set(float64(len(e.queuedAt)))
		e.met.running.Set(float64(len(e.active)))
	}()
	if !e.started || e.closed {
		return
	}
	l := e.limits()
	for i := 0; i < len(e.resumes); {
		r := e.resumes[i]
		if e.global < l.global && e.projectFree(l, r.key.project) {
			e.resumes = slices.Delete(e.resumes, i, i+1)
			e.takeSlots(r)
			close(r.resumed)
			continue
		}
		i++
	}
	for e.global < l.global {
		var best tmplKey
		var bestID uint64
		for k, q := range e.queues {
			if e.tmpls[k] >= l.template(k) || !e.projectFree(l, k.project) {
				continue
			}
			if bestID == 0 || q[0] < bestID {
				best, bestID = k, q[0]
			}
		}
		if bestID == 0 {
			break
		}
		q := e.queues[best][1:]
		if len(q) == 0 {
			delete(e.queues, best)
		} else {
			e.queues[best] = q
		}
		delete(e.queuedAt, bestID)
		e.start(bestID, best)
	}
}

func (e *Engine) takeSlots(r *taskRun) {
	r.holdsSlots = true
	e.global++
	e.projects[r.key.project]++
}

func (e *Engine) giveSlots(r *taskRun) {
	if !r.holdsSlots {
		return
	}
	r.holdsSlots = false
	e.global--
	if e.projects[r.key.project]--; e.projects[r.key.project] <= 0 {
		delete(e.projects, r.key.project)
	}
}

// start makes id active with its slots and runs it on its own goroutine.
func (e *Engine) start(id uint64, k tmplKey) {
	ctx, cancel := context.WithCancelCause(e.baseCtx)
	r := &taskRun{
		id: id, key: k, ctx: ctx, cancel: cancel,
		decision: make(chan bool, 1),
		resumed:  make(chan struct{}),
		decided:  make(chan struct{}),
		done:     make(chan struct{}),
	}
	e.active[id] = r
	e.takeSlots(r)
	e.tmpls[k]++
	e.tasks.Add(1)
	go e.runTask(r)
}

// release gives every slot of a task that ended back and schedules.
func (e *Engine) release(r *taskRun) {
	e.giveSlots(r)
	if e.tmpls[r.key]--; e.tmpls[r.key] <= 0 {
		delete(e.tmpls, r.key)
	}
	if i := slices.Index(e.resumes, r); i >= 0 {
		e.resumes = slices.Delete(e.resumes, i, i+1)
	}
	delete(e.active, r.id)
	e.schedule()
}
