package gitcache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// prepareDst makes dst an empty 0700 directory; created reports whether it
// did not exist before.
func prepareDst(dst string) (created bool, err error) {
	if dst == "" {
		return false, invalidf("empty destination")
	}
	err = os.Mkdir(dst, 0o700)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(filepath.Dir(dst), 0o700); err == nil {
			err = os.Mkdir(dst, 0o700)
		}
	}
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return false, fmt.Errorf("create destination: %w", err)
	}
	fi, err := os.Lstat(dst)
	if err != nil {
		return false, fmt.Errorf("destination: %w", err)
	}
	if !fi.IsDir() {
		return false, invalidf("destination %s exists and is not a directory", dst)
	}
	d, err := os.Open(dst)
	if err != nil {
		return false, fmt.Errorf("destination: %w", err)
	}
	names, err := d.Readdirnames(1)
	d.Close()
	if len(names) > 0 {
		return false, invalidf("destination %s is not empty", dst)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("destination: %w", err)
	}
	if err := os.Chmod(dst, 0o700); err != nil {
		return false, fmt.Errorf("destination: %w", err)
	}
	return false, nil
}

// cleanDst undoes a failed checkout: removes dst when it was created, or
// empties it.
func cleanDst(dst string, created bool) {
	if created {
		_ = os.RemoveAll(dst)
		return
	}
	entries, err := os.ReadDir(dst)
	if err != nil {
		return
	}
	for _, e := range entries {
		_ = os.RemoveAll(filepath.Join(dst, e.Name()))
	}
}

// writeCommit writes the tree of commit into the empty directory dst.
func writeCommit(ctx context.Context, repo *git.Repository, commit *object.Commit, dst string, log *slog.Logger) error {
	tree, err := commit.Tree()
	if err != nil {
		return &corruptError{fmt.Errorf("tree of %s: %w", commit.Hash, err)}
	}
	root, err := os.OpenRoot(dst)
	if err != nil {
		return fmt.Errorf("open destination: %w", err)
	}
	defer root.Close()
	w := treeWriter{ctx: ctx, repo: repo, log: log, buf: make([]byte, 32*1024)}
	return w.write(root, tree, "")
}

// treeWriter writes trees through an os.Root per directory, so no path can
// leave dst, no symlink written earlier can be written through, and each
// file costs one openat.
type treeWriter struct {
	ctx  context.Context
	repo *git.Repository
	log  *slog.Logger
	buf  []byte
}

// write writes tree into the directory root, which is dir relative to dst.
func (w *treeWriter) write(root *os.Root, tree *object.Tree, dir string) error {
	for _, e := range tree.Entries {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		if !safeName(e.Name) {
			return invalidf("unsafe path %q in the tree", path.Join(dir, e.Name))
		}
		name := path.Join(dir, e.Name)
		switch e.Mode {
		case filemode.Dir:
			sub, err := object.GetTree(w.repo.Storer, e.Hash)
			if err != nil {
				return &corruptError{fmt.Errorf("tree %s: %w", name, err)}
			}
			if err := root.Mkdir(e.Name, 0o755); err != nil {
				return fmt.Errorf("write %s: %w", name, err)
			}
			subRoot, err := root.OpenRoot(e.Name)
			if err != nil {
				return fmt.Errorf("write %s: %w", name, err)
			}
			err = w.write(subRoot, sub, name)
			subRoot.Close()
			if err != nil {
				return err
			}
		case filemode.Regular, filemode.Deprecated:
			if err := w.file(root, name, e, 0o644); err != nil {
				return err
			}
		case filemode.Executable:
			if err := w.file(root, name, e, 0o755); err != nil {
				return err
			}
		case filemode.Symlink:
			target, err := w.blobBytes(name, e)
			if err != nil {
				return err
			}
			if err := root.Symlink(string(target), e.Name); err != nil {
				return fmt.Errorf("write symlink %s: %w", name, err)
			}
		case filemode.Submodule:
			w.log.Info("git submodule skipped", "path", name, "commit", e.Hash.String())
		default:
			return invalidf("unsupported mode %v for %s", e.Mode, name)
		}
	}
	return nil
}

func (w *treeWriter) blobBytes(name string, e object.TreeEntry) ([]byte, error) {
	blob, err := object.GetBlob(w.repo.Storer, e.Hash)
	if err != nil {
		return nil, &corruptError{fmt.Errorf("blob %s: %w", name, err)}
	}
	rd, err := blob.Reader()
	if err != nil {
		return nil, &corruptError{fmt.Errorf("blob %s: %w", name, err)}
	}
	defer rd.Close()
	b, err := io.ReadAll(rd)
	if err != nil {
		return nil, &corruptError{fmt.Errorf("blob %s: %w", name, err)}
	}
	return b, nil
}

func (w *treeWriter) file(root *os.Root, name string, e object.TreeEntry, perm os.FileMode) error {
	blob, err := object.GetBlob(w.repo.Storer, e.Hash)
	if err != nil {
		return &corruptError{fmt.Errorf("blob %s: %w", name, err)}
	}
	rd, err := blob.Reader()
	if err != nil {
		return &corruptError{fmt.Errorf("blob %s: %w", name, err)}
	}
	defer rd.Close()
	// O_EXCL: never open an existing path, in particular not a symlink.
	f, err := root.OpenFile(e.Name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := io.CopyBuffer(onlyWriter{f}, rd, w.buf); err != nil {
		f.Close()
		if errors.Is(err, errWrite) {
			return fmt.Errorf("write %s: %w", name, err)
		}
		return &corruptError{fmt.Errorf("blob %s: %w", name, err)}
	}
	// The umask may have narrowed perm: set it exactly.
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

var errWrite = errors.New("write failed")

// onlyWriter hides ReadFrom so io.CopyBuffer uses the buffer, and marks
// write errors so they are not mistaken for a corrupted blob.
type onlyWriter struct{ f *os.File }

func (o onlyWriter) Write(p []byte) (int, error) {
	n, err := o.f.Write(p)
	if err != nil {
		return n, fmt.Errorf("%w: %w", errWrite, err)
	}
	return n, nil
}

// safeName reports whether a tree entry name is a single, ordinary path
// element (git itself refuses the others).
func safeName(n string) bool {
	if n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\x00") {
		return false
	}
	return !strings.EqualFold(n, ".git")
}

// copyDir copies the plain directory src into the empty directory dst:
// directories, regular files with their permission bits, and symlinks as
// symlinks (never followed). Other file types are skipped, and so is dst
// itself when it lies inside src (a copy must not copy itself).
func copyDir(ctx context.Context, src, dst string) error {
	root, err := os.OpenRoot(dst)
	if err != nil {
		return fmt.Errorf("open destination: %w", err)
	}
	defer root.Close()
	absDst, err := filepath.Abs(dst)
	if err != nil {
		return err
	}
	buf := make([]byte, 32*1024)
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if abs, err := filepath.Abs(p); err == nil && abs == absDst {
				return filepath.SkipDir
			}
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		switch {
		case d.IsDir():
			return root.Mkdir(rel, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return root.Symlink(target, rel)
		case d.Type().IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			in, err := os.Open(p)
			if err != nil {
				return err
			}
			defer in.Close()
			perm := fi.Mode().Perm()
			out, err := root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
			if err != nil {
				return err
			}
			if _, err := io.CopyBuffer(out, in, buf); err != nil {
				out.Close()
				return err
			}
			if err := out.Chmod(perm); err != nil {
				out.Close()
				return err
			}
			return out.Close()
		}
		return nil
	})
}
