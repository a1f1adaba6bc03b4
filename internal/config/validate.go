package config

import (
	"fmt"
	"net/url"
	"path"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
)

// at returns where field (its yaml name) of the struct obj points to was
// written, or fallback when it was not.
func (l *loader) at(obj any, field string, fallback Pos) Pos {
	v := reflect.ValueOf(obj)
	if p, ok := l.fieldPos[fieldKey{v.Pointer(), v.Type().Elem(), field}]; ok {
		return p
	}
	fn, ok := l.nodes[fieldKey{v.Pointer(), v.Type().Elem(), ""}]
	if !ok {
		return fallback
	}
	n := fn.n
	if field != "" {
		if n = findValue(n, field, 0); n == nil {
			return fallback
		}
	}
	return Pos{File: fn.file, Line: n.Line, Col: n.Column}
}

// isBad reports whether field (its yaml name; "" for the object itself) of
// obj was refused while decoding, so that validation does not pile a
// second message onto the first.
func (l *loader) isBad(obj any, field string) bool {
	v := reflect.ValueOf(obj)
	return l.bad[fieldKey{v.Pointer(), v.Type().Elem(), field}]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (l *loader) validate() {
	l.validateSettings()
	for _, name := range sortedKeys(l.cfg.Projects) {
		l.validateProject(l.cfg.Projects[name])
	}
}

func (l *loader) validateSettings() {
	s := &l.cfg.Settings
	if s.MaxParallelTasks < 1 {
		l.errs.add(l.at(s, "max_parallel_tasks", s.Pos), "settings.max_parallel_tasks", "must be at least 1, got %d", s.MaxParallelTasks)
	}
	if s.Retention.KeepTasks < 0 {
		l.errs.add(l.at(&s.Retention, "keep_tasks", s.Pos), "settings.retention.keep_tasks", "must not be negative (0 means no limit), got %d", s.Retention.KeepTasks)
	}
	if s.Retention.KeepDays < 0 {
		l.errs.add(l.at(&s.Retention, "keep_days", s.Pos), "settings.retention.keep_days", "must not be negative (0 means no limit), got %d", s.Retention.KeepDays)
	}
	if s.MaxLogBytes < 1024 {
		l.errs.add(l.at(s, "max_log_bytes", s.Pos), "settings.max_log_bytes", "must be at least 1KiB, got %s", s.MaxLogBytes)
	}
	if time.Duration(s.Links.Expiry) < time.Minute {
		l.errs.add(l.at(&s.Links, "expiry", s.Pos), "settings.links.expiry", "must be at least 1m, got %s", s.Links.Expiry)
	}
	l.validateTriggerSettings(s)
	for _, name := range sortedKeys(s.APITokens) {
		t := s.APITokens[name]
		p := "settings.api_tokens." + name
		l.required(t, t.Pos, p, "token", !t.Token.IsZero(), "")
		l.required(t, t.Pos, p, "scope", t.Scope != "", " (read, run or admin)")
		for i, pr := range t.Projects {
			if _, ok := l.cfg.Projects[pr]; !ok {
				l.errs.add(l.at(t, "projects", t.Pos), fmt.Sprintf("%s.projects[%d]", p, i), "unknown project %q%s", pr, l.suggestProject(pr))
			}
		}
	}
}

// maxSuggestions bounds the "did you mean" searches of one load, so a
// tree with thousands of dangling references still loads fast.
const maxSuggestions = 200

func (l *loader) suggestProject(name string) string {
	if c := closest(name, sortedKeys(l.cfg.Projects)); c != "" {
		return fmt.Sprintf(" (did you mean %q?)", c)
	}
	return ""
}

// ref reports a reference to a missing object, suggesting a close name.
func ref[V any](l *loader, pos Pos, path, kind, name string, m map[string]V) bool {
	if _, ok := m[name]; ok {
		return true
	}
	hint := ""
	if l.suggestions < maxSuggestions {
		l.suggestions++
		if c := closest(name, sortedKeys(m)); c != "" {
			hint = fmt.Sprintf(" (did you mean %q?)", c)
		}
	}
	l.errs.add(pos, path, "unknown %s %q%s", kind, name, hint)
	return false
}

func (l *loader) validateProject(p *Project) {
	base := "projects." + p.Name
	if p.MaxParallelTasks < 0 {
		l.errs.add(l.at(p, "max_parallel_tasks", p.Pos), base+".max_parallel_tasks", "must not be negative (0 means only the global limit), got %d", p.MaxParallelTasks)
	}
	for _, n := range sortedKeys(p.Keys) {
		l.validateKey(base+".keys."+n, p.Keys[n])
	}
	for _, n := range sortedKeys(p.Repositories) {
		l.validateRepository(p, base+".repositories."+n, p.Repositories[n])
	}
	for _, n := range sortedKeys(p.Inventories) {
		l.validateInventory(p, base+".inventories."+n, p.Inventories[n])
	}
	for _, n := range sortedKeys(p.Templates) {
		l.validateTemplate(p, base+".templates."+n, p.Templates[n])
	}
	for _, n := range sortedKeys(p.Schedules) {
		l.validateSchedule(p, base+".schedules."+n, p.Schedules[n])
	}
	for _, n := range sortedKeys(p.Integrations) {
		l.validateIntegration(p, base+".integrations."+n, p.Integrations[n])
	}
	for _, n := range sortedKeys(p.Notifications) {
		l.validateNotification(p, base+".notifications."+n, p.Notifications[n])
	}
}

func (l *loader) required(obj any, pos Pos, path, key string, set bool, hint string) bool {
	if !set && !l.isBad(obj, key) {
		l.errs.add(pos, path+"."+key, "missing required key %q%s", key, hint)
	}
	return set
}

func (l *loader) notFor(obj any, pos Pos, path, key string, set bool, what string) {
	if set {
		l.errs.add(l.at(obj, key, pos), path+"."+key, "%s only applies to %s", key, what)
	}
}

func (l *loader) validateKey(path string, k *Key) {
	if l.isBad(k, "") {
		return
	}
	if !l.required(k, k.Pos, path, "type", k.Type != "", " (ssh, login_password, token or none)") {
		return
	}
	ssh, lp, tok := k.Type == KeySSH, k.Type == KeyLoginPassword, k.Type == KeyToken
	if ssh {
		l.required(k, k.Pos, path, "private_key", k.PrivateKey != nil, " for an ssh key")
	}
	if lp {
		l.required(k, k.Pos, path, "login", k.Login != "", " for a login_password key")
		l.required(k, k.Pos, path, "password", k.Password != nil, " for a login_password key")
	}
	if tok {
		l.required(k, k.Pos, path, "token", k.Token != nil, " for a token key")
	}
	l.notFor(k, k.Pos, path, "private_key", !ssh && k.PrivateKey != nil, "ssh keys")
	l.notFor(k, k.Pos, path, "passphrase", !ssh && k.Passphrase != nil, "ssh keys")
	l.notFor(k, k.Pos, path, "known_hosts", !ssh && k.KnownHosts != "", "ssh keys")
	l.notFor(k, k.Pos, path, "insecure_ignore_host_key", !ssh && k.InsecureIgnoreHostKey, "ssh keys")
	l.notFor(k, k.Pos, path, "login", !lp && k.Login != "", "login_password keys")
	l.notFor(k, k.Pos, path, "password", !lp && k.Password != nil, "login_password keys")
	l.notFor(k, k.Pos, path, "token", !tok && k.Token != nil, "token keys")
	l.notFor(k, k.Pos, path, "user", k.Type == KeyNone && k.User != "", "ssh, login_password and token keys")
}

// ForgeRepo returns the "owner/name" the repository's forge knows it by:
// Forge.Repo when set, or the path of the URL without ".git".
func (r *Repository) ForgeRepo() string {
	if r.Forge != nil && r.Forge.Repo != "" {
		return r.Forge.Repo
	}
	var p string
	switch ClassifyURL(r.URL) {
	case URLHTTP, URLSSH:
		if u, err := url.Parse(r.URL); err == nil && u.Host != "" {
			p = u.Path
		} else if _, after, ok := strings.Cut(r.URL, ":"); ok {
			p = after
		}
	default:
		return ""
	}
	p = strings.TrimSuffix(strings.Trim(p, "/"), ".git")
	if !strings.Contains(p, "/") {
		return ""
	}
	return p
}

func (l *loader) validateRepository(p *Project, path string, r *Repository) {
	if l.isBad(r, "") {
		return
	}
	kind := URLInvalid
	if l.required(r, r.Pos, path, "url", r.URL != "", "") {
		kind = ClassifyURL(r.URL)
		if kind == URLInvalid {
			l.errs.add(l.at(r, "url", r.Pos), path+".url", "invalid url %q: write https://, http://, ssh://, file://, scp-like user@host:path, or a local path (absolute, \".\", \"./...\" or \"../...\")", r.URL)
		}
	}
	if r.Branch == "" {
		r.Branch = "main"
	}
	if r.Key != "" && ref(l, l.at(r, "key", r.Pos), path+".key", "key", r.Key, p.Keys) {
		k := p.Keys[r.Key]
		switch {
		case kind == URLSSH && k.Type != KeySSH && k.Type != KeyNone:
			l.errs.add(l.at(r, "key", r.Pos), path+".key", "key %q is of type %s; an ssh url needs an ssh key", r.Key, k.Type)
		case kind == URLHTTP && k.Type == KeySSH:
			l.errs.add(l.at(r, "key", r.Pos), path+".key", "key %q is of type ssh; an http(s) url needs a login_password or token key", r.Key)
		}
	}
	if f := r.Forge; f != nil {
		fp := path + ".forge"
		if !l.required(f, f.Pos, fp, "type", f.Type != "", " (github, gitlab or gitea)") {
			return
		}
		if f.APIURL == "" {
			if f.Type == ForgeGitHub {
				f.APIURL = "https://api.github.com"
			} else {
				l.errs.add(f.Pos, fp+".api_url", "missing required key \"api_url\" for a %s forge", f.Type)
			}
		} else if u, err := url.Parse(f.APIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			l.errs.add(l.at(f, "api_url", f.Pos), fp+".api_url", "invalid api_url %q: must be an http(s) URL", f.APIURL)
		}
		if f.Repo != "" {
			if strings.Count(f.Repo, "/") < 1 || strings.HasPrefix(f.Repo, "/") || strings.HasSuffix(f.Repo, "/") {
				l.errs.add(l.at(f, "repo", f.Pos), fp+".repo", "invalid repo %q: write owner/name", f.Repo)
			}
		} else if kind != URLInvalid {
			if f.Repo = r.ForgeRepo(); f.Repo == "" {
				l.errs.add(f.Pos, fp+".repo", "missing key \"repo\": cannot derive owner/name from url %q", r.URL)
			}
		}
	}
}

func (l *loader) keyOfType(p *Project, obj any, pos Pos, path, field, name string, want KeyType) {
	if name == "" || !ref(l, l.at(obj, field, pos), path+"."+field, "key", name, p.Keys) {
		return
	}
	if k := p.Keys[name]; k.Type != want && k.Type != "" {
		l.errs.add(l.at(obj, field, pos), path+"."+field, "key %q is of type %s; %s needs %s key", name, k.Type, field, article(string(want)))
	}
}

func (l *loader) relPath(obj any, pos Pos, path, field, val string) {
	if val == "" {
		return
	}
	c := strings.ReplaceAll(val, "\\", "/")
	if strings.HasPrefix(c, "/") || path2Escapes(c) {
		l.errs.add(l.at(obj, field, pos), path+"."+field, "%q must be a relative path inside the repository", val)
	}
}

func path2Escapes(p string) bool {
	c := path.Clean(p)
	return c == ".." || strings.HasPrefix(c, "../")
}

func (l *loader) validateInventory(p *Project, path string, inv *Inventory) {
	if l.isBad(inv, "") {
		return
	}
	if !l.required(inv, inv.Pos, path, "type", inv.Type != "", " (static, static_yaml, file or none)") {
		return
	}
	static := inv.Type == InventoryStatic || inv.Type == InventoryStaticYAML
	if static {
		l.required(inv, inv.Pos, path, "static", inv.Static != "", " for a "+string(inv.Type)+" inventory")
	}
	if inv.Type == InventoryStaticYAML && inv.Static != "" {
		var v any
		if err := yaml.Unmarshal([]byte(inv.Static), &v); err != nil {
			l.errs.add(l.at(inv, "static", inv.Pos), path+".static", "static_yaml text is not valid YAML: %s", strings.TrimPrefix(err.Error(), "yaml: "))
		} else if _, ok := v.(map[string]any); !ok {
			l.errs.add(l.at(inv, "static", inv.Pos), path+".static", "static_yaml text must be a YAML mapping of groups")
		}
	}
	if inv.Type == InventoryFile {
		l.required(inv, inv.Pos, path, "path", inv.Path != "", " for a file inventory")
		l.relPath(inv, inv.Pos, path, "path", inv.Path)
		if inv.Repository != "" {
			ref(l, l.at(inv, "repository", inv.Pos), path+".repository", "repository", inv.Repository, p.Repositories)
		}
	}
	l.notFor(inv, inv.Pos, path, "static", !static && inv.Static != "", "static and static_yaml inventories")
	l.notFor(inv, inv.Pos, path, "path", inv.Type != InventoryFile && inv.Path != "", "file inventories")
	l.notFor(inv, inv.Pos, path, "repository", inv.Type != InventoryFile && inv.Repository != "", "file inventories")
	l.keyOfType(p, inv, inv.Pos, path, "ssh_key", inv.SSHKey, KeySSH)
	l.keyOfType(p, inv, inv.Pos, path, "become_key", inv.BecomeKey, KeyLoginPassword)
}

// presetDefaults sets the defaults an explicit zero must be able to
// override (so that "concurrency: 0" is caught rather than defaulted).
func (t *Template) presetDefaults() { t.Concurrency = 1 }

func isTF(a App) bool { return a == AppTerraform || a == AppTofu }

func (l *loader) validateTemplate(p *Project, path string, t *Template) {
	if l.isBad(t, "") {
		return
	}
	if t.Timeout == 0 {
		t.Timeout = Duration(time.Hour)
	}
	if t.Directory == "" {
		t.Directory = "."
	}
	if t.Concurrency < 1 {
		l.errs.add(l.at(t, "concurrency", t.Pos), path+".concurrency", "must be at least 1, got %d", t.Concurrency)
	}
	if t.Repository != "" {
		ref(l, l.at(t, "repository", t.Pos), path+".repository", "repository", t.Repository, p.Repositories)
	} else {
		l.required(t, t.Pos, path, "repository", false, "")
	}
	if t.Inventory != "" {
		ref(l, l.at(t, "inventory", t.Pos), path+".inventory", "inventory", t.Inventory, p.Inventories)
	}
	if t.Environment != "" {
		ref(l, l.at(t, "environment", t.Pos), path+".environment", "environment", t.Environment, p.Environments)
	}
	l.relPath(t, t.Pos, path, "playbook", t.Playbook)
	l.relPath(t, t.Pos, path, "script", t.Script)
	l.relPath(t, t.Pos, path, "directory", t.Directory)
	if t.Ansible != nil {
		l.relPath(t.Ansible, t.Pos, path+".ansible", "requirements", t.Ansible.Requirements)
	}
	if t.Terraform != nil {
		for _, f := range t.Terraform.VarFiles {
			l.relPath(t.Terraform, t.Pos, path+".terraform", "var_files", f)
		}
	}
	l.validateTriggers(p, path+".triggers", t)
	if !l.required(t, t.Pos, path, "app", t.App != "", " (ansible, terraform, tofu, bash, python or powershell)") {
		return
	}
	ansible := t.App == AppAnsible
	script := t.App == AppBash || t.App == AppPython || t.App == AppPowerShell
	if ansible {
		l.required(t, t.Pos, path, "playbook", t.Playbook != "", " for an ansible template")
	}
	if script {
		l.required(t, t.Pos, path, "script", t.Script != "", " for a "+string(t.App)+" template")
	}
	l.notFor(t, t.Pos, path, "playbook", !ansible && t.Playbook != "", "ansible templates")
	l.notFor(t, t.Pos, path, "script", !script && t.Script != "", "bash, python and powershell templates")
	l.notFor(t, t.Pos, path, "inventory", !ansible && t.Inventory != "", "ansible templates")
	l.notFor(t, t.Pos, path, "ansible", !ansible && t.Ansible != nil, "ansible templates")
	l.notFor(t, t.Pos, path, "terraform", !isTF(t.App) && t.Terraform != nil, "terraform and tofu templates")
	for i, o := range t.AllowOverrides {
		op := fmt.Sprintf("%s.allow_overrides[%d]", path, i)
		switch {
		case (o == OverrideLimit || o == OverrideTags || o == OverrideSkipTags) && !ansible:
			l.errs.add(l.at(t, "allow_overrides", t.Pos), op, "override %q only applies to ansible templates", o)
		case o == OverrideWorkspace && !isTF(t.App):
			l.errs.add(l.at(t, "allow_overrides", t.Pos), op, "override %q only applies to terraform and tofu templates", o)
		}
	}
	if pr := t.Triggers.PullRequest; pr != nil {
		want := PRModeCheck
		if isTF(t.App) {
			want = PRModePlan
		}
		switch {
		case pr.Mode == "":
			pr.Mode = want
		case pr.Mode != want:
			l.errs.add(l.at(pr, "mode", t.Pos), path+".triggers.pull_request.mode", "mode %q does not apply to %s templates; use %q", pr.Mode, t.App, want)
		}
	}
}

func (l *loader) validateTriggers(p *Project, path string, t *Template) {
	tr := &t.Triggers
	globs := func(obj any, tp, field string, pats []string) {
		for i, g := range pats {
			if err := CheckGlob(g); err != nil {
				l.errs.add(l.at(obj, field, t.Pos), fmt.Sprintf("%s.%s[%d]", tp, field, i), "%v", err)
			}
		}
	}
	if tr.Push != nil {
		globs(tr.Push, path+".push", "branches", tr.Push.Branches)
		globs(tr.Push, path+".push", "paths", tr.Push.Paths)
		globs(tr.Push, path+".push", "tags", tr.Push.Tags)
	}
	if tr.PullRequest != nil {
		globs(tr.PullRequest, path+".pull_request", "branches", tr.PullRequest.Branches)
		globs(tr.PullRequest, path+".pull_request", "paths", tr.PullRequest.Paths)
	}
	if s := tr.Schedule; s != nil {
		sp := path + ".schedule"
		if s.Timezone == "" {
			s.Timezone = "UTC"
		}
		defaultOverlap(&s.Overlap, &s.CatchUp)
		l.checkCron(s, t.Pos, sp, s.Cron, s.Timezone)
	}
}

// cronParser accepts the standard 5-field spec and @daily-style
// descriptors (also @every DURATION).
func cronParser() cron.Parser {
	return cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
}

// ParseSchedule parses a cron spec as the loader validated it (5 fields or
// a descriptor such as @daily) in the named timezone ("" is UTC).
func ParseSchedule(spec, timezone string) (cron.Schedule, error) {
	if timezone == "" {
		timezone = "UTC"
	}
	loc, err := time.LoadLocation(timezone)
	if err != nil {
		return nil, fmt.Errorf("parse schedule: unknown timezone %q", timezone)
	}
	if strings.HasPrefix(strings.TrimSpace(spec), "CRON_TZ=") || strings.HasPrefix(strings.TrimSpace(spec), "TZ=") {
		return nil, fmt.Errorf("parse schedule %q: write the timezone in the timezone key, not in the spec", spec)
	}
	s, err := cronParser().Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("parse schedule %q: %w", spec, err)
	}
	if ss, ok := s.(*cron.SpecSchedule); ok {
		ss.Location = loc
	}
	return s, nil
}

