package sync

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/semaphored/semaphored/internal/testenv"
)

// runSyncer starts Run on a directory source and stops it at the end of
// the test.
func runSyncer(t *testing.T, dir string, poll time.Duration) *Syncer {
	t.Helper()
	s := mustNew(t, Options{Source: &DirSource{Dir: dir}, Store: openStore(t), Debounce: 20 * time.Millisecond, Poll: poll})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
	testenv.WaitFor(t, "first revision", 0, func() bool { return s.Active() != nil })
	return s
}

func hasProject(s *Syncer, name string) func() bool {
	return func() bool {
		a := s.Active()
		return a != nil && a.Config.Projects[name] != nil
	}
}

// TestRunWatchesReplacedDirectory: a config directory deleted and created
// again, as deploy tools do, is watched again: later edits apply without a
// restart and without waiting for a poll (the poll is an hour here).
func TestRunWatchesReplacedDirectory(t *testing.T) {
	tests := []struct {
		name    string
		replace func(t *testing.T, dir, next string)
	}{
		{"rm -rf and cp -r", func(t *testing.T, dir, next string) {
			must(t, os.RemoveAll(dir))
			must(t, os.CopyFS(dir, os.DirFS(next)))
		}},
		{"rm -rf and mv", func(t *testing.T, dir, next string) {
			must(t, os.RemoveAll(dir))
			must(t, os.Rename(next, dir))
		}},
		{"mv aside and mv", func(t *testing.T, dir, next string) {
			must(t, os.Rename(dir, dir+".old"))
			must(t, os.Rename(next, dir))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "config")
			writeFiles(t, dir, map[string]string{"demo.yaml": demoYAML})
			s := runSyncer(t, dir, time.Hour)

			next := filepath.Join(parent, "config.new")
			writeFiles(t, next, map[string]string{"demo.yaml": demoYAML, "sub/two.yaml": "project: two\n"})
			tt.replace(t, dir, next)
			testenv.WaitFor(t, "the replaced directory to be applied", 0, hasProject(s, "two"))

			// The point: the new directory is watched, its edits apply.
			writeFiles(t, dir, map[string]string{"three.yaml": "project: three\n"})
			testenv.WaitFor(t, "an edit in the new directory to be applied", 0, hasProject(s, "three"))
			writeFiles(t, dir, map[string]string{"sub/deeper/four.yaml": "project: four\n"})
			testenv.WaitFor(t, "an edit in a new subdirectory to be applied", 0, hasProject(s, "four"))
		})
	}
}

// TestRunWatchesSwappedSymlink: the config path is a symlink switched to a
// new release directory (ln -sfn).
func TestRunWatchesSwappedSymlink(t *testing.T) {
	parent := t.TempDir()
	writeFiles(t, filepath.Join(parent, "r1"), map[string]string{"demo.yaml": demoYAML})
	writeFiles(t, filepath.Join(parent, "r2"), map[string]string{"demo.yaml": demoYAML, "two.yaml": "project: two\n"})
	link := filepath.Join(parent, "current")
	must(t, os.Symlink("r1", link))
	s := runSyncer(t, link, time.Hour)

	must(t, os.Symlink("r2", link+".tmp"))
	must(t, os.Rename(link+".tmp", link))
	testenv.WaitFor(t, "the new release to be applied", 0, hasProject(s, "two"))
	writeFiles(t, filepath.Join(parent, "r2"), map[string]string{"three.yaml": "project: three\n"})
	testenv.WaitFor(t, "an edit in the new release to be applied", 0, hasProject(s, "three"))
}

// TestDirWatchCheckRewatches: with the watch lost (the directory removed
// and created again while the parent is not watched), check on a poll
// tick sets the watch up again.
func TestDirWatchCheckRewatches(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "config")
	writeFiles(t, dir, map[string]string{"demo.yaml": demoYAML})
	dw, err := newDirWatch(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer dw.Close()
	// Lose the parent watch, as when the parent could not be watched.
	must(t, dw.w.Remove(parent))
	must(t, os.RemoveAll(dir))
	testenv.WaitFor(t, "the watch of the removed directory to be dropped", 0, func() bool {
		select {
		case <-dw.w.Events:
		default:
		}
		return !slices.Contains(dw.w.WatchList(), dir)
	})
	writeFiles(t, dir, map[string]string{"demo.yaml": demoYAML})
	if dw.intact() {
		t.Fatal("intact: got true for a directory whose watch is gone")
	}
	dw.check()
	if !dw.intact() {
		t.Fatal("intact after check: got false, want the directory watched again")
	}
	drain(dw.w)
	writeFiles(t, dir, map[string]string{"new.yaml": "project: new\n"})
	want := filepath.Join(dir, "new.yaml")
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-dw.w.Events:
			if ev.Name == want {
				return
			}
		case <-deadline:
			t.Fatalf("no event for %s after check(): the replaced directory is not watched", want)
		}
	}
}

func drain(w *fsnotify.Watcher) {
	for {
		select {
		case <-w.Events:
		case <-time.After(50 * time.Millisecond):
			return
		}
	}
}

// TestRunPollsDirectoryFallback: a directory source is also polled, so a
// change no event reports costs at most one poll interval. Here the
// watch is lost for good: the directory is replaced while its parent is
// not watched (as when the parent cannot be watched); the loop is Run's,
// with the parent watch taken away.
func TestRunPollsDirectoryFallback(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "config")
	writeFiles(t, dir, map[string]string{"demo.yaml": demoYAML})
	s := mustNew(t, Options{Source: &DirSource{Dir: dir}, Store: openStore(t), Debounce: 20 * time.Millisecond, Poll: 200 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dw, err := newDirWatch(dir, slog.New(slog.DiscardHandler))
	must(t, err)
	_ = dw.w.Remove(parent)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.pass(ctx)
		for s.next(ctx, dw, time.Tick(200*time.Millisecond)) {
			s.pass(ctx)
		}
	}()
	defer func() { cancel(); <-done; dw.Close() }()
	testenv.WaitFor(t, "first revision", 0, func() bool { return s.Active() != nil })

	must(t, os.RemoveAll(dir))
	writeFiles(t, dir, map[string]string{"demo.yaml": demoYAML, "two.yaml": "project: two\n"})
	testenv.WaitFor(t, "the poll to apply the replaced directory", 0, hasProject(s, "two"))
	// And the poll set the watch up again.
	testenv.WaitFor(t, "the watch to be set up again", 0, func() bool { return slices.Contains(dw.w.WatchList(), dir) })
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
