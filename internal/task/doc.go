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
// beyond encoding and two predicates the engine checks requests with
// (Overrides.Set, TriggerType.Machine): it is the one place these fields
// are declared for the producers, the state and the engine. The API
// answers with its own view of a task (api.Task), so that its JSON does
// not follow internal changes.
package task
