package importer

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/semaphored/semaphored/internal/config"
)

// Result is a converted backup: the files of the config tree and the
// report.
type Result struct {
	// Project is the semaphored project name.
	Project string
	// Files are relative file names with their contents, in write order.
	Files  []File
	Report Report
}

// File is one file of the written tree.
type File struct {
	Name string
	Data []byte
}

// ReportFile is the name of the report written beside the YAML files.
const ReportFile = "IMPORT.md"

// fileNames are the names an import writes; with force, those a new
// import does not write are removed, so a re-import leaves no stale kind.
var fileNames = []string{"project.yaml", "keys.yaml", "repositories.yaml", "inventories.yaml",
	"environments.yaml", "templates.yaml", "schedules.yaml", "integrations.yaml", ReportFile}

// Write writes the files into dir (created 0755 when missing) and the
// report as IMPORT.md. It refuses to replace an existing file unless
// force is set, and checks that before writing anything. With force, the
// files of an earlier import that this one does not write are removed.
func (r *Result) Write(dir string, force bool) error {
	names := make([]string, 0, len(r.Files)+1)
	for _, f := range r.Files {
		names = append(names, f.Name)
	}
	names = append(names, ReportFile)
	if !force {
		for _, n := range names {
			p := filepath.Join(dir, n)
			if _, err := os.Lstat(p); err == nil {
				return fmt.Errorf("write import: %s exists (use --force to replace it)", p)
			}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write import: %w", err)
	}
	var rep strings.Builder
	if err := r.Report.WriteText(&rep); err != nil {
		return err
	}
	files := append(slices.Clone(r.Files), File{Name: ReportFile, Data: []byte(rep.String())})
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
			return fmt.Errorf("write import: %w", err)
		}
	}
	if force {
		for _, n := range fileNames {
			if !slices.Contains(names, n) {
				if err := os.Remove(filepath.Join(dir, n)); err != nil && !os.IsNotExist(err) {
					return fmt.Errorf("write import: remove stale %s: %w", n, err)
				}
			}
		}
	}
	return nil
}

// Convert maps a parsed backup onto semaphored's config language. It
// fails only when a document cannot be rendered; everything the config
// language cannot express is reported and kept as a comment.
func Convert(b *Backup) (*Result, error) {
	c := &converter{
		b:        b,
		envUsed:  map[string]bool{},
		keys:     map[string]*keyInfo{},
		repos:    map[string]string{},
		repoOK:   map[string]bool{},
		invs:     map[string]*invInfo{},
		envs:     map[string]string{},
		tpls:     map[string]string{},
		tplOK:    map[string]bool{},
		variants: map[[2]string]string{},
		repoName: newNamer(),
	}
	return c.convert()
}

type keyInfo struct {
	name   string // semaphored name
	typ    string // Semaphore type
	secret string // env var holding its main secret ("" for none)
}

type invInfo struct {
	name      string // semaphored name; "" when not an inventory here
	typ       string // Semaphore type
	workspace string // terraform-workspace / tofu-workspace: the workspace
}

// converter holds the state of one conversion; it is used once, by one
// goroutine.
type converter struct {
	b    *Backup
	proj string
	rep  Report

	envUsed  map[string]bool
	keys     map[string]*keyInfo // by Semaphore name
	repos    map[string]string   // Semaphore name -> semaphored name
	repoOK   map[string]bool
	invs     map[string]*invInfo
	envs     map[string]string
	tpls     map[string]string
	tplOK    map[string]bool
	variants map[[2]string]string // (repository, branch) -> variant name
	repoName *namer
	repoMap  *yaml.Node // the repositories mapping, which repoAt adds variants to
}

// file is one kind's document under construction.
type file struct {
	name, kind string
	m          *yaml.Node // the kind's mapping
	n          int
	foot       []string // commented-out objects
}

func newFile(name, kind string) *file { return &file{name: name, kind: kind, m: newMap()} }

func (c *converter) convert() (*Result, error) {
	b := c.b
	c.proj = newNamer().name(b.Meta.Name, "imported")
	c.rep.Source, c.rep.Project = b.Meta.Name, c.proj

	keys := c.convertKeys()
	repos := c.convertRepositories()
	invs := c.convertInventories()
	envs := c.convertEnvironments()
	tpls, scheds := c.convertTemplates()
	ints := c.convertIntegrations()
	// Template git branches added repository variants after the others.
	repos.n = len(c.repoMap.Content) / 2

	proj, err := c.projectFile()
	if err != nil {
		return nil, err
	}
	res := &Result{Project: c.proj, Files: []File{proj}}
	for _, f := range []*file{keys, repos, invs, envs, tpls, scheds, ints} {
		if f.n == 0 && len(f.foot) == 0 {
			continue
		}
		root := newMap()
		set(root, "project", strNode(c.proj))
		if f.n > 0 {
			set(root, f.kind, f.m)
		}
		var foot string
		if len(f.foot) > 0 {
			foot = comment(append([]string{"Not imported (see " + ReportFile + "):", ""}, f.foot...)...)
		}
		data, err := render(comment(header), root, foot)
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", f.name, err)
		}
		res.Files = append(res.Files, File{Name: f.name, Data: data})
		c.rep.Counts = append(c.rep.Counts, Count{Kind: singularKind[f.kind], N: f.n})
	}
	c.rep.sort()
	res.Report = c.rep
	return res, nil
}

