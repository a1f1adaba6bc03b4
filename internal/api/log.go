package api

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"

	"github.com/semaphored/semaphored/internal/state"
)

// LogTimeFormat is the RFC 3339 layout of ?timestamps=1 line prefixes:
// UTC, milliseconds, fixed width.
const LogTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// taskLog answers a task's log as text, one stored line per line. With
// ?follow=1 it streams, flushing after each batch, until the task ends or
// the caller leaves; ?from=N starts at line N; ?timestamps=1 prefixes each
// line with its time.
func (h *Handler) taskLog(w http.ResponseWriter, r *http.Request, p *principal) error {
	t, err := h.visibleTask(r.Context(), r, p)
	if err != nil {
		return err
	}
	q, err := parseLogQuery(r)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	// Every write renews the write deadline (see deadlineWriter): a log of
	// any length, or a follow of any duration, goes on while the caller
	// reads, and a caller that stops reading is dropped.
	dw := h.newDeadlineWriter(w)
	defer dw.renew()
	lw := &logLines{w: bufio.NewWriterSize(dw, 32<<10), stamps: q.stamps}
	if q.follow {
		return h.followLog(w, r, t.ID, q.from, lw, dw)
	}
	return h.readLog(w, r, t.ID, q.from, lw)
}

// logQuery is what a log request asks for.
type logQuery struct {
	from           uint64
	follow, stamps bool
}

// parseLogQuery reads ?from, ?follow and ?timestamps.
func parseLogQuery(r *http.Request) (logQuery, error) {
	var (
		q   logQuery
		err error
	)
	v := r.URL.Query()
	if f := v.Get("from"); f != "" {
		if q.from, err = strconv.ParseUint(f, 10, 64); err != nil {
			return q, errorf(http.StatusBadRequest, "bad from %q: want a line number", f)
		}
	}
	if q.follow, err = boolParam(v.Get("follow"), "follow"); err != nil {
		return q, err
	}
	if q.stamps, err = boolParam(v.Get("timestamps"), "timestamps"); err != nil {
		return q, err
	}
	return q, nil
}

// logLines writes log lines as text, each with its time when stamps.
type logLines struct {
	w      *bufio.Writer
	stamps bool
}

// write writes lines and flushes them to the response.
func (l *logLines) write(lines []state.LogLine) error {
	for _, line := range lines {
		if l.stamps {
			l.w.WriteString(line.Time.UTC().Format(LogTimeFormat))
			l.w.WriteByte(' ')
		}
		l.w.WriteString(line.Text)
		if err := l.w.WriteByte('\n'); err != nil {
			return err
		}
	}
	return l.w.Flush()
}

// readLog answers the stored lines from line from on, read in batches so
// a long log never sits whole in memory.
func (h *Handler) readLog(w http.ResponseWriter, r *http.Request, id, from uint64, lw *logLines) error {
	ctx := r.Context()
	for {
		lines, err := h.store.ReadLog(ctx, id, from, logBatch)
		if err != nil {
			return h.streamError(w, r, lw.w, fmt.Errorf("read log of task %d: %w", id, err))
		}
		if err := lw.write(lines); err != nil {
			return h.streamCut(ctx, err)
		}
		if len(lines) < logBatch {
			break
		}
		from = lines[len(lines)-1].N + 1
	}
	if lw.w.Buffered() == 0 && !headerWritten(w) {
		w.WriteHeader(http.StatusOK)
	}
	return nil
}

// followLog streams the lines from line from on as they are stored, until
// the task ends, the caller leaves or the handler closes its streams
// (shutdown: the stream is broken, not ended, so a client does not take
// it for the end of the task).
func (h *Handler) followLog(w http.ResponseWriter, r *http.Request, id, from uint64, lw *logLines, dw *deadlineWriter) error {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(h.streams, cancel)
	defer stop()

	w.WriteHeader(http.StatusOK)
	if err := dw.Flush(); err != nil {
		return h.streamCut(ctx, err)
	}
	send := func(lines []state.LogLine) error {
		if err := lw.write(lines); err != nil {
			return err
		}
		from = lines[len(lines)-1].N + 1
		return dw.Flush()
	}
	err := h.engine.FollowLog(ctx, id, from, send)
	if err != nil && h.streams.Err() != nil && r.Context().Err() == nil {
		// Shutdown closes the streams once running tasks ended: a task
		// that ended just now still gets its last lines and a clean end.
		if t, terr := h.store.Task(r.Context(), id); terr == nil && t.Status.Terminal() {
			err = h.engine.FollowLog(r.Context(), id, from, send)
		}
	}
	switch {
	case err == nil:
		// The task ended and every line was sent.
	case h.streams.Err() != nil && r.Context().Err() == nil && !errors.Is(err, os.ErrDeadlineExceeded):
		panic(http.ErrAbortHandler) // shutting down: not the end of the task
	default:
		return h.streamCut(ctx, fmt.Errorf("follow log of task %d: %w", id, err))
	}
	return nil
}

// streamCut ends a stream that could not go on: the caller left, stopped
// reading for longer than the write timeout (the write failed on its
// deadline), or the source failed. The response is aborted, so the caller
// sees a broken chunked body rather than an answer that looks complete.
func (h *Handler) streamCut(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		// Checked first: net/http cancels the request's context on a
		// failed write too.
		h.metrics.streamsDropped.Inc()
		h.log.WarnContext(context.WithoutCancel(ctx), "stream dropped: the caller stopped reading", "err", err)
	case ctx.Err() != nil:
		// The caller left or the server shuts down.
	default:
		h.log.ErrorContext(ctx, "stream cut", "err", err)
	}
	panic(http.ErrAbortHandler)
}

// streamError answers err when nothing was sent yet; otherwise the stream
// is cut short (the client sees a truncated chunked body) and err logged.
func (h *Handler) streamError(w http.ResponseWriter, r *http.Request, bw *bufio.Writer, err error) error {
	if !headerWritten(w) && bw.Buffered() == 0 {
		return err
	}
	if !errors.Is(err, context.Canceled) {
		h.log.ErrorContext(r.Context(), "read log", "err", err)
	}
	// net/http's documented way to abort a response: the client sees a
	// broken chunked body rather than a log that looks complete.
	panic(http.ErrAbortHandler)
}

// headerWritten reports whether w already sent its status.
func headerWritten(w http.ResponseWriter) bool {
	if sw, ok := w.(*statusWriter); ok {
		return sw.status != 0
	}
	return false
}

// boolParam parses a query flag: "", "0", "false" are false; "1", "true" true.
func boolParam(v, name string) (bool, error) {
	switch v {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	}
	return false, errorf(http.StatusBadRequest, "bad %s %q: want 1 or 0", name, v)
}
