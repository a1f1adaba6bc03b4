package forge

import (
	"encoding/json"
	"errors"
)

// GitHubMaxCommits is how many commits a GitHub push payload lists at most.
const GitHubMaxCommits = 20

type ghRepo struct {
	FullName string `json:"full_name"`
}

type ghUser struct {
	Login string `json:"login"`
}

type ghRef struct {
	Ref  string  `json:"ref"`
	SHA  string  `json:"sha"`
	Repo *ghRepo `json:"repo"`
}

func asErr[T error](err error, target *T) bool { return errors.As(err, target) }

func parseGitHub(name string, body []byte) (Event, error) {
	var p struct {
		Ref        string        `json:"ref"`
		Before     string        `json:"before"`
		After      string        `json:"after"`
		Created    bool          `json:"created"`
		Deleted    bool          `json:"deleted"`
		Commits    []commitFiles `json:"commits"`
		HeadCommit *struct {
			ID string `json:"id"`
		} `json:"head_commit"`
		Repository *ghRepo `json:"repository"`
		Sender     *ghUser `json:"sender"`
		Action     string  `json:"action"`
		Number     int     `json:"number"`
		PR         *struct {
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
	if p.Sender != nil {
		ev.Sender = p.Sender.Login
	}
	switch name {
	case "ping":
		ev.Kind = KindPing
		return ev, nil
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
		push.Created = push.Created || p.Created
		push.Deleted = push.Deleted || p.Deleted
		if push.Deleted {
			push.Commit = ""
		} else if p.HeadCommit != nil && p.HeadCommit.ID != "" {
			push.Commit = p.HeadCommit.ID
		}
		fl := newFileLists()
		for _, c := range p.Commits {
			fl.add(c)
		}
		push.Commits = len(p.Commits)
		push.Changed = fl.sorted()
		// GitHub never says how many commits a push had: a full list may
		// have been cut at 20.
		push.Complete = fl.complete && len(p.Commits) < GitHubMaxCommits
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
	// A head repository that was deleted arrives as null: treat it as a
	// fork, never as the base repository.
	if p.PR.Head.Repo != nil {
		pr.HeadRepo = p.PR.Head.Repo.FullName
	}
	pr.Fork = !sameRepo(pr.HeadRepo, pr.BaseRepo)
	switch p.Action {
	case "opened":
		pr.Action = PROpened
	case "synchronize":
		pr.Action = PRUpdated
	case "reopened":
		pr.Action = PRReopened
	case "ready_for_review":
		pr.Action = PRReady
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

func checkPR(pr *PullRequest) error {
	if pr.Number <= 0 {
		return malformed("missing field pull_request.number")
	}
	if err := required("action", pr.RawAction); err != nil {
		return err
	}
	if pr.Action == PROther {
		return nil
	}
	for _, f := range [][2]string{{"head.ref", pr.HeadRef}, {"head.sha", pr.HeadSHA}, {"base.ref", pr.BaseRef}} {
		if err := required("pull_request."+f[0], f[1]); err != nil {
			return err
		}
	}
	return nil
}

func sameRepo(a, b string) bool {
	return a != "" && equalFold(a, b)
}
