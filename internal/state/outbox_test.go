package state

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// TestOutboxFuncInTransaction checks that Options.Outbox sees each status
// change once, with the old and new task, and that its entries replace
// older ones of the same target.
func TestOutboxFuncInTransaction(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	type call struct{ old, new TaskStatus }
	var calls []call
	s := openTestOpts(t, filepath.Join(t.TempDir(), "state.db"), c, Options{Outbox: func(old, new Task) []OutboxEntry {
		calls = append(calls, call{old.Status, new.Status})
		if new.Status == StatusRunning {
			return nil // nothing to report
		}
		return []OutboxEntry{{Kind: OutboxCommitStatus, Target: "github:acme/site@sha#" + new.Template, Payload: []byte(new.Status)}}
	}})
	tk := mustCreate(t, s, mkTask("p", "t", ""))
	for _, st := range []TaskStatus{StatusRunning, StatusRunning, StatusSuccess} {
		if _, err := s.UpdateTask(ctx, tk.ID, func(t *Task) error { t.Status = st; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	want := []call{{"", StatusWaiting}, {StatusWaiting, StatusRunning}, {StatusRunning, StatusSuccess}}
	if len(calls) != len(want) {
		t.Fatalf("OutboxFunc calls = %v, want %v", calls, want)
	}
	for i := range want {
		if calls[i] != want[i] {
			t.Errorf("call %d = %v, want %v", i, calls[i], want[i])
		}
	}
	got := allOutbox(t, s)
	if len(got) != 1 || got[0].Seq != 2 || got[0].TaskID != tk.ID || got[0].Status != StatusSuccess || string(got[0].Payload) != "success" || !got[0].Created.Equal(c.Now()) || !got[0].NextAttempt.Equal(c.Now()) {
		t.Errorf("outbox = %+v, want only entry 2 (success) replacing entry 1 (waiting)", got)
	}
}

// TestNoOutboxFuncWritesNothing: without Options.Outbox, status changes
// enqueue nothing.
func TestNoOutboxFuncWritesNothing(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, nil)
	tk := mustCreate(t, s, mkTask("p", "t", ""))
	if _, err := s.UpdateTask(ctx, tk.ID, func(t *Task) error { t.Status = StatusSuccess; return nil }); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PendingOutbox(ctx); err != nil || n != 0 {
		t.Errorf("PendingOutbox = %d, %v; want 0", n, err)
	}
}

// TestOutboxFuncBadEntryAborts: an entry without a kind aborts the status
// change with it.
func TestOutboxFuncBadEntryAborts(t *testing.T) {
	ctx := context.Background()
	s := openTestOpts(t, filepath.Join(t.TempDir(), "state.db"), nil, Options{Outbox: func(old, new Task) []OutboxEntry {
		if new.Status == StatusFailure {
			return []OutboxEntry{{Target: "x"}}
		}
		return nil
	}})
	tk := mustCreate(t, s, mkTask("p", "t", ""))
	if _, err := s.UpdateTask(ctx, tk.ID, func(t *Task) error { t.Status = StatusFailure; return nil }); err == nil {
		t.Fatal("UpdateTask with a kindless outbox entry: got nil error")
	}
	if got, _ := s.Task(ctx, tk.ID); got.Status != StatusWaiting {
		t.Errorf("status = %s after an aborted change, want waiting", got.Status)
	}
}

// TestPruneOutbox drops delivered markers and failed entries older than
// the cutoff and keeps the rest.
func TestPruneOutbox(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := openTest(t, c)
	enqueue := func(target string) uint64 {
		t.Helper()
		if err := s.EnqueueOutbox(ctx, OutboxEntry{Kind: OutboxCommitStatus, Target: target, Payload: []byte(target)}); err != nil {
			t.Fatal(err)
		}
		due := allOutbox(t, s)
		return due[len(due)-1].Seq
	}
	if err := s.AckOutbox(ctx, enqueue("old-delivered")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FailOutbox(ctx, enqueue("old-failed"), "400", c.Now(), true); err != nil {
		t.Fatal(err)
	}
	c.Add(48 * time.Hour)
	cutoff := c.Now()
	c.Add(time.Hour)
	if err := s.AckOutbox(ctx, enqueue("new-delivered")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FailOutbox(ctx, enqueue("new-failed"), "400", c.Now(), true); err != nil {
		t.Fatal(err)
	}
	pending := enqueue("pending")
	n, err := s.PruneOutbox(ctx, cutoff)
	if err != nil || n != 2 {
		t.Errorf("PruneOutbox = %d, %v; want 2", n, err)
	}
	if _, ok, _ := s.LastDelivered(ctx, OutboxCommitStatus, "old-delivered"); ok {
		t.Error("old delivered marker kept")
	}
	if p, ok, _ := s.LastDelivered(ctx, OutboxCommitStatus, "new-delivered"); !ok || string(p) != "new-delivered" {
		t.Errorf("new delivered marker = %q, %v; want kept", p, ok)
	}
	failed, _ := s.FailedOutbox(ctx, 0)
	if len(failed) != 1 || failed[0].Target != "new-failed" {
		t.Errorf("failed after prune = %+v, want only new-failed", failed)
	}
	if due := allOutbox(t, s); len(due) != 1 || due[0].Seq != pending {
		t.Errorf("pending after prune = %+v, want entry %d", due, pending)
	}
	if _, err := s.FailOutbox(ctx, 2, "x", c.Now(), false); !errors.Is(err, ErrNotFound) {
		t.Errorf("FailOutbox of a pruned entry: got %v, want ErrNotFound", err)
	}
}

func TestSeenDelivery(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := openTest(t, c)
	steps := []struct {
		name     string
		advance  time.Duration
		source   string
		id       string
		wantSeen bool
	}{
		{"first github delivery", 0, "github", "d1", false},
		{"replay", time.Minute, "github", "d1", true},
		{"same id, other source", 0, "gitea", "d1", false},
		{"other id", 0, "github", "d2", false},
		{"replay after 6 days", 6 * 24 * time.Hour, "github", "d2", true},
		{"forgotten after 7 days", 25 * time.Hour, "github", "d1", false},
		{"replay of the re-recorded id", time.Hour, "github", "d1", true},
	}
	for _, st := range steps {
		c.Add(st.advance)
		seen, err := s.SeenDelivery(ctx, st.source, st.id)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if seen != st.wantSeen {
			t.Errorf("%s: seen = %v, want %v", st.name, seen, st.wantSeen)
		}
	}
}

func TestPruneDeliveries(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := openTest(t, c)
	start := c.Now()
	for i := range 1200 {
		c.Add(time.Second)
		if _, err := s.SeenDelivery(ctx, "github", string(rune('a'+i%26))+time.Duration(i).String()); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PruneDeliveries(ctx, start.Add(1000*time.Second+time.Millisecond))
	if err != nil || n != 1000 {
		t.Errorf("PruneDeliveries = %d, %v; want 1000", n, err)
	}
	// The 200 newest stay: their replays are caught.
	if seen, _ := s.SeenDelivery(ctx, "github", string(rune('a'+1100%26))+time.Duration(1100).String()); !seen {
		t.Error("a recent delivery was forgotten")
	}
	if seen, _ := s.SeenDelivery(ctx, "github", string(rune('a'+5%26))+time.Duration(5).String()); seen {
		t.Error("a pruned delivery was still known")
	}
}
