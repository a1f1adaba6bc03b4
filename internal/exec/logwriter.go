package exec

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/semaphored/semaphored/internal/state"
)

// Log pipeline limits: a batch is stored when it holds flushLines lines or
// flushBytes bytes, or flushDelay after its first line; bufLines lines may
// wait in the buffer before WriteLine blocks.
const (
	flushLines = 1000
	flushBytes = 256 << 10
	flushDelay = 50 * time.Millisecond
	bufLines   = 4096
)

type logItem struct {
	line   state.LogLine
	engine bool // engine-side lines are stored even past the cap
}

// logWriter is the runner.Sink of one task. WriteLine hands lines to a
// writer goroutine through a bounded channel (it blocks when the channel
// is full: back-pressure on the process, nothing dropped); the goroutine
// stores them in batches with state.AppendLog. Close stores what is
// pending and the truncation marker, and returns the first write error.
// WriteLine and engineLine are called by one goroutine at a time (the
// runner during the run, the task goroutine before and after it).
type logWriter struct {
	e        *Engine
	id       uint64
	maxBytes int64
	ch       chan logItem
	done     chan struct{}

	mu  sync.Mutex
	err error
}

func (e *Engine) newLogWriter(id uint64, maxBytes int64) *logWriter {
	w := &logWriter{e: e, id: id, maxBytes: maxBytes, ch: make(chan logItem, bufLines), done: make(chan struct{})}
	go w.loop()
	return w
}

// WriteLine queues one line; it blocks while the buffer is full and fails
// once a store write failed.
func (w *logWriter) WriteLine(t time.Time, line string) error {
	if err := w.failed(); err != nil {
		return err
	}
	w.ch <- logItem{line: state.LogLine{Time: t, Text: line}}
	return nil
}

// engineLine queues a line written by the engine itself.
func (w *logWriter) engineLine(text string) {
	w.ch <- logItem{line: state.LogLine{Time: w.e.now(), Text: text}, engine: true}
}

// Close stores everything queued and returns the first store error.
func (w *logWriter) Close() error {
	close(w.ch)
	<-w.done
	return w.failed()
}

func (w *logWriter) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *logWriter) loop() {
	defer close(w.done)
	var (
		batch      []state.LogLine
		batchBytes int
		stored     int64 // bytes kept under the cap
		over       int64 // bytes dropped past the cap
		timer      = time.NewTimer(time.Hour)
	)
	timer.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if w.failed() == nil {
			if err := w.e.store.AppendLog(context.Background(), w.id, batch); err != nil {
				w.e.met.logWriteErrors.Inc()
				w.mu.Lock()
				w.err = fmt.Errorf("append %d lines to the log of task %d: %w", len(batch), w.id, err)
				w.mu.Unlock()
			} else {
				w.e.met.logLines.Add(float64(len(batch)))
				w.e.notify(w.id)
			}
		}
		batch, batchBytes = nil, 0
		timer.Stop()
	}
	add := func(it logItem) {
		n := int64(len(it.line.Text))
		if !it.engine {
			if over > 0 || stored+n > w.maxBytes {
				over += n
				return
			}
			stored += n
		}
		if len(batch) == 0 {
			timer.Reset(flushDelay)
		}
		batch = append(batch, it.line)
		batchBytes += len(it.line.Text)
		if len(batch) >= flushLines || batchBytes >= flushBytes {
			flush()
		}
	}
	for {
		select {
		case it, ok := <-w.ch:
			if !ok {
				if over > 0 {
					add(logItem{engine: true, line: state.LogLine{Time: w.e.now(), Text: fmt.Sprintf(
						"*** log truncated: %d bytes over the max_log_bytes limit (%d) ***", over, w.maxBytes)}})
				}
				flush()
				return
			}
			add(it)
		case <-timer.C:
			flush()
		}
	}
}

// waiter is the notification of one task's followers: ch is closed (and
// replaced) after each stored batch or status change.
type waiter struct {
	ch   chan struct{}
	refs int
}

// watch returns the channel closed at the next change of task id, and a
// release func to call when the follower is done.
func (e *Engine) watch(id uint64) (<-chan struct{}, func()) {
	e.wmu.Lock()
	defer e.wmu.Unlock()
	w := e.waiters[id]
	if w == nil {
		w = &waiter{ch: make(chan struct{})}
		e.waiters[id] = w
	}
	w.refs++
	return w.ch, func() {
		e.wmu.Lock()
		defer e.wmu.Unlock()
		if w.refs--; w.refs == 0 && e.waiters[id] == w {
			delete(e.waiters, id)
		}
	}
}

// notify wakes the followers of task id.
func (e *Engine) notify(id uint64) {
	e.wmu.Lock()
	defer e.wmu.Unlock()
	if w := e.waiters[id]; w != nil {
		close(w.ch)
		w.ch = make(chan struct{})
	}
}

// followPage is how many lines FollowLog reads per store call.
const followPage = 1000

// FollowLog calls fn with the task's lines from line from on, as they are
// stored, until the task is terminal and every line was passed, or ctx
// ends. It works for tasks that ended long ago (it just reads) and for
// tasks that have not started (it waits). It never polls: it sleeps on a
// notification the log writer and every status change trigger.
func (e *Engine) FollowLog(ctx context.Context, id uint64, from uint64, fn func([]state.LogLine) error) error {
	if from == 0 {
		from = 1
	}
	for {
		ch, release := e.watch(id)
		t, err := e.store.Task(ctx, id)
		if err != nil {
			release()
			return fmt.Errorf("follow log of task %d: %w", id, err)
		}
		// Every line is stored before the status turns terminal, so
		// reading after seeing a terminal status reads the whole log.
		for {
			lines, err := e.store.ReadLog(ctx, id, from, followPage)
			if err != nil {
				release()
				return fmt.Errorf("follow log of task %d: %w", id, err)
			}
			if len(lines) == 0 {
				break
			}
			if err := fn(lines); err != nil {
				release()
				return err
			}
			from = lines[len(lines)-1].N + 1
			if len(lines) < followPage {
				break
			}
		}
		if t.Status.Terminal() {
			release()
			return nil
		}
		var err2 error
		select {
		case <-ch:
		case <-ctx.Done():
			err2 = ctx.Err()
		}
		release()
		if err2 != nil {
			return err2
		}
	}
}
