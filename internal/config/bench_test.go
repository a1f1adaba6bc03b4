package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeBigTree writes projects × templates declarations, each project in
// two files, with repositories, keys, inventories, environments and
// schedules, the shape a large installation has.
func writeBigTree(tb testing.TB, dir string, projects, templates int) {
	tb.Helper()
	for p := 0; p < projects; p++ {
		var a, b strings.Builder
		fmt.Fprintf(&a, "project: p%03d\ndescription: project %d\nrepositories:\n", p, p)
		fmt.Fprintf(&a, "  app: {url: 'git@github.com:acme/app%d.git', key: deploy, forge: {type: github, token: {env: GH_TOKEN}}}\n", p)
		fmt.Fprintf(&a, "  infra: {url: 'https://gitlab.example.com/acme/infra%d.git', key: tok, forge: {type: gitlab, api_url: 'https://gitlab.example.com/api/v4'}}\n", p)
		a.WriteString("keys:\n  deploy: {type: ssh, private_key: {file: /run/secrets/deploy}}\n  tok: {type: token, token: {env: GL_TOKEN}}\n  sudo: {type: login_password, login: ops, password: {env: SUDO}}\n")
		a.WriteString("inventories:\n  prod: {type: static, static: \"[web]\\nw1\\nw2\\n\", ssh_key: deploy, become_key: sudo}\n  yaml: {type: static_yaml, static: \"all:\\n  hosts:\\n    h1: {}\\n\"}\n  file: {type: file, repository: infra, path: inv/prod.ini}\n")
		a.WriteString("environments:\n  prod:\n    vars: {region: eu, replicas: 3, tags: [a, b]}\n    env: {APP_ENV: prod}\n    secrets: {env: {DB_PASSWORD: {env: DB_PASSWORD}}}\n")
		fmt.Fprintf(&b, "project: p%03d\ntemplates:\n", p)
		for t := 0; t < templates; t++ {
			switch t % 3 {
			case 0:
				fmt.Fprintf(&b, "  t%03d:\n    app: ansible\n    repository: app\n    playbook: site.yml\n    inventory: prod\n    environment: prod\n    timeout: 30m\n    triggers:\n      push: {branches: [main], paths: ['roles/**']}\n      pull_request: {}\n", t)
			case 1:
				fmt.Fprintf(&b, "  t%03d:\n    app: tofu\n    repository: infra\n    directory: net\n    terraform: {workspace: prod, var_files: [prod.tfvars]}\n    triggers:\n      schedule: {cron: '0 3 * * *', timezone: Europe/Berlin}\n", t)
			default:
				fmt.Fprintf(&b, "  t%03d: {app: bash, repository: app, script: run.sh, environment: prod, allow_overrides: [vars, branch]}\n", t)
			}
		}
		b.WriteString("schedules:\n")
		for t := 0; t < templates; t += 2 {
			fmt.Fprintf(&b, "  s%03d: {cron: '*/15 * * * *', template: t%03d, timezone: America/New_York}\n", t, t)
		}
		dirp := filepath.Join(dir, fmt.Sprintf("p%03d", p))
		if err := os.MkdirAll(dirp, 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dirp, "project.yaml"), []byte(a.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dirp, "templates.yaml"), []byte(b.String()), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkLoad100x100 loads and validates 100 projects × 100 templates.
func BenchmarkLoad100x100(b *testing.B) {
	dir := b.TempDir()
	writeBigTree(b, dir, 100, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c, err := Load(dir, LoadOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if n := len(c.Projects); n != 100 {
			b.Fatalf("got %d projects, want 100", n)
		}
	}
}

func TestBigTreeLoads(t *testing.T) {
	dir := t.TempDir()
	writeBigTree(t, dir, 12, 30) // 24 files: parsed on several goroutines
	c, err := Load(dir, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(c.Projects); got != 12 {
		t.Errorf("got %d projects, want 12", got)
	}
	if got := len(c.Projects["p004"].Templates); got != 30 {
		t.Errorf("got %d templates, want 30", got)
	}
	if got := len(c.Projects["p004"].Schedules); got != 15 {
		t.Errorf("got %d schedules, want 15", got)
	}
}
