package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/semaphored/semaphored/internal/task"
)

func TestOpenCreatesDirAndFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	path := filepath.Join(dir, "state.db")
	s := openTestAt(t, path, nil)
	if got, want := s.SchemaVersion(), len(migrations); got != want {
		t.Errorf("SchemaVersion() = %d, want %d", got, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("file mode = %o, want 600", got)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := di.Mode().Perm(); got != 0o700 {
		t.Errorf("dir mode = %o, want 700", got)
	}
}

func TestOpenIsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s := openTestAt(t, path, nil)
	mustCreate(t, s, Task{Request: task.Request{Project: "p", Template: "t"}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s2, err := Open(path, Options{})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	// A few ms is the target; the bound leaves room for a loaded -race run.
	if took > 200*time.Millisecond {
		t.Errorf("reopening took %v, want a few ms", took)
	}
	t.Logf("reopen took %v", took)
}

func TestOpenLockedBySecondInstance(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	openTestAt(t, path, nil)

	tests := []struct {
		name    string
		timeout time.Duration
		want    string
	}{
		{"default timeout", 0, "state file " + path + " is in use by another semaphored process (lock not acquired within 1s)"},
		{"short timeout", 50 * time.Millisecond, "state file " + path + " is in use by another semaphored process (lock not acquired within 50ms)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			s, err := Open(path, Options{LockTimeout: tt.timeout})
			if err == nil {
				s.Close()
				t.Fatal("second Open succeeded, want ErrLocked")
			}
			if !errors.Is(err, ErrLocked) {
				t.Errorf("got %v, want an error wrapping ErrLocked", err)
			}
			if err.Error() != tt.want {
				t.Errorf("got message %q, want %q", err.Error(), tt.want)
			}
			// bbolt retries the flock every 50ms and gives up one retry
			// before the timeout.
			if took := time.Since(start); tt.timeout == 0 && took < 900*time.Millisecond {
				t.Errorf("gave up after %v, want about 1s", took)
			}
		})
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	writeRaw(t, path, func(tx *bbolt.Tx) error {
		return writeVersion(tx, len(migrations)+1)
	})
	s, err := Open(path, Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded, want ErrSchemaTooNew")
	}
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("got %v, want ErrSchemaTooNew", err)
	}
	for _, want := range []string{path, "schema version 5", "knows up to 4"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	checkFile(t, path)
}

func TestOpenRejectsGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a bolt file\n", 1024)), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{LockTimeout: 100 * time.Millisecond})
	if err == nil {
		s.Close()
		t.Fatal("Open of a garbage file succeeded")
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
}

// writeRaw writes a file with bbolt directly, as an older semaphored would.
func writeRaw(t *testing.T, path string, fn func(tx *bbolt.Tx) error) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestMigrateFromV0(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	writeRaw(t, path, func(tx *bbolt.Tx) error { return nil }) // a bare bbolt file
	s := openTestAt(t, path, nil)
	if got, want := s.SchemaVersion(), 4; got != want {
		t.Fatalf("SchemaVersion() = %d, want %d", got, want)
	}
	tk := mustCreate(t, s, Task{Request: task.Request{Project: "p", Template: "t"}})
	if got, err := s.Tasks(context.Background(), TaskFilter{Project: "p", Template: "t"}, 0, 10); err != nil || len(got) != 1 || got[0].ID != tk.ID {
		t.Errorf("Tasks after migration = %v, %v; want task %d", got, err, tk.ID)
	}
}

// TestMigrateFromOlder writes the version 1 layout (tasks without
// indexes) the way version 1 did, optionally takes it to version 2 with
// the frozen version 2 step, then checks that Open brought it to the
// current version with every index filled.
func TestMigrateFromOlder(t *testing.T) {
	for _, from := range []int{1, 2} {
		t.Run(fmt.Sprintf("v%d", from), func(t *testing.T) {
			testMigrateFrom(t, from)
		})
	}
}

func testMigrateFrom(t *testing.T, from int) {
	path := filepath.Join(t.TempDir(), "state.db")
	ended := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v1Tasks := []Task{
		{ID: 1, Request: task.Request{Project: "web", Template: "deploy"}, Status: StatusSuccess, Ended: ended},
		{ID: 2, Request: task.Request{Project: "web", Template: "deploy"}, Status: StatusRunning},
		{ID: 3, Request: task.Request{Project: "web", Template: "lint"}, Status: StatusFailure, Ended: ended},
		{ID: 4, Request: task.Request{Project: "db", Template: "deploy"}, Status: StatusWaiting},
	}
	writeRaw(t, path, func(tx *bbolt.Tx) error {
		for _, name := range []string{"meta", "objects", "revisions", "events", "tasks", "logs", "outbox", "deliveries", "delivery_times"} {
			if _, err := tx.CreateBucket([]byte(name)); err != nil {
				return err
			}
		}
		if err := tx.Bucket([]byte("meta")).Put([]byte("schema_version"), []byte("1")); err != nil {
			return err
		}
		b := tx.Bucket([]byte("tasks"))
		for _, tk := range v1Tasks {
			v, err := json.Marshal(tk)
			if err != nil {
				return err
			}
			if err := b.Put(u64(tk.ID), v); err != nil {
				return err
			}
		}
		return b.SetSequence(4)
	})
	if from == 2 {
		writeRaw(t, path, func(tx *bbolt.Tx) error {
			if err := migrations[1](tx); err != nil {
				return err
			}
			return writeVersion(tx, 2)
		})
	}

	s := openTestAt(t, path, nil)
	if got, want := s.SchemaVersion(), 4; got != want {
		t.Fatalf("SchemaVersion() = %d, want %d", got, want)
	}
	ctx := context.Background()
	tests := []struct {
		name string
		f    TaskFilter
		want []uint64
	}{
		{"project", TaskFilter{Project: "web"}, []uint64{3, 2, 1}},
		{"template", TaskFilter{Project: "web", Template: "deploy"}, []uint64{2, 1}},
		{"other project", TaskFilter{Project: "db"}, []uint64{4}},
		{"terminal status in project", TaskFilter{Project: "web", Status: []TaskStatus{StatusSuccess, StatusFailure}}, []uint64{3, 1}},
		{"status", TaskFilter{Status: []TaskStatus{StatusWaiting, StatusSuccess}}, []uint64{4, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Tasks(ctx, tt.f, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if ids := taskIDs(got); !equalIDs(ids, tt.want) {
				t.Errorf("got ids %v, want %v", ids, tt.want)
			}
		})
	}
	active, err := s.ActiveTasks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ids := taskIDs(active); !equalIDs(ids, []uint64{2, 4}) {
		t.Errorf("ActiveTasks ids = %v, want [2 4]", ids)
	}
	// The sequence carries on after the migrated tasks.
	if tk := mustCreate(t, s, Task{Request: task.Request{Project: "web", Template: "deploy"}}); tk.ID != 5 {
		t.Errorf("new task ID = %d, want 5", tk.ID)
	}
}

func taskIDs(ts []Task) []uint64 {
	ids := make([]uint64, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	return ids
}

func equalIDs(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCanceledContext(t *testing.T) {
	s := openTest(t, nil)
	tk := mustCreate(t, s, Task{Request: task.Request{Project: "p", Template: "t"}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := map[string]func() error{
		"Objects":               func() error { _, err := s.Objects(ctx); return err },
		"ActiveRevision":        func() error { _, _, err := s.ActiveRevision(ctx); return err },
		"Revisions":             func() error { _, err := s.Revisions(ctx, 1); return err },
		"ApplyRevision":         func() error { return s.ApplyRevision(ctx, Revision{ID: "a"}, nil) },
		"RecordInvalidRevision": func() error { return s.RecordInvalidRevision(ctx, Revision{ID: "a"}) },
		"Events":                func() error { _, err := s.Events(ctx, 0, 1); return err },
		"CreateTask":            func() error { _, err := s.CreateTask(ctx, Task{}); return err },
		"UpdateTask":            func() error { _, err := s.UpdateTask(ctx, tk.ID, func(*Task) error { return nil }); return err },
		"Task":                  func() error { _, err := s.Task(ctx, tk.ID); return err },
		"Tasks":                 func() error { _, err := s.Tasks(ctx, TaskFilter{}, 0, 1); return err },
		"ActiveTasks":           func() error { _, err := s.ActiveTasks(ctx); return err },
		"AppendLog":             func() error { return s.AppendLog(ctx, tk.ID, []LogLine{{Text: "x"}}) },
		"ReadLog":               func() error { _, err := s.ReadLog(ctx, tk.ID, 0, 1); return err },
		"PruneTasks":            func() error { _, err := s.PruneTasks(ctx, Retention{KeepTasks: 1}); return err },
		"DueOutbox":             func() error { _, err := s.DueOutbox(ctx, time.Now(), 1); return err },
		"PendingOutbox":         func() error { _, err := s.PendingOutbox(ctx); return err },
		"EnqueueOutbox":         func() error { return s.EnqueueOutbox(ctx, OutboxEntry{Kind: OutboxComment}) },
		"AckOutbox":             func() error { return s.AckOutbox(ctx, 1) },
		"FailOutbox":            func() error { _, err := s.FailOutbox(ctx, 1, "x", time.Now(), false); return err },
		"FailedOutbox":          func() error { _, err := s.FailedOutbox(ctx, 1); return err },
		"LastDelivered":         func() error { _, _, err := s.LastDelivered(ctx, OutboxComment, "x"); return err },
		"PruneOutbox":           func() error { _, err := s.PruneOutbox(ctx, time.Now()); return err },
		"AcceptDelivery": func() error {
			_, _, _, err := s.AcceptDelivery(ctx, Delivery{Source: "github", ID: "1"}, nil)
			return err
		},
		"PendingDeliveries": func() error { _, err := s.PendingDeliveries(ctx); return err },
		"CompleteDelivery":  func() error { _, _, err := s.CompleteDelivery(ctx, "github", "1", nil, ""); return err },
		"Delivery":          func() error { _, _, err := s.Delivery(ctx, "github", "1"); return err },
		"SeenDelivery":      func() error { _, err := s.SeenDelivery(ctx, "github", "1"); return err },
		"PruneDeliveries":   func() error { _, err := s.PruneDeliveries(ctx, time.Now()); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			if err := call(); !errors.Is(err, context.Canceled) {
				t.Errorf("got %v, want context.Canceled", err)
			}
		})
	}
	// Nothing was written by the canceled calls.
	got, err := s.Task(context.Background(), tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LogLines != 0 {
		t.Errorf("LogLines = %d after a canceled AppendLog, want 0", got.LogLines)
	}
}

func TestOpenNarrowsFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	writeRaw(t, path, func(tx *bbolt.Tx) error { return nil })
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	openTestAt(t, path, nil)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("file mode = %o, want 600", got)
	}
}
