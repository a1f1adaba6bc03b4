package exec

import (
	"context"
	"crypto/ed25519"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/exec/runner"
	"github.com/semaphored/semaphored/internal/gitcache"
	"github.com/semaphored/semaphored/internal/state"
)

// secrets resolves the references of one run and remembers every clear
// value for masking.
type secrets struct {
	r      SecretResolver
	values []string
	// withheld: the task checks a pull request from a fork, whose code
	// must not get the project's secrets; every reference resolves to ""
	// (git credentials excepted: see checkout).
	withheld bool
}

func (s *secrets) resolve(what string, ref *config.Secret) (string, error) {
	if ref == nil || s.withheld {
		return "", nil
	}
	v, err := s.r.Resolve(*ref)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", what, err)
	}
	s.add(v)
	return v, nil
}

func (s *secrets) add(v string) {
	if v == "" {
		return
	}
	s.values = append(s.values, v)
	// Multi-line values (keys) are also masked line by line, since the
	// runner masks line by line.
	if strings.Contains(v, "\n") {
		for l := range strings.SplitSeq(v, "\n") {
			if l = strings.TrimSpace(l); len(l) >= 8 {
				s.values = append(s.values, l)
			}
		}
	}
}

// taskDirs are the directories of one run, all 0700 under the task's
// own directory: the checkout and the runner's private files.
type taskDirs struct{ root, repo, private string }

// prepare turns the task and one snapshot of the active config into a
// runner.Spec: it checks the repositories out into taskDir and resolves
// every secret. It returns the commit checked out. Errors name what
// failed, never a secret value. Reading one snapshot means the config and
// the root that relative repository paths resolve against are of the
// same revision.
func (e *Engine) prepare(ctx context.Context, t state.Task, lw *logWriter, taskDir string) (runner.Spec, string, error) {
	snap := e.opts.Config.Snapshot()
	p, tmpl, repo, err := declared(snap.Config, t)
	if err != nil {
		return runner.Spec{}, "", err
	}
	dirs, err := makeTaskDirs(taskDir)
	if err != nil {
		return runner.Spec{}, "", err
	}
	sec := &secrets{r: e.secrets, withheld: t.Trigger.Fork}
	if sec.withheld {
		lw.engineLine("pull request from a fork: the project's secrets are withheld")
	}
	branch := t.Branch
	if branch == "" {
		branch = repo.Branch
	}
	commit, err := e.checkout(ctx, snap.Root, p, repo, t.Commit, branch, dirs.repo, sec, lw)
	if err != nil {
		return runner.Spec{}, "", err
	}
	spec := e.baseSpec(snap.Config, tmpl, t, dirs)
	if err := applyEnvironment(&spec, p, tmpl, sec); err != nil {
		return spec, commit, err
	}
	maps.Copy(spec.Vars, t.Vars) // task vars win
	switch tmpl.App {
	case config.AppAnsible:
		if err := e.prepareAnsible(ctx, snap.Root, p, tmpl, t, &spec, sec, lw); err != nil {
			return spec, commit, err
		}
	case config.AppTerraform, config.AppTofu:
		if err := e.prepareTerraform(tmpl, t, &spec); err != nil {
			return spec, commit, err
		}
	}
	spec.Secrets = sec.values
	return spec, commit, nil
}

// declared finds the task's project, template and repository in cfg.
func declared(cfg *config.Config, t state.Task) (*config.Project, *config.Template, *config.Repository, error) {
	if cfg == nil {
		return nil, nil, nil, fmt.Errorf("template %s/%s is no longer declared", t.Project, t.Template)
	}
	p, tmpl, ok := cfg.Template(t.Project, t.Template)
	if !ok {
		return nil, nil, nil, fmt.Errorf("template %s/%s is no longer declared", t.Project, t.Template)
	}
	repo := p.RepositoryOf(tmpl)
	if repo == nil {
		return nil, nil, nil, fmt.Errorf("repository %s of template %s is not declared", tmpl.Repository, tmpl.Name)
	}
	return p, tmpl, repo, nil
}

// makeTaskDirs creates the directories of one run.
func makeTaskDirs(taskDir string) (taskDirs, error) {
	d := taskDirs{root: taskDir, repo: filepath.Join(taskDir, "repo"), private: filepath.Join(taskDir, "private")}
	for _, dir := range []string{d.root, d.repo, d.private} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return d, fmt.Errorf("create task directory: %w", err)
		}
	}
	return d, nil
}

