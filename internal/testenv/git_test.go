package testenv_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semaphored/semaphored/internal/testenv"
)

func TestGitRepoAndCommit(t *testing.T) {
	dir, sha := testenv.GitRepo(t, map[string]string{"a.txt": "one\n", "sub/b.txt": "two\n"})
	if got := testenv.Git(t, dir, "rev-parse", "HEAD"); got != sha {
		t.Errorf("HEAD: got %s, want %s", got, sha)
	}
	if got := testenv.Git(t, dir, "symbolic-ref", "--short", "HEAD"); got != "main" {
		t.Errorf("branch: got %q, want main", got)
	}
	if got := testenv.Git(t, dir, "log", "-1", "--format=%an <%ae>"); got != "Test Author <author@example.com>" {
		t.Errorf("author: got %q, want Test Author <author@example.com>", got)
	}
	if got := testenv.Git(t, dir, "show", sha+":sub/b.txt"); got != "two" {
		t.Errorf("sub/b.txt at %s: got %q, want two", sha, got)
	}
	sha2 := testenv.GitCommit(t, dir, map[string]string{"a.txt": "changed\n"}, "change a")
	if sha2 == sha {
		t.Fatalf("GitCommit returned the old SHA %s", sha)
	}
	if got := testenv.Git(t, dir, "log", "-1", "--format=%s%n%P"); got != "change a\n"+sha {
		t.Errorf("new commit: got %q, want subject and parent %s", got, sha)
	}
}

func TestGitHTTPServer(t *testing.T) {
	dir, sha := testenv.GitRepo(t, map[string]string{"a.txt": "one\n"})
	name := filepath.Base(dir)
	tests := []struct {
		name     string
		opts     []testenv.GitServerOption
		userinfo string
		wantOK   bool
	}{
		{name: "anonymous", wantOK: true},
		{name: "basic auth", opts: []testenv.GitServerOption{testenv.WithBasicAuth("u", "pw")}, userinfo: "u:pw@", wantOK: true},
		{name: "basic auth wrong password", opts: []testenv.GitServerOption{testenv.WithBasicAuth("u", "pw")}, userinfo: "u:nope@"},
		{name: "basic auth missing", opts: []testenv.GitServerOption{testenv.WithBasicAuth("u", "pw")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := testenv.GitHTTPServer(t, filepath.Dir(dir), tt.opts...)
			url := strings.Replace(base, "http://", "http://"+tt.userinfo, 1) + "/" + name
			clone := filepath.Join(t.TempDir(), "clone")
			cmd := exec.Command(testenv.LookTool(t, "git"), "clone", "--quiet", url, clone)
			cmd.Env = testenv.GitEnv()
			out, err := cmd.CombinedOutput()
			if tt.wantOK != (err == nil) {
				t.Fatalf("git clone: got error %v (%s), want success %v", err, out, tt.wantOK)
			}
			if !tt.wantOK {
				return
			}
			if got := testenv.Git(t, clone, "rev-parse", "HEAD"); got != sha {
				t.Errorf("cloned HEAD: got %s, want %s", got, sha)
			}
			if b, err := os.ReadFile(filepath.Join(clone, "a.txt")); err != nil || string(b) != "one\n" {
				t.Errorf("a.txt: got %q, %v; want one", b, err)
			}
		})
	}

	t.Run("401 challenge", func(t *testing.T) {
		base := testenv.GitHTTPServer(t, filepath.Dir(dir), testenv.WithBasicAuth("u", "pw"))
		resp, err := http.Get(base + "/" + name + "/info/refs?service=git-upload-pack")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("got %d with WWW-Authenticate %q, want 401 with a challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})
}
