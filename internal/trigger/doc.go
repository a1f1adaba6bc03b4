// Package trigger decides which tasks an event creates, and says why when
// it creates none.
//
// It is pure decision: given the active configuration and a verified,
// normalised forge event (see package forge), or an integration call, it
// returns the task requests to create now, the templates whose changed
// paths must first come from a git diff (Deferred, resolved by Resolve
// after the webhook was answered), the pull request tasks a new head makes
// obsolete, whether the config repository was pushed, and one reason per
// template or event that ran nothing ("no template of acme/site triggers on
// branch feature", "web/deploy: paths did not match", "fork pull request").
//
// Rules, in short:
//   - push: a branch push runs each template of the repository whose push
//     trigger's branches match (default: the repository's branch) and whose
//     paths match the changed paths (union over the commits; a payload that
//     lists too few commits defers to a diff before...after; a new branch
//     is diffed against the repository's branch); a tag push runs only
//     templates with matching tags globs, and a trigger that names tags but
//     no branches runs on tags only; a deleted ref runs nothing.
//   - pull request: opened, new commits, reopened or ready for review runs
//     each template whose pull_request trigger matches the base branch and
//     the paths changed by base...head (always a diff), at the head commit
//     in check mode (DryRun); a fork runs only with forks: true and then
//     without secrets (Trigger.Fork); a new head stops the older tasks of
//     the same pull request and template; closing it stops its waiting
//     tasks.
//
// The package holds no state and does no I/O except through the Differ it
// is given; every function is safe for concurrent use.
package trigger