// baseSpec is the part of the spec that needs no secret and no checkout:
// the app, its entry point, arguments, limits and directories.
func (e *Engine) baseSpec(cfg *config.Config, tmpl *config.Template, t state.Task, dirs taskDirs) runner.Spec {
	spec := runner.Spec{
		App:        tmpl.App,
		RepoDir:    dirs.repo,
		PrivateDir: dirs.private,
		CacheDir:   filepath.Join(e.opts.WorkDir, "cache"),
		Arguments:  append(slices.Clone(tmpl.Arguments), t.Arguments...),
		Vars:       map[string]any{},
		Env:        map[string]string{},
		DryRun:     t.DryRun,
		Timeout:    time.Duration(tmpl.Timeout),
		Grace:      time.Duration(cfg.Settings.StopGracePeriod),
	}
	if spec.Timeout <= 0 {
		spec.Timeout = defaultTimeout
	}
	if spec.Grace <= 0 {
		spec.Grace = defaultGrace
	}
	switch tmpl.App {
	case config.AppAnsible:
		spec.Entry = tmpl.Playbook
	case config.AppTerraform, config.AppTofu:
		spec.Entry = tmpl.Directory
		if spec.Entry == "" {
			spec.Entry = "."
		}
	default:
		spec.Entry = tmpl.Script
	}
	return spec
}

// applyEnvironment adds the template's environment: its vars and env,
// and its secret env and vars, resolved.
func applyEnvironment(spec *runner.Spec, p *config.Project, tmpl *config.Template, sec *secrets) error {
	if tmpl.Environment == "" {
		return nil
	}
	env := p.EnvironmentOf(tmpl)
	if env != nil && sec.withheld {
		maps.Copy(spec.Vars, env.Vars)
		maps.Copy(spec.Env, env.Env)
		return nil
	}
	if env == nil {
		return fmt.Errorf("environment %s of template %s is not declared", tmpl.Environment, tmpl.Name)
	}
	maps.Copy(spec.Vars, env.Vars)
	maps.Copy(spec.Env, env.Env)
	for _, name := range slices.Sorted(maps.Keys(env.Secrets.Env)) {
		ref := env.Secrets.Env[name]
		v, err := sec.resolve(fmt.Sprintf("secret env %s of environment %s", name, env.Name), &ref)
		if err != nil {
			return err
		}
		spec.Env[name] = v
	}
	for _, name := range slices.Sorted(maps.Keys(env.Secrets.Vars)) {
		ref := env.Secrets.Vars[name]
		v, err := sec.resolve(fmt.Sprintf("secret var %s of environment %s", name, env.Name), &ref)
		if err != nil {
			return err
		}
		spec.Vars[name] = v
	}
	return nil
}

// prepareTerraform sets the terraform/tofu options, with the task's
// workspace and dry run, and creates the template's state directory.
func (e *Engine) prepareTerraform(tmpl *config.Template, t state.Task, spec *runner.Spec) error {
	o := tmpl.Terraform
	if o == nil {
		o = &config.TerraformOptions{}
	}
	spec.Terraform = runner.TerraformSpec{
		Workspace:       o.Workspace,
		VarFiles:        slices.Clone(o.VarFiles),
		PlanOnly:        o.PlanOnly || t.DryRun,
		RequireApproval: o.RequireApproval,
		StateDir:        e.tfStateDir(t),
	}
	if t.Workspace != "" {
		spec.Terraform.Workspace = t.Workspace
	}
	if err := os.MkdirAll(spec.Terraform.StateDir, 0o700); err != nil {
		return fmt.Errorf("create terraform state directory: %w", err)
	}
	return nil
}

// tfStateDir is where a template's terraform/tofu state lives between runs.
func (e *Engine) tfStateDir(t state.Task) string {
	return filepath.Join(e.opts.WorkDir, "tfstate", t.Project, t.Template)
}

// prepareAnsible sets the ansible options: the template's with the
// task's overrides, the vault password and the inventory with its keys.
func (e *Engine) prepareAnsible(ctx context.Context, root string, p *config.Project, tmpl *config.Template, t state.Task, spec *runner.Spec, sec *secrets, lw *logWriter) error {
	a := ansibleOptions(tmpl, t)
	v, err := sec.resolve("vault_password of template "+tmpl.Name, a.vaultPassword)
	if err != nil {
		return err
	}
	spec.Ansible = a.spec
	spec.Ansible.VaultPassword = v
	inv := p.InventoryOf(tmpl)
	if tmpl.Inventory == "" {
		return nil
	}
	if inv == nil {
		return fmt.Errorf("inventory %s of template %s is not declared", tmpl.Inventory, tmpl.Name)
	}
	if err := e.inventory(ctx, root, p, tmpl, inv, spec, sec, lw); err != nil {
		return err
	}
	if err := sshKey(p, inv, &spec.Ansible, sec); err != nil {
		return err
	}
	return becomeKey(p, inv, &spec.Ansible, sec)
}

