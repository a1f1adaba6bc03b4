// Package importer turns a Semaphore UI project backup into a semaphored
// config tree.
//
// A Semaphore UI backup (GET /api/project/{id}/backup, or "Backup" in the
// project settings) is one JSON document: the project's meta, templates,
// repositories, access keys, views, inventories, environments, integrations
// with their matchers, extract values and aliases, and the project's
// integration aliases. Objects refer to each other by name. The backup
// omits every secret (key material, environment secrets).
//
// The package works in two steps: ParseSemaphore decodes
// and checks it, reporting a malformed document with the JSON path of the
// problem ("$.templates[2].arguments: ..."), and Convert maps it onto the
// config language:
//
//   - names become valid, unique semaphored names; a changed name keeps the
//     original as the description (templates, the project) or as a comment;
//   - key material becomes {env: NAME} references, each listed in the
//     Report with what it is for;
//   - what has no equivalent (build and deploy template types, views,
//     survey variables, integration aliases, matchers on the raw body, ...)
//     is listed in the Report and kept in the files as YAML comments,
//     never dropped silently.
//
// The result is a set of files (one per kind) that config.Load accepts.
// The package does no I/O except Result.Write; it holds no state.
package importer