const header = "Imported from a Semaphore UI project backup by `semaphored import semaphore`.\nSee " + ReportFile + " for the variables to provide and what was not imported."

var singularKind = map[string]string{
	"keys": "key", "repositories": "repository", "inventories": "inventory",
	"environments": "environment", "templates": "template", "schedules": "schedule",
	"integrations": "integration",
}

func (c *converter) projectFile() (File, error) {
	b := c.b
	root := newMap()
	set(root, "project", strNode(c.proj))
	if c.proj != b.Meta.Name {
		set(root, "description", strNode(b.Meta.Name))
		c.rep.Renamed = append(c.rep.Renamed, Rename{Kind: "project", From: b.Meta.Name, To: c.proj})
	}
	if b.Meta.MaxParallelTasks > 0 {
		set(root, "max_parallel_tasks", intNode(b.Meta.MaxParallelTasks))
	}
	var foot []string
	if b.Meta.Alert || (b.Meta.AlertChat != nil && *b.Meta.AlertChat != "") {
		chat := ""
		if b.Meta.AlertChat != nil {
			chat = *b.Meta.AlertChat
		}
		c.rep.unmapped("project", "alerts were on (alert: %t, alert_chat: %q); declare notifications for the project", b.Meta.Alert, chat)
		foot = append(foot, fmt.Sprintf("Semaphore alerts: alert: %t, alert_chat: %q", b.Meta.Alert, chat))
	}
	if b.Meta.Type != "" {
		c.rep.unmapped("project", "Semaphore project type %q has no equivalent", b.Meta.Type)
		foot = append(foot, fmt.Sprintf("Semaphore project type: %q", b.Meta.Type))
	}
	if len(b.Views) > 0 {
		lines := []string{"Semaphore views (UI tabs grouping templates; semaphored has no views):"}
		views := append([]View(nil), b.Views...)
		sort.SliceStable(views, func(i, j int) bool { return views[i].Position < views[j].Position })
		for _, v := range views {
			var in []string
			for _, t := range b.Templates {
				if t.View != nil && *t.View == v.Title {
					in = append(in, c.tpls[t.Name])
				}
			}
			lines = append(lines, fmt.Sprintf("  %s: [%s]", v.Title, strings.Join(in, ", ")))
			c.rep.unmapped("views."+v.Title, "views have no equivalent (templates: %s)", orNone(in))
		}
		foot = append(foot, lines...)
	}
	if len(b.IntegrationAliases) > 0 {
		c.rep.unmapped("project", "integration aliases %s (project-wide webhook URLs) have no equivalent: point each sender at /hooks/integrations/%s/NAME of the integration it should run", strings.Join(b.IntegrationAliases, ", "), c.proj)
		foot = append(foot, "Semaphore project integration aliases: "+strings.Join(b.IntegrationAliases, ", "))
	}
	if len(b.Unknown) > 0 {
		foot = append(foot, "Fields of the backup this importer does not know:")
		for _, u := range b.Unknown {
			v := redacted(u.Path, u.Value)
			foot = append(foot, "  "+u.Path+": "+truncate(v, 200))
			c.rep.unmapped(u.Path, "field not known to the importer (value %s)", truncate(v, 80))
		}
	}
	var footC string
	if len(foot) > 0 {
		footC = comment(foot...)
	}
	data, err := render(comment(header), root, footC)
	if err != nil {
		return File{}, fmt.Errorf("render project.yaml: %w", err)
	}
	return File{Name: "project.yaml", Data: data}, nil
}

// secretish matches names that usually hold a secret.
var secretish = regexp.MustCompile(`(?i)pass|secret|token|private|credential|api_?key|auth`)

// redacted hides the value of an unknown field that may be a secret: a
// newer Semaphore may export something this importer cannot know is one,
// and the files go into a git repository.
func redacted(path, value string) string {
	if secretish.MatchString(path) || secretish.MatchString(value) {
		return fmt.Sprintf("<%d bytes, not shown: it may hold a secret>", len(value))
	}
	return value
}

// clearSecrets reports the keys of a vars or env map that look like
// secrets written in clear.
func (c *converter) clearSecrets(where string, m map[string]any) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if secretish.MatchString(k) {
			c.rep.edit(where+"."+k, "looks like a secret written in clear (Semaphore kept it so): move it under secrets: as an {env: NAME} reference before you commit")
		}
	}
}

