package exec

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
)

// housekeepState returns a real state file holding 105 invalid revisions
// (and their events) recorded 60 days ago, one recorded an hour ago, one
// webhook delivery id seen 60 days ago and one seen an hour ago.
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
	set(now.Add(-time.Hour))
	if _, err := st.SeenDelivery(ctx, "github", "recent"); err != nil {
		t.Fatal(err)
	}
	set(now.Add(-60 * 24 * time.Hour))
	if _, err := st.SeenDelivery(ctx, "github", "old"); err != nil {
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
		{"keep_days 0 keeps 30 days of events", 0, Pruned{Events: 105, Revisions: 6, Deliveries: 1}, 1},
		{"keep_days 90 keeps the 60-day-old events", 90, Pruned{Revisions: 6, Deliveries: 1}, 106},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := housekeepState(t)
			cfg := testConfig(t.TempDir())
			cfg.Settings.Retention = config.Retention{KeepDays: tt.keepDays}
			e := New(Options{Store: st, Config: &fakeConfig{cfg: cfg}})
			ctx := context.Background()
			got, err := e.Housekeep(ctx)
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
			if len(revs) != keepRevisions {
				t.Errorf("got %d revisions left, want %d", len(revs), keepRevisions)
			}
			if last, ok, err := st.LastRevision(ctx); err != nil || !ok || last.ID != "new" {
				t.Errorf("last revision: got %q %v %v, want new", last.ID, ok, err)
			}
			if seen, err := st.SeenDelivery(ctx, "github", "recent"); err != nil || !seen {
				t.Errorf("recent delivery: got seen %v (%v), want it remembered", seen, err)
			}
			// A second pass finds nothing more.
			if again, err := e.Housekeep(ctx); err != nil || again != (Pruned{}) {
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

// The retention loop of Run housekeeps and logs what it pruned.
func TestRunHousekeepsAndLogs(t *testing.T) {
	st := housekeepState(t)
	h := &recordHandler{msg: "housekeeping pruned the state", ch: make(chan slog.Record, 1)}
	e := New(Options{Store: st, Config: &fakeConfig{cfg: testConfig(t.TempDir())}, Logger: slog.New(h),
		PruneDelay: time.Millisecond, PruneEvery: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	var r slog.Record
	select {
	case r = <-h.ch:
	case <-time.After(waitFor):
		t.Fatal("no housekeeping log record")
	}
	got := map[string]int64{}
	r.Attrs(func(a slog.Attr) bool {
		got[a.Key] = a.Value.Int64()
		return true
	})
	want := map[string]int64{"tasks": 0, "events": 105, "revisions": 6, "deliveries": 1}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("log attr %s: got %d, want %d (record %v)", k, got[k], v, got)
		}
	}
}
