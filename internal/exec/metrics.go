package exec

import (
	"github.com/semaphored/semaphored/internal/prom"
	"github.com/semaphored/semaphored/internal/state"
)

// metrics are the engine's Prometheus metrics. Labels are bounded: project,
// template and status only, never a task ID or a commit.
type metrics struct {
	tasks          *prom.CounterVec
	running        *prom.Gauge
	waiting        *prom.Gauge
	duration       *prom.HistogramVec
	queue          *prom.Histogram
	logLines       *prom.Counter
	logWriteErrors *prom.Counter
}

func newMetrics(reg prom.Registerer) (*metrics, error) {
	m := &metrics{
		tasks: prom.NewCounterVec(prom.CounterOpts{
			Name: "semaphored_tasks_total",
			Help: "Tasks that reached a terminal status.",
		}, []string{"project", "template", "status"}),
		running: prom.NewGauge(prom.GaugeOpts{
			Name: "semaphored_tasks_running",
			Help: "Tasks past waiting and not yet terminal (starting, running, waiting_confirmation).",
		}),
		waiting: prom.NewGauge(prom.GaugeOpts{
			Name: "semaphored_tasks_waiting",
			Help: "Tasks queued, waiting for a slot.",
		}),
		duration: prom.NewHistogramVec(prom.HistogramOpts{
			Name: "semaphored_task_duration_seconds",
			Help: "Run time of tasks, from start to terminal status.",
			// Nine buckets: a duration per template is a series per bucket,
			// and a scrape of a thousand templates stays cheap.
			Buckets: []float64{1, 5, 15, 60, 180, 600, 1200, 1800, 3600},
		}, []string{"project", "template"}),
		queue: prom.NewHistogram(prom.HistogramOpts{
			Name:    "semaphored_task_queue_seconds",
			Help:    "Time tasks waited in the queue, from creation to start.",
			Buckets: []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 60, 300, 1800},
		}),
		logLines: prom.NewCounter(prom.CounterOpts{
			Name: "semaphored_task_log_lines_total",
			Help: "Task log lines stored.",
		}),
		logWriteErrors: prom.NewCounter(prom.CounterOpts{
			Name: "semaphored_log_write_errors_total",
			Help: "Failed writes of task log lines to the state.",
		}),
	}
	for _, c := range []prom.Collector{m.tasks, m.running, m.waiting, m.duration, m.queue, m.logLines, m.logWriteErrors} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// finished counts a task that reached a terminal status.
func (m *metrics) finished(t state.Task) {
	m.tasks.WithLabelValues(t.Project, t.Template, string(t.Status)).Inc()
}
