// Package state is the BoltDB state file of semaphored: the declared
// objects of the active config revision, the revisions sync looked at, an
// append-only event log, tasks with their logs, the outbox of status
// changes to report, and the webhook deliveries already seen. It is the
// only package that imports bbolt, and it holds no business rules: callers
// decide what to store, the Store makes each logical change one
// transaction.
//
// # Bucket layout
//
// Sequences are 8-byte big-endian keys taken from the bucket's own
// sequence (bbolt NextSequence), so cursor order is numeric order.
//
//	meta              schema_version → decimal ASCII ("3")
//	                  active_revision → revisions key of the active revision
//	                  last_revision   → revisions key of the newest one seen
//	objects           project\x00kind\x00name → the object's canonical JSON
//	revisions         seq → Revision (JSON)
//	events            seq → Event (JSON), append only
//	tasks             id → Task (JSON)
//	task_by_project   project\x00id → index value
//	task_by_template  project\x00template\x00id → index value
//	task_by_status    status\x00id → empty
//	task_active       id → empty, for every non-terminal task
//	logs              id → nested bucket: first line number → chunk
//	outbox            seq → OutboxEntry (JSON)
//	deliveries        source\x00id → recorded at (8-byte Unix ns)
//	delivery_times    recorded at (8-byte Unix ns) + source\x00id → empty
//
// An index value is the task's end time (8-byte Unix ns, 0 when it has not
// ended; a terminal task without one counts its creation time) followed by
// its status, so listing by project or template, filtering by status and
// pruning never decode tasks they do not return. A status filter without
// a project merges the task_by_status entries of each wanted status; only
// a filter by template alone scans the tasks bucket.
//
// # Encoding
//
// Records are JSON: easy to inspect with bbolt's own tools and to migrate.
// A log chunk, one per AppendLog batch, is binary: a format byte (1), the
// line count (uvarint), the first line's time (varint Unix ns), then per
// line the time since the previous line (varint ns), the text length
// (uvarint) and the text. Lines are numbered from 1 per task; a chunk's key
// is the number of its first line, so ReadLog seeks straight to the chunk
// that holds a line. Buckets written in key order use a fill percent of 1.
//
// # Schema versions
//
//	0  an empty file (no meta bucket)
//	1  the base buckets: meta, objects, revisions, events, tasks, logs,
//	   outbox, deliveries, delivery_times
//	2  the task indexes task_by_project, task_by_template and task_active,
//	   filled from the stored tasks
//	3  the task index task_by_status, filled from the stored tasks
//
// Open runs each missing step in its own transaction, which also writes
// the new version, and refuses a file newer than the code (ErrSchemaTooNew).
//
// # Retention and backup
//
// PruneTasks applies a Retention per template and takes the logs and the
// outbox entries of the tasks it drops; PruneEvents, PruneRevisions and
// PruneDeliveries trim the other growing buckets (SeenDelivery also drops
// a few expired deliveries on each call). Backup and BackupFile copy the
// whole file from one read transaction while writers carry on.
//
// # Errors
//
// ErrNotFound (no such task, object or outbox entry), ErrConflict (a
// change that does not fit the stored objects), ErrLocked (another
// process holds the file) and ErrSchemaTooNew are checked with errors.Is.
// Errors name keys and ids, never object values or log text.
//
// # Concurrency and durability
//
// A Store is safe for concurrent use. bbolt runs one write transaction at
// a time and any number of read transactions beside it; every method is
// one transaction except PruneTasks and PruneDeliveries, which delete in
// transactions of at most 500 records so as never to hold the writer long.
// Every write transaction is fsynced before it returns. Bytes read inside a
// transaction are copied out before it ends: nothing a method returns
// aliases the memory map. bbolt cannot cancel a running transaction, so
// methods check ctx before starting one. The file lock is taken by Open and
// held until Close; a second process (or a second Open in this one) gets
// ErrLocked after Options.LockTimeout.
package state
