package importer

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/sync"
)

var update = flag.Bool("update", false, "rewrite the golden trees in testdata/golden")

// importFile parses and converts one test backup.
func importFile(t *testing.T, path string) *Result {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseSemaphore(data)
	if err != nil {
		t.Fatalf("ParseSemaphore(%s): %v", path, err)
	}
	res, err := Convert(b)
	if err != nil {
		t.Fatalf("Convert(%s): %v", path, err)
	}
	return res
}

// TestGolden converts every backup in testdata/good, compares the tree
// with testdata/golden/NAME, loads it with the config loader, and checks
// that plan creates every object the report counts.
func TestGolden(t *testing.T) {
	backups, err := filepath.Glob("testdata/good/*.json")
	if err != nil || len(backups) == 0 {
		t.Fatalf("no test backups: %v", err)
	}
	for _, path := range backups {
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			res := importFile(t, path)
			out := t.TempDir()
			if err := res.Write(out, false); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "golden", name)
			if *update {
				if err := os.RemoveAll(golden); err != nil {
					t.Fatal(err)
				}
				if err := os.CopyFS(golden, os.DirFS(out)); err != nil {
					t.Fatal(err)
				}
			}
			compareTrees(t, out, golden)

			cfg, err := config.Load(out, config.LoadOptions{})
			if err != nil {
				t.Fatalf("config.Load of the imported tree:\n%v", err)
			}
			p := cfg.Projects[res.Project]
			if p == nil {
				t.Fatalf("project %q not in the loaded config (have %v)", res.Project, cfg.Projects)
			}

			changes, _, err := sync.Plan(context.Background(), &sync.DirSource{Dir: out}, nil, config.LoadOptions{})
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			creates := map[state.Kind]int{}
			for _, c := range changes {
				if c.Op != state.OpCreate {
					t.Errorf("plan against an empty state: got %s %v, want only creates", c.Op, c.Key)
				}
				if c.Key.Project != res.Project && c.Key.Kind != state.KindProject && c.Key.Kind != state.KindSettings {
					t.Errorf("plan: %v is outside project %s", c.Key, res.Project)
				}
				creates[c.Key.Kind]++
			}
			if creates[state.KindProject] != 1 {
				t.Errorf("plan creates %d projects, want 1", creates[state.KindProject])
			}
			for _, cnt := range res.Report.Counts {
				if got := creates[state.Kind(cnt.Kind)]; got != cnt.N {
					t.Errorf("plan creates %d %s objects, report counts %d", got, cnt.Kind, cnt.N)
				}
			}
			// Every {env: NAME} the files use is in the report, and the
			// other way round.
			refs := envRefs(p)
			var reported []string
			for _, v := range res.Report.Variables {
				reported = append(reported, v.Name)
			}
			slices.Sort(refs)
			refs = slices.Compact(refs)
			if !slices.Equal(refs, reported) {
				t.Errorf("env references in the tree %v, report lists %v", refs, reported)
			}
		})
	}
}

// envRefs lists the {env: NAME} references of a project.
func envRefs(p *config.Project) []string {
	var out []string
	add := func(s *config.Secret) {
		if s != nil && s.Env != "" {
			out = append(out, s.Env)
		}
	}
	for _, k := range p.Keys {
		add(k.PrivateKey)
		add(k.Passphrase)
		add(k.Password)
		add(k.Token)
	}
	for _, t := range p.Templates {
		if t.Ansible != nil {
			add(t.Ansible.VaultPassword)
		}
	}
	for _, in := range p.Integrations {
		add(in.Auth.Secret)
	}
	for _, e := range p.Environments {
		for _, s := range e.Secrets.Env {
			add(&s)
		}
	}
	return out
}

