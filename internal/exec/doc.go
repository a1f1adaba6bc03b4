// Package exec owns the task queue and the life of each task: limits and
// per-template locks, checkout, secrets resolved for one run, the run
// itself (package runner), log capture into the state, stop, timeouts,
// approval, crash recovery and retention.
//
// # Lifecycle
//
// Every task is stored (state.CreateTask, status waiting) before anything
// runs, and ends in exactly one terminal status:
//
//	Submit ──► waiting ──► starting ──► running ──► success | failure | error
//	              │           │  checkout,  │  ▲
//	              │           │  secrets    ▼  │ Confirm (slots back)
//	              │           │      waiting_confirmation ──Reject──► stopped "plan rejected"
//	              │           │             │
//	              └───────────┴─────────────┴──Stop──► stopped "stopped by request"
//	   superseded by a newer task ──► stopped "superseded by task N"
//	   daemon killed while past waiting ──(next Run)──► interrupted
//
// A failure to prepare (template gone, checkout, a secret) ends the task in
// error with a message naming what failed, never a secret value. Timeouts
// are the runner's (status error, "timed out after ..."). Started, Ended,
// ExitCode (-1 when no process ran) and Message are always set.
//
// # Scheduling
//
// The scheduler is a mutex-guarded structure owned by the Engine (queues,
// running tasks, slot counters); schedule runs under that mutex the
// moment something may have become startable: a submission, a task end, a
// confirmation, Wake after a configuration change. There is no tick. It
// never waits for I/O under the mutex: each started task runs on its own
// goroutine (owned by Run, which waits for all of them), which does the
// store writes, the checkout and the process.
//
// A task starts when three limits allow it: the global
// settings.max_parallel_tasks (default 4), the project's
// max_parallel_tasks (0: none) and the template's concurrency (default 1:
// one at a time). Tasks of a template start in submission (ID) order;
// across templates the oldest startable head starts first, and a template
// or project at its limit is skipped, so it never blocks the others (no
// head-of-line blocking). With supersede, a submission stops every older
// task of its template that is still waiting.
//
// A plan in waiting_confirmation keeps its template slot, so no later task
// of the template overtakes it, but gives its global and project slots
// back while a person decides; Confirm re-acquires them, before any
// waiting task, and the status returns to running once they are held
// (Confirm returns the task still waiting_confirmation when they are busy).
//
// # Log pipeline
//
// Each task has a log writer (the runner.Sink): WriteLine appends lines to
// a pending batch bounded by bytes (4 MiB) and blocks only when the bound
// is reached, so a slow store slows the process down instead of losing
// lines or growing memory, and a store in progress never stalls the
// process while there is room. A writer goroutine per task takes
// everything pending at once whenever it is free and stores it with one
// state.AppendLog: batches grow under load and shrink when output is
// slow. It waits until 1,000 lines or 256 KiB are pending, or 50 ms after
// the first pending line, so a trickle is not stored line by line; it
// wakes the followers after each batch. Past settings.max_log_bytes lines
// are counted, not stored, and one marker line "*** log truncated: N bytes
// over the max_log_bytes limit (M) ***" ends the log. Lines of the engine
// itself (checkout, stop, end reason) go through the same writer.
//
// Before a task is marked terminal, its writer is closed: every line is
// stored first, so a client that sees a terminal status reads the whole
// log. A failed store write fails the task (error, "log write failed:
// ..."), counts in semaphored_log_write_errors_total and makes the next
// WriteLine fail, which ends the run.
//
// FollowLog reads stored lines and sleeps on a per-task notification of
// the Followers (the Hub closes a channel after each batch and each
// status change); it returns once the task is terminal and every line was
// passed.
//
// # Recovery and shutdown
//
// Run first marks tasks a previous process left in starting, running or
// waiting_confirmation as interrupted ("interrupted: the daemon stopped
// while the task was starting", or running, or waiting_confirmation, with
// a last log line saying the same, their logs kept), queues the waiting ones in ID order, and only then starts tasks.
//
// Shutdown is the graceful stop: Submit and Adopt return ErrClosed (the
// API answers 503), nothing new starts (waiting tasks stay waiting for the
// next start), plans waiting for a decision are stopped, and running
// tasks may finish until Shutdown's ctx ends (settings.drain_timeout, or a
// second signal); the rest are stopped (SIGTERM, grace, SIGKILL) and
// stored stopped "daemon shutting down". When Run's ctx ends, whatever
// still runs is stopped the same way at once. Anything the process could
// not finish storing is recovered as interrupted at the next start.
//
// # Requests, dedupe and adoption
//
// Submit takes a task.Request: project, template, a typed trigger with its
// origin, the overrides and an optional DedupeKey. A key already used
// returns the task that holds it, without an error, so a producer may
// submit "the task of delivery D for template T" again after a crash.
// Adopt queues waiting tasks a producer created in the store itself (in
// the transaction that recorded a webhook delivery); known ids are
// ignored and supersede applies as for Submit.
//
// # Dependencies
//
// The engine consumes small interfaces declared in deps.go and hub.go:
// Store (TaskStore + LogStore: CreateTask, UpdateTask, Task, ActiveTasks,
// AppendLog, ReadLog), Checkouts (Checkout), SecretResolver (Resolve),
// Snapshots (Snapshot: the config, its revision and root as one value,
// read once per decision so a task never pairs the config of one
// revision with the root of another) and Followers (Watch, Notify; Hub is
// the in-memory one). Housekeeping of the state (retention, events,
// revisions, deliveries) is package housekeep's, not the engine's.
//
// # Metrics
//
// Metrics (semaphored_tasks_total, _tasks_running, _tasks_waiting,
// _task_duration_seconds, _task_queue_seconds, _task_log_lines_total,
// _log_write_errors_total) go on Options.Registerer with bounded labels:
// project, template, status; New fails when they cannot be registered.
package exec
