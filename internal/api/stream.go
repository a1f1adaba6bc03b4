package api

import (
	"net/http"
	"time"
)

// deadlineWriter writes a streamed answer to w, renewing the connection's
// write deadline before every write and flush: a caller that stops
// reading is dropped once one write has waited longer than timeout, while
// a caller that keeps reading is never cut, however long the answer
// lasts. Deadlines are not supported by every ResponseWriter (a test
// recorder); writing works the same without them.
type deadlineWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (h *Handler) newDeadlineWriter(w http.ResponseWriter) *deadlineWriter {
	return &deadlineWriter{w: w, rc: http.NewResponseController(w), timeout: h.writeTimeout}
}

// renew moves the write deadline timeout from now. Call it before the
// handler returns too, so that what net/http writes after (the end of a
// chunked body) gets a fresh deadline instead of one that passed while the
// stream was idle.
func (d *deadlineWriter) renew() {
	_ = d.rc.SetWriteDeadline(time.Now().Add(d.timeout))
}

// Write implements io.Writer.
func (d *deadlineWriter) Write(p []byte) (int, error) {
	d.renew()
	return d.w.Write(p)
}

// Flush sends what the response buffered to the caller.
func (d *deadlineWriter) Flush() error {
	d.renew()
	return d.rc.Flush()
}
