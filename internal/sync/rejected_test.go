package sync

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/state"
)

// TestOnRejected: each rejected revision is handed to OnRejected once,
// with its problems, after it was recorded; a pass that finds the same
// rejected revision again, and a valid one, call nothing.
func TestOnRejected(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"demo.yaml": demoYAML})
	store := openStore(t)
	var got []state.Revision
	s := mustNew(t, Options{Source: &DirSource{Dir: dir}, Store: store, OnRejected: func(rev state.Revision) {
		last, ok, err := store.LastRevision(context.Background())
		if err != nil || !ok || last.ID != rev.ID || last.Valid {
			t.Errorf("OnRejected(%s) before the revision was recorded: last %+v, %v", rev.ID, last, err)
		}
		got = append(got, rev)
	}})
	ctx := context.Background()
	if _, err := s.Sync(ctx); err != nil || len(got) != 0 {
		t.Fatalf("valid revision: %v, OnRejected called %d times", err, len(got))
	}
	writeFiles(t, dir, map[string]string{"demo.yaml": "project: demo\nbogus: 1\n"})
	if _, err := s.Sync(ctx); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad edit: got %v, want ErrInvalid", err)
	}
	if len(got) != 1 || got[0].Valid || len(got[0].Errors) == 0 || !strings.Contains(got[0].Errors[0], "bogus") {
		t.Fatalf("OnRejected got %+v, want one rejected revision naming the unknown key", got)
	}
	// The same content seen again (a touched file): not reported twice.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "demo.yaml"), later, later); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sync(ctx); !errors.Is(err, ErrInvalid) {
		t.Fatalf("same bad content: got %v, want ErrInvalid", err)
	}
	if len(got) != 1 {
		t.Errorf("OnRejected called %d times, want once for one rejected revision", len(got))
	}
}
