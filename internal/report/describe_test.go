package report

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/state"
)

func readLines(t *testing.T, name string) []string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimRight(string(b), "\n"), "\n")
}

func TestSummarize(t *testing.T) {
	cases := []struct{ file, want string }{
		{"ansible-real.log", "ansible: 6 ok, 3 changed, 1 failed, 0 unreachable on 3 hosts"},
		{"ansible-recap.log", "ansible: 12 ok, 2 changed, 1 failed, 1 unreachable on 3 hosts"},
		{"tofu-plan.log", "plan: 2 to add, 0 to change, 0 to destroy"},
		{"tofu-apply.log", "apply: 2 added, 0 changed, 0 destroyed"},
		{"tofu-nochanges.log", "plan: no changes"},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			if got := Summarize(readLines(t, tc.file)); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if got := Summarize([]string{"hello", "world"}); got != "" {
		t.Errorf("plain output: got %q, want empty", got)
	}
}

func TestDescribe(t *testing.T) {
	start := time.Date(2026, 12, 1, 5, 0, 0, 0, time.UTC)
	task := func(st state.TaskStatus, code int, d time.Duration, msg string) state.Task {
		return state.Task{ID: 1, Status: st, ExitCode: code, Message: msg, Started: start, Ended: start.Add(d)}
	}
	cases := []struct {
		name string
		t    state.Task
		tail []string
		want string
	}{
		{"ansible", task(state.StatusFailure, 2, 63*time.Second, ""), readLines(t, "ansible-real.log"),
			"ansible: 6 ok, 3 changed, 1 failed, 0 unreachable on 3 hosts; in 1m3s"},
		{"tofu", task(state.StatusSuccess, 0, 4200*time.Millisecond, ""), readLines(t, "tofu-plan.log"),
			"plan: 2 to add, 0 to change, 0 to destroy; in 4s"},
		{"bash", task(state.StatusFailure, 3, 850*time.Millisecond, ""), []string{"oops"}, "exit code 3; in 850ms"},
		{"stopped", task(state.StatusStopped, -1, 2*time.Hour+3*time.Minute, "stopped by api:alice"), nil,
			"stopped by api:alice; in 2h3m"},
		{"interrupted", state.Task{Status: state.StatusInterrupted, Message: "the daemon restarted while it ran", ExitCode: -1}, nil,
			"the daemon restarted while it ran"},
		{"timeout", task(state.StatusError, -1, time.Hour, "timed out"), readLines(t, "ansible-recap.log"),
			"timed out; ansible: 12 ok, 2 changed, 1 failed, 1 unreachable on 3 hosts; in 1h"},
		{"long reason", task(state.StatusError, 1, time.Second, strings.Repeat("x", 300)), nil, strings.Repeat("x", 139) + "…"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Describe(tc.t, tc.tail)
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if n := len([]rune(got)); n > 140 {
				t.Errorf("%d characters, want at most 140", n)
			}
		})
	}
}
