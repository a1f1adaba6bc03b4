package web

import (
	"errors"
	"strconv"

	"github.com/semaphored/semaphored/internal/prom"
)

// metrics counts task page requests by route (page, log, events), how the
// caller proved access (token, link, none) and the HTTP code.
type metrics struct {
	requests *prom.CounterVec
	streams  *prom.Gauge
}

var (
	routes = []string{"page", "log", "events"}
	auths  = []string{"token", "link", "none"}
	codes  = []int{200, 400, 401, 403, 404, 500}
)

func newMetrics(reg prom.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prom.NewCounterVec(prom.CounterOpts{
			Name: "semaphored_task_page_requests_total",
			Help: "Requests of task pages, their earlier log lines and live events, by route, credential and HTTP code.",
		}, []string{"route", "auth", "code"}),
		streams: prom.NewGauge(prom.GaugeOpts{
			Name: "semaphored_task_page_streams",
			Help: "Task pages following a running task's log (open Server-Sent Events streams).",
		}),
	}
	for _, r := range routes {
		for _, a := range auths {
			for _, c := range codes {
				m.requests.WithLabelValues(r, a, strconv.Itoa(c))
			}
		}
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prom.Collector{m.requests, m.streams} {
		if err := reg.Register(c); err != nil {
			var are prom.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *metrics) count(route, auth string, code int) {
	known := false
	for _, c := range codes {
		known = known || c == code
	}
	if !known {
		code = 500
	}
	m.requests.WithLabelValues(route, auth, strconv.Itoa(code)).Inc()
}
