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
	return tx.Bucket(bucketTasks).ForEach(func(k, v []byte) error {
		var t Task
		if err := json.Unmarshal(v, &t); err != nil {
			return fmt.Errorf("decode task %x: %w", k, err)
		}
		return putTaskIndexes(tx, &t)
	})
}
