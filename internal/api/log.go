package api

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

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
	bw := bufio.NewWriterSize(w, 32<<10)
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
				return nil // the caller left
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

	rc := http.NewResponseController(w)
	// A followed log lasts as long as the task: no server write timeout.
	_ = rc.SetWriteDeadline(time.Time{})
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return nil
	}
	err = h.engine.FollowLog(ctx, t.ID, from, func(lines []state.LogLine) error {
		if err := write(lines); err != nil {
			return err
		}
		return rc.Flush()
	})
	switch {
	case err != nil && ctx.Err() == nil:
		h.log.ErrorContext(ctx, "follow log", "task", t.ID, "err", err)
		panic(http.ErrAbortHandler) // see streamError
	case h.streams.Err() != nil && r.Context().Err() == nil:
		panic(http.ErrAbortHandler) // shutting down: not the end of the task
	}
	return nil
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
