package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/semaphored/semaphored/internal/config"
	"github.com/semaphored/semaphored/internal/state"
)

// This file serves GET /api/v1/outbox: what the reporter still has to
// deliver, and what it gave up on (a forge's 4xx) with the forge's answer.

// OutboxReader reads the outbox (state.Store). The Store given in Options
// serves GET /api/v1/outbox when it implements it.
type OutboxReader interface {
	PendingOutbox(ctx context.Context) (int, error)
	FailedOutbox(ctx context.Context, limit int) ([]state.OutboxEntry, error)
}

// Outbox answers GET /api/v1/outbox.
type Outbox struct {
	// Pending counts the entries not delivered yet (due or backing off).
	Pending int `json:"pending"`
	// Failed are the entries given up on, newest first.
	Failed []FailedReport `json:"failed"`
}

// FailedReport is an outbox entry given up on. Its payload (the status or
// message, which names secret references) is left out.
type FailedReport struct {
	Seq      uint64           `json:"seq"`
	Kind     string           `json:"kind"`
	Target   string           `json:"target"`
	TaskID   uint64           `json:"task_id,omitempty"`
	Status   state.TaskStatus `json:"status,omitempty"`
	Created  time.Time        `json:"created"`
	Attempts int              `json:"attempts"`
	Error    string           `json:"error"`
}

// outboxScope is the scope GET /api/v1/outbox needs: targets name every
// project's repositories and channels.
const outboxScope = config.ScopeAdmin

// outbox answers the pending count and the newest failed entries
// (?limit=, default DefaultPageSize).
func (h *Handler) outbox(w http.ResponseWriter, r *http.Request, p *principal) error {
	if p.projects != nil {
		return errorf(http.StatusForbidden, "token %q is limited to some projects; the outbox holds every project's reports", p.name)
	}
	or, ok := h.store.(OutboxReader)
	if !ok {
		return errorf(http.StatusNotImplemented, "this daemon's store has no outbox")
	}
	limit := DefaultPageSize
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			return errorf(http.StatusBadRequest, "bad limit %q: want 1 to %d", v, MaxPageSize)
		}
		limit = n
	}
	pending, err := or.PendingOutbox(r.Context())
	if err != nil {
		return err
	}
	failed, err := or.FailedOutbox(r.Context(), limit)
	if err != nil {
		return err
	}
	out := Outbox{Pending: pending, Failed: make([]FailedReport, 0, len(failed))}
	for _, e := range failed {
		out.Failed = append(out.Failed, FailedReport{
			Seq: e.Seq, Kind: string(e.Kind), Target: e.Target, TaskID: e.TaskID, Status: e.Status,
			Created: e.Created, Attempts: e.Attempts, Error: e.LastError,
		})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
