package forge

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// EventHeader is the request header naming the event, per forge.
func EventHeader(t Type) string {
	switch t {
	case GitHub:
		return "X-GitHub-Event"
	case GitLab:
		return "X-Gitlab-Event"
	case Gitea:
		return "X-Gitea-Event"
	}
	return ""
}

// DeliveryHeaders are the request headers carrying the delivery id, in the
// order they are tried: GitLab sends Idempotency-Key (stable across
// retries) on recent versions and X-Gitlab-Event-UUID before that.
func DeliveryHeaders(t Type) []string {
	switch t {
	case GitHub:
		return []string{"X-GitHub-Delivery"}
	case GitLab:
		return []string{"Idempotency-Key", "X-Gitlab-Event-UUID"}
	case Gitea:
		return []string{"X-Gitea-Delivery"}
	}
	return nil
}

// Parse decodes the body of a webhook of forge t whose event header said
// name. It never panics; an error wraps ErrMalformed and names the field.
// An event semaphored does not act on parses to KindOther (or KindPing)
// with only Repo and Sender filled in, when the payload names them.
func Parse(t Type, name string, body []byte) (Event, error) {
	var (
		ev  Event
		err error
	)
	switch t {
	case GitHub:
		ev, err = parseGitHub(name, body)
	case GitLab:
		ev, err = parseGitLab(name, body)
	case Gitea:
		ev, err = parseGitea(name, body)
	default:
		return Event{}, fmt.Errorf("parse: unknown forge %q", t)
	}
	ev.Forge, ev.Name = t, name
	return ev, err
}

// ParseRepo returns just the repository a payload names, without
// validating the rest: the receiver needs it to find the secret before it
// trusts anything else in the body.
func ParseRepo(t Type, body []byte) (string, error) {
	var p struct {
		Repository *struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
		Project *struct {
			PathWithNamespace string `json:"path_with_namespace"`
		} `json:"project"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return "", malformed("invalid JSON: %s", jsonReason(err))
	}
	var repo, field string
	switch t {
	case GitLab:
		field = "project.path_with_namespace"
		if p.Project != nil {
			repo = p.Project.PathWithNamespace
		}
	default:
		field = "repository.full_name"
		if p.Repository != nil {
			repo = p.Repository.FullName
		}
	}
	if repo == "" {
		return "", malformed("missing field %s", field)
	}
	return repo, nil
}

// jsonReason shortens a decoding error to what a sender can act on.
func jsonReason(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case asErr(err, &se):
		return fmt.Sprintf("%v at byte %d", se, se.Offset)
	case asErr(err, &te):
		return fmt.Sprintf("field %s: want %s, got %s", te.Field, te.Type, te.Value)
	}
	return err.Error()
}

// fileLists accumulates the changed paths of listed commits.
type fileLists struct {
	paths    map[string]struct{}
	complete bool
}

type commitFiles struct {
	Added    *[]string `json:"added"`
	Modified *[]string `json:"modified"`
	Removed  *[]string `json:"removed"`
}

func newFileLists() *fileLists { return &fileLists{paths: map[string]struct{}{}, complete: true} }

func (f *fileLists) add(c commitFiles) {
	if c.Added == nil && c.Modified == nil && c.Removed == nil {
		f.complete = false
		return
	}
	for _, l := range []*[]string{c.Added, c.Modified, c.Removed} {
		if l == nil {
			continue
		}
		for _, p := range *l {
			f.paths[p] = struct{}{}
		}
	}
}

func (f *fileLists) sorted() []string {
	out := make([]string, 0, len(f.paths))
	for p := range f.paths {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func newPush(ref, before, after string) *Push {
	p := &Push{Ref: ref, Before: before, After: after}
	p.Branch, p.Tag = splitRef(ref)
	p.Created = isZero(before)
	p.Deleted = isZero(after)
	if !p.Deleted {
		p.Commit = after
	}
	return p
}

func required(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return malformed("missing field %s", field)
	}
	return nil
}
