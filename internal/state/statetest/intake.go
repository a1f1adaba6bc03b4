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

var dedupeTests = []test{
	{"create with a used key", testDedupeCreate},
	{"concurrent creates", testDedupeConcurrent},
}

var intakeTests = []test{
	{"accept once", testAcceptOnce},
	{"replay returns the first tasks", testAcceptReplay},
	{"tasks deduplicated across deliveries", testAcceptDedupe},
	{"pending and complete", testPendingComplete},
	{"pending after reopen", testPendingReopen},
	{"unknown delivery", testDeliveryUnknown},
	{"concurrent accepts", testAcceptConcurrent},
	{"delivery events", testDeliveryEvents},
}

func countTasks(t *testing.T, s Store) int {
	t.Helper()
	all, err := s.Tasks(context.Background(), state.TaskFilter{}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return len(all)
}

func testDedupeCreate(t *testing.T, s Store) {
	ctx := context.Background()
	first := mustCreate(t, s, keyedTask("p", "t", "github:d1#p/t"))
	if first.DedupeKey != "github:d1#p/t" {
		t.Errorf("DedupeKey = %q, want it stored", first.DedupeKey)
	}
	again, err := s.CreateTask(ctx, keyedTask("p", "other", "github:d1#p/t"))
	if !errors.Is(err, state.ErrDuplicate) {
		t.Fatalf("CreateTask with a used key: got %v, want ErrDuplicate", err)
	}
	if again.ID != first.ID || again.Template != "t" {
		t.Errorf("CreateTask with a used key returned %+v, want task %d", again, first.ID)
	}
	other := mustCreate(t, s, keyedTask("p", "t", "github:d2#p/t"))
	plain1 := mustCreate(t, s, newTask("p", "t"))
	plain2 := mustCreate(t, s, newTask("p", "t"))
	if other.ID == first.ID || plain1.ID == plain2.ID {
		t.Errorf("distinct keys or no key must make distinct tasks: %d %d %d %d", first.ID, other.ID, plain1.ID, plain2.ID)
	}
	if n := countTasks(t, s); n != 4 {
		t.Errorf("got %d tasks, want 4", n)
	}
	// The key stays with its task through status changes.
	setStatus(t, s, first.ID, state.StatusSuccess, time.Now())
	if again, err := s.CreateTask(ctx, keyedTask("p", "t", "github:d1#p/t")); !errors.Is(err, state.ErrDuplicate) || again.ID != first.ID || again.Status != state.StatusSuccess {
		t.Errorf("after the task ended: %+v, %v; want task %d, success, ErrDuplicate", again, err, first.ID)
	}
}

func testDedupeConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	const n = 16
	got := make([]state.Task, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			got[i], errs[i] = s.CreateTask(ctx, keyedTask("p", "t", "schedule:p/nightly@2026-03-01T00:00:00Z"))
		})
	}
	wg.Wait()
	created := 0
	for i := range n {
		switch {
		case errs[i] == nil:
			created++
		case !errors.Is(errs[i], state.ErrDuplicate):
			t.Errorf("call %d: %v", i, errs[i])
		}
		if got[i].ID != got[0].ID {
			t.Errorf("call %d returned task %d, call 0 task %d", i, got[i].ID, got[0].ID)
		}
	}
	if created != 1 || countTasks(t, s) != 1 {
		t.Errorf("%d calls created, %d tasks stored; want 1 and 1", created, countTasks(t, s))
	}
}

// delivery is a delivery of source github with id and event push.
func delivery(id string) state.Delivery {
	return state.Delivery{Source: "github", ID: id, Event: "push"}
}

