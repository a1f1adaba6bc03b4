package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/api"
	"github.com/semaphored/semaphored/internal/api/apitest"
	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
	"github.com/semaphored/semaphored/internal/testenv"
)

const cliToken = "cli-test-token-0123456789abcdef0123456789"

// apiServer is the real API handler over fake engine and store, behind a
// real HTTP server.
type apiServer struct {
	store  *apitest.Store
	engine *apitest.Engine
	url    string
}

// runCLI runs the real dispatcher and returns the output, with the error
// exitCode reports on stderr, and the exit code.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb strings.Builder
	err := run(t.Context(), args, &out, &errb)
	code = exitCode(err, &errb)
	return out.String(), errb.String(), code
}

func newAPIServer(t *testing.T) *apiServer {
	t.Helper()
	// The commands read their defaults from the environment: keep the
	// developer's out of the tests.
	for _, k := range []string{"SEMAPHORED_SERVER", "SEMAPHORED_TOKEN", "SEMAPHORED_DATA"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	cfg := &config.Config{Projects: map[string]*config.Project{
		"web": {Name: "web", Templates: map[string]*config.Template{
			"deploy": {Name: "deploy", App: config.AppBash, Repository: "site"},
		}},
	}}
	s := &apiServer{store: apitest.NewStore()}
	s.engine = &apitest.Engine{Store: s.store}
	h, err := api.New(api.Options{Engine: s.engine, Store: s.store, Config: apitest.NewConfig(cfg), AdminToken: cliToken, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(s.engine.Wait)
	s.url = srv.URL
	return s
}

// cli runs a command through the real dispatcher with --server and
// --token, and returns its output and exit code.
func (s *apiServer) cli(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runCLI(t, append(args, "--server", s.url, "--token", cliToken)...)
}

// play makes submitted tasks print lines and end with status and code.
func (s *apiServer) play(status state.TaskStatus, exitCode int, lines ...string) {
	s.engine.Run = func(st *apitest.Store, t state.Task) {
		_, _ = st.Update(t.ID, func(t *state.Task) error { t.Status = state.StatusRunning; return nil })
		st.AppendLog(t.ID, lines...)
		st.Finish(t.ID, status, exitCode)
	}
}

func TestCmdRun(t *testing.T) {
	s := newAPIServer(t)
	out, errOut, code := s.cli(t, "run", "web/deploy",
		"--var", "a=1", "--var", "b=hello", "--var", `c={"x":[1,2]}`, "--var", "e=1 2", "--var", `f="quoted"`,
		"--vars-json", `{"d":true,"a":0}`, "--tags", "x, y", "--commit", "abc", "--branch", "main", "--dry-run", "--arg", "-v")
	if code != 0 {
		t.Fatalf("exit code: got %d, want 0 (stderr %q)", code, errOut)
	}
	reqs := s.engine.Submitted()
	if len(reqs) != 1 {
		t.Fatalf("submitted: got %d, want 1", len(reqs))
	}
	if got, want := strings.TrimSpace(out), "1"; got != want {
		t.Errorf("stdout: got %q, want the task ID %q", got, want)
	}
	r := reqs[0]
	vars, _ := json.Marshal(r.Vars)
	if got, want := string(vars), `{"a":1,"b":"hello","c":{"x":[1,2]},"d":true,"e":"1 2","f":"quoted"}`; got != want {
		t.Errorf("vars: got %s, want %s", got, want)
	}
	if r.Trigger.Type != "cli" || r.Commit != "abc" || r.Branch != "main" || !r.DryRun || fmt.Sprint(r.Tags, r.Arguments) != "[x y] [-v]" {
		t.Errorf("request: got %+v", r)
	}

	bad := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no template", []string{"run"}, "PROJECT/TEMPLATE"},
		{"no slash", []string{"run", "web"}, "PROJECT/TEMPLATE"},
		{"bad var", []string{"run", "web/deploy", "--var", "novalue"}, "NAME=VALUE"},
		{"bad vars-json", []string{"run", "web/deploy", "--vars-json", "[1]"}, "JSON object"},
		{"unknown template", []string{"run", "web/nope"}, `no such template "nope"`},
		{"unknown flag", []string{"run", "web/deploy", "--bogus"}, "bogus"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := s.cli(t, tt.args...)
			if code == 0 || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("got exit %d, stderr %q; want non-zero and %q", code, errOut, tt.wantErr)
			}
		})
	}
}

