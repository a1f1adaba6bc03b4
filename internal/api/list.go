package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/semaphored/semaphored/internal/state"
)

// Bounds of a task list answer. Whatever the page size and however large
// the stored tasks, one list request holds at most about listBufferBytes
// of answer plus one batch of tasks read from the store (sized to weigh
// about listBatchBytes, down to a single task).
const (
	// listBufferBytes is how much of a page is encoded before the first
	// byte is sent. A page that fits is answered in one piece, with its
	// Link header known; a larger one is streamed after a counting pass.
	listBufferBytes = 512 << 10
	// listBatchBytes is the weight (see taskWeight) a batch of tasks read
	// from the store aims at.
	listBatchBytes = 256 << 10
	// listMaxBatch bounds the tasks read from the store at a time.
	listMaxBatch = 128
)

// itemEncoder encodes list items: each task's summary (no vars), built in
// a value it reuses so that no item is boxed on the heap.
type itemEncoder struct {
	enc  *json.Encoder
	item Task
}

func newItemEncoder(w io.Writer) *itemEncoder {
	return &itemEncoder{enc: json.NewEncoder(w)}
}

// pagePool holds the buffers pages are encoded in.
var pagePool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// taskPager reads the tasks of a list from the store, newest first, in
// batches whose size follows the size of the tasks seen so far: a batch
// of small tasks is large, a batch of tasks with large vars holds one.
// Tasks of projects the caller may not see are skipped.
type taskPager struct {
	store  TaskStore
	filter state.TaskFilter
	p      *principal
	cursor uint64 // the next batch has IDs below it; 0: from the newest
	batch  []state.Task
	i      int
	size   int  // tasks to read next
	left   int  // tasks still wanted: no batch reads more
	done   bool // the store has no more

	// bytes and count measure the batch being consumed (see sized).
	bytes, count int
}

// newTaskPager returns a pager of the tasks below before (0: from the
// newest) of which the caller wants at most want.
func newTaskPager(store TaskStore, f state.TaskFilter, p *principal, before uint64, want int) *taskPager {
	return &taskPager{store: store, filter: f, p: p, cursor: before, size: 1, left: want}
}

// next returns the next visible task, or nil at the end. The task is
// valid until the following call, which releases it.
func (g *taskPager) next(ctx context.Context) (*state.Task, error) {
	if g.i > 0 && g.i <= len(g.batch) {
		g.batch[g.i-1] = state.Task{} // let the garbage collector have it
	}
	for {
		if g.i < len(g.batch) {
			t := &g.batch[g.i]
			g.i++
			if g.p.project(t.Project) {
				g.left--
				return t, nil
			}
			*t = state.Task{}
			continue
		}
		if g.done || g.left <= 0 {
			return nil, nil
		}
		g.resize()
		size := min(g.size, g.left)
		batch, err := g.store.Tasks(ctx, g.filter, g.cursor, size)
		if err != nil {
			return nil, fmt.Errorf("list tasks: %w", err)
		}
		g.batch, g.i = batch, 0
		if len(batch) < size {
			g.done = true
		}
		if len(batch) > 0 {
			g.cursor = batch[len(batch)-1].ID
		} else {
			g.done = true
		}
	}
}

// sized records the weight of a task next returned (see taskWeight).
func (g *taskPager) sized(n int) {
	g.bytes += n
	g.count++
}

// resize picks the next batch size from the average weight of the tasks
// seen since the last resize.
func (g *taskPager) resize() {
	if g.count == 0 {
		return
	}
	avg := max(g.bytes/g.count, 1)
	g.size = min(max(listBatchBytes/avg, 1), listMaxBatch)
	g.bytes, g.count = 0, 0
}

// taskWeight estimates the memory a task read from the store holds: its
// list item's JSON size (encoded) plus what its vars take decoded, which
// the store decodes even when the list item leaves them out.
func taskWeight(encoded int, t *state.Task) int {
	return encoded + valueWeight(t.Vars)
}

// valueWeight estimates the bytes a decoded JSON value takes: its strings
// and numbers, plus a word or two of overhead per value and map entry.
func valueWeight(v any) int {
	switch v := v.(type) {
	case map[string]any:
		n := 48
		for k, e := range v {
			n += len(k) + 32 + valueWeight(e)
		}
		return n
	case []any:
		n := 24
		for _, e := range v {
			n += 16 + valueWeight(e)
		}
		return n
	case string:
		return len(v)
	case json.Number:
		return len(v)
	}
	return 8
}

