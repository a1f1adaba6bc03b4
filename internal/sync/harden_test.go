package sync

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"

	"github.com/semaphored/semaphored/internal/gitcache"
	"github.com/semaphored/semaphored/internal/testenv"
)

// syncWithin runs one Sync and fails the test when it does not return
// within d.
func syncWithin(t *testing.T, s *Syncer, d time.Duration) (Result, error) {
	t.Helper()
	type out struct {
		res Result
		err error
	}
	done := make(chan out, 1)
	go func() {
		res, err := s.Sync(context.Background())
		done <- out{res, err}
	}()
	select {
	case o := <-done:
		return o.res, o.err
	case <-time.After(d):
		t.Fatalf("Sync did not return within %v", d)
		return Result{}, nil
	}
}

// TestSyncRefusesFIFO: a named pipe named *.yaml used to block the pass in
// open for good. It is refused with a problem line; the pass ends.
func TestSyncRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"demo.yaml": demoYAML})
	st := openStore(t)
	s := mustNew(t, Options{Source: &DirSource{Dir: dir}, Store: st})
	if _, err := syncWithin(t, s, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "wedge.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := syncWithin(t, s, 10*time.Second)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "wedge.yaml: a named pipe (FIFO) is not a regular file") {
		t.Fatalf("sync with a FIFO: got %v, want the FIFO refused", err)
	}
	// Removing it makes the source valid again.
	os.Remove(filepath.Join(dir, "wedge.yaml"))
	if _, err := syncWithin(t, s, 10*time.Second); err != nil {
		t.Fatalf("sync after removing the FIFO: %v", err)
	}
}

// blockingSource opens nothing: Open blocks, ignoring ctx, until released.
type blockingSource struct {
	DirSource
	release chan struct{}
	entered chan struct{}
	once    gosync.Once
}

func (b *blockingSource) Open(ctx context.Context, h Head) (Tree, error) {
	b.once.Do(func() { close(b.entered) })
	<-b.release
	return b.DirSource.Open(context.Background(), h)
}

// TestRunShutdownWithBlockedRead: a pass blocked in a read that does not
// honour ctx must not hold up Run's return.
func TestRunShutdownWithBlockedRead(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"demo.yaml": demoYAML})
	src := &blockingSource{DirSource: DirSource{Dir: dir}, release: make(chan struct{}), entered: make(chan struct{})}
	defer close(src.release)
	s := mustNew(t, Options{Source: src, Store: openStore(t)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	select {
	case <-src.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the pass never reached Open")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel while a read was blocked")
	}
}

// lockedBuf is a goroutine-safe log buffer.
type lockedBuf struct {
	mu gosync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLastValidBackToActive: semaphored_config_last_revision_valid goes
// to 0 on a bad edit and back to 1 when the edit is reverted to the active
// content, with a log line saying so.
func TestLastValidBackToActive(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"demo.yaml": demoYAML})
	var logs lockedBuf
	s := mustNew(t, Options{Source: &DirSource{Dir: dir}, Store: openStore(t), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := context.Background()
	if _, err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	good := s.Active().Revision.ID
	if got := s.metrics.lastValid.Value(); got != 1 {
		t.Fatalf("last_revision_valid after the first sync: got %v, want 1", got)
	}
	writeFiles(t, dir, map[string]string{"demo.yaml": "project: demo\nbogus: 1\n"})
	if _, err := s.Sync(ctx); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad edit: got %v, want ErrInvalid", err)
	}
	if got := s.metrics.lastValid.Value(); got != 0 {
		t.Fatalf("last_revision_valid after a bad edit: got %v, want 0", got)
	}
	writeFiles(t, dir, map[string]string{"demo.yaml": demoYAML})
	res, err := s.Sync(ctx)
	if err != nil || !res.Unchanged {
		t.Fatalf("revert: got %+v, %v; want unchanged", res, err)
	}
	if got := s.metrics.lastValid.Value(); got != 1 {
		t.Errorf("last_revision_valid after the revert: got %v, want 1", got)
	}
	if want := "config back to the active revision " + good; !strings.Contains(logs.String(), want) {
		t.Errorf("log: got\n%s\nwant a line %q", logs.String(), want)
	}
	// Said once, not on every later pass.
	later := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(dir, "demo.yaml"), later, later)
	if _, err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "config back to the active revision"); n != 1 {
		t.Errorf("got the line %d times, want once", n)
	}
}

// TestLastValidBackToActiveGit: the same for a git branch reset to the
// good commit, also across a restart that finds the bad commit already
// rejected.
func TestLastValidBackToActiveGit(t *testing.T) {
	ctx := context.Background()
	repo, good := testenv.GitRepo(t, map[string]string{"demo.yaml": demoYAML})
	work := t.TempDir()
	src := &GitSource{URL: "file://" + repo, Branch: "main",
		Cache: gitcache.New(filepath.Join(work, "git"), gitcache.Options{}), WorkDir: filepath.Join(work, "config")}
	st := openStore(t)
	var logs lockedBuf
	s := mustNew(t, Options{Source: src, Store: st, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if _, err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	testenv.GitCommit(t, repo, map[string]string{"demo.yaml": "project: demo\ntemplates: 3\n"}, "break it")
	if _, err := s.Sync(ctx); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad commit: got %v, want ErrInvalid", err)
	}
	// A restarted daemon sees the same bad commit, already recorded.
	s2 := mustNew(t, Options{Source: src, Store: st, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err := s2.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Sync(ctx); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad commit after restart: got %v, want ErrInvalid", err)
	}
	for _, syncer := range []*Syncer{s, s2} {
		if got := syncer.metrics.lastValid.Value(); got != 0 {
			t.Fatalf("last_revision_valid at the bad commit: got %v, want 0", got)
		}
	}
	testenv.Git(t, repo, "reset", "--hard", good)
	for i, syncer := range []*Syncer{s, s2} {
		res, err := syncer.Sync(ctx)
		if err != nil || !res.Unchanged || res.Revision.ID != good {
			t.Fatalf("syncer %d after the reset: got %+v, %v; want unchanged at %s", i, res, err, good)
		}
		if got := syncer.metrics.lastValid.Value(); got != 1 {
			t.Errorf("syncer %d: last_revision_valid after the reset: got %v, want 1", i, got)
		}
	}
	if n := strings.Count(logs.String(), "config back to the active revision "+good); n != 2 {
		t.Errorf("log: got the line %d times, want twice (once per syncer):\n%s", n, logs.String())
	}
}

// TestDirHeadFollowsLoaderRule: a change to a file the loader reads
// (upper-case extension) moves the head; a hidden file does not.
func TestDirHeadFollowsLoaderRule(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"demo.yaml": demoYAML, "More.YML": "project: more\n"})
	src := &DirSource{Dir: dir}
	ctx := context.Background()
	h1, err := src.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{"More.YML": "project: more\ndescription: changed\n"})
	h2, _ := src.Head(ctx)
	if h1.Key == h2.Key {
		t.Error("head: got the same after editing More.YML, want a new one")
	}
	writeFiles(t, dir, map[string]string{".#demo.yaml": "lock"})
	if h3, _ := src.Head(ctx); h3.Key != h2.Key {
		t.Error("head: got a new one after an editor lock file appeared, want the same")
	}
}
