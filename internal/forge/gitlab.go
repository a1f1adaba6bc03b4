package forge

import (
	"encoding/json"
	"strings"
)

type glProject struct {
	PathWithNamespace string `json:"path_with_namespace"`
}

type glChange struct {
	Previous any `json:"previous"`
	Current  any `json:"current"`
}

func parseGitLab(name string, body []byte) (Event, error) {
	var p struct {
		ObjectKind        string        `json:"object_kind"`
		Ref               string        `json:"ref"`
		Before            string        `json:"before"`
		After             string        `json:"after"`
		CheckoutSHA       string        `json:"checkout_sha"`
		UserUsername      string        `json:"user_username"`
		Commits           []commitFiles `json:"commits"`
		TotalCommitsCount *int          `json:"total_commits_count"`
		Project           *glProject    `json:"project"`
		User              *struct {
			Username string `json:"username"`
		} `json:"user"`
		Attrs *struct {
			IID             int        `json:"iid"`
			Action          string     `json:"action"`
			SourceBranch    string     `json:"source_branch"`
			TargetBranch    string     `json:"target_branch"`
			SourceProjectID int64      `json:"source_project_id"`
			TargetProjectID int64      `json:"target_project_id"`
			Source          *glProject `json:"source"`
			Target          *glProject `json:"target"`
			OldRev          string     `json:"oldrev"`
			Draft           bool       `json:"draft"`
			WIP             bool       `json:"work_in_progress"`
			State           string     `json:"state"`
			LastCommit      *struct {
				ID string `json:"id"`
			} `json:"last_commit"`
		} `json:"object_attributes"`
		Changes map[string]glChange `json:"changes"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Event{}, malformed("invalid JSON: %s", jsonReason(err))
	}
	ev := Event{Kind: KindOther}
	if p.Project != nil {
		ev.Repo = p.Project.PathWithNamespace
	}
	ev.Sender = p.UserUsername
	if p.User != nil && p.User.Username != "" {
		ev.Sender = p.User.Username
	}
	kind := p.ObjectKind
	if kind == "" {
		// The header names the hook when the body does not.
		kind = strings.ToLower(strings.ReplaceAll(strings.TrimSuffix(name, " Hook"), " ", "_"))
	}
	switch kind {
	case "push", "tag_push":
		ev.Kind = KindPush
	case "merge_request":
		ev.Kind = KindPullRequest
	default:
		return ev, nil
	}
	if err := required("project.path_with_namespace", ev.Repo); err != nil {
		return ev, err
	}
	if ev.Kind == KindPush {
		for _, f := range [][2]string{{"ref", p.Ref}, {"before", p.Before}, {"after", p.After}} {
			if err := required(f[0], f[1]); err != nil {
				return ev, err
			}
		}
		push := newPush(p.Ref, p.Before, p.After)
		if !push.Deleted && p.CheckoutSHA != "" {
			push.Commit = p.CheckoutSHA
		}
		fl := newFileLists()
		for _, c := range p.Commits {
			fl.add(c)
		}
		push.Commits = len(p.Commits)
		if p.TotalCommitsCount != nil {
			push.Commits = max(*p.TotalCommitsCount, len(p.Commits))
		}
		push.Changed = fl.sorted()
		push.Complete = fl.complete && push.Commits == len(p.Commits)
		ev.Push = push
		return ev, nil
	}
	a := p.Attrs
	if a == nil {
		return ev, malformed("missing field object_attributes")
	}
	pr := &PullRequest{
		Number:    a.IID,
		RawAction: a.Action,
		HeadRef:   a.SourceBranch,
		BaseRef:   a.TargetBranch,
		BaseRepo:  ev.Repo,
		HeadRepo:  ev.Repo,
		Draft:     a.Draft || a.WIP,
		Merged:    a.Action == "merge" || a.State == "merged",
	}
	if a.LastCommit != nil {
		pr.HeadSHA = a.LastCommit.ID
	}
	if a.Target != nil && a.Target.PathWithNamespace != "" {
		pr.BaseRepo = a.Target.PathWithNamespace
	}
	if a.Source != nil && a.Source.PathWithNamespace != "" {
		pr.HeadRepo = a.Source.PathWithNamespace
	}
	pr.Fork = !sameRepo(pr.HeadRepo, pr.BaseRepo) ||
		(a.SourceProjectID != 0 && a.TargetProjectID != 0 && a.SourceProjectID != a.TargetProjectID)
	switch a.Action {
	case "open":
		pr.Action = PROpened
	case "reopen":
		pr.Action = PRReopened
	case "close", "merge":
		pr.Action = PRClosed
	case "update":
		switch {
		case a.OldRev != "":
			// oldrev is present only when the update pushed new commits.
			pr.Action = PRUpdated
		case draftCleared(p.Changes):
			pr.Action = PRReady
		default:
			pr.Action = PROther
		}
	default:
		pr.Action = PROther
	}
	if a.Action == "" {
		// Old GitLab versions leave out action on some updates.
		pr.RawAction = "update"
		pr.Action = PROther
	}
	if err := checkPR(pr); err != nil {
		return ev, err
	}
	ev.PullRequest = pr
	return ev, nil
}

// draftCleared reports whether the changes of an update took the merge
// request out of draft.
func draftCleared(ch map[string]glChange) bool {
	for _, k := range []string{"draft", "work_in_progress"} {
		if c, ok := ch[k]; ok && c.Previous == true && c.Current == false {
			return true
		}
	}
	return false
}
