package runner

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// completeMarker is written last into an installed requirements cache
// directory; a directory without it is never used.
const completeMarker = ".semaphored-complete"

// ansible runs ansible-playbook, after installing the galaxy requirements
// into the content-addressed cache when needed.
func (r *run) ansible() Result {
	a := r.spec.Ansible
	playbook, err := r.entry("playbook")
	if err != nil {
		return *errResult(err)
	}
	bin, err := lookPath("ansible-playbook", r.pathEnv())
	if err != nil {
		return *errResult(err)
	}
	priv := r.spec.PrivateDir
	tmp := filepath.Join(priv, "ansible-tmp")
	for _, d := range []string{filepath.Join(tmp, "local"), filepath.Join(tmp, "remote")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return *errResult(fmt.Errorf("prepare ansible: %w", err))
		}
	}
	env := map[string]string{
		"ANSIBLE_FORCE_COLOR":         "0",
		"ANSIBLE_NOCOLOR":             "1",
		"PYTHONUNBUFFERED":            "1",
		"ANSIBLE_LOCAL_TEMP":          filepath.Join(tmp, "local"),
		"ANSIBLE_REMOTE_TEMP":         filepath.Join(tmp, "remote"),
		"ANSIBLE_RETRY_FILES_ENABLED": "0",
	}

	if res := r.galaxy(playbook, env); res != nil {
		return *res
	}

	argv := []string{bin, playbook}
	switch {
	case a.InventoryText != "":
		name := "inventory.ini"
		if a.InventoryYAML {
			name = "inventory.yml"
		}
		p, err := r.writePrivate(name, []byte(a.InventoryText))
		if err != nil {
			return *errResult(err)
		}
		argv = append(argv, "-i", p)
	case a.InventoryPath != "":
		p, err := r.inventoryPath(a.InventoryPath)
		if err != nil {
			return *errResult(err)
		}
		argv = append(argv, "-i", p)
	}
	if len(r.spec.Vars) > 0 {
		p, err := r.writePrivateJSON("vars.json", r.spec.Vars)
		if err != nil {
			return *errResult(err)
		}
		argv = append(argv, "--extra-vars", "@"+p)
	}
	if a.Limit != "" {
		argv = append(argv, "--limit", a.Limit)
	}
	if len(a.Tags) > 0 {
		argv = append(argv, "--tags", strings.Join(a.Tags, ","))
	}
	if len(a.SkipTags) > 0 {
		argv = append(argv, "--skip-tags", strings.Join(a.SkipTags, ","))
	}
	if a.Check || r.spec.DryRun {
		argv = append(argv, "--check")
	}
	if a.Diff || r.spec.DryRun {
		argv = append(argv, "--diff")
	}
	if a.VaultPassword != "" {
		p, err := r.writePrivate("vault-password", []byte(a.VaultPassword))
		if err != nil {
			return *errResult(err)
		}
		argv = append(argv, "--vault-password-file", p)
	}
	if len(a.SSHKey) > 0 {
		key := a.SSHKey
		if !bytes.HasSuffix(key, []byte("\n")) {
			key = append(append([]byte(nil), key...), '\n')
		}
		p, err := r.writePrivate("ssh-key", key)
		if err != nil {
			return *errResult(err)
		}
		argv = append(argv, "--private-key", p)
	}
	if a.SSHUser != "" {
		argv = append(argv, "-u", a.SSHUser)
	}
	if a.BecomePassword != "" {
		// ansible-core >= 2.12 reads the become password from this file.
		p, err := r.writePrivate("become-password", []byte(a.BecomePassword))
		if err != nil {
			return *errResult(err)
		}
		env["ANSIBLE_BECOME_PASSWORD_FILE"] = p
	}
	argv = append(argv, r.spec.Arguments...)

	code, res := r.proc(r.spec.RepoDir, argv, r.environ(env))
	if res != nil {
		return *res
	}
	return exitResult("ansible-playbook", code)
}

// requirementsFile returns the galaxy requirements file of the run, or ""
// when there is none.
func (r *run) requirementsFile(playbook string) (string, error) {
	if req := r.spec.Ansible.Requirements; req != "" {
		if !filepath.IsLocal(req) {
			return "", fmt.Errorf("requirements %q is not inside the repository", req)
		}
		return filepath.Join(r.spec.RepoDir, req), nil
	}
	for _, p := range []string{
		filepath.Join(r.spec.RepoDir, filepath.Dir(playbook), "requirements.yml"),
		filepath.Join(r.spec.RepoDir, "requirements.yml"),
	} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", nil
}

// requirements says what a requirements file asks for.
type requirements struct{ roles, collections bool }

func parseRequirements(data []byte) (requirements, error) {
	var node yaml.Node
	if err := yaml.Unmarshal(data, &node); err != nil {
		return requirements{}, err
	}
	if len(node.Content) == 0 {
		return requirements{}, nil
	}
	doc := node.Content[0]
	switch doc.Kind {
	case yaml.SequenceNode: // the old format: a list of roles
		return requirements{roles: len(doc.Content) > 0}, nil
	case yaml.MappingNode:
		var req requirements
		for i := 0; i+1 < len(doc.Content); i += 2 {
			nonEmpty := doc.Content[i+1].Kind == yaml.SequenceNode && len(doc.Content[i+1].Content) > 0
			switch doc.Content[i].Value {
			case "roles":
				req.roles = nonEmpty
			case "collections":
				req.collections = nonEmpty
			}
		}
		return req, nil
	}
	return requirements{}, errors.New("want a list of roles or a map with roles and collections")
}

