package state

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"go.etcd.io/bbolt"
)

// projectIndexKey is project\x00id.
func projectIndexKey(project string, id uint64) []byte {
	b := make([]byte, 0, len(project)+9)
	b = append(b, project...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint64(b, id)
}

// templatePrefix is project\x00template\x00, the prefix of a template's
// entries in task_by_template.
func templatePrefix(project, template string) []byte {
	b := make([]byte, 0, len(project)+len(template)+10)
	b = append(b, project...)
	b = append(b, 0)
	b = append(b, template...)
	return append(b, 0)
}

func templateIndexKey(project, template string, id uint64) []byte {
	return binary.BigEndian.AppendUint64(templatePrefix(project, template), id)
}

// indexValue is what both task indexes hold for a task: its end time
// (8 bytes, Unix nanoseconds, 0 when not ended) then its status, so that
// listing and pruning filter without decoding tasks. A terminal task
// without an end time counts as ended when it was created, so that age
// pruning still reaches it.
func indexValue(t *Task) []byte {
	at := t.Ended
	if at.IsZero() && t.Status.Terminal() {
		at = t.Created
	}
	var ended uint64
	if !at.IsZero() {
		ended = uint64(at.UnixNano())
	}
	b := make([]byte, 8, 8+len(t.Status))
	binary.BigEndian.PutUint64(b, ended)
	return append(b, t.Status...)
}

func parseIndexValue(v []byte) (endedNanos int64, status TaskStatus) {
	if len(v) < 8 {
		return 0, ""
	}
	return int64(binary.BigEndian.Uint64(v)), TaskStatus(v[8:])
}

// statusIndexKey is status\x00id.
func statusIndexKey(status TaskStatus, id uint64) []byte {
	b := make([]byte, 0, len(status)+9)
	b = append(b, status...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint64(b, id)
}

// putTaskIndexes writes every index entry of t.
func putTaskIndexes(tx *bbolt.Tx, t *Task) error {
	v := indexValue(t)
	if err := tx.Bucket(bucketTaskByProject).Put(projectIndexKey(t.Project, t.ID), v); err != nil {
		return fmt.Errorf("index task %d: %w", t.ID, err)
	}
	if err := tx.Bucket(bucketTaskByTemplate).Put(templateIndexKey(t.Project, t.Template, t.ID), v); err != nil {
		return fmt.Errorf("index task %d: %w", t.ID, err)
	}
	if err := tx.Bucket(bucketTaskByStatus).Put(statusIndexKey(t.Status, t.ID), nil); err != nil {
		return fmt.Errorf("index task %d: %w", t.ID, err)
	}
	active := tx.Bucket(bucketTaskActive)
	if t.Status.Terminal() {
		return active.Delete(u64(t.ID))
	}
	return active.Put(u64(t.ID), nil)
}

// deleteTaskIndexes removes every index entry of t.
func deleteTaskIndexes(tx *bbolt.Tx, t *Task) error {
	if err := tx.Bucket(bucketTaskByProject).Delete(projectIndexKey(t.Project, t.ID)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketTaskByTemplate).Delete(templateIndexKey(t.Project, t.Template, t.ID)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketTaskByStatus).Delete(statusIndexKey(t.Status, t.ID)); err != nil {
		return err
	}
	return tx.Bucket(bucketTaskActive).Delete(u64(t.ID))
}

func getTask(tx *bbolt.Tx, id uint64) (Task, error) {
	v := tx.Bucket(bucketTasks).Get(u64(id))
	if v == nil {
		return Task{}, ErrNotFound
	}
	var t Task
	if err := decodeTask(v, &t); err != nil {
		return Task{}, fmt.Errorf("decode task %d: %w", id, err)
	}
	return t, nil
}

func putTask(tx *bbolt.Tx, t *Task) error {
	v, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("encode task %d: %w", t.ID, err)
	}
	if err := tx.Bucket(bucketTasks).Put(u64(t.ID), v); err != nil {
		return fmt.Errorf("store task %d: %w", t.ID, err)
	}
	return nil
}

// recordStatus writes the event of a status change of t (old.Status is
// "" on create) and the outbox entries Options.Outbox returns for it.
func (s *Store) recordStatus(tx *bbolt.Tx, old, t *Task) error {
	now := s.now()
	events := tx.Bucket(bucketEvents)
	events.FillPercent = 1
	if err := putEvent(events, Event{At: now, Type: EventTaskStatus, TaskID: t.ID, Status: t.Status, Message: t.Message}); err != nil {
		return err
	}
	return s.enqueueStatus(tx, old, t, now)
}

// createTaskTx is CreateTask inside tx. When t's DedupeKey is taken it
// stores nothing and returns the task holding the key and existing=true;
// if that task was pruned already (its key is kept, see DedupeTTL), the
// returned task has only ID and DedupeKey set.
func (s *Store) createTaskTx(tx *bbolt.Tx, t Task) (_ Task, existing bool, _ error) {
	var dedupe *bbolt.Bucket
	if t.DedupeKey != "" {
		dedupe = tx.Bucket(bucketTaskByDedupe)
		if v := dedupe.Get([]byte(t.DedupeKey)); len(v) == 8 {
			id := binary.BigEndian.Uint64(v)
			got, err := getTask(tx, id)
			if errors.Is(err, ErrNotFound) {
				gone := Task{ID: id}
				gone.DedupeKey = t.DedupeKey
				return gone, true, nil
			}
			return got, true, err
		}
	}
	if t.Status == "" {
		t.Status = StatusWaiting
	}
	if t.Created.IsZero() {
		t.Created = s.now()
	}
	t.ExitCode = -1
	t.LogLines, t.LogBytes = 0, 0
	b := tx.Bucket(bucketTasks)
	b.FillPercent = 1
	id, err := b.NextSequence()
	if err != nil {
		return Task{}, false, err
	}
	t.ID = id
	if err := putTask(tx, &t); err != nil {
		return Task{}, false, err
	}
	if err := putTaskIndexes(tx, &t); err != nil {
		return Task{}, false, err
	}
	if dedupe != nil {
		if err := dedupe.Put([]byte(t.DedupeKey), u64(t.ID)); err != nil {
			return Task{}, false, fmt.Errorf("index dedupe key of task %d: %w", t.ID, err)
		}
	}
	return t, false, s.recordStatus(tx, &Task{}, &t)
}

// CreateTask stores a new task with the next ID (status waiting unless
// set, Created now unless set, ExitCode -1) and returns it. Its status
// event, and the outbox entries of Options.Outbox, are written in the same
// transaction. LogLines and LogBytes start at zero whatever t says.
//
// A non-empty t.DedupeKey is unique among tasks: when it is taken already,
// CreateTask stores nothing and returns the task that holds it with an
// error wrapping ErrDuplicate (errors.Is). A key stays taken while its
// task exists and for DedupeTTL after that task's creation; if the task
// was pruned in between, the returned task has only ID and DedupeKey.
func (s *Store) CreateTask(ctx context.Context, t Task) (Task, error) {
	var (
		got      Task
		existing bool
	)
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		var err error
		got, existing, err = s.createTaskTx(tx, t)
		return err
	})
	if err != nil {
		return Task{}, fmt.Errorf("create task %s/%s: %w", t.Project, t.Template, err)
	}
	if existing {
		return got, fmt.Errorf("create task %s/%s: key %q is task %d's: %w", t.Project, t.Template, t.DedupeKey, got.ID, ErrDuplicate)
	}
	return got, nil
}

