package sync

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/semaphored/semaphored/internal/gitcache"
)

// Head identifies what a source holds now, cheaply: a commit SHA for git,
// a fingerprint of names, sizes and modification times for a directory.
// Equal heads mean there is nothing to do.
type Head struct {
	Key string
	// Commit is set for git sources.
	Commit gitcache.Commit
}

// Tree is an opened revision: the directory the loader reads and the
// revision's identity.
type Tree struct {
	// Root is the directory of declaration files.
	Root string
	// Base is what relative local repository paths resolve against: the
	// root of the config tree (a checkout for git sources).
	Base    string
	ID      string
	Message string
	Author  string
}

// Source is where the configuration comes from.
type Source interface {
	// Head returns the current head; for git it fetches.
	Head(ctx context.Context) (Head, error)
	// Open makes the tree at head readable.
	Open(ctx context.Context, h Head) (Tree, error)
	// String names the source for logs and revisions, credentials stripped.
	String() string
}

// DirSource is a local directory, watched with fsnotify by the Syncer.
type DirSource struct {
	Dir string
}

// String returns the directory.
func (d *DirSource) String() string { return d.Dir }

// Head fingerprints every declaration file's name, size and mtime.
func (d *DirSource) Head(ctx context.Context) (Head, error) {
	h := sha256.New()
	var buf [16]byte
	err := walkDecl(d.Dir, func(rel string, fi fs.FileInfo) error {
		io.WriteString(h, rel)
		binary.LittleEndian.PutUint64(buf[:8], uint64(fi.Size()))
		binary.LittleEndian.PutUint64(buf[8:], uint64(fi.ModTime().UnixNano()))
		h.Write(buf[:])
		return nil
	})
	if err != nil {
		return Head{}, err
	}
	return Head{Key: hex.EncodeToString(h.Sum(nil))}, nil
}

// Open hashes the declaration files' contents into the revision id, so that
// touching a file without changing it is not a new revision.
func (d *DirSource) Open(ctx context.Context, _ Head) (Tree, error) {
	h := sha256.New()
	err := walkDecl(d.Dir, func(rel string, fi fs.FileInfo) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, ok, err := openRegular(filepath.Join(d.Dir, rel))
		if err != nil {
			return err
		}
		if !ok {
			// A named pipe, socket or device: never opened (a FIFO would
			// block); the loader reports it.
			fmt.Fprintf(h, "%s\x00special\x00%s\x00", rel, fi.Mode().Type())
			return nil
		}
		defer f.Close()
		fmt.Fprintf(h, "%s\x00%d\x00", rel, fi.Size())
		_, err = io.Copy(h, f)
		return err
	})
	if err != nil {
		return Tree{}, err
	}
	return Tree{Root: d.Dir, Base: d.Dir, ID: "dir-" + hex.EncodeToString(h.Sum(nil))[:16]}, nil
}

// openRegular opens path for reading when it is (or is a symlink to) a
// regular file; ok is false, with no error, for anything else. It never
// blocks in open: the type is checked before opening, and the open is
// non-blocking, so a named pipe swapped in between opens at once and is
// refused by the check on the open file.
func openRegular(path string) (f *os.File, ok bool, err error) {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return nil, false, err
	}
	f, err = os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, false, err
	}
	if fi, err = f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, false, err
	}
	return f, true, nil
}

// walkDecl visits the declaration files under root in lexical order,
// skipping dot-directories, as the loader does. Symlinks are reported by
// their own info (the loader decides what they may point at).
func walkDecl(root string, fn func(rel string, fi fs.FileInfo) error) error {
	// The directory itself may be a symlink (a release switched by
	// ln -sfn): walk what it points at, as the loader does.
	root, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	return filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if path != root && strings.HasPrefix(e.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		// The loader's rule: *.yaml and *.yml in any case, not hidden.
		if ext := strings.ToLower(filepath.Ext(e.Name())); ext != ".yaml" && ext != ".yml" || strings.HasPrefix(e.Name(), ".") {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		return fn(rel, fi)
	})
}

// GitSource is a branch of a git repository, fetched through the cache.
type GitSource struct {
	URL    string
	Branch string
	// Subdir is the folder of declaration files inside the repository.
	Subdir string
	Auth   gitcache.Auth
	Cache  *gitcache.Cache
	// WorkDir holds one checkout per revision; older ones are removed.
	WorkDir string
}

// String returns the URL with credentials stripped.
func (g *GitSource) String() string { return gitcache.Redact(g.URL) + "@" + g.Branch }

// Head fetches the branch and returns its head commit.
func (g *GitSource) Head(ctx context.Context) (Head, error) {
	c, err := g.Cache.Resolve(ctx, g.URL, g.Auth, g.Branch)
	if err != nil {
		return Head{}, err
	}
	if c.SHA == "" {
		return Head{}, fmt.Errorf("%s is not a git repository: give a directory as a path, not a URL", gitcache.Redact(g.URL))
	}
	return Head{Key: c.SHA, Commit: c}, nil
}

// Open checks the commit out (once) and removes the checkouts of other
// revisions but the newest previous one, which may still be active.
func (g *GitSource) Open(ctx context.Context, h Head) (Tree, error) {
	dir := filepath.Join(g.WorkDir, h.Key)
	c := h.Commit
	if _, err := os.Stat(dir); err != nil {
		tmp := dir + ".tmp"
		os.RemoveAll(tmp)
		if c, err = g.Cache.Checkout(ctx, g.URL, g.Auth, h.Key, g.Branch, tmp); err != nil {
			return Tree{}, err
		}
		if err := os.Rename(tmp, dir); err != nil {
			return Tree{}, fmt.Errorf("config checkout: %w", err)
		}
	}
	g.prune(h.Key)
	root := dir
	if g.Subdir != "" {
		root = filepath.Join(dir, filepath.Clean("/"+g.Subdir))
	}
	return Tree{Root: root, Base: dir, ID: h.Key, Message: c.Message, Author: c.Author}, nil
}

// prune keeps the checkout of keep and the most recent other one.
func (g *GitSource) prune(keep string) {
	entries, err := os.ReadDir(g.WorkDir)
	if err != nil {
		return
	}
	type dirAge struct {
		name string
		mod  time.Time
	}
	var newest dirAge
	var others []string
	for _, e := range entries {
		if e.Name() == keep {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		if fi.ModTime().After(newest.mod) {
			if newest.name != "" {
				others = append(others, newest.name)
			}
			newest = dirAge{e.Name(), fi.ModTime()}
		} else {
			others = append(others, e.Name())
		}
	}
	for _, name := range others {
		os.RemoveAll(filepath.Join(g.WorkDir, name))
	}
}

// untilDone runs fn on a goroutine of its own and returns its result, or
// ctx's error as soon as ctx ends: a read that blocks regardless of ctx (a
// hung network file system, a special file) must not hold up shutdown. The
// goroutine then ends with the read, its result dropped.
func untilDone[T any](ctx context.Context, fn func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := fn()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}
