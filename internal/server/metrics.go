package server

import (
	"bytes"
	"compress/gzip"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/semaphored/semaphored/internal/prom"
)

// MetricsHandler serves reg in the text exposition format, gzipped when
// the scraper accepts it (Prometheus always does). The answer is rendered
// whole before it is sent, so a failing collector is a 500, never a
// partial scrape that would look like vanished series.
func MetricsHandler(reg *prom.Registry, log *slog.Logger) http.Handler {
	var bufs sync.Pool // *bytes.Buffer, reused between scrapes
	var gzips sync.Pool
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf, _ := bufs.Get().(*bytes.Buffer)
		if buf == nil {
			buf = new(bytes.Buffer)
		}
		defer func() {
			buf.Reset()
			bufs.Put(buf)
		}()
		if err := reg.WriteText(buf); err != nil {
			log.Error("metrics", "err", err)
			http.Error(w, "gathering metrics: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", prom.TextContentType)
		w.Header().Add("Vary", "Accept-Encoding")
		if !acceptsGzip(r) {
			w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
			w.Write(buf.Bytes())
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		gz, _ := gzips.Get().(*gzip.Writer)
		if gz == nil {
			gz, _ = gzip.NewWriterLevel(w, gzip.BestSpeed)
		} else {
			gz.Reset(w)
		}
		gz.Write(buf.Bytes())
		gz.Close()
		gzips.Put(gz)
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