// inventorySecret matches ansible connection variables that carry a
// password in an inventory's text.
var inventorySecret = regexp.MustCompile(`\bansible_(ssh_|become_)?pass(word)?\b|\bansible_password\b`)

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// renamed records a rename and returns the comment line that keeps the
// original name in the file.
func (c *converter) renamed(kind, from, to string) []string {
	if from == to {
		return nil
	}
	c.rep.Renamed = append(c.rep.Renamed, Rename{Kind: kind, From: from, To: to})
	return []string{fmt.Sprintf("Semaphore name: %q", from)}
}

// envVar returns a unique environment variable name for a secret of an
// object: PROJECT_OBJECT_FIELD in upper case.
func (c *converter) envVar(object, field string) string {
	base := envName(c.proj + "_" + object + "_" + field)
	name := base
	for i := 2; c.envUsed[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	c.envUsed[name] = true
	return name
}

var nonEnv = regexp.MustCompile(`[^A-Z0-9]+`)

func envName(s string) string {
	s = strings.Trim(nonEnv.ReplaceAllString(strings.ToUpper(s), "_"), "_")
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		s = "_" + s
	}
	return s
}

func (c *converter) convertKeys() *file {
	f := newFile("keys.yaml", "keys")
	n := newNamer()
	for _, k := range c.b.Keys {
		name := n.name(k.Name, "key")
		info := &keyInfo{name: name, typ: k.Type}
		c.keys[k.Name] = info
		m := newMap()
		var notes []string
		where := "keys." + name
		switch k.Type {
		case "ssh":
			set(m, "type", strNode("ssh"))
			info.secret = c.envVar(name, "private_key")
			set(m, "private_key", envRef(info.secret))
			c.rep.variable(info.secret, fmt.Sprintf("ssh private key (PEM text) of Semaphore key %q (%s)", k.Name, where))
			c.rep.edit(where, "if the key has a passphrase add `passphrase: {env: %s}`; if it logs in to hosts as a user other than the one in the inventory, add `user:`", c.envVarHint(name, "passphrase"))
			notes = append(notes, "Add `passphrase: {env: ...}` if the key has one, and `user:` for its login.")
		case "login_password":
			set(m, "type", strNode("login_password"))
			set(m, "login", strNode("CHANGE_ME"))
			info.secret = c.envVar(name, "password")
			set(m, "password", envRef(info.secret))
			c.rep.variable(info.secret, fmt.Sprintf("password of Semaphore key %q (%s)", k.Name, where))
			c.rep.edit(where+".login", "the login of Semaphore key %q is not in the backup: replace CHANGE_ME", k.Name)
			notes = append(notes, "The login is not in the backup: replace CHANGE_ME.")
		case "string":
			set(m, "type", strNode("token"))
			info.secret = c.envVar(name, "token")
			set(m, "token", envRef(info.secret))
			c.rep.variable(info.secret, fmt.Sprintf("secret string of Semaphore key %q (%s)", k.Name, where))
			notes = append(notes, "A Semaphore \"string\" key (a vault password, token or webhook secret).")
		default: // none
			set(m, "type", strNode("none"))
		}
		kn := set(f.m, name, m)
		addComment(kn, append(c.renamed("key", k.Name, name), notes...)...)
		f.n++
	}
	return f
}

// envVarHint is the name a second secret of the same key would get,
// without reserving it.
func (c *converter) envVarHint(object, field string) string {
	return envName(c.proj + "_" + object + "_" + field)
}

func (c *converter) convertRepositories() *file {
	f := newFile("repositories.yaml", "repositories")
	c.repoMap = f.m
	for _, r := range c.b.Repositories {
		name := c.repoName.name(r.Name, "repository")
		c.repos[r.Name] = name
		where := "repositories." + name
		kind := config.ClassifyURL(r.GitURL)
		if kind == config.URLInvalid {
			c.rep.unmapped(where, "git_url %q is not a URL semaphored can fetch; templates using it are not imported", r.GitURL)
			f.foot = append(f.foot, fmt.Sprintf("%s (Semaphore %q):", name, r.Name), indent(yamlText(r)))
			continue
		}
		c.repoOK[r.Name] = true
		m := c.repository(r, r.GitBranch, where)
		kn := set(f.m, name, m)
		addComment(kn, c.renamed("repository", r.Name, name)...)
		f.n++
	}
	return f
}

// repository renders a repository at a branch.
func (c *converter) repository(r Repository, branch, where string) *yaml.Node {
	m := newMap()
	set(m, "url", strNode(r.GitURL))
	if branch != "" {
		set(m, "branch", strNode(branch))
	}
	if r.SSHKey != nil && *r.SSHKey != "" {
		k := c.keys[*r.SSHKey]
		kind := config.ClassifyURL(r.GitURL)
		switch {
		case kind == config.URLSSH && k.typ != "ssh" && k.typ != "none",
			kind == config.URLHTTP && k.typ == "ssh":
			c.rep.unmapped(where+".key", "key %q (type %s) does not fit url %q; declare a key that does", k.name, k.typ, r.GitURL)
			addComment(m, fmt.Sprintf("key: %s  # Semaphore used this %s key, which cannot fetch this url", k.name, k.typ))
		default:
			set(m, "key", strNode(k.name))
		}
	}
	return m
}

