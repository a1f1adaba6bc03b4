package exec

import "sync"

// Followers wakes whoever follows a task (FollowLog) when its log grew or
// its status changed. Hub is the in-process implementation; a shared
// database would give one built on its notifications, so that a follower
// on one daemon wakes for a task another daemon runs.
type Followers interface {
	// Watch returns a channel closed at the first change of task id
	// notified after Watch was called, and a release func the follower
	// calls once it stops waiting on that channel.
	Watch(id uint64) (changed <-chan struct{}, release func())
	// Notify tells the followers of task id that it changed. It never
	// blocks.
	Notify(id uint64)
}

// Hub is the in-memory Followers: one channel per followed task, closed
// and replaced at each notification. Tasks nobody follows cost nothing.
// Its zero value is ready; it is safe for concurrent use.
type Hub struct {
	mu      sync.Mutex
	waiters map[uint64]*waiter
}

// waiter is the notification of one task's followers.
type waiter struct {
	ch   chan struct{}
	refs int
}

// Watch implements Followers.
func (h *Hub) Watch(id uint64) (<-chan struct{}, func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.waiters == nil {
		h.waiters = map[uint64]*waiter{}
	}
	w := h.waiters[id]
	if w == nil {
		w = &waiter{ch: make(chan struct{})}
		h.waiters[id] = w
	}
	w.refs++
	return w.ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if w.refs--; w.refs == 0 && h.waiters[id] == w {
			delete(h.waiters, id)
		}
	}
}

// Notify implements Followers.
func (h *Hub) Notify(id uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if w := h.waiters[id]; w != nil {
		close(w.ch)
		w.ch = make(chan struct{})
	}
}

// followed is how many tasks are followed now (for tests).
func (h *Hub) followed() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.waiters)
}