func testAcceptOnce(t *testing.T, s Store) {
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	d := delivery("d1")
	d.Payload = []byte(`{"dropped":"not pending"}`)
	d.Note = "2 templates matched"
	got, tasks, isNew, err := s.AcceptDelivery(ctx, d, []state.Task{keyedTask("web", "deploy", "github:d1#web/deploy"), newTask("web", "lint")})
	if err != nil || !isNew {
		t.Fatalf("AcceptDelivery = %v, %v; want new", isNew, err)
	}
	if len(tasks) != 2 || tasks[0].ID == 0 || tasks[1].ID == tasks[0].ID || tasks[0].Template != "deploy" || tasks[0].Status != state.StatusWaiting {
		t.Fatalf("tasks = %+v, want two new waiting tasks", tasks)
	}
	if got.Source != "github" || got.ID != "d1" || got.Event != "push" || got.Received.Before(before) || got.Pending || got.Payload != nil || got.Note != d.Note || !slices.Equal(got.TaskIDs, ids(tasks)) {
		t.Errorf("delivery = %+v, want received now, no payload, task ids %v", got, ids(tasks))
	}
	stored, storedTasks, err := s.Delivery(ctx, "github", "d1")
	if err != nil || !slices.Equal(stored.TaskIDs, got.TaskIDs) || !stored.Received.Equal(got.Received) || !slices.Equal(ids(storedTasks), ids(tasks)) {
		t.Errorf("Delivery = %+v, %v, %v; want %+v", stored, ids(storedTasks), err, got)
	}
	// Same id from another source is another delivery.
	_, _, isNew, err = s.AcceptDelivery(ctx, state.Delivery{Source: "gitea", ID: "d1", Event: "push"}, nil)
	if err != nil || !isNew {
		t.Errorf("same id, other source: isNew %v, %v; want new", isNew, err)
	}
	received := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	got, _, _, err = s.AcceptDelivery(ctx, state.Delivery{Source: "schedule", ID: "web/nightly@2026-03-01T12:00:00Z", Event: "fire", Received: received}, nil)
	if err != nil || !got.Received.Equal(received) {
		t.Errorf("given Received: %v, %v; want %v kept", got.Received, err, received)
	}
	if _, _, _, err := s.AcceptDelivery(ctx, state.Delivery{Source: "github"}, nil); err == nil {
		t.Error("AcceptDelivery without an id: got nil error")
	}
}

func testAcceptReplay(t *testing.T, s Store) {
	ctx := context.Background()
	first, tasks, _, err := s.AcceptDelivery(ctx, delivery("d1"), []state.Task{newTask("web", "deploy")})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		d := delivery("d1")
		d.Event = "changed"
		got, again, isNew, err := s.AcceptDelivery(ctx, d, []state.Task{newTask("web", "deploy"), newTask("web", "lint")})
		if err != nil || isNew {
			t.Fatalf("replay %d: isNew %v, %v; want a replay", i, isNew, err)
		}
		if got.Event != "push" || !got.Received.Equal(first.Received) || !slices.Equal(ids(again), ids(tasks)) {
			t.Errorf("replay %d = %+v with tasks %v, want the first record and tasks %v", i, got, ids(again), ids(tasks))
		}
	}
	if n := countTasks(t, s); n != 1 {
		t.Errorf("got %d tasks after replays, want 1", n)
	}
}

func testAcceptDedupe(t *testing.T, s Store) {
	ctx := context.Background()
	// A push and its re-send under a new delivery id (a forge "redeliver")
	// share the dedupe key a producer derives from the commit.
	key := "push:web/deploy@abc123"
	_, a, _, err := s.AcceptDelivery(ctx, delivery("d1"), []state.Task{keyedTask("web", "deploy", key)})
	if err != nil {
		t.Fatal(err)
	}
	got, b, isNew, err := s.AcceptDelivery(ctx, delivery("d2"), []state.Task{keyedTask("web", "deploy", key), keyedTask("web", "deploy", key)})
	if err != nil || !isNew {
		t.Fatalf("second delivery: isNew %v, %v; want new", isNew, err)
	}
	if len(b) != 2 || b[0].ID != a[0].ID || b[1].ID != a[0].ID || !slices.Equal(got.TaskIDs, []uint64{a[0].ID}) {
		t.Errorf("second delivery tasks %v, ids %v; want task %d (once in TaskIDs)", ids(b), got.TaskIDs, a[0].ID)
	}
	if n := countTasks(t, s); n != 1 {
		t.Errorf("got %d tasks, want 1", n)
	}
}

