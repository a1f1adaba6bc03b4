package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/semaphored/semaphored/internal/exec"
	"github.com/semaphored/semaphored/internal/state"
)

// errorBody is the JSON body of every error answer.
type errorBody struct {
	Error string `json:"error"`
}

// httpError is an error with the status code and message to answer.
type httpError struct {
	status int
	msg    string
	err    error
}

func (e *httpError) Error() string { return e.msg }
func (e *httpError) Unwrap() error { return e.err }

// errorf returns an error answered with status and the formatted message.
func errorf(status int, format string, args ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

// statusOf maps an error to the status code and the message a caller sees.
// Errors it does not know become 500 with a generic message.
func statusOf(err error) (int, string) {
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.status, he.msg
	case errors.Is(err, state.ErrNotFound):
		return http.StatusNotFound, "no such task"
	case errors.Is(err, exec.ErrUnknownTemplate):
		return http.StatusNotFound, exec.ErrUnknownTemplate.Error()
	case errors.Is(err, exec.ErrBadRequest):
		// The engine wraps ErrBadRequest with the reason (a var that does
		// not parse, an override the template does not allow); the reason
		// is about the caller's own input.
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, exec.ErrNotStoppable), errors.Is(err, exec.ErrNotAwaitingApproval):
		return http.StatusConflict, err.Error()
	case errors.Is(err, exec.ErrClosed):
		// Shutdown began: the caller may retry against the next process.
		return http.StatusServiceUnavailable, exec.ErrClosed.Error()
	}
	return http.StatusInternalServerError, "internal error"
}

// writeError answers err as JSON. A 500 is logged with its cause; the
// caller only sees a generic message. Errors after the caller left are
// not answered. An error to a request that announced a body closes the
// connection (see closeAfterAnswer).
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
		return
	}
	closeAfterAnswer(w, r)
	status, msg := statusOf(err)
	if status == http.StatusInternalServerError {
		h.log.ErrorContext(r.Context(), "api request failed",
			"method", r.Method, "route", r.Pattern, "err", err)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="semaphored"`)
	}
	writeJSON(w, status, errorBody{Error: msg})
}

// closeAfterAnswer makes the answer to a request that announced a body
// the last of its connection, sent at once. Without it net/http reads
// what is left of the body before sending the answer (and again after
// it, to reuse the connection), so a caller that announces a body and
// never sends it would hold the connection with no answer until the read
// timeout. The read deadline in the past ends that reading at once.
func closeAfterAnswer(w http.ResponseWriter, r *http.Request) {
	if !hasBody(r) {
		return
	}
	w.Header().Set("Connection", "close")
	_ = http.NewResponseController(w).SetReadDeadline(time.Now())
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	// An encoding error here means the connection is gone; nothing to do.
	_ = json.NewEncoder(w).Encode(v)
}