// ansibleSettings are the ansible options before secrets are resolved.
type ansibleSettings struct {
	spec          runner.AnsibleSpec
	vaultPassword *config.Secret
}

// ansibleOptions merges the template's ansible options with the task's
// overrides (limit, tags, skip tags, dry run).
func ansibleOptions(tmpl *config.Template, t state.Task) ansibleSettings {
	o := tmpl.Ansible
	if o == nil {
		o = &config.AnsibleOptions{}
	}
	a := runner.AnsibleSpec{
		Limit:        o.Limit,
		Tags:         slices.Clone(o.Tags),
		SkipTags:     slices.Clone(o.SkipTags),
		Check:        o.Check || t.DryRun,
		Diff:         o.Diff || t.DryRun,
		Requirements: o.Requirements,
	}
	if t.Limit != "" {
		a.Limit = t.Limit
	}
	if len(t.Tags) > 0 {
		a.Tags = slices.Clone(t.Tags)
	}
	if len(t.SkipTags) > 0 {
		a.SkipTags = slices.Clone(t.SkipTags)
	}
	return ansibleSettings{spec: a, vaultPassword: o.VaultPassword}
}

// inventory sets the inventory text or path. A file inventory of another
// repository is checked out whole into PrivateDir, so group_vars/ and
// host_vars/ next to the file apply.
func (e *Engine) inventory(ctx context.Context, root string, p *config.Project, tmpl *config.Template, inv *config.Inventory, spec *runner.Spec, sec *secrets, lw *logWriter) error {
	a := &spec.Ansible
	switch inv.Type {
	case config.InventoryStatic:
		a.InventoryText = inv.Static
	case config.InventoryStaticYAML:
		a.InventoryText, a.InventoryYAML = inv.Static, true
	case config.InventoryFile:
		if inv.Repository == "" || inv.Repository == tmpl.Repository {
			a.InventoryPath = inv.Path
			return nil
		}
		r := p.Repositories[inv.Repository]
		if r == nil {
			return fmt.Errorf("repository %s of inventory %s is not declared", inv.Repository, inv.Name)
		}
		if !filepath.IsLocal(inv.Path) {
			return fmt.Errorf("inventory %s: path %q is not inside repository %s", inv.Name, inv.Path, r.Name)
		}
		dir := filepath.Join(spec.PrivateDir, "inventory-repo")
		if err := os.Mkdir(dir, 0o700); err != nil {
			return fmt.Errorf("create inventory checkout directory: %w", err)
		}
		if _, err := e.checkout(ctx, root, p, r, "", r.Branch, dir, sec, lw); err != nil {
			return fmt.Errorf("inventory %s: %w", inv.Name, err)
		}
		abs, err := filepath.Abs(filepath.Join(dir, inv.Path))
		if err != nil {
			return fmt.Errorf("inventory %s: %w", inv.Name, err)
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("inventory %s: %s of repository %s: %w", inv.Name, inv.Path, r.Name, errors.Unwrap(err))
		}
		a.InventoryPath = abs
	}
	return nil
}

// sshKey resolves the inventory's ssh key, decrypted, for ansible.
func sshKey(p *config.Project, inv *config.Inventory, a *runner.AnsibleSpec, sec *secrets) error {
	if inv.SSHKey == "" || sec.withheld {
		return nil
	}
	k := p.Keys[inv.SSHKey]
	if k == nil {
		return fmt.Errorf("ssh_key %s of inventory %s is not declared", inv.SSHKey, inv.Name)
	}
	pemKey, err := sec.resolve("private_key of key "+k.Name, k.PrivateKey)
	if err != nil {
		return err
	}
	pass, err := sec.resolve("passphrase of key "+k.Name, k.Passphrase)
	if err != nil {
		return err
	}
	clear, err := decryptKey([]byte(pemKey), pass)
	if err != nil {
		return fmt.Errorf("key %s: %w", k.Name, err)
	}
	sec.add(string(clear))
	a.SSHKey = clear
	a.SSHUser = k.User
	if a.SSHUser == "" {
		a.SSHUser = k.Login
	}
	return nil
}

