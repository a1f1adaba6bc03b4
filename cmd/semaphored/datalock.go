package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// dataLockFile is the file in the data directory that serve holds an
// exclusive lock on for as long as it runs.
const dataLockFile = "semaphored.lock"

// lockDataDir takes the data directory for this process, before anything
// is written into it: a second daemon on the same directory would rewrite
// the bundled quickstart under the first one's watcher, share its git
// cache and task directories, and then wait for the state file's lock.
// The lock is an flock(2) on DATA/semaphored.lock, taken without waiting,
// so the second daemon fails at once with a message naming the directory
// and the holder's pid; the kernel drops it when the holder dies, even by
// SIGKILL, so a restart never finds a stale lock. The directory is created
// 0700 when missing. release unlocks and closes the file; it leaves the
// file in place (removing it would race with a new holder).
func lockDataDir(dir string) (release func(), err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	path := filepath.Join(abs, dataLockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := ""
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
				holder = fmt.Sprintf(" (pid %d)", pid)
			}
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("data directory %s is in use by another semaphored process%s: stop that one, or give this one its own --data", abs, holder)
		}
		return nil, fmt.Errorf("data directory lock %s: %w", path, err)
	}
	// The holder's pid, for the message above; the lock, not the content,
	// is what counts.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
