package api

import (
	"time"

	"github.com/semaphored/semaphored/internal/prom"
)

// metrics are the API's request counters and durations, labelled by the
// route pattern (bounded: one value per registered pattern, plus
// "unmatched") and the status code.
type metrics struct {
	requests *prom.CounterVec
	duration *prom.HistogramVec
	// streamsDropped counts streamed answers cut because the caller stopped
	// reading for longer than the stream write timeout.
	streamsDropped *prom.Counter
}

func newMetrics(reg prom.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prom.NewCounterVec(prom.CounterOpts{
			Name: "semaphored_http_requests_total",
			Help: "API requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prom.NewHistogramVec(prom.HistogramOpts{
			Name:    "semaphored_http_request_duration_seconds",
			Help:    "Time to answer an API request (a followed log: until it ends), by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 5, 30, 300},
		}, []string{"route"}),
		streamsDropped: prom.NewCounter(prom.CounterOpts{
			Name: "semaphored_http_streams_dropped_total",
			Help: "Streamed answers (logs, follows, lists) cut because the caller stopped reading for longer than the write timeout.",
		}),
	}
	if reg != nil {
		for _, c := range []prom.Collector{m.requests, m.duration, m.streamsDropped} {
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
