package server

import (
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// closeUnread serves h so that an answer sent before the request's body
// was read whole is sent at once and ends the connection (Connection:
// close, and the read deadline moved to now). Without it net/http reads
// what is left of the body (up to 256 KiB) before it sends the answer, so
// a caller that announces a body and never sends it gets no answer and
// holds the connection until the read timeout, whatever the handler
// decided (a refused token, an unknown path, a body too large).
func closeUnread(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
			h.ServeHTTP(w, r)
			return
		}
		b := &readTracker{ReadCloser: r.Body, want: r.ContentLength}
		r.Body = b
		h.ServeHTTP(&unreadWriter{ResponseWriter: w, body: b}, r)
	})
}

// readTracker tells whether a body was read whole: EOF seen, or as many
// bytes as its Content-Length.
type readTracker struct {
	io.ReadCloser
	want int64 // -1: unknown (chunked)
	read atomic.Int64
	eof  atomic.Bool
}

func (b *readTracker) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.read.Add(int64(n))
	if err == io.EOF {
		b.eof.Store(true)
	}
	return n, err
}

func (b *readTracker) whole() bool {
	return b.eof.Load() || (b.want > 0 && b.read.Load() >= b.want)
}

// unreadWriter applies closeUnread's rule when the answer starts.
type unreadWriter struct {
	http.ResponseWriter
	body    *readTracker
	started bool
}

func (u *unreadWriter) start() {
	if u.started {
		return
	}
	u.started = true
	if !u.body.whole() {
		u.Header().Set("Connection", "close")
		_ = http.NewResponseController(u.ResponseWriter).SetReadDeadline(time.Now())
	}
}

func (u *unreadWriter) WriteHeader(code int) {
	if code >= 200 { // not for 1xx informational answers
		u.start()
	}
	u.ResponseWriter.WriteHeader(code)
}

func (u *unreadWriter) Write(p []byte) (int, error) {
	u.start()
	return u.ResponseWriter.Write(p)
}

// Flush starts the answer as Write does, then flushes it.
func (u *unreadWriter) Flush() {
	u.start()
	_ = http.NewResponseController(u.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController the underlying writer.
func (u *unreadWriter) Unwrap() http.ResponseWriter { return u.ResponseWriter }
