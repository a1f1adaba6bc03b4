package exec

import (
	"strings"
	"testing"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/testenv"
)

// An inventory file of another repository is checked out whole, so the
// group_vars/ next to it apply: the playbook prints their variable.
func TestInventoryFromAnotherRepository(t *testing.T) {
	testenv.LookTool(t, "ansible-playbook")
	play, _ := testenv.GitRepo(t, map[string]string{"site.yml": `- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.debug:
        msg: "greeting={{ greeting | default('none') }} on {{ inventory_hostname }}"
`})
	inv, invSHA := testenv.GitRepo(t, map[string]string{
		"hosts/inventory.ini":      "[local]\nlocalhost ansible_connection=local ansible_python_interpreter=/usr/bin/python3\n",
		"hosts/group_vars/all.yml": "greeting: from the inventory repository\n",
	})
	tests := []struct {
		name, path string
		want       state.TaskStatus
		wantLog    string // a log line, or the message of an error
	}{
		{"group_vars apply", "hosts/inventory.ini", state.StatusSuccess, `"msg": "greeting=from the inventory repository on localhost"`},
		{"missing file", "hosts/none.ini", state.StatusError, "inventory hosts: hosts/none.ini of repository inv: no such file or directory"},
		{"path leaving the repository", "../inventory.ini", state.StatusError, `inventory hosts: path "../inventory.ini" is not inside repository inv`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(play, &config.Template{Name: "play", App: config.AppAnsible, Playbook: "site.yml", Inventory: "hosts"})
			p := cfg.Projects["p"]
			p.Repositories["inv"] = &config.Repository{Name: "inv", URL: inv, Branch: "main"}
			p.Inventories["hosts"] = &config.Inventory{Name: "hosts", Type: config.InventoryFile, Repository: "inv", Path: tt.path}
			h := newHarness(t, cfg)
			task := h.wait(h.submit("p", "play").ID, state.StatusSuccess, state.StatusFailure, state.StatusError)
			lines := h.lines(task.ID)
			if task.Status != tt.want {
				t.Fatalf("got %s (%s), want %s; log:\n%s", task.Status, task.Message, tt.want, strings.Join(lines, "\n"))
			}
			if tt.want == state.StatusSuccess {
				if !contains(lines, tt.wantLog) {
					t.Errorf("log without %q:\n%s", tt.wantLog, strings.Join(lines, "\n"))
				}
				if !contains(lines, "at "+invSHA[:7]) {
					t.Errorf("log without the inventory checkout at %s:\n%s", invSHA[:7], strings.Join(lines, "\n"))
				}
				return
			}
			if !strings.Contains(task.Message, tt.wantLog) {
				t.Errorf("got message %q, want it to contain %q", task.Message, tt.wantLog)
			}
		})
	}
}
