package state

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/semaphored/semaphored/internal/task"
)

func makeLines(start, n int, t0 time.Time) []LogLine {
	lines := make([]LogLine, n)
	for i := range lines {
		lines[i] = LogLine{Time: t0.Add(time.Duration(start+i) * time.Millisecond), Text: fmt.Sprintf("line %d", start+i+1)}
	}
	return lines
}

func TestAppendAndReadLog(t *testing.T) {
	ctx := context.Background()
	c := newClock()
	s := openTest(t, c)
	tk := mustCreate(t, s, Task{Request: task.Request{Project: "p", Template: "t"}})
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

	// Batches of uneven sizes, including a line with no time, an empty
	// line, and lines with unicode and tabs.
	var want []LogLine
	sizes := []int{1, 7, 100, 3, 250}
	for _, n := range sizes {
		batch := makeLines(len(want), n, t0)
		if err := s.AppendLog(ctx, tk.ID, batch); err != nil {
			t.Fatal(err)
		}
		want = append(want, batch...)
	}
	special := []LogLine{{Text: ""}, {Time: t0.Add(-time.Hour), Text: "héllo\twörld ✓"}}
	if err := s.AppendLog(ctx, tk.ID, special); err != nil {
		t.Fatal(err)
	}
	special[0].Time = c.Now()
	want = append(want, special...)
	var wantBytes uint64
	for i := range want {
		want[i].N = uint64(i + 1)
		wantBytes += uint64(len(want[i].Text))
	}
	if err := s.AppendLog(ctx, tk.ID, nil); err != nil {
		t.Errorf("empty batch: %v", err)
	}

	got, err := s.Task(ctx, tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LogLines != uint64(len(want)) || got.LogBytes != wantBytes {
		t.Errorf("LogLines, LogBytes = %d, %d; want %d, %d", got.LogLines, got.LogBytes, len(want), wantBytes)
	}

	tests := []struct {
		name      string
		from      uint64
		max       int
		wantFirst uint64
		wantN     int
	}{
		{"all", 0, 0, 1, len(want)},
		{"from 1", 1, 0, 1, len(want)},
		{"chunk start", 9, 5, 9, 5},
		{"inside a chunk", 50, 10, 50, 10},
		{"across chunks", 105, 20, 105, 20},
		{"last line", uint64(len(want)), 10, uint64(len(want)), 1},
		{"past the end", uint64(len(want)) + 1, 10, 0, 0},
		{"far past the end", 1 << 40, 10, 0, 0},
		{"max larger than left", 355, 100, 355, len(want) - 354},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines, err := s.ReadLog(ctx, tk.ID, tt.from, tt.max)
			if err != nil {
				t.Fatal(err)
			}
			if len(lines) != tt.wantN {
				t.Fatalf("got %d lines, want %d", len(lines), tt.wantN)
			}
			for i, l := range lines {
				w := want[int(tt.wantFirst)-1+i]
				if l.N != w.N || l.Text != w.Text || !l.Time.Equal(w.Time) {
					t.Fatalf("line %d = %+v, want %+v", i, l, w)
				}
			}
		})
	}

	// A second task's log is separate and numbered from 1.
	other := mustCreate(t, s, Task{Request: task.Request{Project: "p", Template: "t"}})
	if lines, err := s.ReadLog(ctx, other.ID, 0, 0); err != nil || len(lines) != 0 {
		t.Errorf("empty log = %v, %v; want no lines", lines, err)
	}
	if err := s.AppendLog(ctx, other.ID, []LogLine{{Text: "x"}}); err != nil {
		t.Fatal(err)
	}
	if lines, _ := s.ReadLog(ctx, other.ID, 0, 0); len(lines) != 1 || lines[0].N != 1 {
		t.Errorf("other task's log = %+v, want one line numbered 1", lines)
	}

	if err := s.AppendLog(ctx, 999, []LogLine{{Text: "x"}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("AppendLog to a missing task: got %v, want ErrNotFound", err)
	}
	if _, err := s.ReadLog(ctx, 999, 0, 0); !errors.Is(err, ErrNotFound) {
		t.Errorf("ReadLog of a missing task: got %v, want ErrNotFound", err)
	}
}

