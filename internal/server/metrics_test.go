package server

import (
	"compress/gzip"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestMetricsHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "semaphored_test_total", Help: "A test counter."}, []string{"kind"})
	reg.MustRegister(c)
	c.WithLabelValues("a").Add(2)
	c.WithLabelValues("b").Inc()
	const want = `# HELP semaphored_test_total A test counter.
# TYPE semaphored_test_total counter
semaphored_test_total{kind="a"} 2
semaphored_test_total{kind="b"} 1
`
	h := metricsHandler(reg, slog.New(slog.DiscardHandler))

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
		if ct := w.Header().Get("Content-Type"); ct != textContentType {
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

func TestMetricsHandlerGatherError(t *testing.T) {
	g := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return nil, errors.New("collector exploded") })
	w := httptest.NewRecorder()
	metricsHandler(g, slog.New(slog.DiscardHandler)).ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "collector exploded") {
		t.Errorf("got %d %q, want 500 naming the error", w.Code, w.Body)
	}
}
