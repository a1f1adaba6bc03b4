package state

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/bbolt"
)

// objectKey encodes k as project\x00kind\x00name, which sorts like
// ObjectKey compared field by field.
func objectKey(k ObjectKey) []byte {
	b := make([]byte, 0, len(k.Project)+len(k.Kind)+len(k.Name)+2)
	b = append(b, k.Project...)
	b = append(b, 0)
	b = append(b, k.Kind...)
	b = append(b, 0)
	return append(b, k.Name...)
}

func parseObjectKey(b []byte) (ObjectKey, error) {
	parts := strings.SplitN(string(b), "\x00", 3)
	if len(parts) != 3 {
		return ObjectKey{}, fmt.Errorf("malformed object key %q", b)
	}
	return ObjectKey{Project: parts[0], Kind: Kind(parts[1]), Name: parts[2]}, nil
}

// String formats k as project/kind/name for errors.
func (k ObjectKey) String() string {
	if k.Project == "" {
		return string(k.Kind) + "/" + k.Name
	}
	return k.Project + "/" + string(k.Kind) + "/" + k.Name
}

// Objects returns every declared object, sorted by key.
func (s *Store) Objects(ctx context.Context) ([]Object, error) {
	var out []Object
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketObjects)
		return b.ForEach(func(k, v []byte) error {
			key, err := parseObjectKey(k)
			if err != nil {
				return err
			}
			out = append(out, Object{Key: key, Value: bytes.Clone(v)})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read objects: %w", err)
	}
	return out, nil
}

// Object returns one declared object; ErrNotFound when there is none.
func (s *Store) Object(ctx context.Context, key ObjectKey) (Object, error) {
	var out Object
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketObjects).Get(objectKey(key))
		if v == nil {
			return ErrNotFound
		}
		out = Object{Key: key, Value: bytes.Clone(v)}
		return nil
	})
	if err != nil {
		return Object{}, fmt.Errorf("read object %s: %w", key, err)
	}
	return out, nil
}

// ActiveRevision returns the revision the objects come from.
func (s *Store) ActiveRevision(ctx context.Context) (Revision, bool, error) {
	return s.pointedRevision(ctx, keyActiveRevision)
}

// LastRevision returns the newest revision sync looked at, valid or not.
func (s *Store) LastRevision(ctx context.Context) (Revision, bool, error) {
	return s.pointedRevision(ctx, keyLastRevision)
}

func (s *Store) pointedRevision(ctx context.Context, pointer []byte) (Revision, bool, error) {
	var (
		rev   Revision
		found bool
	)
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		seq := tx.Bucket(bucketMeta).Get(pointer)
		if seq == nil {
			return nil
		}
		v := tx.Bucket(bucketRevisions).Get(seq)
		if v == nil {
			return fmt.Errorf("%s points to missing revision %x", pointer, seq)
		}
		found = true
		return json.Unmarshal(v, &rev)
	})
	if err != nil {
		return Revision{}, false, fmt.Errorf("read %s: %w", pointer, err)
	}
	return rev, found, nil
}

// Revisions returns up to limit revisions, newest first (limit 0 or
// less: all of them).
func (s *Store) Revisions(ctx context.Context, limit int) ([]Revision, error) {
	var out []Revision
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketRevisions).Cursor()
		for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			var r Revision
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode revision %x: %w", k, err)
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read revisions: %w", err)
	}
	return out, nil
}

