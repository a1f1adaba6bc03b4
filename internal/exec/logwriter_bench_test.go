package exec

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
)

// BenchmarkLogWriter measures lines/s through a task's logWriter into a
// real state file, from the first WriteLine to Close returning (every
// line stored).
func BenchmarkLogWriter(b *testing.B) {
	const lines = 100_000
	st := openStore(b, filepath.Join(b.TempDir(), "state.db"))
	b.Cleanup(func() {
		if err := st.Close(); err != nil {
			b.Errorf("close state: %v", err)
		}
	})
	e := mustEngine(b, Options{Store: st, Config: &fakeConfig{}})
	ctx := context.Background()
	text := make([]string, lines)
	for i := range text {
		text[i] = fmt.Sprintf("line %06d %s", i+1, "lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusm")
	}
	var total time.Duration
	b.ResetTimer()
	for b.Loop() {
		task, err := st.CreateTask(ctx, state.Task{Request: task.Request{Project: "p", Template: "t"}, Status: state.StatusRunning})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		w := e.newLogWriter(task.ID, 1<<30)
		now := time.Now()
		for _, l := range text {
			if err := w.WriteLine(now, l); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		got, err := st.Task(ctx, task.ID)
		if err != nil {
			b.Fatal(err)
		}
		if got.LogLines != lines {
			b.Fatalf("got %d lines stored, want %d", got.LogLines, lines)
		}
	}
	b.ReportMetric(float64(lines*b.N)/total.Seconds(), "lines/s")
}
