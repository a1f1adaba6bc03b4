package state

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

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

// PruneEvents deletes events that happened before before, oldest first, in
// bounded transactions, and returns how many it deleted. Sequence numbers
// are never reused, so readers paging with Events(after) carry on.
func (s *Store) PruneEvents(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for {
		var n int
		err := s.update(ctx, func(tx *bbolt.Tx) error {
			b := tx.Bucket(bucketEvents)
			var old [][]byte
			c := b.Cursor()
			for k, v := c.First(); k != nil && len(old) < pruneBatch; k, v = c.Next() {
				var e struct {
					At time.Time `json:"at"`
				}
				if err := json.Unmarshal(v, &e); err != nil {
					return fmt.Errorf("decode event %x: %w", k, err)
				}
				if !e.At.Before(before) {
					break
				}
				old = append(old, u64(binary.BigEndian.Uint64(k)))
			}
			for _, k := range old {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			n = len(old)
			return nil
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("prune events: %w", err)
		}
		if n < pruneBatch {
			return total, nil
		}
	}
}

// PruneRevisions keeps the newest keep revision records (and always the
// active and the last one) and deletes the others, returning how many.
func (s *Store) PruneRevisions(ctx context.Context, keep int) (int, error) {
	if keep < 0 {
		keep = 0
	}
	total := 0
	for {
		var n int
		err := s.update(ctx, func(tx *bbolt.Tx) error {
			meta := tx.Bucket(bucketMeta)
			active, last := meta.Get(keyActiveRevision), meta.Get(keyLastRevision)
			b := tx.Bucket(bucketRevisions)
			var drop [][]byte
			c := b.Cursor()
			seen := 0
			for k, _ := c.Last(); k != nil && len(drop) < pruneBatch; k, _ = c.Prev() {
				seen++
				if seen <= keep || string(k) == string(active) || string(k) == string(last) {
					continue
				}
				drop = append(drop, u64(binary.BigEndian.Uint64(k)))
			}
			for _, k := range drop {
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			n = len(drop)
			return nil
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("prune revisions: %w", err)
		}
		if n < pruneBatch {
			return total, nil
		}
	}
}