func TestChunkIsCompact(t *testing.T) {
	t0 := time.Now()
	lines := makeLines(0, 1000, t0)
	text := 0
	for _, l := range lines {
		text += len(l.Text)
	}
	chunk, n := encodeChunk(lines, t0)
	if n != uint64(text) {
		t.Errorf("text bytes = %d, want %d", n, text)
	}
	// Per line: a 3-byte time delta (1ms = 1e6 ns) and a 1-byte length.
	if overhead := len(chunk) - text; overhead > 4*len(lines)+16 {
		t.Errorf("chunk overhead %d bytes for %d lines, want at most %d", overhead, len(lines), 4*len(lines)+16)
	}
}

func TestDecodeChunkRejectsBadInput(t *testing.T) {
	good, _ := encodeChunk(makeLines(0, 3, time.Now()), time.Now())
	tests := map[string][]byte{
		"empty":           nil,
		"wrong format":    append([]byte{9}, good[1:]...),
		"truncated":       good[:len(good)-2],
		"only the header": good[:2],
		"huge length":     {1, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f, 'a'},
	}
	for name, chunk := range tests {
		t.Run(name, func(t *testing.T) {
			err := decodeChunk(chunk, 1, func(uint64, int64, []byte) bool { return true })
			if !errors.Is(err, errBadChunk) {
				t.Errorf("got %v, want errBadChunk", err)
			}
		})
	}
}

func FuzzChunkRoundTrip(f *testing.F) {
	f.Add("a\nb\nc", int64(0), int64(1e6))
	f.Add("", int64(-5), int64(-1e9))
	f.Fuzz(func(t *testing.T, text string, base, step int64) {
		var lines []LogLine
		for i, s := range strings.Split(text, "\n") {
			lines = append(lines, LogLine{Time: time.Unix(0, base+int64(i)*step), Text: s})
		}
		chunk, _ := encodeChunk(lines, time.Unix(0, 1))
		var got []LogLine
		err := decodeChunk(chunk, 1, func(n uint64, ns int64, b []byte) bool {
			got = append(got, LogLine{N: n, Time: time.Unix(0, ns), Text: string(b)})
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(lines) {
			t.Fatalf("got %d lines, want %d", len(got), len(lines))
		}
		for i := range got {
			want := lines[i].Time
			if want.IsZero() {
				want = time.Unix(0, 1)
			}
			if got[i].Text != lines[i].Text || !got[i].Time.Equal(want) || got[i].N != uint64(i+1) {
				t.Fatalf("line %d = %+v, want %+v", i, got[i], lines[i])
			}
		}
		// Any truncation is reported, never a panic.
		for cut := range len(chunk) {
			_ = decodeChunk(chunk[:cut], 1, func(uint64, int64, []byte) bool { return true })
		}
		_ = decodeChunk(bytes.Repeat([]byte{1}, len(text)), 1, func(uint64, int64, []byte) bool { return true })
	})
}

// TestAppendLogSplitsBigBatches stores one batch of about 1 MiB: it must
// land as chunks of at most maxChunkText bytes of text (a line longer than
// that alone in its chunk), numbered on, and read back whole from any line.
func TestAppendLogSplitsBigBatches(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, newClock())
	tk := mustCreate(t, s, Task{Request: task.Request{Project: "p", Template: "t"}})
	var batch []LogLine
	for i := range 10000 {
		batch = append(batch, LogLine{Time: time.Unix(int64(i), 0), Text: fmt.Sprintf("%06d %s", i, strings.Repeat("x", 93))})
	}
	batch[5000].Text = strings.Repeat("y", maxChunkText+10) // longer than a chunk
	if err := s.AppendLog(ctx, tk.ID, batch); err != nil {
		t.Fatal(err)
	}
	var chunks, maxText int
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketLogs).Bucket(u64(tk.ID)).ForEach(func(k, v []byte) error {
			chunks++
			text := 0
			err := decodeChunk(v, binary.BigEndian.Uint64(k), func(n uint64, ns int64, b []byte) bool {
				if n != 5001 {
					text += len(b)
				}
				return true
			})
			maxText = max(maxText, text)
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if chunks < 16 || maxText > maxChunkText {
		t.Fatalf("got %d chunks, largest %d bytes of text; want >= 16 chunks of <= %d", chunks, maxText, maxChunkText)
	}
	for _, from := range []uint64{1, 700, 5001, 5002, 9999, 10000} {
		got, err := s.ReadLog(ctx, tk.ID, from, 0)
		if err != nil {
			t.Fatal(err)
		}
		if uint64(len(got)) != 10001-from || got[0].N != from || got[0].Text != batch[from-1].Text {
			t.Fatalf("read from %d: got %d lines starting at %d", from, len(got), got[0].N)
		}
	}
}
