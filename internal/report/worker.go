package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/semaphored/semaphored/internal/prom"
	"github.com/semaphored/semaphored/internal/state"
)

// Sender delivers one outbox entry. Its error says whether a retry may
// help: an error with a Retry() (bool, time.Duration) method (the forge
// and notify errors have one) is classified by it; any other error is a
// transport problem and retried.
type Sender interface {
	Send(ctx context.Context, e OutboxEntry) error
}

// retrier is implemented by errors that know whether a retry may help.
type retrier interface {
	Retry() (retry bool, after time.Duration)
}

// classify says whether err is worth a retry and after how long the other
// side asked to wait (0: the backoff decides).
func classify(err error) (bool, time.Duration) {
	var r retrier
	if errors.As(err, &r) {
		return r.Retry()
	}
	return true, 0
}

// FinalError marks a delivery that can never succeed as declared (an
// unknown forge type, a secret reference that does not resolve): it is
// recorded as failed instead of retried.
type FinalError struct{ Err error }

func (e *FinalError) Error() string                { return e.Err.Error() }
func (e *FinalError) Unwrap() error                { return e.Err }
func (e *FinalError) Retry() (bool, time.Duration) { return false, 0 }
func final(format string, args ...any) error       { return &FinalError{fmt.Errorf(format, args...)} }
func isFinal(err error) bool                       { r, _ := classify(err); return !r }

var _ = isFinal

// WorkerOptions configure NewWorker.
type WorkerOptions struct {
	// Outbox is the store's outbox. Required.
	Outbox Outbox
	// Senders deliver each kind; entries of a kind without a sender are
	// recorded as failed.
	Senders map[OutboxKind]Sender
	Logger  *slog.Logger
	// Registerer gets the outbox metrics (nil: not registered).
	Registerer prom.Registerer
	// Now defaults to time.Now.
	Now func() time.Time
	// Parallel bounds deliveries in flight, to different targets (default 8).
	Parallel int
	// Timeout bounds one delivery (default 30s).
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the retry delay (defaults 1s, 10m);
	// the delay doubles per attempt and is jittered down by up to half.
	MinBackoff, MaxBackoff time.Duration
	// Sweep is the longest the worker sleeps without looking at the
	// outbox (default 1m): a safety net, not how entries are found: Wake
	// does that.
	Sweep time.Duration
}

// Worker delivers outbox entries. Run delivers until its context ends;
// Wake makes it look at the outbox now. Entries of one target are
// delivered one at a time in sequence order; different targets in
// parallel.
type Worker struct {
	o    WorkerOptions
	log  *slog.Logger
	m    *Metrics
	wake chan struct{}
	done chan struct{} // a delivery finished: a slot and its target are free
	mu   sync.Mutex
	busy map[string]bool // order keys with a delivery in flight
}

// NewWorker returns a worker; nothing is delivered before Run. It
// registers the outbox metrics on o.Registerer.
func NewWorker(o WorkerOptions) (*Worker, error) {
	if o.Outbox == nil {
		return nil, errors.New("report: no outbox")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Parallel <= 0 {
		o.Parallel = 8
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 10 * time.Minute
	}
	if o.Sweep <= 0 {
		o.Sweep = time.Minute
	}
	m, err := NewMetrics(o.Registerer, o.Outbox)
	if err != nil {
		return nil, err
	}
	return &Worker{
		o: o, log: o.Logger, m: m,
		wake: make(chan struct{}, 1), done: make(chan struct{}, 1),
		busy: map[string]bool{},
	}, nil
}

// Metrics returns the worker's metrics.
func (w *Worker) Metrics() *Metrics { return w.m }

// Wake makes Run look at the outbox at once. It never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// recheck is when Run looks again after a wake: every 2ms for 60ms, then
// at 100ms and 250ms. The state calls OutboxFunc (which wakes the worker)
// inside the transaction that writes the entries, so the first look may
// come before the commit (a commit's fsync takes milliseconds); the later
// looks find them. A look is one read transaction.
var recheck = func() []time.Duration {
	out := []time.Duration{0}
	for d := 2 * time.Millisecond; d <= 60*time.Millisecond; d += 2 * time.Millisecond {
		out = append(out, 2*time.Millisecond)
	}
	return append(out, 40*time.Millisecond, 150*time.Millisecond)
}()

// Run delivers due entries until ctx ends, then waits for the deliveries
// in flight (they see ctx's end and leave their entries for the next
// start) and returns nil.
func (w *Worker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	step := 0 // index into recheck after a wake; len(recheck): idle
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		next, err := w.pass(ctx, &wg)
		if err != nil && ctx.Err() == nil {
			w.log.Error("read the outbox", "err", err)
		}
		// Sleep until the next recheck after a wake, the earliest retry,
		// or the sweep.
		wait := w.o.Sweep
		if step < len(recheck)-1 {
			step++
			wait = recheck[step]
		}
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(w.o.Now()), 0))
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return nil
		case <-w.wake:
			step = 0
		case <-w.done:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// window is how many waiting entries (due or not) one pass reads.
const window = 512

// orderKey is what entries are delivered in order by: the target of a
// commit status; the channel of a notification (its target without the
// task: "slack:web/chat"), so that a chat gets "failed" before
// "recovered".
func orderKey(e OutboxEntry) string {
	if e.Kind == KindNotification {
		if i := strings.LastIndexByte(e.Target, '#'); i > 0 {
			return e.Target[:i]
		}
	}
	return e.Target
}

