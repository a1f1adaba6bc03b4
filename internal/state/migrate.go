package state

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// migrations lists the schema steps in order: migrations[i] takes a file
// from version i to i+1. Each runs in its own write transaction, which also
// stores the new version, so a crash leaves the file at a whole version.
// Append only; never edit a released step.
var migrations = []func(tx *bbolt.Tx) error{
	migrateV1Buckets,
	migrateV2TaskIndexes,
	migrateV3StatusIndex,
	migrateV4IntakeOutbox,
}

// migrateV1Buckets creates the base buckets.
func migrateV1Buckets(tx *bbolt.Tx) error {
	for _, name := range [][]byte{
		bucketMeta, bucketObjects, bucketRevisions, bucketEvents, bucketTasks,
		bucketLogs, bucketOutbox, bucketDeliveries, bucketDeliveryTimes,
	} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

// migrateV2TaskIndexes adds the task indexes (by project, by template,
// active) and fills them from the stored tasks.
func migrateV2TaskIndexes(tx *bbolt.Tx) error {
	for _, name := range [][]byte{bucketTaskByProject, bucketTaskByTemplate, bucketTaskActive} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	// This step writes its own entries rather than calling putTaskIndexes,
	// which knows the indexes of later versions.
	byProject := tx.Bucket(bucketTaskByProject)
	byTemplate := tx.Bucket(bucketTaskByTemplate)
	active := tx.Bucket(bucketTaskActive)
	return tx.Bucket(bucketTasks).ForEach(func(k, v []byte) error {
		var t Task
		if err := json.Unmarshal(v, &t); err != nil {
			return fmt.Errorf("decode task %x: %w", k, err)
		}
		iv := indexValue(&t)
		if err := byProject.Put(projectIndexKey(t.Project, t.ID), iv); err != nil {
			return err
		}
		if err := byTemplate.Put(templateIndexKey(t.Project, t.Template, t.ID), iv); err != nil {
			return err
		}
		if t.Status.Terminal() {
			return nil
		}
		return active.Put(u64(t.ID), nil)
	})
}

// migrateV3StatusIndex adds task_by_status and fills it.
func migrateV3StatusIndex(tx *bbolt.Tx) error {
	byStatus, err := tx.CreateBucketIfNotExists(bucketTaskByStatus)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketTaskByStatus, err)
	}
	return tx.Bucket(bucketTasks).ForEach(func(k, v []byte) error {
		var t struct {
			ID     uint64     `json:"id"`
			Status TaskStatus `json:"status"`
		}
		if err := json.Unmarshal(v, &t); err != nil {
			return fmt.Errorf("decode task %x: %w", k, err)
		}
		return byStatus.Put(statusIndexKey(t.Status, t.ID), nil)
	})
}

// migrateV4IntakeOutbox adds durable intake and the real outbox:
//   - deliveries change from "received at" (8-byte Unix ns) to a Delivery
//     record (JSON); delivery_pending indexes the pending ones (none yet);
//   - task_by_dedupe and dedupe_orphans index dedupe keys, filled from the
//     stored tasks (a v3 task has none, but a file written by a newer build
//     and restored may);
//   - the outbox gets kinds and targets and its indexes outbox_by_target,
//     outbox_due, outbox_failed, outbox_delivered and
//     outbox_delivered_times. The v3 entries (one per status change, no
//     kind, no target, never read by anything) are dropped; the sequence
//     carries on.
func migrateV4IntakeOutbox(tx *bbolt.Tx) error {
	for _, name := range [][]byte{
		bucketTaskByDedupe, bucketDedupeOrphans, bucketDeliveryPending,
		bucketOutboxByTarget, bucketOutboxDue, bucketOutboxFailed,
		bucketOutboxDelivered, bucketOutboxDeliveredTimes,
	} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	deliveries := tx.Bucket(bucketDeliveries)
	type rewrite struct{ k, v []byte }
	var rewrites []rewrite
	err := deliveries.ForEach(func(k, v []byte) error {
		if len(v) != 8 {
			return fmt.Errorf("delivery %q: value of %d bytes, want a v3 time", k, len(v))
		}
		source, id, ok := bytes.Cut(k, []byte{0})
		if !ok {
			return fmt.Errorf("malformed delivery key %q", k)
		}
		// This step encodes its own record shape, not Delivery's, which
		// may grow in later versions.
		rec, err := json.Marshal(struct {
			Source   string    `json:"source"`
			ID       string    `json:"id"`
			Event    string    `json:"event"`
			Received time.Time `json:"received"`
		}{string(source), string(id), "", time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()})
		if err != nil {
			return err
		}
		rewrites = append(rewrites, rewrite{bytes.Clone(k), rec})
		return nil
	})
	if err != nil {
		return err
	}
	for _, r := range rewrites {
		if err := deliveries.Put(r.k, r.v); err != nil {
			return err
		}
	}

	outbox := tx.Bucket(bucketOutbox)
	var old [][]byte
	if err := outbox.ForEach(func(k, _ []byte) error { old = append(old, bytes.Clone(k)); return nil }); err != nil {
		return err
	}
	for _, k := range old {
		if err := outbox.Delete(k); err != nil {
			return err
		}
	}

	dedupe := tx.Bucket(bucketTaskByDedupe)
	return tx.Bucket(bucketTasks).ForEach(func(k, v []byte) error {
		var t struct {
			ID        uint64 `json:"id"`
			DedupeKey string `json:"dedupe_key"`
		}
		if err := json.Unmarshal(v, &t); err != nil {
			return fmt.Errorf("decode task %x: %w", k, err)
		}
		if t.DedupeKey == "" {
			return nil
		}
		return dedupe.Put([]byte(t.DedupeKey), u64(t.ID))
	})
}
