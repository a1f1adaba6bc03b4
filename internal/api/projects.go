package api

import (
	"net/http"
	"sort"
	"time"

	"github.com/semaphored/semaphored/internal/config"
)

// Project is a project as the API lists it.
type Project struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Templates is how many templates it declares.
	Templates int `json:"templates"`
}

// Template is a template as the API lists it: what it runs and what a
// caller may override. It never holds a secret, not even a reference.
type Template struct {
	Name           string            `json:"name"`
	App            config.App        `json:"app"`
	Description    string            `json:"description,omitempty"`
	Repository     string            `json:"repository"`
	Playbook       string            `json:"playbook,omitempty"`
	Script         string            `json:"script,omitempty"`
	Directory      string            `json:"directory,omitempty"`
	Inventory      string            `json:"inventory,omitempty"`
	Environment    string            `json:"environment,omitempty"`
	AllowOverrides []config.Override `json:"allow_overrides"`
	// Timeout is a Go duration ("1h0m0s"); empty when not set.
	Timeout     string          `json:"timeout,omitempty"`
	Concurrency int             `json:"concurrency,omitempty"`
	Triggers    config.Triggers `json:"triggers"`
}

// activeConfig returns the configuration in force, or a 503 before the
// first valid revision.
func (h *Handler) activeConfig() (*config.Config, error) {
	cfg := h.config.Snapshot().Config
	if cfg == nil {
		return nil, errorf(http.StatusServiceUnavailable, "no configuration is active yet")
	}
	return cfg, nil
}

// lookupProject finds a project the caller may see: 404 when it is not
// declared or the token is limited to others.
func (h *Handler) lookupProject(p *principal, name string) (*config.Project, error) {
	if err := p.checkProject(name); err != nil {
		return nil, err
	}
	cfg, err := h.activeConfig()
	if err != nil {
		return nil, err
	}
	pr := cfg.Projects[name]
	if pr == nil {
		return nil, errorf(http.StatusNotFound, "no such project %q", name)
	}
	return pr, nil
}

func (h *Handler) listProjects(w http.ResponseWriter, r *http.Request, p *principal) error {
	out := []Project{}
	if cfg := h.config.Snapshot().Config; cfg != nil {
		for name, pr := range cfg.Projects {
			if pr == nil || !p.project(name) {
				continue
			}
			out = append(out, Project{Name: name, Description: pr.Description, Templates: len(pr.Templates)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (h *Handler) listTemplates(w http.ResponseWriter, r *http.Request, p *principal) error {
	pr, err := h.lookupProject(p, r.PathValue("project"))
	if err != nil {
		return err
	}
	out := make([]Template, 0, len(pr.Templates))
	for name, t := range pr.Templates {
		if t == nil {
			continue
		}
		out = append(out, templateOf(name, t))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	writeJSON(w, http.StatusOK, out)
	return nil
}

// templateOf copies the fields of t that are safe to show.
func templateOf(name string, t *config.Template) Template {
	out := Template{
		Name:           name,
		App:            t.App,
		Description:    t.Description,
		Repository:     t.Repository,
		Playbook:       t.Playbook,
		Script:         t.Script,
		Directory:      t.Directory,
		Inventory:      t.Inventory,
		Environment:    t.Environment,
		AllowOverrides: t.AllowOverrides,
		Concurrency:    t.Concurrency,
		Triggers:       t.Triggers,
	}
	if out.AllowOverrides == nil {
		out.AllowOverrides = []config.Override{}
	}
	if t.Timeout != 0 {
		out.Timeout = time.Duration(t.Timeout).String()
	}
	return out
}
