package exec

import (
	"context"
	"fmt"

	"github.com/semaphored/semaphored/internal/state"
)

// followPage is how many lines FollowLog reads per store call.
const followPage = 1000

// FollowLog calls fn with the task's lines from line from on, as they are
// stored, until the task is terminal and every line was passed, or ctx
// ends. It works for tasks that ended long ago (it just reads) and for
// tasks that have not started (it waits). It never polls: it sleeps on a
// notification the log writer and every status change trigger.
func (e *Engine) FollowLog(ctx context.Context, id uint64, from uint64, fn func([]state.LogLine) error) error {
	if from == 0 {
		from = 1
	}
	for {
		ch, release := e.follow.Watch(id)
		t, err := e.store.Task(ctx, id)
		if err != nil {
			release()
			return fmt.Errorf("follow log of task %d: %w", id, err)
		}
		// Every line is stored before the status turns terminal, so
		// reading after seeing a terminal status reads the whole log.
		for {
			lines, err := e.store.ReadLog(ctx, id, from, followPage)
			if err != nil {
				release()
				return fmt.Errorf("follow log of task %d: %w", id, err)
			}
			if len(lines) == 0 {
				break
			}
			if err := fn(lines); err != nil {
				release()
				return err
			}
			from = lines[len(lines)-1].N + 1
			if len(lines) < followPage {
				break
			}
		}
		if t.Status.Terminal() {
			release()
			return nil
		}
		var err2 error
		select {
		case <-ch:
		case <-ctx.Done():
			err2 = ctx.Err()
		}
		release()
		if err2 != nil {
			return err2
		}
	}
}
