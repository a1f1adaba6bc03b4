package main

// This file holds `backup` and `restore`: a consistent copy of the state
// file while the daemon runs, and a checked install of one.
//
// The daemon holds an exclusive lock on DATA/state.db (bbolt's flock) for
// as long as it runs, so no other process can open the file then. So:
//
//   - backup first tries a shared lock on the file. Granted means no
//     daemon runs: the file is quiescent and a plain copy made while
//     holding the lock is consistent (and no daemon can start meanwhile).
//     Refused means a daemon holds it: backup asks that daemon for the
//     copy (GET /api/v1/backup, one read transaction; tasks carry on),
//     with the admin token of DATA/admin.token or --token.
//   - restore refuses while a daemon holds the file (even with --force),
//     and refuses to replace an existing state unless --force (the old
//     file is then kept as state.db.before-restore-TIME).
//
// Neither opens the source in place: opening migrates a file to this
// binary's schema, which must not happen to a backup or to the data of a
// daemon that may be older than this CLI. Checks open a scratch copy.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/semaphored/semaphored/internal/api"
	"github.com/semaphored/semaphored/internal/state"
)

// stateFile is the state file's name in the data directory.
const stateFile = "state.db"

// errHeld means a running daemon holds the state file's lock.
var errHeld = errors.New("state file is held by a running semaphored")

// lockFile takes a non-blocking flock (shared or exclusive) on path, the
// lock bbolt takes; errHeld when a daemon holds it. The lock ends when
// the returned file is closed.
func lockFile(path string, exclusive bool) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err = syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", path, errHeld)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// cmdBackup writes a consistent copy of DATA/state.db to OUT (mode 0600,
// through a temporary file renamed into place), from the running daemon
// when there is one.
func cmdBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("backup", stderr)
	cf := addClientFlags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err // -h: exit 0 after the help; a bad flag: said, exit 2
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "usage: semaphored backup [--data DIR] [--server URL] [--token T] OUT")
		return errUsage
	}
	out := pos[0]
	src := filepath.Join(*cf.data, stateFile)
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("backup: no state file: %w", err)
	}
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		out = filepath.Join(out, "semaphored-"+time.Now().UTC().Format("20060102T150405Z")+".db")
	}
	how := "copied the stopped daemon's state file"
	lock, err := lockFile(src, false)
	switch {
	case errors.Is(err, errHeld):
		how = "streamed by the running daemon at " + *cf.server
		err = writeAtomic(out, func(w io.Writer) error { return backupFromDaemon(ctx, cf, w) })
	case err == nil:
		defer lock.Close()
		err = writeAtomic(out, func(w io.Writer) error { return copyFile(w, lock) })
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	info, err := checkStateFile(ctx, out)
	if err != nil {
		os.Remove(out)
		return fmt.Errorf("backup: the copy does not check: %w", err)
	}
	fmt.Fprintf(stdout, "backed up %s to %s (%s; %s)\n", src, out, info, how)
	fmt.Fprintf(stdout, "not included: %s and %s beside it (secrets: keep copies of them apart from the state backup)\n", api.AdminTokenFile, linkKeyFile)
	return nil
}

// linkKeyFile is the signing key of task links in the data directory.
const linkKeyFile = "link.key"

