package server

import (
	"bufio"
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// textContentType is the Prometheus text exposition format, version 0.0.4:
// what every Prometheus, Grafana Agent, VictoriaMetrics and promtool reads.
const textContentType = "text/plain; version=0.0.4; charset=utf-8"

// metricsHandler serves g in the text exposition format, gzipped when the
// scraper accepts it (Prometheus always does).
//
// It stands in for promhttp.HandlerFor, which also negotiates OpenMetrics
// and the protobuf format: neither adds a series the daemon exports (it
// has no exemplars or native histograms), and their encoders cost the
// binary about 0.3 MB, which is idle RSS (see the README's performance
// section). Like promhttp's default, an error from a collector is answered
// with 500 rather than with a partial scrape that would look like vanished
// series.
func metricsHandler(g prometheus.Gatherer, log *slog.Logger) http.Handler {
	var pool sync.Pool // *gzip.Writer
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mfs, err := g.Gather()
		if err != nil {
			log.Error("metrics: gather", "err", err)
			http.Error(w, "gathering metrics: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", textContentType)
		var out io.Writer = w
		if acceptsGzip(r) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Add("Vary", "Accept-Encoding")
			gz, _ := pool.Get().(*gzip.Writer)
			if gz == nil {
				gz, _ = gzip.NewWriterLevel(w, gzip.BestSpeed)
			} else {
				gz.Reset(w)
			}
			defer func() {
				gz.Close()
				pool.Put(gz)
			}()
			out = gz
		}
		bw := bufio.NewWriterSize(out, 32<<10)
		for _, mf := range mfs {
			if _, err := expfmt.MetricFamilyToText(bw, mf); err != nil {
				// The scraper went away; nothing more can be said to it.
				return
			}
		}
		bw.Flush()
	})
}

// acceptsGzip reports whether r's Accept-Encoding lists gzip without q=0.
func acceptsGzip(r *http.Request) bool {
	for _, h := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(h, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q := 1.0
			if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
				q, _ = strconv.ParseFloat(v, 64)
			}
			return q > 0
		}
	}
	return false
}
