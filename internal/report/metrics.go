package report

import (
	"context"
	"errors"
	"math"
	"strings"
	"time"

	"github.com/semaphored/semaphored/internal/prom"
)

// Destinations are the bounded values of the destination label: the
// forges and the notification channels.
var Destinations = map[OutboxKind][]string{
	KindCommitStatus: {"github", "gitlab", "gitea"},
	KindNotification: {"slack", "teams", "telegram", "email", "webhook"},
}

// destination is the part of a target before the first ':' ("github",
// "slack"): a bounded metric label.
func destination(target string) string {
	d, _, _ := strings.Cut(target, ":")
	return d
}

// metricDest keeps the destination label bounded.
func metricDest(d string) string {
	switch d {
	case "github", "gitlab", "gitea", "slack", "teams", "telegram", "email", "webhook":
		return d
	}
	return "other"
}

// Metrics are the outbox metrics. Labels: kind (commit_status,
// notification) and destination (github, gitlab, gitea, slack, teams,
// telegram, email, webhook); never a target, commit or task.
type Metrics struct {
	delivered *prom.CounterVec
	failed    *prom.CounterVec
	retries   *prom.CounterVec
	skipped   *prom.CounterVec
	latency   *prom.HistogramVec
	pending   *pendingCollector
}

// NewMetrics makes the outbox metrics, every label value initialised to 0,
// and registers them on reg (nil: not registered). The pending gauges read
// the outbox at each scrape.
func NewMetrics(reg prom.Registerer, ob Outbox) (*Metrics, error) {
	labels := []string{"kind", "destination"}
	m := &Metrics{
		delivered: prom.NewCounterVec(prom.CounterOpts{
			Name: "semaphored_outbox_delivered_total",
			Help: "Outbox entries (commit statuses, notifications) delivered.",
		}, labels),
		failed: prom.NewCounterVec(prom.CounterOpts{
			Name: "semaphored_outbox_failed_total",
			Help: "Outbox entries given up on: refused with a final error (a 4xx); listed by the store's failed outbox.",
		}, labels),
		retries: prom.NewCounterVec(prom.CounterOpts{
			Name: "semaphored_outbox_retries_total",
			Help: "Delivery attempts that failed and will be retried (5xx, 429, rate limit, timeout, connection error).",
		}, labels),
		skipped: prom.NewCounterVec(prom.CounterOpts{
			Name: "semaphored_outbox_skipped_total",
			Help: "Outbox entries acknowledged without a request: identical to the last delivered for their target.",
		}, []string{"kind"}),
		latency: prom.NewHistogramVec(prom.HistogramOpts{
			Name:    "semaphored_outbox_delivery_seconds",
			Help:    "Time from enqueue to delivery of outbox entries (includes retries).",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30, 120, 600, 3600},
		}, []string{"kind"}),
	}
	if ob != nil {
		m.pending = &pendingCollector{
			ob: ob,
			errs: prom.NewCounter(prom.CounterOpts{
				Name: "semaphored_outbox_scrape_errors_total",
				Help: "Scrapes that could not read the outbox for the pending gauges.",
			}),
		}
	}
	for kind, dests := range Destinations {
		for _, d := range dests {
			m.delivered.WithLabelValues(string(kind), d)
			m.failed.WithLabelValues(string(kind), d)
			m.retries.WithLabelValues(string(kind), d)
		}
		m.skipped.WithLabelValues(string(kind))
		m.latency.WithLabelValues(string(kind))
	}
	if reg == nil {
		return m, nil
	}
	cs := []prom.Collector{m.delivered, m.failed, m.retries, m.skipped, m.latency}
	if m.pending != nil {
		cs = append(cs, m.pending)
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			var are prom.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}

// pendingCollector counts the outbox's waiting entries at scrape time.
type pendingCollector struct {
	ob   Outbox
	errs *prom.Counter
}

const (
	pendingName = "semaphored_outbox_pending"
	pendingHelp = "Outbox entries waiting for delivery (due or backing off)."
	oldestName  = "semaphored_outbox_oldest_pending_age_seconds"
	oldestHelp  = "Age of the oldest outbox entry waiting for delivery; 0 when none waits."
)

func (c *pendingCollector) Describe() []string {
	return append([]string{pendingName, oldestName}, c.errs.Describe()...)
}

// farFuture makes DueOutbox list every waiting entry, due or not.
var farFuture = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// maxScan bounds the entries one scrape reads.
const maxScan = 100_000

func (c *pendingCollector) Collect(fs []prom.Family) []prom.Family {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	count := map[[2]string]float64{}
	oldest := map[string]time.Time{}
	for kind, dests := range Destinations {
		for _, d := range dests {
			count[[2]string{string(kind), d}] = 0
		}
		oldest[string(kind)] = time.Time{}
	}
	entries, err := c.ob.DueOutbox(ctx, farFuture, maxScan)
	if err != nil {
		c.errs.Inc()
	}
	for _, e := range entries {
		count[[2]string{string(e.Kind), metricDest(destination(e.Target))}]++
		if o, ok := oldest[string(e.Kind)]; !ok || o.IsZero() || e.Created.Before(o) {
			oldest[string(e.Kind)] = e.Created
		}
	}
	pending := prom.Family{Name: pendingName, Help: pendingHelp, Type: prom.TypeGauge, LabelNames: []string{"destination", "kind"}}
	for k, v := range count {
		pending.Series = append(pending.Series, prom.Series{LabelValues: []string{k[1], k[0]}, Value: v})
	}
	old := prom.Family{Name: oldestName, Help: oldestHelp, Type: prom.TypeGauge, LabelNames: []string{"kind"}}
	now := time.Now()
	for k, t := range oldest {
		age := 0.0
		if !t.IsZero() {
			age = math.Max(now.Sub(t).Seconds(), 0)
		}
		old.Series = append(old.Series, prom.Series{LabelValues: []string{k}, Value: age})
	}
	return c.errs.Collect(append(fs, pending, old))
}
