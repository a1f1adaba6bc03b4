// Package report tells the outside world what tasks did: commit statuses on
// GitHub, GitLab and Gitea, and notifications to chat, e-mail and webhooks.
//
// Nothing here is sent from the code path that changes a task. The state
// calls OutboxFunc inside the transaction of every task status change; it
// turns the change into outbox entries (pure and fast: no I/O, built from
// the active config that Reporter.SetConfig last stored), and the state
// writes them with the change. The Worker (one per daemon, owned by main:
// Run(ctx) returns when ctx ends) reads due entries in sequence order,
// delivers each through the Sender of its kind, and acknowledges it; a
// failure is retried with exponential backoff and jitter (or after the
// forge's Retry-After / rate limit reset), and a final refusal (a 4xx) is
// recorded as failed, visible through the store's FailedOutbox and the
// semaphored_outbox_failed_total metric. A chat or forge outage therefore
// delays a status or a message and never loses it: delivery is
// at-least-once, and an entry identical to the last one delivered for its
// target is acknowledged without a request, so a clean restart sends no
// duplicate.
//
// What a terminal status says (its description: an ansible recap, a tofu
// plan line, or the exit code and duration) is read from the task's log at
// delivery time, because the log is only in the store.
package report
