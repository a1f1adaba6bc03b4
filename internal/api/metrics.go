package api

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the API's request counters and durations, labelled by the
// route pattern (bounded: one value per registered pattern, plus
// "unmatched") and the status code.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// streamsDropped counts streamed answers cut because the caller stopped
	// reading for longer than the stream write timeout.
	streamsDropped prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "semaphored_http_requests_total",
			Help: "API requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "semaphored_http_request_duration_seconds",
			Help:    "Time to answer an API request (a followed log: until it ends), by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30, 300},
		}, []string{"route"}),
		streamsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "semaphored_http_streams_dropped_total",
			Help: "Streamed answers (logs, follows, lists) cut because the caller stopped reading for longer than the write timeout.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.requests, m.duration, m.streamsDropped} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *metrics) observe(route, code string, d time.Duration) {
	m.requests.WithLabelValues(route, code).Inc()
	m.duration.WithLabelValues(route).Observe(d.Seconds())
}