func (l *loader) checkCron(obj any, fallback Pos, path, spec, tz string) {
	if spec == "" {
		l.errs.add(fallback, path+".cron", "missing required key \"cron\"")
	} else if strings.HasPrefix(strings.TrimSpace(spec), "CRON_TZ=") || strings.HasPrefix(strings.TrimSpace(spec), "TZ=") {
		l.errs.add(l.at(obj, "cron", fallback), path+".cron", "invalid cron %q: write the timezone in the timezone key, not in the spec", spec)
	} else if _, err := cronParser().Parse(spec); err != nil {
		l.errs.add(l.at(obj, "cron", fallback), path+".cron", "invalid cron %q: %v (write 5 fields \"min hour dom month dow\" or @hourly, @daily, @weekly, @monthly, @yearly, @every DURATION)", spec, err)
	}
	err, seen := l.tzCache[tz]
	if !seen {
		_, err = time.LoadLocation(tz)
		l.tzCache[tz] = err
	}
	if err != nil || tz == "Local" {
		l.errs.add(l.at(obj, "timezone", fallback), path+".timezone", "unknown timezone %q: write an IANA name such as UTC or Europe/Berlin", tz)
	}
}

func (l *loader) validateSchedule(p *Project, path string, s *Schedule) {
	if l.isBad(s, "") {
		return
	}
	if s.Timezone == "" {
		s.Timezone = "UTC"
	}
	if s.Active == nil {
		t := true
		s.Active = &t
	}
	defaultOverlap(&s.Overlap, &s.CatchUp)
	l.checkCron(s, s.Pos, path, s.Cron, s.Timezone)
	if l.required(s, s.Pos, path, "template", s.Template != "", "") {
		ref(l, l.at(s, "template", s.Pos), path+".template", "template", s.Template, p.Templates)
	}
}

