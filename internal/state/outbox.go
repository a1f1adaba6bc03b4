package state

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.etcd.io/bbolt"
)

// OutboxKind says what an outbox entry delivers.
type OutboxKind string

// The outbox kinds.
const (
	OutboxCommitStatus OutboxKind = "commit_status"
	OutboxNotification OutboxKind = "notification"
	OutboxComment      OutboxKind = "comment"
)

// maxOutboxError bounds the stored LastError of an outbox entry.
const maxOutboxError = 1024

// OutboxEntry is one report waiting to be delivered: a commit status, a
// notification or a comment. It is written in the same transaction as the
// change it reports, and removed when delivered (AckOutbox).
type OutboxEntry struct {
	Seq  uint64     `json:"seq"`
	Kind OutboxKind `json:"kind"`
	// Target is the ordering and replacement key, e.g.
	// "github:acme/site@SHA#semaphored/web/deploy": a newer entry of the
	// same Kind and Target replaces an undelivered one, and a reporter
	// delivers one entry per target at a time, by Seq, so that an older
	// state never lands after a newer one. Empty: no replacement and no
	// LastDelivered record.
	Target string     `json:"target"`
	TaskID uint64     `json:"task_id"`
	Status TaskStatus `json:"status"`
	// Payload is kind-specific JSON built by the reporter; never a secret.
	Payload     []byte    `json:"payload,omitempty"`
	Created     time.Time `json:"created"`
	NextAttempt time.Time `json:"next_attempt"`
	Attempts    int       `json:"attempts"`
	LastError   string    `json:"last_error,omitempty"`
	// Failed means delivery was given up (a 4xx, or too many attempts);
	// the entry is kept for the API and metrics until PruneOutbox.
	Failed bool `json:"failed,omitempty"`
}

// OutboxFunc returns the outbox entries to enqueue for a task status
// change. It is called inside the transaction of the change (CreateTask,
// and UpdateTask when Status changes; old.Status is "" on create), so it
// must be pure and fast: no I/O, no locks shared with callers of the
// Store. Seq, Created and the retry fields of what it returns are set by
// the Store; TaskID and Status default to the new task's.
type OutboxFunc func(old, new Task) []OutboxEntry

// outboxTargetKey is kind\x00target, the key of outbox_by_target and
// outbox_delivered.
func outboxTargetKey(kind OutboxKind, target string) []byte {
	b := make([]byte, 0, len(kind)+len(target)+1)
	b = append(b, kind...)
	b = append(b, 0)
	return append(b, target...)
}

// dueKey is the outbox_due key of e: NextAttempt then Seq.
func dueKey(e *OutboxEntry) []byte {
	return binary.BigEndian.AppendUint64(u64(nanos(e.NextAttempt)), e.Seq)
}

func getOutbox(tx *bbolt.Tx, seq uint64) (OutboxEntry, bool, error) {
	v := tx.Bucket(bucketOutbox).Get(u64(seq))
	if v == nil {
		return OutboxEntry{}, false, nil
	}
	var e OutboxEntry
	if err := json.Unmarshal(v, &e); err != nil {
		return OutboxEntry{}, false, fmt.Errorf("decode outbox entry %d: %w", seq, err)
	}
	return e, true, nil
}

func putOutbox(tx *bbolt.Tx, e *OutboxEntry) error {
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode outbox entry %d: %w", e.Seq, err)
	}
	return tx.Bucket(bucketOutbox).Put(u64(e.Seq), v)
}

// enqueueTx stores e as a new entry (new Seq; Created now unless set;
// NextAttempt Created unless set; no attempts, error or failure), after
// removing the undelivered, not failed entry of the same Kind and Target.
func enqueueTx(tx *bbolt.Tx, e OutboxEntry, now time.Time) error {
	if e.Kind == "" {
		return errors.New("outbox entry without a kind")
	}
	out := tx.Bucket(bucketOutbox)
	out.FillPercent = 1
	seq, err := out.NextSequence()
	if err != nil {
		return err
	}
	e.Seq = seq
	if e.Created.IsZero() {
		e.Created = now
	}
	if e.NextAttempt.IsZero() {
		e.NextAttempt = e.Created
	}
	e.Attempts, e.LastError, e.Failed = 0, "", false
	if e.Target != "" {
		byTarget := tx.Bucket(bucketOutboxByTarget)
		tk := outboxTargetKey(e.Kind, e.Target)
		if v := byTarget.Get(tk); len(v) == 8 {
			old, ok, err := getOutbox(tx, binary.BigEndian.Uint64(v))
			if err != nil {
				return err
			}
			if ok {
				if err := removeOutboxTx(tx, &old); err != nil {
					return err
				}
			}
		}
		if err := byTarget.Put(tk, u64(seq)); err != nil {
			return err
		}
	}
	if err := putOutbox(tx, &e); err != nil {
		return err
	}
	return tx.Bucket(bucketOutboxDue).Put(dueKey(&e), nil)
}

