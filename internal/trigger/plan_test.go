package trigger

import (
	"slices"
	"strings"
	"testing"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/forge"
)

func loadConfig(t testing.TB) *config.Config {
	t.Helper()
	cfg, err := config.Load("testdata/config", config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

const (
	sha1 = "1111111111111111111111111111111111111111"
	sha2 = "2222222222222222222222222222222222222222"
)

func push(ref string, complete bool, changed ...string) forge.Event {
	p := &forge.Push{Ref: ref, Before: sha1, After: sha2, Commit: sha2, Commits: len(changed), Changed: changed, Complete: complete}
	if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
		p.Branch = b
	}
	if tg, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
		p.Tag = tg
	}
	return forge.Event{Forge: forge.GitHub, Kind: forge.KindPush, Name: "push", Repo: "Acme/Site", Sender: "alice", Push: p}
}

func names(reqs []Request) []string {
	var out []string
	for _, r := range reqs {
		out = append(out, r.Project+"/"+r.Template)
	}
	return out
}

func deferredNames(ds []Deferred) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Request.Project+"/"+d.Request.Template)
	}
	return out
}

func TestFind(t *testing.T) {
	cfg := loadConfig(t)
	c := Find(cfg, forge.GitHub, "ACME/site")
	var got []string
	for _, r := range c.Repos {
		got = append(got, r.Key())
	}
	if want := []string{"ops/site", "web/site"}; !slices.Equal(got, want) || c.Config != nil {
		t.Errorf("got %v config %v, want %v", got, c.Config, want)
	}
	if c := Find(cfg, forge.GitLab, "acme/site"); !c.Empty() {
		t.Errorf("gitlab: got %+v, want nothing", c)
	}
	if c := Find(cfg, forge.GitHub, "acme/semaphored-config"); c.Config == nil || len(c.Repos) != 0 {
		t.Errorf("config repo: got %+v", c)
	}
}

func TestPlanPush(t *testing.T) {
	cfg := loadConfig(t)
	web := Candidates{Repos: []Repo{{Project: "web", Repo: cfg.Projects["web"].Repositories["site"]}}}
	tests := []struct {
		name     string
		ev       forge.Event
		want     []string
		deferred []string
		reasons  []string
	}{
		{"main, paths match", push("refs/heads/main", true, "playbooks/site.yml"), []string{"web/deploy", "web/lint"}, nil, nil},
		{"main, paths do not match", push("refs/heads/main", true, "README.md"), []string{"web/lint"}, nil, []string{"web/deploy: paths did not match"}},
		{"main, too few commits listed", push("refs/heads/main", false, "README.md"), []string{"web/lint"}, []string{"web/deploy"}, nil},
		{"feature glob", push("refs/heads/feature/x", true, "playbooks/a"), []string{"web/lint"}, nil, nil},
		{"unmatched branch", push("refs/heads/wip", true, "playbooks/a"), nil, nil, []string{"no template of Acme/Site triggers on branch wip"}},
		{"tag with tags glob", push("refs/tags/v1.2", true), []string{"web/release"}, nil, nil},
		{"tag without glob", push("refs/tags/nightly", true), nil, nil, []string{"no template of Acme/Site triggers on tag nightly"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := PlanEvent(cfg, web, tt.ev, "d1")
			if got := names(p.Requests); !slices.Equal(got, tt.want) {
				t.Errorf("requests: got %v, want %v", got, tt.want)
			}
			if got := deferredNames(p.Deferred); !slices.Equal(got, tt.deferred) {
				t.Errorf("deferred: got %v, want %v", got, tt.deferred)
			}
			if !slices.Equal(p.Reasons, tt.reasons) {
				t.Errorf("reasons: got %q, want %q", p.Reasons, tt.reasons)
			}
			for _, r := range p.Requests {
				if r.Trigger.Type != TypePush || r.Commit != sha2 || r.Trigger.DeliveryID != "d1" || r.DedupeKey != DedupeKey("github", "d1", "web", r.Template) || r.Trigger.Actor != "alice" {
					t.Errorf("request %+v", r)
				}
			}
		})
	}
	t.Run("deleted branch", func(t *testing.T) {
		ev := push("refs/heads/main", true)
		ev.Push.Deleted, ev.Push.Commit, ev.Push.After = true, "", forge.ZeroSHA
		p := PlanEvent(cfg, web, ev, "d")
		if len(p.Requests)+len(p.Deferred) != 0 || !slices.Equal(p.Reasons, []string{"branch main deleted: nothing runs"}) {
			t.Errorf("got %+v", p)
		}
	})
	t.Run("new branch defers against the repository branch", func(t *testing.T) {
		ev := push("refs/heads/main", false)
		ev.Push.Created, ev.Push.Before = true, forge.ZeroSHA
		p := PlanEvent(cfg, web, ev, "d")
		if len(p.Deferred) != 1 || p.Deferred[0].From != "main" || p.Deferred[0].To != sha2 {
			t.Errorf("got %+v", p.Deferred)
		}
	})
	t.Run("two projects", func(t *testing.T) {
		c := Find(cfg, forge.GitHub, "acme/site")
		p := PlanEvent(cfg, c, push("refs/heads/main", true, "x"), "d")
		if got := names(p.Requests); !slices.Equal(got, []string{"ops/audit", "web/lint"}) {
			t.Errorf("got %v", got)
		}
	})
	t.Run("config repository", func(t *testing.T) {
		c := Find(cfg, forge.GitHub, "acme/semaphored-config")
		ev := push("refs/heads/main", true, "x")
		ev.Repo = "acme/semaphored-config"
		p := PlanEvent(cfg, c, ev, "d")
		if !p.Sync || len(p.Requests) != 0 {
			t.Errorf("got %+v", p)
		}
	})
	t.Run("deferred resolve", func(t *testing.T) {
		p := PlanEvent(cfg, web, push("refs/heads/main", false), "d")
		reqs, reasons := Resolve(p.Deferred, []string{"playbooks/x.yml"})
		if !slices.Equal(names(reqs), []string{"web/deploy"}) || len(reasons) != 0 {
			t.Errorf("got %v %v", names(reqs), reasons)
		}
		reqs, reasons = Resolve(p.Deferred, []string{"docs/x"})
		if len(reqs) != 0 || !slices.Equal(reasons, []string{"web/deploy: paths did not match"}) {
			t.Errorf("got %v %v", names(reqs), reasons)
		}
	})
}

