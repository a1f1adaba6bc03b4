package main

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/testenv"
)

// TestMultiProjectExample serves examples/multi-project the way its README
// says (its run script, on a fresh checkout's file modes) and runs every
// kind of template it declares to success: ansible against localhost with
// three kinds of inventory, bash, and tofu plan → confirm → apply (and a
// rejected plan), the plan-only drift check.
func TestMultiProjectExample(t *testing.T) {
	ansible := testenv.LookTool(t, "ansible-playbook")
	tofu := testenv.LookTool(t, "tofu")
	testenv.LookTool(t, "bash")
	example := copyDir(t, "../../examples/multi-project")
	// A checkout's modes: git keeps no read bits, so the identity is 0644.
	if err := os.Chmod(filepath.Join(example, "age-identity.txt"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The example's own values, not the developer's.
	env := []string{"PATH=" + filepath.Dir(tofu) + string(os.PathListSeparator) + filepath.Dir(ansible) + string(os.PathListSeparator) + os.Getenv("PATH")}
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); name != "PATH" && !strings.HasPrefix(name, "SEMAPHORED_") && !strings.HasPrefix(name, "WEB_") &&
			!strings.HasPrefix(name, "GITHUB_") && !strings.HasPrefix(name, "GITEA_") && !strings.HasPrefix(name, "NETWORK_") {
			env = append(env, kv)
		}
	}
	data := t.TempDir()
	cmd := exec.Command(filepath.Join(example, "run"), "--listen", "127.0.0.1:0")
	cmd.Env = append(env, "SEMAPHORED_BIN="+semaphoredBinary(t), "SEMAPHORED_DATA="+data)
	d := runDaemon(t, cmd, data)
	if fi, err := os.Stat(filepath.Join(example, "age-identity.txt")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the run script left the identity %v (%v), want 0600", fi.Mode().Perm(), err)
	}

	for _, args := range [][]string{
		{"web/deploy"},
		{"web/deploy-staging"},
		{"web/canary-check"},
		{"web/smoke-test"},
		{"web/restart", "--limit", "localhost"},
		{"network/dns-drift"},
	} {
		t.Run(args[0], func(t *testing.T) {
			out, err := d.cli(append([]string{"run", "--wait"}, args...)...)
			if err != nil {
				t.Fatalf("run %v --wait: %v\n%s", args, err, out)
			}
			if strings.Contains(out, "example-database-password") {
				t.Errorf("a secret is in the output:\n%s", out)
			}
		})
	}

	t.Run("network/vpc confirmed", func(t *testing.T) {
		out, errOut := d.runUntilConfirmation(t, "confirm", "network/vpc")
		if !strings.Contains(out, "Plan: 1 to add") || !strings.Contains(out, "Apply complete! Resources: 1 added") {
			t.Errorf("want the plan and the apply in the log:\n%s", out)
		}
		if !strings.Contains(errOut, "success") {
			t.Errorf("stderr: %s", errOut)
		}
	})
	t.Run("network/vpc rejected", func(t *testing.T) {
		// The state of production keeps the applied plan: plan in a new
		// workspace, from empty, to have a plan to reject.
		out, errOut := d.runUntilConfirmation(t, "reject", "network/vpc", "--workspace", "review")
		if strings.Contains(out, "Apply complete!") || !regexp.MustCompile(`task \d+ stopped`).MatchString(errOut) {
			t.Errorf("a rejected plan: stdout\n%s\nstderr\n%s", out, errOut)
		}
	})
	if err := d.kill(syscall.SIGTERM); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

// runUntilConfirmation runs `run --wait ARGS...`, answers the confirmation
// it announces with decision (confirm or reject), and returns what run
// printed once it ended; run fails unless confirm leads to success.
func (d *daemon) runUntilConfirmation(t *testing.T, decision string, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, semaphoredBinary(t), append([]string{"run", "--wait"}, args...)...)
	cmd.Env = append(os.Environ(), "SEMAPHORED_SERVER="+d.url, "SEMAPHORED_DATA="+d.data)
	var out testenv.LockedBuffer
	cmd.Stdout = &out
	errPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var errOut strings.Builder
	hint := regexp.MustCompile(`^  semaphored ` + decision + ` (\d+) `)
	sc := bufio.NewScanner(errPipe)
	decided := false
	for sc.Scan() {
		errOut.WriteString(sc.Text() + "\n")
		if m := hint.FindStringSubmatch(sc.Text()); m != nil && !decided {
			decided = true
			if o, err := d.cli(decision, m[1]); err != nil {
				t.Errorf("%s %s: %v\n%s", decision, m[1], err, o)
			}
		}
	}
	err = cmd.Wait()
	if !decided {
		t.Fatalf("run --wait never announced the confirmation:\n%s\n%s", out.String(), errOut.String())
	}
	if (decision == "confirm") != (err == nil) {
		t.Errorf("run --wait after %s: %v\n%s", decision, err, errOut.String())
	}
	return out.String(), errOut.String()
}

// TestServeAnotherConfigLogsPrune serves the quickstart, then the
// multi-project example on the same data directory: the daemon warns that
// it pruned the quickstart project.
func TestServeAnotherConfigLogsPrune(t *testing.T) {
	data := t.TempDir()
	d := startDaemon(t, copyDir(t, "../../examples/quickstart"), data)
	if err := d.kill(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	example := copyDir(t, "../../examples/multi-project")
	d2 := startDaemon(t, example, data)
	testenv.WaitFor(t, "the prune warning", 10*time.Second, func() bool {
		return strings.Contains(d2.logs.String(), `msg="pruned project: it is not in this revision" component=sync project=quickstart objects=8`)
	})
}

// TestServeStartAndRefusedSecond checks the daemon's own lines: a new
// state file is one line (not a migration per schema step), and a second
// daemon on the same data fails at once, saying why, without claiming it
// "stopped".
func TestServeStartAndRefusedSecond(t *testing.T) {
	d := startDaemon(t, copyDir(t, "../../examples/quickstart"), "")
	logs := d.logs.String()
	if n := strings.Count(logs, `msg="created state file"`); n != 1 || strings.Contains(logs, "migrated state schema") {
		t.Errorf("a new state file: got %d created lines, want 1 and no migration:\n%s", n, logs)
	}
	cmd := exec.Command(semaphoredBinary(t), "serve", "--config", "../../examples/quickstart", "--data", d.data, "--listen", "127.0.0.1:0")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("second daemon: %v, want exit 1\n%s", err, out)
	}
	if strings.Contains(string(out), "semaphored stopped") || !strings.Contains(string(out), "semaphored serve: ") {
		t.Errorf("second daemon's output:\n%s\nwant the reason once and no \"semaphored stopped\"", out)
	}
}
