package state

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/task"
)

func TestOutboxAckAndRetry(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, nil)
	a := mustCreate(t, s, Task{Request: task.Request{Project: "p", Template: "t"}})
	b := mustCreate(t, s, Task{Request: task.Request{Project: "p", Template: "t"}})
	if _, err := s.UpdateTask(ctx, a.ID, func(t *Task) error { t.Status = StatusSuccess; return nil }); err != nil {
		t.Fatal(err)
	}
	got, err := s.Outbox(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		task   uint64
		status TaskStatus
	}{{a.ID, StatusWaiting}, {b.ID, StatusWaiting}, {a.ID, StatusSuccess}}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].Seq != uint64(i+1) || got[i].TaskID != w.task || got[i].Status != w.status {
			t.Errorf("entry %d = %+v, want seq %d task %d %s", i, got[i], i+1, w.task, w.status)
		}
	}
	if page, _ := s.Outbox(ctx, 2); len(page) != 2 || page[0].Seq != 1 {
		t.Errorf("Outbox(2) = %+v, want the 2 oldest", page)
	}

	e, err := s.RetryOutbox(ctx, 2)
	if err != nil || e.Attempts != 1 {
		t.Errorf("RetryOutbox = %+v, %v; want 1 attempt", e, err)
	}
	if e, _ = s.RetryOutbox(ctx, 2); e.Attempts != 2 {
		t.Errorf("second RetryOutbox: %d attempts, want 2", e.Attempts)
	}
	if err := s.AckOutbox(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.AckOutbox(ctx, 1); err != nil {
		t.Errorf("second ack of the same entry: %v, want nil", err)
	}
	left, _ := s.Outbox(ctx, 0)
	if len(left) != 2 || left[0].Seq != 2 || left[0].Attempts != 2 || left[1].Seq != 3 {
		t.Errorf("after ack: %+v, want entries 2 (2 attempts) and 3", left)
	}
	if _, err := s.RetryOutbox(ctx, 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("RetryOutbox of an acked entry: got %v, want ErrNotFound", err)
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
