package exec

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/exec/runner"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
)

func encryptedKey(t *testing.T, pass string) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(pass))
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block))
}

func TestPrepareSpec(t *testing.T) {
	env := map[string]string{
		"T_TOKEN":  "tok-secret-1",
		"T_PW":     "var-secret-2",
		"T_VAULT":  "vault-secret-3",
		"T_BECOME": "become-secret-4",
		"T_PASS":   "key-pass-5",
		"T_KEY":    encryptedKey(t, "key-pass-5"),
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg := testConfig(t.TempDir(),
		&config.Template{Name: "play", App: config.AppAnsible, Playbook: "site.yml", Inventory: "hosts", Environment: "prod",
			Arguments: []string{"-v"}, AllowOverrides: []config.Override{config.OverrideVars, config.OverrideLimit, config.OverrideArguments},
			Ansible: &config.AnsibleOptions{Limit: "all", Tags: []string{"t"}, VaultPassword: &config.Secret{Env: "T_VAULT"}}},
		&config.Template{Name: "infra", App: config.AppTofu, Directory: "tf", Timeout: config.Duration(time.Minute),
			AllowOverrides: []config.Override{config.OverrideWorkspace, config.OverrideDryRun},
			Terraform:      &config.TerraformOptions{Workspace: "default", RequireApproval: true}},
		&config.Template{Name: "broken", Environment: "missing-secret"})
	p := cfg.Projects["p"]
	p.Environments["prod"] = &config.Environment{Name: "prod",
		Vars: map[string]any{"a": 1, "b": "env"}, Env: map[string]string{"PLAIN": "x"},
		Secrets: config.EnvironmentSecrets{
			Env:  map[string]config.Secret{"TOKEN": {Env: "T_TOKEN"}},
			Vars: map[string]config.Secret{"pw": {Env: "T_PW"}}}}
	p.Environments["missing-secret"] = &config.Environment{Name: "missing-secret",
		Secrets: config.EnvironmentSecrets{Env: map[string]config.Secret{"X": {Env: "T_NOT_SET"}}}}
	p.Keys["ssh"] = &config.Key{Name: "ssh", Type: config.KeySSH, User: "deploy",
		PrivateKey: &config.Secret{Env: "T_KEY"}, Passphrase: &config.Secret{Env: "T_PASS"}}
	p.Keys["become"] = &config.Key{Name: "become", Type: config.KeyLoginPassword, Login: "root", Password: &config.Secret{Env: "T_BECOME"}}
	p.Inventories["hosts"] = &config.Inventory{Name: "hosts", Type: config.InventoryStatic, Static: "web1\n", SSHKey: "ssh", BecomeKey: "become"}

	f := newFakeRunner()
	h := newHarness(t, cfg, withRun(f.run), func(o *Options) { o.Secrets = &config.Resolver{LookupEnv: lookup} })
	ctx := t.Context()

	t.Run("ansible", func(t *testing.T) {
		task, err := h.e.Submit(ctx, task.Request{Project: "p", Template: "play", Overrides: task.Overrides{Vars: map[string]any{"b": "task"}, Limit: "web1", Arguments: []string{"--diff"}}})
		if err != nil {
			t.Fatal(err)
		}
		r := f.next(t)
		s := r.spec
		if s.Entry != "site.yml" || !slices.Equal(s.Arguments, []string{"-v", "--diff"}) {
			t.Errorf("entry %q args %q, want site.yml [-v --diff]", s.Entry, s.Arguments)
		}
		if s.Vars["a"] != 1 || s.Vars["b"] != "task" || s.Vars["pw"] != "var-secret-2" {
			t.Errorf("vars %v: want a=1, b=task (task wins), pw from the secret", s.Vars)
		}
		if s.Env["PLAIN"] != "x" || s.Env["TOKEN"] != "tok-secret-1" {
			t.Errorf("env %v: want PLAIN and TOKEN", s.Env)
		}
		a := s.Ansible
		if a.InventoryText != "web1\n" || a.Limit != "web1" || !slices.Equal(a.Tags, []string{"t"}) ||
			a.VaultPassword != "vault-secret-3" || a.BecomePassword != "become-secret-4" || a.SSHUser != "deploy" {
			t.Errorf("ansible spec %+v: want inventory, limit override, tags, vault, become, user", a)
		}
		if _, err := ssh.ParseRawPrivateKey(a.SSHKey); err != nil {
			t.Errorf("ssh key: got %v, want an unencrypted key", err)
		}
		for _, v := range []string{"tok-secret-1", "var-secret-2", "vault-secret-3", "become-secret-4", "key-pass-5", string(a.SSHKey)} {
			if !slices.Contains(s.Secrets, v) {
				t.Errorf("secrets to mask: %q missing", v[:min(len(v), 12)])
			}
		}
		if s.Timeout != time.Hour || s.Grace != 2*time.Second || s.CacheDir != filepath.Join(h.work, "cache") {
			t.Errorf("timeout %v grace %v cache %q: want 1h, 2s, WorkDir/cache", s.Timeout, s.Grace, s.CacheDir)
		}
		for _, d := range []string{s.RepoDir, s.PrivateDir, filepath.Dir(s.RepoDir)} {
			if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
				t.Errorf("%s: got %v %v, want a 0700 directory", d, fi.Mode(), err)
			}
		}
		r.end(runner.Success)
		h.wait(task.ID, state.StatusSuccess)
		if _, err := os.Stat(filepath.Dir(s.RepoDir)); !os.IsNotExist(err) {
			t.Errorf("task directory: got %v, want removed", err)
		}
	})
	t.Run("tofu", func(t *testing.T) {
		task, err := h.e.Submit(ctx, task.Request{Project: "p", Template: "infra", Overrides: task.Overrides{Workspace: "staging", DryRun: true}})
		if err != nil {
			t.Fatal(err)
		}
		r := f.next(t)
		tf := r.spec.Terraform
		if r.spec.Entry != "tf" || tf.Workspace != "staging" || !tf.PlanOnly || !tf.RequireApproval || r.spec.Timeout != time.Minute {
			t.Errorf("spec %+v %+v: want entry tf, workspace staging, plan only, approval, 1m", r.spec.Entry, tf)
		}
		if want := filepath.Join(h.work, "tfstate", "p", "infra"); tf.StateDir != want {
			t.Errorf("state dir: got %q, want %q", tf.StateDir, want)
		}
		r.end(runner.Success)
		h.wait(task.ID, state.StatusSuccess)
	})
	t.Run("secret missing", func(t *testing.T) {
		task := h.wait(h.submit("p", "broken").ID, state.StatusError, state.StatusSuccess)
		if task.Status != state.StatusError || !strings.Contains(task.Message, "T_NOT_SET") {
			t.Errorf("got %s %q, want error naming T_NOT_SET", task.Status, task.Message)
		}
		for _, v := range env {
			for _, l := range append(h.lines(task.ID), task.Message) {
				if strings.Contains(l, v) {
					t.Errorf("a secret value appears in %q", l)
				}
			}
		}
	})
}
