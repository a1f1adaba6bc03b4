package web

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/semaphored/semaphored/internal/state"
)

// BenchmarkPage200kLines is the server's part of the first paint of a
// 200,000-line log: the whole task page (its 1,000-line tail, ANSI
// rendered) answered from a real BoltDB state.
func BenchmarkPage200kLines(b *testing.B) {
	r := newRig(b)
	tk := r.task(b, state.StatusSuccess, bigLog(200_000)...)
	url := r.link(tk.ID)
	req := httptest.NewRequest(http.MethodGet, url, nil)
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		r.h.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("got %d", w.Code)
		}
		b.SetBytes(int64(w.Body.Len()))
	}
}