// removeOutboxTx deletes e and every index entry of it.
func removeOutboxTx(tx *bbolt.Tx, e *OutboxEntry) error {
	if err := tx.Bucket(bucketOutbox).Delete(u64(e.Seq)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketOutboxDue).Delete(dueKey(e)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketOutboxFailed).Delete(u64(e.Seq)); err != nil {
		return err
	}
	return unlinkTargetTx(tx, e)
}

// unlinkTargetTx removes the replacement index entry of e if it is e's.
func unlinkTargetTx(tx *bbolt.Tx, e *OutboxEntry) error {
	if e.Target == "" {
		return nil
	}
	byTarget := tx.Bucket(bucketOutboxByTarget)
	tk := outboxTargetKey(e.Kind, e.Target)
	if v := byTarget.Get(tk); len(v) == 8 && binary.BigEndian.Uint64(v) == e.Seq {
		return byTarget.Delete(tk)
	}
	return nil
}

// enqueueStatus calls the OutboxFunc for a status change and enqueues what
// it returns.
func (s *Store) enqueueStatus(tx *bbolt.Tx, old, t *Task, now time.Time) error {
	if s.outbox == nil {
		return nil
	}
	for _, e := range s.outbox(*old, *t) {
		if e.TaskID == 0 {
			e.TaskID = t.ID
		}
		if e.Status == "" {
			e.Status = t.Status
		}
		if err := enqueueTx(tx, e, now); err != nil {
			return fmt.Errorf("enqueue %s for task %d: %w", e.Kind, t.ID, err)
		}
	}
	return nil
}

// EnqueueOutbox stores entries in one transaction, each replacing the
// undelivered, not failed entry of the same Kind and Target (a newer state
// supersedes an older one). Seq is assigned; Created defaults to now and
// NextAttempt to Created; Attempts, LastError and Failed start empty.
func (s *Store) EnqueueOutbox(ctx context.Context, entries ...OutboxEntry) error {
	if len(entries) == 0 {
		return nil
	}
	now := s.now()
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		for _, e := range entries {
			if err := enqueueTx(tx, e, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("enqueue %d outbox entries: %w", len(entries), err)
	}
	return nil
}

// DueOutbox returns up to limit entries (limit 0 or less: all) that are
// not failed and whose NextAttempt is at or before now, by Seq.
func (s *Store) DueOutbox(ctx context.Context, now time.Time, limit int) ([]OutboxEntry, error) {
	var out []OutboxEntry
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		until := nanos(now)
		var seqs []uint64
		c := tx.Bucket(bucketOutboxDue).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if len(k) != 16 {
				return fmt.Errorf("malformed outbox due key %x", k)
			}
			if binary.BigEndian.Uint64(k) > until {
				break
			}
			seqs = append(seqs, binary.BigEndian.Uint64(k[8:]))
		}
		slices.Sort(seqs)
		if limit > 0 && len(seqs) > limit {
			seqs = seqs[:limit]
		}
		out = make([]OutboxEntry, 0, len(seqs))
		for _, seq := range seqs {
			e, ok, err := getOutbox(tx, seq)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("outbox entry %d in the due index has no record", seq)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read due outbox: %w", err)
	}
	return out, nil
}

// PendingOutbox counts the entries not delivered and not failed, due or
// waiting for their next attempt.
func (s *Store) PendingOutbox(ctx context.Context) (int, error) {
	n := 0
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketOutboxDue).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count pending outbox: %w", err)
	}
	return n, nil
}

// AckOutbox removes a delivered entry and, when it has a Target, remembers
// its Payload as the last delivered one of its Kind and Target (see
// LastDelivered). Acknowledging an entry that is gone (acknowledged
// before, or replaced by a newer one while being delivered) is not an
// error and changes nothing.
func (s *Store) AckOutbox(ctx context.Context, seq uint64) error {
	now := s.now()
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		e, ok, err := getOutbox(tx, seq)
		if err != nil || !ok {
			return err
		}
		if err := removeOutboxTx(tx, &e); err != nil {
			return err
		}
		if e.Target == "" {
			return nil
		}
		tk := outboxTargetKey(e.Kind, e.Target)
		delivered := tx.Bucket(bucketOutboxDelivered)
		times := tx.Bucket(bucketOutboxDeliveredTimes)
		if v := delivered.Get(tk); len(v) >= 8 {
			if err := times.Delete(append(bytes.Clone(v[:8]), tk...)); err != nil {
				return err
			}
		}
		v := append(u64(nanos(now)), e.Payload...)
		if err := delivered.Put(tk, v); err != nil {
			return err
		}
		return times.Put(timedKey(now, tk), nil)
	})
	if err != nil {
		return fmt.Errorf("ack outbox entry %d: %w", seq, err)
	}
	return nil
}

