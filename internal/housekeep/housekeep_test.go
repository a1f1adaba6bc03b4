package housekeep

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
)

// housekeepState returns a real state file holding 105 invalid revisions
// (and their events) recorded 60 days ago, one recorded an hour ago, one
// webhook delivery accepted 60 days ago and one an hour ago (each with its
// event), and a report delivered 60 days ago.
func housekeepState(t *testing.T) *state.Store {
	t.Helper()
	var (
		mu    sync.Mutex
		clock time.Time
	)
	set := func(at time.Time) {
		mu.Lock()
		clock = at
		mu.Unlock()
	}
	st, err := state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return clock
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close state: %v", err)
		}
	})
	ctx := context.Background()
	now := time.Now()
	// The clock only moves forward, as the event log's order assumes.
	set(now.Add(-60 * 24 * time.Hour))
	if _, _, _, err := st.AcceptDelivery(ctx, state.Delivery{Source: "github", ID: "old", Event: "push"}, nil); err != nil {
		t.Fatal(err)
	}
	// A commit status delivered 60 days ago: its delivered marker.
	if err := st.EnqueueOutbox(ctx, state.OutboxEntry{Kind: state.OutboxCommitStatus, Target: "github:acme/site@abc#semaphored/p/t", Payload: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	due, err := st.DueOutbox(ctx, now, 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("due outbox: %v %v", due, err)
	}
	if err := st.AckOutbox(ctx, due[0].Seq); err != nil {
		t.Fatal(err)
	}
	for i := range 105 {
		if err := st.RecordInvalidRevision(ctx, state.Revision{ID: fmt.Sprintf("old%03d", i), Source: "test", Errors: []string{"bad"}}); err != nil {
			t.Fatal(err)
		}
	}
	set(now.Add(-time.Hour))
	if err := st.RecordInvalidRevision(ctx, state.Revision{ID: "new", Source: "test", Errors: []string{"bad"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := st.AcceptDelivery(ctx, state.Delivery{Source: "github", ID: "recent", Event: "push"}, nil); err != nil {
		t.Fatal(err)
	}
	set(now)
	return st
}

func TestHousekeep(t *testing.T) {
	tests := []struct {
		name       string
		keepDays   int
		want       Pruned
		wantEvents int
	}{
		{"keep_days 0 keeps 30 days of events", 0, Pruned{Events: 106, Revisions: 6, Deliveries: 1, Outbox: 1}, 2},
		{"keep_days 90 keeps the 60-day-old events", 90, Pruned{Revisions: 6, Deliveries: 1}, 108},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := housekeepState(t)
			cfg := &config.Config{Settings: config.Settings{Retention: config.Retention{KeepDays: tt.keepDays}}}
			h := New(Options{Store: st, Policy: func() Policy { return PolicyOf(cfg) }})
			ctx := context.Background()
			got, err := h.Pass(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			events, err := st.Events(ctx, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if len(events) != tt.wantEvents {
				t.Errorf("got %d events left, want %d", len(events), tt.wantEvents)
			}
			revs, err := st.Revisions(ctx, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if len(revs) != KeepRevisions {
				t.Errorf("got %d revisions left, want %d", len(revs), KeepRevisions)
			}
			if last, ok, err := st.LastRevision(ctx); err != nil || !ok || last.ID != "new" {
				t.Errorf("last revision: got %q %v %v, want new", last.ID, ok, err)
			}
			if _, _, err := st.Delivery(ctx, "github", "recent"); err != nil {
				t.Errorf("recent delivery: %v, want it remembered", err)
			}
			// A second pass finds nothing more.
			if again, err := h.Pass(ctx); err != nil || again != (Pruned{}) {
				t.Errorf("second pass: got %+v, %v, want nothing pruned", again, err)
			}
		})
	}
}

// recordHandler passes the log records with a given message to ch.
type recordHandler struct {
	msg string
	ch  chan slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		select {
		case h.ch <- r:
		default:
		}
	}
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

// Run housekeeps after its delay and logs what it pruned.
func TestRunHousekeepsAndLogs(t *testing.T) {
	st := housekeepState(t)
	h := &recordHandler{msg: "housekeeping pruned the state", ch: make(chan slog.Record, 1)}
	hk := New(Options{Store: st, Policy: func() Policy { return PolicyOf(&config.Config{}) }, Logger: slog.New(h),
		Delay: time.Millisecond, Every: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hk.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	var r slog.Record
	select {
	case r = <-h.ch:
	case <-time.After(30 * time.Second):
		t.Fatal("no housekeeping log record")
	}
	got := map[string]int64{}
	r.Attrs(func(a slog.Attr) bool {
		got[a.Key] = a.Value.Int64()
		return true
	})
	want := map[string]int64{"tasks": 0, "events": 106, "revisions": 6, "deliveries": 1, "outbox": 1}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("log attr %s: got %d, want %d (record %v)", k, got[k], v, got)
		}
	}
}

func TestPolicyOf(t *testing.T) {
	day := 24 * time.Hour
	tests := []struct {
		name string
		cfg  *config.Config
		want Policy
	}{
		{"no config", nil, Policy{EventsMaxAge: 30 * day, KeepRevisions: 100, DeliveriesMaxAge: state.DeliveryTTL, OutboxMaxAge: 30 * day}},
		{"no retention", &config.Config{}, Policy{EventsMaxAge: 30 * day, KeepRevisions: 100, DeliveriesMaxAge: state.DeliveryTTL, OutboxMaxAge: 30 * day}},
		{"keep_tasks and keep_days", &config.Config{Settings: config.Settings{Retention: config.Retention{KeepTasks: 5, KeepDays: 90}}},
			Policy{Tasks: state.Retention{KeepTasks: 5, MaxAge: 90 * day}, EventsMaxAge: 90 * day, KeepRevisions: 100, DeliveriesMaxAge: state.DeliveryTTL, OutboxMaxAge: 90 * day}},
	}
	for _, tt := range tests {
		if got := PolicyOf(tt.cfg); got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

// TestRetention keeps the newest terminal tasks of each template.
func TestRetention(t *testing.T) {
	st, err := state.Open(filepath.Join(t.TempDir(), "state.db"), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	var ids []uint64
	for range 5 {
		tk, err := st.CreateTask(ctx, state.Task{Request: task.Request{Project: "p", Template: "a"}, Status: state.StatusSuccess, Ended: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tk.ID)
	}
	cfg := &config.Config{Settings: config.Settings{Retention: config.Retention{KeepTasks: 2}}}
	got, err := New(Options{Store: st, Policy: func() Policy { return PolicyOf(cfg) }}).Pass(ctx)
	if err != nil || got.Tasks != 3 {
		t.Fatalf("Pass: got %+v, %v, want 3 tasks pruned", got, err)
	}
	for i, id := range ids {
		_, err := st.Task(ctx, id)
		if kept := err == nil; kept != (i >= 3) {
			t.Errorf("task %d: kept %v, want %v", id, kept, i >= 3)
		}
	}
}
