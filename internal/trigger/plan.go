package trigger

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/forge"
)

// Plan is what an event does. Requests are created with the delivery, in
// one transaction; Deferred wait for a diff (the delivery stays pending);
// Stops name obsolete pull request tasks; Sync asks for a config sync.
type Plan struct {
	Requests []Request  `json:"requests,omitempty"`
	Deferred []Deferred `json:"deferred,omitempty"`
	Stops    []Stop     `json:"stops,omitempty"`
	Sync     bool       `json:"sync,omitempty"`
	// Reasons say why templates or the event ran nothing.
	Reasons []string `json:"reasons,omitempty"`
}

// Deferred is a template whose trigger matched except for its paths, which
// need a diff From...To in the clone of Repo ("PROJECT/REPOSITORY").
type Deferred struct {
	Request Request  `json:"request"`
	Repo    string   `json:"repo"`
	From    string   `json:"from"`
	To      string   `json:"to"`
	Paths   []string `json:"paths"`
}

// Stop names the tasks of one pull request and template that an event
// makes obsolete: all but those at KeepCommit, only waiting ones when
// WaitingOnly.
type Stop struct {
	Project     string `json:"project"`
	Template    string `json:"template"`
	Source      string `json:"source"`
	PR          int    `json:"pr"`
	KeepCommit  string `json:"keep_commit,omitempty"`
	WaitingOnly bool   `json:"waiting_only,omitempty"`
}

// Matches reports whether t is one of the tasks s stops.
func (s Stop) Matches(t Task) bool {
	if t.Project != s.Project || t.Template != s.Template || t.Trigger.Type != TypePullRequest ||
		t.Trigger.Source != s.Source || t.Trigger.PR != s.PR {
		return false
	}
	if s.KeepCommit != "" && t.Commit == s.KeepCommit {
		return false
	}
	switch t.Status {
	case StatusWaiting:
		return true
	case StatusStarting, StatusRunning:
		return !s.WaitingOnly
	}
	return false
}

// DedupeKey is the key of the one task a delivery may create for a
// template: redeliveries and resumed work never create a second.
func DedupeKey(source, deliveryID, project, template string) string {
	return source + ":" + deliveryID + ":" + project + "/" + template
}

// PlanEvent decides what a verified forge event does. repos are the
// declared repositories it concerns whose secret verified it; config says
// the config repository's secret verified it too.
func PlanEvent(cfg *config.Config, c Candidates, ev forge.Event, deliveryID string) Plan {
	var p Plan
	switch ev.Kind {
	case forge.KindPing:
		p.Reasons = append(p.Reasons, "ping: webhook is set up")
		return p
	case forge.KindPush:
		if c.Config != nil && ev.Push.Branch != "" && !ev.Push.Deleted {
			p.Sync = true
		}
		for _, r := range c.Repos {
			planPush(&p, cfg, r, ev, deliveryID)
		}
	case forge.KindPullRequest:
		for _, r := range c.Repos {
			planPR(&p, cfg, r, ev, deliveryID)
		}
	default:
		p.Reasons = append(p.Reasons, fmt.Sprintf("%s events are not handled", ev.Name))
		return p
	}
	if len(c.Repos) == 0 && p.Sync {
		p.Reasons = append(p.Reasons, "config repository pushed: sync started")
	}
	p.Reasons = compact(p.Reasons)
	return p
}

