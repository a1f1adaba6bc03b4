package sync

import (
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDirPoll is the poll interval of a directory source when none is
// given: the fsnotify watch gives changes at once, and the poll is the
// fallback that bounds what a lost watch (the directory deleted and
// created again behind our back, an inotify queue overflow, a network
// file system that sends no events) can cost.
const DefaultDirPoll = 30 * time.Second

// dirWatch watches a config directory tree with fsnotify, and the
// directory's parent too, so that a directory deleted and created again
// (rm -rf dir && cp -r new dir; mv new dir; a symlink swapped to a new
// release) is watched again as soon as it comes back. Its methods are
// called from the Syncer's Run goroutine only.
type dirWatch struct {
	dir  string // as given, made absolute: events in the parent name it
	real string // dir with symlinks resolved: events below it name this
	w    *fsnotify.Watcher
	// watched is the directory the tree watch was set up on, to notice on
	// a poll tick that the path now names another directory.
	watched os.FileInfo
	log     *slog.Logger
}

// newDirWatch starts watching dir and its parent. A missing directory is
// not an error: it is watched once it appears (its parent permitting).
func newDirWatch(dir string, log *slog.Logger) (*dirWatch, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	dw := &dirWatch{dir: abs, w: w, log: log}
	if parent := filepath.Dir(abs); parent != abs {
		if err := w.Add(parent); err != nil {
			log.Warn("config directory's parent not watched; a replaced directory is noticed by polling only", "dir", parent, "err", err)
		}
	}
	if err := dw.rewatch(); err != nil {
		w.Close()
		return nil, err
	}
	return dw, nil
}

// Close stops watching.
func (dw *dirWatch) Close() error { return dw.w.Close() }

// rewatch drops the watches of the tree and sets them up again on what
// the directory's path names now.
func (dw *dirWatch) rewatch() error {
	for _, p := range dw.w.WatchList() {
		if dw.below(p) {
			_ = dw.w.Remove(p) // gone already when the directory was removed
		}
	}
	dw.watched = nil
	real, err := filepath.EvalSymlinks(dw.dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil // watched when it comes back
		}
		return err
	}
	fi, err := os.Stat(real)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	dw.real = real
	if err := addTree(dw.w, real); err != nil {
		return err
	}
	dw.watched = fi
	return nil
}

// below reports whether p is the directory or inside it, under its given
// or its resolved path.
func (dw *dirWatch) below(p string) bool {
	for _, d := range []string{dw.dir, dw.real} {
		if d != "" && (p == d || strings.HasPrefix(p, d+string(filepath.Separator))) {
			return true
		}
	}
	return false
}

// handle takes one event and reports whether it may change the config: an
// event in the tree, or the directory itself created, removed or renamed
// in its parent (then the tree is watched again). Other entries of the
// parent are not the config's business.
func (dw *dirWatch) handle(ev fsnotify.Event) bool {
	if !dw.below(ev.Name) {
		return false
	}
	if ev.Name == dw.dir || ev.Name == dw.real {
		if err := dw.rewatch(); err != nil {
			dw.log.Warn("config watch: watching the directory again failed; relying on polling", "dir", dw.dir, "err", err)
		} else if dw.watched != nil {
			dw.log.Info("config directory replaced; watching it again", "dir", dw.dir)
		}
		return true
	}
	if ev.Has(fsnotify.Create) {
		if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() && !strings.HasPrefix(filepath.Base(ev.Name), ".") {
			if err := addTree(dw.w, ev.Name); err != nil {
				dw.log.Warn("config watch", "dir", ev.Name, "err", err)
			}
		}
	}
	return true
}

// check runs on every poll tick: when the directory's path names another
// directory than the one watched, or its watch is gone (it was removed and
// created again while events were lost, or the parent could not be
// watched), the watch is set up again.
func (dw *dirWatch) check() {
	if dw.intact() {
		return
	}
	if err := dw.rewatch(); err != nil {
		dw.log.Warn("config watch: watching the directory again failed; relying on polling", "dir", dw.dir, "err", err)
		return
	}
	if dw.watched != nil {
		dw.log.Info("config directory replaced; watching it again (found by polling)", "dir", dw.dir)
	}
}

// intact reports whether the watch still covers what the directory's path
// names (or the directory is missing, and nothing can be watched yet).
func (dw *dirWatch) intact() bool {
	real, err := filepath.EvalSymlinks(dw.dir)
	if err != nil {
		return dw.watched == nil
	}
	fi, err := os.Stat(real)
	if err != nil {
		return dw.watched == nil
	}
	if dw.watched == nil || real != dw.real || !os.SameFile(fi, dw.watched) {
		return false
	}
	// A directory removed and created again may get the same inode: the
	// watch itself tells (fsnotify drops the watch of a removed directory).
	for _, p := range dw.w.WatchList() {
		if p == real {
			return true
		}
	}
	return false
}

// addTree adds dir and the directories below it, except dot-directories.
func addTree(w *fsnotify.Watcher, dir string) error {
	return filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || !e.IsDir() {
			return err
		}
		if path != dir && strings.HasPrefix(e.Name(), ".") {
			return filepath.SkipDir
		}
		return w.Add(path)
	})
}