func compareTrees(t *testing.T, got, want string) {
	t.Helper()
	list := func(dir string) []string {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatalf("%v (run with -update to create the golden tree)", err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}
	gotNames, wantNames := list(got), list(want)
	if !slices.Equal(gotNames, wantNames) {
		t.Errorf("files: got %v, want %v", gotNames, wantNames)
	}
	for _, n := range gotNames {
		g, _ := os.ReadFile(filepath.Join(got, n))
		w, err := os.ReadFile(filepath.Join(want, n))
		if err != nil {
			continue
		}
		if !bytes.Equal(g, w) {
			t.Errorf("%s differs from %s (run with -update if the change is intended):\n--- got\n%s", n, filepath.Join(want, n), g)
		}
	}
}

// TestFullBackupMapping checks, on the backup that covers every kind and
// type, what the golden files cannot say on their own: the mapping of
// each Semaphore concept.
func TestFullBackupMapping(t *testing.T) {
	res := importFile(t, "testdata/good/full.json")
	out := t.TempDir()
	if err := res.Write(out, false); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(out, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Projects["acme-infra"]
	if p == nil {
		t.Fatalf("project acme-infra missing; have %v", cfg.Projects)
	}
	if p.Description != "Acme Infra" || p.MaxParallelTasks != 3 {
		t.Errorf("project: got description %q max_parallel_tasks %d, want \"Acme Infra\" 3", p.Description, p.MaxParallelTasks)
	}

	keyTypes := map[string]config.KeyType{}
	for n, k := range p.Keys {
		keyTypes[n] = k.Type
	}
	wantKeys := map[string]config.KeyType{
		"deploy-key": config.KeySSH, "github-token": config.KeyLoginPassword, "none": config.KeyNone,
		"vault-pass": config.KeyToken, "become": config.KeyLoginPassword, "webhook-secret": config.KeyLoginPassword,
	}
	if !maps.Equal(keyTypes, wantKeys) {
		t.Errorf("keys: got %v, want %v", keyTypes, wantKeys)
	}
	if got := p.Keys["deploy-key"].PrivateKey; got == nil || got.Env != "ACME_INFRA_DEPLOY_KEY_PRIVATE_KEY" {
		t.Errorf("deploy-key private_key: got %v, want {env: ACME_INFRA_DEPLOY_KEY_PRIVATE_KEY}", got)
	}

	invTypes := map[string]config.InventoryType{}
	for n, i := range p.Inventories {
		invTypes[n] = i.Type
	}
	wantInv := map[string]config.InventoryType{
		"production": config.InventoryStatic, "staging-yaml": config.InventoryStaticYAML,
		"from-repo": config.InventoryFile, "password-hosts": config.InventoryStatic, "empty": config.InventoryNone,
	}
	if !maps.Equal(invTypes, wantInv) {
		t.Errorf("inventories: got %v, want %v", invTypes, wantInv)
	}
	if inv := p.Inventories["production"]; inv.SSHKey != "deploy-key" || inv.BecomeKey != "become" {
		t.Errorf("production keys: got ssh %q become %q, want deploy-key become", inv.SSHKey, inv.BecomeKey)
	}
	if inv := p.Inventories["staging-yaml"]; inv.SSHKey != "" {
		t.Errorf("a Semaphore none key must become no ssh_key, got %q", inv.SSHKey)
	}

	tests := []struct {
		name, app, repo, playbook, script, dir, inv, env, workspace string
	}{
		{"deploy-web", "ansible", "playbooks", "site.yml", "", ".", "production", "prod", ""},
		{"build-app", "ansible", "playbooks-develop", "build.yml", "", ".", "from-repo", "", ""},
		{"deploy-app", "ansible", "playbooks", "deploy.yml", "", ".", "staging-yaml", "", ""},
		{"network-plan", "terraform", "infra", "", "", "network", "", "prod", "production"},
		{"tofu-dns", "tofu", "infra", "", "", ".", "", "", "staging"},
		{"cleanup", "bash", "scripts", "", "scripts/cleanup.sh", ".", "", "", ""},
		{"report", "python", "local", "", "report.py", ".", "", "empty", ""},
		{"legacy", "ansible", "playbooks", "legacy.yml", "", ".", "", "legacy-vault", ""},
	}
	for _, tt := range tests {
		tp := p.Templates[tt.name]
		if tp == nil {
			t.Errorf("template %s missing", tt.name)
			continue
		}
		ws := ""
		if tp.Terraform != nil {
			ws = tp.Terraform.Workspace
		}
		got := []string{string(tp.App), tp.Repository, tp.Playbook, tp.Script, tp.Directory, tp.Inventory, tp.Environment, ws}
		want := []string{tt.app, tt.repo, tt.playbook, tt.script, tt.dir, tt.inv, tt.env, tt.workspace}
		if !slices.Equal(got, want) {
			t.Errorf("template %s: got app,repo,playbook,script,dir,inventory,env,workspace %q, want %q", tt.name, got, want)
		}
	}
	if _, ok := p.Templates["pulumi-stack"]; ok {
		t.Error("a pulumi template has no runner: it must be kept as a comment, not declared")
	}
	dw := p.Templates["deploy-web"]
	if !slices.Equal(dw.Arguments, []string{"--diff", "-v"}) {
		t.Errorf("deploy-web arguments: got %q", dw.Arguments)
	}
	if !slices.Equal(dw.AllowOverrides, []config.Override{config.OverrideArguments, config.OverrideVars}) {
		t.Errorf("deploy-web allow_overrides: got %v, want [arguments vars]", dw.AllowOverrides)
	}
	if dw.Ansible == nil || dw.Ansible.VaultPassword == nil || dw.Ansible.VaultPassword.Env != "ACME_INFRA_VAULT_PASS_TOKEN" {
		t.Errorf("deploy-web vault_password: got %+v, want {env: ACME_INFRA_VAULT_PASS_TOKEN}", dw.Ansible)
	}
	if dw.Description != "Deploy Web: Rolls out the web tier" {
		t.Errorf("renamed template keeps its name in the description: got %q", dw.Description)
	}
	if r := p.Repositories["playbooks-develop"]; r == nil || r.Branch != "develop" || r.Key != "deploy-key" {
		t.Errorf("branch variant repository: got %+v", r)
	}
	if r := p.Repositories["infra"]; r.Key != "github-token" || r.Branch != "master" {
		t.Errorf("infra: got key %q branch %q", r.Key, r.Branch)
	}
	env := p.Environments["prod"]
	if fmt.Sprint(env.Vars["replicas"]) != "3" || env.Env["DEBUG"] != "0" || env.Env["AWS_REGION"] != "eu-central-1" {
		t.Errorf("prod environment: got vars %v env %v", env.Vars, env.Env)
	}
	if _, ok := env.Env["bad-name"]; ok {
		t.Error("an invalid variable name must not be declared")
	}

	scheds := map[string]string{}
	for n, s := range p.Schedules {
		scheds[n] = s.Template + " " + s.Cron
	}
	wantScheds := map[string]string{"deploy-web": "deploy-web 0 3 * * *", "network-plan": "network-plan @daily", "cleanup": "cleanup */15 * * * *"}
	if !maps.Equal(scheds, wantScheds) {
		t.Errorf("schedules: got %v, want %v", scheds, wantScheds)
	}

	am := p.Integrations["alertmanager"]
	if am == nil {
		t.Fatal("integration alertmanager missing")
	}
	if am.Template != "cleanup" || am.Auth.Type != config.IntegrationAuthToken || am.Auth.Header != "X-Token" || am.Auth.Secret.Env != "ACME_INFRA_WEBHOOK_SECRET_PASSWORD" {
		t.Errorf("alertmanager: got template %q auth %+v", am.Template, am.Auth)
	}
	wantM := []config.Matcher{{Body: "alerts.0.status", Equals: "firing"}, {Header: "User-Agent", Equals: "Alertmanager/0.27"}}
	if !slices.Equal(am.Matchers, wantM) {
		t.Errorf("matchers: got %+v, want %+v", am.Matchers, wantM)
	}
	wantE := []config.Extractor{{Var: "alertname", Body: "commonLabels.alertname"}, {Var: "request_id", Header: "X-Request-Id"}}
	if !slices.Equal(am.Extractors, wantE) {
		t.Errorf("extractors: got %+v, want %+v", am.Extractors, wantE)
	}
	gh := p.Integrations["github-push"]
	if gh.Auth.Type != config.IntegrationAuthHMAC || gh.Auth.Header != "X-Hub-Signature-256" || gh.Auth.Secret.Env != "ACME_INFRA_GITHUB_PUSH_SECRET" {
		t.Errorf("github-push auth: got %+v", gh.Auth)
	}
	if _, ok := p.Integrations["pulumi-hook"]; ok {
		t.Error("an integration of a template not imported must be kept as a comment")
	}

	// Everything without an equivalent is reported and kept as a comment.
	var report bytes.Buffer
	if err := res.Report.WriteText(&report); err != nil {
		t.Fatal(err)
	}
	files := readAll(t, out)
	for _, want := range []struct{ report, file string }{
		{`template type "build"`, `Semaphore template type "build", start_version "1.0.0"`},
		{`type "deploy"`, `build_template build-app, autorun`},
		{"survey variables version, color", "Semaphore survey variables"},
		{"views have no equivalent", "Semaphore views"},
		{"aliases a1b2c3", "a1b2c3"},
		{"proj-alias-1", "proj-alias-1"},
		{`app "pulumi" has no semaphored runner`, "pulumi-stack (Semaphore \"Pulumi stack\")"},
		{`matcher "not resolved"`, `Semaphore matcher "not resolved"`},
		{`matcher "raw"`, `Semaphore matcher "raw"`},
		{`extract value "whole body"`, `Semaphore extract value "whole body"`},
		{`"bad-var"`, `"bad-var"`},
		{`file inventory path "/etc/ansible/hosts"`, "/etc/ansible/hosts"},
		{`cron "61 * * * *"`, `61 * * * *`},
		{`key "github-token" is of type login_password`, "password-hosts"},
		{"suppress_success_alerts", "suppress_success_alerts"},
		{"task_params", "task_params"},
		{`extra vault "db"`, `Semaphore vault "db"`},
		{"alerts were on", "Semaphore alerts"},
		{"vault password (deprecated", "Semaphore environment password"},
		{`"bad-name" is not a valid environment variable name`, `env "bad-name"`},
		{"environments.prod.vars.db_password: looks like a secret written in clear", "db_password"},
		{"inventories.password-hosts.static: the inventory text sets a password in clear", "ansible_password"},
	} {
		if !strings.Contains(report.String(), want.report) {
			t.Errorf("report lacks %q", want.report)
		}
		if !strings.Contains(files, want.file) {
			t.Errorf("files lack the comment %q", want.file)
		}
	}
	for _, v := range []string{"ACME_INFRA_DEPLOY_KEY_PRIVATE_KEY", "ACME_INFRA_GITHUB_TOKEN_PASSWORD", "ACME_INFRA_VAULT_PASS_TOKEN", "ACME_INFRA_BECOME_PASSWORD", "ACME_INFRA_WEBHOOK_SECRET_PASSWORD", "ACME_INFRA_GITHUB_PUSH_SECRET"} {
		if !strings.Contains(report.String(), v) {
			t.Errorf("report does not ask for %s", v)
		}
	}
	if strings.Contains(files+report.String(), "do-not-print-me") {
		t.Error("the environment's vault password reached the output")
	}
}

func readAll(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return b.String()
}

// TestSchedulesSection checks the schedules section of newer backups
// beside the cron of each template, counted once.
func TestSchedulesSection(t *testing.T) {
	res := importFile(t, "testdata/good/schedules.json")
	out := t.TempDir()
	if err := res.Write(out, false); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(out, config.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for n, s := range cfg.Projects["nightly"].Schedules {
		got[n] = fmt.Sprintf("%s %s active=%t", s.Template, s.Cron, *s.Active)
	}
	want := map[string]string{
		"nightly-db-backup":        "backup-db 0 2 * * * active=true",
		"weekend-db-backup-paused": "backup-db 0 6 * * 6 active=false",
		"rotate-logs":              "rotate-logs @hourly active=true",
		"rotate-logs-2":            "rotate-logs 30 4 * * 0 active=true",
	}
	if !maps.Equal(got, want) {
		t.Errorf("schedules: got %v, want %v", got, want)
	}
	var report bytes.Buffer
	res.Report.WriteText(&report)
	if !strings.Contains(report.String(), `schedules.stack-refresh: its template "stack" was not imported`) {
		t.Errorf("the schedule of a template not imported is not reported:\n%s", report.String())
	}
}

// TestNames checks that names become valid and unique and that fields the
// importer does not know are reported.
func TestNames(t *testing.T) {
	res := importFile(t, "testdata/good/names.json")
	if res.Project != "ops-quipe-1" {
		t.Errorf("project: got %q, want ops-quipe-1", res.Project)
	}
	var renames []string
	for _, r := range res.Report.Renamed {
		renames = append(renames, r.Kind+":"+r.To)
	}
	want := []string{
		"key:key", "key:key-2", "key:key-3", "key:key-4",
		"repository:repo-main", "inventory:none-inv",
		"template:run-it-2", "template:run-it", "template:run-it-3",
		"template:a-very-long-template-name-that-certainly-goes-past-the-sixty-th",
		"template:a-very-long-template-name-that-certainly-goes-past-the-sixty-2",
		"project:ops-quipe-1",
	}
	slices.Sort(renames)
	slices.Sort(want)
	if !slices.Equal(renames, want) {
		t.Errorf("renames: got %v, want %v", renames, want)
	}
	var unknown []string
	for _, n := range res.Report.Unmapped {
		if strings.Contains(n.What, "not known to the importer") {
			unknown = append(unknown, n.Where)
		}
	}
	if !slices.Equal(unknown, []string{"$.meta.api_token", "$.meta.future_field", "$.templates[0].newer_field"}) {
		t.Errorf("unknown fields reported: got %v", unknown)
	}
	// An unknown field that may be a secret is listed without its value.
	var report bytes.Buffer
	res.Report.WriteText(&report)
	var files strings.Builder
	for _, f := range res.Files {
		files.Write(f.Data)
	}
	if out := report.String() + files.String(); strings.Contains(out, "tok-123") || !strings.Contains(out, "$.meta.api_token: field not known to the importer (value <9 bytes, not shown") {
		t.Errorf("the value of $.meta.api_token: got\n%s", out)
	}
}

// TestMalformed checks that a malformed backup is refused with the JSON
// path of the problem.
func TestMalformed(t *testing.T) {
	tests := []struct {
		name, json, want string
	}{
		{"not json", `{"meta": `, "$: invalid JSON at line 1, column 9"},
		{"array", `[]`, "$: want an object, got an array"},
		{"empty", ``, "$: empty document"},
		{"no meta", `{}`, "$.meta.name: missing project name"},
		{"meta type", `{"meta": "x"}`, "$.meta: want an object, got a string"},
		{"name type", `{"meta": {"name": 5}}`, "$.meta.name: want a string, got a number"},
		{"templates type", `{"meta": {"name": "p"}, "templates": {}}`, "$.templates: want an array, got an object"},
		{"template null", `{"meta": {"name": "p"}, "templates": [null]}`, "$.templates[0]: want an object, got null"},
		{"template field", `{"meta": {"name": "p"}, "repositories": [{"name": "r", "git_url": "/r"}], "templates": [{"name": "t", "repository": "r"}, {"name": "u", "repository": "r", "arguments": ["-v"]}]}`, "$.templates[1].arguments: want a string, got an array"},
		{"arguments json", `{"meta": {"name": "p"}, "repositories": [{"name": "r", "git_url": "/r"}], "templates": [{"name": "t", "repository": "r", "arguments": "-v"}]}`, `$.templates[0].arguments: want a JSON array of strings`},
		{"matcher", `{"meta": {"name": "p"}, "integrations": [{"name": "i", "matchers": [{"key": "a"}, {"key": 1}]}]}`, "$.integrations[0].matchers[1].key: want a string, got a number"},
		{"survey values", `{"meta": {"name": "p"}, "repositories": [{"name": "r", "git_url": "/r"}], "templates": [{"name": "t", "repository": "r", "survey_vars": [{"name": "v", "values": "x"}]}]}`, "$.templates[0].survey_vars[0].values: want an array"},
		{"bad ref", `{"meta": {"name": "p"}, "repositories": [{"name": "r", "git_url": "/r"}], "templates": [{"name": "t", "repository": "nope"}]}`, `$.templates[0].repository: no repository named "nope" in $.repositories`},
		{"bad inventory ref", `{"meta": {"name": "p"}, "repositories": [{"name": "r", "git_url": "/r"}], "templates": [{"name": "t", "repository": "r", "inventory": "x"}]}`, `$.templates[0].inventory: no inventory named "x" in $.inventories`},
		{"bad key ref", `{"meta": {"name": "p"}, "repositories": [{"name": "r", "git_url": "/r", "ssh_key": "k"}]}`, `$.repositories[0].ssh_key: no key named "k" in $.keys`},
		{"duplicate", `{"meta": {"name": "p"}, "keys": [{"name": "k", "type": "none"}, {"name": "k", "type": "none"}]}`, `$.keys[1].name: duplicate name "k" in $.keys`},
		{"key type", `{"meta": {"name": "p"}, "keys": [{"name": "k", "type": "pgp"}]}`, `$.keys[0].type: unknown key type "pgp"`},
		{"inventory type", `{"meta": {"name": "p"}, "inventories": [{"name": "i", "type": "dynamic"}]}`, `$.inventories[0].type: unknown inventory type "dynamic"`},
		{"env json", `{"meta": {"name": "p"}, "environments": [{"name": "e", "json": "{nope"}]}`, "$.environments[0].json: extra variables: not valid JSON"},
		{"env env", `{"meta": {"name": "p"}, "environments": [{"name": "e", "json": "{}", "env": "[1]"}]}`, "$.environments[0].env: environment variables: want a JSON object, got an array"},
		{"view title", `{"meta": {"name": "p"}, "views": [{"position": 1}]}`, "$.views[0].title: missing"},
		{"schedule template", `{"meta": {"name": "p"}, "schedules": [{"name": "s", "cron_format": "@daily", "template": "t"}]}`, `$.schedules[0].template: no template named "t"`},
		{"schedule active", `{"meta": {"name": "p"}, "schedules": [{"name": "s", "active": "yes"}]}`, `$.schedules[0].active: want a boolean, got a string`},
		{"integration template", `{"meta": {"name": "p"}, "integrations": [{"name": "i", "template": "t"}]}`, `$.integrations[0].template: no template named "t"`},
		{"negative", `{"meta": {"name": "p", "max_parallel_tasks": -1}}`, "$.meta.max_parallel_tasks: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSemaphore([]byte(tt.json))
			if err == nil {
				t.Fatalf("got no error, want %q", tt.want)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got %q, want it to start with %q", err, tt.want)
			}
		})
	}
}

// TestWriteRefusesToOverwrite checks that an import never replaces files
// without --force.
func TestWriteRefusesToOverwrite(t *testing.T) {
	res := importFile(t, "testdata/good/minimal.json")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "templates.yaml"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := res.Write(dir, false)
	if err == nil || !strings.Contains(err.Error(), "templates.yaml exists") {
		t.Fatalf("got %v, want a refusal naming templates.yaml", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "project.yaml")); !os.IsNotExist(err) {
		t.Errorf("a refused import wrote project.yaml (stat: %v)", err)
	}
	if err := res.Write(dir, true); err != nil {
		t.Fatalf("with force: %v", err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "templates.yaml")); bytes.Equal(data, []byte("mine")) {
		t.Error("force did not replace templates.yaml")
	}

	// A re-import over a fuller one removes the kinds it no longer has,
	// and nothing else.
	dir = t.TempDir()
	if err := importFile(t, "testdata/good/full.json").Write(dir, false); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mine.yaml"), []byte("project: mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := res.Write(dir, true); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"integrations.yaml", "schedules.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, gone)); !os.IsNotExist(err) {
			t.Errorf("%s of the earlier import is still there (stat: %v)", gone, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "mine.yaml")); err != nil {
		t.Errorf("a file the import does not own was touched: %v", err)
	}
	if _, err := config.Load(dir, config.LoadOptions{}); err != nil {
		t.Errorf("the re-imported tree does not load: %v", err)
	}
}