func testPendingComplete(t *testing.T, s Store) {
	ctx := context.Background()
	t0 := time.Now().Add(-time.Minute)
	for i, id := range []string{"d2", "d1", "d3"} {
		d := delivery(id)
		d.Pending = i != 2
		d.Payload = []byte(`{"ref":"refs/heads/main"}`)
		d.Received = t0.Add(time.Duration(i) * time.Second)
		if _, _, _, err := s.AcceptDelivery(ctx, d, nil); err != nil {
			t.Fatal(err)
		}
	}
	pending, err := s.PendingDeliveries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 2 || pending[0].ID != "d2" || pending[1].ID != "d1" || string(pending[0].Payload) != `{"ref":"refs/heads/main"}` || !pending[0].Pending {
		t.Fatalf("PendingDeliveries = %+v, want d2 then d1 (by Received) with payloads", pending)
	}
	d, tasks, err := s.CompleteDelivery(ctx, "github", "d2", []state.Task{keyedTask("web", "deploy", "github:d2#web/deploy"), newTask("web", "lint")}, "2 tasks")
	if err != nil {
		t.Fatal(err)
	}
	if d.Pending || d.Payload != nil || d.Note != "2 tasks" || len(tasks) != 2 || !slices.Equal(d.TaskIDs, ids(tasks)) {
		t.Errorf("CompleteDelivery = %+v, tasks %v; want done, no payload, the 2 tasks", d, ids(tasks))
	}
	// Idempotent: a second completion (a retry after a crash) creates
	// nothing and returns the first result.
	again, againTasks, err := s.CompleteDelivery(ctx, "github", "d2", []state.Task{newTask("web", "lint")}, "other")
	if err != nil || again.Note != "2 tasks" || !slices.Equal(ids(againTasks), ids(tasks)) {
		t.Errorf("second CompleteDelivery = %+v, %v, %v; want the first result", again, ids(againTasks), err)
	}
	if n := countTasks(t, s); n != 2 {
		t.Errorf("got %d tasks, want 2", n)
	}
	// A replay of a completed delivery returns its tasks.
	if _, replay, isNew, err := s.AcceptDelivery(ctx, delivery("d2"), nil); err != nil || isNew || !slices.Equal(ids(replay), ids(tasks)) {
		t.Errorf("replay after completion: %v, %v, %v; want the tasks, not new", ids(replay), isNew, err)
	}
	pending, _ = s.PendingDeliveries(ctx)
	if len(pending) != 1 || pending[0].ID != "d1" {
		t.Errorf("PendingDeliveries after completing d2 = %+v, want d1", pending)
	}
	// Completing without tasks records why.
	d, tasks, err = s.CompleteDelivery(ctx, "github", "d1", nil, "no template matched")
	if err != nil || len(tasks) != 0 || d.Note != "no template matched" || d.Pending {
		t.Errorf("CompleteDelivery without tasks = %+v, %v, %v", d, tasks, err)
	}
	if pending, _ = s.PendingDeliveries(ctx); len(pending) != 0 {
		t.Errorf("PendingDeliveries = %+v, want none", pending)
	}
}

func testPendingReopen(t *testing.T, s Store) {
	r, ok := s.(Reopener)
	if !ok {
		t.Skip("the store cannot be reopened")
	}
	ctx := context.Background()
	d := delivery("d1")
	d.Pending, d.Payload = true, []byte(`{"after":"abc"}`)
	first, _, _, err := s.AcceptDelivery(ctx, d, []state.Task{newTask("web", "lint")})
	if err != nil {
		t.Fatal(err)
	}
	s = r.Reopen(t)
	pending, err := s.PendingDeliveries(ctx)
	if err != nil || len(pending) != 1 || pending[0].ID != "d1" || string(pending[0].Payload) != `{"after":"abc"}` || !slices.Equal(pending[0].TaskIDs, first.TaskIDs) {
		t.Fatalf("PendingDeliveries after reopen = %+v, %v; want d1 with its payload and task", pending, err)
	}
	if _, _, isNew, err := s.AcceptDelivery(ctx, d, nil); err != nil || isNew {
		t.Errorf("replay after reopen: isNew %v, %v; want a replay", isNew, err)
	}
	if _, tasks, err := s.CompleteDelivery(ctx, "github", "d1", []state.Task{newTask("web", "deploy")}, "done"); err != nil || len(tasks) != 1 {
		t.Errorf("CompleteDelivery after reopen = %v, %v", ids(tasks), err)
	}
	got, tasks, err := s.Delivery(ctx, "github", "d1")
	if err != nil || len(got.TaskIDs) != 2 || len(tasks) != 2 {
		t.Errorf("Delivery = %+v with %v, %v; want both tasks (accept and complete)", got, ids(tasks), err)
	}
}

