package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/semaphored/semaphored/internal/config"
)

// Spec is everything one run needs, with secrets already resolved to clear
// values. The caller owns RepoDir and PrivateDir and removes them after Run.
type Spec struct {
	App config.App
	// RepoDir is the checkout of the template's repository at the task's commit.
	RepoDir string
	// PrivateDir is a 0700 directory for this run's secret files.
	PrivateDir string
	// CacheDir holds content-addressed caches shared between runs
	// (ansible requirements); created when missing.
	CacheDir string

	// Entry is the playbook (ansible), script (bash/python/powershell) or
	// working directory (terraform/tofu), relative to RepoDir.
	Entry     string
	Arguments []string
	// Vars are extra vars: ansible --extra-vars @file, terraform -var-file.
	// They may hold secret values; they only ever go into 0600 files.
	Vars map[string]any
	// Env is added to a minimal base environment (PATH, HOME, LANG, TMPDIR).
	Env map[string]string
	// Secrets are clear values to mask in the output (with their base64
	// and URL-encoded forms).
	Secrets []string

	Ansible   AnsibleSpec
	Terraform TerraformSpec
	// DryRun is check mode (ansible --check --diff, terraform plan only,
	// scripts get SEMAPHORED_DRY_RUN=1).
	DryRun bool

	// Timeout ends the run with StatusError "timed out" (0: none).
	Timeout time.Duration
	// Grace is the time between SIGTERM and SIGKILL (default 10s).
	Grace time.Duration
}

// AnsibleSpec are the ansible-playbook parameters of a run.
type AnsibleSpec struct {
	// Inventory: InventoryText is written to a file (INI or YAML as given
	// by InventoryYAML), or InventoryPath names a file: relative, in
	// RepoDir; absolute, in PrivateDir (an inventory checked out from
	// another repository, with its group_vars/ and host_vars/). Neither
	// means no inventory.
	InventoryText string
	InventoryYAML bool
	InventoryPath string
	// SSHKey is a private key (PEM, unencrypted) ansible connects with;
	// SSHUser the remote user.
	SSHKey  []byte
	SSHUser string
	// BecomePassword is the become (sudo) password.
	BecomePassword string
	VaultPassword  string
	Limit          string
	Tags           []string
	SkipTags       []string
	Check          bool
	Diff           bool
	// Requirements is the galaxy requirements file in RepoDir ("" = look
	// for requirements.yml next to the playbook, then at the root).
	Requirements string
}

// TerraformSpec are the terraform/tofu parameters of a run.
type TerraformSpec struct {
	Workspace string
	// VarFiles are relative to the working directory.
	VarFiles []string
	PlanOnly bool
	// RequireApproval calls Hooks.AwaitApproval when the plan has changes.
	RequireApproval bool
	// StateDir, when set, keeps a local-backend state between runs:
	// terraform.tfstate and terraform.tfstate.d/ are copied from it into
	// the working directory before init and back (atomically, file by
	// file) after the run. Remote backends are the production choice; this
	// is for small setups and tests.
	StateDir string
}

// Status is how a run ended.
type Status string

// Run outcomes.
const (
	Success Status = "success"
	Failure Status = "failure" // the app exited non-zero
	Error   Status = "error"   // could not run, timed out, output lost
	Stopped Status = "stopped" // ctx was cancelled (stop requested)
)

// Result is how a run ended.
type Result struct {
	Status Status
	// ExitCode of the last process, -1 when none ran or it was killed.
	ExitCode int
	// Message is a short reason for failure, error and stop; no secrets.
	Message string
}

// Sink receives the run's output, one masked line at a time, in order.
// WriteLine may block (that is how a slow store pushes back on the
// process); an error from it ends the run with Error.
type Sink interface {
	WriteLine(t time.Time, line string) error
}

// Hooks let the caller follow a run.
type Hooks struct {
	// AwaitApproval is called when a plan with changes needs approval; it
	// blocks until approved (true) or rejected (false). Nil means approved.
	AwaitApproval func(ctx context.Context) (bool, error)
}

// DefaultGrace is the time between SIGTERM and SIGKILL when Spec.Grace is 0.
const DefaultGrace = 10 * time.Second

// Run runs spec to completion. Cancelling ctx stops the run (SIGTERM to the
// process group, SIGKILL after Grace) and yields Stopped. Every byte the
// processes wrote has been passed to sink before Run returns.
func Run(ctx context.Context, spec Spec, sink Sink, hooks Hooks) Result {
	if spec.Grace <= 0 {
		spec.Grace = DefaultGrace
	}
	r := &run{
		ctx:   ctx,
		spec:  spec,
		sink:  sink,
		hooks: hooks,
		mask:  newMasker(spec.Secrets),
		grace: spec.Grace,
	}
	if spec.Timeout > 0 {
		r.deadline = time.Now().Add(spec.Timeout)
	}
	if err := r.prepareDirs(); err != nil {
		return *errResult(err)
	}
	switch spec.App {
	case config.AppBash:
		return r.script("bash", nil)
	case config.AppPython:
		return r.script("python3", nil)
	case config.AppPowerShell:
		return r.script("pwsh", []string{"-NoLogo", "-NonInteractive", "-File"})
	case config.AppAnsible:
		return r.ansible()
	case config.AppTerraform, config.AppTofu:
		return r.terraform(string(spec.App))
	default:
		return *errResult(fmt.Errorf("unknown app %q", spec.App))
	}
}