// becomeKey resolves the inventory's become password.
func becomeKey(p *config.Project, inv *config.Inventory, a *runner.AnsibleSpec, sec *secrets) error {
	if inv.BecomeKey == "" || sec.withheld {
		return nil
	}
	k := p.Keys[inv.BecomeKey]
	if k == nil {
		return fmt.Errorf("become_key %s of inventory %s is not declared", inv.BecomeKey, inv.Name)
	}
	pw, err := sec.resolve("password of key "+k.Name, k.Password)
	if err != nil {
		return err
	}
	a.BecomePassword = pw
	return nil
}

// decryptKey returns pemKey as an unencrypted OpenSSH PEM key; a key
// without passphrase is returned as given once it parses.
func decryptKey(pemKey []byte, passphrase string) ([]byte, error) {
	if passphrase == "" {
		if _, err := ssh.ParseRawPrivateKey(pemKey); err != nil {
			return nil, fmt.Errorf("parse private key: %w", err)
		}
		return pemKey, nil
	}
	raw, err := ssh.ParseRawPrivateKeyWithPassphrase(pemKey, []byte(passphrase))
	if err != nil {
		return nil, fmt.Errorf("decrypt private key: %w", err)
	}
	if k, ok := raw.(*ed25519.PrivateKey); ok {
		raw = *k
	}
	block, err := ssh.MarshalPrivateKey(raw, "")
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(block), nil
}

// gitAuth resolves the credentials of a repository's key.
func gitAuth(p *config.Project, repo *config.Repository, sec *secrets) (gitcache.Auth, error) {
	var auth gitcache.Auth
	if repo.Key == "" {
		return auth, nil
	}
	k := p.Keys[repo.Key]
	if k == nil {
		return auth, fmt.Errorf("key %s of repository %s is not declared", repo.Key, repo.Name)
	}
	var err error
	switch k.Type {
	case config.KeySSH:
		var key string
		if key, err = sec.resolve("private_key of key "+k.Name, k.PrivateKey); err != nil {
			return auth, err
		}
		auth.SSHKey = []byte(key)
		if auth.SSHPassphrase, err = sec.resolve("passphrase of key "+k.Name, k.Passphrase); err != nil {
			return auth, err
		}
		auth.SSHUser = k.User
		auth.KnownHostsFile = k.KnownHosts
		auth.InsecureIgnoreHostKey = k.InsecureIgnoreHostKey
	case config.KeyLoginPassword:
		auth.Username = k.Login
		if auth.Password, err = sec.resolve("password of key "+k.Name, k.Password); err != nil {
			return auth, err
		}
	case config.KeyToken:
		if auth.Token, err = sec.resolve("token of key "+k.Name, k.Token); err != nil {
			return auth, err
		}
	}
	return auth, nil
}

// checkout writes the repository at sha (or the head of branch) into dst
// and returns the commit. A relative local path resolves against root,
// the root of the config revision the task runs with. A local path that
// is a plain directory (not a git repository) is copied as it is, with no
// commit. The checkout source's errors already name the operation and the
// redacted URL ("checkout URL: ..."), so they are returned as they are.
func (e *Engine) checkout(ctx context.Context, root string, p *config.Project, repo *config.Repository, sha, branch, dst string, sec *secrets, lw *logWriter) (string, error) {
	url := repo.URL
	if config.ClassifyURL(url) == config.URLLocal && !filepath.IsAbs(url) {
		if root == "" {
			root = "."
		}
		url = filepath.Join(root, url)
	}
	// Git credentials fetch the code and never reach the job: a fork's
	// task fetches with them too. They are masked all the same.
	gsec := &secrets{r: sec.r}
	auth, err := gitAuth(p, repo, gsec)
	sec.values = append(sec.values, gsec.values...)
	if err != nil {
		return "", fmt.Errorf("repository %s: %w", repo.Name, err)
	}
	if e.opts.Checkouts == nil {
		return "", fmt.Errorf("checkout %s: no git cache configured", gitcache.Redact(url))
	}
	c, err := e.opts.Checkouts.Checkout(ctx, url, auth, sha, branch, dst)
	if err != nil {
		return "", err
	}
	if c.SHA == "" {
		lw.engineLine(fmt.Sprintf("checkout %s (plain directory)", gitcache.Redact(url)))
		return "", nil
	}
	lw.engineLine(fmt.Sprintf("checkout %s at %s", gitcache.Redact(url), shortSHA(c.SHA)))
	return c.SHA, nil
}

func shortSHA(s string) string {
	if len(s) > 7 {
		return s[:7]
	}
	return s
}
