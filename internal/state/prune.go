package state

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// pruneBatch bounds the deletions of one pruning transaction, so that
// pruning never holds the writer for long.
const pruneBatch = 500

// indexEntry is one task as the template index knows it.
type indexEntry struct {
	id         uint64
	endedNanos int64
	terminal   bool
}

// PruneTasks deletes terminal tasks (and their logs) that r says to drop,
// in bounded transactions, and returns how many it deleted. Per template,
// a terminal task is dropped when it is beyond the newest r.KeepTasks
// terminal tasks, or ended before now-r.MaxAge; zero disables an axis.
// Non-terminal tasks are never dropped. Dedupe keys of dropped tasks are
// released as deleteTasks says. Cancelling ctx stops between transactions.
func (s *Store) PruneTasks(ctx context.Context, r Retention) (int, error) {
	if r.KeepTasks <= 0 && r.MaxAge <= 0 {
		return 0, nil
	}
	var cutoff int64
	if r.MaxAge > 0 {
		cutoff = s.now().Add(-r.MaxAge).UnixNano()
	}
	var drop []uint64
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var (
			prefix []byte
			group  []indexEntry
		)
		flush := func() {
			kept := 0
			for i := len(group) - 1; i >= 0; i-- {
				e := group[i]
				if !e.terminal {
					continue
				}
				kept++
				beyond := r.KeepTasks > 0 && kept > r.KeepTasks
				old := cutoff != 0 && e.endedNanos != 0 && e.endedNanos < cutoff
				if beyond || old {
					drop = append(drop, e.id)
				}
			}
			group = group[:0]
		}
		c := tx.Bucket(bucketTaskByTemplate).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(k) < 8 {
				return fmt.Errorf("malformed task index key %x", k)
			}
			p := k[:len(k)-8]
			if !bytes.Equal(p, prefix) {
				flush()
				prefix = bytes.Clone(p)
			}
			ended, status := parseIndexValue(v)
			group = append(group, indexEntry{id: binary.BigEndian.Uint64(k[len(k)-8:]), endedNanos: ended, terminal: status.Terminal()})
		}
		flush()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune tasks: %w", err)
	}
	deleted := 0
	for len(drop) > 0 {
		n := min(pruneBatch, len(drop))
		batch := drop[:n]
		drop = drop[n:]
		var done int
		err := s.update(ctx, func(tx *bbolt.Tx) error {
			var err error
			done, err = deleteTasks(tx, batch, s.now())
			return err
		})
		if err != nil {
			return deleted, fmt.Errorf("prune tasks: %w", err)
		}
		deleted += done
		if s.afterPruneBatch != nil {
			s.afterPruneBatch()
		}
	}
	return deleted, nil
}

// deleteTasks deletes the tasks of ids that still exist and are terminal,
// with their index entries and logs. A task's dedupe key is released with
// it only when the task was created more than DedupeTTL before now;
// otherwise the key stays taken and is noted in dedupe_orphans, which
// PruneDeliveries releases later. Outbox entries are not the task's: they
// carry their own payload and leave by AckOutbox or PruneOutbox.
func deleteTasks(tx *bbolt.Tx, ids []uint64, now time.Time) (int, error) {
	logs := tx.Bucket(bucketLogs)
	dedupe := tx.Bucket(bucketTaskByDedupe)
	orphans := tx.Bucket(bucketDedupeOrphans)
	keepAfter := now.Add(-DedupeTTL)
	n := 0
	for _, id := range ids {
		t, err := getTask(tx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return 0, err
		}
		if !t.Status.Terminal() {
			continue
		}
		if err := tx.Bucket(bucketTasks).Delete(u64(id)); err != nil {
			return 0, err
		}
		if err := deleteTaskIndexes(tx, &t); err != nil {
			return 0, err
		}
		if err := logs.DeleteBucket(u64(id)); err != nil && !errors.Is(err, bbolt.ErrBucketNotFound) {
			return 0, fmt.Errorf("delete log of task %d: %w", id, err)
		}
		if t.DedupeKey != "" {
			k := []byte(t.DedupeKey)
			if v := dedupe.Get(k); len(v) == 8 && binary.BigEndian.Uint64(v) == id {
				if t.Created.After(keepAfter) {
					err = orphans.Put(timedKey(t.Created, k), u64(id))
				} else {
					err = dedupe.Delete(k)
				}
				if err != nil {
					return 0, fmt.Errorf("release dedupe key of task %d: %w", id, err)
				}
			}
		}
		n++
	}
	return n, nil
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
