package exec

import (
	"slices"
	"strings"
	"testing"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/exec/runner"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/task"
)

// TestForkWithoutSecrets runs a pull request check from a fork: the job
// gets the environment's plain values and none of the project's secrets.
func TestForkWithoutSecrets(t *testing.T) {
	env := map[string]string{"T_TOKEN": "tok-secret-1", "T_VAULT": "vault-secret-3", "T_BECOME": "become-secret-4"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg := testConfig(t.TempDir(),
		&config.Template{Name: "play", App: config.AppAnsible, Playbook: "site.yml", Inventory: "hosts", Environment: "prod",
			Ansible: &config.AnsibleOptions{VaultPassword: &config.Secret{Env: "T_VAULT"}}})
	p := cfg.Projects["p"]
	p.Environments["prod"] = &config.Environment{Name: "prod", Env: map[string]string{"PLAIN": "x"},
		Secrets: config.EnvironmentSecrets{Env: map[string]config.Secret{"TOKEN": {Env: "T_TOKEN"}}}}
	p.Keys["become"] = &config.Key{Name: "become", Type: config.KeyLoginPassword, Login: "root", Password: &config.Secret{Env: "T_BECOME"}}
	p.Inventories["hosts"] = &config.Inventory{Name: "hosts", Type: config.InventoryStatic, Static: "web1\n", BecomeKey: "become"}
	f := newFakeRunner()
	h := newHarness(t, cfg, withRun(f.run), func(o *Options) { o.Secrets = &config.Resolver{LookupEnv: lookup} })

	for _, fork := range []bool{false, true} {
		tk, err := h.e.Submit(t.Context(), task.Request{Project: "p", Template: "play",
			Trigger: task.Trigger{Type: task.TriggerPullRequest, PR: 7, Fork: fork, Source: "github"}})
		if err != nil {
			t.Fatal(err)
		}
		r := f.next(t)
		s := r.spec
		_, hasToken := s.Env["TOKEN"]
		gotSecret := hasToken || s.Ansible.VaultPassword != "" || s.Ansible.BecomePassword != ""
		if s.Env["PLAIN"] != "x" || gotSecret == fork {
			t.Errorf("fork=%v: env %v vault %q become %q", fork, s.Env, s.Ansible.VaultPassword, s.Ansible.BecomePassword)
		}
		if fork && slices.ContainsFunc(s.Secrets, func(v string) bool { return strings.Contains(v, "secret") }) {
			t.Errorf("fork: secrets resolved for masking: %d", len(s.Secrets))
		}
		r.end(runner.Success)
		h.wait(tk.ID, state.StatusSuccess)
	}
}
