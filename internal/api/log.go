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
	ctx := r.Context()
	t, err := h.visibleTask(ctx, r, p)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var from uint64
	if v := q.Get("from"); v != "" {
		from, err = strconv.ParseUint(v, 10, 64)
		if err != nil {
			return errorf(http.StatusBadRequest, "bad from %q: want a line number", v)
		}
	}
	follow, err := boolParam(q.Get("follow"), "follow")
	if err != nil {
		return err
	}
	stamps, err := boolParam(q.Get("timestamps"), "timestamps")
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
	bw := bufio.NewWriterSize(dw, 32<<10)
	write := func(lines []state.LogLine) error {
		for _, l := range lines {
			if stamps {
				bw.WriteString(l.Time.UTC().Format(LogTimeFormat))
				bw.WriteByte(' ')
			}
			bw.WriteString(l.Text)
			if err := bw.WriteByte('\n'); err != nil {
				return err
			}
		}
		return bw.Flush()
	}

	if !follow {
		// Read in batches so a long log never sits whole in memory.
		for {
			lines, err := h.store.ReadLog(ctx, t.ID, from, logBatch)
			if err != nil {
				return h.streamError(w, r, bw, fmt.Errorf("read log of task %d: %w", t.ID, err))
			}
			if err := write(lines); err != nil {
				return h.streamCut(ctx, err)
			}
			if len(lines) < logBatch {
				break
			}
			from = lines[len(lines)-1].N + 1
		}
		if bw.Buffered() == 0 && !headerWritten(w) {
			w.WriteHeader(http.StatusOK)
		}
		return nil
	}

	// The follow ends when the caller leaves or the handler closes its
	// streams (shutdown).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(h.streams, cancel)
	defer stop()

	w.WriteHeader(http.StatusOK)
	if err := dw.Flush(); err != nil {
		return h.streamCut(ctx, err)
	}
	err = h.engine.FollowLog(ctx, t.ID, from, func(lines []state.LogLine) error {
		if err := write(lines); err != nil {
			return err
		}
		return dw.Flush()
	})
	switch {
	case h.streams.Err() != nil && r.Context().Err() == nil:
		panic(http.ErrAbortHandler) // shutting down: not the end of the task
	case err != nil:
		return h.streamCut(ctx, fmt.Errorf("follow log of task %d: %w", t.ID, err))
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
