package config

// Template returns the named template of the named project, with its
// project. The engine finds a task's template with it.
func (c *Config) Template(project, name string) (*Project, *Template, bool) {
	p, ok := c.Projects[project]
	if !ok {
		return nil, nil, false
	}
	t, ok := p.Templates[name]
	if !ok {
		return nil, nil, false
	}
	return p, t, true
}

// Integration returns the named integration of the named project.
func (c *Config) Integration(project, name string) (*Project, *Integration, bool) {
	p, ok := c.Projects[project]
	if !ok {
		return nil, nil, false
	}
	in, ok := p.Integrations[name]
	return p, in, ok
}

// RepositoryOf returns the repository a template runs from.
func (p *Project) RepositoryOf(t *Template) *Repository { return p.Repositories[t.Repository] }

// InventoryOf returns the template's inventory, or nil when it has none.
func (p *Project) InventoryOf(t *Template) *Inventory {
	if t.Inventory == "" {
		return nil
	}
	return p.Inventories[t.Inventory]
}

// EnvironmentOf returns the template's environment, or nil when it has none.
func (p *Project) EnvironmentOf(t *Template) *Environment {
	if t.Environment == "" {
		return nil
	}
	return p.Environments[t.Environment]
}

// TemplateSchedules returns the schedules that run the named template,
// sorted by name.
func (p *Project) TemplateSchedules(template string) []*Schedule {
	var out []*Schedule
	for _, n := range sortedKeys(p.Schedules) {
		if s := p.Schedules[n]; s.Template == template {
			out = append(out, s)
		}
	}
	return out
}

// Allows reports whether the template lets a caller set o.
func (t *Template) Allows(o Override) bool {
	for _, x := range t.AllowOverrides {
		if x == o {
			return true
		}
	}
	return false
}

// IsActive reports whether the schedule runs (Active defaults to true).
func (s *Schedule) IsActive() bool { return s.Active == nil || *s.Active }

// Includes reports whether scope s grants want (admin ⊃ run ⊃ read).
func (s Scope) Includes(want Scope) bool {
	return scopeRank(s) >= scopeRank(want) && scopeRank(want) > 0
}

func scopeRank(s Scope) int {
	switch s {
	case ScopeRead:
		return 1
	case ScopeRun:
		return 2
	case ScopeAdmin:
		return 3
	}
	return 0
}

// CoversProject reports whether the token may act on the project.
func (t *APIToken) CoversProject(project string) bool {
	if len(t.Projects) == 0 {
		return true
	}
	for _, p := range t.Projects {
		if p == project {
			return true
		}
	}
	return false
}
