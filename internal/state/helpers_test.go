package state

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// clock is a settable time source for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// openTest opens a store in a fresh temporary directory. On cleanup it
// runs bbolt's consistency check, failing the test on any problem, and
// closes the store.
func openTest(tb testing.TB, c *clock) *Store {
	tb.Helper()
	return openTestAt(tb, filepath.Join(tb.TempDir(), "state.db"), c)
}

func openTestAt(tb testing.TB, path string, c *clock) *Store {
	tb.Helper()
	return openTestOpts(tb, path, c, Options{})
}

// openTestOpts is openTestAt with more options; c, when set, replaces
// opts.Now.
func openTestOpts(tb testing.TB, path string, c *clock, opts Options) *Store {
	tb.Helper()
	if c != nil {
		opts.Now = c.Now
	}
	s, err := Open(path, opts)
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	tb.Cleanup(func() {
		// Close is idempotent in bbolt; tests that closed early are fine.
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
		checkFile(tb, path)
	})
	return s
}

// checkFile runs bbolt's consistency check over the file at path and fails
// the test on any problem.
func checkFile(tb testing.TB, path string) {
	tb.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		tb.Errorf("open %s for check: %v", path, err)
		return
	}
	defer db.Close()
	err = db.View(func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			tb.Errorf("consistency check of %s: %v", path, err)
		}
		return nil
	})
	if err != nil {
		tb.Errorf("check %s: %v", path, err)
	}
}

// mustCreate creates a task or fails the test.
func mustCreate(tb testing.TB, s *Store, t Task) Task {
	tb.Helper()
	got, err := s.CreateTask(context.Background(), t)
	if err != nil {
		tb.Fatalf("CreateTask: %v", err)
	}
	return got
}

// notifyEach is an OutboxFunc that enqueues one untargeted notification
// per status change, so that no entry replaces another.
func notifyEach(old, new Task) []OutboxEntry {
	return []OutboxEntry{{Kind: OutboxNotification, Payload: []byte(`{"from":"` + string(old.Status) + `"}`)}}
}

// allOutbox returns every entry not failed, due or not, by Seq.
func allOutbox(tb testing.TB, s *Store) []OutboxEntry {
	tb.Helper()
	got, err := s.DueOutbox(context.Background(), time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC), 0)
	if err != nil {
		tb.Fatalf("DueOutbox: %v", err)
	}
	return got
}

// mkTask is a task of project and template, with an optional dedupe key.
// It assigns fields instead of using a literal, so that it compiles
// however Task groups them.
func mkTask(project, template, dedupeKey string) Task {
	var t Task
	t.Project, t.Template, t.DedupeKey = project, template, dedupeKey
	return t
}
