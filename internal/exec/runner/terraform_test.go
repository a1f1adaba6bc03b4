package runner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/testenv"
)

// tfCheckout makes a fresh checkout holding testdata/terraform under
// infra/, as the engine does for every task.
func tfCheckout(t *testing.T) string {
	t.Helper()
	repo := t.TempDir()
	dir := filepath.Join(repo, "infra")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"main.tf", "prod.tfvars"} {
		b, err := os.ReadFile(filepath.Join("testdata", "terraform", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return repo
}

func TestTerraform(t *testing.T) {
	tools := []string{"tofu"}
	if testenv.HasTool("terraform") {
		tools = append(tools, "terraform")
	}
	for _, tool := range tools {
		t.Run(tool, func(t *testing.T) { testTerraform(t, tool) })
	}
}

func testTerraform(t *testing.T, tool string) {
	bin := testenv.LookTool(t, tool)
	cliConfig := filepath.Join(t.TempDir(), "empty.tfrc")
	if err := os.WriteFile(cliConfig, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	stateDir := filepath.Join(t.TempDir(), "state")
	cache := filepath.Join(t.TempDir(), "cache")
	app := config.AppTofu
	if tool == "terraform" {
		app = config.AppTerraform
	}

	var approvals atomic.Int32
	approve := func(ok bool) Hooks {
		return Hooks{AwaitApproval: func(ctx context.Context) (bool, error) {
			approvals.Add(1)
			return ok, nil
		}}
	}
	steps := []struct {
		name         string
		edit         func(*Spec)
		hooks        Hooks
		want         Result
		wantApproval int32
		wantOut      []string
		notWant      []string
		wantState    string // a file under stateDir that must exist
		stateHas     string // text that terraform.tfstate must contain
	}{
		{
			name:         "first run plans and applies after approval",
			edit:         func(s *Spec) { s.Terraform.RequireApproval = true },
			hooks:        approve(true),
			want:         Result{Status: Success},
			wantApproval: 1,
			wantOut:      []string{"$ " + tool + " init -input=false -no-color", "plan has changes: waiting for approval", "plan approved", "$ " + tool + " apply -input=false -no-color ", "Apply complete!", `value = "alpha-none"`},
			wantState:    "terraform.tfstate",
			stateHas:     "alpha-none",
		},
		{
			name:     "second run with the same state has no changes",
			edit:     func(s *Spec) { s.Terraform.RequireApproval = true },
			hooks:    approve(true),
			want:     Result{Status: Success, Message: "no changes"},
			notWant:  []string{" apply ", "waiting for approval"},
			stateHas: "alpha-none",
		},
		{
			name: "rejected plan is stopped without apply",
			edit: func(s *Spec) {
				s.Terraform.RequireApproval = true
				s.Vars = map[string]any{"name": "beta"}
			},
			hooks:        approve(false),
			want:         Result{Status: Stopped, ExitCode: -1, Message: "plan rejected"},
			wantApproval: 1,
			wantOut:      []string{"plan rejected"},
			notWant:      []string{" apply "},
			stateHas:     "alpha-none",
		},
		{
			name: "plan only",
			edit: func(s *Spec) {
				s.Terraform.PlanOnly = true
				s.Vars = map[string]any{"name": "beta"}
			},
			want:     Result{Status: Success, Message: "plan has changes"},
			wantOut:  []string{"-var-file=", "vars.tfvars.json"},
			notWant:  []string{" apply "},
			stateHas: "alpha-none",
		},
		{
			name: "dry run",
			edit: func(s *Spec) {
				s.DryRun = true
				s.Vars = map[string]any{"name": "beta"}
			},
			want:     Result{Status: Success, Message: "plan has changes"},
			notWant:  []string{" apply "},
			stateHas: "alpha-none",
		},
		{
			name: "workspace with var file applies into its own state",
			edit: func(s *Spec) {
				s.Terraform.Workspace = "staging"
				s.Terraform.VarFiles = []string{"prod.tfvars"}
			},
			want:      Result{Status: Success},
			wantOut:   []string{"workspace select -or-create=true staging", "-var-file=prod.tfvars", `value = "alpha-prod"`},
			wantState: filepath.Join("terraform.tfstate.d", "staging", "terraform.tfstate"),
			stateHas:  "alpha-none",
		},
		{
			name: "workspace second run has no changes",
			edit: func(s *Spec) {
				s.Terraform.Workspace = "staging"
				s.Terraform.VarFiles = []string{"prod.tfvars"}
			},
			want:     Result{Status: Success, Message: "no changes"},
			stateHas: "alpha-none",
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			approvals.Store(0)
			spec := Spec{
				App:        app,
				RepoDir:    tfCheckout(t),
				PrivateDir: filepath.Join(t.TempDir(), "private"),
				CacheDir:   cache,
				Entry:      "infra",
				Vars:       map[string]any{"name": "alpha"},
				Env: map[string]string{
					"TF_CLI_CONFIG_FILE": cliConfig,
					"PATH":               filepath.Dir(bin) + ":" + os.Getenv("PATH"),
				},
				Grace: 5 * time.Second,
			}
			spec.Terraform.StateDir = stateDir
			st.edit(&spec)
			sink := newMemSink("")
			res := Run(context.Background(), spec, sink, st.hooks)
			out := sink.joined()
			if res != st.want {
				t.Fatalf("got %+v, want %+v; output:\n%s", res, st.want, out)
			}
			if got := approvals.Load(); got != st.wantApproval {
				t.Errorf("got %d approval calls, want %d", got, st.wantApproval)
			}
			for _, w := range st.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("got output without %q:\n%s", w, out)
				}
			}
			for _, w := range st.notWant {
				if strings.Contains(out, w) {
					t.Errorf("got output with %q:\n%s", w, out)
				}
			}
			if st.wantState != "" {
				fi, err := os.Stat(filepath.Join(stateDir, st.wantState))
				if err != nil {
					t.Fatalf("got no saved state: %v", err)
				}
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("got state mode %v, want 0600", fi.Mode().Perm())
				}
			}
			if st.stateHas != "" {
				b, err := os.ReadFile(filepath.Join(stateDir, "terraform.tfstate"))
				if err != nil || !strings.Contains(string(b), st.stateHas) {
					t.Errorf("got default workspace state without %q (err %v)", st.stateHas, err)
				}
			}
		})
	}
}

