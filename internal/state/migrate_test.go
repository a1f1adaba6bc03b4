package state

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestMigrateFromV3 opens testdata/v3.db, a file written by the schema 3
// code (two tasks, a log, outbox entries, two deliveries), and checks what
// the v4 step made of it.
func TestMigrateFromV3(t *testing.T) {
	ctx := context.Background()
	src, err := os.ReadFile(filepath.Join("testdata", "v3.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "state.db")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	c := newClock()
	c.Add(time.Hour)
	s := openTestAt(t, path, c)
	if got := s.SchemaVersion(); got != 4 {
		t.Fatalf("SchemaVersion() = %d, want 4", got)
	}

	// The v3 outbox entries (no kind, no target, no reader) are gone.
	if n, err := s.PendingOutbox(ctx); err != nil || n != 0 {
		t.Errorf("PendingOutbox = %d, %v; want 0", n, err)
	}
	if failed, err := s.FailedOutbox(ctx, 0); err != nil || len(failed) != 0 {
		t.Errorf("FailedOutbox = %v, %v; want none", failed, err)
	}

	// Deliveries became records with their received time.
	deliveries := []struct {
		source, id string
		received   time.Time
	}{
		{"github", "72d3162e-cc78-11e3-81ab-4c9367dc0958", time.Date(2026, 3, 1, 12, 0, 2, 0, time.UTC)},
		{"gitea", "17", time.Date(2026, 3, 1, 12, 1, 2, 0, time.UTC)},
	}
	for _, d := range deliveries {
		got, tasks, err := s.Delivery(ctx, d.source, d.id)
		if err != nil {
			t.Fatalf("Delivery(%s, %s): %v", d.source, d.id, err)
		}
		if got.Source != d.source || got.ID != d.id || !got.Received.Equal(d.received) || got.Pending || len(tasks) != 0 {
			t.Errorf("Delivery(%s, %s) = %+v, %v; want received %v, not pending, no tasks", d.source, d.id, got, tasks, d.received)
		}
		_, _, isNew, err := s.AcceptDelivery(ctx, Delivery{Source: d.source, ID: d.id, Event: "push"}, []Task{mkTask("web", "deploy", "")})
		if err != nil || isNew {
			t.Errorf("AcceptDelivery of migrated %s/%s: isNew %v, %v; want a replay", d.source, d.id, isNew, err)
		}
	}
	if pending, err := s.PendingDeliveries(ctx); err != nil || len(pending) != 0 {
		t.Errorf("PendingDeliveries = %v, %v; want none", pending, err)
	}
	// The time index still finds them: pruning after both forgets both.
	if n, err := s.PruneDeliveries(ctx, time.Date(2026, 3, 1, 12, 1, 0, 0, time.UTC)); err != nil || n != 1 {
		t.Errorf("PruneDeliveries before the second = %d, %v; want 1", n, err)
	}
	if _, _, err := s.Delivery(ctx, "github", deliveries[0].id); !errors.Is(err, ErrNotFound) {
		t.Errorf("pruned delivery: got %v, want ErrNotFound", err)
	}

	// Tasks, indexes and logs are intact; new ids follow the old ones.
	tasks, err := s.Tasks(ctx, TaskFilter{Project: "web"}, 0, 0)
	if err != nil || len(tasks) != 2 || tasks[0].ID != 2 || tasks[1].ID != 1 || tasks[1].Status != StatusSuccess || tasks[1].Commit != "abc123" {
		t.Fatalf("Tasks = %+v, %v; want tasks 2 and 1", tasks, err)
	}
	if lines, err := s.ReadLog(ctx, 1, 0, 0); err != nil || len(lines) != 1 || lines[0].Text != "PLAY [all]" {
		t.Errorf("ReadLog(1) = %v, %v", lines, err)
	}
	nt := mkTask("web", "deploy", "k")
	got, err := s.CreateTask(ctx, nt)
	if err != nil || got.ID != 3 {
		t.Errorf("CreateTask after migration = %d, %v; want id 3", got.ID, err)
	}
	if again, err := s.CreateTask(ctx, nt); !errors.Is(err, ErrDuplicate) || again.ID != 3 {
		t.Errorf("CreateTask with the same key = %d, %v; want 3, ErrDuplicate", again.ID, err)
	}
}
