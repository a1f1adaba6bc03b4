package state

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.etcd.io/bbolt"
)

// Errors added to the contract ones in types.go.
var (
	// ErrConflict means a change does not fit the stored objects: a create
	// of an existing key, or an update or delete of a missing one.
	ErrConflict = errors.New("change conflicts with stored objects")
	// ErrSchemaTooNew means the file was written by a newer semaphored.
	ErrSchemaTooNew = errors.New("state file schema is newer than this semaphored supports")
)

// Options tune Open.
type Options struct {
	// LockTimeout is how long Open waits for the file lock before it
	// reports ErrLocked (default 1s).
	LockTimeout time.Duration
	// Now returns the time (default time.Now).
	Now func() time.Time
	// Logger receives migration notes (default: discarded).
	Logger *slog.Logger
	// Outbox, when set, returns the outbox entries of each task status
	// change and is called inside its transaction. Nil: no entry is
	// written on status changes (nothing nobody reads).
	Outbox OutboxFunc
}

// Store is the BoltDB state file. It is safe for concurrent use: bbolt
// serialises writers and lets readers run alongside them.
type Store struct {
	db      *bbolt.DB
	path    string
	now     func() time.Time
	log     *slog.Logger
	outbox  OutboxFunc
	group   *groupCommit
	version int

	// afterPruneBatch, when set by a test, runs after each pruning
	// transaction.
	afterPruneBatch func()
}

// Bucket and meta key names; see doc.go for the layout.
var (
	bucketMeta           = []byte("meta")
	bucketObjects        = []byte("objects")
	bucketRevisions      = []byte("revisions")
	bucketEvents         = []byte("events")
	bucketTasks          = []byte("tasks")
	bucketLogs           = []byte("logs")
	bucketOutbox         = []byte("outbox")
	bucketDeliveries     = []byte("deliveries")
	bucketDeliveryTimes  = []byte("delivery_times")
	bucketTaskByProject  = []byte("task_by_project")
	bucketTaskByTemplate = []byte("task_by_template")
	bucketTaskActive     = []byte("task_active")
	bucketTaskByStatus   = []byte("task_by_status")

	bucketTaskByDedupe         = []byte("task_by_dedupe")
	bucketDedupeOrphans        = []byte("dedupe_orphans")
	bucketDeliveryPending      = []byte("delivery_pending")
	bucketOutboxByTarget       = []byte("outbox_by_target")
	bucketOutboxDue            = []byte("outbox_due")
	bucketOutboxFailed         = []byte("outbox_failed")
	bucketOutboxDelivered      = []byte("outbox_delivered")
	bucketOutboxDeliveredTimes = []byte("outbox_delivered_times")

	keySchemaVersion  = []byte("schema_version")
	keyActiveRevision = []byte("active_revision")
	keyLastRevision   = []byte("last_revision")
)

// lockedError is the error Open returns when another process holds the file.
type lockedError struct {
	path    string
	timeout time.Duration
}

func (e *lockedError) Error() string {
	return fmt.Sprintf("state file %s is in use by another semaphored process (lock not acquired within %s)", e.path, e.timeout)
}

func (e *lockedError) Unwrap() error { return ErrLocked }

// Open opens or creates the state file at path, takes its lock, and
// migrates its schema to the current version. The parent directory is
// created 0700 and the file 0600 when missing. When another process holds
// the lock for longer than opts.LockTimeout, the error wraps ErrLocked; a
// file written by a newer schema is refused with ErrSchemaTooNew.
func Open(path string, opts Options) (*Store, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open state file %s: %w", path, err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:      opts.LockTimeout,
		FreelistType: bbolt.FreelistMapType,
	})
	if err != nil {
		if errors.Is(err, bbolt.ErrTimeout) {
			return nil, &lockedError{path: path, timeout: opts.LockTimeout}
		}
		return nil, fmt.Errorf("open state file %s: %w", path, err)
	}
	// A file made by hand or restored with a wide mode holds task logs;
	// narrow it to the owner.
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&^0o600 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("open state file %s: %w", path, err)
		}
		opts.Logger.Warn("narrowed state file mode to 0600", "path", path, "was", fi.Mode().Perm().String())
	}
	s := &Store{db: db, path: path, now: opts.Now, log: opts.Logger, outbox: opts.Outbox, group: &groupCommit{db: db}}
	if err := s.migrate(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open state file %s: %w", path, err)
	}
	return s, nil
}

// Close releases the file. The Store must not be used afterwards.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close state file %s: %w", s.path, err)
	}
	return nil
}

// SchemaVersion is the schema version of the open file.
func (s *Store) SchemaVersion() int { return s.version }

// Path is the file the Store was opened on.
func (s *Store) Path() string { return s.path }

// view runs fn in a read transaction unless ctx is already done.
func (s *Store) view(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(fn)
}

// batch runs fn in a write transaction shared with concurrent batch
// calls (one commit for all of them, see groupCommit), unless ctx is
// already done. fn may run more than once and must give the same result
// each time.
func (s *Store) batch(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.group.do(fn)
}

// update runs fn in a write transaction unless ctx is already done.
func (s *Store) update(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(fn)
}

// Check runs bbolt's consistency check over the whole file and returns
// every problem it finds joined, or nil.
func (s *Store) Check(ctx context.Context) error {
	var errs []error
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("check state file %s: %w", s.path, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("check state file %s: %w", s.path, errors.Join(errs...))
	}
	return nil
}

// u64 encodes v as 8 bytes big-endian, the key form of every sequence.
func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// readVersion returns the schema version stored in meta, 0 when none.
func readVersion(tx *bbolt.Tx) (int, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0, nil
	}
	v := meta.Get(keySchemaVersion)
	if v == nil {
		return 0, nil
	}
	n, err := strconv.Atoi(string(v))
	if err != nil {
		return 0, fmt.Errorf("read schema version %q: %w", v, err)
	}
	return n, nil
}

func writeVersion(tx *bbolt.Tx, v int) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	return meta.Put(keySchemaVersion, []byte(strconv.Itoa(v)))
}

// migrate brings the file to currentVersion, one transaction per step.
func (s *Store) migrate() error {
	var v int
	if err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		v, err = readVersion(tx)
		return err
	}); err != nil {
		return err
	}
	cur := len(migrations)
	created := v == 0
	if v > cur {
		return fmt.Errorf("%w: file has schema version %d, this semaphored knows up to %d; upgrade semaphored or open a backup", ErrSchemaTooNew, v, cur)
	}
	for ; v < cur; v++ {
		next := v + 1
		if err := s.db.Update(func(tx *bbolt.Tx) error {
			if err := migrations[v](tx); err != nil {
				return err
			}
			return writeVersion(tx, next)
		}); err != nil {
			return fmt.Errorf("migrate schema %d to %d: %w", v, next, err)
		}
		if !created {
			s.log.Info("migrated state schema", "path", s.path, "from", v, "to", next)
		}
	}
	if created {
		// A new file passes through every step: one line says so.
		s.log.Info("created state file", "path", s.path, "schema", cur)
	}
	s.version = cur
	return nil
}
