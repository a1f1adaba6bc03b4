package testenv

import (
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// gitHTTPBackend is where Debian's git package installs the smart HTTP CGI.
const gitHTTPBackend = "/usr/lib/git-core/git-http-backend"

// GitEnv returns the environment the git helpers run git with: a fixed
// author and committer, no global or system configuration, and the default
// branch main, so that fixtures do not depend on the machine.
func GitEnv() []string {
	env := []string{
		"GIT_AUTHOR_NAME=Test Author",
		"GIT_AUTHOR_EMAIL=author@example.com",
		"GIT_COMMITTER_NAME=Test Committer",
		"GIT_COMMITTER_EMAIL=committer@example.com",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
	}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PATH=") || strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "TMPDIR=") {
			env = append(env, kv)
		}
	}
	return env
}

// Git runs the git CLI with args in dir under GitEnv and returns its
// trimmed standard output; a failure fails the test with git's output.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	git := LookTool(t, "git")
	cmd := exec.Command(git, args...)
	cmd.Dir = dir
	cmd.Env = GitEnv()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %s in %s: %v\n%s", strings.Join(args, " "), dir, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// GitRepo makes a real git repository in a new temporary directory with
// files (slash-separated path to content, written 0644) in one commit on
// branch main, and returns the directory and the commit's SHA.
func GitRepo(t testing.TB, files map[string]string) (dir string, sha string) {
	t.Helper()
	dir = t.TempDir()
	Git(t, dir, "init", "--quiet", "--initial-branch=main")
	return dir, GitCommit(t, dir, files, "initial commit")
}

// GitCommit writes files (slash-separated path to content, 0644) into the
// work tree of the repository at dir, commits everything with message msg
// and returns the new commit's SHA. A commit with no changes is allowed.
func GitCommit(t testing.TB, dir string, files map[string]string, msg string) string {
	t.Helper()
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatalf("write %s: %v", name, err)
		}
		if err := os.WriteFile(p, []byte(files[name]), 0o644); err != nil {
			t.Fatalf("write %s: %v", name, err)
		}
	}
	Git(t, dir, "add", "--all")
	Git(t, dir, "commit", "--quiet", "--allow-empty", "--message", msg)
	return Git(t, dir, "rev-parse", "HEAD")
}

// GitServerOption tunes GitHTTPServer and GitHTTPHandler.
type GitServerOption func(*gitServerConfig)

type gitServerConfig struct {
	user, password string
}

// WithBasicAuth makes the server require HTTP basic auth with user and
// password; other requests get 401 with a WWW-Authenticate challenge.
func WithBasicAuth(user, password string) GitServerOption {
	return func(c *gitServerConfig) { c.user, c.password = user, password }
}

// GitHTTPHandler returns a handler serving every repository under root
// (bare or not, at /NAME) over git's smart HTTP protocol through the real
// git-http-backend CGI. Tests that need to stop or observe the server wrap
// it in their own httptest.Server; others use GitHTTPServer.
func GitHTTPHandler(t testing.TB, root string, opts ...GitServerOption) http.Handler {
	t.Helper()
	LookTool(t, "git")
	if fi, err := os.Stat(gitHTTPBackend); err != nil || fi.Mode()&0o111 == 0 {
		if Required() {
			t.Fatalf("%s not found; install git", gitHTTPBackend)
		}
		t.Skipf("%s not found; install git", gitHTTPBackend)
	}
	var cfg gitServerConfig
	for _, o := range opts {
		o(&cfg)
	}
	env := append(GitEnv(), "GIT_PROJECT_ROOT="+root, "GIT_HTTP_EXPORT_ALL=1")
	backend := &cgi.Handler{Path: gitHTTPBackend, Root: "/", Env: env}
	if cfg.user == "" && cfg.password == "" {
		return backend
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != cfg.user || p != cfg.password {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	})
}

// GitHTTPServer starts a loopback HTTP server for GitHTTPHandler, closed
// when the test ends, and returns its base URL: the repository at
// root/NAME is cloned from BASEURL/NAME.
func GitHTTPServer(t testing.TB, root string, opts ...GitServerOption) (baseURL string) {
	t.Helper()
	srv := httptest.NewServer(GitHTTPHandler(t, root, opts...))
	t.Cleanup(srv.Close)
	return srv.URL
}