// UpdateTask changes a task in one transaction: fn gets the current task
// and edits it in place; an error from fn aborts and is returned wrapped.
// When the status changes, its event and the outbox entries of
// Options.Outbox are written in the same transaction. ErrNotFound when
// there is no such task. fn must not change ID, DedupeKey, LogLines or
// LogBytes; those edits are ignored.
//
// fn may run more than once for one call: an implementation on a database
// retries the transaction on a serialization failure, calling fn again on
// the task as then stored. So fn must only edit the task it gets, from
// what it gets (no side effects, no counting of its own calls); the
// result of the call is that of its last run.
func (s *Store) UpdateTask(ctx context.Context, id uint64, fn func(*Task) error) (Task, error) {
	var t Task
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		old, err := getTask(tx, id)
		if err != nil {
			return err
		}
		t = old
		// Give fn its own slices and map so a failed fn leaves old intact.
		t.Vars = cloneVars(old.Vars)
		t.Arguments = slices.Clone(old.Arguments)
		t.Tags = slices.Clone(old.Tags)
		t.SkipTags = slices.Clone(old.SkipTags)
		if err := fn(&t); err != nil {
			return err
		}
		t.ID, t.LogLines, t.LogBytes = old.ID, old.LogLines, old.LogBytes
		t.DedupeKey = old.DedupeKey
		if err := putTask(tx, &t); err != nil {
			return err
		}
		if t.Project != old.Project || t.Template != old.Template || t.Status != old.Status || !t.Ended.Equal(old.Ended) || !t.Created.Equal(old.Created) {
			if err := deleteTaskIndexes(tx, &old); err != nil {
				return err
			}
			if err := putTaskIndexes(tx, &t); err != nil {
				return err
			}
		}
		if t.Status != old.Status {
			return s.recordStatus(tx, &old, &t)
		}
		return nil
	})
	if err != nil {
		return Task{}, fmt.Errorf("update task %d: %w", id, err)
	}
	return t, nil
}

func cloneVars(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	// A JSON round trip is a deep copy of decoded values.
	b, err := json.Marshal(m)
	if err != nil {
		return m
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return m
	}
	return out
}

// Task returns one task; ErrNotFound when there is none.
func (s *Store) Task(ctx context.Context, id uint64) (Task, error) {
	var t Task
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		t, err = getTask(tx, id)
		return err
	})
	if err != nil {
		return Task{}, fmt.Errorf("read task %d: %w", id, err)
	}
	return t, nil
}

