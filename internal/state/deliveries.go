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

// DeliveryTTL is how long a delivery is remembered after it was received:
// a replay within it is recognised and creates nothing.
const DeliveryTTL = 7 * 24 * time.Hour

// DedupeTTL is how long a dedupe key stays taken after its task was
// created, even when the task itself was pruned before. A key is taken for
// as long as its task exists and for at least DedupeTTL; see doc.go.
const DedupeTTL = DeliveryTTL

// deliveryPruneStep bounds how many expired deliveries one SeenDelivery
// call removes, so that the table stays small without a separate job.
const deliveryPruneStep = 64

// Delivery is one event received from outside (a forge webhook, an
// integration call, a schedule firing), recorded once per (Source, ID).
type Delivery struct {
	// Source is "github", "gitlab", "gitea", "integration" or "schedule".
	Source string `json:"source"`
	// ID is the delivery id; for schedules "PROJECT/NAME@<slot RFC3339>".
	ID string `json:"id"`
	// Event is "push", "pull_request", "fire", ...
	Event    string    `json:"event"`
	Received time.Time `json:"received"`
	// Pending means work remains after the ack: PendingDeliveries lists it
	// until CompleteDelivery.
	Pending bool `json:"pending,omitempty"`
	// Payload is kept only while Pending.
	Payload []byte   `json:"payload,omitempty"`
	TaskIDs []uint64 `json:"task_ids,omitempty"`
	// Note says what happened, or why no task was created.
	Note string `json:"note,omitempty"`
}

// deliveryKey is source\x00id, the key of deliveries.
func deliveryKey(source, id string) []byte {
	b := make([]byte, 0, len(source)+len(id)+1)
	b = append(b, source...)
	b = append(b, 0)
	return append(b, id...)
}

// timedKey is an 8-byte big-endian time (Unix ns) followed by k: the key
// of the indexes walked in time order.
func timedKey(at time.Time, k []byte) []byte {
	b := make([]byte, 8, 8+len(k))
	binary.BigEndian.PutUint64(b, nanos(at))
	return append(b, k...)
}

// nanos is t in Unix nanoseconds, 0 for the zero time or any time before
// 1970, so that it sorts first as an unsigned key.
func nanos(t time.Time) uint64 {
	if t.IsZero() || t.Before(time.Unix(0, 0)) {
		return 0
	}
	return uint64(t.UnixNano())
}

func getDelivery(tx *bbolt.Tx, k []byte) (Delivery, bool, error) {
	v := tx.Bucket(bucketDeliveries).Get(k)
	if v == nil {
		return Delivery{}, false, nil
	}
	var d Delivery
	if err := json.Unmarshal(v, &d); err != nil {
		return Delivery{}, false, fmt.Errorf("decode delivery %q: %w", k, err)
	}
	return d, true, nil
}

func putDelivery(tx *bbolt.Tx, d *Delivery) error {
	v, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("encode delivery: %w", err)
	}
	return tx.Bucket(bucketDeliveries).Put(deliveryKey(d.Source, d.ID), v)
}

