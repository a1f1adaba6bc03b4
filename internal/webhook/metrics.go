package webhook

import (
	"fmt"
	"time"

	"github.com/semaphored/semaphored/internal/prom"
	"github.com/semaphored/semaphored/internal/trigger"
)

// metrics of the receivers. Labels are bounded: source is a forge or
// "integration", event one of push, pull_request, ping, other, call,
// result one of a fixed set, trigger a trigger type.
type metrics struct {
	requests *prom.CounterVec
	duration *prom.HistogramVec
	created  *prom.CounterVec
}

func newMetrics(reg prom.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prom.NewCounterVec(prom.CounterOpts{
			Name: "semaphored_webhook_requests_total",
			Help: "Webhook and integration requests by source, event and result (created, pending, nothing, duplicate, unauthorized, too_large, bad_request, unavailable, error).",
		}, []string{"source", "event", "result"}),
		duration: prom.NewHistogramVec(prom.HistogramOpts{
			Name:    "semaphored_webhook_request_duration_seconds",
			Help:    "Time from a webhook request to its answer (the delivery and its tasks recorded).",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1},
		}, []string{"source"}),
		created: prom.NewCounterVec(prom.CounterOpts{
			Name: "semaphored_trigger_tasks_created_total",
			Help: "Tasks created by webhooks and integrations, by trigger type (schedules count in semaphored_schedule_fires_total).",
		}, []string{"trigger"}),
	}
	for _, t := range []trigger.TriggerType{trigger.TypePush, trigger.TypePullRequest, trigger.TypeIntegration} {
		m.created.WithLabelValues(string(t))
	}
	if reg != nil {
		for _, c := range []prom.Collector{m.requests, m.duration, m.created} {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("register webhook metrics: %w", err)
			}
		}
	}
	return m, nil
}

func (m *metrics) observe(source, event, result string, d time.Duration) {
	switch result {
	case "created", "pending", "nothing", "duplicate", "unauthorized", "too_large", "bad_request", "unavailable", "not_found":
	default:
		result = "error"
	}
	m.requests.WithLabelValues(source, event, result).Inc()
	m.duration.WithLabelValues(source).Observe(d.Seconds())
}

func (m *metrics) tasks(ts []trigger.Task) {
	for _, t := range ts {
		m.created.WithLabelValues(string(t.Trigger.Type)).Inc()
	}
}
