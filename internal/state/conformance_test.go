package state_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/state/statetest"
)

var _ statetest.Store = (*state.Store)(nil)

// boltStore is a *state.Store that the suite can reopen on its file. On
// cleanup it runs bbolt's consistency check and closes the store.
type boltStore struct {
	*state.Store
	opts   state.Options
	closed bool
}

func openBolt(t *testing.T, path string, opts state.Options) *boltStore {
	t.Helper()
	s, err := state.Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	b := &boltStore{Store: s, opts: opts}
	t.Cleanup(func() {
		if b.closed {
			return
		}
		if err := s.Check(context.Background()); err != nil {
			t.Error(err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// Reopen closes the store and opens its file again, as after a restart.
func (b *boltStore) Reopen(t *testing.T) statetest.Store {
	t.Helper()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b.closed = true
	return openBolt(t, b.Path(), b.opts)
}

func TestConformance(t *testing.T) {
	statetest.Run(t, func(t *testing.T) statetest.Store {
		return openBolt(t, filepath.Join(t.TempDir(), "state.db"), state.Options{})
	})
}

func TestConformanceOutboxFunc(t *testing.T) {
	statetest.RunOutboxFunc(t, func(t *testing.T, fn state.OutboxFunc) statetest.Store {
		return openBolt(t, filepath.Join(t.TempDir(), "state.db"), state.Options{Outbox: fn})
	})
}
