package gitcache_test

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/gitcache"
	"github.com/semaphored/semaphored/internal/testenv"
)

// newCache returns a cache in a temporary directory whose logs go to t.
func newCache(t testing.TB, timeout time.Duration) *gitcache.Cache {
	t.Helper()
	c := gitcache.New(t.TempDir(), gitcache.Options{Timeout: timeout, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	t.Cleanup(func() { c.Close() })
	return c
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// served is a repository behind a git HTTP server the test can count and stop.
type served struct {
	url      string
	dir      string
	requests atomic.Int64
	srv      *httptest.Server
}

// serveRepo makes a repository with files under a new root and serves it.
func serveRepo(t testing.TB, files map[string]string, opts ...testenv.GitServerOption) (*served, string) {
	t.Helper()
	dir, sha := testenv.GitRepo(t, files)
	s := &served{dir: dir}
	h := testenv.GitHTTPHandler(t, filepath.Dir(dir), opts...)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	s.url = s.srv.URL + "/" + filepath.Base(dir)
	return s, sha
}

// readTree returns dst's files as path -> content ("-> target" for links).
func readTree(t testing.TB, dst string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dst, p)
		switch {
		case d.Type()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			got[filepath.ToSlash(rel)] = "-> " + target
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			got[filepath.ToSlash(rel)] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("read %s: %v", dst, err)
	}
	return got
}

func equalTrees(t *testing.T, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d files %v, want %d %v", len(got), got, len(want), want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("file %s: got %q, want %q", k, got[k], v)
		}
	}
}

var sampleFiles = map[string]string{
	"site.yml":             "- hosts: all\n",
	"roles/web/tasks.yml":  "- debug: msg=hi\n",
	"README.md":            "hello\n",
	"deep/a/b/c/d/leaf.sh": "echo leaf\n",
}

func TestCheckoutHTTPAnonymous(t *testing.T) {
	s, sha := serveRepo(t, sampleFiles)
	c := newCache(t, 0)
	ctx := context.Background()
	dst := filepath.Join(t.TempDir(), "work")
	got, err := c.Checkout(ctx, s.url, gitcache.Auth{}, sha, "", dst)
	if err != nil {
		t.Fatalf("Checkout: %v", err)
	}
	if got.SHA != sha || got.Message != "initial commit" || got.Author != "Test Author <author@example.com>" || got.Time.IsZero() {
		t.Errorf("got commit %+v, want SHA %s message %q author Test Author <author@example.com>", got, sha, "initial commit")
	}
	equalTrees(t, readTree(t, dst), sampleFiles)
	fi, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("dst mode: got %v, want 0700", fi.Mode().Perm())
	}

	// The same SHA again: served from the cache without a single request,
	// even with the server gone.
	before := s.requests.Load()
	s.srv.Close()
	dst2 := filepath.Join(t.TempDir(), "work")
	got2, err := c.Checkout(ctx, s.url, gitcache.Auth{}, sha, "main", dst2)
	if err != nil {
		t.Fatalf("cached Checkout with the server stopped: %v", err)
	}
	if got2 != got {
		t.Errorf("cached checkout: got %+v, want %+v", got2, got)
	}
	if n := s.requests.Load(); n != before {
		t.Errorf("cached checkout made %d requests, want 0", n-before)
	}
	equalTrees(t, readTree(t, dst2), sampleFiles)
}