// appendItem encodes t's list item at the end of buf, which must be the
// writer of e, as json.Encoder does (HTML-safe escaping) without its
// newline, and returns the item's size.
func appendItem(buf *bytes.Buffer, e *itemEncoder, t *state.Task) (int, error) {
	n := buf.Len()
	e.item = taskSummary(*t)
	err := e.enc.Encode(&e.item)
	e.item = Task{}
	if err != nil {
		buf.Truncate(n)
		return 0, fmt.Errorf("encode task %d: %w", t.ID, err)
	}
	buf.Truncate(buf.Len() - 1)
	return buf.Len() - n, nil
}

// writeTaskList answers a page of at most limit tasks matching f with
// IDs below before (0: from the newest) as a JSON array, and a Link
// header with rel="next" when there are more.
//
// A page whose JSON fits in listBufferBytes is encoded whole, then sent.
// A larger one is never held: a first pass reads on to the page's end
// without keeping anything, to learn its last task and whether more
// follow (the Link header goes before the body), then a second pass
// reads the same tasks again and writes each as it is encoded. Tasks
// created between the passes are not in the page (it is bounded by the
// first task seen); tasks pruned between them are missing from it.
func (h *Handler) writeTaskList(w http.ResponseWriter, r *http.Request, p *principal, f state.TaskFilter, before uint64, limit int) error {
	ctx := r.Context()
	pg := newTaskPager(h.store, f, p, before, limit+1) // one more: is there a next page?
	page := pagePool.Get().(*bytes.Buffer)
	page.Reset()
	defer func() {
		if page.Cap() <= 2*listBufferBytes {
			pagePool.Put(page)
		}
	}()
	enc := newItemEncoder(page)

	var (
		n            int
		first, last  uint64
		more, spills bool
	)
	page.WriteByte('[')
	for {
		t, err := pg.next(ctx)
		if err != nil {
			return err
		}
		if t == nil {
			break
		}
		if n == limit {
			more = true
			break
		}
		if n == 0 {
			first = t.ID
		}
		n++
		last = t.ID
		if spills {
			pg.sized(taskWeight(0, t))
			continue // counting pass: nothing kept
		}
		if n > 1 {
			page.WriteByte(',')
		}
		size, err := appendItem(page, enc, t)
		if err != nil {
			return err
		}
		pg.sized(taskWeight(size, t))
		if page.Len() > h.listBuffer {
			spills = true
			page.Reset()
		}
	}
	if more {
		w.Header().Set("Link", nextLink(r, f, last, limit))
	}
	if !spills {
		page.WriteString("]\n")
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		dw := h.newDeadlineWriter(w)
		if _, err := dw.Write(page.Bytes()); err != nil {
			return h.streamCut(ctx, err)
		}
		return nil
	}
	return h.streamTaskList(w, r, p, f, first, last, n)
}

// streamTaskList writes the n tasks from first down to last, as the
// second pass of writeTaskList.
func (h *Handler) streamTaskList(w http.ResponseWriter, r *http.Request, p *principal, f state.TaskFilter, first, last uint64, n int) error {
	ctx := r.Context()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	dw := h.newDeadlineWriter(w)
	defer dw.renew()
	bw := bufio.NewWriterSize(dw, 32<<10)
	var item bytes.Buffer
	enc := newItemEncoder(&item)
	pg := newTaskPager(h.store, f, p, first+1, n)
	bw.WriteByte('[')
	for written := 0; written < n; {
		t, err := pg.next(ctx)
		if err != nil {
			return h.streamCut(ctx, err)
		}
		if t == nil || t.ID < last {
			break
		}
		item.Reset()
		size, err := appendItem(&item, enc, t)
		if err != nil {
			return h.streamCut(ctx, err)
		}
		pg.sized(taskWeight(size, t))
		if written > 0 {
			bw.WriteByte(',')
		}
		if _, err := bw.Write(item.Bytes()); err != nil {
			return h.streamCut(ctx, err)
		}
		written++
	}
	bw.WriteString("]\n")
	if err := bw.Flush(); err != nil {
		return h.streamCut(ctx, err)
	}
	return nil
}
