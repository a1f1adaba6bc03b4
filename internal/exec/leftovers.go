package exec

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// cleanLeftovers runs during recovery, before any task starts. A daemon
// that died without its shutdown (kill -9, OOM, power loss) leaves its
// task directories behind, with the secret files of those runs in them,
// and, when no supervisor killed its process tree, the jobs themselves
// still running: a terraform apply of a task now marked interrupted. It
// kills every process group whose member has its TMPDIR inside this
// engine's task directories (the runner gives every process
// TMPDIR=<task>/private/tmp, and children inherit it), then removes the
// directories.
func (e *Engine) cleanLeftovers() {
	dir := filepath.Join(e.opts.WorkDir, "tasks")
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		return
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return
	}
	for _, pid := range processesWithTmpdirIn(abs + string(filepath.Separator)) {
		pgid, err := syscall.Getpgid(pid)
		if err == nil && pgid > 1 && pgid != syscall.Getpgrp() {
			syscall.Kill(-pgid, syscall.SIGKILL)
		}
		syscall.Kill(pid, syscall.SIGKILL)
		e.log.Warn("killed a job process left running by a previous daemon", "pid", pid, "pgid", pgid)
	}
	for _, ent := range entries {
		p := filepath.Join(dir, ent.Name())
		if err := os.RemoveAll(p); err != nil {
			e.log.Error("remove a task directory left by a previous daemon", "dir", p, "err", err)
			continue
		}
		e.log.Info("removed a task directory left by a previous daemon", "dir", p)
	}
}

// processesWithTmpdirIn returns the pids (other than this process) whose
// environment has TMPDIR under prefix. Processes of other users, whose
// environment cannot be read, are not ours and are skipped.
func processesWithTmpdirIn(prefix string) []int {
	paths, _ := filepath.Glob("/proc/[0-9]*/environ")
	want := []byte("TMPDIR=" + prefix)
	self := os.Getpid()
	var pids []int
	for _, p := range paths {
		env, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if !bytes.HasPrefix(kv, want) {
				continue
			}
			if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil && pid != self {
				pids = append(pids, pid)
			}
			break
		}
	}
	return pids
}
