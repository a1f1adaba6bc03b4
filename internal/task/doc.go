// Package task holds the value types that describe a task request, shared
// by every producer (the API, the CLI, webhooks, schedules, integrations),
// the state that stores tasks and the engine that runs them.
//
// A Request names a project and template, says what triggered it (a
// typed Trigger carrying its origin: actor, delivery id, pull request,
// schedule slot) and carries the caller's Overrides. A non-empty DedupeKey
// makes creation idempotent: at most one task ever exists per key, so a
// producer can create "the task of delivery D for template T" again after
// a crash or a redelivery without running it twice.
//
// The package has no dependencies inside the module and no behaviour
// beyond encoding: it is the one place these fields are declared, so they
// are never copied by hand between layers.
package task
