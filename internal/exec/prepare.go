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
	r      *config.Resolver
	values []string
}

func (s *secrets) resolve(what string, ref *config.Secret) (string, error) {
	if ref == nil {
		return "", nil
	}
	r := s.r
	if r == nil {
		r = &config.Resolver{}
	}
	v, err := r.Resolve(*ref)
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

// prepare turns the task and the active config into a runner.Spec: it
// checks the repositories out into taskDir (0700) and resolves every
// secret. It returns the commit checked out. Errors name what failed,
// never a secret value.
func (e *Engine) prepare(ctx context.Context, t state.Task, lw *logWriter, taskDir string) (runner.Spec, string, error) {
	var spec runner.Spec
	cfg := e.opts.Config.Active()
	if cfg == nil || cfg.Projects[t.Project] == nil || cfg.Projects[t.Project].Templates[t.Template] == nil {
		return spec, "", fmt.Errorf("template %s/%s is no longer declared", t.Project, t.Template)
	}
	p := cfg.Projects[t.Project]
	tmpl := p.Templates[t.Template]
	sec := &secrets{r: e.opts.Secrets}

	repoDir := filepath.Join(taskDir, "repo")
	privDir := filepath.Join(taskDir, "private")
	for _, d := range []string{taskDir, repoDir, privDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return spec, "", fmt.Errorf("create task directory: %w", err)
		}
	}

	repo := p.Repositories[tmpl.Repository]
	if repo == nil {
		return spec, "", fmt.Errorf("repository %s of template %s is not declared", tmpl.Repository, tmpl.Name)
	}
	branch := t.Branch
	if branch == "" {
		branch = repo.Branch
	}
	commit, err := e.checkout(ctx, p, repo, t.Commit, branch, repoDir, sec, lw)
	if err != nil {
		return spec, "", err
	}

	spec = runner.Spec{
		App:        tmpl.App,
		RepoDir:    repoDir,
		PrivateDir: privDir,
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

	if tmpl.Environment != "" {
		env := p.Environments[tmpl.Environment]
		if env == nil {
			return spec, commit, fmt.Errorf("environment %s of template %s is not declared", tmpl.Environment, tmpl.Name)
		}
		maps.Copy(spec.Vars, env.Vars)
		maps.Copy(spec.Env, env.Env)
		for _, name := range sortedKeys(env.Secrets.Env) {
			ref := env.Secrets.Env[name]
			v, err := sec.resolve(fmt.Sprintf("secret env %s of environment %s", name, env.Name), &ref)
			if err != nil {
				return spec, commit, err
			}
			spec.Env[name] = v
		}
		for _, name := range sortedKeys(env.Secrets.Vars) {
			ref := env.Secrets.Vars[name]
			v, err := sec.resolve(fmt.Sprintf("secret var %s of environment %s", name, env.Name), &ref)
			if err != nil {
				return spec, commit, err
			}
			spec.Vars[name] = v
		}
	}
	maps.Copy(spec.Vars, t.Vars) // task vars win

	switch tmpl.App {
	case config.AppAnsible:
		if err := e.prepareAnsible(ctx, p, tmpl, t, &spec, sec, lw, repo); err != nil {
			return spec, commit, err
		}
	case config.AppTerraform, config.AppTofu:
		o := tmpl.Terraform
		if o == nil {
			o = &config.TerraformOptions{}
		}
		spec.Terraform = runner.TerraformSpec{
			Workspace:       o.Workspace,
			VarFiles:        slices.Clone(o.VarFiles),
			PlanOnly:        o.PlanOnly || t.DryRun,
			RequireApproval: o.RequireApproval,
		}
		if t.Workspace != "" {
			spec.Terraform.Workspace = t.Workspace
		}
		spec.Terraform.StateDir = e.tfStateDir(t)
		if err := os.MkdirAll(e.tfStateDir(t), 0o700); err != nil {
			return spec, commit, fmt.Errorf("create terraform state directory: %w", err)
		}
	}
	spec.Secrets = sec.values
	return spec, commit, nil
}

// tfStateDir is where a template's terraform/tofu state lives between runs.
func (e *Engine) tfStateDir(t state.Task) string {
	return filepath.Join(e.opts.WorkDir, "tfstate", t.Project, t.Template)
}

func (e *Engine) prepareAnsible(ctx context.Context, p *config.Project, tmpl *config.Template, t state.Task, spec *runner.Spec, sec *secrets, lw *logWriter, tmplRepo *config.Repository) error {
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
	v, err := sec.resolve("vault_password of template "+tmpl.Name, o.VaultPassword)
	if err != nil {
		return err
	}
	a.VaultPassword = v

	if tmpl.Inventory != "" {
		inv := p.Inventories[tmpl.Inventory]
		if inv == nil {
			return fmt.Errorf("inventory %s of template %s is not declared", tmpl.Inventory, tmpl.Name)
		}
		switch inv.Type {
		case config.InventoryStatic:
			a.InventoryText = inv.Static
		case config.InventoryStaticYAML:
			a.InventoryText, a.InventoryYAML = inv.Static, true
		case config.InventoryFile:
			if inv.Repository == "" || inv.Repository == tmplRepo.Name {
				a.InventoryPath = inv.Path
				break
			}
			r := p.Repositories[inv.Repository]
			if r == nil {
				return fmt.Errorf("repository %s of inventory %s is not declared", inv.Repository, inv.Name)
			}
			dir := filepath.Join(spec.PrivateDir, "inventory-repo")
			if err := os.Mkdir(dir, 0o700); err != nil {
				return fmt.Errorf("create inventory checkout directory: %w", err)
			}
			if _, err := e.checkout(ctx, p, r, "", r.Branch, dir, sec, lw); err != nil {
				return fmt.Errorf("inventory %s: %w", inv.Name, err)
			}
			// The whole checkout stays in PrivateDir: the runner takes an
			// absolute inventory path there, so group_vars/ and host_vars/
			// next to the file apply.
			if !filepath.IsLocal(inv.Path) {
				return fmt.Errorf("inventory %s: path %q is not inside repository %s", inv.Name, inv.Path, r.Name)
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
		if inv.SSHKey != "" {
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
		}
		if inv.BecomeKey != "" {
			k := p.Keys[inv.BecomeKey]
			if k == nil {
				return fmt.Errorf("become_key %s of inventory %s is not declared", inv.BecomeKey, inv.Name)
			}
			pw, err := sec.resolve("password of key "+k.Name, k.Password)
			if err != nil {
				return err
			}
			a.BecomePassword = pw
		}
	}
	spec.Ansible = a
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

// isLocal reports whether a repository URL is a local path (absolute or
// relative), not a URL or an scp-like address.
func isLocal(url string) bool {
	if strings.Contains(url, "://") {
		return false
	}
	if filepath.IsAbs(url) {
		return true
	}
	if i := strings.Index(url, ":"); i >= 0 && !strings.Contains(url[:i], "/") {
		return false // user@host:path or host:path
	}
	return true
}

// checkout writes the repository at sha (or the head of branch) into dst
// and returns the commit. A local path that is a plain directory (not a
// git repository) is copied as it is by the git cache, with no commit.
// The git cache's errors already name the operation and the redacted URL
// ("checkout URL: ..."), so they are returned as they are.
func (e *Engine) checkout(ctx context.Context, p *config.Project, repo *config.Repository, sha, branch, dst string, sec *secrets, lw *logWriter) (string, error) {
	url := repo.URL
	if isLocal(url) && !filepath.IsAbs(url) {
		root := "."
		if e.opts.ConfigRoot != nil {
			root = e.opts.ConfigRoot()
		}
		url = filepath.Join(root, url)
	}
	auth, err := gitAuth(p, repo, sec)
	if err != nil {
		return "", fmt.Errorf("repository %s: %w", repo.Name, err)
	}
	if e.opts.Git == nil {
		return "", fmt.Errorf("checkout %s: no git cache configured", gitcache.Redact(url))
	}
	c, err := e.opts.Git.Checkout(ctx, url, auth, sha, branch, dst)
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

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortStrings(keys)
	return keys
}
