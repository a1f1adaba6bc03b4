package gitcache_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/gitcache"
	"github.com/semaphored/semaphored/internal/testenv"
)

// hangingHTTP returns the URL of a server that never answers until the
// client gives up.
func hangingHTTP(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/repo"
}

// hangingTCP returns the address of a listener that accepts connections
// and never says a word (an ssh server stuck before its banner).
func hangingTCP(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

func TestTimeout(t *testing.T) {
	key, _ := testenv.SSHKeyPair(t, "")
	tests := []struct {
		name string
		url  string
		auth gitcache.Auth
	}{
		{name: "http", url: hangingHTTP(t)},
		{name: "ssh", url: "ssh://git@" + hangingTCP(t) + "/repo.git", auth: gitcache.Auth{SSHKey: key, InsecureIgnoreHostKey: true}},
	}
	const timeout = 300 * time.Millisecond
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, timeout)
			start := time.Now()
			_, err := c.Checkout(context.Background(), tt.url, tt.auth, "", "main", filepath.Join(t.TempDir(), "w"))
			elapsed := time.Since(start)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("got error %v, want context.DeadlineExceeded", err)
			}
			if !gitcache.IsTransient(err) {
				t.Errorf("IsTransient(%v): got false, want true", err)
			}
			if elapsed > timeout+2*time.Second {
				t.Errorf("returned after %v, want about %v", elapsed, timeout)
			}
			// The caller's own deadline counts too, and the per-URL lock
			// wait honours it.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err = c.Resolve(ctx, tt.url, tt.auth, "main")
			if !errors.Is(err, context.Canceled) || gitcache.IsTransient(err) {
				t.Errorf("cancelled Resolve: got %v (transient %v), want context.Canceled, not transient", err, gitcache.IsTransient(err))
			}
		})
	}
}

func TestConcurrentCheckouts(t *testing.T) {
	files := map[string]string{}
	for i := range 20 {
		files[fmt.Sprintf("f%02d.txt", i)] = fmt.Sprintf("file %d\n", i)
	}
	s1, sha1 := serveRepo(t, files)
	s2, sha2 := serveRepo(t, map[string]string{"other.txt": "x\n"})
	local, sha3 := testenv.GitRepo(t, map[string]string{"l.txt": "l\n"})
	c := newCache(t, 0)
	type job struct{ url, sha, branch string }
	jobs := []job{
		{s1.url, sha1, ""}, {s1.url, "", "main"}, {s1.url, sha1, "main"}, {s1.url, sha1, ""},
		{s2.url, sha2, ""}, {s2.url, "", "main"}, {local, sha3, ""}, {local, "", ""},
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(jobs)*2)
	for round := range 2 {
		for i, j := range jobs {
			wg.Go(func() {
				dst := filepath.Join(t.TempDir(), fmt.Sprintf("w%d-%d", round, i))
				if _, err := c.Checkout(context.Background(), j.url, gitcache.Auth{}, j.sha, j.branch, dst); err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Checkout: %v", err)
	}
}

func TestCorruptedCacheRecovers(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(t *testing.T, repoDir string)
	}{
		{name: "not a repository", corrupt: func(t *testing.T, d string) {
			if err := os.RemoveAll(d); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(d, "objects"), 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "truncated packs", corrupt: func(t *testing.T, d string) {
			packs, _ := filepath.Glob(filepath.Join(d, "objects", "pack", "*"))
			if len(packs) == 0 {
				t.Fatal("no pack files to corrupt")
			}
			for _, p := range packs {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(p, fi.Size()/2); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{name: "packs lost", corrupt: func(t *testing.T, d string) {
			if err := os.RemoveAll(filepath.Join(d, "objects", "pack")); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "garbage file", corrupt: func(t *testing.T, d string) {
			if err := os.RemoveAll(d); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(d, []byte("garbage"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "half-made clone left behind", corrupt: func(t *testing.T, d string) {
			if err := os.RemoveAll(d); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(d+".tmp/objects", 0o755); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, sha := serveRepo(t, sampleFiles)
			cacheDir := t.TempDir()
			c := gitcache.New(cacheDir, gitcache.Options{})
			ctx := context.Background()
			if _, err := c.Checkout(ctx, s.url, gitcache.Auth{}, sha, "", filepath.Join(t.TempDir(), "w")); err != nil {
				t.Fatalf("first Checkout: %v", err)
			}
			tt.corrupt(t, c.RepoDir(s.url))
			// A new cache on the same directory, as after a restart.
			c = gitcache.New(cacheDir, gitcache.Options{})
			for i := range 2 {
				dst := filepath.Join(t.TempDir(), "w")
				got, err := c.Checkout(ctx, s.url, gitcache.Auth{}, sha, "", dst)
				if err != nil || got.SHA != sha {
					t.Fatalf("Checkout %d after corruption: got %+v, %v; want %s", i, got, err, sha)
				}
				equalTrees(t, readTree(t, dst), sampleFiles)
			}
		})
	}
}

func TestRemoteErrors(t *testing.T) {
	s, _ := serveRepo(t, map[string]string{"a.txt": "one\n"})
	// A port nothing listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := l.Addr().String()
	l.Close()
	tests := []struct {
		name          string
		url, branch   string
		wantErr       error
		wantTransient bool
	}{
		{name: "unknown repository", url: s.srv.URL + "/missing", branch: "main", wantErr: gitcache.ErrNotFound},
		{name: "unknown branch", url: s.url, branch: "nope", wantErr: gitcache.ErrNotFound},
		{name: "bad branch name", url: s.url, branch: "a:b", wantErr: gitcache.ErrInvalid},
		{name: "connection refused", url: "http://" + closedAddr + "/repo", branch: "main", wantTransient: true},
		{name: "unsupported scheme", url: "ftp://example.com/repo", branch: "main", wantErr: gitcache.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCache(t, 10*time.Second)
			_, err := c.Resolve(context.Background(), tt.url, gitcache.Auth{}, tt.branch)
			t.Logf("error: %v", err)
			if err == nil {
				t.Fatal("got no error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("got error %v, want %v", err, tt.wantErr)
			}
			if got := gitcache.IsTransient(err); got != tt.wantTransient {
				t.Errorf("IsTransient(%v): got %v, want %v", err, got, tt.wantTransient)
			}
		})
	}
}
