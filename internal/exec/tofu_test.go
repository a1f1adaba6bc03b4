package exec

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/gitcache"
	"github.com/semaphored/semaphored/internal/state"
	"github.com/semaphored/semaphored/internal/testenv"
)

// TestRealTofuApproval runs a real tofu plan that needs approval, then
// confirms (apply, success) or rejects (stopped) it; the state kept in
// WorkDir/tfstate makes the second confirmed run a plan with no changes.
func TestRealTofuApproval(t *testing.T) {
	bin := testenv.LookTool(t, "tofu")
	repo := t.TempDir()
	tf := `resource "terraform_data" "x" { input = var.v }
variable "v" { default = "one" }
output "v" { value = terraform_data.x.output }
`
	if err := os.WriteFile(filepath.Join(repo, "main.tf"), []byte(tf), 0o644); err != nil {
		t.Fatal(err)
	}
	cli := filepath.Join(t.TempDir(), "cli.tfrc")
	if err := os.WriteFile(cli, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(repo, &config.Template{Name: "infra", App: config.AppTofu, Directory: ".", Environment: "tf",
		Terraform: &config.TerraformOptions{RequireApproval: true}})
	cfg.Projects["p"].Environments["tf"] = &config.Environment{Name: "tf", Env: map[string]string{
		"PATH": filepath.Dir(bin) + ":" + os.Getenv("PATH"), "TF_CLI_CONFIG_FILE": cli}}
	h := newHarness(t, cfg)
	ctx := context.Background()

	rejected := h.submit("p", "infra")
	h.wait(rejected.ID, state.StatusWaitingConfirmation, state.StatusError, state.StatusFailure)
	got, err := h.e.Reject(ctx, rejected.ID)
	if err != nil {
		t.Fatalf("Reject: %v", err)
	}
	if got.Status != state.StatusStopped || got.Message != "plan rejected" {
		t.Fatalf("Reject: got %s %q, want stopped \"plan rejected\"", got.Status, got.Message)
	}

	task := h.submit("p", "infra")
	if w := h.wait(task.ID, state.StatusWaitingConfirmation, state.StatusError, state.StatusFailure); w.Status != state.StatusWaitingConfirmation {
		t.Fatalf("got %s (%s), want waiting_confirmation", w.Status, w.Message)
	}
	if _, err := h.e.Confirm(ctx, task.ID); err != nil {
		t.Fatalf("Confirm: %v", err)
	}
	done := h.wait(task.ID, state.StatusSuccess, state.StatusError, state.StatusFailure, state.StatusStopped)
	if done.Status != state.StatusSuccess {
		t.Fatalf("after confirm: got %s (%s), want success; log %q", done.Status, done.Message, h.lines(task.ID))
	}
	if _, err := os.Stat(filepath.Join(h.work, "tfstate", "p", "infra", "terraform.tfstate")); err != nil {
		t.Errorf("state kept between runs: %v", err)
	}
	// Nothing changed since the apply: no approval needed.
	again := h.wait(h.submit("p", "infra").ID, state.StatusSuccess, state.StatusWaitingConfirmation, state.StatusError, state.StatusFailure)
	if again.Status != state.StatusSuccess {
		t.Errorf("second run: got %s (%s), want success without approval", again.Status, again.Message)
	}
}

// blockedCheckouts holds the first checkout until unblock is closed.
type blockedCheckouts struct {
	Checkouts
	entered, unblock chan struct{}
}

func (b *blockedCheckouts) Checkout(ctx context.Context, url string, auth gitcache.Auth, sha, branch, dst string) (gitcache.Commit, error) {
	close(b.entered)
	<-b.unblock
	return b.Checkouts.Checkout(ctx, url, auth, sha, branch, dst)
}

// TestStopStarting stops a task during its checkout (held by a blocking
// checkout source): it ends stopped and no process runs.
func TestStopStarting(t *testing.T) {
	repo := scriptDir(t, "echo should not run\n")
	cfg := testConfig("repo", &config.Template{Name: "a"})
	entered, unblock := make(chan struct{}), make(chan struct{})
	f := newFakeRunner()
	h := newHarness(t, cfg, withRun(f.run), func(o *Options) {
		o.Checkouts = &blockedCheckouts{Checkouts: o.Checkouts, entered: entered, unblock: unblock}
	})
	h.cfg.update(func(c *config.Config) { c.Projects["p"].Repositories["r"].URL = "./" + filepath.Base(repo) })
	h.cfg.mu.Lock()
	h.cfg.root = filepath.Dir(repo)
	h.cfg.mu.Unlock()
	task := h.submit("p", "a")
	<-entered
	if got := h.wait(task.ID, state.StatusStarting); got.Started.IsZero() {
		t.Error("starting task: Started not set")
	}
	stopped := make(chan state.Task, 1)
	go func() {
		t, _ := h.e.Stop(context.Background(), task.ID)
		stopped <- t
	}()
	h.e.mu.Lock()
	r := h.e.active[task.ID]
	h.e.mu.Unlock()
	<-r.ctx.Done() // the stop reached the run
	close(unblock)
	got := <-stopped
	if got.Status != state.StatusStopped || got.Message != msgStopped || got.ExitCode != -1 {
		t.Errorf("got %s %q exit %d, want stopped %q exit -1", got.Status, got.Message, got.ExitCode, msgStopped)
	}
	select {
	case r := <-f.started:
		t.Errorf("run of task %s started after a stop in starting", r.id)
	default:
	}
}