func validVarName(s string) bool { return validEnvName(s) }

func (l *loader) validateIntegration(p *Project, path string, in *Integration) {
	if l.isBad(in, "") {
		return
	}
	if l.required(in, in.Pos, path, "template", in.Template != "", "") {
		ref(l, l.at(in, "template", in.Pos), path+".template", "template", in.Template, p.Templates)
	}
	a := &in.Auth
	ap := path + ".auth"
	switch a.Type {
	case "":
		if !l.isBad(in, "auth") {
			l.required(a, l.at(in, "auth", in.Pos), ap, "type", false, " (hmac, token or none)")
		}
	case IntegrationAuthHMAC, IntegrationAuthToken:
		l.required(a, l.at(in, "auth", in.Pos), ap, "header", a.Header != "", " for "+string(a.Type)+" auth")
		l.required(a, l.at(in, "auth", in.Pos), ap, "secret", a.Secret != nil, " for "+string(a.Type)+" auth")
	case IntegrationAuthNone:
		l.notFor(a, l.at(in, "auth", in.Pos), ap, "header", a.Header != "", "hmac and token auth")
		l.notFor(a, l.at(in, "auth", in.Pos), ap, "secret", a.Secret != nil, "hmac and token auth")
	}
	for i := range in.Matchers {
		m := &in.Matchers[i]
		if (m.Header == "") == (m.Body == "") {
			l.errs.add(l.at(m, "", in.Pos), fmt.Sprintf("%s.matchers[%d]", path, i), "a matcher takes exactly one of header or body")
		}
		l.validateMatcherOp(m, in.Pos, fmt.Sprintf("%s.matchers[%d]", path, i))
	}
	for i := range in.Extractors {
		e := &in.Extractors[i]
		where := l.at(e, "", in.Pos)
		ep := fmt.Sprintf("%s.extractors[%d]", path, i)
		if e.Var == "" {
			l.errs.add(where, ep+".var", "missing required key \"var\"")
		} else if !validVarName(e.Var) {
			l.errs.add(l.at(e, "var", where), ep+".var", "invalid var name %q: must match ^[A-Za-z_][A-Za-z0-9_]*$", e.Var)
		}
		if (e.Header == "") == (e.Body == "") {
			l.errs.add(where, ep, "an extractor takes exactly one of header or body")
		}
	}
}

func article(s string) string {
	if s != "" && strings.ContainsRune("aeiou", rune(s[0])) || strings.HasPrefix(s, "ssh") {
		return "an " + s
	}
	return "a " + s
}