// deliveryTasks reads the tasks of d that still exist, in d.TaskIDs order.
func deliveryTasks(tx *bbolt.Tx, d *Delivery) ([]Task, error) {
	var out []Task
	for _, id := range d.TaskIDs {
		t, err := getTask(tx, id)
		if errors.Is(err, ErrNotFound) {
			continue // pruned since
		}
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// createTasks creates each of tasks (a task whose dedupe key is taken
// yields the existing one instead), adds their ids to d.TaskIDs once each,
// and returns them in order.
func (s *Store) createTasks(tx *bbolt.Tx, d *Delivery, tasks []Task) ([]Task, error) {
	out := make([]Task, 0, len(tasks))
	for _, t := range tasks {
		got, _, err := s.createTaskTx(tx, t)
		if err != nil {
			return nil, err
		}
		out = append(out, got)
		if !slices.Contains(d.TaskIDs, got.ID) {
			d.TaskIDs = append(d.TaskIDs, got.ID)
		}
	}
	return out, nil
}

// AcceptDelivery records a delivery and creates its tasks, in one
// transaction. When (d.Source, d.ID) is known already it creates nothing
// and returns the stored record, its tasks that still exist, and
// isNew=false. Otherwise it stores d (Received now unless set; Payload
// dropped unless Pending), creates tasks (a task whose non-empty DedupeKey
// is taken yields the existing task instead, so each key gets one task
// ever), records their ids in TaskIDs, and returns isNew=true. Concurrent
// calls with the same delivery create its tasks once: exactly one of them
// reports isNew. Concurrent calls share commits (see groupCommit), so
// that a burst of webhooks pays one fsync per transaction rather than one
// per delivery; a lone call costs one commit.
func (s *Store) AcceptDelivery(ctx context.Context, d Delivery, tasks []Task) (Delivery, []Task, bool, error) {
	if d.Source == "" || d.ID == "" {
		return Delivery{}, nil, false, fmt.Errorf("accept delivery %q of %q: source and id are required", d.ID, d.Source)
	}
	var (
		got   Delivery
		out   []Task
		isNew bool
	)
	// fn may run again when another call of its transaction fails, so it
	// starts from the caller's d each time.
	err := s.batch(ctx, func(tx *bbolt.Tx) error {
		got = d
		var err error
		out, isNew, err = s.acceptTx(tx, &got, tasks)
		return err
	})
	if err != nil {
		return Delivery{}, nil, false, fmt.Errorf("accept delivery %s of %s: %w", d.ID, d.Source, err)
	}
	return got, out, isNew, nil
}

// acceptTx is AcceptDelivery inside tx; it sets *d to what is stored.
func (s *Store) acceptTx(tx *bbolt.Tx, d *Delivery, tasks []Task) ([]Task, bool, error) {
	k := deliveryKey(d.Source, d.ID)
	old, ok, err := getDelivery(tx, k)
	if err != nil {
		return nil, false, err
	}
	if ok {
		*d = old
		out, err := deliveryTasks(tx, &old)
		return out, false, err
	}
	if d.Received.IsZero() {
		d.Received = s.now()
	}
	if !d.Pending {
		d.Payload = nil
	}
	d.TaskIDs = slices.Clone(d.TaskIDs)
	out, err := s.createTasks(tx, d, tasks)
	if err != nil {
		return nil, false, err
	}
	if err := putDelivery(tx, d); err != nil {
		return nil, false, err
	}
	if err := tx.Bucket(bucketDeliveryTimes).Put(timedKey(d.Received, k), nil); err != nil {
		return nil, false, err
	}
	if d.Pending {
		if err := tx.Bucket(bucketDeliveryPending).Put(timedKey(d.Received, k), nil); err != nil {
			return nil, false, err
		}
	}
	if err := s.putDeliveryEvent(tx, d, out); err != nil {
		return nil, false, err
	}
	return out, true, nil
}

// putDeliveryEvent records in the event log that d was accepted or
// completed, with the tasks it has so far.
func (s *Store) putDeliveryEvent(tx *bbolt.Tx, d *Delivery, tasks []Task) error {
	var projects []string
	for _, t := range tasks {
		if !slices.Contains(projects, t.Project) {
			projects = append(projects, t.Project)
		}
	}
	return putEvent(tx.Bucket(bucketEvents), Event{
		At: s.now(), Type: EventDelivery, Source: d.Source, Delivery: d.ID,
		TaskIDs: slices.Clone(d.TaskIDs), Projects: projects, Message: d.Note,
	})
}

// PendingDeliveries returns the deliveries still marked Pending, oldest
// first (by Received). After a restart these are the intake work that was
// acknowledged to the sender but not yet turned into tasks.
func (s *Store) PendingDeliveries(ctx context.Context) ([]Delivery, error) {
	var out []Delivery
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketDeliveryPending).ForEach(func(k, _ []byte) error {
			if len(k) < 8 {
				return fmt.Errorf("malformed pending delivery key %x", k)
			}
			d, ok, err := getDelivery(tx, k[8:])
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("pending delivery %q has no record", k[8:])
			}
			out = append(out, d)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list pending deliveries: %w", err)
	}
	return out, nil
}

// CompleteDelivery finishes a pending delivery in one transaction: it
// creates tasks (deduplicated as in AcceptDelivery), appends their ids,
// sets Note, and clears Pending and Payload. It is idempotent: on a
// delivery no longer pending it creates nothing and returns the stored
// record and its tasks. ErrNotFound when the delivery is unknown.
func (s *Store) CompleteDelivery(ctx context.Context, source, id string, tasks []Task, note string) (Delivery, []Task, error) {
	var (
		d   Delivery
		out []Task
	)
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		k := deliveryKey(source, id)
		var ok bool
		var err error
		d, ok, err = getDelivery(tx, k)
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotFound
		}
		if !d.Pending {
			out, err = deliveryTasks(tx, &d)
			return err
		}
		if out, err = s.createTasks(tx, &d, tasks); err != nil {
			return err
		}
		d.Pending, d.Payload, d.Note = false, nil, note
		if err := putDelivery(tx, &d); err != nil {
			return err
		}
		if err := s.putDeliveryEvent(tx, &d, out); err != nil {
			return err
		}
		return tx.Bucket(bucketDeliveryPending).Delete(timedKey(d.Received, k))
	})
	if err != nil {
		return Delivery{}, nil, fmt.Errorf("complete delivery %s of %s: %w", id, source, err)
	}
	return d, out, nil
}