// LastDelivered returns the Payload of the last acknowledged entry of kind
// and target, and whether there is one (none after PruneOutbox forgot it).
// A reporter compares with it to skip a report the target has already.
func (s *Store) LastDelivered(ctx context.Context, kind OutboxKind, target string) ([]byte, bool, error) {
	var (
		payload []byte
		ok      bool
	)
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketOutboxDelivered).Get(outboxTargetKey(kind, target))
		if len(v) < 8 {
			return nil
		}
		payload, ok = bytes.Clone(v[8:]), true
		if payload == nil {
			payload = []byte{}
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("read last delivered %s %s: %w", kind, target, err)
	}
	return payload, ok, nil
}

// FailOutbox records a failed delivery attempt in one transaction:
// Attempts+1, LastError errMsg (cut to 1 KiB), NextAttempt next, and when
// final the entry is Failed: it leaves the due list and is no longer
// replaced by newer entries of its target (a failed entry stays failed).
// It returns the entry as updated; ErrNotFound when it is gone
// (acknowledged or replaced).
func (s *Store) FailOutbox(ctx context.Context, seq uint64, errMsg string, next time.Time, final bool) (OutboxEntry, error) {
	now := s.now()
	var e OutboxEntry
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		var ok bool
		var err error
		e, ok, err = getOutbox(tx, seq)
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotFound
		}
		due := tx.Bucket(bucketOutboxDue)
		if err := due.Delete(dueKey(&e)); err != nil {
			return err
		}
		e.Attempts++
		if len(errMsg) > maxOutboxError {
			errMsg = errMsg[:maxOutboxError]
		}
		e.LastError, e.NextAttempt = errMsg, next
		if final || e.Failed {
			e.Failed = true
			if err := unlinkTargetTx(tx, &e); err != nil {
				return err
			}
			if err := tx.Bucket(bucketOutboxFailed).Put(u64(seq), u64(nanos(now))); err != nil {
				return err
			}
		} else if err := due.Put(dueKey(&e), nil); err != nil {
			return err
		}
		return putOutbox(tx, &e)
	})
	if err != nil {
		return OutboxEntry{}, fmt.Errorf("fail outbox entry %d: %w", seq, err)
	}
	return e, nil
}

// FailedOutbox returns up to limit failed entries (limit 0 or less: all),
// newest first.
func (s *Store) FailedOutbox(ctx context.Context, limit int) ([]OutboxEntry, error) {
	var out []OutboxEntry
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketOutboxFailed).Cursor()
		for k, _ := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, _ = c.Prev() {
			seq := binary.BigEndian.Uint64(k)
			e, ok, err := getOutbox(tx, seq)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("failed outbox entry %d has no record", seq)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read failed outbox: %w", err)
	}
	return out, nil
}

// PruneOutbox forgets what housekeeping may drop: the last-delivered
// records of targets last acknowledged before before, and failed entries
// that failed before before. It runs in bounded transactions and returns
// how many records it removed.
func (s *Store) PruneOutbox(ctx context.Context, before time.Time) (int, error) {
	limit := nanos(before)
	total := 0
	for {
		var n int
		err := s.update(ctx, func(tx *bbolt.Tx) error {
			n = 0
			delivered := tx.Bucket(bucketOutboxDelivered)
			times := tx.Bucket(bucketOutboxDeliveredTimes)
			var old [][]byte
			c := times.Cursor()
			for k, _ := c.First(); k != nil && len(old) < pruneBatch; k, _ = c.Next() {
				if len(k) < 8 {
					return fmt.Errorf("malformed outbox delivered time key %x", k)
				}
				if binary.BigEndian.Uint64(k) >= limit {
					break
				}
				old = append(old, bytes.Clone(k))
			}
			for _, k := range old {
				if err := times.Delete(k); err != nil {
					return err
				}
				if v := delivered.Get(k[8:]); len(v) >= 8 && bytes.Equal(v[:8], k[:8]) {
					if err := delivered.Delete(k[8:]); err != nil {
						return err
					}
				}
			}
			n = len(old)

			failed := tx.Bucket(bucketOutboxFailed)
			var gone []uint64
			fc := failed.Cursor()
			for k, v := fc.First(); k != nil && n+len(gone) < pruneBatch; k, v = fc.Next() {
				if len(v) == 8 && binary.BigEndian.Uint64(v) < limit {
					gone = append(gone, binary.BigEndian.Uint64(k))
				}
			}
			for _, seq := range gone {
				e, ok, err := getOutbox(tx, seq)
				if err != nil {
					return err
				}
				if !ok {
					if err := failed.Delete(u64(seq)); err != nil {
						return err
					}
					continue
				}
				if err := removeOutboxTx(tx, &e); err != nil {
					return err
				}
			}
			n += len(gone)
			return nil
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("prune outbox: %w", err)
		}
		if n < pruneBatch {
			return total, nil
		}
	}
}