func TestCheckoutBranchFetchesNewCommit(t *testing.T) {
	s, sha1 := serveRepo(t, map[string]string{"a.txt": "one\n"})
	c := newCache(t, 0)
	ctx := context.Background()

	got, err := c.Resolve(ctx, s.url, gitcache.Auth{}, "main")
	if err != nil || got.SHA != sha1 {
		t.Fatalf("Resolve: got %+v, %v; want %s", got, err, sha1)
	}
	sha2 := testenv.GitCommit(t, s.dir, map[string]string{"a.txt": "two\n", "b.txt": "new\n"}, "second commit\n\nbody")
	got, err = c.Resolve(ctx, s.url, gitcache.Auth{}, "main")
	if err != nil || got.SHA != sha2 || got.Message != "second commit" {
		t.Fatalf("Resolve after commit: got %+v, %v; want %s \"second commit\"", got, err, sha2)
	}
	// Sync's pattern: Resolve, then Checkout the SHA it returned, which
	// needs no second fetch.
	before := s.requests.Load()
	dst := filepath.Join(t.TempDir(), "resolved")
	if _, err := c.Checkout(ctx, s.url, gitcache.Auth{}, got.SHA, "main", dst); err != nil {
		t.Fatalf("Checkout resolved SHA: %v", err)
	}
	if n := s.requests.Load() - before; n != 0 {
		t.Errorf("checkout of the resolved SHA made %d requests, want 0", n)
	}
	// The fetch brought only what moved: one small pack with the new
	// commit, its tree and two blobs, not the whole history again.
	if n := lastPackObjects(t, c.RepoDir(s.url)); n != 4 {
		t.Errorf("fetch after one commit: newest pack holds %d objects, want 4", n)
	}

	sha3 := testenv.GitCommit(t, s.dir, map[string]string{"c.txt": "third\n"}, "third")
	dst = filepath.Join(t.TempDir(), "work")
	got, err = c.Checkout(ctx, s.url, gitcache.Auth{}, "", "refs/heads/main", dst)
	if err != nil || got.SHA != sha3 {
		t.Fatalf("Checkout branch: got %+v, %v; want %s", got, err, sha3)
	}
	equalTrees(t, readTree(t, dst), map[string]string{"a.txt": "two\n", "b.txt": "new\n", "c.txt": "third\n"})

	// The old commit is still there, from the cache.
	before = s.requests.Load()
	dst = filepath.Join(t.TempDir(), "old")
	if _, err := c.Checkout(ctx, s.url, gitcache.Auth{}, sha1, "", dst); err != nil {
		t.Fatalf("Checkout old SHA: %v", err)
	}
	if n := s.requests.Load() - before; n != 0 {
		t.Errorf("checkout of a cached SHA made %d requests, want 0", n)
	}
	equalTrees(t, readTree(t, dst), map[string]string{"a.txt": "one\n"})

	// An empty branch means the remote's default branch.
	got, err = c.Resolve(ctx, s.url, gitcache.Auth{}, "")
	if err != nil || got.SHA != sha3 {
		t.Fatalf("Resolve default branch: got %+v, %v; want %s", got, err, sha3)
	}
}

func TestCheckoutUnknownSHA(t *testing.T) {
	s, _ := serveRepo(t, map[string]string{"a.txt": "one\n"})
	c := newCache(t, 0)
	const missing = "0123456789abcdef0123456789abcdef01234567"
	dst := filepath.Join(t.TempDir(), "work")
	before := s.requests.Load()
	_, err := c.Checkout(context.Background(), s.url, gitcache.Auth{}, missing, "", dst)
	if !errors.Is(err, gitcache.ErrNotFound) {
		t.Fatalf("got error %v, want ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), missing) {
		t.Errorf("error %q does not name the commit", err)
	}
	if gitcache.IsTransient(err) {
		t.Errorf("IsTransient(%v): got true, want false", err)
	}
	if s.requests.Load() == before {
		t.Errorf("unknown SHA made no request, want a fetch before failing")
	}
	if _, err := os.Stat(dst); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("failed checkout left dst behind: stat error %v", err)
	}
}

// newLogger returns a text logger writing into b (debug level included).
func newLogger(b *testenv.LockedBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// lastPackObjects returns the object count of the newest pack file of the
// bare clone at dir (from the pack header).
func lastPackObjects(t testing.TB, dir string) int {
	t.Helper()
	packs, err := filepath.Glob(filepath.Join(dir, "objects", "pack", "*.pack"))
	if err != nil || len(packs) == 0 {
		t.Fatalf("no pack files in %s: %v", dir, err)
	}
	var newest string
	var newestTime time.Time
	for _, p := range packs {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.ModTime().After(newestTime) || newest == "" {
			newest, newestTime = p, fi.ModTime()
		}
	}
	b, err := os.ReadFile(newest)
	if err != nil || len(b) < 12 || string(b[:4]) != "PACK" {
		t.Fatalf("read pack %s: %v", newest, err)
	}
	return int(binary.BigEndian.Uint32(b[8:12]))
}
