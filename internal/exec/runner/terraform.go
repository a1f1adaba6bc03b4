package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// terraform runs init, workspace selection, plan and (when the plan has
// changes and the run is neither plan-only nor dry nor rejected) apply of
// the plan file, with terraform or tofu.
func (r *run) terraform(name string) Result {
	bin, err := lookPath(name, r.pathEnv())
	if err != nil {
		return *errResult(err)
	}
	tf := r.spec.Terraform
	sub := r.spec.Entry
	if sub == "" {
		sub = "."
	}
	if !filepath.IsLocal(sub) {
		return *errResult(fmt.Errorf("working directory %q is not inside the repository", sub))
	}
	dir := filepath.Join(r.spec.RepoDir, sub)
	for _, vf := range tf.VarFiles {
		if !filepath.IsLocal(filepath.Join(sub, vf)) {
			return *errResult(fmt.Errorf("var file %q is not inside the repository", vf))
		}
	}
	pluginCache := filepath.Join(r.spec.CacheDir, "terraform-plugins")
	if r.spec.CacheDir == "" {
		pluginCache = filepath.Join(r.spec.PrivateDir, "terraform-plugins")
	}
	if err := os.MkdirAll(pluginCache, 0o755); err != nil {
		return *errResult(fmt.Errorf("prepare %s: %w", name, err))
	}
	env := r.environ(map[string]string{
		"TF_IN_AUTOMATION":    "1",
		"TF_INPUT":            "0",
		"TF_PLUGIN_CACHE_DIR": pluginCache,
	})

	if tf.StateDir != "" {
		if err := copyState(tf.StateDir, dir); err != nil {
			return *errResult(fmt.Errorf("restore local state: %w", err))
		}
	}
	res := r.terraformSteps(name, bin, dir, env)
	if tf.StateDir != "" {
		if err := copyState(dir, tf.StateDir); err != nil {
			_ = r.log("could not save the local state: " + err.Error())
			if res.Status == Success {
				res = *errResult(fmt.Errorf("save local state: %w", err))
			}
		}
	}
	return res
}

func (r *run) terraformSteps(name, bin, dir string, env []string) Result {
	tf := r.spec.Terraform
	step := func(args ...string) (int, *Result) {
		return r.proc(dir, append([]string{bin}, args...), env)
	}
	failed := func(what string, code int) Result {
		return Result{Status: Failure, ExitCode: code, Message: fmt.Sprintf("%s %s exited with code %d", name, what, code)}
	}

	if code, res := step("init", "-input=false", "-no-color"); res != nil {
		return *res
	} else if code != 0 {
		return failed("init", code)
	}
	if ws := tf.Workspace; ws != "" {
		code, res := step("workspace", "select", "-or-create=true", ws)
		if res != nil {
			return *res
		}
		if code != 0 {
			// Versions without -or-create (before terraform 1.4): select,
			// then create.
			if code, res = step("workspace", "select", ws); res != nil {
				return *res
			}
			if code != 0 {
				if code, res = step("workspace", "new", ws); res != nil {
					return *res
				}
				if code != 0 {
					return failed("workspace new", code)
				}
			}
		}
	}

	planFile := filepath.Join(r.spec.PrivateDir, "plan.tfplan")
	plan := []string{"plan", "-input=false", "-no-color", "-detailed-exitcode", "-out=" + planFile}
	if len(r.spec.Vars) > 0 {
		p, err := r.writePrivateJSON("vars.tfvars.json", r.spec.Vars)
		if err != nil {
			return *errResult(err)
		}
		plan = append(plan, "-var-file="+p)
	}
	for _, vf := range tf.VarFiles {
		plan = append(plan, "-var-file="+vf)
	}
	plan = append(plan, r.spec.Arguments...)
	code, res := step(plan...)
	if res != nil {
		return *res
	}
	switch code {
	case 0:
		return Result{Status: Success, ExitCode: 0, Message: "no changes"}
	case 2:
	default:
		return failed("plan", code)
	}
	if tf.PlanOnly || r.spec.DryRun {
		return Result{Status: Success, ExitCode: 0, Message: "plan has changes"}
	}
	if tf.RequireApproval && r.hooks.AwaitApproval != nil {
		if res := r.approve(); res != nil {
			return *res
		}
	}
	code, res = step("apply", "-input=false", "-no-color", planFile)
	if res != nil {
		return *res
	}
	if code != 0 {
		return failed("apply", code)
	}
	return Result{Status: Success, ExitCode: 0}
}

// approve waits for the approval hook; it returns nil when approved.
func (r *run) approve() *Result {
	if err := r.log("plan has changes: waiting for approval"); err != nil {
		return errResult(err)
	}
	ctx := r.ctx
	if !r.deadline.IsZero() {
		var cancel func()
		ctx, cancel = context.WithDeadline(ctx, r.deadline)
		defer cancel()
	}
	ok, err := r.hooks.AwaitApproval(ctx)
	if res := r.interrupted(); res != nil {
		return res
	}
	if err != nil {
		return errResult(fmt.Errorf("await approval: %w", err))
	}
	if !ok {
		if err := r.log("plan rejected"); err != nil {
			return errResult(err)
		}
		return &Result{Status: Stopped, ExitCode: -1, Message: "plan rejected"}
	}
	if err := r.log("plan approved"); err != nil {
		return errResult(err)
	}
	return nil
}

// stateNames are the local-backend state files kept between runs.
var stateNames = []string{"terraform.tfstate", "terraform.tfstate.d"}

// copyState copies terraform.tfstate and the terraform.tfstate.d tree from
// one directory to another; each file is written to a temporary name and
// renamed into place, with mode 0600 (state holds secrets).
func copyState(from, to string) error {
	for _, name := range stateNames {
		root := filepath.Join(from, name)
		if _, err := os.Lstat(root); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(from, p)
			if err != nil {
				return err
			}
			dst := filepath.Join(to, rel)
			switch {
			case d.IsDir():
				return os.MkdirAll(dst, 0o700)
			case d.Type().IsRegular():
				if strings.HasPrefix(d.Name(), ".tmp-") {
					return nil
				}
				return copyFileAtomic(p, dst)
			}
			return nil // symlinks and others are not state
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func copyFileAtomic(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".tmp-"+filepath.Base(dst)+"-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}