func pr(action forge.PRAction, fork bool) forge.Event {
	p := &forge.PullRequest{Number: 7, Action: action, RawAction: string(action), HeadRef: "tune", HeadSHA: sha2, HeadRepo: "acme/site",
		BaseRef: "main", BaseSHA: sha1, BaseRepo: "acme/site", Fork: fork}
	if fork {
		p.HeadRepo = "mallory/site"
	}
	return forge.Event{Forge: forge.GitHub, Kind: forge.KindPullRequest, Name: "pull_request", Repo: "acme/site", Sender: "bob", PullRequest: p}
}

func TestPlanPullRequest(t *testing.T) {
	cfg := loadConfig(t)
	web := Candidates{Repos: []Repo{{Project: "web", Repo: cfg.Projects["web"].Repositories["site"]}}}
	t.Run("opened", func(t *testing.T) {
		p := PlanEvent(cfg, web, pr(forge.PROpened, false), "d")
		if !slices.Equal(names(p.Requests), []string{"web/plan"}) || !slices.Equal(deferredNames(p.Deferred), []string{"web/check"}) {
			t.Fatalf("got %v deferred %v", names(p.Requests), deferredNames(p.Deferred))
		}
		r := p.Requests[0]
		if !r.DryRun || r.Commit != sha2 || r.Branch != "tune" || r.Trigger.PR != 7 || r.Trigger.Head != "tune" || r.Trigger.Base != "main" || r.Trigger.Type != TypePullRequest || r.Trigger.Fork {
			t.Errorf("request %+v", r)
		}
		if d := p.Deferred[0]; d.From != sha1 || d.To != sha2 || !d.Request.DryRun {
			t.Errorf("deferred %+v", d)
		}
		if len(p.Stops) != 2 || p.Stops[0].KeepCommit != sha2 || p.Stops[0].WaitingOnly {
			t.Errorf("stops %+v", p.Stops)
		}
	})
	t.Run("fork", func(t *testing.T) {
		p := PlanEvent(cfg, web, pr(forge.PRUpdated, true), "d")
		if !slices.Equal(names(p.Requests), []string{"web/plan"}) || len(p.Deferred) != 0 {
			t.Fatalf("got %v deferred %v", names(p.Requests), deferredNames(p.Deferred))
		}
		if r := p.Requests[0]; !r.Trigger.Fork || r.Branch != "" {
			t.Errorf("fork request %+v", r)
		}
		if len(p.Reasons) != 1 || !strings.Contains(p.Reasons[0], "web/check: fork pull request") {
			t.Errorf("reasons %q", p.Reasons)
		}
	})
	t.Run("closed", func(t *testing.T) {
		p := PlanEvent(cfg, web, pr(forge.PRClosed, false), "d")
		if len(p.Requests) != 0 || len(p.Stops) != 2 || !p.Stops[0].WaitingOnly {
			t.Errorf("got %+v", p)
		}
	})
	t.Run("labeled", func(t *testing.T) {
		ev := pr(forge.PROther, false)
		ev.PullRequest.RawAction = "labeled"
		p := PlanEvent(cfg, web, ev, "d")
		if len(p.Requests)+len(p.Stops) != 0 || !slices.Equal(p.Reasons, []string{`pull request action "labeled" runs nothing`}) {
			t.Errorf("got %+v", p)
		}
	})
	t.Run("other base", func(t *testing.T) {
		ev := pr(forge.PROpened, false)
		ev.PullRequest.BaseRef = "release"
		p := PlanEvent(cfg, web, ev, "d")
		if len(p.Requests) != 0 || !slices.Equal(p.Reasons, []string{"no template of acme/site checks pull requests into release"}) {
			t.Errorf("got %+v", p)
		}
	})
}

func TestStopMatches(t *testing.T) {
	s := Stop{Project: "web", Template: "check", Source: "github", PR: 7, KeepCommit: sha2}
	task := func(status TaskStatus, commit string, pr int) Task {
		return Task{Status: status, Request: Request{Project: "web", Template: "check",
			Trigger: Trigger{Type: TypePullRequest, Source: "github", PR: pr}, Overrides: Overrides{Commit: commit}}}
	}
	tests := []struct {
		t    Task
		stop Stop
		want bool
	}{
		{task(StatusRunning, sha1, 7), s, true},
		{task(StatusWaiting, sha1, 7), s, true},
		{task(StatusRunning, sha2, 7), s, false},
		{task(StatusRunning, sha1, 8), s, false},
		{task("success", sha1, 7), s, false},
		{task(StatusRunning, sha1, 7), Stop{Project: "web", Template: "check", Source: "github", PR: 7, WaitingOnly: true}, false},
		{task(StatusWaiting, sha1, 7), Stop{Project: "web", Template: "check", Source: "github", PR: 7, WaitingOnly: true}, true},
	}
	for i, tt := range tests {
		if got := tt.stop.Matches(tt.t); got != tt.want {
			t.Errorf("%d: got %v, want %v", i, got, tt.want)
		}
	}
}
