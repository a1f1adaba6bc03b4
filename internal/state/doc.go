// Package state is the BoltDB state file of semaphored: the declared
// objects of the active config revision, the revisions sync looked at, an
// append-only event log, tasks with their logs, the outbox of reports
// (commit statuses, notifications, comments) waiting to be delivered, and
// the deliveries received (webhooks, integrations, schedule firings) with
// the tasks they created. It is the
// only package that imports bbolt, and it holds no business rules: callers
// decide what to store, the Store makes each logical change one
// transaction.
//
// # Bucket layout
//
// Sequences are 8-byte big-endian keys taken from the bucket's own
// sequence (bbolt NextSequence), so cursor order is numeric order.
//
//	meta              schema_version → decimal ASCII ("4")
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
//	task_by_dedupe    dedupe key → task id (8 bytes)
//	dedupe_orphans    created (8-byte Unix ns) + dedupe key → task id, for
//	                  keys still taken whose task was pruned
//	deliveries        source\x00id → Delivery (JSON)
//	delivery_times    received (8-byte Unix ns) + source\x00id → empty
//	delivery_pending  received (8-byte Unix ns) + source\x00id → empty,
//	                  for every Pending delivery
//	outbox            seq → OutboxEntry (JSON)
//	outbox_by_target  kind\x00target → seq of its undelivered, not failed
//	                  entry (the one a newer entry replaces)
//	outbox_due        next attempt (8-byte Unix ns) + seq → empty, for
//	                  every entry not failed
//	outbox_failed     seq → failed at (8-byte Unix ns)
//	outbox_delivered  kind\x00target → acked at (8-byte Unix ns) + payload
//	outbox_delivered_times  acked at (8-byte Unix ns) + kind\x00target → empty
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
//	4  durable intake and the real outbox: deliveries become Delivery
//	   records (their received time kept), the dedupe index, the
//	   delivery_pending and outbox_* indexes; the v3 outbox entries (no
//	   kind, no target, no reader) are dropped
//
// Open runs each missing step in its own transaction, which also writes
// the new version, and refuses a file newer than the code (ErrSchemaTooNew).
//
// # Intake
//
// AcceptDelivery records a delivery (source, id) and creates its tasks in
// one transaction; a known delivery creates nothing and returns what the
// first one created. A delivery acknowledged to its sender before its
// tasks are known is stored Pending with its payload, listed by
// PendingDeliveries (after a restart too), and finished by
// CompleteDelivery. Deliveries are remembered DeliveryTTL (7 days) after
// they were received; pending ones until completed.
//
// # Dedupe keys
//
// A task's non-empty DedupeKey is unique: CreateTask, AcceptDelivery and
// CompleteDelivery create at most one task per key and otherwise return the
// task holding it (CreateTask with ErrDuplicate). A key stays taken for as
// long as its task exists, and for at least DedupeTTL (7 days, the delivery
// memory) after the task's creation: pruning a task younger than that
// keeps its key (noted in dedupe_orphans) and PruneDeliveries releases it
// once it is older. Within those 7 days a redelivery is caught by the
// delivery record anyway; the key covers a task created outside a delivery
// or through another one (a schedule slot seen again after a restart). A
// producer must not rely on a key older than DedupeTTL whose task was
// pruned: a schedule catch-up looks back less than that.
//
// # Outbox
//
// Options.Outbox, when set, is called inside the transaction of every task
// status change and returns the entries to enqueue (EnqueueOutbox adds
// others). An entry with a Target replaces the undelivered, not failed
// entry of the same Kind and Target. DueOutbox lists entries whose next
// attempt has come, by Seq; FailOutbox records an attempt's error and the
// next attempt time (or gives up: Failed) in one call; AckOutbox removes a
// delivered entry and remembers its payload as LastDelivered for its
// target. Entries do not belong to tasks: pruning a task leaves them.
//
// # Retention and backup
//
// PruneTasks applies a Retention per template and takes the logs of the
// tasks it drops; PruneEvents, PruneRevisions, PruneDeliveries and
// PruneOutbox (delivered markers and failed entries) trim the other
// growing buckets (SeenDelivery also drops a few expired deliveries on
// each call). Backup and BackupFile copy the whole file from one read
// transaction while writers carry on.
//
// # Errors
//
// ErrNotFound (no such task, object, delivery or outbox entry),
// ErrDuplicate (a dedupe key already taken), ErrConflict (a change that
// does not fit the stored objects), ErrLocked (another
// process holds the file) and ErrSchemaTooNew are checked with errors.Is.
// Errors name keys and ids, never object values or log text.
//
// # Concurrency and durability
//
// A Store is safe for concurrent use. bbolt runs one write transaction at
// a time and any number of read transactions beside it; every method is
// one transaction except the Prune methods, which delete in transactions
// of at most 500 records so as never to hold the writer long.
// Every write transaction is fsynced before it returns. AcceptDelivery,
// the write on the webhook's ack path, goes through a group commit:
// concurrent calls share one transaction and one fsync, a lone call
// starts its own at once (no added delay), and a call whose function
// fails is reported alone while the others run again. UpdateTask's
// function may likewise run more than once in other implementations (a
// database retries on serialization failures): it must derive its edit
// from the task it is given. Bytes read inside a
// transaction are copied out before it ends: nothing a method returns
// aliases the memory map. bbolt cannot cancel a running transaction, so
// methods check ctx before starting one. The file lock is taken by Open and
// held until Close; a second process (or a second Open in this one) gets
// ErrLocked after Options.LockTimeout.
//
// # Other implementations
//
// Every method is shaped for a SQL database too (PostgreSQL, several
// daemons on one database): uniqueness is a key (delivery source and id,
// dedupe key, outbox kind and target), each method is one logical change
// in one transaction, and none relies on being the only writer process.
// The package statetest holds the contract as a test suite; run it
// against any new implementation unchanged.
package state
