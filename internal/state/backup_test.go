package state

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/task"
)

func TestBackupFile(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, nil)
	if err := s.ApplyRevision(ctx, Revision{ID: "r1"}, []Change{{Op: OpCreate, Key: key("p", KindProject, "p"), Value: []byte(`{"a":1}`)}}); err != nil {
		t.Fatal(err)
	}
	tk := mustCreate(t, s, Task{Request: task.Request{Project: "p", Template: "t"}})
	if err := s.AppendLog(ctx, tk.ID, []LogLine{{Text: "one"}, {Text: "two"}}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	if err := s.BackupFile(ctx, path); err != nil {
		t.Fatal(err)
	}
	// Writes after the backup do not reach it.
	if err := s.AppendLog(ctx, tk.ID, []LogLine{{Text: "three"}}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode = %o, want 600", fi.Mode().Perm())
	}
	b := openTestAt(t, path, nil)
	rev, ok, err := b.ActiveRevision(ctx)
	if err != nil || !ok || rev.ID != "r1" {
		t.Errorf("backup active revision = %v, %v, %v; want r1", rev, ok, err)
	}
	lines, err := b.ReadLog(ctx, tk.ID, 0, 0)
	if err != nil || len(lines) != 2 || lines[1].Text != "two" {
		t.Errorf("backup log = %+v, %v; want the 2 lines before the backup", lines, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("backup directory holds %d entries, want only the backup", len(entries))
	}
}

func TestPruneEvents(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := openTest(t, c)
	start := c.Now()
	for i := range 12 {
		var changes []Change
		for j := range 99 {
			changes = append(changes, Change{Op: OpCreate, Key: key("p", KindKey, fmt.Sprintf("k%d-%d", i, j)), Value: []byte(`{}`)})
		}
		if err := s.ApplyRevision(ctx, Revision{ID: fmt.Sprint(i)}, changes); err != nil {
			t.Fatal(err)
		}
		c.Add(time.Hour)
	}
	// Revisions 0..7 happened before start+8h: 8 × 100 events.
	n, err := s.PruneEvents(ctx, start.Add(8*time.Hour))
	if err != nil || n != 800 {
		t.Errorf("PruneEvents = %d, %v; want 800", n, err)
	}
	events, _ := s.Events(ctx, 0, 0)
	if len(events) != 400 || events[0].Seq != 801 || events[0].Revision != "8" {
		t.Errorf("after pruning: %d events from seq %d, want 400 from 801", len(events), events[0].Seq)
	}
	if more, _ := s.Events(ctx, 1200, 0); len(more) != 0 {
		t.Errorf("events after the last: %d, want 0", len(more))
	}
}

func TestPruneRevisions(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, nil)
	if err := s.ApplyRevision(ctx, Revision{ID: "good"}, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if err := s.RecordInvalidRevision(ctx, Revision{ID: fmt.Sprint("bad", i), Errors: []string{"x.yml:1:1: bad"}}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PruneRevisions(ctx, 5)
	if err != nil || n != 15 {
		t.Errorf("PruneRevisions = %d, %v; want 15 (21 less 5 newest less the active one)", n, err)
	}
	revs, _ := s.Revisions(ctx, 0)
	if len(revs) != 6 || revs[0].ID != "bad19" || revs[5].ID != "good" {
		t.Errorf("kept revisions = %v, want bad19..bad15 and good", revs)
	}
	if active, ok, err := s.ActiveRevision(ctx); err != nil || !ok || active.ID != "good" {
		t.Errorf("active = %v, %v, %v; want good", active, ok, err)
	}
}

func TestPruneByAgeWithoutEndTime(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := openTest(t, c)
	old := mustCreate(t, s, Task{Request: task.Request{Project: "p", Template: "t"}, Created: c.Now().Add(-48 * time.Hour)})
	if _, err := s.UpdateTask(ctx, old.ID, func(t *Task) error { t.Status = StatusError; return nil }); err != nil {
		t.Fatal(err)
	}
	recent := mustCreate(t, s, Task{Request: task.Request{Project: "p", Template: "t"}, Status: StatusSuccess})
	n, err := s.PruneTasks(ctx, Retention{MaxAge: 24 * time.Hour})
	if err != nil || n != 1 {
		t.Fatalf("PruneTasks = %d, %v; want 1", n, err)
	}
	if _, err := s.Task(ctx, recent.ID); err != nil {
		t.Errorf("recent task: %v", err)
	}
}