func testDeliveryUnknown(t *testing.T, s Store) {
	ctx := context.Background()
	if _, _, err := s.Delivery(ctx, "github", "nope"); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("Delivery of an unknown id: got %v, want ErrNotFound", err)
	}
	if _, _, err := s.CompleteDelivery(ctx, "github", "nope", []state.Task{newTask("p", "t")}, ""); !errors.Is(err, state.ErrNotFound) {
		t.Errorf("CompleteDelivery of an unknown id: got %v, want ErrNotFound", err)
	}
	if n := countTasks(t, s); n != 0 {
		t.Errorf("got %d tasks, want 0", n)
	}
}

func testAcceptConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	const n = 24
	type result struct {
		tasks []uint64
		isNew bool
		err   error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Each caller builds its own tasks, as concurrent webhook
			// handlers would; only one set may be created.
			tasks := []state.Task{newTask("web", "deploy"), keyedTask("web", "lint", "github:same#web/lint")}
			_, got, isNew, err := s.AcceptDelivery(ctx, delivery("same"), tasks)
			results[i] = result{ids(got), isNew, err}
		})
	}
	wg.Wait()
	fresh := 0
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("call %d: %v", i, r.err)
		}
		if r.isNew {
			fresh++
		}
		if !slices.Equal(r.tasks, results[0].tasks) || len(r.tasks) != 2 {
			t.Errorf("call %d got tasks %v, call 0 %v", i, r.tasks, results[0].tasks)
		}
	}
	if fresh != 1 {
		t.Errorf("%d calls reported a new delivery, want exactly 1", fresh)
	}
	if c := countTasks(t, s); c != 2 {
		t.Errorf("got %d tasks, want 2", c)
	}
	// Different deliveries at once each get their own tasks.
	for i := range n {
		wg.Go(func() {
			_, _, isNew, err := s.AcceptDelivery(ctx, delivery(fmt.Sprint("many-", i)), []state.Task{newTask("web", "deploy")})
			if err != nil || !isNew {
				t.Errorf("delivery many-%d: isNew %v, %v", i, isNew, err)
			}
		})
	}
	wg.Wait()
	if c := countTasks(t, s); c != 2+n {
		t.Errorf("got %d tasks, want %d", c, 2+n)
	}
}

// testDeliveryEvents checks that accepting and completing a delivery each
// append one event with the delivery's source, id, note, tasks and their
// projects, and that a replay appends none.
func testDeliveryEvents(t *testing.T, s Store) {
	ctx := context.Background()
	deliveryEvents := func() []state.Event {
		t.Helper()
		all, err := s.Events(ctx, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []state.Event
		for _, e := range all {
			if e.Type == state.EventDelivery {
				out = append(out, e)
			}
		}
		return out
	}
	d := delivery("d1")
	d.Note = "tasks for web/deploy, ops/lint"
	_, tasks, _, err := s.AcceptDelivery(ctx, d, []state.Task{newTask("web", "deploy"), newTask("ops", "lint"), newTask("web", "lint")})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := s.AcceptDelivery(ctx, d, nil); err != nil { // a replay
		t.Fatal(err)
	}
	p := delivery("d2")
	p.Pending = true
	if _, _, _, err := s.AcceptDelivery(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	_, more, err := s.CompleteDelivery(ctx, "github", "d2", []state.Task{newTask("web", "deploy")}, "paths matched")
	if err != nil {
		t.Fatal(err)
	}
	got := deliveryEvents()
	if len(got) != 3 {
		t.Fatalf("got %d delivery events, want 3 (accept d1, accept d2, complete d2): %+v", len(got), got)
	}
	if e := got[0]; e.Source != "github" || e.Delivery != "d1" || e.Message != d.Note || !slices.Equal(e.TaskIDs, ids(tasks)) || !slices.Equal(e.Projects, []string{"web", "ops"}) {
		t.Errorf("accept event = %+v, want d1 with its note, tasks %v and projects [web ops]", e, ids(tasks))
	}
	if e := got[1]; e.Delivery != "d2" || len(e.TaskIDs) != 0 {
		t.Errorf("pending accept event = %+v, want d2 without tasks", e)
	}
	if e := got[2]; e.Delivery != "d2" || e.Message != "paths matched" || !slices.Equal(e.TaskIDs, ids(more)) || !slices.Equal(e.Projects, []string{"web"}) {
		t.Errorf("complete event = %+v, want d2 with its note and task %v", e, ids(more))
	}
}
