package statetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/state"
)

var retentionTests = []test{
	{"keep tasks per template", testPruneKeep},
	{"max age", testPruneMaxAge},
	{"dedupe keys outlive pruned tasks", testPruneDedupe},
	{"deliveries", testPruneDeliveries},
	{"events", testPruneEvents},
	{"revisions", testPruneRevisions},
}

var concurrencyTests = []test{
	{"update task", testConcurrentUpdate},
	{"create tasks", testConcurrentCreate},
	{"enqueue one target", testConcurrentEnqueue},
}

// endedTask creates a task of template ended at ended (created then too).
func endedTask(t *testing.T, s Store, template, key string, ended time.Time) state.Task {
	t.Helper()
	tk := keyedTask("p", template, key)
	tk.Created = ended
	tk = mustCreate(t, s, tk)
	return setStatus(t, s, tk.ID, state.StatusSuccess, ended)
}

func exists(t *testing.T, s Store, id uint64) bool {
	t.Helper()
	_, err := s.Task(context.Background(), id)
	if err != nil && !errors.Is(err, state.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func testPruneKeep(t *testing.T, s Store) {
	ctx := context.Background()
	base := time.Now().Add(-10 * time.Hour)
	var a, b []state.Task
	for i := range 5 {
		a = append(a, endedTask(t, s, "a", "", base.Add(time.Duration(i)*time.Hour)))
	}
	running := mustCreate(t, s, newTask("p", "a"))
	setStatus(t, s, running.ID, state.StatusRunning, time.Time{})
	for i := range 2 {
		b = append(b, endedTask(t, s, "b", "", base.Add(time.Duration(i)*time.Hour)))
	}
	for _, tk := range a {
		if err := s.AppendLog(ctx, tk.ID, []state.LogLine{{Text: "x"}}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PruneTasks(ctx, state.Retention{KeepTasks: 2})
	if err != nil || n != 3 {
		t.Fatalf("PruneTasks = %d, %v; want 3", n, err)
	}
	for i, tk := range a {
		if got, want := exists(t, s, tk.ID), i >= 3; got != want {
			t.Errorf("template a task %d (%d of 5): kept %v, want %v", tk.ID, i, got, want)
		}
		if i < 3 {
			if _, err := s.ReadLog(ctx, tk.ID, 0, 0); !errors.Is(err, state.ErrNotFound) {
				t.Errorf("log of pruned task %d: got %v, want ErrNotFound", tk.ID, err)
			}
		}
	}
	if !exists(t, s, running.ID) || !exists(t, s, b[0].ID) || !exists(t, s, b[1].ID) {
		t.Error("a running task or a task of a template within its limit was pruned")
	}
	listed, _ := s.Tasks(ctx, state.TaskFilter{Project: "p", Template: "a"}, 0, 0)
	if len(listed) != 3 {
		t.Errorf("template a lists %d tasks after pruning, want 3", len(listed))
	}
	if again, err := s.PruneTasks(ctx, state.Retention{KeepTasks: 2}); err != nil || again != 0 {
		t.Errorf("second PruneTasks = %d, %v; want 0", again, err)
	}
	if none, err := s.PruneTasks(ctx, state.Retention{}); err != nil || none != 0 {
		t.Errorf("PruneTasks with no limit = %d, %v; want 0", none, err)
	}
}

func testPruneMaxAge(t *testing.T, s Store) {
	ctx := context.Background()
	old := endedTask(t, s, "a", "", time.Now().Add(-10*24*time.Hour))
	recent := endedTask(t, s, "a", "", time.Now().Add(-time.Hour))
	waiting := newTask("p", "a")
	waiting.Created = time.Now().Add(-30 * 24 * time.Hour)
	waiting = mustCreate(t, s, waiting)
	n, err := s.PruneTasks(ctx, state.Retention{MaxAge: 7 * 24 * time.Hour})
	if err != nil || n != 1 {
		t.Fatalf("PruneTasks = %d, %v; want 1", n, err)
	}
	if exists(t, s, old.ID) || !exists(t, s, recent.ID) || !exists(t, s, waiting.ID) {
		t.Errorf("after pruning by age: old %v, recent %v, waiting %v; want false, true, true",
			exists(t, s, old.ID), exists(t, s, recent.ID), exists(t, s, waiting.ID))
	}
}

// testPruneDedupe checks the dedupe rule: a key stays taken while its
// task exists and for state.DedupeTTL after the task's creation.
func testPruneDedupe(t *testing.T, s Store) {
	ctx := context.Background()
	now := time.Now()
	endedTask(t, s, "d", "schedule:p/weekly@old", now.Add(-state.DedupeTTL-24*time.Hour))
	youngKeyed := endedTask(t, s, "d", "github:d1#p/d", now.Add(-time.Hour))
	endedTask(t, s, "d", "", now)
	if n, err := s.PruneTasks(ctx, state.Retention{KeepTasks: 1}); err != nil || n != 2 {
		t.Fatalf("PruneTasks = %d, %v; want 2", n, err)
	}
	// The old key is free again.
	if _, err := s.CreateTask(ctx, keyedTask("p", "d", "schedule:p/weekly@old")); err != nil {
		t.Errorf("CreateTask with the key of a task pruned after DedupeTTL: %v, want a new task", err)
	}
	// The young key is still taken, by the pruned task.
	got, err := s.CreateTask(ctx, keyedTask("p", "d", "github:d1#p/d"))
	if !errors.Is(err, state.ErrDuplicate) || got.ID != youngKeyed.ID {
		t.Errorf("CreateTask with the key of a task pruned within DedupeTTL = %d, %v; want %d, ErrDuplicate", got.ID, err, youngKeyed.ID)
	}
	_, tasks, isNew, err := s.AcceptDelivery(ctx, delivery("again"), []state.Task{keyedTask("p", "d", "github:d1#p/d")})
	if err != nil || !isNew || len(tasks) != 1 || tasks[0].ID != youngKeyed.ID || exists(t, s, youngKeyed.ID) {
		t.Errorf("AcceptDelivery with that key = %v, %v, %v; want the pruned task's id and nothing created", ids(tasks), isNew, err)
	}
	// Once the key is older than DedupeTTL, housekeeping releases it.
	if _, err := s.PruneDeliveries(ctx, now.Add(-state.DedupeTTL)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateTask(ctx, keyedTask("p", "d", "github:d1#p/d")); !errors.Is(err, state.ErrDuplicate) {
		t.Errorf("key released before DedupeTTL: got %v, want ErrDuplicate", err)
	}
	if _, err := s.PruneDeliveries(ctx, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	fresh, err := s.CreateTask(ctx, keyedTask("p", "d", "github:d1#p/d"))
	if err != nil || fresh.ID == youngKeyed.ID {
		t.Errorf("CreateTask after the key was released = %d, %v; want a new task", fresh.ID, err)
	}
}

func testPruneDeliveries(t *testing.T, s Store) {
	ctx := context.Background()
	now := time.Now()
	accept := func(id string, received time.Time, pending bool) {
		t.Helper()
		d := delivery(id)
		d.Received, d.Pending = received, pending
		if _, _, _, err := s.AcceptDelivery(ctx, d, []state.Task{newTask("p", "t")}); err != nil {
			t.Fatal(err)
		}
	}
	accept("old", now.Add(-8*24*time.Hour), false)
	accept("old-pending", now.Add(-9*24*time.Hour), true)
	accept("recent", now.Add(-time.Hour), false)
	n, err := s.PruneDeliveries(ctx, now.Add(-state.DeliveryTTL))
	if err != nil || n != 1 {
		t.Fatalf("PruneDeliveries = %d, %v; want 1", n, err)
	}
	if _, _, err := s.Delivery(ctx, "github", "old"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("old delivery: got %v, want ErrNotFound", err)
	}
	for _, id := range []string{"old-pending", "recent"} {
		if _, _, err := s.Delivery(ctx, "github", id); err != nil {
			t.Errorf("delivery %s: %v, want kept", id, err)
		}
	}
	if pending, _ := s.PendingDeliveries(ctx); len(pending) != 1 || pending[0].ID != "old-pending" {
		t.Errorf("PendingDeliveries = %+v, want old-pending (never pruned)", pending)
	}
	// A forgotten delivery is new again; its tasks were not pruned with it.
	if _, _, isNew, err := s.AcceptDelivery(ctx, delivery("old"), nil); err != nil || !isNew {
		t.Errorf("AcceptDelivery of a forgotten delivery: isNew %v, %v; want new", isNew, err)
	}
	if c := countTasks(t, s); c != 3 {
		t.Errorf("got %d tasks, want 3", c)
	}
}

func testPruneEvents(t *testing.T, s Store) {
	ctx := context.Background()
	for i := range 5 {
		mustCreate(t, s, newTask("p", fmt.Sprint("t", i)))
	}
	before, _ := s.Events(ctx, 0, 0)
	if n, err := s.PruneEvents(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("PruneEvents of an hour ago = %d, %v; want 0", n, err)
	}
	if n, err := s.PruneEvents(ctx, time.Now().Add(time.Minute)); err != nil || n != len(before) {
		t.Errorf("PruneEvents = %d, %v; want %d", n, err, len(before))
	}
	mustCreate(t, s, newTask("p", "after"))
	after, _ := s.Events(ctx, 0, 0)
	if len(after) != 1 || after[0].Seq <= before[len(before)-1].Seq {
		t.Errorf("events after pruning = %+v, want one with a seq after %d (never reused)", after, before[len(before)-1].Seq)
	}
}

func testPruneRevisions(t *testing.T, s Store) {
	ctx := context.Background()
	for i := range 5 {
		if err := s.ApplyRevision(ctx, state.Revision{ID: fmt.Sprint("r", i)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RecordInvalidRevision(ctx, state.Revision{ID: "bad"}); err != nil {
		t.Fatal(err)
	}
	n, err := s.PruneRevisions(ctx, 0)
	if err != nil || n != 4 {
		t.Fatalf("PruneRevisions(0) = %d, %v; want 4 (the active and the last stay)", n, err)
	}
	revs, _ := s.Revisions(ctx, 0)
	var got []string
	for _, r := range revs {
		got = append(got, r.ID)
	}
	if !slices.Equal(got, []string{"bad", "r4"}) {
		t.Errorf("revisions left = %v, want [bad r4]", got)
	}
	if active, ok, err := s.ActiveRevision(ctx); err != nil || !ok || active.ID != "r4" {
		t.Errorf("ActiveRevision = %q, %v, %v; want r4", active.ID, ok, err)
	}
}

// testConcurrentUpdate runs read-modify-write updates from many
// goroutines: each fn derives its edit from the task it gets, so the
// result is right however often an implementation runs it.
func testConcurrentUpdate(t *testing.T, s Store) {
	ctx := context.Background()
	in := newTask("p", "t")
	in.Vars = map[string]any{"n": 0}
	tk := mustCreate(t, s, in)
	const workers, each = 8, 15
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				_, err := s.UpdateTask(ctx, tk.ID, func(t *state.Task) error {
					n, _ := t.Vars["n"].(float64)
					t.Vars["n"] = n + 1
					t.Tags = append(t.Tags, fmt.Sprintf("w%d-%d", w, i))
					return nil
				})
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
			}
		})
	}
	wg.Wait()
	got, err := s.Task(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := got.Vars["n"].(float64); n != workers*each {
		t.Errorf("counter = %v, want %d (an update was lost)", got.Vars["n"], workers*each)
	}
	tags := slices.Clone(got.Tags)
	slices.Sort(tags)
	if len(slices.Compact(tags)) != workers*each {
		t.Errorf("got %d distinct tags, want %d", len(slices.Compact(tags)), workers*each)
	}
}

func testConcurrentCreate(t *testing.T, s Store) {
	ctx := context.Background()
	const workers, each = 6, 10
	var (
		mu  sync.Mutex
		got []uint64
		wg  sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for range each {
				tk, err := s.CreateTask(ctx, newTask("p", fmt.Sprint("t", w)))
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				mu.Lock()
				got = append(got, tk.ID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(got)
	if len(slices.Compact(got)) != workers*each || countTasks(t, s) != workers*each {
		t.Errorf("got %d distinct ids and %d tasks, want %d", len(slices.Compact(got)), countTasks(t, s), workers*each)
	}
}

func testConcurrentEnqueue(t *testing.T, s Store) {
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if err := s.EnqueueOutbox(ctx, entry(state.OutboxCommitStatus, "github:a/b@1#ctx", fmt.Sprint(i))); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n, err := s.PendingOutbox(ctx); err != nil || n != 1 {
		t.Errorf("PendingOutbox = %d, %v; want 1 (each replaced the previous)", n, err)
	}
}
