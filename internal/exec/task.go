package exec

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"github.com/semaphored/semaphored/internal/exec/runner"
	"github.com/semaphored/semaphored/internal/state"
)

// runTask is the life of one task past waiting, on the goroutine start
// gave it: starting (checkout, secrets), running, then exactly one
// terminal status, stored only after every log line was stored.
func (e *Engine) runTask(r *taskRun) {
	defer e.tasks.Done()
	store := context.WithoutCancel(r.ctx) // state writes outlive a stop
	log := e.log.With("task", r.id, "project", r.key.project, "template", r.key.template)

	now := e.now()
	t, err := e.store.UpdateTask(store, r.id, func(t *state.Task) error {
		if t.Status != state.StatusWaiting {
			return errNotWaiting
		}
		t.Status = state.StatusStarting
		t.Started = now
		return nil
	})
	if err != nil {
		if !errors.Is(err, errNotWaiting) {
			log.Error("start task", "err", err)
		}
		e.endRun(r)
		return
	}
	e.follow.Notify(r.id)
	e.met.queue.Observe(now.Sub(t.Created).Seconds())

	lw := e.newLogWriter(r.id, e.maxLogBytes())
	taskDir := filepath.Join(e.opts.WorkDir, "tasks", strconv.FormatUint(r.id, 10))
	res, commit := e.execute(r, t, lw, taskDir, log)
	if err := os.RemoveAll(taskDir); err != nil {
		log.Error("remove task directory", "err", err)
	}
	e.finish(r, t, res, commit, lw, log)
}

// execute prepares and runs the task and says how it ended.
func (e *Engine) execute(r *taskRun, t state.Task, lw *logWriter, taskDir string, log *slog.Logger) (runner.Result, string) {
	spec, commit, err := e.prepare(r.ctx, t, lw, taskDir)
	if err != nil {
		if r.ctx.Err() != nil {
			return runner.Result{Status: runner.Stopped, ExitCode: -1}, commit
		}
		log.Error("prepare task", "err", err)
		lw.engineLine("prepare failed: " + err.Error())
		return runner.Result{Status: runner.Error, ExitCode: -1, Message: "prepare: " + err.Error()}, commit
	}
	if _, err := e.store.UpdateTask(context.WithoutCancel(r.ctx), r.id, func(t *state.Task) error {
		t.Status = state.StatusRunning
		if commit != "" {
			t.Commit = commit
		}
		return nil
	}); err != nil {
		log.Error("mark task running", "err", err)
		return runner.Result{Status: runner.Error, ExitCode: -1, Message: "store status running: " + err.Error()}, commit
	}
	e.follow.Notify(r.id)
	if r.ctx.Err() != nil {
		return runner.Result{Status: runner.Stopped, ExitCode: -1}, commit
	}
	res := e.run(r.ctx, spec, lw, runner.Hooks{AwaitApproval: func(ctx context.Context) (bool, error) {
		return e.awaitApproval(ctx, r, log)
	}})
	return res, commit
}

// awaitApproval parks a plan in waiting_confirmation. It keeps the
// template slot (nothing overtakes the plan) but gives the global and
// project slots back; on confirm it takes them back (before any waiting
// task) and the status returns to running.
func (e *Engine) awaitApproval(ctx context.Context, r *taskRun, log *slog.Logger) (bool, error) {
	store := context.WithoutCancel(ctx)
	// Accept decisions before the status shows: a client that sees
	// waiting_confirmation may confirm at once.
	e.mu.Lock()
	if e.closed {
		// Nobody can decide any more: the API stopped accepting.
		e.mu.Unlock()
		r.cancel(errShutdown)
		return false, errShutdown
	}
	r.awaiting = true
	e.giveSlots(r)
	e.schedule()
	e.mu.Unlock()
	if _, err := e.store.UpdateTask(store, r.id, func(t *state.Task) error {
		t.Status = state.StatusWaitingConfirmation
		return nil
	}); err != nil {
		return false, fmt.Errorf("store status waiting_confirmation: %w", err)
	}
	e.follow.Notify(r.id)
	log.Info("plan waiting for confirmation")

	var ok bool
	select {
	case ok = <-r.decision:
	case <-ctx.Done():
		e.mu.Lock()
		r.awaiting = false
		e.mu.Unlock()
		return false, context.Cause(ctx)
	}
	if !ok {
		return false, nil
	}
	e.mu.Lock()
	e.resumes = append(e.resumes, r)
	e.schedule()
	granted := r.holdsSlots
	e.mu.Unlock()
	if !granted {
		close(r.decided) // Confirm returns: the plan waits for slots
	}
	select {
	case <-r.resumed:
	case <-ctx.Done():
		return false, context.Cause(ctx)
	}
	if _, err := e.store.UpdateTask(store, r.id, func(t *state.Task) error {
		t.Status = state.StatusRunning
		return nil
	}); err != nil {
		return false, fmt.Errorf("store status running: %w", err)
	}
	e.follow.Notify(r.id)
	if granted {
		close(r.decided)
	}
	log.Info("plan confirmed")
	return true, nil
}

