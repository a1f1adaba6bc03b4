package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestImportSemaphore runs the import command on the full test backup,
// then validate and plan on its output, as an operator would.
func TestImportSemaphore(t *testing.T) {
	backup := filepath.Join("..", "..", "internal", "importer", "testdata", "good", "full.json")
	out := filepath.Join(t.TempDir(), "acme")
	stdout, stderr, code := runCmd(t, "import", "semaphore", backup, "--out", out)
	if code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"ACME_INFRA_DEPLOY_KEY_PRIVATE_KEY", "ssh private key (PEM text)",
		"Not imported", "survey variables", "Wrote 8 files and IMPORT.md into " + out,
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("import output lacks %q:\n%s", want, stdout)
		}
	}
	report, err := os.ReadFile(filepath.Join(out, "IMPORT.md"))
	if err != nil || !strings.HasPrefix(stdout, string(report)) {
		t.Errorf("IMPORT.md is not the printed report (err %v)", err)
	}

	stdout, _, code = runCmd(t, "validate", out)
	if code != 0 || !regexp.MustCompile(`valid \(1 projects?, 8 templates\)`).MatchString(stdout) {
		t.Fatalf("validate: exit %d\n%s", code, stdout)
	}
	stdout, _, code = runCmd(t, "plan", out, "--data", t.TempDir())
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s", code, stdout)
	}
	for _, want := range []string{
		"+ project acme-infra", "+ template acme-infra/deploy-web", "+ template acme-infra/network-plan",
		"+ schedule acme-infra/cleanup", "+ integration acme-infra/alertmanager", "+ inventory acme-infra/staging-yaml",
		"+ key acme-infra/deploy-key", "+ repository acme-infra/playbooks-develop", "+ environment acme-infra/prod",
		"Plan: 36 to create, 0 to change, 0 to prune.",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, stdout)
		}
	}

	// A second import into the same directory is refused, --force replaces.
	_, stderr, code = runCmd(t, "import", "semaphore", backup, "--out", out)
	if code != 1 || !strings.Contains(stderr, "exists (use --force to replace it)") {
		t.Errorf("second import: exit %d, stderr %q; want a refusal", code, stderr)
	}
	if _, stderr, code = runCmd(t, "import", "semaphore", backup, "--out", out, "--force"); code != 0 {
		t.Errorf("import --force: exit %d\n%s", code, stderr)
	}
}

func TestImportErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"meta": {"name": "p"}, "keys": [{"name": "k", "type": 3}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args       []string
		code       int
		wantStderr string
	}{
		{[]string{"import"}, 2, "usage: semaphored import semaphore"},
		{[]string{"import", "ansible-tower", "x.json", "--out", dir}, 2, `unknown source "ansible-tower"`},
		{[]string{"import", "semaphore", bad}, 2, "usage:"},
		{[]string{"import", "semaphore", filepath.Join(dir, "missing.json"), "--out", dir}, 1, "no such file"},
		{[]string{"import", "semaphore", bad, "--out", filepath.Join(dir, "o")}, 1, "$.keys[0].type: want a string, got a number"},
	}
	for _, tt := range tests {
		_, stderr, code := runCmd(t, tt.args...)
		if code != tt.code || !strings.Contains(stderr, tt.wantStderr) {
			t.Errorf("%v: got exit %d, stderr %q; want exit %d and %q", tt.args, code, stderr, tt.code, tt.wantStderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "o")); !os.IsNotExist(err) {
		t.Errorf("a failed import created its output directory (stat: %v)", err)
	}
}
