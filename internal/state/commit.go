package state

import (
	"sync"

	"go.etcd.io/bbolt"
)

// groupCommit runs write functions of concurrent callers in shared
// transactions, so that a burst of small writes pays one fsync per
// transaction instead of one per write. Unlike bbolt's Batch it never
// waits for company: a caller that finds no transaction in progress
// starts one at once with whatever is queued; callers arriving meanwhile
// queue up and go together in the next one, led by the first of them. So
// a lone call costs one commit, and under load the commits fill up.
//
// Each function runs inside the shared transaction in queue order. When
// one returns an error, the transaction is rolled back, that caller gets
// its error, and the others run again in a new transaction: a function
// may run more than once and must give the same result each time.
type groupCommit struct {
	db *bbolt.DB

	mu    sync.Mutex
	busy  bool // a leader is committing
	queue []*commitCall
}

// commitCall is one caller's function and its outcome.
type commitCall struct {
	fn   func(*bbolt.Tx) error
	err  error
	done chan struct{} // closed when err is final
	lead chan struct{} // signalled when the caller is to lead the next commit
}

// do runs fn in a shared write transaction and returns when that
// transaction has committed (or fn failed).
func (g *groupCommit) do(fn func(*bbolt.Tx) error) error {
	c := &commitCall{fn: fn, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	for {
		if !g.busy {
			g.busy = true
			batch := g.queue
			g.queue = nil
			g.mu.Unlock()
			g.commit(batch)
			g.mu.Lock()
			g.busy = false
			if len(g.queue) > 0 {
				// Hand over to the first waiter; if a newcomer leads first,
				// the waiter finds its call done, or leads what is left.
				select {
				case g.queue[0].lead <- struct{}{}:
				default:
				}
			}
			g.mu.Unlock()
			<-c.done
			return c.err
		}
		g.mu.Unlock()
		select {
		case <-c.done:
			return c.err
		case <-c.lead:
		}
		select {
		case <-c.done:
			return c.err
		default:
		}
		g.mu.Lock()
	}
}

// commit runs batch in as few transactions as its failures allow and
// finishes every call of it.
func (g *groupCommit) commit(batch []*commitCall) {
	for len(batch) > 0 {
		failed := -1
		var fnErr error
		err := g.db.Update(func(tx *bbolt.Tx) error {
			for i, c := range batch {
				if err := c.fn(tx); err != nil {
					failed, fnErr = i, err
					return err
				}
			}
			return nil
		})
		if failed < 0 {
			for _, c := range batch {
				c.err = err
				close(c.done)
			}
			return
		}
		c := batch[failed]
		c.err = fnErr
		close(c.done)
		batch = append(batch[:failed:failed], batch[failed+1:]...)
	}
}
