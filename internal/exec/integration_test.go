package exec

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/exec/runner"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
	"github.com/semaphored/semaphored/internal/testenv"
)

// bashHarness runs template a (bash job.sh holding script) with the real runner.
func bashHarness(t testing.TB, script string, tmpl config.Template, settings func(*config.Settings)) *harness {
	t.Helper()
	testenv.LookTool(t, "bash")
	tmpl.Name = "a"
	cfg := testConfig(scriptDir(t, script), &tmpl)
	if settings != nil {
		settings(&cfg.Settings)
	}
	return newHarness(t, cfg)
}

func TestRealBashSuccessImpliesWholeLog(t *testing.T) {
	const n = 5000
	h := bashHarness(t, fmt.Sprintf("for i in $(seq 1 %d); do echo \"line $i\"; done\n", n), config.Template{Concurrency: 4}, nil)
	var ids []uint64
	for range 4 {
		ids = append(ids, h.submit("p", "a").ID)
	}
	for _, id := range ids {
		// Watch statuses and read the log the moment success shows.
		task := h.wait(id, state.StatusSuccess, state.StatusFailure, state.StatusError)
		if task.Status != state.StatusSuccess {
			t.Fatalf("task %d: got %s (%s), want success", id, task.Status, task.Message)
		}
		lines := h.lines(id)
		var got int
		for _, l := range lines {
			if strings.HasPrefix(l, "line ") {
				got++
			}
		}
		if got != n || !contains(lines, fmt.Sprintf("line %d", n)) {
			t.Errorf("task %d: got %d output lines at success, want %d", id, got, n)
		}
		if task.ExitCode != 0 || task.Started.IsZero() || task.Ended.IsZero() {
			t.Errorf("task %d: got exit %d started %v ended %v, want 0 and both set", id, task.ExitCode, task.Started, task.Ended)
		}
	}
	if dirs, _ := os.ReadDir(filepath.Join(h.work, "tasks")); len(dirs) != 0 {
		t.Errorf("got %d task directories left, want 0", len(dirs))
	}
}

func TestRealBashFailureAndTimeout(t *testing.T) {
	tests := []struct {
		name    string
		script  string
		timeout time.Duration
		status  state.TaskStatus
		msg     string
		code    int
	}{
		{"exit code", "echo before; exit 3\n", 0, state.StatusFailure, "code 3", 3},
		{"timeout", "echo start; sleep 30\n", 300 * time.Millisecond, state.StatusError, "timed out", -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := bashHarness(t, tc.script, config.Template{Timeout: config.Duration(tc.timeout)}, func(s *config.Settings) {
				s.StopGracePeriod = config.Duration(200 * time.Millisecond)
			})
			task := h.wait(h.submit("p", "a").ID, state.StatusSuccess, state.StatusFailure, state.StatusError)
			if task.Status != tc.status || !strings.Contains(task.Message, tc.msg) || task.ExitCode != tc.code {
				t.Errorf("got %s %q exit %d, want %s %q exit %d", task.Status, task.Message, task.ExitCode, tc.status, tc.msg, tc.code)
			}
			if lines := h.lines(task.ID); !contains(lines, tc.msg) {
				t.Errorf("log %q: want a line saying %q", lines, tc.msg)
			}
		})
	}
}

func TestRealBashStopRunning(t *testing.T) {
	h := bashHarness(t, "echo started; sleep 30\n", config.Template{}, func(s *config.Settings) {
		s.StopGracePeriod = config.Duration(200 * time.Millisecond)
	})
	task := h.submit("p", "a")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	// Wait for the first line through a follower, then stop.
	seen := make(chan struct{})
	var once sync.Once
	go h.e.FollowLog(ctx, task.ID, 1, func(ls []state.LogLine) error {
		for _, l := range ls {
			if l.Text == "started" {
				once.Do(func() { close(seen) })
			}
		}
		return nil
	})
	<-seen
	start := time.Now()
	got, err := h.e.Stop(ctx, task.ID)
	if err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if got.Status != state.StatusStopped || got.Message != msgStopped {
		t.Errorf("got %s %q, want stopped %q", got.Status, got.Message, msgStopped)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("stop took %v, want well under the job's 30s", d)
	}
}

func TestRealBashThousandsOfTasks(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 200
	}
	h := bashHarness(t, "echo \"hello $1\"\n", config.Template{Concurrency: 8, AllowOverrides: []config.Override{config.OverrideArguments}},
		func(s *config.Settings) { s.MaxParallelTasks = 8 })
	ids := make([]uint64, n)
	for i := range n {
		task, err := h.e.Submit(context.Background(), task.Request{Project: "p", Template: "a", Overrides: task.Overrides{Arguments: []string{fmt.Sprint(i)}}})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = task.ID
	}
	var lost int
	for i, id := range ids {
		task := h.wait(id, state.StatusSuccess, state.StatusFailure, state.StatusError)
		if task.Status != state.StatusSuccess {
			t.Fatalf("task %d: got %s (%s), want success", id, task.Status, task.Message)
		}
		if !contains(h.lines(id), fmt.Sprintf("hello %d", i)) {
			lost++
		}
	}
	if lost != 0 {
		t.Errorf("got %d of %d tasks with their line lost, want 0", lost, n)
	}
	if got := h.e.met.tasks.WithLabelValues("p", "a", "success").Value(); got != float64(n) {
		t.Errorf("semaphored_tasks_total{status=success}: got %v, want %d", got, n)
	}
}

