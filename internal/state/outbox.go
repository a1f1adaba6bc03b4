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

// DeliveryTTL is how long SeenDelivery remembers a delivery id.
const DeliveryTTL = 7 * 24 * time.Hour

// deliveryPruneStep bounds how many expired deliveries one SeenDelivery
// call removes, so that the table stays small without a separate job.
const deliveryPruneStep = 64

// Outbox returns up to limit pending outbox entries, oldest first (limit 0
// or less: all of them).
func (s *Store) Outbox(ctx context.Context, limit int) ([]OutboxEntry, error) {
	var out []OutboxEntry
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketOutbox).Cursor()
		for k, v := c.First(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Next() {
			var e OutboxEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decode outbox entry %x: %w", k, err)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return out, nil
}

// AckOutbox removes a delivered outbox entry. Acknowledging an entry that
// is gone (acknowledged before, or pruned with its task) is not an error.
func (s *Store) AckOutbox(ctx context.Context, seq uint64) error {
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketOutbox).Delete(u64(seq))
	})
	if err != nil {
		return fmt.Errorf("ack outbox entry %d: %w", seq, err)
	}
	return nil
}

// RetryOutbox counts a failed delivery attempt of an outbox entry and
// returns the entry as updated. ErrNotFound when it is gone.
func (s *Store) RetryOutbox(ctx context.Context, seq uint64) (OutboxEntry, error) {
	var e OutboxEntry
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		v := b.Get(u64(seq))
		if v == nil {
			return ErrNotFound
		}
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		e.Attempts++
		nv, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode: %w", err)
		}
		return b.Put(u64(seq), nv)
	})
	if err != nil {
		return OutboxEntry{}, fmt.Errorf("retry outbox entry %d: %w", seq, err)
	}
	return e, nil
}

func deliveryKey(source, id string) []byte {
	b := make([]byte, 0, len(source)+len(id)+1)
	b = append(b, source...)
	b = append(b, 0)
	return append(b, id...)
}

// SeenDelivery records a webhook delivery id of source and reports whether
// it had been recorded before (a replay). Ids are remembered for
// DeliveryTTL; each call also forgets a few expired ones.
func (s *Store) SeenDelivery(ctx context.Context, source, id string) (bool, error) {
	now := s.now()
	var seen bool
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		d := tx.Bucket(bucketDeliveries)
		times := tx.Bucket(bucketDeliveryTimes)
		if _, err := pruneDeliveries(d, times, now.Add(-DeliveryTTL), deliveryPruneStep); err != nil {
			return err
		}
		k := deliveryKey(source, id)
		if d.Get(k) != nil {
			seen = true
			return nil
		}
		at := u64(uint64(now.UnixNano()))
		if err := d.Put(k, at); err != nil {
			return err
		}
		return times.Put(append(at, k...), nil)
	})
	if err != nil {
		return false, fmt.Errorf("record delivery %s of %s: %w", id, source, err)
	}
	return seen, nil
}

// PruneDeliveries forgets delivery ids recorded before before and returns
// how many it removed.
func (s *Store) PruneDeliveries(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for {
		var n int
		err := s.update(ctx, func(tx *bbolt.Tx) error {
			var err error
			n, err = pruneDeliveries(tx.Bucket(bucketDeliveries), tx.Bucket(bucketDeliveryTimes), before, pruneBatch)
			return err
		})
		total += n
		if err != nil {
			return total, fmt.Errorf("prune deliveries: %w", err)
		}
		if n < pruneBatch {
			return total, nil
		}
	}
}

// pruneDeliveries removes up to max deliveries recorded before before.
func pruneDeliveries(d, times *bbolt.Bucket, before time.Time, max int) (int, error) {
	limit := uint64(before.UnixNano())
	var expired [][]byte
	c := times.Cursor()
	for k, _ := c.First(); k != nil && len(expired) < max; k, _ = c.Next() {
		if len(k) < 8 {
			return 0, errors.New("malformed delivery time key")
		}
		if binary.BigEndian.Uint64(k) >= limit {
			break
		}
		expired = append(expired, bytes.Clone(k))
	}
	for _, k := range expired {
		if err := times.Delete(k); err != nil {
			return 0, err
		}
		// Delete only if the id was not recorded again later.
		if v := d.Get(k[8:]); v != nil && binary.BigEndian.Uint64(v) == binary.BigEndian.Uint64(k) {
			if err := d.Delete(k[8:]); err != nil {
				return 0, err
			}
		}
	}
	return len(expired), nil
}