// repoAt returns the repository to use for a template with a git branch
// override: the repository itself, or a variant at that branch.
func (c *converter) repoAt(semName string, branch *string) string {
	name := c.repos[semName]
	var r Repository
	for _, x := range c.b.Repositories {
		if x.Name == semName {
			r = x
		}
	}
	if branch == nil || *branch == "" || *branch == r.GitBranch {
		return name
	}
	key := [2]string{semName, *branch}
	if v, ok := c.variants[key]; ok {
		return v
	}
	v := c.repoName.name(name+"-"+*branch, "repository")
	c.variants[key] = v
	where := "repositories." + v
	m := c.repository(r, *branch, where)
	kn := set(c.repoMap, v, m)
	addComment(kn, fmt.Sprintf("Repository %s at branch %s: a Semaphore template overrode the branch.", name, *branch))
	return v
}

func indent(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return strings.Join(lines, "\n")
}

func (c *converter) convertInventories() *file {
	f := newFile("inventories.yaml", "inventories")
	n := newNamer()
	for _, inv := range c.b.Inventories {
		info := &invInfo{typ: inv.Type}
		c.invs[inv.Name] = info
		if inv.Type == "terraform-workspace" || inv.Type == "tofu-workspace" {
			info.workspace = strings.TrimSpace(inv.Inventory)
			continue // mapped onto the templates' terraform.workspace
		}
		name := n.name(inv.Name, "inventory")
		where := "inventories." + name
		m := newMap()
		var notes []string
		ok := true
		switch inv.Type {
		case "static", "static-yaml":
			typ := "static"
			if inv.Type == "static-yaml" {
				typ = "static_yaml"
			}
			if strings.TrimSpace(inv.Inventory) == "" {
				set(m, "type", strNode("none"))
				notes = append(notes, "Semaphore "+inv.Type+" inventory with no text.")
				break
			}
			if typ == "static_yaml" {
				var v map[string]any
				if err := yaml.Unmarshal([]byte(inv.Inventory), &v); err != nil || v == nil {
					c.rep.unmapped(where, "static-yaml text is not a YAML mapping of groups; fix it and add the inventory")
					ok = false
					break
				}
			}
			set(m, "type", strNode(typ))
			set(m, "static", strNode(strings.TrimRight(inv.Inventory, "\n")+"\n"))
			if inventorySecret.MatchString(inv.Inventory) {
				c.rep.edit(where+".static", "the inventory text sets a password in clear (ansible_password or the like): use ssh_key / become_key, or vault it, before you commit")
			}
		case "file":
			p := strings.TrimSpace(inv.Inventory)
			if p == "" || strings.HasPrefix(p, "/") || path.Clean(p) == ".." || strings.HasPrefix(path.Clean(p), "../") {
				c.rep.unmapped(where, "file inventory path %q is not a path inside the repository; put the inventory in the template's repository", p)
				ok = false
				break
			}
			set(m, "type", strNode("file"))
			set(m, "path", strNode(p))
			notes = append(notes, "Read from the template's repository (a backup does not record another one).")
		default: // none, ""
			set(m, "type", strNode("none"))
		}
		if !ok {
			f.foot = append(f.foot, fmt.Sprintf("%s (Semaphore %q):", name, inv.Name), indent(yamlText(inv)))
			continue
		}
		info.name = name
		c.inventoryKey(m, where, "ssh_key", inv.SSHKey, "ssh")
		c.inventoryKey(m, where, "become_key", inv.BecomeKey, "login_password")
		kn := set(f.m, name, m)
		addComment(kn, append(c.renamed("inventory", inv.Name, name), notes...)...)
		f.n++
	}
	return f
}

func (c *converter) inventoryKey(m *yaml.Node, where, field string, ref *string, want string) {
	if ref == nil || *ref == "" {
		return
	}
	k := c.keys[*ref]
	switch k.typ {
	case want:
		set(m, field, strNode(k.name))
	case "none":
		// Semaphore's way of saying "no key".
	default:
		c.rep.unmapped(where+"."+field, "key %q is of type %s; semaphored needs %s key here", k.name, k.typ, article(want))
		addComment(m, fmt.Sprintf("%s: %s  # Semaphore used this %s key; semaphored needs %s key", field, k.name, k.typ, article(want)))
	}
}

