package forge

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const sharedFixtures = "../../../../shared/fixtures/webhooks"

// fixture reads a payload: "shared:github/x.json" from the shared real
// payloads, anything else from testdata.
func fixture(t testing.TB, name string) []byte {
	t.Helper()
	p := filepath.Join("testdata", name)
	if rest, ok := strings.CutPrefix(name, "shared:"); ok {
		p = filepath.Join(sharedFixtures, rest)
		if _, err := os.Stat(p); err != nil {
			p = filepath.Join("/work/shared/fixtures/webhooks", rest)
		}
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseGolden(t *testing.T) {
	tests := []struct {
		forge   Type
		event   string
		payload string
		golden  string
	}{
		{GitHub, "push", "shared:github/push_payload.json", "github_push_tag"},
		{GitHub, "push", "shared:github/push_1.payload.json", "github_push_1"},
		{GitHub, "push", "shared:github/push_with-new-branch.payload.json", "github_push_new_branch"},
		{GitHub, "push", "shared:github/push_with-organization.payload.json", "github_push_org"},
		{GitHub, "push", "shared:github/push_with-no-username-committer.payload.json", "github_push_no_username"},
		{GitHub, "pull_request", "shared:github/pull_request_opened.payload.json", "github_pr_opened"},
		{GitHub, "pull_request", "shared:github/pull_request_synchronize.payload.json", "github_pr_synchronize"},
		{GitHub, "pull_request", "shared:github/pull_request_reopened.payload.json", "github_pr_reopened"},
		{GitHub, "pull_request", "shared:github/pull_request_closed.payload.json", "github_pr_closed"},
		{GitHub, "ping", "shared:github/ping_payload.json", "github_ping"},
		{GitHub, "ping", "shared:github/ping_with-app_id.payload.json", "github_ping_app"},
		{GitHub, "create", "shared:github/create_payload.json", "github_create"},
		{GitHub, "delete", "shared:github/delete_payload.json", "github_delete"},
		{GitLab, "Push Hook", "shared:gitlab/push.json", "gitlab_push"},
		{GitLab, "Tag Push Hook", "shared:gitlab/tag_push.json", "gitlab_tag_push"},
		{GitLab, "Merge Request Hook", "shared:gitlab/merge_request.json", "gitlab_mr_open"},
		{GitLab, "Merge Request Hook", "gitlab_merge_request_update.json", "gitlab_mr_update"},
		{GitLab, "Merge Request Hook", "gitlab_merge_request_fork.json", "gitlab_mr_fork"},
		{GitLab, "Merge Request Hook", "gitlab_merge_request_close.json", "gitlab_mr_close"},
		{GitLab, "Merge Request Hook", "gitlab_merge_request_labels.json", "gitlab_mr_labels"},
		{Gitea, "push", "shared:gitea/push_payload.json", "gitea_push_old"},
		{Gitea, "push", "gitea_push_files.json", "gitea_push_files"},
		{Gitea, "pull_request", "gitea_pull_request_opened.json", "gitea_pr_opened"},
		{Gitea, "pull_request", "gitea_pull_request_synchronized.json", "gitea_pr_synchronized"},
		{Gitea, "pull_request", "gitea_pull_request_fork.json", "gitea_pr_fork"},
		{Gitea, "pull_request", "gitea_pull_request_closed.json", "gitea_pr_closed"},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			ev, err := Parse(tt.forge, tt.event, fixture(t, tt.payload))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got, err := json.MarshalIndent(ev, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", "golden", tt.golden+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
			repo, err := ParseRepo(tt.forge, fixture(t, tt.payload))
			if err != nil || !strings.EqualFold(repo, ev.Repo) {
				t.Errorf("ParseRepo = %q, %v; want %q", repo, err, ev.Repo)
			}
		})
	}
}

// TestParseFacts states the facts the golden files hold that the triggers
// rely on, so a careless -update cannot hide a regression.
func TestParseFacts(t *testing.T) {
	parse := func(f Type, ev, name string) Event {
		t.Helper()
		e, err := Parse(f, ev, fixture(t, name))
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	if e := parse(GitHub, "push", "shared:github/push_payload.json"); e.Push.Tag != "simple-tag" || !e.Push.Deleted || e.Push.Branch != "" {
		t.Errorf("github tag deletion: got %+v", e.Push)
	}
	if e := parse(GitHub, "pull_request", "shared:github/pull_request_synchronize.payload.json"); e.PullRequest.Action != PRUpdated || e.PullRequest.Fork || e.PullRequest.Number != 2 || e.PullRequest.HeadSHA != "ec26c3e57ca3a959ca5aad62de7213c562f8c821" {
		t.Errorf("github synchronize: got %+v", e.PullRequest)
	}
	if e := parse(GitLab, "Push Hook", "shared:gitlab/push.json"); e.Push.Complete || e.Push.Commits != 4 || e.Push.Branch != "master" || e.Repo != "mike/diaspora" {
		t.Errorf("gitlab push listing 2 of 4 commits: got %+v", e.Push)
	}
	if e := parse(GitLab, "Merge Request Hook", "gitlab_merge_request_update.json"); e.PullRequest.Action != PRUpdated {
		t.Errorf("gitlab update with oldrev: got %s", e.PullRequest.Action)
	}
	if e := parse(GitLab, "Merge Request Hook", "gitlab_merge_request_labels.json"); e.PullRequest.Action != PROther {
		t.Errorf("gitlab label update: got %s, want other", e.PullRequest.Action)
	}
	if e := parse(GitLab, "Merge Request Hook", "gitlab_merge_request_fork.json"); !e.PullRequest.Fork {
		t.Error("gitlab fork merge request: Fork false")
	}
	if e := parse(Gitea, "push", "shared:gitea/push_payload.json"); e.Push.Complete {
		t.Error("old gitea push without file lists: Complete true")
	}
	if e := parse(Gitea, "push", "gitea_push_files.json"); !e.Push.Complete || len(e.Push.Changed) != 2 {
		t.Errorf("gitea push with file lists: got %+v", e.Push)
	}
	if e := parse(Gitea, "pull_request", "gitea_pull_request_fork.json"); !e.PullRequest.Fork || e.PullRequest.HeadRepo != "mallory/infra" {
		t.Errorf("gitea fork: got %+v", e.PullRequest)
	}
}

func TestParseGitHubTwentyCommits(t *testing.T) {
	var p map[string]any
	if err := json.Unmarshal(fixture(t, "shared:github/push_with-new-branch.payload.json"), &p); err != nil {
		t.Fatal(err)
	}
	c := p["commits"].([]any)[0]
	for _, n := range []int{19, 20} {
		cs := make([]any, n)
		for i := range cs {
			cs[i] = c
		}
		p["commits"] = cs
		b, _ := json.Marshal(p)
		e, err := Parse(GitHub, "push", b)
		if err != nil {
			t.Fatal(err)
		}
		if want := n < 20; e.Push.Complete != want {
			t.Errorf("%d commits: Complete = %v, want %v", n, e.Push.Complete, want)
		}
	}
}

func TestParseMalformed(t *testing.T) {
	tests := []struct {
		forge Type
		event string
		body  string
		want  string
	}{
		{GitHub, "push", `{`, "invalid JSON"},
		{GitHub, "push", `[]`, "invalid JSON"},
		{GitHub, "push", `{"ref":"refs/heads/main","before":"a","after":"b"}`, "missing field repository.full_name"},
		{GitHub, "push", `{"repository":{"full_name":"a/b"},"before":"a","after":"b"}`, "missing field ref"},
		{GitHub, "push", `{"repository":{"full_name":"a/b"},"ref":7}`, "invalid JSON: field ref"},
		{GitHub, "pull_request", `{"action":"opened","repository":{"full_name":"a/b"}}`, "missing field pull_request"},
		{GitHub, "pull_request", `{"action":"opened","repository":{"full_name":"a/b"},"pull_request":{"number":1,"head":{"ref":"x"},"base":{"ref":"main"}}}`, "missing field pull_request.head.sha"},
		{GitLab, "Push Hook", `{"object_kind":"push","ref":"refs/heads/main","before":"a","after":"b"}`, "missing field project.path_with_namespace"},
		{GitLab, "Merge Request Hook", `{"object_kind":"merge_request","project":{"path_with_namespace":"a/b"}}`, "missing field object_attributes"},
		{Gitea, "pull_request", `{"action":"opened","repository":{"full_name":"a/b"},"pull_request":{"number":1}}`, "missing field pull_request.head"},
	}
	for _, tt := range tests {
		t.Run(string(tt.forge)+"/"+tt.want, func(t *testing.T) {
			_, err := Parse(tt.forge, tt.event, []byte(tt.body))
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want ErrMalformed containing %q", err, tt.want)
			}
		})
	}
}

func FuzzParseGitHub(f *testing.F) { fuzzParse(f, GitHub, "push", "pull_request", "ping") }
func FuzzParseGitLab(f *testing.F) {
	fuzzParse(f, GitLab, "Push Hook", "Merge Request Hook", "Tag Push Hook")
}
func FuzzParseGitea(f *testing.F) { fuzzParse(f, Gitea, "push", "pull_request", "create") }

func fuzzParse(f *testing.F, t Type, events ...string) {
	seeds, _ := filepath.Glob(filepath.Join("/work/shared/fixtures/webhooks", string(t), "*.json"))
	local, _ := filepath.Glob(filepath.Join("testdata", string(t)+"_*.json"))
	for i, p := range append(seeds, local...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(events[i%len(events)], b)
		}
	}
	f.Add(events[0], []byte(`{"ref":"refs/heads/main","before":"0","after":"1","repository":{"full_name":"a/b"},"project":{"path_with_namespace":"a/b"},"commits":[{"added":null}]}`))
	f.Fuzz(func(tt *testing.T, event string, body []byte) {
		ev, err := Parse(t, event, body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				tt.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if ev.Kind == KindPush && ev.Push == nil || ev.Kind == KindPullRequest && ev.PullRequest == nil {
			tt.Fatalf("kind %s without its part", ev.Kind)
		}
		if ev.Push != nil && ev.Push.Branch != "" && ev.Push.Tag != "" {
			tt.Fatal("both branch and tag")
		}
	})
}
