package state

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the whole state file to w from one
// read transaction, so writers carry on meanwhile, and returns the bytes
// written. The copy opens with Open like the original.
func (s *Store) Backup(ctx context.Context, w io.Writer) (int64, error) {
	var n int64
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("back up state file %s: %w", s.path, err)
	}
	return n, nil
}

// BackupFile writes a consistent copy of the state file to path (mode
// 0600) through a temporary file in the same directory, fsynced and then
// renamed, so path holds either the old or the whole new copy.
func (s *Store) BackupFile(ctx context.Context, path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".backup-*")
	if err != nil {
		return fmt.Errorf("back up state file to %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("back up state file to %s: %w", path, err)
	}
	if _, err := s.Backup(ctx, tmp); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("back up state file to %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("back up state file to %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("back up state file to %s: %w", path, err)
	}
	return nil
}