func (c *converter) convertEnvironments() *file {
	f := newFile("environments.yaml", "environments")
	n := newNamer()
	for _, e := range c.b.Environments {
		name := n.name(e.Name, "environment")
		c.envs[e.Name] = name
		where := "environments." + name
		m := newMap()
		notes := c.renamed("environment", e.Name, name)
		vars, _ := jsonObject(e.JSON) // checked by ParseSemaphore
		c.clearSecrets(where+".vars", vars)
		if len(vars) > 0 {
			v, err := valueNode(vars)
			if err != nil {
				c.rep.unmapped(where+".vars", "extra variables could not be written: %v", err)
			} else {
				set(m, "vars", v)
			}
		}
		if e.ENV != nil {
			envs, _ := jsonObject(*e.ENV)
			c.clearSecrets(where+".env", envs)
			keys := make([]string, 0, len(envs))
			for k := range envs {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			em := newMap()
			for _, k := range keys {
				if !validEnv(k) {
					c.rep.unmapped(where+".env", "%q is not a valid environment variable name", k)
					notes = append(notes, fmt.Sprintf("env %q: %v  # not a valid variable name", k, envs[k]))
					continue
				}
				set(em, k, strNode(envString(envs[k])))
			}
			if len(em.Content) > 0 {
				set(m, "env", em)
			}
		}
		if e.Password != nil && *e.Password != "" {
			c.rep.unmapped(where, "has a vault password (deprecated Semaphore field, value not written): set ansible.vault_password on the templates using this environment")
			notes = append(notes, "Semaphore environment password (a vault password) not written: see "+ReportFile+".")
		}
		if len(m.Content) == 0 {
			// An environment with nothing is still declared: templates name it.
			m.Style = yaml.FlowStyle
		}
		kn := set(f.m, name, m)
		addComment(kn, notes...)
		f.n++
	}
	if f.n > 0 {
		c.rep.edit("environments", "a Semaphore backup omits environment secrets: add them under secrets: {env: ..., vars: ...} as {env: NAME} references")
	}
	return f
}

func validEnv(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case i > 0 && r >= '0' && r <= '9':
		default:
			return false
		}
	}
	return true
}