// finish flushes the log, stores the terminal status and frees the slots.
func (e *Engine) finish(r *taskRun, t state.Task, res runner.Result, commit string, lw *logWriter, log *slog.Logger) {
	status, msg := e.outcome(r, res)
	switch status {
	case state.StatusSuccess:
	case state.StatusStopped:
		if msg == msgStopped {
			lw.engineLine("task stopped by request")
		} else {
			lw.engineLine("task stopped: " + msg)
		}
	default:
		if msg != "" {
			lw.engineLine(fmt.Sprintf("task ended with %s: %s", status, msg))
		} else {
			lw.engineLine(fmt.Sprintf("task ended with %s (exit code %d)", status, res.ExitCode))
		}
	}
	if err := lw.Close(); err != nil {
		status, msg = state.StatusError, "log write failed: "+err.Error()
		log.Error("task log", "err", err)
	}
	now := e.now()
	nt, err := e.store.UpdateTask(context.WithoutCancel(r.ctx), r.id, func(t *state.Task) error {
		t.Status = status
		t.Message = msg
		t.ExitCode = res.ExitCode
		t.Ended = now
		if commit != "" {
			t.Commit = commit
		}
		return nil
	})
	if err != nil {
		// Left non-terminal in the state: the next start marks it interrupted.
		log.Error("store terminal status", "status", status, "err", err)
	} else {
		e.met.finished(nt)
		e.met.duration.WithLabelValues(t.Project, t.Template).Observe(now.Sub(t.Started).Seconds())
		log.Info("task ended", "status", status, "message", msg, "exit_code", res.ExitCode)
	}
	e.endRun(r)
}

// endRun releases the task's slots, wakes followers and the scheduler.
func (e *Engine) endRun(r *taskRun) {
	e.mu.Lock()
	e.release(r)
	e.mu.Unlock()
	r.cancel(nil)
	close(r.done)
	e.follow.Notify(r.id)
}

// outcome maps a run result and the stop cause to the terminal status.
func (e *Engine) outcome(r *taskRun, res runner.Result) (state.TaskStatus, string) {
	e.mu.Lock()
	rejected := r.rejected
	e.mu.Unlock()
	if rejected {
		return state.StatusStopped, errRejected.Error()
	}
	if res.Status == runner.Stopped || (r.ctx.Err() != nil && res.Status != runner.Success && res.Status != runner.Failure) {
		switch cause := context.Cause(r.ctx); {
		case errors.Is(cause, errShutdown):
			return state.StatusStopped, errShutdown.Error()
		case errors.Is(cause, errStopRequested):
			return state.StatusStopped, msgStopped
		}
		if res.Message != "" {
			return state.StatusStopped, res.Message
		}
		return state.StatusStopped, msgStopped
	}
	switch res.Status {
	case runner.Success:
		return state.StatusSuccess, res.Message
	case runner.Failure:
		msg := res.Message
		if msg == "" {
			msg = fmt.Sprintf("exit code %d", res.ExitCode)
		}
		return state.StatusFailure, msg
	}
	return state.StatusError, res.Message
}

func (e *Engine) maxLogBytes() int64 {
	if cfg := e.opts.Config.Snapshot().Config; cfg != nil && cfg.Settings.MaxLogBytes > 0 {
		return int64(cfg.Settings.MaxLogBytes)
	}
	return defaultMaxLogBytes
}
