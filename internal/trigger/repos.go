package trigger

import (
	"sort"
	"strings"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/forge"
)

// Repo is a declared repository a forge event names.
type Repo struct {
	Project string
	Repo    *config.Repository
}

// Key is "PROJECT/REPOSITORY".
func (r Repo) Key() string { return r.Project + "/" + r.Repo.Name }

// Candidates are the declarations a forge webhook may concern: the job
// repositories whose forge (type and owner/name, case-insensitive) matches,
// and whether the config repository matches too.
type Candidates struct {
	Repos []Repo
	// Config is settings.config_repo.forge when it matches.
	Config *config.Forge
}

// Empty reports whether nothing is declared for the event's repository.
func (c Candidates) Empty() bool { return len(c.Repos) == 0 && c.Config == nil }

// Find returns the declarations of forge t whose repository is name,
// across all projects, in project and repository name order.
func Find(cfg *config.Config, t forge.Type, name string) Candidates {
	var c Candidates
	if cfg == nil || name == "" {
		return c
	}
	for pname, p := range cfg.Projects {
		for _, r := range p.Repositories {
			if r.Forge == nil || string(r.Forge.Type) != string(t) {
				continue
			}
			if strings.EqualFold(r.ForgeRepo(), name) {
				c.Repos = append(c.Repos, Repo{Project: pname, Repo: r})
			}
		}
	}
	sort.Slice(c.Repos, func(i, j int) bool { return c.Repos[i].Key() < c.Repos[j].Key() })
	if cr := cfg.Settings.ConfigRepo; cr != nil && cr.Forge != nil &&
		string(cr.Forge.Type) == string(t) && strings.EqualFold(cr.Forge.Repo, name) {
		c.Config = cr.Forge
	}
	return c
}
