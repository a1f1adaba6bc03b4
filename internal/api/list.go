package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/semaphored/semaphored/internal/state"
)

// Bounds of a task list answer. Whatever the page size and however large
// the stored tasks, one list request holds at most about listBufferBytes
// of answer plus one batch of tasks read from the store (sized to about
// listBatchBytes of JSON, down to a single task).
const (
	// listBufferBytes is how much of a page is encoded before the first
	// byte is sent. A page that fits is answered in one piece, with its
	// Link header known; a larger one is streamed after a counting pass.
	listBufferBytes = 512 << 10
	// listBatchBytes is the JSON size a batch of tasks read from the
	// store aims at.
	listBatchBytes = 256 << 10
	// listMaxBatch bounds the tasks read from the store at a time.
	listMaxBatch = 128
)

// listItem is what a task list answers for t.
func listItem(t state.Task) any { return t }

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
	done   bool // the store has no more

	// bytes and count measure the batch being consumed (see sized).
	bytes, count int
}

func newTaskPager(store TaskStore, f state.TaskFilter, p *principal, before uint64) *taskPager {
	return &taskPager{store: store, filter: f, p: p, cursor: before, size: 1}
}

// next returns the next visible task, or false at the end.
func (g *taskPager) next(ctx context.Context) (state.Task, bool, error) {
	for {
		if g.i < len(g.batch) {
			t := g.batch[g.i]
			g.batch[g.i] = state.Task{} // let the garbage collector have it
			g.i++
			if g.p.project(t.Project) {
				return t, true, nil
			}
			continue
		}
		if g.done {
			return state.Task{}, false, nil
		}
		g.resize()
		batch, err := g.store.Tasks(ctx, g.filter, g.cursor, g.size)
		if err != nil {
			return state.Task{}, false, fmt.Errorf("list tasks: %w", err)
		}
		g.batch, g.i = batch, 0
		if len(batch) < g.size {
			g.done = true
		}
		if len(batch) > 0 {
			g.cursor = batch[len(batch)-1].ID
		} else {
			g.done = true
		}
	}
}

// sized records the JSON size of a task next returned.
func (g *taskPager) sized(n int) {
	g.bytes += n
	g.count++
}

// resize picks the next batch size from the average size of the tasks
// seen since the last resize.
func (g *taskPager) resize() {
	if g.count == 0 {
		return
	}
	avg := max(g.bytes/g.count, 1)
	g.size = min(max(listBatchBytes/avg, 1), listMaxBatch)
	g.bytes, g.count = 0, 0
}

// itemEncoder encodes one list item at a time into a buffer it reuses,
// as json.Encoder does (HTML-safe escaping) without the newline.
type itemEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

func newItemEncoder() *itemEncoder {
	e := &itemEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	return e
}

func (e *itemEncoder) encode(t state.Task) ([]byte, error) {
	e.buf.Reset()
	if err := e.enc.Encode(listItem(t)); err != nil {
		return nil, fmt.Errorf("encode task %d: %w", t.ID, err)
	}
	return bytes.TrimSuffix(e.buf.Bytes(), []byte("\n")), nil
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
	enc := newItemEncoder()
	pg := newTaskPager(h.store, f, p, before)

	var (
		page         bytes.Buffer
		n            int
		first, last  uint64
		more, spills bool
	)
	page.WriteByte('[')
	for {
		t, ok, err := pg.next(ctx)
		if err != nil {
			return err
		}
		if !ok {
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
			continue // counting pass: nothing kept
		}
		b, err := enc.encode(t)
		if err != nil {
			return err
		}
		pg.sized(len(b))
		if n > 1 {
			page.WriteByte(',')
		}
		page.Write(b)
		if page.Len() > listBufferBytes {
			spills = true
			page = bytes.Buffer{}
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
	enc := newItemEncoder()
	pg := newTaskPager(h.store, f, p, first+1)
	bw.WriteByte('[')
	for written := 0; written < n; {
		t, ok, err := pg.next(ctx)
		if err != nil {
			return h.streamCut(ctx, err)
		}
		if !ok || t.ID < last {
			break
		}
		b, err := enc.encode(t)
		if err != nil {
			return h.streamCut(ctx, err)
		}
		pg.sized(len(b))
		if written > 0 {
			bw.WriteByte(',')
		}
		if _, err := bw.Write(b); err != nil {
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