// backupFromDaemon downloads the state from the daemon's API and checks
// the length and digest trailers, which are missing when the copy failed
// half-way.
func backupFromDaemon(ctx context.Context, cf *clientFlags, w io.Writer) error {
	tok := strings.TrimSpace(*cf.token)
	if tok == "" {
		b, err := os.ReadFile(filepath.Join(*cf.data, api.AdminTokenFile))
		if err != nil {
			return fmt.Errorf("the daemon holds the state file, and asking it for a copy needs an admin token: pass --token or run as the daemon's user (%w)", err)
		}
		tok = strings.TrimSpace(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(*cf.server, "/")+"/api/v1/backup", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("the state file is held by a running daemon, which did not answer at %s (set --server): %w", *cf.server, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("daemon answered %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	sum := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, sum), resp.Body)
	if err != nil {
		return fmt.Errorf("download: %w", err)
	}
	wantN, wantSum := resp.Trailer.Get(api.BackupBytesTrailer), resp.Trailer.Get(api.BackupSHA256Trailer)
	if wantN == "" || wantSum == "" {
		return errors.New("the daemon's copy ended early (no completion trailers): see its log")
	}
	if wantN != strconv.FormatInt(n, 10) || wantSum != hex.EncodeToString(sum.Sum(nil)) {
		return fmt.Errorf("download damaged: got %d bytes, daemon sent %s", n, wantN)
	}
	return nil
}

// copyFile copies src from its start.
func copyFile(w io.Writer, src *os.File) error {
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err := io.Copy(w, src)
	return err
}

// writeAtomic writes path (mode 0600) through a temporary file in the same
// directory, fsynced and renamed into place, then fsyncs the directory.
func writeAtomic(path string, fill func(io.Writer) error) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".semaphored-tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if err := fill(tmp); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// checkStateFile opens a scratch copy of path (so path itself is never
// migrated), runs the consistency check and describes it. A schema newer
// than this binary's is state.ErrSchemaTooNew.
func checkStateFile(ctx context.Context, path string) (string, error) {
	dir, err := os.MkdirTemp("", "semaphored-check-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	scratch := filepath.Join(dir, stateFile)
	src, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return "", err
	}
	if err := writeAtomic(scratch, func(w io.Writer) error { return copyFile(w, src) }); err != nil {
		return "", err
	}
	return checkOpen(ctx, scratch, fi.Size())
}

// checkOpen opens path with the store (migrating it to this binary's
// schema), runs the consistency check and closes it.
func checkOpen(ctx context.Context, path string, size int64) (string, error) {
	if err := precheckStateFile(path); err != nil {
		return "", fmt.Errorf("not a usable semaphored state file: %w", err)
	}
	st, err := state.Open(path, state.Options{LockTimeout: 100 * time.Millisecond})
	if err != nil {
		if errors.Is(err, state.ErrSchemaTooNew) {
			return "", err
		}
		return "", fmt.Errorf("not a usable semaphored state file: %w", err)
	}
	defer st.Close()
	if err := st.Check(ctx); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d bytes, schema v%d, consistent", size, st.SchemaVersion()), nil
}

// cmdRestore checks BACKUP and installs it as DATA/state.db.
func cmdRestore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("restore", stderr)
	data := stringFlag(fs, "data", "data", "data directory to restore into")
	force := fs.Bool("force", false, "replace an existing state (kept as state.db.before-restore-TIME)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err // -h: exit 0 after the help; a bad flag: said, exit 2
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "usage: semaphored restore BACKUP [--data DIR] [--force]")
		return errUsage
	}
	backup, dst := pos[0], filepath.Join(*data, stateFile)

	// Refuse early, before any work: a daemon holds the data directory or
	// the state file, or a state exists and --force is not given. The data
	// directory's lock is what serve takes first, so a daemon still
	// starting (its state file not open yet) is seen too; held through the
	// restore, it keeps a daemon from starting there meanwhile. A
	// directory no daemon ever ran in has no lock file, and restore
	// creates none.
	if _, err := os.Stat(filepath.Join(*data, dataLockFile)); err == nil {
		release, err := lockDataDir(*data)
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		defer release()
	}
	var lock *os.File
	if _, err := os.Stat(dst); err == nil {
		lock, err = lockFile(dst, true)
		if errors.Is(err, errHeld) {
			return fmt.Errorf("restore: a running semaphored holds %s: stop it first (the daemon would keep writing the old file)", dst)
		}
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		defer lock.Close()
		if !*force {
			return fmt.Errorf("restore: %s already holds a state; pass --force to replace it (the old file is kept beside it)", dst)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("restore: %w", err)
	}
	// Check a copy in the data directory, then rename it into place.
	src, err := os.Open(backup)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("restore: %s is not a regular file", backup)
	}
	if err := os.MkdirAll(*data, 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	tmp := filepath.Join(*data, ".restore-"+strconv.FormatInt(time.Now().UnixNano(), 36)+".db")
	defer os.Remove(tmp)
	if err := writeAtomic(tmp, func(w io.Writer) error { return copyFile(w, src) }); err != nil {
		return fmt.Errorf("restore: copy %s: %w", backup, err)
	}
	info, err := checkOpen(ctx, tmp, fi.Size())
	if err != nil {
		return fmt.Errorf("restore: %s: %w", backup, err)
	}
	if lock != nil {
		aside := dst + ".before-restore-" + time.Now().UTC().Format("20060102T150405Z")
		if err := os.Link(dst, aside); err != nil {
			return fmt.Errorf("restore: keep the old state: %w", err)
		}
		fmt.Fprintf(stdout, "kept the old state as %s\n", aside)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := syncDir(*data); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(stdout, "restored %s into %s (%s)\n", backup, dst, info)
	for _, f := range []string{api.AdminTokenFile, linkKeyFile} {
		if _, err := os.Stat(filepath.Join(*data, f)); err != nil {
			fmt.Fprintf(stdout, "note: %s has no %s: a new one replaces it at the next start, so what was made with the old one stops working; put your copy of it back first if you have one\n", *data, f)
		}
	}
	return nil
}
