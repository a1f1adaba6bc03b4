package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite golden files")

// binary is the semaphored binary the end-to-end tests run, built once.
var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

func semaphoredBinary(t testing.TB) string {
	t.Helper()
	binaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "semaphored-bin-")
		if err != nil {
			binaryErr = err
			return
		}
		binaryPath = filepath.Join(dir, "semaphored")
		build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", binaryPath, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := build.CombinedOutput()
		if err != nil {
			binaryErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binaryPath != "" {
		os.RemoveAll(filepath.Dir(binaryPath))
	}
	os.Exit(code)
}

func runCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = exitCode(run(context.Background(), args, &out, &errb), &errb)
	return out.String(), errb.String(), code
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("%s: got\n%s\nwant\n%s", name, got, want)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		code      int
		golden    string
	}{
		{"quickstart", "../../examples/quickstart", 0, ""},
		{"multi-project", "../../examples/multi-project", 0, ""},
		{"thirty mistakes", "../../internal/config/testdata/bad/thirty-mistakes", 1, "validate-thirty-mistakes.golden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCmd(t, "validate", tc.src)
			if code != tc.code {
				t.Fatalf("exit code: got %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			if tc.golden != "" {
				golden(t, tc.golden, out)
			}
		})
	}
	out, _, code := runCmd(t, "validate", "../../internal/config/testdata/bad/thirty-mistakes")
	if n := strings.Count(out, "\n"); code != 1 || n != 30 {
		t.Fatalf("thirty mistakes: got %d lines (exit %d), want 30 (exit 1)", n, code)
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !regexp.MustCompile(`^[^:]+\.ya?ml:\d+:\d+: `).MatchString(line) {
			t.Errorf("line without file:line:col: %q", line)
		}
	}
}

func TestPlan(t *testing.T) {
	data := t.TempDir()
	out, errOut, code := runCmd(t, "plan", "../../examples/quickstart", "--data", data)
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s%s", code, out, errOut)
	}
	golden(t, "plan-quickstart.golden", out)
	if _, err := os.Stat(filepath.Join(data, "state.db")); err == nil {
		t.Fatal("plan created a state file")
	}

	// Without SRC: what serve would serve, the bundled quickstart here.
	t.Setenv("SEMAPHORED_CONFIG", "")
	os.Unsetenv("SEMAPHORED_CONFIG")
	out, errOut, code = runCmd(t, "plan", "--data", data)
	if code != 0 || !strings.Contains(errOut, "planning the bundled quickstart") {
		t.Fatalf("plan without SRC: exit %d, stderr %q", code, errOut)
	}
	golden(t, "plan-quickstart.golden", out)
}

