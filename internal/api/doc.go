// Package api serves the HTTP API of semaphored under /api/v1/: the
// declared projects and templates of the active configuration, the task
// list and details, task logs (whole or followed live), and the task
// actions (create, stop, confirm, reject).
//
// A Handler is built with New from small interfaces it consumes (Engine,
// TaskStore, Snapshots, SecretResolver), so the daemon wires the real
// exec engine and state store and tests wire fakes. Every request is
// authenticated with a bearer token: the tokens declared in
// settings.api_tokens of the active configuration (resolved once per
// configuration and compared as SHA-256 digests in constant time) and the
// admin token the daemon keeps in DATA/admin.token (see WriteAdminToken).
//
// The Handler keeps no per-request state: after a request returns, nothing
// of it is retained, so memory stays flat however many requests it serves.
// A log follower is tied to its request's context: when the client goes
// away, the follow ends and everything it held is released. CloseStreams
// ends every follow at shutdown (register it with
// http.Server.RegisterOnShutdown), so a graceful shutdown does not wait for
// running tasks.
//
// Errors are JSON objects {"error": "message"} with the status code that
// says what went wrong; internal errors are logged and answered with a
// generic message, so no detail (and no secret) leaks to a caller.
package api
