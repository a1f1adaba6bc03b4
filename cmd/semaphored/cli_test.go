package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
)

// TestCLIMessages holds what the CLI says and the exit code it returns for
// usage errors (2), failures (1) and help (0), in one golden file: every
// message is written once, with one "semaphored CMD:" prefix, and names no
// HTTP status or internal error chain where a sentence does.
func TestCLIMessages(t *testing.T) {
	s := newAPIServer(t)
	t.Setenv("SEMAPHORED_CONFIG", "")
	os.Unsetenv("SEMAPHORED_CONFIG")
	ended := s.store.Add(state.Task{Request: task.Request{Project: "web", Template: "deploy"}})
	s.store.Finish(ended.ID, state.StatusSuccess, 0)
	running := s.store.Add(state.Task{Request: task.Request{Project: "web", Template: "deploy"}, Status: state.StatusRunning})
	awaiting := s.store.Add(state.Task{Request: task.Request{Project: "web", Template: "deploy"}, Status: state.StatusWaitingConfirmation})

	// An address nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("project: x\ntemplates:\n  t: {app: bsh}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	id := func(t state.Task) string { return fmt.Sprint(t.ID) }
	server := []string{"--server", s.url, "--token", cliToken}
	cases := [][]string{
		{},
		{"frobnicate"},
		{"version", "extra"},
		{"run"},
		{"run", "web"},
		{"run", "web/deploy", "extra"},
		{"run", "web/deploy", "--bogus"},
		{"run", "web/deploy", "--var", "novalue"},
		append([]string{"run", "web/nope"}, server...),
		append([]string{"tasks", "--status", "bogus"}, server...),
		append([]string{"tasks", "--limit", "0"}, server...),
		append([]string{"tasks", "extra"}, server...),
		{"tasks", "--server", s.url, "--token", "wrong-token-0123456789abcdef0123456789"},
		{"tasks", "--server", down, "--token", cliToken},
		{"tasks", "--server", s.url, "--data", "/nonexistent"},
		{"logs"},
		{"logs", "x"},
		{"logs", "1", "2"},
		append([]string{"logs", "99"}, server...),
		append([]string{"stop", id(ended)}, server...),
		append([]string{"confirm", id(running)}, server...),
		append([]string{"reject", id(ended)}, server...),
		append([]string{"confirm", id(awaiting)}, server...),
		{"validate"},
		{"validate", "../../examples/quickstart/settings.yaml"},
		{"validate", bad},
		{"validate", "a", "b"},
		{"validate", "/nonexistent"},
		{"plan", "a", "b"},
		{"backup", "--bogus"},
		{"restore"},
		{"import", "nosuchtool"},
		{"restore", "/nonexistent/backup.db", "--data", "/nonexistent/data"},
	}
	var b strings.Builder
	for _, args := range cases {
		out, errOut, code := runCLI(t, args...)
		fmt.Fprintf(&b, "$ semaphored %s\n[exit %d]\n%s%s\n", strings.Join(args, " "), code, out, errOut)
	}
	got := b.String()
	got = strings.ReplaceAll(got, s.url, "SERVER")
	got = strings.ReplaceAll(got, down, "DOWN")
	got = strings.ReplaceAll(got, bad, "BAD.yaml")
	golden(t, "cli-messages.golden", got)
}

// TestCLIHelp checks that -h and --help print the usage and exit 0 for the
// top level and every command.
func TestCLIHelp(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
		out, _, code := runCLI(t, args...)
		if code != 0 || !strings.Contains(out, "Usage:") {
			t.Errorf("%v: exit %d, stdout %q; want 0 and the usage", args, code, out)
		}
	}
	for _, cmd := range []string{"serve", "validate", "plan", "run", "tasks", "logs", "stop", "confirm", "reject", "version", "import", "backup", "restore", "healthcheck"} {
		for _, h := range []string{"-h", "--help"} {
			out, errOut, code := runCLI(t, cmd, h)
			if code != 0 || !strings.Contains(out+errOut, "semaphored "+cmd) {
				t.Errorf("%s %s: exit %d, output %q; want 0 and its usage", cmd, h, code, out+errOut)
			}
		}
	}
}

func TestHumanDuration(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{3 * time.Millisecond, "3ms"},
		{349_600 * time.Microsecond, "350ms"},
		{999 * time.Millisecond, "999ms"},
		{1234 * time.Millisecond, "1.2s"},
		{59_940 * time.Millisecond, "59.9s"},
		{4*time.Minute + 2400*time.Millisecond, "4m2s"},
		{2*time.Hour + 3*time.Second, "2h0m3s"},
	} {
		if got := humanDuration(tt.d); got != tt.want {
			t.Errorf("humanDuration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}
