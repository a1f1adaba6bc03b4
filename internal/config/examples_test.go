package config

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/testenv"
)

func TestExamplesAreValid(t *testing.T) {
	for _, name := range []string{"quickstart", "multi-project"} {
		t.Run(name, func(t *testing.T) {
			c, err := Load(filepath.Join("../../examples", name), LoadOptions{})
			if err != nil {
				t.Fatalf("Load: got\n%v\nwant a valid example", err)
			}
			if len(c.Projects) == 0 {
				t.Fatal("got no projects")
			}
			for _, f := range declFiles(t, filepath.Join("../../examples", name)) {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(string(b), "# yaml-language-server: $schema=") {
					t.Errorf("%s: got no yaml-language-server schema comment on the first line", f)
				}
			}
		})
	}
}

func TestQuickstartShape(t *testing.T) {
	c, err := Load("../../examples/quickstart", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Settings.APITokens) != 0 {
		t.Errorf("quickstart declares %d api tokens, want none (the daemon writes DATA/admin.token)", len(c.Settings.APITokens))
	}
	p, hello, ok := c.Template("quickstart", "hello")
	if !ok || hello.App != AppBash {
		t.Fatalf("quickstart/hello: got %v, want a bash template", hello)
	}
	if _, report, ok := c.Template("quickstart", "report"); !ok || report.App != AppPython {
		t.Fatalf("quickstart/report: got %v, want a python template", report)
	}
	if r := p.RepositoryOf(hello); r.URL != "." || ClassifyURL(r.URL) != URLLocal {
		t.Errorf("quickstart repository: got %q, want the local directory \".\"", r.URL)
	}
	if got := p.TemplateSchedules("hello"); len(got) != 1 {
		t.Errorf("schedules of hello: got %d, want 1", len(got))
	}
	env := p.EnvironmentOf(hello)
	if env == nil || len(env.Env) == 0 || len(env.Vars) == 0 {
		t.Fatalf("quickstart environment: got %+v, want vars and env", env)
	}
	// An ansible template whose playbook lives beside the declarations.
	_, ah, ok := c.Template("quickstart", "ansible-hello")
	if !ok || ah.App != AppAnsible || p.RepositoryOf(ah).URL != "." {
		t.Fatalf("quickstart/ansible-hello: got %+v, want an ansible template on the local directory", ah)
	}
	inv := p.InventoryOf(ah)
	if inv == nil || inv.Type != InventoryStatic || !strings.Contains(inv.Static, "ansible_connection=local") {
		t.Fatalf("quickstart/ansible-hello inventory: got %+v, want a static localhost one", inv)
	}
	t.Run("ansible-playbook", func(t *testing.T) {
		bin := testenv.LookTool(t, "ansible-playbook")
		tmp := t.TempDir()
		invFile := filepath.Join(tmp, "inventory.ini")
		varsFile := filepath.Join(tmp, "vars.json")
		vars, err := json.Marshal(env.Vars)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(invFile, []byte(inv.Static), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(varsFile, vars, 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		// The runner's argument list and environment, in short.
		cmd := exec.CommandContext(ctx, bin, ah.Playbook, "-i", invFile, "--extra-vars", "@"+varsFile)
		cmd.Dir = "../../examples/quickstart"
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + tmp, "LANG=C.UTF-8", "TMPDIR=" + tmp,
			"ANSIBLE_NOCOLOR=1", "ANSIBLE_LOCAL_TEMP=" + filepath.Join(tmp, "ansible"), "ANSIBLE_RETRY_FILES_ENABLED=0"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ansible-playbook %s: %v\n%s", ah.Playbook, err, out)
		}
		if want := "hello from Ansible on localhost, targets alpha, beta"; !strings.Contains(string(out), want) {
			t.Errorf("ansible-playbook output: got\n%s\nwant %q", out, want)
		}
	})
	// The scripts run and print the environment's values.
	for _, tc := range []struct{ tool, script string }{{"bash", "scripts/hello.sh"}, {"python3", "scripts/report.py"}} {
		t.Run(tc.tool, func(t *testing.T) {
			bin := testenv.LookTool(t, tc.tool)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, tc.script)
			cmd.Dir = "../../examples/quickstart"
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
			for k, v := range env.Env {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s %s: %v\n%s", tc.tool, tc.script, err, out)
			}
			if want := env.Env["QUICKSTART_TEAM"]; !strings.Contains(string(out), want) {
				t.Errorf("%s output: got\n%s\nwant it to mention %q", tc.script, out, want)
			}
		})
	}
}

func TestMultiProjectAgeValueDecrypts(t *testing.T) {
	c, err := Load("../../examples/multi-project", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// git keeps no read bits: a checkout makes the identity 0644, which
	// LoadAgeIdentities refuses; the example's run script chmods it.
	b, err := os.ReadFile("../../examples/multi-project/age-identity.txt")
	if err != nil {
		t.Fatal(err)
	}
	idFile := filepath.Join(t.TempDir(), "age-identity.txt")
	if err := os.WriteFile(idFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ids, err := LoadAgeIdentities(idFile)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := c.Projects["web"].Environments["production"].Secrets.Vars["grafana_api_key"]
	if !ok || s.Age == "" {
		t.Fatalf("web/production grafana_api_key: got %v, want an age value", s)
	}
	got, err := (&Resolver{Identities: ids}).Resolve(s)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if want := "example-grafana-api-key-not-real"; got != want {
		t.Errorf("Resolve: got %q, want %q", got, want)
	}
	// The example covers what it promises.
	web := c.Projects["web"]
	kinds := map[KeyType]bool{}
	for _, k := range web.Keys {
		kinds[k.Type] = true
	}
	for _, k := range []KeyType{KeySSH, KeyLoginPassword, KeyToken} {
		if !kinds[k] {
			t.Errorf("web keys: got none of type %s", k)
		}
	}
	invs := map[InventoryType]bool{}
	for _, i := range web.Inventories {
		invs[i.Type] = true
	}
	for _, it := range []InventoryType{InventoryStatic, InventoryStaticYAML, InventoryFile} {
		if !invs[it] {
			t.Errorf("web inventories: got none of type %s", it)
		}
	}
	in, ok := web.Integrations["alertmanager"]
	if !ok || in.Auth.Type != IntegrationAuthHMAC || len(in.Matchers) == 0 || len(in.Extractors) == 0 {
		t.Errorf("alertmanager integration: got %+v", in)
	}
	_, vpc, ok := c.Template("network", "vpc")
	if !ok || vpc.App != AppTofu || vpc.Terraform == nil || !vpc.Terraform.RequireApproval || vpc.Terraform.Workspace == "" ||
		vpc.Triggers.Push == nil || vpc.Triggers.PullRequest == nil || vpc.Triggers.PullRequest.Mode != PRModePlan {
		t.Errorf("network/vpc: got %+v, want a tofu template with workspace, approval, push and PR triggers", vpc)
	}
}
