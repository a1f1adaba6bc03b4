package state

import (
	"encoding/json"
	"fmt"

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
