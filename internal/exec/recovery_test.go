package exec

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/gitcache"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
	"github.com/semaphored/semaphored/internal/testenv"
)

// The crash helper: the test binary re-executed with these variables runs
// an engine on a real state file until it is killed.
const (
	envHelper = "SEMAPHORED_EXEC_CRASH_HELPER"
	envState  = "SEMAPHORED_EXEC_CRASH_STATE"
	envRepo   = "SEMAPHORED_EXEC_CRASH_REPO"
)

func TestMain(m *testing.M) {
	if os.Getenv(envHelper) == "1" {
		os.Exit(crashHelper())
	}
	os.Exit(m.Run())
}

// crashConfig runs "long" (prints lines, then sleeps) and "quick", one
// task at a time overall so that quick waits behind long.
func crashConfig(repo string) *config.Config {
	cfg := testConfig(repo,
		&config.Template{Name: "long", Script: "long.sh"},
		&config.Template{Name: "quick", Script: "quick.sh"})
	cfg.Settings.MaxParallelTasks = 1
	return cfg
}

func crashHelper() int {
	st, err := state.Open(os.Getenv(envState), state.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open state:", err)
		return 1
	}
	base := filepath.Dir(os.Getenv(envState))
	e, err := New(Options{Store: st, Config: &fakeConfig{cfg: crashConfig(os.Getenv(envRepo))}, WorkDir: filepath.Join(base, "work"),
		Checkouts: gitcache.New(filepath.Join(base, "git"), gitcache.Options{})})
	if err != nil {
		fmt.Fprintln(os.Stderr, "new engine:", err)
		return 1
	}
	ctx := context.Background()
	go func() {
		if _, err := e.Submit(ctx, task.Request{Project: "p", Template: "long"}); err != nil {
			fmt.Fprintln(os.Stderr, "submit:", err)
		}
		if _, err := e.Submit(ctx, task.Request{Project: "p", Template: "quick"}); err != nil {
			fmt.Fprintln(os.Stderr, "submit:", err)
		}
	}()
	if err := e.Run(ctx); err != nil { // never returns: the test kills us
		fmt.Fprintln(os.Stderr, "run:", err)
	}
	return 1
}

func TestCrashRecovery(t *testing.T) {
	testenv.LookTool(t, "bash")
	repo := t.TempDir()
	for name, text := range map[string]string{
		"long.sh":  "for i in $(seq 1 50); do echo \"long $i\"; done\nsleep 60\n",
		"quick.sh": "echo quick done\n",
	} {
		if err := os.WriteFile(filepath.Join(repo, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^$")
	cmd.Env = append(os.Environ(), envHelper+"=1", envState+"="+path, envRepo+"="+repo)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the kill takes bash too
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			cmd.Wait()
		}
	}()

	// Wait (reading the file the helper writes, read-only) until the long
	// task runs and has stored its 50 lines. bbolt allows readers of other
	// processes only through a copy, so poll copies with a deadline.
	deadline := time.Now().Add(waitFor)
	for {
		if n, ok := storedLines(t, path, dir); ok && n >= 50 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the helper's long task did not store its lines in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killed = true

	// A new daemon on the same file.
	st := openStore(t, path)
	defer st.Close()
	git := gitcache.New(filepath.Join(dir, "git"), gitcache.Options{})
	defer git.Close()
	e := mustEngine(t, Options{Store: st, Config: &fakeConfig{cfg: crashConfig(repo)}, WorkDir: filepath.Join(dir, "work"), Checkouts: git})
	h := &harness{t: t, e: e, store: st}
	h.start()
	defer h.stop()

	long := h.wait(1, state.StatusInterrupted, state.StatusSuccess, state.StatusError, state.StatusStopped)
	if long.Status != state.StatusInterrupted || long.Message != msgInterrupted {
		t.Errorf("long task: got %s %q, want interrupted %q", long.Status, long.Message, msgInterrupted)
	}
	lines := h.lines(1)
	for i := 1; i <= 50; i++ {
		if !contains(lines, fmt.Sprintf("long %d", i)) {
			t.Fatalf("long task: line %d lost after the crash; log %q", i, lines)
		}
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "interrupted") {
		t.Errorf("long task: last line %q, want the interruption line", last)
	}
	quick := h.wait(2, state.StatusSuccess, state.StatusFailure, state.StatusError)
	if quick.Status != state.StatusSuccess || !contains(h.lines(2), "quick done") {
		t.Errorf("quick task: got %s %q, want success with its line", quick.Status, quick.Message)
	}
}

// storedLines reports how many lines task 1 has stored and whether it is
// running, from a copy of the live state file.
func storedLines(t *testing.T, path, dir string) (uint64, bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return 0, false
	}
	cp := filepath.Join(dir, "peek.db")
	if err := os.WriteFile(cp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(cp, state.Options{})
	if err != nil {
		return 0, false // a torn copy: try again
	}
	defer st.Close()
	task, err := st.Task(context.Background(), 1)
	if err != nil || task.Status != state.StatusRunning {
		return 0, false
	}
	return task.LogLines, true
}
