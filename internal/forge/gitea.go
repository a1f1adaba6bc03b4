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

// giteaActions maps Gitea's pull_request actions to PRAction; any other
// is PROther.
var giteaActions = map[string]PRAction{
	"opened":       PROpened,
	"synchronized": PRUpdated,
	"reopened":     PRReopened,
	"closed":       PRClosed,
}

func parseGitea(name string, body []byte) (Event, error) {
	var p struct {
		Ref          string         `json:"ref"`
		Before       string         `json:"before"`
		After        string         `json:"after"`
		Commits      []commitFiles  `json:"commits"`
		TotalCommits *int           `json:"total_commits"`
		Repository   *ghRepo        `json:"repository"`
		Sender       *giteaUser     `json:"sender"`
		Pusher       *giteaUser     `json:"pusher"`
		Action       string         `json:"action"`
		Number       int            `json:"number"`
		PR           *ghPullRequest `json:"pull_request"`
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
		push, filesListed, err := parsePush(p.Ref, p.Before, p.After, p.Commits)
		if err != nil {
			return ev, err
		}
		if p.TotalCommits != nil {
			push.Commits = max(*p.TotalCommits, len(p.Commits))
		}
		// Gitea before 1.17 sends no file lists and cuts the commit list
		// (webhook.PAYLOAD_COMMITS): an unknown total with a non-empty list
		// cannot be trusted to be whole either.
		push.Complete = filesListed && push.Commits == len(p.Commits) &&
			(p.TotalCommits != nil || len(p.Commits) == 0 || push.Created)
		ev.Push = push
		return ev, nil
	}
	pr, err := p.PR.pullRequest(ev.Repo, p.Action, p.Number, giteaActions)
	if err != nil {
		return ev, err
	}
	ev.PullRequest = pr
	return ev, nil
}
