package server

import (
	"encoding/json"
	"net/http"
)

// jsonErrors serves mux, answering the requests no pattern matches with
// a JSON error like the API's ({"error": "..."}): 404, or 405 with Allow
// when the path exists for other methods, also under the prefixes other
// packages mount (/api/v1/ before the API is built). A request that
// announced a body is answered at once and its connection closed (see
// closeUnread).
type jsonErrors struct {
	mux *http.ServeMux
}

func (j jsonErrors) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	inner, pattern := j.mux.Handler(r)
	if pattern != "" {
		j.mux.ServeHTTP(w, r)
		return
	}
	// The mux's own handler decides between 404 and 405 (a redirect has
	// a pattern); only its status and Allow header are kept.
	c := &captureWriter{header: http.Header{}}
	inner.ServeHTTP(c, r)
	code := http.StatusNotFound
	msg := "no such path"
	if c.status == http.StatusMethodNotAllowed {
		code = c.status
		msg = "method " + r.Method + " not allowed here"
		w.Header().Set("Allow", c.header.Get("Allow"))
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
	}{msg})
}

// captureWriter takes what the mux's fallback handlers write, keeping
// only the status and the headers.
type captureWriter struct {
	header http.Header
	status int
}

func (c *captureWriter) Header() http.Header         { return c.header }
func (c *captureWriter) Write(b []byte) (int, error) { return len(b), nil }
func (c *captureWriter) WriteHeader(code int) {
	if c.status == 0 {
		c.status = code
	}
}
