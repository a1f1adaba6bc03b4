package sync

import (
	gosync "sync"

	"github.com/semaphored/semaphored/internal/config"
)

// subscribers are the functions told when a revision becomes active.
// publish runs them in subscription order; mu is held while they run, so
// calls never overlap and a cancelled subscriber is never called after
// cancel returned.
type subscribers struct {
	mu   gosync.Mutex
	next int
	fns  map[int]func(config.Snapshot)
	ids  []int
}

// add registers fn and calls it with the current revision, if any.
func (s *subscribers) add(fn func(config.Snapshot), current func() *Active) (cancel func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fns == nil {
		s.fns = map[int]func(config.Snapshot){}
	}
	id := s.next
	s.next++
	s.fns[id] = fn
	s.ids = append(s.ids, id)
	if a := current(); a != nil {
		fn(a.Snapshot())
	}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.fns, id)
		for i, x := range s.ids {
			if x == id {
				s.ids = append(s.ids[:i:i], s.ids[i+1:]...)
				break
			}
		}
	}
}

// publish runs store (which makes a active) and calls every subscriber
// with a's snapshot, under mu: a subscriber added meanwhile sees a either
// at its subscription or here, never twice.
func (s *subscribers) publish(a *Active, store func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	store()
	snap := a.Snapshot()
	for _, id := range s.ids {
		s.fns[id](snap)
	}
}