func TestTerraformFailure(t *testing.T) {
	bin := testenv.LookTool(t, "tofu")
	repo := tfCheckout(t)
	if err := os.WriteFile(filepath.Join(repo, "infra", "broken.tf"), []byte("resource \"terraform_data\" {\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cliConfig := filepath.Join(t.TempDir(), "empty.tfrc")
	if err := os.WriteFile(cliConfig, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	spec := Spec{
		App: config.AppTofu, RepoDir: repo, Entry: "infra",
		PrivateDir: filepath.Join(t.TempDir(), "private"),
		CacheDir:   filepath.Join(t.TempDir(), "cache"),
		Env:        map[string]string{"TF_CLI_CONFIG_FILE": cliConfig, "PATH": filepath.Dir(bin) + ":" + os.Getenv("PATH")},
	}
	res, sink := runSpec(t, spec)
	if res.Status != Failure || res.ExitCode != 1 || !strings.HasPrefix(res.Message, "tofu init exited with code 1") {
		t.Fatalf("got %+v, want failure of init with code 1; output:\n%s", res, sink.joined())
	}
}

// TestTerraformApprovalInterrupted stops or times out a run that waits for
// approval: the hook sees its context end and no apply runs.
func TestTerraformApprovalInterrupted(t *testing.T) {
	bin := testenv.LookTool(t, "tofu")
	cliConfig := filepath.Join(t.TempDir(), "empty.tfrc")
	if err := os.WriteFile(cliConfig, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		timeout time.Duration
		stop    bool
		want    Result
	}{
		{"stopped while waiting", 0, true, Result{Status: Stopped, ExitCode: -1, Message: "stopped"}},
		{"timed out while waiting", 3 * time.Second, false, Result{Status: Error, ExitCode: -1, Message: "timed out after 3s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			waiting := make(chan struct{})
			hooks := Hooks{AwaitApproval: func(ctx context.Context) (bool, error) {
				close(waiting)
				<-ctx.Done()
				return false, ctx.Err()
			}}
			spec := Spec{
				App: config.AppTofu, RepoDir: tfCheckout(t), Entry: "infra",
				PrivateDir: filepath.Join(t.TempDir(), "private"),
				CacheDir:   filepath.Join(t.TempDir(), "cache"),
				Env:        map[string]string{"TF_CLI_CONFIG_FILE": cliConfig, "PATH": filepath.Dir(bin) + ":" + os.Getenv("PATH")},
				Timeout:    tt.timeout,
			}
			spec.Terraform.RequireApproval = true
			done := make(chan Result, 1)
			sink := newMemSink("")
			go func() { done <- Run(ctx, spec, sink, hooks) }()
			select {
			case <-waiting:
			case <-time.After(30 * time.Second):
				t.Fatalf("never asked for approval:\n%s", sink.joined())
			}
			if tt.stop {
				cancel()
			}
			res := <-done
			if res != tt.want {
				t.Fatalf("got %+v, want %+v", res, tt.want)
			}
			if strings.Contains(sink.joined(), " apply ") {
				t.Errorf("got an apply after an interrupted approval")
			}
		})
	}
}
