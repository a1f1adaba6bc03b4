package exec

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/exec/runner"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/testenv"
)

// TestMetricsLint runs a task and checks the exposition with promtool.
func TestMetricsLint(t *testing.T) {
	promtool := testenv.LookTool(t, "promtool")
	f := newFakeRunner()
	h := newHarness(t, testConfig(t.TempDir(), &config.Template{Name: "a"}), withRun(f.run))
	task := h.submit("p", "a")
	r := f.next(t)
	if err := r.sink.WriteLine(h.e.now(), "x"); err != nil {
		t.Fatal(err)
	}
	r.end(runner.Success)
	h.wait(task.ID, state.StatusSuccess)

	var buf bytes.Buffer
	if err := h.reg.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	for _, want := range []string{
		`semaphored_tasks_total{project="p",status="success",template="a"} 1`,
		"semaphored_tasks_running ", "semaphored_tasks_waiting ",
		`semaphored_task_duration_seconds_count{project="p",template="a"} 1`,
		"semaphored_task_queue_seconds_count 1", "semaphored_task_log_lines_total ", "semaphored_log_write_errors_total 0",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("exposition lacks %q:\n%s", want, text)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
