package state

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/task"
)

// TestNoAliasing reads through every method that returns bytes or strings,
// closes the store (unmapping the file), and then uses every value: a
// value that aliased the mmap would fault or read garbage.
func TestNoAliasing(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	s := openTestAt(t, path, nil)
	val := []byte(`{"template":"` + strings.Repeat("x", 3000) + `"}`)
	if err := s.ApplyRevision(ctx, Revision{ID: "r1", Errors: nil}, []Change{
		{Op: OpCreate, Key: key("proj", KindTemplate, "deploy"), Value: val},
	}); err != nil {
		t.Fatal(err)
	}
	tk := mustCreate(t, s, Task{Request: task.Request{Project: "proj", Template: "deploy", Overrides: task.Overrides{Vars: map[string]any{"k": "v"}}}})
	if err := s.AppendLog(ctx, tk.ID, []LogLine{{Text: strings.Repeat("log", 100)}}); err != nil {
		t.Fatal(err)
	}
	payload := []byte(`{"big":"` + strings.Repeat("p", 3000) + `"}`)
	if _, _, _, err := s.AcceptDelivery(ctx, Delivery{Source: "github", ID: "d1", Pending: true, Payload: payload}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.EnqueueOutbox(ctx, OutboxEntry{Kind: OutboxComment, Target: "c", Payload: payload}, OutboxEntry{Kind: OutboxComment, Target: "d", Payload: payload}); err != nil {
		t.Fatal(err)
	}
	if err := s.AckOutbox(ctx, 2); err != nil {
		t.Fatal(err)
	}
	pending, _ := s.PendingDeliveries(ctx)
	due, _ := s.DueOutbox(ctx, time.Now().Add(time.Hour), 0)
	last, _, _ := s.LastDelivered(ctx, OutboxComment, "d")
	objs, _ := s.Objects(ctx)
	obj, _ := s.Object(ctx, key("proj", KindTemplate, "deploy"))
	revs, _ := s.Revisions(ctx, 0)
	events, _ := s.Events(ctx, 0, 0)
	tasks, _ := s.Tasks(ctx, TaskFilter{Project: "proj"}, 0, 0)
	lines, _ := s.ReadLog(ctx, tk.ID, 0, 0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || string(objs[0].Value) != string(val) || objs[0].Key.Name != "deploy" {
		t.Errorf("Objects after close = %v", objs)
	}
	if string(obj.Value) != string(val) {
		t.Error("Object value changed after close")
	}
	if len(revs) != 1 || revs[0].ID != "r1" {
		t.Errorf("Revisions after close = %v", revs)
	}
	if len(events) != 4 || events[0].Key.Project != "proj" || events[3].Delivery != "d1" {
		t.Errorf("Events after close = %+v", events)
	}
	if len(tasks) != 1 || tasks[0].Template != "deploy" || tasks[0].Vars["k"] != "v" {
		t.Errorf("Tasks after close = %+v", tasks)
	}
	if len(lines) != 1 || lines[0].Text != strings.Repeat("log", 100) {
		t.Errorf("ReadLog after close = %+v", lines)
	}
	if len(pending) != 1 || string(pending[0].Payload) != string(payload) {
		t.Error("PendingDeliveries payload changed after close")
	}
	if len(due) != 1 || string(due[0].Payload) != string(payload) || due[0].Target != "c" {
		t.Error("DueOutbox payload changed after close")
	}
	if string(last) != string(payload) {
		t.Error("LastDelivered payload changed after close")
	}
}

// TestConcurrentWritersAndReaders runs writers and readers at once; -race
// checks the Store, and the counts check that no write was lost.
func TestConcurrentWritersAndReaders(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, nil)
	const (
		writers  = 4
		tasksPer = 10
		batches  = 5
	)
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	done := make(chan struct{})
	for w := range writers {
		wg.Go(func() {
			for i := range tasksPer {
				tk, err := s.CreateTask(ctx, Task{Request: task.Request{Project: "p", Template: fmt.Sprintf("t%d", w)}})
				if err != nil {
					errs <- err
					return
				}
				for b := range batches {
					if err := s.AppendLog(ctx, tk.ID, []LogLine{{Text: fmt.Sprintf("w%d t%d b%d", w, i, b)}, {Text: "second"}}); err != nil {
						errs <- err
						return
					}
				}
				if _, err := s.UpdateTask(ctx, tk.ID, func(t *Task) error { t.Status = StatusSuccess; return nil }); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				tasks, err := s.Tasks(ctx, TaskFilter{Project: "p"}, 0, 20)
				if err != nil {
					errs <- err
					return
				}
				for _, tk := range tasks {
					lines, err := s.ReadLog(ctx, tk.ID, 0, 0)
					if err != nil {
						errs <- err
						return
					}
					for i, l := range lines {
						if l.N != uint64(i+1) {
							errs <- fmt.Errorf("task %d line %d numbered %d", tk.ID, i+1, l.N)
							return
						}
					}
				}
				if _, err := s.Events(ctx, 0, 50); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	tasks, err := s.Tasks(ctx, TaskFilter{}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != writers*tasksPer {
		t.Fatalf("got %d tasks, want %d", len(tasks), writers*tasksPer)
	}
	for _, tk := range tasks {
		if tk.LogLines != 2*batches || tk.Status != StatusSuccess {
			t.Errorf("task %d: %d lines, %s; want %d lines, success", tk.ID, tk.LogLines, tk.Status, 2*batches)
		}
	}
	events, _ := s.Events(ctx, 0, 0)
	if want := 2 * writers * tasksPer; len(events) != want {
		t.Errorf("got %d events, want %d (created + success per task)", len(events), want)
	}
}
