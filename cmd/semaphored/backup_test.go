package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/testenv"
)

// newState writes a real state file with n tasks (task 1 with a log) into
// a new data directory and closes it.
func newState(t *testing.T, n int) string {
	t.Helper()
	data := t.TempDir()
	st, err := state.Open(filepath.Join(data, stateFile), state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range n {
		// Fields set one by one: the same code whether Project and
		// Template are fields of state.Task or of an embedded request.
		var tk state.Task
		tk.Project, tk.Template = "p", fmt.Sprintf("t%d", i%3)
		if _, err := st.CreateTask(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.AppendLog(ctx, 1, []state.LogLine{{Time: time.Now(), Text: "hello from task 1"}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	return data
}

// tasksIn opens a state file and returns its number of tasks and the log
// of task 1.
func tasksIn(t *testing.T, path string) (int, string) {
	t.Helper()
	st, err := state.Open(path, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tasks, err := st.Tasks(context.Background(), state.TaskFilter{}, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := st.ReadLog(context.Background(), 1, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var log []string
	for _, l := range lines {
		log = append(log, l.Text)
	}
	return len(tasks), strings.Join(log, "\n")
}

// TestBackupRestoreStopped backs up the state of a stopped daemon, restores
// it into a new data directory, and checks the refusals of restore.
func TestBackupRestoreStopped(t *testing.T) {
	data := newState(t, 25)
	before, _ := os.ReadFile(filepath.Join(data, stateFile))
	out := filepath.Join(t.TempDir(), "backup.db")

	stdout, stderr, code := runCmd(t, "backup", "--data", data, out)
	if code != 0 {
		t.Fatalf("backup: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "copied the stopped daemon's state file") || !strings.Contains(stdout, "consistent") {
		t.Errorf("backup output: %s", stdout)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	if after, _ := os.ReadFile(filepath.Join(data, stateFile)); !bytes.Equal(before, after) {
		t.Error("backup changed the source state file")
	}
	// OUT may be a directory.
	dir := t.TempDir()
	if _, stderr, code := runCmd(t, "backup", "--data", data, dir); code != 0 {
		t.Fatalf("backup into a directory: exit %d: %s", code, stderr)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "semaphored-*.db")); len(m) != 1 {
		t.Errorf("backup into a directory: got files %v, want one semaphored-TIME.db", m)
	}

	target := filepath.Join(t.TempDir(), "data")
	stdout, stderr, code = runCmd(t, "restore", out, "--data", target)
	if code != 0 {
		t.Fatalf("restore: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "restored") || !strings.Contains(stdout, "admin.token") {
		t.Errorf("restore output: %s", stdout)
	}
	if n, log := tasksIn(t, filepath.Join(target, stateFile)); n != 25 || log != "hello from task 1" {
		t.Errorf("restored state: %d tasks, log %q; want 25 and the log", n, log)
	}

	// The target now has a state: refused without --force.
	_, stderr, code = runCmd(t, "restore", out, "--data", target)
	if code != 1 || !strings.Contains(stderr, "already holds a state; pass --force") {
		t.Errorf("restore over a state: exit %d, %q", code, stderr)
	}
	other := newState(t, 3)
	stdout, stderr, code = runCmd(t, "restore", filepath.Join(other, stateFile), "--data", target, "--force")
	if code != 0 {
		t.Fatalf("restore --force: exit %d: %s", code, stderr)
	}
	if n, _ := tasksIn(t, filepath.Join(target, stateFile)); n != 3 {
		t.Errorf("after restore --force: %d tasks, want 3", n)
	}
	aside, _ := filepath.Glob(filepath.Join(target, stateFile+".before-restore-*"))
	if len(aside) != 1 || !strings.Contains(stdout, "kept the old state as") {
		t.Fatalf("the replaced state was not kept: %v\n%s", aside, stdout)
	}
	if n, _ := tasksIn(t, aside[0]); n != 25 {
		t.Errorf("kept state: %d tasks, want 25", n)
	}
	if left, _ := filepath.Glob(filepath.Join(target, ".restore-*")); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// TestRestoreChecks feeds restore files that must be refused, each with
// its reason, and checks that nothing is installed.
func TestRestoreChecks(t *testing.T) {
	good, err := os.ReadFile(filepath.Join(newState(t, 2), stateFile))
	if err != nil {
		t.Fatal(err)
	}
	// A file from a newer semaphored: the same file with a higher schema
	// version in its meta bucket (bbolt stores the key and value next to
	// each other in the leaf page and checksums only its meta pages).
	// Every copy is patched: pages freed by the migrations hold old ones.
	newer := bytes.Clone(good)
	key := []byte("schema_version")
	patched := 0
	for i := 0; ; {
		j := bytes.Index(newer[i:], key)
		if j < 0 {
			break
		}
		v := i + j + len(key)
		if v < len(newer) && newer[v] >= '0' && newer[v] <= '9' {
			newer[v] = '9'
			patched++
		}
		i = v
	}
	if patched == 0 {
		t.Fatal("schema_version not found in the state file")
	}
	truncated := good[:len(good)/3]

	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"newer schema", newer, "schema version 9"},
		{"not a state file", []byte("this is not a bbolt file, only some text that is long enough"), "not a usable semaphored state file"},
		{"truncated", truncated, "not a usable semaphored state file"},
		{"empty", nil, "not a usable semaphored state file"},
		{"missing file", nil, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := filepath.Join(t.TempDir(), "backup.db")
			if tt.name != "missing file" {
				if err := os.WriteFile(src, tt.data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			target := t.TempDir()
			_, stderr, code := runCmd(t, "restore", src, "--data", target)
			if code != 1 || !strings.Contains(stderr, tt.want) {
				t.Fatalf("got exit %d, stderr %q; want exit 1 and %q", code, stderr, tt.want)
			}
			if entries, _ := os.ReadDir(target); len(entries) != 0 {
				t.Errorf("a refused restore left files: %v", entries)
			}
		})
	}
}

// TestRestoreRefusesLockedDataDir: a daemon that holds the data
// directory but has no state file open yet (it is starting) is seen, and
// nothing is written.
func TestRestoreRefusesLockedDataDir(t *testing.T) {
	src := filepath.Join(newState(t, 2), stateFile)
	target := t.TempDir()
	release, err := lockDataDir(target) // what serve takes first
	if err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runCmd(t, "restore", src, "--data", target, "--force")
	if code != 1 || !strings.Contains(stderr, "in use by another semaphored process (pid ") {
		t.Errorf("restore into a held data directory: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(target, stateFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused restore wrote the state: %v", err)
	}
	release()
	if _, stderr, code := runCmd(t, "restore", src, "--data", target); code != 0 {
		t.Fatalf("restore once the directory is free: exit %d: %s", code, stderr)
	}
	if n, _ := tasksIn(t, filepath.Join(target, stateFile)); n != 2 {
		t.Errorf("restored %d tasks, want 2", n)
	}
}

// TestRestoreOneMetaPageDamaged checks that a file bbolt can still open
// (one of its two meta pages damaged, the other valid) is accepted.
func TestRestoreOneMetaPageDamaged(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(newState(t, 4), stateFile))
	if err != nil {
		t.Fatal(err)
	}
	data[16+48] ^= 0xff // the txid of meta page 0: its checksum fails
	src := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	target := t.TempDir()
	if _, stderr, code := runCmd(t, "restore", src, "--data", target); code != 0 {
		t.Fatalf("restore: exit %d: %s", code, stderr)
	}
	if n, _ := tasksIn(t, filepath.Join(target, stateFile)); n < 3 {
		t.Errorf("restored %d tasks, want the file's last or previous transaction (3 or 4)", n)
	}
}

// TestBackupWhileDaemonRuns backs up through a running daemon while a
// task runs, and checks that restore refuses to touch its data.
func TestBackupWhileDaemonRuns(t *testing.T) {
	cfg := configDir(t, map[string]string{
		"crash.yaml": crashConfig,
		"slow.sh":    "for i in $(seq 1 5); do echo line $i; done\nsleep 302.7182\n",
		"quick.sh":   "echo quick done\n",
	})
	d := startDaemon(t, cfg, "")
	t.Cleanup(func() { killMatching("302.7182") })
	quick := d.create("crash", "quick", "{}")
	d.waitSuccess(quick, 20*time.Second)
	slow := d.create("crash", "slow", "{}")
	testenv.WaitFor(t, "the slow task's 5 lines", 20*time.Second, func() bool {
		_, log := d.get(fmt.Sprintf("/api/v1/tasks/%d/log", slow))
		return strings.Contains(log, "line 5")
	})

	out := filepath.Join(t.TempDir(), "hot.db")
	stdout, err := d.cli("backup", out)
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, stdout)
	}
	if !strings.Contains(stdout, "streamed by the running daemon") {
		t.Errorf("backup did not go through the daemon: %s", stdout)
	}
	// The running task was not disturbed.
	_, b := d.get(fmt.Sprintf("/api/v1/tasks/%d", slow))
	if !strings.Contains(b, `"status":"running"`) {
		t.Errorf("slow task after the backup: %s", b)
	}
	st, err := state.Open(out, state.Options{})
	if err != nil {
		t.Fatal(err)
	}
	task, err := st.Task(context.Background(), quick)
	lines, _ := st.ReadLog(context.Background(), slow, 0, 100)
	st.Close()
	if err != nil || task.Status != state.StatusSuccess {
		t.Errorf("quick task in the backup: %+v, %v", task.Status, err)
	}
	if len(lines) < 5 {
		t.Errorf("slow task's log in the backup: %d lines, want at least 5", len(lines))
	}

	// A wrong token is refused by the daemon, and reported.
	stdout, err = d.cli("backup", "--token", "not-the-token", filepath.Join(t.TempDir(), "x.db"))
	if err == nil || !strings.Contains(stdout, "401") {
		t.Errorf("backup with a bad token: err %v, output %s", err, stdout)
	}

	// restore refuses while the daemon holds the data, even with --force.
	for _, args := range [][]string{{"restore", out}, {"restore", out, "--force"}} {
		stdout, err = d.cli(args...)
		if err == nil || !strings.Contains(stdout, "is in use by another semaphored process (pid ") {
			t.Errorf("%v while the daemon runs: err %v, output %s", args, err, stdout)
		}
	}
	if _, b := d.get(fmt.Sprintf("/api/v1/tasks/%d", quick)); !strings.Contains(b, `"status":"success"`) {
		t.Errorf("the daemon's state changed under it: %s", b)
	}
}
