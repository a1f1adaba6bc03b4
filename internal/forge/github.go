package forge

import "encoding/json"

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

// ghPullRequest is the pull_request object of a GitHub or Gitea payload
// (Gitea copies GitHub's shape).
type ghPullRequest struct {
	Number int    `json:"number"`
	Draft  bool   `json:"draft"`
	Merged bool   `json:"merged"`
	Head   *ghRef `json:"head"`
	Base   *ghRef `json:"base"`
}

// githubActions maps GitHub's pull_request actions to PRAction; any other
// is PROther.
var githubActions = map[string]PRAction{
	"opened":           PROpened,
	"synchronize":      PRUpdated,
	"reopened":         PRReopened,
	"ready_for_review": PRReady,
	"closed":           PRClosed,
}

// pullRequest validates a GitHub-shaped pull_request object of repository
// repo and returns it as a PullRequest. number is the payload's top-level
// number, used when the object leaves its own out; actions maps the
// forge's action names.
func (p *ghPullRequest) pullRequest(repo, action string, number int, actions map[string]PRAction) (*PullRequest, error) {
	if p == nil {
		return nil, malformed("missing field pull_request")
	}
	if p.Head == nil || p.Base == nil {
		return nil, malformed("missing field pull_request.head or pull_request.base")
	}
	pr := &PullRequest{
		Number:    p.Number,
		RawAction: action,
		HeadRef:   p.Head.Ref,
		HeadSHA:   p.Head.SHA,
		BaseRef:   p.Base.Ref,
		BaseSHA:   p.Base.SHA,
		BaseRepo:  repo,
		Draft:     p.Draft,
		Merged:    p.Merged,
	}
	if pr.Number == 0 {
		pr.Number = number
	}
	if p.Base.Repo != nil && p.Base.Repo.FullName != "" {
		pr.BaseRepo = p.Base.Repo.FullName
	}
	// A head repository that was deleted arrives as null: treat it as a
	// fork, never as the base repository.
	if p.Head.Repo != nil {
		pr.HeadRepo = p.Head.Repo.FullName
	}
	pr.Fork = !sameRepo(pr.HeadRepo, pr.BaseRepo)
	pr.Action = PROther
	if a, ok := actions[action]; ok {
		pr.Action = a
	}
	if err := checkPR(pr); err != nil {
		return nil, err
	}
	return pr, nil
}

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
		Repository *ghRepo        `json:"repository"`
		Sender     *ghUser        `json:"sender"`
		Action     string         `json:"action"`
		Number     int            `json:"number"`
		PR         *ghPullRequest `json:"pull_request"`
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
		push, filesListed, err := parsePush(p.Ref, p.Before, p.After, p.Commits)
		if err != nil {
			return ev, err
		}
		push.Created = push.Created || p.Created
		push.Deleted = push.Deleted || p.Deleted
		if push.Deleted {
			push.Commit = ""
		} else if p.HeadCommit != nil && p.HeadCommit.ID != "" {
			push.Commit = p.HeadCommit.ID
		}
		// GitHub never says how many commits a push had: a full list may
		// have been cut at 20.
		push.Complete = filesListed && len(p.Commits) < GitHubMaxCommits
		ev.Push = push
		return ev, nil
	}
	pr, err := p.PR.pullRequest(ev.Repo, p.Action, p.Number, githubActions)
	if err != nil {
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
