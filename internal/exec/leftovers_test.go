package exec

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCleanLeftovers plays a daemon that died mid-job: a job (with a
// child in its process group) still runs with TMPDIR in its task
// directory, whose private files hold a secret. Recovery kills the group
// and removes the directory.
func TestCleanLeftovers(t *testing.T) {
	work := t.TempDir()
	private := filepath.Join(work, "tasks", "7", "private")
	if err := os.MkdirAll(filepath.Join(private, "tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(private, "vars.json"), []byte(`{"password":"hunter2"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	job := exec.Command("bash", "-c", "sleep 300 & wait")
	job.Env = []string{"PATH=" + os.Getenv("PATH"), "TMPDIR=" + filepath.Join(private, "tmp")}
	job.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := job.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- job.Wait() }()
	// Another process, not a job of this engine, must survive.
	other := exec.Command("sleep", "300")
	other.Env = []string{"TMPDIR=" + t.TempDir()}
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { other.Process.Kill(); other.Wait() }()

	e := mustEngine(t, Options{WorkDir: work, Store: openStore(t, filepath.Join(t.TempDir(), "state.db"))})
	e.cleanLeftovers()

	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the left-over job still runs")
	}
	// Killed members may linger as zombies until their new parent reaps
	// them; what must not exist is a live one.
	deadline := time.Now().Add(10 * time.Second)
	for liveInGroup(job.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatal("a process of the left-over job's group still runs")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(work, "tasks", "7")); !os.IsNotExist(err) {
		t.Errorf("the left-over task directory is still there: %v", err)
	}
	if err := other.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("an unrelated process was killed: %v", err)
	}
}

// liveInGroup reports whether a process of group pgid runs (zombies aside).
func liveInGroup(pgid int) bool {
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces, so split after ")".
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b)[i+1:])
		if len(f) >= 3 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			return true
		}
	}
	return false
}
