// Package sync reconciles a config source into the state and holds the
// active configuration.
//
// A source is a local directory (watched with fsnotify, events debounced,
// and polled every 30s by default as a fallback) or a branch of a git
// repository (fetched through gitcache on every poll tick and on Kick,
// which a config-repo webhook will call). The directory's parent is
// watched too, so a directory deleted and created again (rm -rf and cp -r,
// mv new dir, a symlink switched to a new release) is watched again at
// once; a poll tick also sets the watch up again when it finds it lost. A
// named pipe, socket or device named *.yaml is never opened (the loader
// refuses it), and a pass waits for a read only as long as its context
// lives, so no pass holds up shutdown. A pass:
//
//	Head   cheap identity of what the source holds now: the branch's commit,
//	       or a fingerprint of file names, sizes and mtimes. Unchanged head:
//	       the pass ends here (well under a millisecond for 100 files).
//	Open   check the commit out (git) or hash the contents (directory): the
//	       revision id. The same id as the active revision: done (after a
//	       rejected revision, a source back at the active one sets
//	       semaphored_config_last_revision_valid to 1 again and logs "config
//	       back to the active revision X").
//	Load   config.Load: strict decoding and validation, every problem at once.
//	       Invalid: the revision is recorded with its errors, logged, counted
//	       (semaphored_config_last_revision_valid 0) and the last good
//	       revision stays active. A rejected revision is not recorded twice.
//	Diff   the config flattened to one JSON object per declared thing
//	       (Objects) against the stored objects: create, update, prune.
//	Apply  state.ApplyRevision: every change, an event per change and the
//	       new active revision, in one transaction.
//
// After a restart, Restore rebuilds the last good config from the stored
// objects (FromObjects), so the daemon runs on what it had even when the
// source is unreachable, broken or (a directory) missing. The restored
// revision keeps its root: a directory source's root is its directory, a
// git source's is the revision's checkout (opened again from the cache),
// so relative repository paths ("url: .") still resolve. A pass that
// cannot read the source logs it, counts it (syncs_total{result="error"})
// and sets semaphored_config_source_up to 0; the active revision stays.
//
// # Snapshots and subscribers
//
// Snapshot returns the active configuration with its revision and root as
// one config.Snapshot, so a consumer never pairs the config of one
// revision with the root of another. Subscribe registers a function
// called after each revision becomes active (the restored one included;
// a late subscriber is called at once with the active one): the engine
// wakes up to new limits, and cron, webhook secrets and the task page
// follow the same way. Subscribers run in order, never concurrently, and
// must not block.
//
// `semaphored plan` runs Head, Open, Load and Diff, and prints the changes
// with WritePlan.
package sync