// ApplyRevision applies changes, records an event per change, and makes rev
// the active revision, all in one transaction: all of it happens or none.
// A create of an existing key or an update or delete of a missing one
// fails with ErrConflict. rev is stored valid, with Seen and Applied set to
// now when zero.
func (s *Store) ApplyRevision(ctx context.Context, rev Revision, changes []Change) error {
	now := s.now()
	rev.Valid = true
	rev.Errors = nil
	if rev.Seen.IsZero() {
		rev.Seen = now
	}
	if rev.Applied.IsZero() {
		rev.Applied = now
	}
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		objs := tx.Bucket(bucketObjects)
		events := tx.Bucket(bucketEvents)
		events.FillPercent = 1
		for i := range changes {
			ch := &changes[i]
			k := objectKey(ch.Key)
			exists := objs.Get(k) != nil
			switch ch.Op {
			case OpCreate, OpUpdate:
				if ch.Op == OpCreate && exists {
					return fmt.Errorf("create %s: %w: it exists", ch.Key, ErrConflict)
				}
				if ch.Op == OpUpdate && !exists {
					return fmt.Errorf("update %s: %w: it does not exist", ch.Key, ErrConflict)
				}
				if ch.Value == nil {
					return fmt.Errorf("%s %s: no value", ch.Op, ch.Key)
				}
				if err := objs.Put(k, ch.Value); err != nil {
					return fmt.Errorf("%s %s: %w", ch.Op, ch.Key, err)
				}
			case OpDelete:
				if !exists {
					return fmt.Errorf("delete %s: %w: it does not exist", ch.Key, ErrConflict)
				}
				if err := objs.Delete(k); err != nil {
					return fmt.Errorf("delete %s: %w", ch.Key, err)
				}
			default:
				return fmt.Errorf("change %s: unknown op %q", ch.Key, ch.Op)
			}
			key := ch.Key
			if err := putEvent(events, Event{At: now, Type: EventConfig, Revision: rev.ID, Op: ch.Op, Key: &key}); err != nil {
				return err
			}
		}
		if err := putEvent(events, Event{At: now, Type: EventRevision, Revision: rev.ID, Message: "applied"}); err != nil {
			return err
		}
		seq, err := putRevision(tx, rev)
		if err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		if err := meta.Put(keyActiveRevision, seq); err != nil {
			return err
		}
		return meta.Put(keyLastRevision, seq)
	})
	if err != nil {
		return fmt.Errorf("apply revision %s: %w", rev.ID, err)
	}
	return nil
}

// RecordInvalidRevision records a revision that failed validation; the
// active revision and the objects stay as they are. It becomes the last
// revision, and an EventRevision event carries its first error.
func (s *Store) RecordInvalidRevision(ctx context.Context, rev Revision) error {
	now := s.now()
	rev.Valid = false
	rev.Applied = time.Time{}
	if rev.Seen.IsZero() {
		rev.Seen = now
	}
	msg := "invalid"
	if len(rev.Errors) > 0 {
		msg = rev.Errors[0]
	}
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		events := tx.Bucket(bucketEvents)
		events.FillPercent = 1
		if err := putEvent(events, Event{At: now, Type: EventRevision, Revision: rev.ID, Message: msg}); err != nil {
			return err
		}
		seq, err := putRevision(tx, rev)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyLastRevision, seq)
	})
	if err != nil {
		return fmt.Errorf("record invalid revision %s: %w", rev.ID, err)
	}
	return nil
}

func putRevision(tx *bbolt.Tx, rev Revision) ([]byte, error) {
	b := tx.Bucket(bucketRevisions)
	b.FillPercent = 1
	n, err := b.NextSequence()
	if err != nil {
		return nil, err
	}
	v, err := json.Marshal(rev)
	if err != nil {
		return nil, fmt.Errorf("encode revision: %w", err)
	}
	seq := u64(n)
	if err := b.Put(seq, v); err != nil {
		return nil, fmt.Errorf("store revision: %w", err)
	}
	return seq, nil
}

// putEvent appends e with the bucket's next sequence.
func putEvent(b *bbolt.Bucket, e Event) error {
	n, err := b.NextSequence()
	if err != nil {
		return err
	}
	e.Seq = n
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	if err := b.Put(u64(n), v); err != nil {
		return fmt.Errorf("store event: %w", err)
	}
	return nil
}

// Events returns up to limit events with Seq > after, oldest first (limit
// 0 or less: all of them).
func (s *Store) Events(ctx context.Context, after uint64, limit int) ([]Event, error) {
	var out []Event
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		for k, v := c.Seek(u64(after + 1)); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
			var e Event
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decode event %x: %w", k, err)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}