func TestCmdRunWait(t *testing.T) {
	tests := []struct {
		name     string
		status   state.TaskStatus
		exitCode int
		wantCode int
		wantErr  string
	}{
		{"success", state.StatusSuccess, 0, 0, "task 1 success"},
		{"failure", state.StatusFailure, 2, 1, "task 1 failure (exit code 2)"},
		{"stopped", state.StatusStopped, -1, 1, "task 1 stopped"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newAPIServer(t)
			s.play(tt.status, tt.exitCode, "PLAY [all]", "ok: [localhost]", "done")
			out, errOut, code := s.cli(t, "run", "web/deploy", "--wait")
			if code != tt.wantCode {
				t.Errorf("exit code: got %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			if out != "PLAY [all]\nok: [localhost]\ndone\n" {
				t.Errorf("stdout: got %q, want the whole log", out)
			}
			if !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("stderr: got %q, want %q", errOut, tt.wantErr)
			}
		})
	}
}

func TestCmdTasks(t *testing.T) {
	s := newAPIServer(t)
	for i := range 1500 {
		st := state.StatusSuccess
		if i == 1499 {
			st = state.StatusRunning
		}
		s.store.Add(state.Task{Request: task.Request{Project: "web", Template: "deploy", Trigger: task.Trigger{Type: "push"}, Overrides: task.Overrides{Commit: "0123456789abcdef0123"}}, Status: st})
	}
	out, errOut, code := s.cli(t, "tasks", "--limit", "3")
	if code != 0 {
		t.Fatalf("exit code %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") || !strings.HasPrefix(lines[1], "1500 ") ||
		!strings.Contains(lines[1], "running") || !strings.Contains(lines[1], "0123456789ab ") || strings.Contains(lines[1], "0123456789abc") {
		t.Errorf("table: got\n%s\nwant a header, then tasks 1500 (running, short commit), 1499, 1498", out)
	}

	out, _, code = s.cli(t, "tasks", "--limit", "1200", "--json", "--status", "success")
	var tasks []api.Task
	if err := json.Unmarshal([]byte(out), &tasks); err != nil || code != 0 {
		t.Fatalf("--json: %v (exit %d)", err, code)
	}
	if len(tasks) != 1200 || tasks[0].ID != 1499 || tasks[1199].ID != 300 {
		t.Errorf("--json over two pages: got %d tasks, want 1200 from 1499 down to 300", len(tasks))
	}
	if _, errOut, code := s.cli(t, "tasks", "--status", "bogus"); code == 0 || !strings.Contains(errOut, "bogus") {
		t.Errorf("bad status: got exit %d, stderr %q", code, errOut)
	}
}

func TestCmdLogs(t *testing.T) {
	s := newAPIServer(t)
	task := s.store.Add(state.Task{Request: task.Request{Project: "web", Template: "deploy"}, Status: state.StatusRunning})
	s.store.AppendLog(task.ID, "a", "b")
	out, _, code := s.cli(t, "logs", "1")
	if code != 0 || out != "a\nb\n" {
		t.Errorf("logs: got %q (exit %d), want a, b", out, code)
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		out, _, code = s.cli(t, "logs", "1", "-f")
	}()
	s.store.AppendLog(task.ID, "c")
	s.store.Finish(task.ID, state.StatusSuccess, 0)
	<-done
	if code != 0 || out != "a\nb\nc\n" {
		t.Errorf("logs -f: got %q (exit %d), want a, b, c", out, code)
	}
	for _, args := range [][]string{{"logs"}, {"logs", "x"}, {"logs", "99"}} {
		if _, _, code := s.cli(t, args...); code == 0 {
			t.Errorf("%v: got exit 0, want non-zero", args)
		}
	}
}

func TestCmdTaskActions(t *testing.T) {
	s := newAPIServer(t)
	waiting := s.store.Add(state.Task{Request: task.Request{Project: "web", Template: "deploy"}})
	confirm := s.store.Add(state.Task{Request: task.Request{Project: "web", Template: "deploy"}, Status: state.StatusWaitingConfirmation})
	reject := s.store.Add(state.Task{Request: task.Request{Project: "web", Template: "deploy"}, Status: state.StatusWaitingConfirmation})
	tests := []struct {
		args     []string
		wantCode int
		want     string
	}{
		{[]string{"stop", fmt.Sprint(waiting.ID)}, 0, fmt.Sprintf("task %d stopped", waiting.ID)},
		{[]string{"stop", fmt.Sprint(waiting.ID)}, 1, fmt.Sprintf("task %d has already ended (stopped)", waiting.ID)},
		{[]string{"confirm", fmt.Sprint(confirm.ID)}, 0, fmt.Sprintf("task %d running", confirm.ID)},
		{[]string{"reject", fmt.Sprint(reject.ID)}, 0, fmt.Sprintf("task %d stopped", reject.ID)},
		{[]string{"reject", fmt.Sprint(reject.ID)}, 1, fmt.Sprintf("task %d has already ended (stopped)", reject.ID)},
		{[]string{"confirm", fmt.Sprint(confirm.ID)}, 1, fmt.Sprintf("task %d is not waiting for confirmation (it is running)", confirm.ID)},
		{[]string{"stop", "424242"}, 1, "no such task 424242"},
		{[]string{"stop"}, 2, "want a task ID"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, code := s.cli(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(out+errOut, tt.want) {
				t.Errorf("got exit %d, stdout %q, stderr %q; want exit %d and %q", code, out, errOut, tt.wantCode, tt.want)
			}
		})
	}
}

// TestCmdTokenFromData checks the token sources: SEMAPHORED_TOKEN, then
// DATA/admin.token, else a clear error.
func TestCmdTokenFromData(t *testing.T) {
	s := newAPIServer(t)
	s.store.Add(state.Task{Request: task.Request{Project: "web", Template: "deploy"}})
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, api.AdminTokenFile), []byte(cliToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runCLI(t, "tasks", "--server", s.url, "--data", data); code != 0 {
		t.Errorf("token from --data: exit %d, stderr %q", code, errOut)
	}
	t.Setenv("SEMAPHORED_DATA", data)
	t.Setenv("SEMAPHORED_SERVER", s.url)
	if _, errOut, code := runCLI(t, "tasks"); code != 0 {
		t.Errorf("token from $SEMAPHORED_DATA: exit %d, stderr %q", code, errOut)
	}
	t.Setenv("SEMAPHORED_TOKEN", "wrong-token")
	if _, errOut, code := runCLI(t, "tasks"); code == 0 || !strings.Contains(errOut, "401") {
		t.Errorf("$SEMAPHORED_TOKEN wins over the file: got exit %d, stderr %q, want 401", code, errOut)
	}
	t.Setenv("SEMAPHORED_TOKEN", "")
	if _, errOut, code := runCLI(t, "tasks", "--data", t.TempDir()); code == 0 || !strings.Contains(errOut, "--token") {
		t.Errorf("no token anywhere: got exit %d, stderr %q, want a hint about --token", code, errOut)
	}
}

// TestCmdRunWaitConfirmation follows a task that reaches
// waiting_confirmation: run --wait says how to decide it, keeps following,
// and ends with the task once it is confirmed.
func TestCmdRunWaitConfirmation(t *testing.T) {
	s := newAPIServer(t)
	s.engine.Run = func(st *apitest.Store, tk state.Task) {
		_, _ = st.Update(tk.ID, func(t *state.Task) error { t.Status = state.StatusRunning; return nil })
		st.AppendLog(tk.ID, "Plan: 1 to add, 0 to change, 0 to destroy.")
		_, _ = st.Update(tk.ID, func(t *state.Task) error { t.Status = state.StatusWaitingConfirmation; return nil })
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if cur, err := st.Task(context.Background(), tk.ID); err == nil && cur.Status != state.StatusWaitingConfirmation {
				break
			}
		}
		st.AppendLog(tk.ID, "Apply complete! Resources: 1 added, 0 changed, 0 destroyed.")
		st.Finish(tk.ID, state.StatusSuccess, 0)
	}
	var out, errOut testenv.LockedBuffer
	code := make(chan int, 1)
	go func() {
		err := run(t.Context(), []string{"run", "web/deploy", "--wait", "--server", s.url, "--token", cliToken}, &out, &errOut)
		code <- exitCode(err, &errOut)
	}()
	testenv.WaitFor(t, "the confirmation hint", 10*time.Second, func() bool { return strings.Contains(errOut.String(), "semaphored confirm 1") })
	if _, e, c := s.cli(t, "confirm", "1"); c != 0 {
		t.Fatalf("confirm: exit %d, %s", c, e)
	}
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("run --wait: exit %d, stderr %q", c, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run --wait did not end after the confirmation")
	}
	if want := "Plan: 1 to add, 0 to change, 0 to destroy.\nApply complete! Resources: 1 added, 0 changed, 0 destroyed.\n"; out.String() != want {
		t.Errorf("stdout: got %q, want the whole log %q", out.String(), want)
	}
	golden(t, "run-wait-confirmation.golden", errOut.String())
}

// TestCmdRunWaitPrepareError checks an error the log already ends with is
// printed once, not again in the final status line.
func TestCmdRunWaitPrepareError(t *testing.T) {
	s := newAPIServer(t)
	s.engine.Run = func(st *apitest.Store, tk state.Task) {
		st.AppendLog(tk.ID, "[semaphored] prepare failed: repository site: clone: authentication required")
		_, _ = st.Update(tk.ID, func(t *state.Task) error {
			t.Status, t.ExitCode, t.Ended = state.StatusError, -1, time.Now()
			t.Message = "prepare: repository site: clone: authentication required"
			return nil
		})
	}
	out, errOut, code := s.cli(t, "run", "web/deploy", "--wait")
	if code != 1 || strings.Count(out+errOut, "authentication required") != 1 || !strings.Contains(errOut, "task 1 error\n") {
		t.Errorf("got exit %d, stdout %q, stderr %q; want exit 1 and the error once", code, out, errOut)
	}
}