func TestRealBash200kLines(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	const n = 200000
	h := bashHarness(t, fmt.Sprintf("seq 1 %d\n", n), config.Template{}, nil)
	start := time.Now()
	task := h.wait(h.submit("p", "a").ID, state.StatusSuccess, state.StatusFailure, state.StatusError)
	if task.Status != state.StatusSuccess {
		t.Fatalf("got %s (%s), want success", task.Status, task.Message)
	}
	lines := h.lines(task.ID)
	var got int
	next := 1
	for _, l := range lines {
		if l == fmt.Sprint(next) {
			got++
			next++
		}
	}
	if got != n {
		t.Errorf("got %d lines in order, want %d", got, n)
	}
	t.Logf("200,000 lines stored in %v", time.Since(start))
}

func TestLogCap(t *testing.T) {
	h := bashHarness(t, "for i in $(seq 1 100); do echo 123456789; done\n", config.Template{}, func(s *config.Settings) {
		s.MaxLogBytes = 95
	})
	task := h.wait(h.submit("p", "a").ID, state.StatusSuccess, state.StatusFailure, state.StatusError)
	if task.Status != state.StatusSuccess {
		t.Fatalf("got %s (%s), want success", task.Status, task.Message)
	}
	lines := h.lines(task.ID)
	var kept int
	for _, l := range lines {
		if l == "123456789" {
			kept++
		}
	}
	// The runner's "$ bash job.sh" line (13 bytes) counts, then 9 lines of
	// 9 bytes fit in 95; the engine's checkout line does not count.
	if kept != 9 {
		t.Errorf("got %d lines kept, want 9", kept)
	}
	want := "*** log truncated: 819 bytes over the max_log_bytes limit (95) ***"
	if last := lines[len(lines)-1]; last != want {
		t.Errorf("last line: got %q, want %q", last, want)
	}
}

func TestLogWriteFailureFailsTask(t *testing.T) {
	dir := scriptDir(t, "echo one\necho two\n")
	cfg := testConfig(dir, &config.Template{Name: "a"})
	f := newFakeRunner()
	fs := &failingStore{}
	h := newHarness(t, cfg, withRun(f.run), func(o *Options) { fs.Store, o.Store = o.Store, fs })
	task := h.submit("p", "a")
	r := f.next(t)
	if err := r.sink.WriteLine(time.Now(), "stored"); err != nil {
		t.Fatalf("WriteLine: %v", err)
	}
	fs.mu.Lock()
	fs.fail = errDiskFull
	fs.mu.Unlock()
	// The writer fails at its next flush; WriteLine reports it soon after.
	var err error
	for deadline := time.Now().Add(waitFor); err == nil && time.Now().Before(deadline); {
		err = r.sink.WriteLine(time.Now(), "lost")
	}
	if err == nil {
		t.Fatal("WriteLine: got no error after the store failed")
	}
	r.result <- runner.Result{Status: runner.Error, ExitCode: -1, Message: "output lost: " + err.Error()}
	got := h.wait(task.ID, state.StatusSuccess, state.StatusError)
	if got.Status != state.StatusError || !strings.Contains(got.Message, "log write failed") || !strings.Contains(got.Message, "disk full") {
		t.Errorf("got %s %q, want error saying the log write failed and why", got.Status, got.Message)
	}
	if n := h.e.met.logWriteErrors.Value(); n < 1 {
		t.Errorf("semaphored_log_write_errors_total: got %v, want ≥ 1", n)
	}
}

func TestFollowLog(t *testing.T) {
	cfg := testConfig(t.TempDir(), &config.Template{Name: "a"})
	f := newFakeRunner()
	h := newHarness(t, cfg, withRun(f.run))
	blocker := h.submit("p", "a")
	br := f.next(t)
	task := h.submit("p", "a") // waiting: followers wait for it to start
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	got := make(chan string, 100)
	done := make(chan error, 1)
	go func() {
		done <- h.e.FollowLog(ctx, task.ID, 0, func(ls []state.LogLine) error {
			for _, l := range ls {
				got <- l.Text
			}
			return nil
		})
	}()
	br.end(runner.Success)
	h.wait(blocker.ID, state.StatusSuccess)
	r := f.next(t)
	for i := range 3 {
		line := fmt.Sprint("live ", i)
		if err := r.sink.WriteLine(time.Now(), line); err != nil {
			t.Fatal(err)
		}
		// Each line reaches the follower while the task still runs.
		for l := range got {
			if l == line {
				break
			}
		}
	}
	r.end(runner.Success)
	if err := <-done; err != nil {
		t.Fatalf("FollowLog: %v", err)
	}
	// A task that ended long ago: just reads, from a line on.
	var old []string
	if err := h.e.FollowLog(ctx, task.ID, 2, func(ls []state.LogLine) error {
		for _, l := range ls {
			old = append(old, l.Text)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(old) != 3 || old[0] != "live 0" {
		t.Errorf("follow from line 2 of an ended task: got %q, want the 3 live lines", old)
	}
	if n := h.e.follow.(*Hub).followed(); n != 0 {
		t.Errorf("got %d follower entries left, want 0", n)
	}
}

func TestShutdownStopsRunningTasks(t *testing.T) {
	h := bashHarness(t, "echo up; sleep 30\n", config.Template{}, func(s *config.Settings) {
		s.StopGracePeriod = config.Duration(200 * time.Millisecond)
	})
	task := h.submit("p", "a")
	h.wait(task.ID, state.StatusRunning)
	h.stop()
	got, err := h.store.Task(context.Background(), task.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != state.StatusStopped || got.Message != "daemon shutting down" {
		t.Errorf("got %s %q, want stopped \"daemon shutting down\"", got.Status, got.Message)
	}
	if _, err := h.e.Submit(context.Background(), h.request("p", "a")); err == nil {
		t.Error("Submit after shutdown: got no error")
	}
}