func envString(v any) string {
	switch v := plain(v).(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

var apps = map[string]bool{"ansible": true, "terraform": true, "tofu": true, "bash": true, "python": true, "powershell": true}

func (c *converter) convertTemplates() (*file, *file) {
	f := newFile("templates.yaml", "templates")
	sf := newFile("schedules.yaml", "schedules")
	n := newNamer()
	sn := newNamer()
	for _, t := range c.b.Templates {
		c.tpls[t.Name] = n.name(t.Name, "template")
	}
	for _, t := range c.b.Templates {
		name := c.tpls[t.Name]
		where := "templates." + name
		m, notes, reason := c.template(t, name, where)
		if reason != "" {
			c.rep.unmapped(where, "%s; the template is kept as a comment", reason)
			f.foot = append(f.foot, fmt.Sprintf("%s (Semaphore %q): %s", name, t.Name, reason), indent(yamlText(t)))
			continue
		}
		c.tplOK[t.Name] = true
		kn := set(f.m, name, m)
		addComment(kn, notes...)
		f.n++
	}
	// Schedules: the cron of each template, and the schedules section of
	// newer backups (the same template and cron once).
	type sched struct {
		name, cron, template string
		active               *bool
		fromTemplate         bool
	}
	var all []sched
	seen := map[[2]string]bool{}
	for _, x := range c.b.Schedules {
		all = append(all, sched{name: x.Name, cron: strings.TrimSpace(x.CronFormat), template: x.Template, active: x.Active})
		seen[[2]string{x.Template, strings.TrimSpace(x.CronFormat)}] = true
	}
	for _, t := range c.b.Templates {
		if t.Cron != nil && strings.TrimSpace(*t.Cron) != "" && !seen[[2]string{t.Name, strings.TrimSpace(*t.Cron)}] {
			all = append(all, sched{cron: strings.TrimSpace(*t.Cron), template: t.Name, fromTemplate: true})
		}
	}
	for _, x := range all {
		orig := x.name
		if orig == "" {
			orig = x.template
		}
		sname := sn.name(orig, "schedule")
		tname := c.tpls[x.template]
		where := "schedules." + sname
		if !c.tplOK[x.template] {
			c.rep.unmapped(where, "its template %q was not imported; the schedule is kept as a comment", x.template)
			sf.foot = append(sf.foot, fmt.Sprintf("%s: {cron: %q, template: %s}", sname, x.cron, tname))
			continue
		}
		if _, err := config.ParseSchedule(x.cron, "UTC"); err != nil {
			c.rep.unmapped(where, "cron %q of template %s is not valid here: %v", x.cron, tname, err)
			sf.foot = append(sf.foot, fmt.Sprintf("%s: {cron: %q, template: %s}", sname, x.cron, tname))
			continue
		}
		s := newMap()
		set(s, "cron", strNode(x.cron))
		set(s, "timezone", strNode("UTC"))
		set(s, "template", strNode(tname))
		if x.active != nil && !*x.active {
			set(s, "active", boolNode(false))
		}
		sk := set(sf.m, sname, s)
		notes := []string{"Semaphore ran this in its server's timezone: set timezone to that one."}
		switch {
		case x.fromTemplate:
			notes = append([]string{fmt.Sprintf("The cron of Semaphore template %q.", x.template)}, notes...)
		case x.name == "":
			notes = append([]string{fmt.Sprintf("A schedule of Semaphore template %q with no name.", x.template)}, notes...)
		case x.name != sname:
			notes = append([]string{fmt.Sprintf("Semaphore name: %q", x.name)}, notes...)
			c.rep.Renamed = append(c.rep.Renamed, Rename{Kind: "schedule", From: x.name, To: sname})
		}
		addComment(sk, notes...)
		c.rep.edit(where, "Semaphore evaluated cron %q in its server's timezone; the import says UTC", x.cron)
		sf.n++
	}
	return f, sf
}

// template maps one template; a non-empty reason means it cannot be.
func (c *converter) template(t Template, name, where string) (m *yaml.Node, notes []string, reason string) {
	m = newMap()
	app := t.App
	if app == "" {
		app = "ansible"
	}
	if !apps[app] {
		return nil, nil, fmt.Sprintf("app %q has no semaphored runner", app)
	}
	if !c.repoOK[t.Repository] {
		return nil, nil, fmt.Sprintf("its repository %q was not imported", t.Repository)
	}
	desc := ""
	if t.Description != nil {
		desc = strings.TrimSpace(*t.Description)
	}
	if name != t.Name {
		c.rep.Renamed = append(c.rep.Renamed, Rename{Kind: "template", From: t.Name, To: name})
		if desc == "" {
			desc = t.Name
		} else {
			desc = t.Name + ": " + desc
		}
	}
	if desc != "" {
		set(m, "description", strNode(desc))
	}
	set(m, "app", strNode(app))
	set(m, "repository", strNode(c.repoAt(t.Repository, t.GitBranch)))
	if t.GitBranch != nil && *t.GitBranch != "" {
		notes = append(notes, fmt.Sprintf("Semaphore branch override %q: runs from a repository at that branch.", *t.GitBranch))
	}
	p := strings.TrimSpace(t.Playbook)
	badPath := strings.HasPrefix(p, "/") || path.Clean(p) == ".." || strings.HasPrefix(path.Clean(p), "../")
	var overrides []string
	switch app {
	case "ansible":
		if p == "" || badPath {
			return nil, nil, fmt.Sprintf("playbook %q is not a path inside the repository", p)
		}
		set(m, "playbook", strNode(p))
	case "terraform", "tofu":
		if badPath {
			return nil, nil, fmt.Sprintf("directory %q is not a path inside the repository", p)
		}
		if p != "" && path.Clean(p) != "." {
			set(m, "directory", strNode(p))
		}
	default:
		if p == "" || badPath {
			return nil, nil, fmt.Sprintf("script %q is not a path inside the repository", p)
		}
		set(m, "script", strNode(p))
	}
	// Inventory: ansible inventories, or a terraform workspace.
	var workspace string
	if t.Inventory != nil && *t.Inventory != "" {
		inv := c.invs[*t.Inventory]
		switch {
		case app == "ansible" && inv.name != "":
			set(m, "inventory", strNode(inv.name))
		case (app == "terraform" || app == "tofu") && inv.workspace != "":
			workspace = inv.workspace
		case app == "terraform" || app == "tofu":
			// Semaphore asks every template for an inventory; an ansible
			// inventory means nothing to terraform.
			notes = append(notes, fmt.Sprintf("inventory: Semaphore %q (not a workspace; %s takes none)", *t.Inventory, app))
		case app == "ansible":
			c.rep.unmapped(where+".inventory", "inventory %q was not imported", *t.Inventory)
			notes = append(notes, fmt.Sprintf("inventory: Semaphore %q (not imported)", *t.Inventory))
		default:
			if inv.name != "" && inv.typ != "none" && inv.typ != "" {
				c.rep.unmapped(where+".inventory", "%s templates take no inventory (Semaphore %q)", app, *t.Inventory)
				notes = append(notes, fmt.Sprintf("inventory: Semaphore %q (%s templates take none)", *t.Inventory, app))
			}
		}
	}
	if t.Environment != nil && *t.Environment != "" {
		set(m, "environment", strNode(c.envs[*t.Environment]))
	}
	if t.Arguments != nil && strings.TrimSpace(*t.Arguments) != "" {
		args, _ := parseArguments(*t.Arguments) // checked by ParseSemaphore
		if len(args) > 0 {
			set(m, "arguments", flowSeq(args...))
		}
	}
	if t.AllowOverrideArgsInTask {
		overrides = append(overrides, "arguments")
	}
	if len(t.SurveyVars) > 0 {
		overrides = append(overrides, "vars")
		var names []string
		for _, v := range t.SurveyVars {
			names = append(names, v.Name)
		}
		c.rep.unmapped(where, "survey variables %s: semaphored asks for nothing; callers pass them as vars (allowed by allow_overrides: [vars])", strings.Join(names, ", "))
		notes = append(notes, "Semaphore survey variables (callers pass them with --var / \"vars\"):", indent(yamlText(t.SurveyVars)))
	}
	if len(overrides) > 0 {
		set(m, "allow_overrides", flowSeq(overrides...))
	}
	// Ansible vaults.
	vaults := t.Vaults
	if len(vaults) == 0 && t.VaultKey != nil && *t.VaultKey != "" {
		vaults = []TemplateVault{{VaultKey: *t.VaultKey}}
	}
	if len(vaults) > 0 {
		k := c.keys[vaults[0].VaultKey]
		if app == "ansible" && k.secret != "" {
			a := newMap()
			set(a, "vault_password", envRef(k.secret))
			set(m, "ansible", a)
			c.rep.addUse(k.secret, "vault password of template "+name)
		} else {
			c.rep.unmapped(where, "vault key %q cannot be used as a vault password here", k.name)
		}
		for _, v := range vaults[1:] {
			id := ""
			if v.Name != nil {
				id = *v.Name
			}
			c.rep.unmapped(where, "extra vault %q (key %s): semaphored takes one vault password per template", id, c.keys[v.VaultKey].name)
			notes = append(notes, fmt.Sprintf("Semaphore vault %q with key %s (one vault password per template here).", id, c.keys[v.VaultKey].name))
		}
	}
	if workspace != "" {
		tf := newMap()
		set(tf, "workspace", strNode(workspace))
		set(m, "terraform", tf)
	}
	switch t.Type {
	case "":
	case "build", "deploy":
		line := fmt.Sprintf("Semaphore template type %q", t.Type)
		if t.StartVersion != nil && *t.StartVersion != "" {
			line += fmt.Sprintf(", start_version %q", *t.StartVersion)
		}
		if t.BuildTemplate != nil && *t.BuildTemplate != "" {
			line += fmt.Sprintf(", build_template %s", c.tpls[*t.BuildTemplate])
		}
		if t.Autorun {
			line += ", autorun"
		}
		c.rep.unmapped(where, "%s: builds, versions and deploy chains have no equivalent; it runs as a plain template", strings.TrimPrefix(line, "Semaphore "))
		notes = append(notes, line+" (no equivalent: a plain template here).")
	default:
		c.rep.unmapped(where, "template type %q has no equivalent", t.Type)
		notes = append(notes, fmt.Sprintf("Semaphore template type %q (no equivalent).", t.Type))
	}
	if t.View != nil && *t.View != "" {
		notes = append(notes, fmt.Sprintf("Semaphore view: %q.", *t.View))
	}
	if t.SuppressSuccessAlerts {
		c.rep.unmapped(where, "suppress_success_alerts: declare notifications on failure only")
		notes = append(notes, "Semaphore suppress_success_alerts: true.")
	}
	return m, notes, ""
}

// addUse appends a use to an already listed variable.
func (r *Report) addUse(name, use string) {
	for i := range r.Variables {
		if r.Variables[i].Name == name {
			r.Variables[i].For += "; " + use
			return
		}
	}
}

func (c *converter) convertIntegrations() *file {
	f := newFile("integrations.yaml", "integrations")
	n := newNamer()
	for _, in := range c.b.Integrations {
		name := n.name(in.Name, "integration")
		where := "integrations." + name
		if !c.tplOK[in.Template] {
			c.rep.unmapped(where, "its template %q was not imported; the integration is kept as a comment", in.Template)
			f.foot = append(f.foot, fmt.Sprintf("%s (Semaphore %q):", name, in.Name), indent(yamlText(in)))
			continue
		}
		m := newMap()
		notes := c.renamed("integration", in.Name, name)
		set(m, "template", strNode(c.tpls[in.Template]))
		auth := newMap()
		secret := func() {
			var v string
			if in.AuthSecret != nil && *in.AuthSecret != "" && c.keys[*in.AuthSecret].secret != "" {
				v = c.keys[*in.AuthSecret].secret
				c.rep.addUse(v, "webhook secret of integration "+name)
			} else {
				v = c.envVar(name, "secret")
				c.rep.variable(v, fmt.Sprintf("webhook secret of integration %s (Semaphore had none stored with it)", name))
			}
			set(auth, "secret", envRef(v))
		}
		switch in.AuthMethod {
		case "github":
			set(auth, "type", strNode("hmac"))
			set(auth, "header", strNode("X-Hub-Signature-256"))
			secret()
		case "hmac", "token":
			set(auth, "type", strNode(in.AuthMethod))
			h := in.AuthHeader
			if h == "" {
				h = "X-Semaphore-Token"
				c.rep.edit(where+".auth.header", "Semaphore had no header for %s auth; the import says %s", in.AuthMethod, h)
			}
			set(auth, "header", strNode(h))
			secret()
		case "", "none":
			set(auth, "type", strNode("none"))
		default:
			set(auth, "type", strNode("none"))
			c.rep.unmapped(where+".auth", "auth method %q is unknown: the import says none; choose hmac or token", in.AuthMethod)
			notes = append(notes, fmt.Sprintf("Semaphore auth method %q (unknown; set auth).", in.AuthMethod))
		}
		set(m, "auth", auth)
		var matchers []*yaml.Node
		for _, x := range in.Matchers {
			mm := newMap()
			ok := x.Method == "equals" || x.Method == ""
			switch {
			case ok && x.MatchType == "header":
				set(mm, "header", strNode(x.Key))
			case ok && x.MatchType == "body" && x.BodyDataType != "string":
				set(mm, "body", strNode(bodyPath(x.Key)))
			default:
				ok = false
			}
			if !ok {
				c.rep.unmapped(where+".matchers", "matcher %q (%s %s %s %q) has no equivalent", x.Name, x.MatchType, orStr(x.BodyDataType, "-"), x.Method, x.Value)
				notes = append(notes, fmt.Sprintf("Semaphore matcher %q: %s %s %q %s %q (no equivalent)", x.Name, x.MatchType, x.BodyDataType, x.Key, x.Method, x.Value))
				continue
			}
			set(mm, "equals", strNode(x.Value))
			if x.Name != "" {
				addComment(mm, x.Name)
			}
			matchers = append(matchers, mm)
		}
		if len(matchers) > 0 {
			set(m, "matchers", &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: matchers})
		}
		var extractors []*yaml.Node
		for _, x := range in.ExtractValues {
			em := newMap()
			switch {
			case !validEnv(x.Variable):
				c.rep.unmapped(where+".extractors", "extract value %q sets %q, not a valid var name", x.Name, x.Variable)
				notes = append(notes, fmt.Sprintf("Semaphore extract value %q -> %q (not a valid var name)", x.Name, x.Variable))
				continue
			case x.ValueSource == "header":
				set(em, "var", strNode(x.Variable))
				set(em, "header", strNode(x.Key))
			case x.ValueSource == "body" && x.BodyDataType != "string":
				set(em, "var", strNode(x.Variable))
				set(em, "body", strNode(bodyPath(x.Key)))
			default:
				c.rep.unmapped(where+".extractors", "extract value %q (the whole %s body as %s) has no equivalent", x.Name, x.BodyDataType, x.Variable)
				notes = append(notes, fmt.Sprintf("Semaphore extract value %q: whole body -> %s (no equivalent)", x.Name, x.Variable))
				continue
			}
			extractors = append(extractors, em)
		}
		if len(extractors) > 0 {
			set(m, "extractors", &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: extractors})
		}
		if len(in.Aliases) > 0 {
			c.rep.unmapped(where, "aliases %s: point their senders at /hooks/integrations/%s/%s", strings.Join(in.Aliases, ", "), c.proj, name)
			notes = append(notes, "Semaphore aliases (other URLs of this webhook): "+strings.Join(in.Aliases, ", "))
		}
		if len(in.TaskParams) > 0 {
			c.rep.unmapped(where, "task_params %s have no equivalent", compactJSON(in.TaskParams))
			notes = append(notes, "Semaphore task_params: "+compactJSON(in.TaskParams))
		}
		if in.Searchable {
			notes = append(notes, "Semaphore searchable: true (the integration is matched by the project alias).")
		}
		kn := set(f.m, name, m)
		addComment(kn, notes...)
		f.n++
	}
	return f
}