// pass starts a delivery for the first waiting entry of each order key
// when it is due and its key not busy, as long as slots are free. It
// returns the earliest NextAttempt of the entries it left waiting (zero:
// none).
func (w *Worker) pass(ctx context.Context, wg *sync.WaitGroup) (time.Time, error) {
	now := w.o.Now()
	// Read the outbox holding mu: a delivery leaves busy (under mu) only
	// after its entry was acknowledged or updated, so what this read
	// returns for a key that is not busy is current. A key busy at the
	// read is skipped even if its delivery ends before the loop below
	// reaches it: what the read returned for it may be stale (an entry
	// acknowledged since), and would be delivered twice.
	w.mu.Lock()
	free := w.o.Parallel - len(w.busy)
	waiting, err := w.o.Outbox.DueOutbox(ctx, farFuture, window)
	busy := maps.Clone(w.busy)
	w.mu.Unlock()
	if err != nil {
		return time.Time{}, err
	}
	var next time.Time
	seen := map[string]bool{}
	for _, e := range waiting {
		key := orderKey(e)
		if seen[key] {
			continue // an older entry of this key goes first
		}
		seen[key] = true
		if e.NextAttempt.After(now) {
			if next.IsZero() || e.NextAttempt.Before(next) {
				next = e.NextAttempt
			}
			continue
		}
		if free <= 0 || busy[key] {
			continue // a finishing delivery wakes the loop
		}
		// Only pass adds to busy, so a key not busy at the read is not now.
		w.mu.Lock()
		w.busy[key] = true
		w.mu.Unlock()
		free--
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.deliver(ctx, e)
			w.mu.Lock()
			delete(w.busy, key)
			w.mu.Unlock()
			select {
			case w.done <- struct{}{}:
			default:
			}
		}()
	}
	return next, nil
}

// deliver sends one entry and records the outcome in the outbox.
func (w *Worker) deliver(ctx context.Context, e OutboxEntry) {
	dest := destination(e.Target)
	log := w.log.With("seq", e.Seq, "kind", e.Kind, "target", e.Target, "task", e.TaskID, "attempt", e.Attempts+1)
	last, ok, err := w.o.Outbox.LastDelivered(ctx, e.Kind, e.Target)
	if err == nil && ok && bytes.Equal(last, e.Payload) {
		if err := w.o.Outbox.AckOutbox(ctx, e.Seq); err != nil {
			log.Error("acknowledge an outbox entry", "err", err)
			return
		}
		w.m.skipped.WithLabelValues(string(e.Kind)).Inc()
		log.Debug("same as the last delivered: skipped")
		return
	}
	s := w.o.Senders[e.Kind]
	if s == nil {
		err = final("no sender for outbox kind %q", e.Kind)
	} else {
		dctx, cancel := context.WithTimeout(ctx, w.o.Timeout)
		err = s.Send(dctx, e)
		cancel()
	}
	if err != nil && ctx.Err() != nil {
		return // shutting down: the entry stays for the next start
	}
	now := w.o.Now()
	if err == nil {
		// Acknowledge even when shutdown began meanwhile: it was sent.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := w.o.Outbox.AckOutbox(actx, e.Seq); err != nil {
			log.Error("acknowledge an outbox entry", "err", err)
			return
		}
		w.m.delivered.WithLabelValues(string(e.Kind), metricDest(dest)).Inc()
		w.m.latency.WithLabelValues(string(e.Kind)).Observe(now.Sub(e.Created).Seconds())
		log.Debug("delivered")
		return
	}
	retry, after := classify(err)
	msg := err.Error()
	if !retry {
		if _, ferr := w.o.Outbox.FailOutbox(ctx, e.Seq, msg, now, true); ferr != nil && !errors.Is(ferr, state.ErrNotFound) {
			log.Error("record a failed outbox entry", "err", ferr)
		}
		w.m.failed.WithLabelValues(string(e.Kind), metricDest(dest)).Inc()
		log.Warn("delivery refused; giving up on this entry", "err", msg)
		return
	}
	d := w.backoff(e.Attempts)
	if after > d {
		d = after
	}
	next := now.Add(d)
	if _, ferr := w.o.Outbox.FailOutbox(ctx, e.Seq, msg, next, false); ferr != nil && !errors.Is(ferr, state.ErrNotFound) {
		log.Error("record a delivery attempt", "err", ferr) // ErrNotFound: replaced by a newer entry meanwhile
	}
	w.m.retries.WithLabelValues(string(e.Kind), metricDest(dest)).Inc()
	log.Info("delivery failed; will retry", "err", msg, "retry_in", d.Round(time.Millisecond))
}

// backoff is the delay before attempt n+1: MinBackoff doubled per earlier
// attempt, capped at MaxBackoff, then jittered down by up to half.
func (w *Worker) backoff(attempts int) time.Duration {
	d := w.o.MinBackoff
	for i := 0; i < attempts && d < w.o.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.o.MaxBackoff)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// Drain waits until nothing is due and no delivery is in flight, or ctx
// ends: main calls it at shutdown, before ending Run, so that the final
// statuses of the tasks stopped by the shutdown go out when their forge
// answers. Entries backing off are left for the next start.
func (w *Worker) Drain(ctx context.Context) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		w.mu.Lock()
		busy := len(w.busy)
		w.mu.Unlock()
		if busy == 0 {
			due, err := w.o.Outbox.DueOutbox(ctx, w.o.Now(), 1)
			if err != nil {
				return err
			}
			if len(due) == 0 {
				return nil
			}
		}
		w.Wake()
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-tick.C:
		}
	}
}
