package gitcache_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/semaphored/semaphored/internal/gitcache"
	"github.com/semaphored/semaphored/internal/testenv"
)

// modesRepo makes a repository with an executable, symlinks (one pointing
// outside the tree) and a submodule entry, and returns it with its head.
func modesRepo(t testing.TB) (dir, sha string) {
	t.Helper()
	dir, _ = testenv.GitRepo(t, map[string]string{"plain.txt": "plain\n", "bin/run.sh": "#!/bin/sh\necho run\n"})
	if err := os.Chmod(filepath.Join(dir, "bin/run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("bin/run.sh", filepath.Join(dir, "run")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "outside")); err != nil {
		t.Fatal(err)
	}
	testenv.Git(t, dir, "add", "--all")
	head := testenv.Git(t, dir, "rev-parse", "HEAD")
	testenv.Git(t, dir, "update-index", "--add", "--cacheinfo", "160000,"+head+",vendor/sub")
	testenv.Git(t, dir, "commit", "--quiet", "--message", "modes")
	return dir, testenv.Git(t, dir, "rev-parse", "HEAD")
}

func checkModes(t *testing.T, dst string) {
	t.Helper()
	tests := []struct {
		path string
		mode os.FileMode
		link string
	}{
		{path: "plain.txt", mode: 0o644},
		{path: "bin/run.sh", mode: 0o755},
		{path: "run", mode: os.ModeSymlink, link: "bin/run.sh"},
		{path: "outside", mode: os.ModeSymlink, link: "/etc/passwd"},
	}
	for _, tt := range tests {
		fi, err := os.Lstat(filepath.Join(dst, tt.path))
		if err != nil {
			t.Errorf("%s: %v", tt.path, err)
			continue
		}
		if tt.link != "" {
			if fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("%s: got mode %v, want a symlink", tt.path, fi.Mode())
				continue
			}
			if got, _ := os.Readlink(filepath.Join(dst, tt.path)); got != tt.link {
				t.Errorf("%s: got link to %q, want %q", tt.path, got, tt.link)
			}
			continue
		}
		if fi.Mode() != tt.mode {
			t.Errorf("%s: got mode %v, want %v", tt.path, fi.Mode(), tt.mode)
		}
	}
	if _, err := os.Lstat(filepath.Join(dst, "vendor/sub")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("submodule vendor/sub: got stat error %v, want it skipped", err)
	}
}

func TestCheckoutModesAndSymlinks(t *testing.T) {
	dir, sha := modesRepo(t)
	base := testenv.GitHTTPServer(t, filepath.Dir(dir))
	urls := map[string]string{
		"http":     base + "/" + filepath.Base(dir),
		"abs path": dir,
		"file url": "file://" + dir,
	}
	for name, u := range urls {
		t.Run(name, func(t *testing.T) {
			var logs testenv.LockedBuffer
			c := gitcache.New(t.TempDir(), gitcache.Options{Logger: newLogger(&logs)})
			dst := filepath.Join(t.TempDir(), "work")
			got, err := c.Checkout(context.Background(), u, gitcache.Auth{}, sha, "", dst)
			if err != nil || got.SHA != sha || got.Message != "modes" {
				t.Fatalf("Checkout: got %+v, %v; want %s \"modes\"", got, err, sha)
			}
			checkModes(t, dst)
			if !strings.Contains(logs.String(), "submodule") {
				t.Errorf("no log line for the skipped submodule:\n%s", logs.String())
			}
		})
	}
}

