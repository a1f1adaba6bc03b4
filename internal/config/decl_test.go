package config

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestLoadListsSkippedFiles: the files that are not declarations are
// listed at debug level, each with the reason, and nothing else is.
func TestLoadListsSkippedFiles(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if _, err := Load("testdata/good/beside-playbooks", LoadOptions{Logger: log}); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"playbooks/site.yml":          "a list at the top level",
		"playbooks/broken-wip.yml":    "not valid YAML",
		"group_vars/all.yml":          "a mapping without project: or settings:",
		"host_vars/web1.yaml":         "a mapping without project: or settings:",
		"roles/web/tasks/main.yml":    "a list at the top level",
		"roles/web/defaults/main.yml": "a mapping without project: or settings:",
		"inventory.yml":               "a mapping without project: or settings:",
		"requirements.yml":            "a mapping without project: or settings:",
		"docker-compose.yml":          "a mapping without project: or settings:",
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(want) {
		t.Errorf("got %d debug lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for file, reason := range want {
		found := false
		for _, l := range lines {
			if strings.Contains(l, "file="+file+" ") && strings.Contains(l, reason) && strings.Contains(l, "level=DEBUG") {
				found = true
			}
		}
		if !found {
			t.Errorf("no debug line for %s (%s) in:\n%s", file, reason, buf.String())
		}
	}
}

func TestNotDeclaration(t *testing.T) {
	tests := []struct {
		text string
		decl bool // a declaration, or one with a mistake to report
	}{
		{"project: p\n", true},
		{"settings: {}\n", true},
		{"templates:\n  t: {app: bash}\n", true},
		{"repositories: {}\n", true},
		{"base: &b\n  x: 1\nkeys: *b\n", true},
		{"templates: [motd.j2]\n", false},
		{"keys:\n  - ssh-ed25519 AAAA\n", false},
		{"description: only this\n", false},
		{"- hosts: all\n", false},
		{"just text\n", false},
		{"all:\n  hosts: {}\n", false},
		{"collections: [community.general]\n", false},
	}
	for _, tt := range tests {
		p := parseFile("f.yaml", []byte(tt.text))
		if len(p.errs) > 0 {
			t.Fatalf("%q: %v", tt.text, p.errs[0])
		}
		if got := p.skip == ""; got != tt.decl {
			t.Errorf("%q: got declaration %v (skip %q), want %v", tt.text, got, p.skip, tt.decl)
		}
		if got := NotDeclaration([]byte(tt.text)); got != p.skip {
			t.Errorf("NotDeclaration(%q): got %q, want %q", tt.text, got, p.skip)
		}
	}
}