// galaxy installs the run's requirements (if any) into
// CacheDir/ansible/{roles,collections}/<sha256 of the file> unless that
// directory is already complete, and points ANSIBLE_ROLES_PATH and
// ANSIBLE_COLLECTIONS_PATH at them in env.
func (r *run) galaxy(playbook string, env map[string]string) *Result {
	reqFile, err := r.requirementsFile(playbook)
	if err != nil || reqFile == "" {
		if err != nil {
			return errResult(err)
		}
		return nil
	}
	data, err := os.ReadFile(reqFile)
	if err != nil {
		return errResult(fmt.Errorf("read requirements: %w", err))
	}
	req, err := parseRequirements(data)
	if err != nil {
		rel, _ := filepath.Rel(r.spec.RepoDir, reqFile)
		return errResult(fmt.Errorf("parse requirements %s: %w", rel, err))
	}
	if !req.roles && !req.collections {
		return nil
	}
	if r.spec.CacheDir == "" {
		return errResult(errors.New("install requirements: no cache directory"))
	}
	bin, err := lookPath("ansible-galaxy", r.pathEnv())
	if err != nil {
		return errResult(err)
	}
	sum := sha256.Sum256(data)
	key := hex.EncodeToString(sum[:])
	kinds := []struct {
		want   bool
		kind   string // roles or collections
		cmd    string // role or collection
		envVar string
	}{
		{req.roles, "roles", "role", "ANSIBLE_ROLES_PATH"},
		{req.collections, "collections", "collection", "ANSIBLE_COLLECTIONS_PATH"},
	}
	for _, k := range kinds {
		if !k.want {
			continue
		}
		dir := filepath.Join(r.spec.CacheDir, "ansible", k.kind, key)
		if !isComplete(dir) {
			if res := r.galaxyInstall(bin, k.cmd, reqFile, dir, env); res != nil {
				return res
			}
		} else if err := r.log(fmt.Sprintf("ansible %s of %s are cached", k.kind, filepath.Base(reqFile))); err != nil {
			return errResult(err)
		}
		env[k.envVar] = dir
	}
	return nil
}

func isComplete(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, completeMarker))
	return err == nil
}

// galaxyInstall installs into a temporary directory next to dir, writes
// the marker last and renames it into place, so that a crash never leaves
// a half-filled cache directory.
func (r *run) galaxyInstall(bin, cmd, reqFile, dir string, env map[string]string) *Result {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return errResult(fmt.Errorf("install requirements: %w", err))
	}
	removeStaleTemps(parent, staleAfter)
	tmp, err := os.MkdirTemp(parent, ".tmp-"+filepath.Base(dir)+"-")
	if err != nil {
		return errResult(fmt.Errorf("install requirements: %w", err))
	}
	defer os.RemoveAll(tmp) // a no-op after the rename
	argv := []string{bin, cmd, "install", "-r", reqFile, "-p", tmp}
	code, res := r.proc(r.spec.RepoDir, argv, r.environ(env))
	if res != nil {
		return res
	}
	if code != 0 {
		return &Result{Status: Failure, ExitCode: code, Message: fmt.Sprintf("ansible-galaxy %s install exited with code %d", cmd, code)}
	}
	if err := os.WriteFile(filepath.Join(tmp, completeMarker), nil, 0o644); err != nil {
		return errResult(fmt.Errorf("install requirements: %w", err))
	}
	if _, err := os.Stat(dir); err == nil && !isComplete(dir) {
		// Never made by a rename of ours (the marker is written first):
		// stale, replace it.
		if err := os.RemoveAll(dir); err != nil {
			return errResult(fmt.Errorf("install requirements: %w", err))
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if isComplete(dir) {
			return nil // a concurrent run installed the same file first
		}
		return errResult(fmt.Errorf("install requirements: %w", err))
	}
	return nil
}

// staleAfter is the age after which a temporary install directory is
// taken to be left by a crash (no install runs that long).
const staleAfter = 24 * time.Hour

// removeStaleTemps removes .tmp-* directories in parent older than age:
// what a killed daemon left behind. Errors are ignored: the leftovers only
// cost disk space.
func removeStaleTemps(parent string, age time.Duration) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), ".tmp-") {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > age {
			_ = os.RemoveAll(filepath.Join(parent, e.Name()))
		}
	}
}

// inventoryPath returns the inventory file to give ansible-playbook: a
// relative path must stay inside RepoDir; an absolute one must be inside
// PrivateDir, where the engine checks out an inventory of another
// repository (so that its group_vars/ and host_vars/ come along).
func (r *run) inventoryPath(p string) (string, error) {
	if !filepath.IsAbs(p) {
		if !filepath.IsLocal(p) {
			return "", fmt.Errorf("inventory %q is not inside the repository", p)
		}
		return filepath.Join(r.spec.RepoDir, p), nil
	}
	priv, err := filepath.Abs(r.spec.PrivateDir)
	if err != nil {
		return "", fmt.Errorf("inventory %q: %w", p, err)
	}
	rel, err := filepath.Rel(priv, p)
	if err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("inventory %q is not inside the private directory", p)
	}
	return filepath.Join(priv, rel), nil
}