// Tasks returns up to limit tasks matching f with ID < before (before 0:
// from the newest), newest first; page by passing the last ID back. A
// limit of 0 or less means no limit. A filter by project, template or
// status reads an index and decodes only the tasks it returns; a filter by
// template alone (without project or status) scans the tasks.
func (s *Store) Tasks(ctx context.Context, f TaskFilter, before uint64, limit int) ([]Task, error) {
	if before == 0 {
		before = ^uint64(0)
	}
	var out []Task
	wantStatus := func(st TaskStatus) bool { return len(f.Status) == 0 || slices.Contains(f.Status, st) }
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var next func() (id uint64, v []byte)
		switch {
		case f.Project != "" && f.Template != "":
			next = prefixIDs(tx.Bucket(bucketTaskByTemplate).Cursor(), templatePrefix(f.Project, f.Template), before)
		case f.Project != "":
			next = prefixIDs(tx.Bucket(bucketTaskByProject).Cursor(), append([]byte(f.Project), 0), before)
		case len(f.Status) > 0:
			next = statusIDs(tx.Bucket(bucketTaskByStatus), f.Status, before)
		}
		if next == nil {
			return scanTasks(tx, f, before, limit, &out)
		}
		for limit <= 0 || len(out) < limit {
			id, v := next()
			if id == 0 {
				return nil
			}
			if len(v) >= 8 {
				if _, st := parseIndexValue(v); !wantStatus(st) {
					continue
				}
			}
			t, err := getTask(tx, id)
			if err != nil {
				return fmt.Errorf("task %d in index: %w", id, err)
			}
			if wantStatus(t.Status) && (f.Template == "" || t.Template == f.Template) {
				out = append(out, t)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	return out, nil
}

// prefixIDs walks the index entries under prefix with id < before, newest
// first; it returns id 0 at the end.
func prefixIDs(c *bbolt.Cursor, prefix []byte, before uint64) func() (uint64, []byte) {
	k, v := seekBefore(c, prefix, before)
	return func() (uint64, []byte) {
		if k == nil || !bytes.HasPrefix(k, prefix) || len(k) != len(prefix)+8 {
			return 0, nil
		}
		id, val := binary.BigEndian.Uint64(k[len(prefix):]), v
		k, v = c.Prev()
		return id, val
	}
}

// statusIDs merges the status index entries of each status, newest first.
func statusIDs(b *bbolt.Bucket, statuses []TaskStatus, before uint64) func() (uint64, []byte) {
	var heads []func() (uint64, []byte)
	var ids []uint64
	for _, st := range slices.Compact(slices.Sorted(slices.Values(statuses))) {
		next := prefixIDs(b.Cursor(), append([]byte(st), 0), before)
		id, _ := next()
		heads, ids = append(heads, next), append(ids, id)
	}
	return func() (uint64, []byte) {
		best := -1
		for i, id := range ids {
			if id != 0 && (best < 0 || id > ids[best]) {
				best = i
			}
		}
		if best < 0 {
			return 0, nil
		}
		id := ids[best]
		ids[best], _ = heads[best]()
		return id, nil
	}
}

// scanTasks lists from the tasks bucket itself, for filters no index
// serves.
func scanTasks(tx *bbolt.Tx, f TaskFilter, before uint64, limit int, out *[]Task) error {
	c := tx.Bucket(bucketTasks).Cursor()
	for k, v := seekBefore(c, nil, before); k != nil && (limit <= 0 || len(*out) < limit); k, v = c.Prev() {
		if f.Template != "" {
			// Decode the template alone first: skipping a task then
			// costs no allocation for its vars and lists.
			var head struct {
				Template string `json:"template"`
			}
			if err := json.Unmarshal(v, &head); err != nil {
				return fmt.Errorf("decode task %x: %w", k, err)
			}
			if head.Template != f.Template {
				continue
			}
		}
		var t Task
		if err := decodeTask(v, &t); err != nil {
			return fmt.Errorf("decode task %x: %w", k, err)
		}
		*out = append(*out, t)
	}
	return nil
}

// seekBefore places c on the last key below prefix+before (8-byte id).
func seekBefore(c *bbolt.Cursor, prefix []byte, before uint64) ([]byte, []byte) {
	target := binary.BigEndian.AppendUint64(bytes.Clone(prefix), before)
	k, _ := c.Seek(target)
	if k == nil {
		return c.Last()
	}
	// Seek lands on the first key >= target; step back below it.
	return c.Prev()
}

// ActiveTasks returns every task not in a terminal status, oldest first.
func (s *Store) ActiveTasks(ctx context.Context) ([]Task, error) {
	var out []Task
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketTaskActive).ForEach(func(k, _ []byte) error {
			t, err := getTask(tx, binary.BigEndian.Uint64(k))
			if err != nil {
				return fmt.Errorf("active task %x: %w", k, err)
			}
			out = append(out, t)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list active tasks: %w", err)
	}
	return out, nil
}
