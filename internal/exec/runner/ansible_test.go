package runner

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/testenv"
)

const vaultValue = "vault-clear-Value-77"

// ansibleRepo copies testdata/ansible into a new repository directory and
// adds vault.yml with vaultValue encrypted by ansible-vault under the
// returned password.
func ansibleRepo(t *testing.T) (repo, vaultPassword string) {
	t.Helper()
	testenv.LookTool(t, "ansible-playbook")
	vault := testenv.LookTool(t, "ansible-vault")
	repo = t.TempDir()
	for _, name := range []string{"site.yml", "inventory.ini", "inventory.yml"} {
		b, err := os.ReadFile(filepath.Join("testdata", "ansible", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(repo, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	vaultPassword = "vault-pass-123"
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(vaultPassword), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(vault, "encrypt_string", "--vault-password-file", pwFile, "--name", "vault_secret", vaultValue)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ansible-vault encrypt_string: %v", err)
	}
	if err := os.WriteFile(filepath.Join(repo, "vault.yml"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	return repo, vaultPassword
}

func ansibleSpec(t *testing.T, repo string) Spec {
	return Spec{
		App:        config.AppAnsible,
		RepoDir:    repo,
		PrivateDir: filepath.Join(t.TempDir(), "private"),
		CacheDir:   filepath.Join(t.TempDir(), "cache"),
		Entry:      "site.yml",
		Grace:      2 * time.Second,
	}
}

func TestAnsible(t *testing.T) {
	t.Setenv("SEMAPHORED_DAEMON_TOKEN", "daemon-only")
	repo, vaultPassword := ansibleRepo(t)
	iniText, err := os.ReadFile(filepath.Join(repo, "inventory.ini"))
	if err != nil {
		t.Fatal(err)
	}
	yamlText, err := os.ReadFile(filepath.Join(repo, "inventory.yml"))
	if err != nil {
		t.Fatal(err)
	}
	outFile := filepath.Join(t.TempDir(), "written.txt")

	tests := []struct {
		name      string
		edit      func(*Spec)
		want      Result
		wantOut   []string // substrings that must appear in the output
		notWant   []string // substrings that must not
		wantFile  bool     // outFile exists after the run
		wantArgv  []string // substrings of the "$ ansible-playbook" line
		privFiles []string // files in PrivateDir, all 0600
	}{
		{
			name: "ini inventory text with extra vars",
			edit: func(s *Spec) {
				s.Ansible.InventoryText = string(iniText)
				s.Vars = map[string]any{"greeting": "hello world"}
				s.Ansible.Tags = []string{"greet"}
			},
			want:      Result{Status: Success},
			wantOut:   []string{`"msg": "greeting=hello world"`, "ok=1"},
			wantArgv:  []string{"site.yml -i ", "/inventory.ini --extra-vars @", "/vars.json --tags greet"},
			privFiles: []string{"inventory.ini", "vars.json"},
		},
		{
			name: "yaml inventory text",
			edit: func(s *Spec) {
				s.Ansible.InventoryText = string(yamlText)
				s.Ansible.InventoryYAML = true
				s.Ansible.Tags = []string{"greet", "env"}
			},
			want:      Result{Status: Success},
			wantOut:   []string{`"msg": "greeting=none"`, `"msg": "env nocolor=1 retry=0 lang=C.UTF-8 leak="`},
			wantArgv:  []string{"/inventory.yml"},
			privFiles: []string{"inventory.yml"},
		},
		{
			name: "inventory path and write",
			edit: func(s *Spec) {
				s.Ansible.InventoryPath = "inventory.ini"
				s.Vars = map[string]any{"out_file": outFile}
				s.Ansible.Tags = []string{"write"}
			},
			want:     Result{Status: Success},
			wantOut:  []string{"changed=1"},
			wantFile: true,
		},
		{
			name: "check mode does not write",
			edit: func(s *Spec) {
				s.Ansible.InventoryPath = "inventory.ini"
				s.Vars = map[string]any{"out_file": outFile + ".check"}
				s.Ansible.Tags = []string{"write"}
				s.Ansible.Check = true
			},
			want:     Result{Status: Success},
			wantOut:  []string{"changed=1"},
			wantArgv: []string{"--tags write --check"},
		},
		{
			name: "dry run is check and diff, tags and skip tags",
			edit: func(s *Spec) {
				s.Ansible.InventoryPath = "inventory.ini"
				s.Vars = map[string]any{"out_file": outFile + ".dry"}
				s.Ansible.Tags = []string{"write", "greet"}
				s.Ansible.SkipTags = []string{"greet"}
				s.Ansible.Limit = "localhost"
				s.DryRun = true
			},
			want:     Result{Status: Success},
			wantOut:  []string{"+written"},
			notWant:  []string{"greeting="},
			wantArgv: []string{"--limit localhost --tags write,greet --skip-tags greet --check --diff"},
		},
		{
			name: "vault variable unlocked and masked",
			edit: func(s *Spec) {
				s.Ansible.InventoryPath = "inventory.ini"
				s.Ansible.VaultPassword = vaultPassword
				s.Ansible.Tags = []string{"vault"}
				s.Secrets = []string{vaultValue, vaultPassword}
			},
			want:      Result{Status: Success},
			wantOut:   []string{`"msg": "vault=*** len=20"`},
			notWant:   []string{vaultValue},
			wantArgv:  []string{"--vault-password-file "},
			privFiles: []string{"vault-password"},
		},
		{
			name: "ssh key, user, become password in files",
			edit: func(s *Spec) {
				s.Ansible.InventoryPath = "inventory.ini"
				s.Ansible.SSHKey = []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----")
				s.Ansible.SSHUser = "deploy"
				s.Ansible.BecomePassword = "become-pw-9"
				s.Ansible.Tags = []string{"become"}
				s.Arguments = []string{"-v"}
				s.Secrets = []string{"become-pw-9"}
			},
			want:      Result{Status: Success},
			wantOut:   []string{`"msg": "become_len=11"`},
			wantArgv:  []string{"--private-key ", "/ssh-key -u deploy -v"},
			privFiles: []string{"ssh-key", "become-password"},
		},
		{
			name: "failing play",
			edit: func(s *Spec) {
				s.Ansible.InventoryPath = "inventory.ini"
				s.Vars = map[string]any{"fail_now": true}
				s.Ansible.Tags = []string{"fail"}
			},
			want:    Result{Status: Failure, ExitCode: 2, Message: "ansible-playbook exited with code 2"},
			wantOut: []string{"failing as asked"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := ansibleSpec(t, repo)
			tt.edit(&spec)
			res, sink := runSpec(t, spec)
			out := sink.joined()
			if res != tt.want {
				t.Fatalf("got %+v, want %+v; output:\n%s", res, tt.want, out)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("got output without %q:\n%s", w, out)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out, w) {
					t.Errorf("got output with %q:\n%s", w, out)
				}
			}
			cmdLine := sink.Lines()[0]
			if !strings.HasPrefix(cmdLine, "$ ansible-playbook site.yml") {
				t.Errorf("got first line %q, want the ansible-playbook command", cmdLine)
			}
			for _, w := range tt.wantArgv {
				if !strings.Contains(cmdLine, w) {
					t.Errorf("got command %q, want it to contain %q", cmdLine, w)
				}
			}
			for _, f := range tt.privFiles {
				fi, err := os.Stat(filepath.Join(spec.PrivateDir, f))
				if err != nil {
					t.Errorf("private file %s: %v", f, err)
				} else if fi.Mode().Perm() != 0o600 {
					t.Errorf("got mode %v for %s, want 0600", fi.Mode().Perm(), f)
				}
			}
			if tt.wantFile {
				if _, err := os.Stat(outFile); err != nil {
					t.Errorf("got no written file: %v", err)
				}
			}
		})
	}
	for _, f := range []string{outFile + ".check", outFile + ".dry"} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("got %s written in check mode", f)
		}
	}
}

func TestAnsibleSecretsNotOnCommandLine(t *testing.T) {
	repo, vaultPassword := ansibleRepo(t)
	const secret = "Ans-cmdline-secret-4411"
	spec := ansibleSpec(t, repo)
	spec.Ansible.InventoryPath = "inventory.ini"
	spec.Vars = map[string]any{"wait": true, "greeting": secret}
	spec.Ansible.BecomePassword = secret
	spec.Ansible.VaultPassword = vaultPassword
	spec.Ansible.Tags = []string{"greet", "wait"}
	spec.Env = map[string]string{"API_TOKEN": secret}
	spec.Secrets = []string{secret, vaultPassword}
	sink := newMemSink("TASK [wait]")
	done := startJob(t, context.Background(), spec, sink, 30*time.Second, "the play never reached its wait task")
	scanCmdlines(t, secret)
	scanCmdlines(t, vaultPassword)
	if res := <-done; res.Status != Success {
		t.Fatalf("got %+v, want success:\n%s", res, sink.joined())
	}
	if out := sink.joined(); strings.Contains(out, secret) || !strings.Contains(out, "greeting=***") {
		t.Errorf("got output with the secret or without its mask:\n%s", out)
	}
}

// TestAnsibleRequirements installs a role (git+file) and a collection (a
// built tarball) offline, and proves the second run uses the cache.
func TestAnsibleRequirements(t *testing.T) {
	testenv.LookTool(t, "ansible-playbook")
	galaxy := testenv.LookTool(t, "ansible-galaxy")
	git := testenv.LookTool(t, "git")
	src := t.TempDir()
	home := t.TempDir()
	run := func(dir string, name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "HOME="+home, "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	write := func(p, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	role := filepath.Join(src, "role")
	write(filepath.Join(role, "tasks", "main.yml"), "- ansible.builtin.debug:\n    msg: from the role\n")
	write(filepath.Join(role, "meta", "main.yml"), "galaxy_info:\n  author: t\n  description: t\n  license: MIT\n  min_ansible_version: '2.14'\n  platforms: []\ndependencies: []\n")
	run(role, git, "init", "-q")
	run(role, git, "add", ".")
	run(role, git, "commit", "-qm", "role")
	run(src, galaxy, "collection", "init", "testns.testcol")
	write(filepath.Join(src, "testns", "testcol", "roles", "hello", "tasks", "main.yml"), "- ansible.builtin.debug:\n    msg: from the collection\n")
	run(src, galaxy, "collection", "build", "testns/testcol", "--output-path", src)

	repo := t.TempDir()
	write(filepath.Join(repo, "requirements.yml"), "roles:\n  - name: localrole\n    src: git+file://"+role+"\ncollections:\n  - name: "+filepath.Join(src, "testns-testcol-1.0.0.tar.gz")+"\n    type: file\n")
	write(filepath.Join(repo, "play.yml"), "- hosts: localhost\n  connection: local\n  gather_facts: false\n  roles:\n    - localrole\n    - testns.testcol.hello\n")
	cache := filepath.Join(t.TempDir(), "cache")

	for i, wantInstall := range []bool{true, false} {
		spec := ansibleSpec(t, repo)
		spec.Entry = "play.yml"
		spec.CacheDir = cache
		res, sink := runSpec(t, spec)
		out := sink.joined()
		if res.Status != Success {
			t.Fatalf("run %d: got %+v, want success:\n%s", i+1, res, out)
		}
		for _, w := range []string{`"msg": "from the role"`, `"msg": "from the collection"`} {
			if !strings.Contains(out, w) {
				t.Errorf("run %d: got output without %q:\n%s", i+1, w, out)
			}
		}
		installs := 0
		for _, l := range sink.Lines() {
			if strings.HasPrefix(l, "$ ansible-galaxy") {
				installs++
			}
		}
		if wantInstall && installs != 2 {
			t.Errorf("run %d: got %d galaxy installs, want 2 (role and collection)", i+1, installs)
		}
		if !wantInstall && (installs != 0 || strings.Count(out, "are cached") != 2) {
			t.Errorf("run %d: got %d galaxy installs, want 0 and two cache lines:\n%s", i+1, installs, out)
		}
	}
	// Only complete directories, no temporary leftovers.
	for _, kind := range []string{"roles", "collections"} {
		entries, err := os.ReadDir(filepath.Join(cache, "ansible", kind))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
			if !isComplete(filepath.Join(cache, "ansible", kind, e.Name())) {
				t.Errorf("got incomplete cache dir %s/%s", kind, e.Name())
			}
		}
		if len(names) != 1 || len(names[0]) != 64 {
			t.Errorf("got %s cache entries %q, want one sha256-named dir", kind, names)
		}
	}
}

func TestRemoveStaleTemps(t *testing.T) {
	parent := t.TempDir()
	for _, name := range []string{".tmp-old", ".tmp-new", "abc123"} {
		if err := os.Mkdir(filepath.Join(parent, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-48 * time.Hour)
	for _, name := range []string{".tmp-old", "abc123"} {
		if err := os.Chtimes(filepath.Join(parent, name), old, old); err != nil {
			t.Fatal(err)
		}
	}
	removeStaleTemps(parent, staleAfter)
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if want := []string{".tmp-new", "abc123"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// An absolute inventory path inside PrivateDir (an inventory checked out
// from another repository) is used as it is, with its group_vars; one
// outside PrivateDir, or a relative one leaving RepoDir, is refused.
func TestAnsibleInventoryPath(t *testing.T) {
	repo, _ := ansibleRepo(t)
	iniText, err := os.ReadFile(filepath.Join(repo, "inventory.ini"))
	if err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "inventory.ini")
	if err := os.WriteFile(outside, iniText, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    func(priv string) string
		want    Result
		wantOut string
	}{
		{
			name:    "absolute in the private directory, with group_vars",
			path:    func(priv string) string { return filepath.Join(priv, "inventory-repo", "hosts", "inventory.ini") },
			want:    Result{Status: Success},
			wantOut: `"msg": "greeting=from the inventory repository"`,
		},
		{
			name: "absolute outside the private directory",
			path: func(string) string { return outside },
			want: Result{Status: Error, ExitCode: -1, Message: `inventory "` + outside + `" is not inside the private directory`},
		},
		{
			name: "absolute escaping the private directory",
			path: func(priv string) string { return priv + "/../../inventory.ini" },
			want: Result{Status: Error, ExitCode: -1},
		},
		{
			name: "relative leaving the repository",
			path: func(string) string { return "../inventory.ini" },
			want: Result{Status: Error, ExitCode: -1, Message: `inventory "../inventory.ini" is not inside the repository`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := ansibleSpec(t, repo)
			dir := filepath.Join(spec.PrivateDir, "inventory-repo", "hosts")
			if err := os.MkdirAll(filepath.Join(dir, "group_vars"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "inventory.ini"), iniText, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "group_vars", "all.yml"), []byte("greeting: from the inventory repository\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			spec.Ansible.InventoryPath = tt.path(spec.PrivateDir)
			spec.Ansible.Tags = []string{"greet"}
			res, sink := runSpec(t, spec)
			if tt.want.Message == "" && tt.want.Status == Error {
				tt.want.Message = res.Message
				if !strings.HasSuffix(res.Message, "is not inside the private directory") {
					t.Errorf("got message %q, want the path refused", res.Message)
				}
			}
			if res != tt.want {
				t.Fatalf("got %+v, want %+v; output:\n%s", res, tt.want, sink.joined())
			}
			if tt.wantOut != "" && !strings.Contains(sink.joined(), tt.wantOut) {
				t.Errorf("got output without %q:\n%s", tt.wantOut, sink.joined())
			}
		})
	}
}
