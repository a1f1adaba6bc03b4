package exec

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/semaphored/semaphored/internal/state"
)

// Log pipeline limits. Lines wait in a pending batch; the writer
// goroutine stores everything pending in one AppendLog as soon as it is
// free and the batch holds flushLines lines or flushBytes bytes, or
// flushDelay after its first line (so slow output is grouped, not stored
// line by line). WriteLine blocks only while maxPending bytes (text plus
// lineOverhead per line) are pending.
const (
	flushLines   = 1000
	flushBytes   = 256 << 10
	flushDelay   = 50 * time.Millisecond
	maxPending   = 1 << 20
	lineOverhead = 48 // a state.LogLine without its text
)

// logWriter is the runner.Sink of one task. WriteLine appends lines to a
// pending batch bounded by bytes (it blocks when the bound is reached:
// back-pressure on the process, nothing dropped, memory bounded); a
// writer goroutine takes everything pending at once whenever it is free
// and stores it with one state.AppendLog, so batches grow under load and
// storing never stalls the producer while there is room. Close stores
// what is pending and the truncation marker, and returns the first write
// error. WriteLine and engineLine are called by one goroutine at a time
// (the runner during the run, the task goroutine before and after it).
type logWriter struct {
	e        *Engine
	id       uint64
	maxBytes int64
	wake     chan struct{} // kicks the writer goroutine (buffered 1)
	done     chan struct{} // closed when the writer goroutine ended

	mu           sync.Mutex
	space        *sync.Cond // signalled when the writer took the pending batch
	pending      []state.LogLine
	pendingBytes int
	spare        []state.LogLine // the last stored batch, reused
	firstAt      time.Time       // when the first pending line came
	kickedFull   bool            // the writer was told the batch is full
	stored       int64           // bytes kept under the cap
	over         int64           // bytes dropped past the cap
	closed       bool
	err          error
}

func (e *Engine) newLogWriter(id uint64, maxBytes int64) *logWriter {
	w := &logWriter{e: e, id: id, maxBytes: maxBytes, wake: make(chan struct{}, 1), done: make(chan struct{})}
	w.space = sync.NewCond(&w.mu)
	go w.loop()
	return w
}

// WriteLine queues one line; it blocks while the pending batch is full
// and fails once a store write failed.
func (w *logWriter) WriteLine(t time.Time, line string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	n := int64(len(line))
	if w.over > 0 || w.stored+n > w.maxBytes {
		w.over += n
		return nil
	}
	w.stored += n
	w.add(state.LogLine{Time: t, Text: line})
	return w.err
}

// engineLine queues a line written by the engine itself; it is stored
// even past the cap.
func (w *logWriter) engineLine(text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.add(state.LogLine{Time: w.e.now(), Text: text})
}

// add appends l to the pending batch once there is room; w.mu is held.
func (w *logWriter) add(l state.LogLine) {
	for w.pendingBytes >= maxPending && w.err == nil {
		w.space.Wait()
	}
	if len(w.pending) == 0 {
		if w.pending == nil {
			w.pending, w.spare = w.spare, nil
		}
		w.firstAt = time.Now()
		w.kick()
	}
	w.pending = append(w.pending, l)
	w.pendingBytes += len(l.Text) + lineOverhead
	if !w.kickedFull && (len(w.pending) >= flushLines || w.pendingBytes >= flushBytes) {
		w.kickedFull = true
		w.kick()
	}
}

// kick wakes the writer goroutine without blocking.
func (w *logWriter) kick() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Close stores everything queued and returns the first store error.
func (w *logWriter) Close() error {
	w.mu.Lock()
	if w.over > 0 {
		w.add(state.LogLine{Time: w.e.now(), Text: fmt.Sprintf(
			"*** log truncated: %d bytes over the max_log_bytes limit (%d) ***", w.over, w.maxBytes)})
	}
	w.closed = true
	w.mu.Unlock()
	w.kick()
	<-w.done
	return w.failed()
}

func (w *logWriter) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// loop is the writer goroutine: it takes the whole pending batch when it
// is full, flushDelay after its first line, or at Close, and stores it.
// It ends once Close was called and everything was taken.
func (w *logWriter) loop() {
	defer close(w.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		w.mu.Lock()
		for len(w.pending) == 0 && !w.closed {
			w.mu.Unlock()
			<-w.wake
			w.mu.Lock()
		}
		if !w.closed && !w.kickedFull {
			if wait := flushDelay - time.Since(w.firstAt); wait > 0 {
				w.mu.Unlock()
				timer.Reset(wait)
				select {
				case <-w.wake:
				case <-timer.C:
				}
				timer.Stop()
				continue
			}
		}
		batch, closed, failed := w.pending, w.closed, w.err != nil
		w.pending, w.pendingBytes, w.kickedFull = nil, 0, false
		w.space.Broadcast()
		w.mu.Unlock()

		if len(batch) > 0 && !failed {
			w.store(batch)
		}
		clear(batch) // drop the strings; the slice is reused
		w.mu.Lock()
		w.spare = batch[:0]
		w.mu.Unlock()
		if closed {
			return
		}
	}
}

// store writes one batch; a failure is kept for WriteLine and Close, and
// wakes a producer waiting for room (later lines are dropped).
func (w *logWriter) store(batch []state.LogLine) {
	if err := w.e.store.AppendLog(context.Background(), w.id, batch); err != nil {
		w.e.met.logWriteErrors.Inc()
		w.mu.Lock()
		w.err = fmt.Errorf("append %d lines to the log of task %d: %w", len(batch), w.id, err)
		w.space.Broadcast()
		w.mu.Unlock()
		return
	}
	w.e.met.logLines.Add(float64(len(batch)))
	w.e.follow.Notify(w.id)
}
