package forge

import "encoding/json"

type giteaUser struct {
	Login    string `json:"login"`
	Username string `json:"username"`
}

func (u *giteaUser) name() string {
	if u == nil {
		return ""
	}
	if u.Login != "" {
		return u.Login
	}
	return u.Username
}

func parseGitea(name string, body []byte) (Event, error) {
	var p struct {
		Ref          string        `json:"ref"`
		Before       string        `json:"before"`
		After        string        `json:"after"`
		Commits      []commitFiles `json:"commits"`
		TotalCommits *int          `json:"total_commits"`
		Repository   *ghRepo       `json:"repository"`
		Sender       *giteaUser    `json:"sender"`
		Pusher       *giteaUser    `json:"pusher"`
		Action       string        `json:"action"`
		Number       int           `json:"number"`
		PR           *struct {
			Number int    `json:"number"`
			Draft  bool   `json:"draft"`
			Merged bool   `json:"merged"`
			Head   *ghRef `json:"head"`
			Base   *ghRef `json:"base"`
		} `json:"pull_request"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Event{}, malformed("invalid JSON: %s", jsonReason(err))
	}
	ev := Event{Kind: KindOther}
	if p.Repository != nil {
		ev.Repo = p.Repository.FullName
	}
	ev.Sender = p.Sender.name()
	if ev.Sender == "" {
		ev.Sender = p.Pusher.name()
	}
	switch name {
	case "push":
		ev.Kind = KindPush
	case "pull_request":
		ev.Kind = KindPullRequest
	default:
		return ev, nil
	}
	if err := required("repository.full_name", ev.Repo); err != nil {
		return ev, err
	}
	if ev.Kind == KindPush {
		for _, f := range [][2]string{{"ref", p.Ref}, {"before", p.Before}, {"after", p.After}} {
			if err := required(f[0], f[1]); err != nil {
				return ev, err
			}
		}
		push := newPush(p.Ref, p.Before, p.After)
		fl := newFileLists()
		for _, c := range p.Commits {
			fl.add(c)
		}
		push.Commits = len(p.Commits)
		if p.TotalCommits != nil {
			push.Commits = max(*p.TotalCommits, len(p.Commits))
		}
		push.Changed = fl.sorted()
		// Gitea before 1.17 sends no file lists and cuts the commit list
		// (webhook.PAYLOAD_COMMITS): an unknown total with a non-empty list
		// cannot be trusted to be whole either.
		push.Complete = fl.complete && push.Commits == len(p.Commits) &&
			(p.TotalCommits != nil || len(p.Commits) == 0 || push.Created)
		ev.Push = push
		return ev, nil
	}
	if p.PR == nil {
		return ev, malformed("missing field pull_request")
	}
	if p.PR.Head == nil || p.PR.Base == nil {
		return ev, malformed("missing field pull_request.head or pull_request.base")
	}
	pr := &PullRequest{
		Number:    p.PR.Number,
		RawAction: p.Action,
		HeadRef:   p.PR.Head.Ref,
		HeadSHA:   p.PR.Head.SHA,
		BaseRef:   p.PR.Base.Ref,
		BaseSHA:   p.PR.Base.SHA,
		BaseRepo:  ev.Repo,
		Draft:     p.PR.Draft,
		Merged:    p.PR.Merged,
	}
	if pr.Number == 0 {
		pr.Number = p.Number
	}
	if p.PR.Base.Repo != nil && p.PR.Base.Repo.FullName != "" {
		pr.BaseRepo = p.PR.Base.Repo.FullName
	}
	if p.PR.Head.Repo != nil {
		pr.HeadRepo = p.PR.Head.Repo.FullName
	}
	pr.Fork = !sameRepo(pr.HeadRepo, pr.BaseRepo)
	switch p.Action {
	case "opened":
		pr.Action = PROpened
	case "synchronized":
		pr.Action = PRUpdated
	case "reopened":
		pr.Action = PRReopened
	case "closed":
		pr.Action = PRClosed
	default:
		pr.Action = PROther
	}
	if err := checkPR(pr); err != nil {
		return ev, err
	}
	ev.PullRequest = pr
	return ev, nil
}
