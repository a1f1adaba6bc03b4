package state

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// chunkFormat is the first byte of every log chunk.
const chunkFormat = 1

// errBadChunk reports a log chunk that does not decode.
var errBadChunk = errors.New("malformed log chunk")

// encodeChunk encodes lines as one log chunk: the format byte, the line
// count (uvarint), the first line's time (varint Unix nanoseconds), then per
// line its time minus the previous line's (varint nanoseconds), its text
// length (uvarint) and its text. It returns the chunk and the text bytes.
func encodeChunk(lines []LogLine, now time.Time) ([]byte, uint64) {
	size := 1 + binary.MaxVarintLen64*2
	for i := range lines {
		size += len(lines[i].Text) + 6
	}
	b := make([]byte, 0, size)
	b = append(b, chunkFormat)
	b = binary.AppendUvarint(b, uint64(len(lines)))
	var prev int64
	var textBytes uint64
	for i := range lines {
		t := lines[i].Time
		if t.IsZero() {
			t = now
		}
		ns := t.UnixNano()
		if i == 0 {
			b = binary.AppendVarint(b, ns)
			prev = ns
		}
		b = binary.AppendVarint(b, ns-prev)
		prev = ns
		b = binary.AppendUvarint(b, uint64(len(lines[i].Text)))
		b = append(b, lines[i].Text...)
		textBytes += uint64(len(lines[i].Text))
	}
	return b, textBytes
}

// decodeChunk calls fn for each line of chunk, numbered from first. The
// text given to fn aliases chunk; fn copies what it keeps. fn returns
// false to stop.
func decodeChunk(chunk []byte, first uint64, fn func(n uint64, ns int64, text []byte) bool) error {
	if len(chunk) == 0 || chunk[0] != chunkFormat {
		return errBadChunk
	}
	p := chunk[1:]
	count, k := binary.Uvarint(p)
	if k <= 0 {
		return errBadChunk
	}
	p = p[k:]
	ns, k := binary.Varint(p)
	if k <= 0 {
		return errBadChunk
	}
	p = p[k:]
	for i := range count {
		d, k := binary.Varint(p)
		if k <= 0 {
			return errBadChunk
		}
		p = p[k:]
		ns += d
		l, k := binary.Uvarint(p)
		if k <= 0 || uint64(len(p)-k) < l {
			return errBadChunk
		}
		text := p[k : k+int(l)]
		p = p[k+int(l):]
		if !fn(first+i, ns, text) {
			return nil
		}
	}
	return nil
}

// maxChunkText bounds the text of one stored chunk. BoltDB rewrites the
// leaf that receives a new chunk, with the chunk before it (a leaf holds at
// least two), so a big batch is stored as several chunks: appending then
// costs a bounded copy instead of the whole previous batch, and the file's
// pages the copy touches (which count in the daemon's RSS) stay few.
const maxChunkText = 64 << 10

// chunkLen returns how many of lines go into the next chunk: at least one,
// and no more than maxChunkText bytes of text when there are more.
func chunkLen(lines []LogLine) int {
	size := 0
	for i := range lines {
		size += len(lines[i].Text)
		if size > maxChunkText && i > 0 {
			return i
		}
	}
	return len(lines)
}

// AppendLog stores lines after the task's last line in one transaction,
// numbering them (LogLine.N is set on the stored copy) and adding to the
// task's LogLines/LogBytes. The batch is stored as chunks of at most
// maxChunkText bytes of text, each keyed by its first line number; a line
// with a zero Time is stored with the current time.
// ErrNotFound when there is no such task.
func (s *Store) AppendLog(ctx context.Context, taskID uint64, lines []LogLine) error {
	if len(lines) == 0 {
		return nil
	}
	now := s.now()
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		t, err := getTask(tx, taskID)
		if err != nil {
			return err
		}
		logs := tx.Bucket(bucketLogs)
		logs.FillPercent = 1
		b, err := logs.CreateBucketIfNotExists(u64(taskID))
		if err != nil {
			return err
		}
		b.FillPercent = 1
		for rest := lines; len(rest) > 0; {
			n := chunkLen(rest)
			chunk, textBytes := encodeChunk(rest[:n], now)
			if err := b.Put(u64(t.LogLines+1), chunk); err != nil {
				return err
			}
			t.LogLines += uint64(n)
			t.LogBytes += textBytes
			rest = rest[n:]
		}
		return putTask(tx, &t)
	})
	if err != nil {
		return fmt.Errorf("append %d log lines to task %d: %w", len(lines), taskID, err)
	}
	return nil
}

// ReadLog returns up to max lines of a task with N >= from, in order
// (from 0 reads from the first line; max 0 or less means no limit).
// ErrNotFound when there is no such task.
func (s *Store) ReadLog(ctx context.Context, taskID uint64, from uint64, max int) ([]LogLine, error) {
	if from == 0 {
		from = 1
	}
	var out []LogLine
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		logs := tx.Bucket(bucketLogs).Bucket(u64(taskID))
		if logs == nil {
			if tx.Bucket(bucketTasks).Get(u64(taskID)) == nil {
				return ErrNotFound
			}
			return nil
		}
		c := logs.Cursor()
		// The chunk holding from is the last one keyed at or below it.
		k, v := c.Seek(u64(from))
		switch {
		case k == nil:
			k, v = c.Last()
		case binary.BigEndian.Uint64(k) > from:
			if k, v = c.Prev(); k == nil {
				k, v = c.First()
			}
		}
		for ; k != nil; k, v = c.Next() {
			full := false
			err := decodeChunk(v, binary.BigEndian.Uint64(k), func(n uint64, ns int64, text []byte) bool {
				if n < from {
					return true
				}
				out = append(out, LogLine{N: n, Time: time.Unix(0, ns), Text: string(text)})
				full = max > 0 && len(out) >= max
				return !full
			})
			if err != nil {
				return fmt.Errorf("chunk %d: %w", binary.BigEndian.Uint64(k), err)
			}
			if full {
				return nil
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read log of task %d: %w", taskID, err)
	}
	return out, nil
}