func TestCheckoutLocal(t *testing.T) {
	dir, sha1 := testenv.GitRepo(t, map[string]string{"a.txt": "one\n"})
	sha2 := testenv.GitCommit(t, dir, map[string]string{"a.txt": "two\n"}, "second")
	testenv.Git(t, dir, "branch", "old", sha1)
	bare := filepath.Join(t.TempDir(), "bare.git")
	testenv.Git(t, dir, "clone", "--quiet", "--bare", dir, bare)
	c := newCache(t, 0)
	ctx := context.Background()

	tests := []struct {
		name, url, sha, branch string
		wantSHA, wantA         string
		wantErr                error
	}{
		{name: "abs path head", url: dir, wantSHA: sha2, wantA: "two\n"},
		{name: "abs path sha", url: dir, sha: sha1, wantSHA: sha1, wantA: "one\n"},
		{name: "abs path branch", url: dir, branch: "old", wantSHA: sha1, wantA: "one\n"},
		{name: "file url", url: "file://" + dir, branch: "main", wantSHA: sha2, wantA: "two\n"},
		{name: "bare repository", url: bare, sha: sha1, wantSHA: sha1, wantA: "one\n"},
		{name: "unknown branch", url: dir, branch: "nope", wantErr: gitcache.ErrNotFound},
		{name: "unknown sha", url: dir, sha: strings.Repeat("ab", 20), wantErr: gitcache.ErrNotFound},
		{name: "short sha", url: dir, sha: sha1[:7], wantErr: gitcache.ErrInvalid},
		{name: "relative path", url: "repos/x", wantErr: gitcache.ErrInvalid},
		{name: "missing path", url: filepath.Join(dir, "missing"), wantErr: gitcache.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "work")
			got, err := c.Checkout(ctx, tt.url, gitcache.Auth{}, tt.sha, tt.branch, dst)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("got error %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || got.SHA != tt.wantSHA {
				t.Fatalf("Checkout: got %+v, %v; want %s", got, err, tt.wantSHA)
			}
			equalTrees(t, readTree(t, dst), map[string]string{"a.txt": tt.wantA})
		})
	}

	t.Run("resolve", func(t *testing.T) {
		got, err := c.Resolve(ctx, dir, gitcache.Auth{}, "old")
		if err != nil || got.SHA != sha1 {
			t.Fatalf("Resolve: got %+v, %v; want %s", got, err, sha1)
		}
	})
}

func TestCheckoutPlainDirectory(t *testing.T) {
	src := t.TempDir()
	for name, content := range map[string]string{"site.yml": "- hosts: all\n", "group_vars/all.yml": "x: 1\n"} {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(src, "run.sh"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/hostname", filepath.Join(src, "link")); err != nil {
		t.Fatal(err)
	}
	c := newCache(t, 0)
	dst := filepath.Join(t.TempDir(), "work")
	got, err := c.Checkout(context.Background(), src, gitcache.Auth{}, "", "", dst)
	if err != nil {
		t.Fatalf("Checkout: %v", err)
	}
	if got != (gitcache.Commit{}) {
		t.Errorf("got commit %+v, want the zero Commit", got)
	}
	equalTrees(t, readTree(t, dst), map[string]string{
		"site.yml": "- hosts: all\n", "group_vars/all.yml": "x: 1\n", "run.sh": "#!/bin/sh\n", "link": "-> /etc/hostname",
	})
	if fi, err := os.Stat(filepath.Join(dst, "run.sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("run.sh: got %v, %v; want mode 0755", fi, err)
	}
	got, err = c.Resolve(context.Background(), src, gitcache.Auth{}, "")
	if err != nil || got.SHA != "" {
		t.Errorf("Resolve plain directory: got %+v, %v; want the zero Commit", got, err)
	}
}

func TestCheckoutDestination(t *testing.T) {
	dir, sha := testenv.GitRepo(t, map[string]string{"a.txt": "one\n"})
	c := newCache(t, 0)
	ctx := context.Background()

	empty := t.TempDir()
	if err := os.Chmod(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Checkout(ctx, dir, gitcache.Auth{}, sha, "", empty); err != nil {
		t.Fatalf("Checkout into an empty directory: %v", err)
	}
	if fi, _ := os.Stat(empty); fi.Mode().Perm() != 0o700 {
		t.Errorf("existing empty dst: got mode %v, want 0700", fi.Mode().Perm())
	}
	if _, err := c.Checkout(ctx, dir, gitcache.Auth{}, sha, "", empty); !errors.Is(err, gitcache.ErrInvalid) {
		t.Errorf("Checkout into a non-empty directory: got %v, want ErrInvalid", err)
	}
	if b, err := os.ReadFile(filepath.Join(empty, "a.txt")); err != nil || string(b) != "one\n" {
		t.Errorf("failed checkout touched the non-empty dst: got %q, %v", b, err)
	}
}

// TestCopyPlainDirectoryIntoItself checks out a plain directory into a
// directory inside it: the copy skips its own destination instead of
// recursing until the path is too long.
func TestCopyPlainDirectoryIntoItself(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "job.sh"), []byte("echo hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(src, "data", "work", "tasks", "1", "repo")
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		t.Fatal(err)
	}
	c := gitcache.New(t.TempDir(), gitcache.Options{})
	defer c.Close()
	if _, err := c.Checkout(context.Background(), src, gitcache.Auth{}, "", "", dst); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dst, "job.sh")); err != nil {
		t.Fatalf("job.sh not copied: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dst, "data", "work", "tasks", "1", "repo")); !os.IsNotExist(err) {
		t.Fatalf("the destination was copied into itself: %v", err)
	}
}