func orStr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// bodyPath turns a gojsonq path ("alerts.[0].status") into a dotted path
// ("alerts.0.status").
func bodyPath(p string) string {
	return strings.TrimPrefix(jsonqIndex.ReplaceAllString(p, ".$1"), ".")
}

var jsonqIndex = regexp.MustCompile(`\.?\[(\d+)\]`)

func compactJSON(v any) string {
	s := yamlText(v)
	return strings.ReplaceAll(s, "\n", "; ")
}

// namer makes valid, unique semaphored names within one kind.
type namer struct{ used map[string]bool }

func newNamer() *namer { return &namer{used: map[string]bool{}} }

var nonName = regexp.MustCompile(`[^a-z0-9._-]+`)

// name returns a valid name for orig not returned before: lower case,
// runs of other characters as "-", at most 63 characters, fallback when
// nothing is left, "-2", "-3", ... on a clash.
func (n *namer) name(orig, fallback string) string {
	base := cleanName(orig)
	if base == "" {
		base = fallback
	}
	cand := base
	for i := 2; n.used[cand]; i++ {
		suffix := fmt.Sprintf("-%d", i)
		cand = strings.TrimRight(cut(base, 63-len(suffix)), "-._") + suffix
	}
	n.used[cand] = true
	return cand
}

func cleanName(s string) string {
	s = nonName.ReplaceAllString(strings.ToLower(strings.TrimSpace(s)), "-")
	s = strings.TrimLeft(s, "-._")
	s = cut(s, 63)
	return strings.TrimRight(s, "-._")
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func article(s string) string {
	if strings.HasPrefix(s, "ssh") {
		return "an " + s
	}
	return "a " + s
}
