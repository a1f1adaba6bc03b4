package exec

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
)

// gatedStore records the size of each AppendLog batch and, while gate is
// set, holds each AppendLog until the test sends on gate; entered receives
// the size of each batch as it enters AppendLog.
type gatedStore struct {
	*state.Store
	entered chan int
	gate    chan struct{}

	mu      sync.Mutex
	batches []int
}

func (s *gatedStore) AppendLog(ctx context.Context, id uint64, lines []state.LogLine) error {
	s.mu.Lock()
	s.batches = append(s.batches, len(lines))
	s.mu.Unlock()
	s.entered <- len(lines)
	if s.gate != nil {
		<-s.gate
	}
	return s.Store.AppendLog(ctx, id, lines)
}

func (s *gatedStore) sizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.batches...)
}

// newGatedWriter returns a log writer of a fresh task on a gated store.
func newGatedWriter(t *testing.T, gated bool) (*logWriter, *gatedStore, uint64) {
	t.Helper()
	st := openStore(t, filepath.Join(t.TempDir(), "state.db"))
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close state: %v", err)
		}
	})
	gs := &gatedStore{Store: st, entered: make(chan int, 1000)}
	if gated {
		gs.gate = make(chan struct{})
	}
	e := mustEngine(t, Options{Store: gs})
	task, err := st.CreateTask(context.Background(), state.Task{Request: task.Request{Project: "p", Template: "t"}, Status: state.StatusRunning})
	if err != nil {
		t.Fatal(err)
	}
	return e.newLogWriter(task.ID, 1<<40), gs, task.ID
}

func recvBatch(t *testing.T, gs *gatedStore) int {
	t.Helper()
	select {
	case n := <-gs.entered:
		return n
	case <-time.After(waitFor):
		t.Fatal("no AppendLog")
		return 0
	}
}

func checkStored(t *testing.T, gs *gatedStore, id uint64, want []string) {
	t.Helper()
	lines, err := gs.ReadLog(context.Background(), id, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d stored lines, want %d", len(lines), len(want))
	}
	for i, l := range lines {
		if l.Text != want[i] || l.N != uint64(i+1) {
			t.Fatalf("line %d: got %d %q, want %d %q", i, l.N, l.Text, i+1, want[i])
		}
	}
}

// While one AppendLog runs, WriteLine keeps accepting lines, and the next
// batch takes everything that came meanwhile.
func TestLogWriterBatchGrowsWhileStoring(t *testing.T) {
	w, gs, id := newGatedWriter(t, true)
	var want []string
	write := func(s string) {
		t.Helper()
		if err := w.WriteLine(time.Now(), s); err != nil {
			t.Fatal(err)
		}
		want = append(want, s)
	}
	write("first")
	if got := recvBatch(t, gs); got != 1 {
		t.Fatalf("first batch: got %d lines, want 1", got)
	}
	// The store is blocked: none of these may block (5,000 short lines
	// are far below the pending bound).
	for i := range 5000 {
		write(fmt.Sprint("line ", i))
	}
	gs.gate <- struct{}{}
	if got := recvBatch(t, gs); got != 5000 {
		t.Fatalf("second batch: got %d lines, want all 5000 written during the first store", got)
	}
	gs.gate <- struct{}{}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := gs.sizes(); len(got) != 2 {
		t.Errorf("batches: got %v, want [1 5000]", got)
	}
	checkStored(t, gs, id, want)
}

// WriteLine blocks once maxPending bytes wait, and resumes when the
// writer takes them; nothing is dropped.
func TestLogWriterBackPressure(t *testing.T) {
	w, gs, id := newGatedWriter(t, true)
	line := string(make([]byte, 1000-lineOverhead))
	const total = 3 * maxPending / 1000
	var want []string
	for i := range total {
		want = append(want, fmt.Sprintf("%06d%s", i, line[6:]))
	}
	var (
		mu      sync.Mutex
		written int
	)
	done := make(chan error, 1)
	go func() {
		for _, s := range want {
			if err := w.WriteLine(time.Now(), s); err != nil {
				done <- err
				return
			}
			mu.Lock()
			written++
			mu.Unlock()
		}
		done <- nil
	}()
	// The first batch is held in AppendLog; the producer then fills the
	// pending batch up to the bound and must block there.
	first := recvBatch(t, gs)
	fits := (maxPending + 999) / 1000
	deadline := time.Now().Add(waitFor)
	for {
		mu.Lock()
		n := written
		mu.Unlock()
		if n == first+fits {
			break
		}
		if n > first+fits {
			t.Fatalf("got %d lines accepted while the store is blocked, want at most %d (bound %d bytes)", n, first+fits, maxPending)
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %d lines accepted, want %d", n, first+fits)
		}
		runtime.Gosched()
	}
	w.mu.Lock()
	pending := w.pendingBytes
	w.mu.Unlock()
	if pending > maxPending+1000 {
		t.Errorf("got %d bytes pending, want at most %d", pending, maxPending+1000)
	}
	select {
	case err := <-done:
		t.Fatalf("producer finished (%v) while the store was blocked, want it blocked", err)
	default:
	}
	close(gs.gate) // entered has room for every later batch
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	checkStored(t, gs, id, want)
}

// A slow trickle is grouped: a line is stored no sooner than flushDelay
// after it came, not in a transaction of its own at once.
func TestLogWriterGroupsSlowOutput(t *testing.T) {
	w, gs, id := newGatedWriter(t, false)
	start := time.Now()
	if err := w.WriteLine(start, "a"); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteLine(start, "b"); err != nil {
		t.Fatal(err)
	}
	n := recvBatch(t, gs)
	if d := time.Since(start); d < flushDelay {
		t.Errorf("first batch stored after %v, want at least %v", d, flushDelay)
	}
	if n != 2 {
		t.Errorf("first batch: got %d lines, want 2", n)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	checkStored(t, gs, id, []string{"a", "b"})
}