// TestValidateDefaultSource checks validate without SRC reads what serve
// would: --config, else $SEMAPHORED_CONFIG, and says which.
func TestValidateDefaultSource(t *testing.T) {
	t.Setenv("SEMAPHORED_CONFIG", "../../examples/multi-project")
	out, errOut, code := runCmd(t, "validate")
	if code != 0 || out != "../../examples/multi-project: valid (2 projects, 7 templates)\n" || errOut != "validating ../../examples/multi-project (from $SEMAPHORED_CONFIG)\n" {
		t.Errorf("from the environment: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = runCmd(t, "validate", "--config", "../../examples/quickstart")
	if code != 0 || out != "../../examples/quickstart: valid (1 project, 3 templates)\n" || errOut != "validating ../../examples/quickstart (from --config)\n" {
		t.Errorf("from --config: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestServeRefusesDataInsideConfig(t *testing.T) {
	cfg := copyDir(t, "../../examples/quickstart")
	_, errOut, code := runCmd(t, "serve", "--config", cfg, "--data", filepath.Join(cfg, "data"), "--listen", "127.0.0.1:0")
	if code != 1 || !strings.Contains(errOut, "is inside the config directory") {
		t.Fatalf("data inside config: exit %d, stderr %q", code, errOut)
	}
}

func TestUsageAndVersion(t *testing.T) {
	if _, _, code := runCmd(t); code != 2 {
		t.Fatalf("no command: exit %d, want 2", code)
	}
	if _, errOut, code := runCmd(t, "frobnicate"); code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: exit %d, stderr %q", code, errOut)
	}
	out, _, code := runCmd(t, "version")
	if code != 0 || !strings.HasPrefix(out, "semaphored dev (commit ") || !strings.Contains(out, "go1.") {
		t.Fatalf("version: exit %d, %q", code, out)
	}
}

// daemon is a running `semaphored serve` process.
type daemon struct {
	t      testing.TB
	cmd    *exec.Cmd
	url    string
	data   string
	logs   *testenv.LockedBuffer
	exited chan error
}

var listenRE = regexp.MustCompile(`listen=(127\.0\.0\.1:\d+)`)

// startDaemon runs the binary on configDir with a fresh or given data
// directory (extra flags last), and waits until it is ready.
func startDaemon(t testing.TB, configDir, data string, extra ...string) *daemon {
	t.Helper()
	if data == "" {
		data = t.TempDir()
	}
	args := append([]string{"serve", "--config", configDir, "--data", data, "--listen", "127.0.0.1:0", "--log-level", "debug"}, extra...)
	cmd := exec.Command(semaphoredBinary(t), args...)
	cmd.Env = append(os.Environ(), "SEMAPHORED_TEST_SECRET=s3cr3t-value-for-tests")
	return runDaemon(t, cmd, data)
}

// runDaemon starts cmd, a daemon (or a script that execs one) listening on
// a port it logs, and waits until it is ready.
func runDaemon(t testing.TB, cmd *exec.Cmd, data string) *daemon {
	t.Helper()
	pr, pw := io.Pipe()
	logs := &testenv.LockedBuffer{}
	cmd.Stderr = io.MultiWriter(pw, logs)
	cmd.Stdout = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, cmd: cmd, data: data, logs: logs, exited: make(chan error, 1)}
	go func() { d.exited <- cmd.Wait(); pw.Close() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-d.exited
		if t.Failed() {
			t.Logf("daemon log:\n%s", logs.String())
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		found := false
		for sc.Scan() {
			if m := listenRE.FindStringSubmatch(sc.Text()); m != nil && !found {
				addr <- m[1]
				found = true
			}
		}
	}()
	select {
	case a := <-addr:
		d.url = "http://" + a
	case err := <-d.exited:
		t.Fatalf("daemon exited: %v\n%s", err, logs.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("daemon did not log its address:\n%s", logs.String())
	}
	testenv.WaitFor(t, "readyz", 10*time.Second, func() bool {
		resp, err := http.Get(d.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return d
}

// configDir writes files (name → content; scripts, ending in .sh, are
// executable) into a new directory and returns it.
func configDir(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func (d *daemon) token() string {
	b, err := os.ReadFile(filepath.Join(d.data, "admin.token"))
	if err != nil {
		d.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// get returns the status and body of an authenticated GET.
func (d *daemon) get(path string) (int, string) {
	d.t.Helper()
	return d.do("GET", path, "")
}

func (d *daemon) do(method, path, body string) (int, string) {
	d.t.Helper()
	req, _ := http.NewRequest(method, d.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+d.token())
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// cli runs the binary as a client of this daemon.
func (d *daemon) cli(args ...string) (string, error) {
	cmd := exec.Command(semaphoredBinary(d.t), args...)
	cmd.Env = append(os.Environ(), "SEMAPHORED_SERVER="+d.url, "SEMAPHORED_DATA="+d.data)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// kill signals the daemon and waits (15s at most) for it to exit.
func (d *daemon) kill(sig syscall.Signal) error {
	d.t.Helper()
	d.cmd.Process.Signal(sig)
	select {
	case err := <-d.exited:
		d.exited <- err
		if sig == syscall.SIGKILL {
			return nil
		}
		return err
	case <-time.After(15 * time.Second):
		d.t.Fatalf("daemon did not exit within 15s of %v", sig)
		return nil
	}
}

// create queues a task of project/template and returns its id.
func (d *daemon) create(project, template, body string) uint64 {
	d.t.Helper()
	code, resp := d.do("POST", "/api/v1/projects/"+project+"/templates/"+template+"/tasks", body)
	var task struct{ ID uint64 }
	if err := json.Unmarshal([]byte(resp), &task); err != nil || code != 201 {
		d.t.Fatalf("create %s/%s: %d %s", project, template, code, resp)
	}
	return task.ID
}

// waitSuccess waits until task id succeeds, and fails on any other end.
func (d *daemon) waitSuccess(id uint64, timeout time.Duration) {
	d.t.Helper()
	var status string
	testenv.WaitFor(d.t, fmt.Sprintf("task %d to end", id), timeout, func() bool {
		_, b := d.get(fmt.Sprintf("/api/v1/tasks/%d", id))
		var t struct{ Status string }
		json.Unmarshal([]byte(b), &t)
		status = t.Status
		return status == "success" || status == "failure" || status == "error" || status == "stopped" || status == "interrupted"
	})
	if status != "success" {
		d.t.Fatalf("task %d ended %s", id, status)
	}
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestServeQuickstart(t *testing.T) {
	testenv.LookTool(t, "python3")
	d := startDaemon(t, copyDir(t, "../../examples/quickstart"), "")
	if code, body := d.get("/healthz"); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	if code, body := d.get("/readyz"); code != 200 || !strings.HasPrefix(body, "ready: revision dir-") {
		t.Fatalf("/readyz: %d %q", code, body)
	}

	if fi, err := os.Stat(filepath.Join(d.data, "admin.token")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token: %v, mode %v", err, fi.Mode())
	}
	code, body := d.get("/api/v1/projects/quickstart/templates")
	if code != 200 || !strings.Contains(body, `"hello"`) || !strings.Contains(body, `"app":"bash"`) {
		t.Fatalf("templates: %d %s", code, body)
	}

	// A task through the CLI, waited for, its log on stdout.
	out, err := d.cli("run", "quickstart/hello", "--wait")
	if err != nil {
		t.Fatalf("run --wait: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Hello from semaphored") {
		t.Fatalf("run --wait output lacks the script's greeting:\n%s", out)
	}
	out, err = d.cli("run", "quickstart/report", "--wait")
	if err != nil {
		t.Fatalf("run report --wait: %v\n%s", err, out)
	}
	out, err = d.cli("tasks")
	if err != nil || !strings.Contains(out, "hello") || !strings.Contains(out, "success") {
		t.Fatalf("tasks: %v\n%s", err, out)
	}

	// Unauthenticated and unknown.
	resp, err := http.Get(d.url + "/api/v1/tasks")
	if err != nil || resp.StatusCode != 401 {
		t.Fatalf("no token: %v %v", err, resp.Status)
	}
	resp.Body.Close()
	if code, _ := d.get("/api/v1/tasks/999999"); code != 404 {
		t.Fatalf("unknown task: got %d, want 404", code)
	}

	// /metrics passes promtool's lint.
	resp, err = http.Get(d.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"semaphored_config_syncs_total", "semaphored_config_last_success_timestamp_seconds", "semaphored_config_active_revision_info", "semaphored_build_info", `semaphored_tasks_total{project="quickstart",status="success",template="hello"} 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	promtool := testenv.LookTool(t, "promtool")
	check := exec.Command(promtool, "check", "metrics")
	check.Stdin = bytes.NewReader(metrics)
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}

	// SIGTERM: a clean, prompt exit.
	if err := d.kill(syscall.SIGTERM); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

const crashConfig = `project: crash
repositories:
  here:
    url: .
templates:
  slow:
    app: bash
    repository: here
    script: slow.sh
  quick:
    app: bash
    repository: here
    script: quick.sh
`

// TestKill9MidJob kills the daemon while a job runs, restarts it on the
// same data, and checks the task is interrupted with its log kept, and a
// task that was waiting runs.
func TestKill9MidJob(t *testing.T) {
	cfg := configDir(t, map[string]string{
		"crash.yaml":    crashConfig,
		"settings.yaml": "settings:\n  max_parallel_tasks: 1\n",
		"slow.sh":       "for i in $(seq 1 5); do echo line $i; done\nsleep 301.4159\n",
		"quick.sh":      "echo quick done\n",
	})
	d := startDaemon(t, cfg, "")
	t.Cleanup(func() { killMatching("301.4159") })

	slow := d.create("crash", "slow", "{}")
	testenv.WaitFor(t, "the slow task's 5 lines", 20*time.Second, func() bool {
		_, log := d.get(fmt.Sprintf("/api/v1/tasks/%d/log", slow))
		return strings.Contains(log, "line 5")
	})
	quick := d.create("crash", "quick", "{}")

	d.kill(syscall.SIGKILL)

	d2 := startDaemon(t, cfg, d.data)
	d2.waitSuccess(quick, 20*time.Second)
	_, b := d2.get(fmt.Sprintf("/api/v1/tasks/%d", slow))
	if !strings.Contains(b, `"status":"interrupted"`) {
		t.Fatalf("slow task after restart: %s", b)
	}
	_, log := d2.get(fmt.Sprintf("/api/v1/tasks/%d/log", slow))
	for i := 1; i <= 5; i++ {
		if !strings.Contains(log, fmt.Sprintf("line %d\n", i)) {
			t.Fatalf("slow task's log lost line %d:\n%s", i, log)
		}
	}
	// The job the dead daemon left running was killed by the new one.
	testenv.WaitFor(t, "the left-over job to be killed", 10*time.Second, func() bool { return !processMatching("301.4159") })
	if _, err := os.Stat(filepath.Join(d.data, "work", "tasks", strconv.FormatUint(slow, 10))); !os.IsNotExist(err) {
		t.Errorf("the interrupted task's directory (with its secret files) is still there: %v", err)
	}
}

// killMatching kills the processes whose command line contains marker, in
// case the test failed before the daemon did.
func killMatching(marker string) {
	for _, pid := range pidsMatching(marker) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// processMatching reports whether a live process's command line holds marker.
func processMatching(marker string) bool {
	for _, pid := range pidsMatching(marker) {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && !bytes.Contains(b, []byte(") Z ")) {
			return true
		}
	}
	return false
}

func pidsMatching(marker string) []int {
	var pids []int
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte(marker)) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil && pid != os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids
}

const secretConfig = `project: sec
repositories:
  here:
    url: .
environments:
  prod:
    vars: {plain: visible}
    secrets:
      env: {DB_PASSWORD: {env: SEMAPHORED_TEST_SECRET}}
      vars: {api_key: {env: SEMAPHORED_TEST_SECRET}}
templates:
  leak:
    app: bash
    repository: here
    script: leak.sh
    environment: prod
    allow_overrides: [vars]
`

// TestSecretsNeverLeak runs a job that prints its secret in every way it
// can, and checks the secret is in no process's command line while the job
// runs, not in the stored log (masked), not in any API answer, and not in
// the bytes of the state file.
func TestSecretsNeverLeak(t *testing.T) {
	const secret = "s3cr3t-value-for-tests" // startDaemon puts it in SEMAPHORED_TEST_SECRET
	cfg := configDir(t, map[string]string{"sec.yaml": secretConfig, "leak.sh": `echo "env: $DB_PASSWORD"
echo "vars: $(cat "$SEMAPHORED_VARS_FILE")"
echo "b64: $(printf %s "$DB_PASSWORD" | base64)"
printf 'split: '; for c in $(printf %s "$DB_PASSWORD" | fold -w1); do printf %s "$c"; sleep 0.01; done; echo
echo waiting; sleep 2; echo done
`})
	d := startDaemon(t, cfg, "")
	id := d.create("sec", "leak", `{"vars":{"extra":"given"}}`)
	logPath := fmt.Sprintf("/api/v1/tasks/%d/log", id)
	testenv.WaitFor(t, "the job to be running", 20*time.Second, func() bool {
		_, log := d.get(logPath)
		return strings.Contains(log, "waiting")
	})
	// While it runs: no command line anywhere holds the secret.
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the secret: %q", p, b)
		}
	}
	d.waitSuccess(id, 20*time.Second)
	_, log := d.get(logPath)
	for _, want := range []string{"env: ***", "b64: ***", "split: ***", `"plain":"visible"`, `"extra":"given"`, "done"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	for _, p := range []string{logPath, fmt.Sprintf("/api/v1/tasks/%d", id), "/api/v1/tasks", "/api/v1/projects/sec/templates"} {
		if _, b := d.get(p); strings.Contains(b, secret) {
			t.Errorf("%s answers the secret:\n%s", p, b)
		}
	}
	if strings.Contains(d.logs.String(), secret) {
		t.Error("the daemon's own log holds the secret")
	}
	// The state file's bytes, after a clean stop (everything flushed).
	if err := d.kill(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(filepath.Join(d.data, "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString([]byte(secret))
	for _, form := range []string{secret, b64} {
		if bytes.Contains(db, []byte(form)) {
			t.Errorf("state.db holds %q", form)
		}
	}
	if !bytes.Contains(db, []byte("SEMAPHORED_TEST_SECRET")) {
		t.Error("state.db lacks the secret's reference: is this the right file?")
	}
}