func compact(rs []string) []string {
	seen := map[string]bool{}
	out := rs[:0]
	for _, r := range rs {
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	return out
}

// templatesOf returns the templates of a project that run from repository
// r, by name.
func templatesOf(cfg *config.Config, r Repo) []*config.Template {
	p := cfg.Projects[r.Project]
	if p == nil {
		return nil
	}
	var out []*config.Template
	for _, t := range p.Templates {
		if t.Repository == r.Repo.Name {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func matchAny(globs []string, name string) bool {
	for _, g := range globs {
		if config.MatchGlob(g, name) {
			return true
		}
	}
	return false
}

// PathsMatch reports whether any changed path matches any glob; no globs
// match everything.
func PathsMatch(globs, changed []string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, c := range changed {
		if matchAny(globs, c) {
			return true
		}
	}
	return false
}

func planPush(p *Plan, cfg *config.Config, r Repo, ev forge.Event, deliveryID string) {
	push := ev.Push
	full := ev.Repo
	switch {
	case push.Deleted:
		if push.Tag != "" {
			p.Reasons = append(p.Reasons, fmt.Sprintf("tag %s deleted: nothing runs", push.Tag))
		} else {
			p.Reasons = append(p.Reasons, fmt.Sprintf("branch %s deleted: nothing runs", push.Branch))
		}
		return
	case push.Branch == "" && push.Tag == "":
		p.Reasons = append(p.Reasons, fmt.Sprintf("ref %s is neither a branch nor a tag", push.Ref))
		return
	}
	var withTrigger, matched int
	for _, t := range templatesOf(cfg, r) {
		pt := t.Triggers.Push
		if pt == nil {
			continue
		}
		withTrigger++
		name := r.Project + "/" + t.Name
		if push.Tag != "" {
			if len(pt.Tags) == 0 || !matchAny(pt.Tags, push.Tag) {
				continue
			}
		} else {
			branches := pt.Branches
			if len(branches) == 0 {
				if len(pt.Tags) > 0 {
					// A trigger that names only tags runs on tags only.
					continue
				}
				branches = []string{r.Repo.Branch}
			}
			if !matchAny(branches, push.Branch) {
				continue
			}
		}
		matched++
		req := Request{
			Project:   r.Project,
			Template:  t.Name,
			DedupeKey: DedupeKey(string(ev.Forge), deliveryID, r.Project, t.Name),
			Trigger: Trigger{
				Type: TypePush, Actor: ev.Sender, Source: string(ev.Forge), DeliveryID: deliveryID,
			},
			Overrides: Overrides{Commit: push.Commit, Branch: push.Branch},
		}
		switch {
		case push.Tag != "" || len(pt.Paths) == 0:
			// Tags run on their globs alone: a tag has no meaningful diff.
			p.Requests = append(p.Requests, req)
		case push.Complete:
			if PathsMatch(pt.Paths, push.Changed) {
				p.Requests = append(p.Requests, req)
			} else {
				p.Reasons = append(p.Reasons, name+": paths did not match")
			}
		default:
			from := push.Before
			if push.Created {
				// A new branch: what it adds over the repository's branch.
				from = r.Repo.Branch
			}
			p.Deferred = append(p.Deferred, Deferred{Request: req, Repo: r.Key(), From: from, To: push.Commit, Paths: pt.Paths})
		}
	}
	if matched > 0 {
		return
	}
	what := "branch " + push.Branch
	if push.Tag != "" {
		what = "tag " + push.Tag
	}
	if withTrigger == 0 {
		p.Reasons = append(p.Reasons, fmt.Sprintf("no template of %s has a push trigger", full))
	} else {
		p.Reasons = append(p.Reasons, fmt.Sprintf("no template of %s triggers on %s", full, what))
	}
}

func planPR(p *Plan, cfg *config.Config, r Repo, ev forge.Event, deliveryID string) {
	pr := ev.PullRequest
	full := ev.Repo
	source := string(ev.Forge)
	templates := templatesOf(cfg, r)
	if pr.Action == forge.PRClosed {
		for _, t := range templates {
			if t.Triggers.PullRequest != nil {
				p.Stops = append(p.Stops, Stop{Project: r.Project, Template: t.Name, Source: source, PR: pr.Number, WaitingOnly: true})
			}
		}
		p.Reasons = append(p.Reasons, fmt.Sprintf("pull request #%d closed: its waiting checks are stopped", pr.Number))
		return
	}
	if !pr.Action.Runs() {
		p.Reasons = append(p.Reasons, fmt.Sprintf("pull request action %q runs nothing", pr.RawAction))
		return
	}
	if pr.Draft {
		p.Reasons = append(p.Reasons, fmt.Sprintf("pull request #%d is a draft: checks run when it is ready for review", pr.Number))
		return
	}
	var withTrigger, matched int
	for _, t := range templates {
		pt := t.Triggers.PullRequest
		if pt == nil {
			continue
		}
		withTrigger++
		branches := pt.Branches
		if len(branches) == 0 {
			branches = []string{r.Repo.Branch}
		}
		if !matchAny(branches, pr.BaseRef) {
			continue
		}
		matched++
		name := r.Project + "/" + t.Name
		if pr.Fork && !pt.Forks {
			p.Reasons = append(p.Reasons, name+": fork pull request (set triggers.pull_request.forks: true to check forks, without secrets)")
			continue
		}
		// A new head makes the checks of older heads obsolete, whether or
		// not the new one touches the paths.
		p.Stops = append(p.Stops, Stop{Project: r.Project, Template: t.Name, Source: source, PR: pr.Number, KeepCommit: pr.HeadSHA})
		req := Request{
			Project:   r.Project,
			Template:  t.Name,
			DedupeKey: DedupeKey(source, deliveryID, r.Project, t.Name),
			Trigger: Trigger{
				Type: TypePullRequest, Actor: ev.Sender, Source: source, DeliveryID: deliveryID,
				PR: pr.Number, Head: pr.HeadRef, Base: pr.BaseRef, Fork: pr.Fork,
			},
			Overrides: Overrides{Commit: pr.HeadSHA, DryRun: true},
		}
		if !pr.Fork {
			req.Branch = pr.HeadRef
		}
		if len(pt.Paths) == 0 {
			p.Requests = append(p.Requests, req)
			continue
		}
		from := pr.BaseSHA
		if from == "" {
			from = pr.BaseRef
		}
		p.Deferred = append(p.Deferred, Deferred{Request: req, Repo: r.Key(), From: from, To: pr.HeadSHA, Paths: pt.Paths})
	}
	if matched > 0 {
		return
	}
	if withTrigger == 0 {
		p.Reasons = append(p.Reasons, fmt.Sprintf("no template of %s has a pull_request trigger", full))
	} else {
		p.Reasons = append(p.Reasons, fmt.Sprintf("no template of %s checks pull requests into %s", full, pr.BaseRef))
	}
}

// Resolve decides deferred templates of one diff: those whose paths match
// changed become requests, the others reasons.
func Resolve(ds []Deferred, changed []string) ([]Request, []string) {
	var reqs []Request
	var reasons []string
	for _, d := range ds {
		if PathsMatch(d.Paths, changed) {
			reqs = append(reqs, d.Request)
		} else {
			reasons = append(reasons, d.Request.Project+"/"+d.Request.Template+": paths did not match")
		}
	}
	return reqs, reasons
}

// Summary is the one-line note of a delivery: what created which tasks,
// or why nothing ran.
func Summary(ev forge.Event, created []string, pending []string, reasons []string) string {
	var b strings.Builder
	b.WriteString(string(ev.Forge) + " " + ev.Name)
	if ev.Repo != "" {
		b.WriteString(" " + ev.Repo)
	}
	switch {
	case ev.Push != nil:
		b.WriteString(" " + ev.Push.Ref)
		if c := ev.Push.Commit; len(c) >= 12 {
			b.WriteString("@" + c[:12])
		}
	case ev.PullRequest != nil:
		fmt.Fprintf(&b, " #%d %s", ev.PullRequest.Number, ev.PullRequest.RawAction)
		if c := ev.PullRequest.HeadSHA; len(c) >= 12 {
			b.WriteString("@" + c[:12])
		}
	}
	b.WriteString(": ")
	var parts []string
	if len(created) > 0 {
		parts = append(parts, "tasks for "+strings.Join(created, ", "))
	}
	if len(pending) > 0 {
		parts = append(parts, "diffing paths for "+strings.Join(pending, ", "))
	}
	parts = append(parts, reasons...)
	if len(parts) == 0 {
		parts = append(parts, "nothing to do")
	}
	b.WriteString(strings.Join(slices.Compact(parts), "; "))
	return b.String()
}
