package report

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/forge"
	"github.com/semaphored/semaphored/internal/state"
)

const sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e"

// loadConfig loads testdata/config.yaml with the forges at forgeURL.
func loadConfig(t testing.TB, forgeURL string) *config.Config {
	t.Helper()
	b, err := os.ReadFile("testdata/config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	y := strings.ReplaceAll(string(b), "FORGE_URL", forgeURL)
	cfg, err := config.LoadFS(fstest.MapFS{"web.yaml": {Data: []byte(y)}}, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestOutboxFunc(t *testing.T) {
	now := time.Date(2026, 12, 1, 5, 0, 0, 0, time.UTC)
	r := NewReporter(func() time.Time { return now })
	if got := r.OutboxFunc(state.Task{}, newTask("web", "deploy", sha, state.StatusWaiting)); got != nil {
		t.Fatalf("no config yet: got %v, want nothing", got)
	}
	r.SetConfig(loadConfig(t, "http://forge.invalid"))
	woken := 0
	r.OnEnqueue(func() { woken++ })

	base := newTask("web", "deploy", sha, "")
	base.ID = 7
	setTrigger(&base, "push")
	with := func(t state.Task, f func(*state.Task)) state.Task { f(&t); return t }
	type want struct {
		state   forge.State
		desc    string
		final   bool
		context string
	}
	cases := []struct {
		name     string
		old, new state.Task
		status   *want
		notify   []string // notification targets
	}{
		{"queued", state.Task{}, with(base, func(t *state.Task) { t.Status = state.StatusWaiting }),
			&want{forge.StatePending, "Queued", false, "semaphored/web/deploy"}, nil},
		{"starting posts nothing", with(base, func(t *state.Task) { t.Status = state.StatusWaiting }), with(base, func(t *state.Task) { t.Status = state.StatusStarting }),
			nil, nil},
		{"commit resolved at start", with(base, func(t *state.Task) { t.Status = state.StatusWaiting; t.Commit = "" }), with(base, func(t *state.Task) { t.Status = state.StatusStarting }),
			&want{forge.StatePending, "Starting", false, "semaphored/web/deploy"}, nil},
		{"running", with(base, func(t *state.Task) { t.Status = state.StatusStarting }), with(base, func(t *state.Task) { t.Status = state.StatusRunning }),
			&want{forge.StateRunning, "Running", false, "semaphored/web/deploy"}, nil},
		{"success: audit webhook on end, chat on recovery", with(base, func(t *state.Task) { t.Status = state.StatusRunning }), with(base, func(t *state.Task) { t.Status = state.StatusSuccess }),
			&want{forge.StateSuccess, "", true, "semaphored/web/deploy"}, []string{"webhook:web/audit#7", "slack:web/chat#7"}},
		{"failure", with(base, func(t *state.Task) { t.Status = state.StatusRunning }), with(base, func(t *state.Task) { t.Status = state.StatusFailure }),
			&want{forge.StateFailure, "", true, "semaphored/web/deploy"}, []string{"webhook:web/audit#7", "slack:web/chat#7"}},
		{"stopped is canceled (error on GitHub)", with(base, func(t *state.Task) { t.Status = state.StatusRunning }), with(base, func(t *state.Task) { t.Status = state.StatusStopped }),
			&want{forge.StateCanceled, "", true, "semaphored/web/deploy"}, []string{"webhook:web/audit#7", "slack:web/chat#7"}},
		{"interrupted is error", with(base, func(t *state.Task) { t.Status = state.StatusRunning }), with(base, func(t *state.Task) { t.Status = state.StatusInterrupted }),
			&want{forge.StateError, "", true, "semaphored/web/deploy"}, []string{"webhook:web/audit#7", "slack:web/chat#7"}},
		{"pull request check", state.Task{}, with(base, func(t *state.Task) { t.Status = state.StatusWaiting; setTrigger(t, "pull_request") }),
			&want{forge.StatePending, "Queued", false, "semaphored/web/deploy/check"}, nil},
		{"no commit", state.Task{}, with(base, func(t *state.Task) { t.Status = state.StatusWaiting; t.Commit = "" }), nil, nil},
		{"no forge: notifications only", with(base, func(t *state.Task) { t.Template = "noforge"; t.Status = state.StatusRunning }),
			with(base, func(t *state.Task) { t.Template = "noforge"; t.Status = state.StatusFailure }), nil, []string{"slack:web/chat#7"}},
		{"gitlab project path", state.Task{}, with(base, func(t *state.Task) { t.Template = "infra"; t.Status = state.StatusWaiting }),
			&want{forge.StatePending, "Queued", false, "semaphored/web/infra"}, nil},
		{"unknown project", state.Task{}, with(base, func(t *state.Task) { t.Project = "nope"; t.Status = state.StatusWaiting }), nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := r.OutboxFunc(tc.old, tc.new)
			var statuses []OutboxEntry
			var notes []string
			for _, e := range got {
				switch e.Kind {
				case KindCommitStatus:
					statuses = append(statuses, e)
				case KindNotification:
					notes = append(notes, e.Target)
				}
				if e.TaskID != tc.new.ID || e.Status != tc.new.Status || !e.Created.Equal(now) {
					t.Errorf("entry %+v: want task %d status %s created now", e, tc.new.ID, tc.new.Status)
				}
			}
			if strings.Join(notes, ",") != strings.Join(tc.notify, ",") {
				t.Errorf("notifications %v, want %v", notes, tc.notify)
			}
			if tc.status == nil {
				if len(statuses) != 0 {
					t.Errorf("got statuses %v, want none", statuses)
				}
				return
			}
			if len(statuses) != 1 {
				t.Fatalf("got %d statuses, want 1", len(statuses))
			}
			var p StatusPayload
			if err := json.Unmarshal(statuses[0].Payload, &p); err != nil {
				t.Fatal(err)
			}
			w := tc.status
			forgeType, repo := config.ForgeGitHub, "acme/site"
			if tc.new.Template == "infra" {
				forgeType, repo = config.ForgeGitLab, "group/sub/infra"
			}
			if p.State != w.state || p.Description != w.desc || p.Final != w.final || p.Context != w.context ||
				p.Repo != repo || p.SHA != sha || p.Forge != forgeType || p.TaskID != 7 {
				t.Errorf("payload %+v, want %+v", p, *w)
			}
			if want := string(forgeType) + ":" + repo + "@" + sha + "#" + w.context; statuses[0].Target != want {
				t.Errorf("target %q, want %q", statuses[0].Target, want)
			}
			if strings.Contains(string(statuses[0].Payload), "s3cr3t") || !strings.Contains(string(statuses[0].Payload), `"env":"TEST_FORGE_TOKEN"`) {
				t.Errorf("payload %s: want the token reference, never a value", statuses[0].Payload)
			}
		})
	}
	if woken == 0 {
		t.Errorf("OnEnqueue was never called")
	}
}

func TestConfigStatusEntry(t *testing.T) {
	f := &config.Forge{Type: "gitea", APIURL: "https://git.example.com", Repo: "ops/config"}
	now := time.Now()
	e, ok := ConfigStatusEntry(f, sha, false, []string{"web.yaml:3:5: unknown template \"x\"", strings.Repeat("y", 200)}, now)
	if !ok {
		t.Fatal("no entry")
	}
	var p StatusPayload
	json.Unmarshal(e.Payload, &p)
	if p.State != forge.StateFailure || p.Context != ConfigContext || !strings.HasPrefix(p.Description, "web.yaml:3:5: unknown template") || len([]rune(p.Description)) > 140 {
		t.Errorf("invalid: got %+v", p)
	}
	if e.Target != "gitea:ops/config@"+sha+"#semaphored/config" {
		t.Errorf("target %q", e.Target)
	}
	e, _ = ConfigStatusEntry(f, sha, true, nil, now)
	json.Unmarshal(e.Payload, &p)
	if p.State != forge.StateSuccess {
		t.Errorf("valid: got %+v", p)
	}
	if _, ok := ConfigStatusEntry(nil, sha, true, nil, now); ok {
		t.Errorf("no forge: got an entry")
	}
	if _, ok := ConfigStatusEntry(f, "dir-c5abe7bcac852551", true, nil, now); ok {
		t.Errorf("a directory revision: got an entry")
	}
}