// Delivery returns the record of a delivery and its tasks that still
// exist; ErrNotFound when it is unknown (never received, or forgotten
// after DeliveryTTL).
func (s *Store) Delivery(ctx context.Context, source, id string) (Delivery, []Task, error) {
	var (
		d   Delivery
		out []Task
	)
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var ok bool
		var err error
		d, ok, err = getDelivery(tx, deliveryKey(source, id))
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotFound
		}
		out, err = deliveryTasks(tx, &d)
		return err
	})
	if err != nil {
		return Delivery{}, nil, fmt.Errorf("read delivery %s of %s: %w", id, source, err)
	}
	return d, out, nil
}

// SeenDelivery records a delivery of source with no tasks and reports
// whether it had been recorded before (a replay). It is AcceptDelivery
// without tasks, kept for callers that only de-duplicate; each call also
// forgets a few deliveries older than DeliveryTTL.
func (s *Store) SeenDelivery(ctx context.Context, source, id string) (bool, error) {
	if source == "" || id == "" {
		return false, fmt.Errorf("record delivery %q of %q: source and id are required", id, source)
	}
	var isNew bool
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		if _, err := pruneDeliveries(tx, s.now().Add(-DeliveryTTL), deliveryPruneStep); err != nil {
			return err
		}
		var err error
		_, isNew, err = s.acceptTx(tx, &Delivery{Source: source, ID: id}, nil)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("record delivery %s of %s: %w", id, source, err)
	}
	return !isNew, nil
}

// PruneDeliveries forgets deliveries received before before that are not
// pending, and releases the dedupe keys of pruned tasks created before
// before (see DedupeTTL). It returns how many deliveries it removed.
// Pending deliveries are kept whatever their age: they are work not done.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time) (int, error) {
	total := 0
	var from []byte
	for {
		var n, examined int
		err := s.update(ctx, func(tx *bbolt.Tx) error {
			var err error
			if examined, n, from, err = pruneDeliveriesFrom(tx, before, pruneBatch, from); err != nil {
				return err
			}
			_, err = pruneDedupeOrphans(tx, before, pruneBatch)
			return err
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("prune deliveries: %w", err)
		}
		if s.afterPruneBatch != nil {
			s.afterPruneBatch()
		}
		if examined < pruneBatch {
			return total, nil
		}
	}
}

