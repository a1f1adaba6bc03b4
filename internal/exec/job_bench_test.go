package exec

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/testenv"
)

// job200k prints 200,000 numbered lines of about 80 bytes.
const (
	job200kLines  = 200_000
	job200kScript = `for ((i=1;i<=200000;i++)); do echo "line $i of the job output, padded to about eighty bytes: lorem ipsum"; done` + "\n"
)

// BenchmarkJob200kLines runs a bash job printing 200,000 lines directly
// (bash job.sh > /dev/null) and as a task through the real engine, store
// and runner, from Submit to success with every line stored; it reports
// the median of both and the task's overhead over the direct run.
func BenchmarkJob200kLines(b *testing.B) {
	testenv.LookTool(b, "bash")
	dir := scriptDir(b, job200kScript)
	h := newHarness(b, testConfig(scriptDir(b, "true\n"), &config.Template{Name: "a"}))
	// The engine's own lines of a task that prints nothing: what the
	// stored count may hold beyond the job's lines.
	engineLines := h.lines(h.wait(h.submit("p", "a").ID, state.StatusSuccess).ID)
	h.cfg.update(func(c *config.Config) {
		c.Projects["p"].Repositories["r"].URL = dir
	})
	var direct, task []time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		cmd := exec.Command("bash", filepath.Join(dir, "job.sh"))
		if err := cmd.Run(); err != nil { // Stdout nil: /dev/null
			b.Fatal(err)
		}
		direct = append(direct, time.Since(start))

		start = time.Now()
		t := h.wait(h.submit("p", "a").ID, state.StatusSuccess, state.StatusFailure, state.StatusError)
		task = append(task, time.Since(start))
		if t.Status != state.StatusSuccess {
			b.Fatalf("got %s (%s), want success", t.Status, t.Message)
		}
		b.StopTimer()
		checkJob200k(b, h, t, len(engineLines))
		b.StartTimer()
	}
	b.StopTimer()
	d, tk := pct(direct, 50), pct(task, 50)
	b.ReportMetric(float64(d.Microseconds())/1000, "direct-ms")
	b.ReportMetric(float64(tk.Microseconds())/1000, "task-ms")
	b.ReportMetric(100*float64(tk-d)/float64(d), "overhead-%")
}

// checkJob200k checks that every job line was stored, in order, and that
// the stored count is exactly the job's lines plus the engine's own.
func checkJob200k(b *testing.B, h *harness, t state.Task, engine int) {
	b.Helper()
	lines := h.lines(t.ID)
	if want := job200kLines + engine; len(lines) != want || t.LogLines != uint64(want) {
		b.Fatalf("got %d lines read, %d counted, want %d (%d + %d of the engine)", len(lines), t.LogLines, want, job200kLines, engine)
	}
	next := 1
	for _, l := range lines {
		if strings.HasPrefix(l, fmt.Sprintf("line %d of", next)) {
			next++
		}
	}
	if next-1 != job200kLines {
		b.Fatalf("got %d job lines in order, want %d", next-1, job200kLines)
	}
}
