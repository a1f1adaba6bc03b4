// Package config is the declaration language of semaphored: it loads a
// tree of YAML files into a validated, defaulted, read-only *Config, and
// resolves secret references when a run needs them. It touches neither the
// network, the state nor processes.
//
// # Files
//
// Every *.yaml and *.yml file under the root is read, recursively and in
// sorted order; directories and files whose name starts with a dot (.git,
// editor lock files like .#a.yaml) are skipped. Named pipes, sockets and
// devices are refused before they are opened (a FIFO would block the
// reader).
//
// Declarations may live beside playbooks, inventories, group_vars and any
// other YAML in the same tree. Which files are declarations:
//
//   - a file whose top level is a mapping with a project: or settings: key
//     is a declaration, read strictly;
//   - a mapping without either but with a project kind (repositories,
//     keys, inventories, environments, templates, schedules,
//     integrations) whose value is a mapping is a declaration that forgot
//     project:, and is reported ("missing top-level key project");
//   - anything else is not a declaration and is skipped: a list (a
//     playbook, a role's tasks), a scalar, any other mapping (group_vars,
//     host_vars, an inventory, requirements.yml, docker-compose.yml);
//   - a file that is not valid YAML is reported when one of its lines
//     starts with project: or settings: (it was meant as a declaration),
//     and skipped otherwise (a playbook being edited).
//
// Skipped files are listed at debug level (LoadOptions.Logger), each with
// the reason. A declaration file holds one YAML
// document (a second document after "---" is an error) and may start with
// a yaml-language-server comment pointing at schema/semaphored.schema.json. Empty files and files holding only
// comments are ignored. A UTF-8 byte order mark is stripped; UTF-16 files,
// binary files (NUL bytes, invalid UTF-8) and files larger than
// LoadOptions.MaxFileSize (default 4 MiB, checked before reading) are
// refused. A symlink whose target leaves the tree is refused; symlinked
// directories are not descended into. Anchors, aliases and "<<" merge keys
// work; a file whose aliases would expand past 500,000 nodes is refused
// as an alias bomb (measured before anything is expanded).
//
// # Top-level keys
//
//	project: NAME          required unless the file only holds settings
//	description: TEXT      once per project across all files
//	max_parallel_tasks: N  per-project limit, >= 0 (0: only the global one)
//	repositories, keys, inventories, environments, templates, schedules,
//	integrations:          mappings from name to object
//	settings:              daemon-wide; in at most one file of the tree
//
// Several files may add to one project. A name declared twice within a
// kind of a project (or a project-level scalar declared twice) is an error
// naming both places. Names match ^[a-z0-9][a-z0-9._-]{0,62}$.
//
// A key written with an empty value (key:) counts as not written, so its
// default applies. Strings must be YAML strings (quote 200 or true when
// you mean text), except environment variable values (env:), where
// numbers and booleans are kept as written.
//
// # Secrets
//
// A secret is a reference with exactly one key: {env: NAME}, {file: PATH}
// or {age: ARMORED}. A plain string where a secret belongs is refused as a
// clear-text secret. Resolver.Resolve turns a reference into its value.
//
// # Validation
//
// Decoding is strict (unknown keys with a suggestion, wrong types, enum
// values with the allowed list, duplicate keys) and validation checks
// required keys per type, references between objects (and the types of
// referenced keys), cron specs, timezones, durations, byte sizes, globs and
// relative paths. Every problem is reported at once, as an Errors value
// whose lines read "file:line:col: field.path: message", sorted by place.
// A YAML syntax error points at the line and column where the parser
// found the problem (an unclosed bracket or quote: where it opened), not
// at yaml.v3's context line.
//
// # Defaults
//
// settings: max_parallel_tasks 4, retention 100 tasks / 30 days,
// max_log_bytes 64MiB, stop_grace_period 10s. repository: branch "main".
// forge: api_url https://api.github.com for github. template: timeout 1h
// (0 means the default), concurrency 1, directory ".", pull_request mode
// plan for terraform/tofu and check otherwise. schedule and schedule
// trigger: timezone UTC; schedule: active true.
//
// # Stored form
//
// Every type encodes to JSON with its json tags (positions excluded,
// Duration as "1h0m0s", ByteSize as an integer, secrets as the reference
// only); sync stores objects that way and rebuilds a Config from them.
//
// A *Config returned by Load is read-only: share it, never change it.
package config