// pruneDeliveries removes up to max non-pending deliveries received before
// before and returns how many.
func pruneDeliveries(tx *bbolt.Tx, before time.Time, max int) (int, error) {
	_, n, _, err := pruneDeliveriesFrom(tx, before, max, nil)
	return n, err
}

// pruneDeliveriesFrom walks the time index from its first key after from
// (from nil: the oldest), looking at up to max entries received before
// before, and removes the ones not pending. It returns how many it looked
// at, how many it removed, and the key to resume after.
func pruneDeliveriesFrom(tx *bbolt.Tx, before time.Time, max int, from []byte) (int, int, []byte, error) {
	limit := nanos(before)
	d := tx.Bucket(bucketDeliveries)
	times := tx.Bucket(bucketDeliveryTimes)
	var expired [][]byte
	examined := 0
	c := times.Cursor()
	k, _ := c.First()
	if from != nil {
		if k, _ = c.Seek(from); k != nil && bytes.Equal(k, from) {
			k, _ = c.Next()
		}
	}
	var last []byte
	for ; k != nil && examined < max; k, _ = c.Next() {
		if len(k) < 8 {
			return 0, 0, nil, errors.New("malformed delivery time key")
		}
		if binary.BigEndian.Uint64(k) >= limit {
			break
		}
		examined++
		last = k
		var rec struct {
			Received time.Time `json:"received"`
			Pending  bool      `json:"pending"`
		}
		v := d.Get(k[8:])
		if v != nil {
			if err := json.Unmarshal(v, &rec); err != nil {
				return 0, 0, nil, fmt.Errorf("decode delivery %q: %w", k[8:], err)
			}
			if rec.Pending && nanos(rec.Received) == binary.BigEndian.Uint64(k) {
				continue // work not done: kept whatever its age
			}
		}
		expired = append(expired, bytes.Clone(k))
	}
	last = bytes.Clone(last)
	for _, k := range expired {
		if err := times.Delete(k); err != nil {
			return 0, 0, nil, err
		}
		// Delete the record only if it is the one this entry indexes, not
		// one recorded again later under the same key.
		if v := d.Get(k[8:]); v != nil {
			var rec struct {
				Received time.Time `json:"received"`
			}
			if err := json.Unmarshal(v, &rec); err != nil {
				return 0, 0, nil, fmt.Errorf("decode delivery %q: %w", k[8:], err)
			}
			if nanos(rec.Received) == binary.BigEndian.Uint64(k) {
				if err := d.Delete(k[8:]); err != nil {
					return 0, 0, nil, err
				}
			}
		}
	}
	return examined, len(expired), last, nil
}

// pruneDedupeOrphans releases up to max dedupe keys whose task was pruned
// and was created before before.
func pruneDedupeOrphans(tx *bbolt.Tx, before time.Time, max int) (int, error) {
	limit := nanos(before)
	orphans := tx.Bucket(bucketDedupeOrphans)
	index := tx.Bucket(bucketTaskByDedupe)
	var drop [][]byte
	c := orphans.Cursor()
	for k, _ := c.First(); k != nil && len(drop) < max; k, _ = c.Next() {
		if len(k) < 8 {
			return 0, errors.New("malformed dedupe orphan key")
		}
		if binary.BigEndian.Uint64(k) >= limit {
			break
		}
		drop = append(drop, bytes.Clone(k))
	}
	for _, k := range drop {
		id := bytes.Clone(orphans.Get(k))
		if err := orphans.Delete(k); err != nil {
			return 0, err
		}
		if v := index.Get(k[8:]); v != nil && bytes.Equal(v, id) {
			if err := index.Delete(k[8:]); err != nil {
				return 0, err
			}
		}
	}
	return len(drop), nil
}
