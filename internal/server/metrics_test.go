package server

import (
	"compress/gzip"
	"github.com/semaphored/semaphored/internal/prom"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestMetricsHandler(t *testing.T) {
	reg := prom.NewRegistry()
	c := prom.NewCounterVec(prom.CounterOpts{Name: "semaphored_test_total", Help: "A test counter."}, []string{"kind"})
	reg.MustRegister(c)
	c.WithLabelValues("a").Add(2)
	c.WithLabelValues("b").Inc()
	const want = `# HELP semaphored_test_total A test counter.
# TYPE semaphored_test_total counter
semaphored_test_total{kind="a"} 2
semaphored_test_total{kind="b"} 1
`
	h := MetricsHandler(reg, slog.New(slog.DiscardHandler))

	for _, tc := range []struct {
		acceptEncoding string
		gzipped        bool
	}{
		{"", false},
		{"gzip", true},
		{"deflate, gzip;q=0.5", true},
		{"GZIP", true},
		{"gzip;q=0", false},
		{"gzip; q=0.0, identity", false},
		{"br", false},
	} {
		r := httptest.NewRequest("GET", "/metrics", nil)
		if tc.acceptEncoding != "" {
			r.Header.Set("Accept-Encoding", tc.acceptEncoding)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			t.Fatalf("Accept-Encoding %q: code %d", tc.acceptEncoding, w.Code)
		}
		if ct := w.Header().Get("Content-Type"); ct != prom.TextContentType {
			t.Errorf("Content-Type %q", ct)
		}
		body := io.Reader(w.Body)
		if got := w.Header().Get("Content-Encoding") == "gzip"; got != tc.gzipped {
			t.Fatalf("Accept-Encoding %q: gzipped %v, want %v", tc.acceptEncoding, got, tc.gzipped)
		}
		if tc.gzipped {
			zr, err := gzip.NewReader(w.Body)
			if err != nil {
				t.Fatal(err)
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != want {
			t.Errorf("Accept-Encoding %q: body\n%s\nwant\n%s", tc.acceptEncoding, b, want)
		}
		// What Prometheus itself parses.
		p := expfmt.NewTextParser(model.LegacyValidation)
		if _, err := p.TextToMetricFamilies(strings.NewReader(string(b))); err != nil {
			t.Errorf("the text parser refuses the answer: %v", err)
		}
	}
}

func TestMetricsHandlerCollectError(t *testing.T) {
	reg := prom.NewRegistry()
	reg.MustRegister(twice{"a_total"}, twice{"b_total"})
	w := httptest.NewRecorder()
	MetricsHandler(reg, slog.New(slog.DiscardHandler)).ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "collected twice") {
		t.Errorf("got %d %q, want 500 naming the error", w.Code, w.Body)
	}
}

// twice describes one family and collects another's too: a broken
// collector.
type twice struct{ name string }

func (c twice) Describe() []string { return []string{c.name} }
func (c twice) Collect(fs []prom.Family) []prom.Family {
	return append(fs, prom.Family{Name: "dup_total", Type: prom.TypeCounter, Series: []prom.Series{{}}})
}
